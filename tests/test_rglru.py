"""RG-LRU (Griffin): closed forms, the whole recurrent block against a float64 numpy loop."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest

from lrux.layers.rglru import RGLRU, sqrt_bound_derivative
from lrux.registry import make_mixer


def _np(a):
    return np.asarray(a, dtype=np.float64)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def block_np(layer, u):
    """Griffin's recurrent block step by step in float64, from the layer's parameters."""
    u = _np(u)
    lin = lambda m, v: _np(m.weight) @ v + _np(m.bias)
    heads, bw, _ = layer.gate_a_w.shape

    def gate(w, b, v):
        return np.concatenate(
            [v[i * bw : (i + 1) * bw] @ _np(w[i]) + _np(b[i]) for i in range(heads)]
        )

    width = layer.conv_width
    conv_w, conv_b = _np(layer.conv_w), _np(layer.conv_b)
    base = sigmoid(_np(layer.Lambda))
    history = [np.zeros(layer.d_state)] * (width - 1)
    h = np.zeros(layer.d_state)
    out = []
    for t in range(u.shape[0]):
        y = gelu_tanh(lin(layer.linear_y, u[t]))
        history.append(lin(layer.linear_x, u[t]))
        v = conv_b + sum(conv_w[j] * history[-1 - j] for j in range(width))
        r = sigmoid(gate(layer.gate_a_w, layer.gate_a_b, v))
        i = sigmoid(gate(layer.gate_x_w, layer.gate_x_b, v))
        a = base ** (layer.c * r)
        h = a * h + np.sqrt(1 - a**2) * (i * v)
        out.append(lin(layer.linear_out, h * y))
    return np.stack(out)


@pytest.mark.parametrize("options", [{}, {"num_heads": 2, "conv_width": 2, "c": 4.0}])
def test_call_and_step_match_float64_loop(options):
    layer = RGLRU(3, 8, key=jax.random.key(0), **options)
    u = jax.random.normal(jax.random.key(1), (33, 3))
    ref = block_np(layer, u)
    tol = 1e-5 * np.abs(ref).max()
    np.testing.assert_allclose(_np(layer(u)), ref, atol=tol)
    state = layer.init_state()
    step = eqx.filter_jit(layer.step)
    ys = []
    for t in range(u.shape[0]):
        state, y = step(state, u[t])
        ys.append(y)
    np.testing.assert_allclose(_np(jnp.stack(ys)), ref, atol=tol)


def test_constant_gates_closed_form():
    """Zero gate weights: r, i constant, h_t = sum_{s<=t} a^(t-s) sqrt(1-a^2) i x_s."""
    layer = RGLRU(2, 4, key=jax.random.key(0))
    zero = jnp.zeros_like(layer.gate_a_w)
    b_a = jnp.full_like(layer.gate_a_b, 0.3)
    b_x = jnp.full_like(layer.gate_x_b, -0.7)
    layer = eqx.tree_at(
        lambda m: (m.gate_a_w, m.gate_x_w, m.gate_a_b, m.gate_x_b), layer, (zero, zero, b_a, b_x)
    )
    v = jax.random.normal(jax.random.key(1), (25, 4))
    h = _np(layer.recurrence(v))
    a = sigmoid(_np(layer.Lambda)) ** (8.0 * sigmoid(0.3))
    i = sigmoid(-0.7)
    vn = _np(v)
    ref = np.stack(
        [sum(a ** (t - s) * np.sqrt(1 - a**2) * i * vn[s] for s in range(t + 1)) for t in range(25)]
    )
    np.testing.assert_allclose(h, ref, atol=1e-5 * np.abs(ref).max())


def test_sqrt_bound_derivative():
    grad = jax.grad(sqrt_bound_derivative)
    assert float(sqrt_bound_derivative(jnp.float32(0.25))) == pytest.approx(0.5)
    assert float(grad(jnp.float32(0.25))) == pytest.approx(1.0, rel=1e-6)  # 0.5 / sqrt(x)
    assert float(grad(jnp.float32(0.0))) == pytest.approx(1000.0, rel=1e-5)  # capped
    assert float(grad(jnp.float32(1e-9))) == pytest.approx(1000.0, rel=1e-5)
    assert float(jax.grad(jnp.sqrt)(jnp.float32(1e-9))) > 1e4  # what the cap prevents


def test_lambda_init_and_recurrent_params():
    layer = RGLRU(3, 512, key=jax.random.key(0))
    rho = sigmoid(_np(layer.Lambda))
    assert rho.min() >= 0.9 - 1e-6 and rho.max() <= 0.999 + 1e-6
    # rho^2 uniform on [0.81, 0.998001]: its mean is the midpoint
    assert abs(np.mean(rho**2) - (0.81 + 0.998001) / 2) < 0.02
    assert RGLRU.recurrent_params == ("Lambda",)
    state = layer.init_state()
    assert state[0].shape == (3, 512) and state[1].shape == (512,)


@pytest.mark.parametrize("mode", ["sequential", "parallel", "chunked"])
def test_scan_modes_agree(mode):
    layer = RGLRU(2, 4, key=jax.random.key(0), scan_mode=mode)
    u = jax.random.normal(jax.random.key(1), (70, 2))
    ref = block_np(layer, u)
    np.testing.assert_allclose(_np(layer(u)), ref, atol=1e-5 * np.abs(ref).max())


def test_gradients_finite():
    layer = RGLRU(3, 8, key=jax.random.key(0), r_min=0.999, r_max=0.9999)  # a close to 1
    u = jax.random.normal(jax.random.key(1), (20, 3))
    grads = eqx.filter_jit(eqx.filter_grad(lambda m: jnp.sum(m(u) ** 2)))(layer)
    leaves = jax.tree_util.tree_leaves(grads)
    assert leaves and all(bool(jnp.all(jnp.isfinite(g))) for g in leaves)
    for name in ["Lambda", "conv_w", "gate_a_w", "gate_x_w"]:
        assert np.any(np.asarray(getattr(grads, name)) != 0), name


def test_jit_and_vmap():
    layer = RGLRU(3, 8, key=jax.random.key(0))
    xb = jax.random.normal(jax.random.key(1), (4, 9, 3))
    batched = eqx.filter_jit(lambda m, x: jax.vmap(m)(x))(layer, xb)
    for i in range(4):
        np.testing.assert_allclose(_np(batched[i]), _np(layer(xb[i])), atol=1e-5)


def test_bad_inputs():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="num_heads"):
        RGLRU(3, 8, num_heads=3, key=key)
    with pytest.raises(ValueError, match="conv_width"):
        RGLRU(3, 8, conv_width=0, key=key)
    with pytest.raises(ValueError, match="r_min"):
        RGLRU(3, 8, r_min=0.99, r_max=0.9, key=key)
    with pytest.raises(ValueError, match="scan_mode"):
        RGLRU(3, 8, scan_mode="fast", key=key)
    layer = RGLRU(3, 8, key=key)
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="d_model"):
        layer(jnp.zeros((5, 2)))


def test_registry_builds_rglru():
    layer = make_mixer("rglru", 3, 8, key=jax.random.key(0), num_heads=2)
    assert isinstance(layer, RGLRU) and layer.num_heads == 2
    assert layer(jnp.ones((5, 3))).shape == (5, 3)
