"""lrux.signal against closed forms and float64 numpy loops written here.

Oracles: C diag(lambda)^k B by repeated numpy multiplication, C A^k B by numpy matrix
powers, the per-mode variance recursion v_k = |lambda|^2 v_{k-1} + |B_j|^2 in numpy,
Monte Carlo white noise, a numerical integral of 1/(1 - s) for the ring formula, numpy
eigendecompositions and finite differences for the gradient reach.
"""

import math
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import enable_x64, make_as
from jaxtyping import TypeCheckError

from lrux import make_mixer
from lrux import signal as S
from lrux.layers.base import AbstractLinearMixer, AbstractRecurrentMixer
from lrux.layers.diagonal import DiagonalRNN
from lrux.layers.lru import LRU
from lrux.layers.rnn import GRU, DenseLinearRNN
from lrux.layers.s4 import S4
from lrux.layers.s4d import S4D
from lrux.registry import mixer_class, mixer_names

# the time-invariant mixers and the recurrent ones, by type
LTI_NAMES = [n for n in mixer_names() if issubclass(mixer_class(n), AbstractLinearMixer)]
RECURRENT_NAMES = [n for n in mixer_names()
                   if issubclass(mixer_class(n), AbstractRecurrentMixer)]


def _np(x):
    return np.asarray(x, np.float64)


def _lru_numpy(m):
    """(lambda, gamma * B, C, D) of an LRU from its raw fields, in numpy float64."""
    lam = np.exp(-np.exp(_np(m.nu_log)) + 1j * np.exp(_np(m.theta_log)))
    b = np.exp(_np(m.gamma_log))[:, None] * (_np(m.B_re) + 1j * _np(m.B_im))
    c = _np(m.C_re) + 1j * _np(m.C_im)
    return lam, b, c, _np(m.D)


def test_lru_kernel_is_c_lambda_power_b():
    with enable_x64():
        m = make_as(LRU, "lru", 3, 6, key=jax.random.key(1), r_min=0.5, r_max=0.95)
        lam, b, c, d = _lru_numpy(m)
        length = 40
        want = np.zeros((length, 3, 3))
        state = b.copy()  # lambda^0 B
        for k in range(length):
            want[k] = (c @ state).real
            state = lam[:, None] * state
        got = np.asarray(S.kernel(m, length))
        np.testing.assert_allclose(got, want, atol=1e-12, rtol=1e-10)
        # The impulse fed through the layer gives the same, plus D at k = 0.
        resp = np.asarray(S.impulse_response(m, length))
        want[0] += np.diag(d)
        np.testing.assert_allclose(resp, want, atol=1e-12, rtol=1e-10)
        np.testing.assert_allclose(np.asarray(S.eigenvalues(m)), lam, atol=1e-14)


def test_dense_kernel_is_c_a_power_b():
    with enable_x64():
        m = make_as(DenseLinearRNN, "linear-dense", 2, 5, key=jax.random.key(2))
        a, b, c = _np(m.A), _np(m.B), _np(m.C)
        want = np.stack([c @ np.linalg.matrix_power(a, k) @ b for k in range(12)])
        np.testing.assert_allclose(np.asarray(S.kernel(m, 12)), want, atol=1e-12, rtol=1e-10)
        got = np.sort_complex(np.asarray(S.eigenvalues(m)))
        np.testing.assert_allclose(got, np.sort_complex(np.linalg.eigvals(a)), atol=1e-12)


@pytest.mark.parametrize("name", LTI_NAMES)
def test_kernel_equals_measured_impulse_response(name):
    with enable_x64():
        m = make_as(AbstractLinearMixer, name, 3, 8, key=jax.random.key(3))
        length = 64
        k = np.asarray(S.kernel(m, length))
        r = np.array(S.impulse_response(m, length))
        r[0] -= np.diag(_np(m.linear_system().D))
        scale = np.abs(k).max()
        assert scale > 0
        np.testing.assert_allclose(r, k, atol=1e-9 * scale)


def test_s4d_and_s4_eigenvalues_are_discretised_a():
    with enable_x64():
        m = make_as(S4D, "s4d", 2, 8, key=jax.random.key(4))
        a = -np.exp(_np(m.A_re_log)) + 1j * _np(m.A_im)  # (H, modes)
        dt = np.exp(_np(m.log_dt))[:, None]
        np.testing.assert_allclose(
            np.asarray(S.eigenvalues(m)), np.exp(dt * a).reshape(-1), atol=1e-13
        )
        m4 = make_as(S4, "s4", 1, 6, key=jax.random.key(5))
        lam = -np.exp(_np(m4.Lambda_re_log[0])) + 1j * _np(m4.Lambda_im[0])
        p = _np(m4.P_re[0]) + 1j * _np(m4.P_im[0])
        lam, p = np.concatenate([lam, lam.conj()]), np.concatenate([p, p.conj()])
        a_cont = np.diag(lam) - np.outer(p, p.conj())
        mu = np.linalg.eigvals(a_cont)
        dt = float(np.exp(_np(m4.log_dt[0])))
        want = np.sort_complex((1 + dt / 2 * mu) / (1 - dt / 2 * mu))
        got = np.sort_complex(np.asarray(S.eigenvalues(m4)))
        np.testing.assert_allclose(got, want, atol=1e-9)


def test_predicted_variance_matches_numpy_recursion_and_monte_carlo():
    with enable_x64():
        m = make_as(LRU, "lru", 2, 16, key=jax.random.key(6), r_min=0.8, r_max=0.99)
        lam, b, _, _ = _lru_numpy(m)
        length = 150
        for layer, gain in ((m, 1.0), (S.without_gamma(m), None)):
            bj = b if gain else b / np.exp(_np(m.gamma_log))[:, None]
            b2 = np.sum(np.abs(bj) ** 2, axis=1)
            v = np.zeros(16)
            want = []
            for _ in range(length):
                v = np.abs(lam) ** 2 * v + b2
                want.append(v.mean())
            pred = np.asarray(S.predicted_state_variance(layer, length))
            np.testing.assert_allclose(pred, want, rtol=1e-10)
            meas = np.asarray(
                S.state_variance(layer, length, key=jax.random.key(7), num_samples=512)
            )
            # Monte Carlo: |x|^2 is exponential per mode; 512 samples x 16 modes -> ~2-3 %.
            np.testing.assert_allclose(meas[[0, 20, 149]], pred[[0, 20, 149]], rtol=0.1)
        # gamma cancels 1/(1-|lambda|^2): stationary variance = mean |B_j|^2 with gamma.
        b_raw = b / np.exp(_np(m.gamma_log))[:, None]
        b2_gamma = np.mean(np.sum(np.abs(b_raw) ** 2, axis=1))
        long = np.asarray(S.predicted_state_variance(m, 3000))[-1]
        np.testing.assert_allclose(long, b2_gamma, rtol=1e-6)


def test_dense_predicted_variance_matches_monte_carlo():
    with enable_x64():
        m = make_as(DenseLinearRNN, "linear-dense", 2, 6, key=jax.random.key(8))
        m = eqxtree_scale_a(m, 0.8)
        a, b = _np(m.A), _np(m.B)
        sigma = np.zeros((6, 6))
        want = []
        for _ in range(30):
            sigma = a @ sigma @ a.T + b @ b.T
            want.append(np.trace(sigma) / 6)
        np.testing.assert_allclose(np.asarray(S.predicted_state_variance(m, 30)), want, rtol=1e-10)
        rng = np.random.default_rng(0)
        u = rng.standard_normal((4000, 30, 2))
        x = np.zeros((4000, 6))
        for k in range(30):
            x = x @ a.T + u[:, k] @ b.T
        np.testing.assert_allclose(np.mean(x**2), want[-1], rtol=0.05)


def eqxtree_scale_a(m: DenseLinearRNN, radius: float) -> DenseLinearRNN:
    """The dense layer with A rescaled to spectral radius `radius` (stable)."""
    import equinox as eqx

    rho = np.abs(np.linalg.eigvals(_np(m.A))).max()
    return eqx.tree_at(lambda t: t.A, m, m.A * (radius / rho))


@pytest.mark.parametrize("r_min,r_max", [(0.0, 0.9), (0.5, 0.99), (0.9, 0.999), (0.7, 0.7)])
def test_ring_variance_is_the_mean_of_one_over_one_minus_r2(r_min, r_max):
    lo, hi = r_min**2, r_max**2
    if hi == lo:
        want = 1 / (1 - hi)
    else:
        s = lo + (hi - lo) * (np.arange(200_000) + 0.5) / 200_000  # midpoint rule
        want = np.mean(1.0 / (1.0 - s))
    assert S.ring_variance(r_min, r_max) == pytest.approx(want, rel=1e-4)
    assert S.ring_variance(0.3, 1.0) == math.inf


def test_ring_variance_matches_an_lru_without_gamma():
    with enable_x64():
        m = make_as(LRU, "lru", 1, 4000, key=jax.random.key(9), r_min=0.4, r_max=0.95)
        m = S.without_gamma(m)
        lam, b, _, _ = _lru_numpy(m)
        ratio = np.asarray(S.predicted_state_variance(m, 2000))[-1] / np.mean(
            np.sum(np.abs(b) ** 2, axis=1)
        )
        # Modes drawn uniformly on the ring: the mean over 4000 draws is within ~2 %.
        assert ratio == pytest.approx(S.ring_variance(0.4, 0.95), rel=0.05)
        assert ratio > 2.5  # far above the gamma-normalised value 1


def test_circular_law():
    lam = np.asarray(S.glorot_eigenvalues(jax.random.key(10), 400))
    assert 0.9 < np.abs(lam).max() < 1.15
    frac = np.asarray(S.circular_law_fraction(jnp.asarray(lam), jnp.array([0.5, 0.8])))
    np.testing.assert_allclose(frac, [0.25, 0.64], atol=0.05)
    # Not trivially satisfied: a matrix twice as large in scale breaks it.
    frac2 = np.asarray(S.circular_law_fraction(jnp.asarray(2 * lam), jnp.array([0.5, 0.8])))
    assert frac2[1] < 0.3


def test_diagonalize_gives_the_same_layer():
    with enable_x64():
        dense = make_as(DenseLinearRNN, "linear-dense", 3, 7, key=jax.random.key(11))
        diag = S.diagonalize(dense)
        x = jax.random.normal(jax.random.key(12), (25, 3), jnp.float64)
        np.testing.assert_allclose(np.asarray(diag(x)), np.asarray(dense(x)), atol=1e-9, rtol=1e-9)
        np.testing.assert_allclose(
            np.sort_complex(np.asarray(diag.eigenvalues())),
            np.sort_complex(np.linalg.eigvals(_np(dense.A))),
            atol=1e-12,
        )


def test_gradient_reach_of_linear_layer_is_kernel_norm():
    with enable_x64():
        m = make_as(LRU, "lru", 2, 8, key=jax.random.key(13), r_min=0.6, r_max=0.9)
        lam, b, c, d = _lru_numpy(m)
        g = np.asarray(S.gradient_reach(m, 20, key=jax.random.key(14), num_samples=2))
        want = []
        for k in range(20):
            kk = (c @ (lam[:, None] ** k * b)).real
            if k == 0:
                kk = kk + np.diag(d)
            want.append(np.linalg.norm(kk))
        np.testing.assert_allclose(g, want, rtol=1e-10)


def test_gradient_reach_of_tanh_rnn_matches_finite_differences():
    with enable_x64():
        m = make_mixer("rnn-tanh", 2, 6, key=jax.random.key(15))
        length = 12
        key = jax.random.key(16)
        g = np.asarray(S.gradient_reach(m, length, key=key, num_samples=1))
        x = np.asarray(jax.random.normal(key, (1, length, 2), jnp.float64))[0]
        eps = 1e-6
        for k in (0, 3, 9):
            t = length - 1 - k
            jac = np.zeros((2, 2))
            for j in range(2):
                xp, xm = x.copy(), x.copy()
                xp[t, j] += eps
                xm[t, j] -= eps
                jac[:, j] = (
                    np.asarray(m(jnp.asarray(xp)))[-1] - np.asarray(m(jnp.asarray(xm)))[-1]
                ) / (2 * eps)
            assert g[k] == pytest.approx(np.linalg.norm(jac), rel=1e-6)


def test_hidden_states_of_lru_follow_the_recurrence():
    with enable_x64():
        m = make_as(LRU, "lru", 2, 4, key=jax.random.key(17))
        lam, b, _, _ = _lru_numpy(m)
        x = np.asarray(jax.random.normal(jax.random.key(18), (10, 2), jnp.float64))
        h = np.zeros(4, complex)
        want = []
        for t in range(10):
            h = lam * h + b @ x[t]
            want.append(h)
        np.testing.assert_allclose(np.asarray(S.hidden_states(m, jnp.asarray(x))), want, atol=1e-12)


@pytest.mark.parametrize("name", RECURRENT_NAMES)
def test_state_variance_reads_every_mixers_state(name):
    """Every mixer's state_vector gives one array per step (S4: x, LSTM: c, RG-LRU: h)."""
    m = make_as(AbstractRecurrentMixer, name, 2, 4, key=jax.random.key(19))
    v = np.asarray(S.state_variance(m, 5, key=jax.random.key(20), num_samples=2))
    assert v.shape == (5,) and np.all(np.isfinite(v)) and np.all(v > 0)


def _refused(pattern: str):
    """A mixer without the capability: a ValueError naming it, or first (the tests' runtime
    type checker) a TypeCheckError, as a static checker refuses the call."""
    return pytest.raises((ValueError, TypeCheckError), match=f"(?s){pattern}")


def test_bad_input_raises_value_error():
    key = jax.random.key(0)
    gru = make_as(GRU, "gru", 2, 4, key=key)
    lru = make_as(LRU, "lru", 2, 4, key=key)
    with _refused("GRU.*AbstractLinearMixer"):
        S.eigenvalues(gru)  # type: ignore[arg-type]
    with _refused("GRU"):
        S.kernel(gru, 5)  # type: ignore[arg-type]
    with _refused("SharedBidirectional.*AbstractLinearMixer"):
        S.kernel(make_mixer("s5", 2, 4, key=key, bidirectional=True), 5)  # type: ignore[arg-type]
    with _refused("Bidirectional"):
        S.linear_system(make_mixer("lru", 2, 4, key=key, bidirectional=True))  # type: ignore
    with pytest.raises(ValueError, match="length"):
        S.kernel(lru, 0)
    with _refused("DenseLinearRNN"):
        S.diagonalize(lru)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="r_min"):
        S.ring_variance(0.5, 0.2)
    with pytest.raises(ValueError, match="gamma"):
        S.without_gamma(make_as(DiagonalRNN, "diag-ring", 2, 4, key=key))
    with pytest.raises(ValueError, match="d_model=2"):
        S.hidden_states(lru, jnp.zeros((5, 3)))
    # A nonlinear layer still has a measured impulse response (its bias response removed).
    r = S.impulse_response(gru, 6)
    assert r.shape == (6, 2, 2) and bool(jnp.all(jnp.isfinite(r)))


USER_SCRIPT = '''
import jax
import lrux
from lrux import signal

key = jax.random.key(0)
lru = lrux.LRU(2, 4, key=key)
gru = lrux.GRU(2, 4, key=key)
signal.kernel(lru, 5)
signal.state_variance(gru, 5, key=key)
signal.kernel(gru, 5)  # wrong: 1
signal.predicted_state_variance(gru, 5)  # wrong: 2
signal.hidden_states(lrux.make_mixer("lru", 2, 4, key=key), jax.numpy.zeros((3, 2)))  # 3
'''


@pytest.mark.slow
def test_a_type_checker_refuses_a_mixer_without_the_capability(tmp_path):
    """pyright (standard mode) accepts `signal.kernel(lru, 5)` and refuses
    `signal.kernel(gru, 5)`: lrux.signal's arguments are typed by capability (issue 24); a
    `make_mixer` result is an `AbstractMixer` until narrowed."""
    import json
    import shutil
    import subprocess
    import sys

    if shutil.which("pyright") is None:
        pytest.skip("pyright is not installed (the dev extra)")
    root = Path(__file__).resolve().parent.parent
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(
        {"typeCheckingMode": "standard", "extraPaths": [str(root)], "pythonVersion": "3.11"}))
    (tmp_path / "user.py").write_text(USER_SCRIPT)
    out = subprocess.run(["pyright", "--pythonpath", sys.executable, "user.py"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300).stdout
    errors = [line for line in out.splitlines() if " - error: " in line]
    assert [int(line.split(":")[1]) for line in errors] == [11, 12, 13], out
    assert '"GRU" is not assignable to "AbstractLinearMixer"' in out, out
    assert '"AbstractMixer" is not assignable to "AbstractRecurrentMixer"' in out, out
