"""RG-LRU (Griffin): closed forms, the whole recurrent block against a float64 numpy loop."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import jaxtyping
import numpy as np
import pytest
import scipy.stats

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
        multiplier = np.sqrt(1 - a**2)
        if layer.reset_first and t == 0:  # recurrentgemma's reset at segment_pos == 0
            a, multiplier = np.zeros_like(a), np.ones_like(a)
        h = a * h + multiplier * (i * v)
        out.append(lin(layer.linear_out, h * y))
    return np.stack(out)


def with_random_biases(layer, seed=0):
    """The layer with every bias (zero at init) drawn from N(0, 0.25), so the loop sees them."""
    get = lambda m: (
        m.linear_x.bias, m.linear_y.bias, m.linear_out.bias, m.conv_b, m.gate_a_b, m.gate_x_b
    )
    keys = jax.random.split(jax.random.key(100 + seed), 6)
    new = tuple(0.5 * jax.random.normal(k, b.shape) for k, b in zip(keys, get(layer), strict=True))
    return eqx.tree_at(get, layer, new)


OPTIONS = [{}, {"num_heads": 2, "conv_width": 2, "c": 4.0}, {"reset_first": True}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(o) or "default")
def test_call_and_step_match_float64_loop(options):
    layer = with_random_biases(RGLRU(3, 8, key=jax.random.key(0), **options))
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


def test_reset_first_takes_the_first_input_at_full_scale():
    """With the reset, h_0 = i_0 v_0 (no sqrt(1 - a_0^2)); later steps are the same update."""
    plain = RGLRU(2, 4, key=jax.random.key(3))
    reset = RGLRU(2, 4, reset_first=True, key=jax.random.key(3))
    v = jax.random.normal(jax.random.key(4), (6, 4))
    a, multiplier, i = (_np(t) for t in plain._gate_parts(v))
    h_plain, h_reset = _np(plain.recurrence(v)), _np(reset.recurrence(v))
    np.testing.assert_allclose(h_plain[0], multiplier[0] * i[0] * _np(v[0]), rtol=1e-5)
    np.testing.assert_allclose(h_reset[0], i[0] * _np(v[0]), rtol=1e-5)
    np.testing.assert_allclose(
        h_reset[1], a[1] * h_reset[0] + multiplier[1] * i[1] * _np(v[1]), rtol=1e-5
    )
    assert np.all(multiplier[0] < 1.0)  # so the two differ
    assert len(reset.init_state()) == 3 and len(plain.init_state()) == 2
    np.testing.assert_array_equal(_np(reset(jnp.zeros((0, 2)))), np.zeros((0, 2)))


def test_init_follows_recurrentgemma():
    """Normal weights of variance scale / fan-in, zero biases (recurrentgemma's layers.py and
    modules.py): Dense scale 1, conv taps scale 0.01 with fan-in = width, gate blocks
    (heads, bw, bw) with flax's fan-in = bw * heads (the block axis is a receptive field)."""
    d_model, d_state, heads, width = 64, 1024, 4, 4
    layer = RGLRU(d_model, d_state, num_heads=heads, conv_width=width, key=jax.random.key(5))
    bw = d_state // heads

    def fan_in(shape):  # flax variance_scaling: in_axis=-2, out_axis=-1, the rest receptive
        return shape[-2] * int(np.prod(shape)) // (shape[-2] * shape[-1])

    weights = {
        "linear_x": (_np(layer.linear_x.weight).T, 1.0),  # flax kernels are (in, out)
        "linear_y": (_np(layer.linear_y.weight).T, 1.0),
        "linear_out": (_np(layer.linear_out.weight).T, 1.0),
        "conv_w": (_np(layer.conv_w), 0.01),
        "gate_a_w": (_np(layer.gate_a_w), 1.0),
        "gate_x_w": (_np(layer.gate_x_w), 1.0),
    }
    assert fan_in(weights["gate_a_w"][0].shape) == heads * bw == d_state
    assert fan_in(weights["conv_w"][0].shape) == width
    for name, (w, scale) in weights.items():
        want = math.sqrt(scale / fan_in(w.shape))
        assert np.std(w) == pytest.approx(want, rel=0.05), name
        assert abs(scipy.stats.kurtosis(w.reshape(-1))) < 0.5, f"{name}: not normal"  # U: -1.2
    biases = [layer.linear_x.bias, layer.linear_y.bias, layer.linear_out.bias, layer.conv_b]
    for b in biases + [layer.gate_a_b, layer.gate_x_b]:
        np.testing.assert_array_equal(_np(b), 0.0)


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


def test_bad_inputs():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="num_heads"):
        RGLRU(3, 8, num_heads=3, key=key)
    with pytest.raises(ValueError, match="conv_width"):
        RGLRU(3, 8, conv_width=0, key=key)
    with pytest.raises(ValueError, match="r_min"):
        RGLRU(3, 8, r_min=0.99, r_max=0.9, key=key)
    # a value outside the Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="scan_mode"):
        RGLRU(3, 8, scan_mode="fast", key=key)
    layer = RGLRU(3, 8, key=key)
    with pytest.raises((ValueError, jaxtyping.TypeCheckError), match="d_model"):
        layer(jnp.zeros((5, 2)))


def test_registry_builds_rglru():
    layer = make_mixer("rglru", 3, 8, key=jax.random.key(0), num_heads=2)
    assert isinstance(layer, RGLRU) and layer.num_heads == 2
    assert layer(jnp.ones((5, 3))).shape == (5, 3)
