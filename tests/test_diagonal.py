"""Tests of the diagonal ladder rungs (lrux.layers.diagonal.DiagonalRNN).

Oracles: numpy complex128 loops of x_k = lambda x_{k-1} + g (B u_k), y_k = Re(C x_k) + D u_k
written here, closed-form lambda/gamma formulas, eigenvalues of numpy Glorot matrices
(circular law, paper sec. 6), and `lrux.LRU` for the top rung.
"""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
from conftest import enable_x64, native_usable
from scipy import stats

from lrux import LRU
from lrux.layers.diagonal import DiagonalRNN

H, N, L = 3, 6, 20
PARAMS = ("reim", "exp", "stable-exp")


def _x(seed: int = 0, length: int = L, d_model: int = H) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((length, d_model)).astype(np.float32)


def _np(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def lam_from_fields(m: DiagonalRNN) -> np.ndarray:
    """lambda in complex128 from the stored fields, by the paper's formulas."""
    if m.parameterization == "reim":
        return _np(m.lam_re) + 1j * _np(m.lam_im)
    if m.parameterization == "exp":
        return np.exp(_np(m.nu) + 1j * _np(m.theta))
    return np.exp(-np.exp(_np(m.nu_log)) + 1j * np.exp(_np(m.theta_log)))


def diagonal_loop(m: DiagonalRNN, x: np.ndarray) -> np.ndarray:
    lam = lam_from_fields(m)
    g = np.exp(_np(m.gamma_log)) if m.gamma else np.ones(m.d_state)
    B = _np(m.B_re) + 1j * _np(m.B_im)
    C = _np(m.C_re) + 1j * _np(m.C_im)
    D = _np(m.D)
    h = np.zeros(m.d_state, complex)
    ys = []
    for u in _np(x):
        h = lam * h + g * (B @ u)
        ys.append((C @ h).real + D * u)
    return np.stack(ys)


def _make(param, init="disk", gamma=False, seed=0, **kw):
    return DiagonalRNN(
        H, N, parameterization=param, init=init, gamma=gamma, key=jax.random.key(seed), **kw
    )


# ----------------------------------------------------------------------------- values


@pytest.mark.parametrize("param", PARAMS)
@pytest.mark.parametrize("init, gamma", [("disk", False), ("ring", False), ("ring", True)])
def test_matches_float64_loop(param, init, gamma):
    kw = {"r_min": 0.6, "r_max": 0.95, "max_phase": math.pi / 2} if init == "ring" else {}
    m = _make(param, init, gamma, seed=1, **kw)
    x = _x(2)
    y = m(jnp.asarray(x))
    assert y.shape == (L, H) and y.dtype == jnp.float32
    ref = diagonal_loop(m, x)
    np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("param", PARAMS)
def test_stored_fields_are_the_parameterization(param):
    m = _make(param, seed=3)
    fields = {
        "reim": ("lam_re", "lam_im"),
        "exp": ("nu", "theta"),
        "stable-exp": ("nu_log", "theta_log"),
    }
    for p, names in fields.items():
        for name in names:
            value = getattr(m, name)
            if p == param:
                assert value.shape == (N,) and value.dtype == jnp.float32
            else:
                assert value is None
    np.testing.assert_allclose(m.eigenvalues(), lam_from_fields(m), rtol=1e-6, atol=1e-6)
    if param == "exp":
        assert bool(jnp.all(m.nu < 0))  # nu = -nu_init, |lambda| = exp(nu) < 1


def test_parameterizations_share_the_initial_draw():
    """Same key -> the same lambda, B, C, D whatever the parameterization."""
    ms = [_make(p, seed=4) for p in PARAMS]
    for m in ms[1:]:
        np.testing.assert_allclose(m.eigenvalues(), ms[0].eigenvalues(), rtol=1e-5, atol=1e-6)
        for f in ("B_re", "B_im", "C_re", "C_im", "D"):
            np.testing.assert_array_equal(getattr(m, f), getattr(ms[0], f))


@pytest.mark.parametrize("param", PARAMS)
def test_gamma_init_and_off(param):
    m = _make(param, "ring", True, seed=5, r_min=0.4, r_max=0.99)
    lam = lam_from_fields(m)
    np.testing.assert_allclose(
        _np(m.gamma_log), np.log(np.sqrt(1 - np.abs(lam) ** 2)), rtol=1e-4, atol=1e-5
    )
    np.testing.assert_allclose(m.input_gain(), np.sqrt(1 - np.abs(lam) ** 2), rtol=1e-4)
    off = _make(param, "ring", False, seed=5, r_min=0.4, r_max=0.99)
    assert off.gamma_log is None and off.input_gain() is None


def test_ring_init_stays_on_the_ring():
    r_min, r_max, max_phase = 0.5, 0.9, math.pi / 10
    m = DiagonalRNN(
        2,
        2000,
        init="ring",
        r_min=r_min,
        r_max=r_max,
        max_phase=max_phase,
        key=jax.random.key(6),
    )
    lam = lam_from_fields(m)
    r, phase = np.abs(lam), np.angle(lam)
    assert r.min() >= r_min - 1e-6 and r.max() <= r_max + 1e-6
    assert phase.min() >= 0 and phase.max() <= max_phase + 1e-6
    # |lambda|^2 uniform on [r_min^2, r_max^2] (Lemma 2): KS distance below 0.04 (n = 2000,
    # the 1% critical value is 1.63 / sqrt(2000) = 0.036).
    u = (r**2 - r_min**2) / (r_max**2 - r_min**2)
    assert stats.kstest(u, "uniform").statistic < 0.04


def test_disk_init_follows_the_circular_law():
    """|lambda| of the disk init vs eigenvalues of Glorot N(0, 1/N) matrices (paper sec. 6).

    1024 disk-init eigenvalues against the 1024 eigenvalues of four 256 x 256 Glorot
    matrices (numpy, fixed seed). Tolerance: the two-sample KS statistic must be below 0.072,
    the 1% critical value for n = m = 1024 (1.63 * sqrt(2 / 1024)). A ring [0.5, 0.9] draw of
    the same size must fail the same test, so the test can tell the distributions apart.
    """
    rng = np.random.default_rng(2023)
    n, count = 256, 4
    glorot = np.concatenate(
        [np.linalg.eigvals(rng.standard_normal((n, n)) / np.sqrt(n)) for _ in range(count)]
    )
    disk = lam_from_fields(
        DiagonalRNN(2, n * count, init="disk", gamma=False, key=jax.random.key(7))
    )
    tol = 1.63 * math.sqrt(2 / (n * count))
    assert stats.ks_2samp(np.abs(disk), np.abs(glorot)).statistic < tol
    # phases: uniform on the circle for both (Glorot eigenvalues come in conjugate pairs).
    ang = lambda z: np.mod(np.angle(z), 2 * np.pi)
    assert stats.ks_2samp(ang(disk), ang(glorot)).statistic < tol
    # both radial CDFs are close to the uniform disk's P(|lambda| <= r) = r^2.
    for z in (disk, glorot):
        assert stats.kstest(np.abs(z) ** 2, "uniform").statistic < tol
    ring = lam_from_fields(
        DiagonalRNN(2, n * count, init="ring", r_min=0.5, r_max=0.9, key=jax.random.key(7))
    )
    assert stats.ks_2samp(np.abs(ring), np.abs(glorot)).statistic > tol


# ----------------------------------------------------------------------------- the LRU rung


def test_top_rung_is_exactly_the_lru():
    ring = {"r_min": 0.4, "r_max": 0.99, "max_phase": math.pi / 4}
    lru = LRU(H, N, key=jax.random.key(8), **ring)
    top = DiagonalRNN(
        H, N, parameterization="stable-exp", init="ring", gamma=True, key=jax.random.key(8), **ring
    )
    fields = ("nu_log", "theta_log", "gamma_log", "B_re", "B_im", "C_re", "C_im", "D")
    for f in fields:  # same key -> same draws
        np.testing.assert_array_equal(getattr(top, f), getattr(lru, f))

    # Copy a different (perturbed, "trained") LRU's arrays into a DiagonalRNN.
    other = LRU(H, N, key=jax.random.key(9), **ring)
    noise = jax.random.split(jax.random.key(10), len(fields))
    other = eqx.tree_at(
        lambda m: tuple(getattr(m, f) for f in fields),
        other,
        tuple(
            getattr(other, f) + 0.05 * jax.random.normal(k, getattr(other, f).shape)
            for f, k in zip(fields, noise, strict=True)
        ),
    )
    top = eqx.tree_at(
        lambda m: tuple(getattr(m, f) for f in fields),
        top,
        tuple(getattr(other, f) for f in fields),
    )
    x = jnp.asarray(_x(11))
    np.testing.assert_array_equal(top(x), other(x))
    np.testing.assert_array_equal(eqx.filter_jit(top)(x), eqx.filter_jit(other)(x))
    np.testing.assert_array_equal(top.reverse(x), other.reverse(x))
    s_top, s_lru = top.init_state(), other.init_state()
    assert s_top.dtype == s_lru.dtype and s_top.shape == s_lru.shape
    for t in range(5):
        s_top, y_top = top.step(s_top, x[t])
        s_lru, y_lru = other.step(s_lru, x[t])
        np.testing.assert_array_equal(y_top, y_lru)
        np.testing.assert_array_equal(s_top, s_lru)
    assert set(LRU.recurrent_params) <= set(DiagonalRNN.recurrent_params)


# ----------------------------------------------------------------------------- modes, grads


@pytest.mark.parametrize("param", PARAMS)
def test_step_equals_call_and_reverse(param):
    m = _make(param, "ring", True, seed=12, r_min=0.5)
    x = jnp.asarray(_x(13))
    state, ys = m.init_state(), []
    for t in range(L):
        state, y_t = m.step(state, x[t])
        ys.append(y_t)
    y = np.asarray(m(x))
    tol = 1e-4 * max(1.0, float(np.abs(y).max()))  # float32, different summation order
    np.testing.assert_allclose(np.stack(ys), y, rtol=1e-4, atol=tol)
    np.testing.assert_allclose(m.reverse(x), jnp.flip(m(jnp.flip(x, 0)), 0), rtol=1e-4, atol=tol)


def test_scan_modes_agree():
    x = jnp.asarray(_x(14, length=200))
    ys = [
        _make("exp", seed=15, scan_mode=mode)(x)
        for mode in ("sequential", "parallel", "chunked", "auto", "native")
        if mode != "native" or native_usable()
    ]
    for y in ys[1:]:
        np.testing.assert_allclose(y, ys[0], rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("param", PARAMS)
@pytest.mark.parametrize("gamma", [False, True])
def test_gradients_finite_and_reach_every_parameter(param, gamma):
    m = _make(param, "ring", gamma, seed=16, r_min=0.3)
    x = jnp.asarray(_x(17))
    grads = eqx.filter_grad(lambda mod: jnp.mean(mod(x) ** 2))(m)
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_array))
    assert len(leaves) == 7 + gamma  # 2 lambda arrays, gamma_log?, B_re, B_im, C_re, C_im, D
    for path, g in leaves:
        assert bool(jnp.all(jnp.isfinite(g))), path
        assert float(jnp.abs(g).max()) > 0.0, f"zero gradient at {path}"


def test_lambda_gradient_matches_finite_differences():
    """d loss / d theta for the exp parameterization, against central differences (f64)."""
    with enable_x64():
        m = _make("exp", seed=18)
        m = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), m)
        x = jnp.asarray(_x(19), jnp.float64)
        loss = lambda theta: jnp.sum(jnp.sin(eqx.tree_at(lambda d: d.theta, m, theta)(x)))
        g = jax.grad(loss)(m.theta)
        eps = 1e-6
        fd = np.array(
            [
                (loss(m.theta.at[j].add(eps)) - loss(m.theta.at[j].add(-eps))) / (2 * eps)
                for j in range(N)
            ]
        )
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-7)


# ----------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"parameterization": "polar"}, "parameterization"),
        ({"init": "uniform"}, "init"),
        ({"init": "disk", "r_min": 0.5}, "init='ring'"),
        ({"init": "ring", "r_max": 1.5}, "r_max"),
        ({"init": "ring", "r_min": 0.9, "r_max": 0.5}, "r_min"),
        ({"scan_mode": "fast"}, "scan_mode"),
    ],
)
def test_bad_options_raise(kwargs, match):
    # a value outside an option's Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match=match):
        DiagonalRNN(H, N, key=jax.random.key(0), **kwargs)


def test_bad_shapes_raise():
    m = _make("reim")
    with pytest.raises(ValueError, match="d_model"):
        m(jnp.zeros((L, H + 1)))
    with pytest.raises(ValueError, match="x_t"):
        m.step(m.init_state(), jnp.zeros(H + 1))
    with pytest.raises(ValueError, match="d_state"):
        DiagonalRNN(H, 0, key=jax.random.key(0))
