"""Tests of the dense rungs and gated baselines (lrux.layers.rnn) against float64 loops.

Every oracle here is a numpy float64 loop of the layer's equations written in this file;
the dense <-> diagonal test (paper section 6) uses numpy's eigendecomposition.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
from conftest import enable_x64

from lrux.layers.rnn import GRU, LSTM, DenseLinearRNN, ElmanRNN

H, N, L = 4, 8, 24


def _x(seed: int = 0, length: int = L, d_model: int = H) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((length, d_model)).astype(np.float32)


def _np(a) -> np.ndarray:
    return np.asarray(a, dtype=np.float64)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _assert_close(y, ref, rtol=1e-4):
    """float32 result vs float64 oracle: relative to the oracle's scale."""
    y = np.asarray(y, np.float64)
    np.testing.assert_allclose(y, ref, rtol=rtol, atol=rtol * max(1.0, np.abs(ref).max()))


# ----------------------------------------------------------------------------- oracles


def elman_loop(m, x, sigma):
    A, B, C, D = map(_np, (m.A, m.B, m.C, m.D))
    h = np.zeros(A.shape[0])
    ys = []
    for u in _np(x):
        h = sigma(A @ h + B @ u)
        ys.append(C @ h + D * u)
    return np.stack(ys)


def gru_loop(m, x):
    W_ih, W_hh, b, b_n, C, D = map(_np, (m.weight_ih, m.weight_hh, m.bias, m.bias_n, m.C, m.D))
    n = W_hh.shape[1]
    W_ir, W_iz, W_in = W_ih[:n], W_ih[n : 2 * n], W_ih[2 * n :]
    W_hr, W_hz, W_hn = W_hh[:n], W_hh[n : 2 * n], W_hh[2 * n :]
    b_r, b_z, b_in = b[:n], b[n : 2 * n], b[2 * n :]
    h = np.zeros(n)
    ys = []
    for u in _np(x):
        r = _sigmoid(W_ir @ u + b_r + W_hr @ h)
        z = _sigmoid(W_iz @ u + b_z + W_hz @ h)
        cand = np.tanh(W_in @ u + b_in + r * (W_hn @ h + b_n))
        h = (1 - z) * cand + z * h
        ys.append(C @ h + D * u)
    return np.stack(ys)


def lstm_loop(m, x):
    W_ih, W_hh, b, C, D = map(_np, (m.weight_ih, m.weight_hh, m.bias, m.C, m.D))
    n = W_hh.shape[1]
    h = np.zeros(n)
    c = np.zeros(n)
    ys = []
    for u in _np(x):
        z = W_ih @ u + W_hh @ h + b
        i, f, g, o = (z[k * n : (k + 1) * n] for k in range(4))
        c = _sigmoid(f) * c + _sigmoid(i) * np.tanh(g)
        h = _sigmoid(o) * np.tanh(c)
        ys.append(C @ h + D * u)
    return np.stack(ys)


def _relu(z):
    return np.maximum(z, 0.0)


LAYERS = {
    "rnn-tanh": (
        lambda k: ElmanRNN(H, N, nonlinearity="tanh", key=k),
        lambda m, x: elman_loop(m, x, np.tanh),
    ),
    "rnn-relu": (
        lambda k: ElmanRNN(H, N, nonlinearity="relu", key=k),
        lambda m, x: elman_loop(m, x, _relu),
    ),
    "linear-dense": (
        lambda k: DenseLinearRNN(H, N, key=k),
        lambda m, x: elman_loop(m, x, lambda z: z),
    ),
    "gru": (lambda k: GRU(H, N, key=k), gru_loop),
    "lstm": (lambda k: LSTM(H, N, key=k), lstm_loop),
}


# ----------------------------------------------------------------------------- tests


@pytest.mark.parametrize("name", list(LAYERS))
def test_matches_float64_loop(name):
    make, oracle = LAYERS[name]
    m = make(jax.random.key(1))
    x = _x(2)
    y = m(jnp.asarray(x))
    assert y.shape == (L, H) and y.dtype == jnp.float32
    _assert_close(y, oracle(m, x))


@pytest.mark.parametrize("name", list(LAYERS))
def test_step_equals_call(name):
    make, _ = LAYERS[name]
    m = make(jax.random.key(3))
    x = jnp.asarray(_x(4))
    state = m.init_state()
    ys = []
    for t in range(L):
        state, y_t = m.step(state, x[t])
        ys.append(y_t)
    # float32 with a different summation order: 1e-4 of the output scale (GPU differs ~1e-5)
    _assert_close(np.stack(ys), _np(m(x)))


@pytest.mark.parametrize("name", list(LAYERS))
def test_gradients_finite_and_reach_every_parameter(name):
    make, _ = LAYERS[name]
    m = make(jax.random.key(5))
    x = jnp.asarray(_x(6))
    grads = eqx.filter_grad(lambda mod: jnp.mean(mod(x) ** 2))(m)
    leaves = jax.tree_util.tree_leaves_with_path(eqx.filter(grads, eqx.is_array))
    assert leaves
    for path, g in leaves:
        assert bool(jnp.all(jnp.isfinite(g))), path
        assert float(jnp.abs(g).max()) > 0.0, f"zero gradient at {path}"


def test_recurrent_params_name_fields():
    for make, _ in LAYERS.values():
        m = make(jax.random.key(0))
        for field in type(m).recurrent_params:
            assert isinstance(getattr(m, field), jax.Array), (type(m).__name__, field)
    assert ElmanRNN.recurrent_params == ("A", "B")
    assert GRU.recurrent_params == ("weight_hh", "weight_ih")


def test_gru_lstm_agree_with_equinox_cells():
    """Cross-check the flattened gated layers with eqx.nn.GRUCell / LSTMCell (same init)."""
    x = jnp.asarray(_x(7))
    key = jax.random.key(8)
    cell_key = jax.random.split(key)[0]

    gru = GRU(H, N, key=key)
    cell = eqx.nn.GRUCell(H, N, key=cell_key)
    np.testing.assert_array_equal(cell.weight_hh, gru.weight_hh)  # same init draws
    h, hs = jnp.zeros(N), []
    for t in range(L):
        h = cell(x[t], h)
        hs.append(h)
    ref = jnp.stack(hs) @ gru.C.T + x * gru.D
    np.testing.assert_allclose(gru(x), ref, rtol=1e-5, atol=1e-5)

    lstm = LSTM(H, N, key=key)
    cell = eqx.nn.LSTMCell(H, N, key=cell_key)
    np.testing.assert_array_equal(cell.weight_hh, lstm.weight_hh)
    hc, hs = (jnp.zeros(N), jnp.zeros(N)), []
    for t in range(L):
        hc = cell(x[t], hc)
        hs.append(hc[0])
    ref = jnp.stack(hs) @ lstm.C.T + x * lstm.D
    np.testing.assert_allclose(lstm(x), ref, rtol=1e-5, atol=1e-5)


def test_glorot_init_statistics():
    """A ~ N(0, 1/N), B ~ N(0, 1/H), C ~ N(0, 1/N): sample std within 5% at these sizes."""
    m = ElmanRNN(64, 256, key=jax.random.key(9))
    assert abs(float(jnp.std(m.A)) * np.sqrt(256) - 1) < 0.05
    assert abs(float(jnp.std(m.B)) * np.sqrt(64) - 1) < 0.05
    assert abs(float(jnp.std(m.C)) * np.sqrt(256) - 1) < 0.05
    assert abs(float(jnp.mean(m.A))) < 0.01


def test_dense_linear_equals_its_diagonalised_form_numpy():
    """Paper sec. 6: A = P Lambda P^-1, B' = P^-1 B, C' = C P gives the same outputs."""
    m = DenseLinearRNN(H, N, key=jax.random.key(10))
    x = _x(11)
    A, B, C, D = map(_np, (m.A, m.B, m.C, m.D))
    lam, P = np.linalg.eig(A)
    Bp = np.linalg.solve(P, B)
    Cp = C @ P
    h = np.zeros(N, complex)
    ys = []
    for u in _np(x):
        h = lam * h + Bp @ u
        ys.append((Cp @ h).real + D * u)
    _assert_close(m(jnp.asarray(x)), np.stack(ys), rtol=2e-4)


def test_dense_linear_equals_diagonal_rnn_layer():
    """The same identity at layer level: DenseLinearRNN == DiagonalRNN(reim, no gamma)
    carrying (Lambda, P^-1 B, C P), in float64."""
    from lrux.layers.diagonal import DiagonalRNN

    with enable_x64():
        key = jax.random.key(12)
        dense = DenseLinearRNN(H, N, key=key)
        dense = jax.tree_util.tree_map(lambda a: a.astype(jnp.float64), dense)
        A, B, C = map(_np, (dense.A, dense.B, dense.C))
        lam, P = np.linalg.eig(A)
        Bp = np.linalg.solve(P, B)
        Cp = C @ P
        diag = DiagonalRNN(H, N, parameterization="reim", init="disk", gamma=False, key=key)
        f64 = lambda a: jnp.asarray(a, jnp.float64)
        diag = eqx.tree_at(
            lambda d: (d.lam_re, d.lam_im, d.B_re, d.B_im, d.C_re, d.C_im, d.D),
            diag,
            tuple(map(f64, (lam.real, lam.imag, Bp.real, Bp.imag, Cp.real, Cp.imag, dense.D))),
        )
        x = jnp.asarray(_x(13), jnp.float64)
        y_dense = dense(x)
        y_diag = diag(x)
        assert y_dense.dtype == jnp.float64
        np.testing.assert_allclose(
            y_diag, y_dense, rtol=1e-9, atol=1e-9 * float(jnp.abs(y_dense).max())
        )


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: ElmanRNN(4, 8, nonlinearity="sigmoid", key=jax.random.key(0)), "nonlinearity"),
        (lambda: ElmanRNN(0, 8, key=jax.random.key(0)), "d_model"),
        (lambda: DenseLinearRNN(4, -1, key=jax.random.key(0)), "d_state"),
        (lambda: GRU(4, 0, key=jax.random.key(0)), "d_state"),
        (lambda: LSTM(True, 8, key=jax.random.key(0)), "d_model"),
    ],
)
def test_bad_options_raise(make, match):
    # a value outside an option's Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match=match):
        make()
