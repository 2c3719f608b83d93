"""HiPPO-LegS, its normal / DPLR forms, S4D inits and discretisations against closed forms."""

import math

import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
import scipy.linalg
import scipy.signal
from conftest import enable_x64

from lrux import hippo


def legs_loop(n):
    """HiPPO-LegS written entry by entry from the HiPPO paper."""
    a = np.zeros((n, n))
    for i in range(n):
        for k in range(n):
            if i > k:
                a[i, k] = -math.sqrt((2 * i + 1) * (2 * k + 1))
            elif i == k:
                a[i, k] = -(i + 1)
    b = np.array([math.sqrt(2 * i + 1) for i in range(n)])
    return a, b


@pytest.mark.parametrize("n", [1, 5, 16])
def test_legs_entries_and_eigenvalues(n):
    a, b = hippo.legs(n)
    a_ref, b_ref = legs_loop(n)
    np.testing.assert_allclose(a, a_ref, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b, b_ref, rtol=0, atol=1e-12)
    # lower triangular with diagonal -(n+1): eigenvalues -1..-n exactly
    np.testing.assert_allclose(np.sort(np.linalg.eigvals(a).real), -np.arange(n, 0, -1.0))


def test_normal_plus_low_rank():
    n = 12
    a, _ = hippo.legs(n)
    a_n, p, b = hippo.legs_normal(n)
    np.testing.assert_allclose(p, [math.sqrt(i + 0.5) for i in range(n)], atol=1e-12)
    np.testing.assert_allclose(a_n - np.outer(p, p), a, atol=1e-12)
    # A_N = -I/2 + S with S skew-symmetric
    np.testing.assert_allclose(a_n + a_n.T, -np.eye(n), atol=1e-12)
    s = a_n + 0.5 * np.eye(n)
    for i in range(n):
        for k in range(n):
            if i == k:
                expect = 0.0
            else:
                sign = -1.0 if i > k else 1.0
                expect = sign * 0.5 * math.sqrt((2 * i + 1) * (2 * k + 1))
            assert abs(s[i, k] - expect) < 1e-12


def test_nplr_eigendecomposition():
    n = 10
    lam, v, p, b = hippo.legs_nplr(n)
    a, _ = hippo.legs(n)
    a_n = a + np.outer(p, p)
    np.testing.assert_allclose(v.conj().T @ v, np.eye(n), atol=1e-12)  # unitary
    np.testing.assert_allclose(v @ np.diag(lam) @ v.conj().T, a_n, atol=1e-12)
    np.testing.assert_allclose(lam.real, -0.5, atol=1e-12)
    # imaginary parts come in +/- pairs, none zero for even n
    w = np.sort(lam.imag)
    np.testing.assert_allclose(w, -w[::-1], atol=1e-10)
    assert np.all(np.abs(w) > 1e-6)
    # the whole LegS matrix in the eigenbasis: A = V (Lambda - Pt Pt^*) V^*
    pt = v.conj().T @ p
    np.testing.assert_allclose(
        v @ (np.diag(lam) - np.outer(pt, pt.conj())) @ v.conj().T, a, atol=1e-10
    )


def test_dplr_half_and_conjugates():
    n = 8
    lam, pt, bt, v = hippo.legs_dplr(n, clip_b=None)
    a, b = hippo.legs(n)
    p = hippo.legs_low_rank(n)
    assert lam.shape == (n // 2,) and v.shape == (n, n // 2)
    assert np.all(lam.imag < 0) and np.all(np.diff(lam.imag) >= 0)
    # the dropped half is the conjugate half: conj(v) is an eigenvector for conj(lambda)
    a_n = a + np.outer(p, p)
    np.testing.assert_allclose(a_n @ v, v * lam, atol=1e-10)
    np.testing.assert_allclose(a_n @ v.conj(), v.conj() * lam.conj(), atol=1e-10)
    np.testing.assert_allclose(pt, v.conj().T @ p, atol=1e-12)
    np.testing.assert_allclose(bt, v.conj().T @ b, atol=1e-12)
    # kept half + conjugate half rebuild the real LegS matrix
    vf = np.concatenate([v, v.conj()], 1)
    lf = np.concatenate([lam, lam.conj()])
    pf = np.concatenate([pt, pt.conj()])
    np.testing.assert_allclose(
        vf @ (np.diag(lf) - np.outer(pf, pf.conj())) @ vf.conj().T, a, atol=1e-10
    )
    # the references clip Im(Bt) to [-2, 2]
    _, _, bt_clip, _ = hippo.legs_dplr(64)
    assert np.abs(bt_clip.imag).max() <= 2.0
    _, _, bt_raw, _ = hippo.legs_dplr(64, clip_b=None)
    assert np.abs(bt_raw.imag).max() > 2.0


def test_s4d_inits_closed_forms():
    n = 16
    m = n // 2
    a, b = hippo.s4d_init("lin", n)
    np.testing.assert_allclose(a, [-0.5 + 1j * math.pi * k for k in range(m)], atol=1e-12)
    np.testing.assert_allclose(b, np.ones(m))
    a, _ = hippo.s4d_init("inv", n)
    expect = [-0.5 + 1j * (n / math.pi) * (n / (2 * k + 1) - 1) for k in range(m)]
    np.testing.assert_allclose(a, expect, atol=1e-12)
    a, _ = hippo.s4d_init("real", n)
    np.testing.assert_allclose(a, -np.arange(1, m + 1.0), atol=1e-12)
    a, b = hippo.s4d_init("legs", n)
    lam, _, bt, _ = hippo.legs_dplr(n, clip_b=None)
    np.testing.assert_allclose(a, lam)
    # s4's S4D-LegS: B from nplr("legs", N, B_clip=2.0), Im(B) clipped to [-2, 2]
    np.testing.assert_allclose(b.real, bt.real)
    np.testing.assert_allclose(b.imag, np.clip(bt.imag, -2.0, 2.0))
    assert np.abs(bt.imag).max() > 2.0  # the clip is active at this size
    # S4D-LegS's diagonal is -1/2 + i w with w eigenvalues of the skew part (independent check)
    s = hippo.legs_normal(n)[0] + 0.5 * np.eye(n)
    w = np.sort(np.linalg.eigvals(s).imag)[:m]
    np.testing.assert_allclose(np.sort(a.imag), w, atol=1e-9)


def test_bad_sizes_and_names():
    with pytest.raises(ValueError, match="n must be even"):
        hippo.legs_dplr(7)
    with pytest.raises(ValueError, match="positive int"):
        hippo.legs(0)
    # a value outside the Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="init"):
        hippo.s4d_init("legt", 8)
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="discretization|method"):
        hippo.discretize("euler", jnp.ones(2), jnp.ones(2), jnp.ones(2))
    with pytest.raises(ValueError, match="dt_min"):
        hippo.log_dt_init(jax.random.key(0), (3,), 0.1, 0.01)


def _as_real_block(lam, b):
    """Complex scalar system x' = lam x + b u as a real 2-state system."""
    a = np.array([[lam.real, -lam.imag], [lam.imag, lam.real]])
    return a, np.array([[b.real], [b.imag]])


@pytest.mark.parametrize("method", ["zoh", "bilinear"])
def test_diagonal_discretisation_matches_scipy(method):
    rng = np.random.default_rng(0)
    lams = -rng.uniform(0.1, 2.0, 5) + 1j * rng.uniform(-10, 10, 5)
    bs = rng.normal(size=5) + 1j * rng.normal(size=5)
    dts = rng.uniform(0.001, 0.5, 5)
    with enable_x64():
        fn = hippo.zoh if method == "zoh" else hippo.bilinear
        lbar, bbar = fn(jnp.asarray(lams), jnp.asarray(bs), jnp.asarray(dts))
        lbar, bbar = np.asarray(lbar), np.asarray(bbar)
    for i in range(5):
        a, b = _as_real_block(lams[i], bs[i])
        ad, bd, *_ = scipy.signal.cont2discrete(
            (a, b, np.eye(2), np.zeros((2, 1))), dts[i], method=method
        )
        a_got, b_got = _as_real_block(lbar[i], bbar[i])
        np.testing.assert_allclose(a_got, ad, atol=1e-12)
        np.testing.assert_allclose(b_got, bd, atol=1e-12)


def test_zoh_is_exact_integral():
    # Bbar = int_0^dt exp(s lam) ds B by the trapezoid rule on a fine grid
    lam, b, dt = -0.3 + 4.0j, 0.7 - 0.2j, 0.25
    s = np.linspace(0.0, dt, 200001)
    integral = np.trapezoid(np.exp(s * lam), s) * b
    with enable_x64():
        lbar, bbar = hippo.zoh(jnp.asarray(lam), jnp.asarray(b), jnp.asarray(dt))
    assert abs(complex(lbar) - np.exp(dt * lam)) < 1e-14
    assert abs(complex(bbar) - integral) < 1e-9


def test_bilinear_dense_matches_scipy():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(6, 6)) - 3 * np.eye(6)
    b = rng.normal(size=(6, 2))
    with enable_x64():
        abar, bbar = hippo.bilinear_dense(jnp.asarray(a), jnp.asarray(b), 0.05)
    ad, bd, *_ = scipy.signal.cont2discrete(
        (a, b, np.eye(6), np.zeros((6, 2))), 0.05, method="bilinear"
    )
    np.testing.assert_allclose(np.asarray(abar), ad, atol=1e-12)
    np.testing.assert_allclose(np.asarray(bbar), bd, atol=1e-12)
    # and the bilinear map of the diagonal helper agrees with the dense one on diag(lam)
    lam = np.array([-0.5 + 2j, -1.0 - 1j])
    with enable_x64():
        ld, _ = hippo.bilinear(jnp.asarray(lam), jnp.ones(2), jnp.asarray(0.1))
        ad2, _ = hippo.bilinear_dense(jnp.asarray(np.diag(lam)), jnp.ones((2, 1), complex), 0.1)
    np.testing.assert_allclose(np.diag(np.asarray(ad2)), np.asarray(ld), atol=1e-14)
    assert scipy.linalg.norm(np.asarray(ad2) - np.diag(np.diag(np.asarray(ad2)))) < 1e-14


def test_log_dt_init_range():
    ld = hippo.log_dt_init(jax.random.key(0), (4000,), 0.001, 0.1)
    assert float(ld.min()) >= math.log(0.001) and float(ld.max()) <= math.log(0.1)
    # uniform in log space: mean near the midpoint
    assert abs(float(ld.mean()) - 0.5 * (math.log(0.001) + math.log(0.1))) < 0.1
