"""S4D: FFT-convolution path and step against a float64 numpy recurrence written here."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
from conftest import enable_x64, make_as

from lrux.layers.bidirectional import SharedBidirectional
from lrux.layers.s4d import S4D, fft_conv
from lrux.registry import make_mixer

INITS = ["lin", "inv", "legs", "real"]
DISCS = ["zoh", "bilinear"]


def _np(a):
    return np.asarray(a, dtype=np.float64)


def discretise_np(layer):
    """(Lbar, Bbar, C, D) in float64 from the layer's parameters, by the textbook formulas."""
    a = -np.exp(_np(layer.A_re_log)) + 1j * _np(layer.A_im)
    b = _np(layer.B_re) + 1j * _np(layer.B_im)
    dt = np.exp(_np(layer.log_dt))[:, None]
    if layer.discretization == "zoh":
        lbar = np.exp(dt * a)
        bbar = (lbar - 1) / a * b
    else:
        lbar = (1 + dt * a / 2) / (1 - dt * a / 2)
        bbar = dt * b / (1 - dt * a / 2)
    return lbar, bbar, _np(layer.C_re) + 1j * _np(layer.C_im), _np(layer.D)


def recurrence_np(layer, u):
    lbar, bbar, c, d = discretise_np(layer)
    u = _np(u)
    x = np.zeros(lbar.shape, complex)
    ys = []
    for t in range(u.shape[0]):
        x = lbar * x + bbar * u[t][:, None]
        ys.append(2 * (c * x).sum(-1).real + d * u[t])
    return np.stack(ys)


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("disc", DISCS)
def test_call_and_step_match_float64_recurrence(init, disc):
    layer = S4D(3, 8, init=init, discretization=disc, key=jax.random.key(0))
    u = jax.random.normal(jax.random.key(1), (37, 3))
    ref = recurrence_np(layer, u)
    scale = np.abs(ref).max()
    # float32 FFT convolution vs float64 loop: relative error 1e-5 of the output's scale
    np.testing.assert_allclose(_np(layer(u)), ref, atol=2e-5 * scale)
    state = layer.init_state()
    step = eqx.filter_jit(layer.step)
    ys = []
    for t in range(u.shape[0]):
        state, y = step(state, u[t])
        ys.append(y)
    np.testing.assert_allclose(_np(jnp.stack(ys)), ref, atol=2e-5 * scale)


@pytest.mark.parametrize("length", [1, 20, 64])
@pytest.mark.parametrize("disc", DISCS)
def test_kernel_closed_form_float64(length, disc):
    """The blocked (l = T j + t) Vandermonde product against the plain powers."""
    with enable_x64():
        layer = S4D(2, 6, init="inv", discretization=disc, key=jax.random.key(3))
        k = _np(layer.kernel(length))
    lbar, bbar, c, _ = discretise_np(layer)
    ell = np.arange(length)
    expect = 2 * np.einsum("hn,hnl->hl", c * bbar, lbar[..., None] ** ell).real
    assert k.shape == (2, length)
    np.testing.assert_allclose(k, expect, rtol=0, atol=1e-11)


def test_lin_init_eigenvalues_and_parameters():
    layer = S4D(4, 10, init="lin", key=jax.random.key(0))
    a = np.asarray(layer.continuous_eigenvalues())
    expect = np.array([-0.5 + 1j * math.pi * n for n in range(5)])
    np.testing.assert_allclose(a, np.broadcast_to(expect, (4, 5)), rtol=1e-6)
    np.testing.assert_allclose(_np(layer.B_re), 1.0)
    np.testing.assert_allclose(_np(layer.B_im), 0.0)
    dt = np.exp(_np(layer.log_dt))
    assert np.all((dt >= 0.001 - 1e-9) & (dt <= 0.1 + 1e-9))
    for name in S4D.recurrent_params:
        assert hasattr(layer, name)


def test_fft_conv_matches_direct_sum():
    rng = np.random.default_rng(0)
    u = rng.normal(size=(11, 2)).astype(np.float32)
    k = rng.normal(size=(11, 2)).astype(np.float32)
    y = _np(fft_conv(jnp.asarray(u), jnp.asarray(k)))
    ref = np.zeros((11, 2))
    for t in range(11):
        for s in range(t + 1):
            ref[t] += k[s] * u[t - s]
    np.testing.assert_allclose(y, ref, atol=1e-5)


def test_gradients_finite_and_match_finite_differences():
    with enable_x64():
        layer = S4D(2, 4, key=jax.random.key(0))
        u = jax.random.normal(jax.random.key(1), (16, 2))
        loss = eqx.filter_jit(lambda m: jnp.sum(m(u) ** 2))
        grads = eqx.filter_grad(loss)(layer)
        for name in ["A_re_log", "A_im", "B_re", "B_im", "C_re", "C_im", "D", "log_dt"]:
            g = np.asarray(getattr(grads, name))
            assert np.all(np.isfinite(g)) and np.any(g != 0), name
        eps = 1e-6
        for i in range(2):
            bump = lambda m, e, i=i: eqx.tree_at(lambda t: t.log_dt, m, m.log_dt.at[i].add(e))
            fd = (loss(bump(layer, eps)) - loss(bump(layer, -eps))) / (2 * eps)
            assert abs(float(fd) - float(grads.log_dt[i])) < 1e-5 * max(1.0, abs(float(fd)))


def test_bad_inputs():
    with pytest.raises(ValueError, match="d_state"):
        S4D(3, 7, key=jax.random.key(0))
    # a value outside an option's Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="init"):
        S4D(3, 8, init="legt", key=jax.random.key(0))  # type: ignore[arg-type]
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="discretization"):
        S4D(3, 8, discretization="euler", key=jax.random.key(0))  # type: ignore
    layer = S4D(3, 8, key=jax.random.key(0))
    with pytest.raises(ValueError, match="d_model=3"):
        layer(jnp.zeros((5, 4)))
    # under the test run's jaxtyping hook the annotation fires first; without it, ValueError
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="x_t"):
        layer.step(layer.init_state(), jnp.zeros(4))


def test_registry_builds_s4d():
    layer = make_mixer("s4d", 3, 8, key=jax.random.key(0), init="inv")
    assert isinstance(layer, S4D) and layer.init == "inv"
    assert layer(jnp.ones((5, 3))).shape == (5, 3)


def test_legs_b_is_clipped_as_in_s4():
    """S4D-LegS takes the B of S4's DPLR LegS basis: Im(B) clipped to [-2, 2] (s4's B_clip)."""
    from lrux.layers.s4 import S4

    n = 64
    layer = S4D(2, n, init="legs", key=jax.random.key(0))
    s4 = S4(2, n, key=jax.random.key(0))
    np.testing.assert_allclose(_np(layer.B_re), _np(s4.B_re), atol=1e-6)
    np.testing.assert_allclose(_np(layer.B_im), _np(s4.B_im), atol=1e-6)
    assert np.abs(_np(layer.B_im)).max() == pytest.approx(2.0)
    # and the same Lambda as S4's diagonal part
    np.testing.assert_allclose(_np(layer.A_im), _np(s4.Lambda_im), atol=1e-5)


def test_integer_input_is_not_truncated():
    """An int sequence gives the float32 layer's output for the same values (issue 12)."""
    layer = S4D(3, 8, key=jax.random.key(0))
    u = jnp.asarray(np.random.default_rng(0).integers(-3, 4, size=(17, 3)), jnp.int32)
    y = layer(u)
    assert y.dtype == jnp.float32
    ref = recurrence_np(layer, _np(u))
    np.testing.assert_allclose(_np(y), ref, atol=2e-5 * np.abs(ref).max())
    np.testing.assert_array_equal(np.asarray(y), np.asarray(layer(u.astype(jnp.float32))))


# ------------------------------------------------------------------ s4's bidirectional S4D


def _shared_oracle(layer, c1, u):
    """s4's one-kernel bidirectional S4D (state-spaces/s4 b5dae46, kernel.py:789-797, 952;
    s4.py:129-132, 190-210) in float64, summed directly:
    y_t = sum_{s<=t} K0[t-s] u_s + sum_{s>t} K1[s-t-1] u_s + D u_t,
    K_c[l] = 2 Re sum_n C_{c,n} Bbar_n Lbar_n^l, with C_0 the layer's C and C_1 = c1."""
    lbar, bbar, c0, d = discretise_np(layer)
    u = _np(u)
    n_len = u.shape[0]
    ell = np.arange(n_len)
    k0 = 2 * np.einsum("hn,hnl->hl", c0 * bbar, lbar[..., None] ** ell).real
    k1 = 2 * np.einsum("hn,hnl->hl", c1 * bbar, lbar[..., None] ** ell).real
    y = np.zeros_like(u)
    for t in range(n_len):
        y[t] = d * u[t]
        for s in range(n_len):
            y[t] += k0[:, t - s] * u[s] if s <= t else k1[:, s - t - 1] * u[s]
    return y


def _backward_recurrence(layer, c1, u):
    """The same anti-causal part as a recurrence: 2 Re(C_1 Bbar . z_{t+1}) with
    z_t = sum_{s>=t} Lbar^{s-t} u_s (z_n = 0), z_t = Lbar z_{t+1} + u_t."""
    lbar, bbar, _, _ = discretise_np(layer)
    u = _np(u)
    z = np.zeros((u.shape[0] + 1,) + lbar.shape, complex)
    for t in range(u.shape[0] - 1, -1, -1):
        z[t] = lbar * z[t + 1] + u[t][:, None]
    return np.stack([2 * (c1 * bbar * z[t + 1]).sum(-1).real for t in range(u.shape[0])])


@pytest.mark.parametrize("disc", DISCS)
def test_shared_from_next_is_s4s_bidirectional_s4d(disc):
    """make_mixer("s4d", bidirectional=True, combine="shared_from_next") against the
    direct sum of s4's formula and against the backward recurrence (float64), by FFT."""
    with enable_x64():
        m = make_as(SharedBidirectional, "s4d", 3, 8, key=jax.random.key(4),
                    bidirectional=True, combine="shared_from_next", discretization=disc)
        layer = m.mixer
        assert isinstance(layer, S4D)
        c1 = _np(m.backward_readout["C_re"]) + 1j * _np(m.backward_readout["C_im"])
        u = np.asarray(jax.random.normal(jax.random.key(5), (23, 3), jnp.float64))
        got = _np(m(jnp.asarray(u)))
    want = _shared_oracle(layer, c1, u)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9 * np.abs(want).max())
    causal = recurrence_np(layer, u)  # the forward part and D: the causal S4D
    np.testing.assert_allclose(want - causal, _backward_recurrence(layer, c1, u), atol=1e-9)
    # the anti-causal part starts at t + 1: the last position has no backward part
    np.testing.assert_allclose(got[-1], causal[-1], atol=1e-9)


def test_shared_from_next_draws_a_second_independent_c_and_keeps_the_causal_layer():
    """Both C ~ CN(0, 1), independent (kernel.py:952: C is (2, H, N/2)); A, B, step and D
    are those of the causal S4D of the same key (one D, N(0, 1))."""
    key = jax.random.key(6)
    m = make_as(SharedBidirectional, "s4d", 256, 64, key=key, bidirectional=True,
                combine="shared_from_next")
    causal = make_mixer("s4d", 256, 64, key=key)
    layer = m.mixer
    assert isinstance(layer, S4D)
    for a, b in zip(jax.tree_util.tree_leaves(layer), jax.tree_util.tree_leaves(causal),
                    strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    c0 = _np(layer.C_re) + 1j * _np(layer.C_im)
    c1 = _np(m.backward_readout["C_re"]) + 1j * _np(m.backward_readout["C_im"])
    for c in (c0, c1):  # CN(0, 1): E|c|^2 = 1, each part of variance 1/2 (8192 draws)
        assert abs(np.mean(np.abs(c) ** 2) - 1) < 0.05
        assert abs(np.var(c.real) - 0.5) < 0.03 and abs(np.var(c.imag) - 0.5) < 0.03
    assert abs(np.mean(c0 * c1.conj())) < 0.03  # independent draws
    assert m.combine == "shared_from_next" and not hasattr(m, "step")
