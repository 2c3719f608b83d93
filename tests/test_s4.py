"""S4: the Cauchy/Woodbury kernel against the kernel of its own dense discretised recurrence,
built here in float64 numpy; the convolution path and the O(N) step against that recurrence."""

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
from conftest import enable_x64

from lrux.layers.s4 import S4
from lrux.registry import make_mixer


def _np(a):
    return np.asarray(a, dtype=np.float64)


def dense_np(layer):
    """Per channel: float64 (Abar, Bbar, C) of the full N-state system, textbook formulas.

    A = diag(Lambda) - P P^*, bilinear Abar = (I - dt/2 A)^-1 (I + dt/2 A), Bbar = (I - dt/2
    A)^-1 dt B, and the recurrence's C from the trained Ct: C^T = Ct^T (I - Abar^l_max)^-1.
    """
    full = lambda re, im: np.concatenate([_np(re) + 1j * _np(im), _np(re) - 1j * _np(im)], -1)
    lam = full(-np.exp(_np(layer.Lambda_re_log)), layer.Lambda_im)
    p = full(layer.P_re, layer.P_im)
    b = full(layer.B_re, layer.B_im)
    ct = full(layer.C_re, layer.C_im)
    dt = np.exp(_np(layer.log_dt))
    n = lam.shape[1]
    out = []
    for h in range(lam.shape[0]):
        a = np.diag(lam[h]) - np.outer(p[h], p[h].conj())
        left = np.linalg.inv(np.eye(n) - dt[h] / 2 * a)
        abar = left @ (np.eye(n) + dt[h] / 2 * a)
        bbar = left @ (dt[h] * b[h])
        c = np.linalg.solve((np.eye(n) - np.linalg.matrix_power(abar, layer.l_max)).T, ct[h])
        out.append((abar, bbar, c))
    return out


def kernel_np(layer, length):
    ks = []
    for abar, bbar, c in dense_np(layer):
        v, k = bbar, []
        for _ in range(length):
            k.append((c @ v).real)
            v = abar @ v
        ks.append(k)
    return np.array(ks)


def recurrence_np(layer, u):
    u = _np(u)
    d = _np(layer.D)
    y = np.zeros_like(u)
    for h, (abar, bbar, c) in enumerate(dense_np(layer)):
        x = np.zeros(bbar.shape, complex)
        for t in range(u.shape[0]):
            x = abar @ x + bbar * u[t, h]
            y[t, h] = (c @ x).real + d[h] * u[t, h]
    return y


@pytest.mark.parametrize(("l_max", "length"), [(32, 32), (32, 20), (31, 31), (16, 40)])
def test_cauchy_kernel_equals_dense_kernel_float64(l_max, length):
    """Even and odd kernel lengths (the w = -1 node), and a sequence longer than l_max."""
    with enable_x64():
        layer = S4(2, 8, l_max=l_max, key=jax.random.key(0))
        k = _np(layer.kernel(length))
    ref = kernel_np(layer, length)
    np.testing.assert_allclose(k, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


def test_init_is_hippo_legs_in_its_eigenbasis():
    n = 8
    layer = S4(1, n, key=jax.random.key(0))
    with enable_x64():
        layer64 = S4(1, n, key=jax.random.key(0))
    lam = -np.exp(_np(layer64.Lambda_re_log[0])) + 1j * _np(layer64.Lambda_im[0])
    p = _np(layer64.P_re[0]) + 1j * _np(layer64.P_im[0])
    # HiPPO-LegS from its closed form; its normal part's eigenvectors V (complex basis)
    q = np.sqrt(2 * np.arange(n) + 1.0)
    a = -np.tril(np.outer(q, q), -1) - np.diag(np.arange(1.0, n + 1))
    pl = np.sqrt(np.arange(n) + 0.5)
    w, v = np.linalg.eig(a + np.outer(pl, pl))
    # each kept Lambda is an eigenvalue of the normal part, and Pt = V^* P on its eigenvector
    for j in range(n // 2):
        i = np.argmin(np.abs(w - lam[j]))
        assert abs(w[i] - lam[j]) < 1e-9
        vj = v[:, i] / np.linalg.norm(v[:, i])
        assert abs(abs(vj.conj() @ pl) - abs(p[j])) < 1e-9
    assert np.all(lam.imag < 0)
    assert layer.Lambda_re_log.dtype == jnp.float32


@pytest.mark.parametrize(("l_max", "length"), [(24, 24), (24, 17), (9, 24)])
def test_call_and_step_match_float64_recurrence(l_max, length):
    layer = S4(3, 8, l_max=l_max, key=jax.random.key(1))
    u = jax.random.normal(jax.random.key(2), (length, 3))
    ref = recurrence_np(layer, u)
    tol = 2e-5 * np.abs(ref).max()  # float32 Cauchy kernel + FFT vs float64 dense loop
    np.testing.assert_allclose(_np(layer(u)), ref, atol=tol)
    state = layer.init_state()
    step = eqx.filter_jit(layer.step)
    ys = []
    for t in range(length):
        state, y = step(state, u[t])
        ys.append(y)
    np.testing.assert_allclose(_np(jnp.stack(ys)), ref, atol=tol)


def test_step_form_reproduces_abar_bbar():
    """The O(N) step applied to basis vectors gives the columns of the dense Abar and Bbar."""
    with enable_x64():
        layer = S4(1, 6, key=jax.random.key(3))
        abar, bbar, _ = dense_np(layer)[0]
        _, cbar = layer.init_state()
        step = eqx.filter_jit(layer.step)
        cols = []
        for j in range(6):
            e = jnp.zeros((1, 6), complex).at[0, j].set(1.0)
            (x, _), _ = step((e, cbar), jnp.zeros(1))
            cols.append(np.asarray(x[0]))
        (xb, _), _ = step((jnp.zeros((1, 6), complex), cbar), jnp.ones(1))
    np.testing.assert_allclose(np.stack(cols, 1), abar, atol=1e-12)
    np.testing.assert_allclose(np.asarray(xb[0]), bbar, atol=1e-12)


def test_gradients_finite():
    layer = S4(2, 8, l_max=16, key=jax.random.key(0))
    u = jax.random.normal(jax.random.key(1), (16, 2))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(u) ** 2)))(layer)
    for name in ["Lambda_re_log", "Lambda_im", "P_re", "P_im", "B_re", "B_im", "C_re", "D"]:
        g = np.asarray(getattr(grads, name))
        assert np.all(np.isfinite(g)) and np.any(g != 0), name
    assert np.all(np.isfinite(np.asarray(grads.log_dt)))
    for name in S4.recurrent_params:
        assert hasattr(layer, name)


def test_bad_inputs():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="d_state"):
        S4(3, 7, key=key)
    with pytest.raises(ValueError, match="l_max"):
        S4(3, 8, l_max=0, key=key)
    with pytest.raises(ValueError, match="dt_min"):
        S4(3, 8, dt_min=0.5, dt_max=0.1, key=key)
    layer = S4(3, 8, key=key)
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="d_model"):
        layer(jnp.zeros((5, 2)))


def test_registry_builds_s4():
    layer = make_mixer("s4", 3, 8, key=jax.random.key(0), l_max=8)
    assert isinstance(layer, S4) and layer.l_max == 8
    assert layer(jnp.ones((5, 3))).shape == (5, 3)
