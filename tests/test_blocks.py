"""Residual block and norms against float64 numpy oracles written here."""

from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jaxtyping import TypeCheckError

from lrux.blocks import BatchNorm, BlockConfig, LayerNorm, ResidualBlock, dropout


class MatMixer(eqx.Module):
    """A fixed per-position linear map: a mixer whose output the oracle can compute."""

    W: jax.Array
    recurrent_params: ClassVar[tuple[str, ...]] = ("W",)

    def __call__(self, x, *, key=None):
        return x @ self.W.T


def np_gelu(x):  # tanh approximation, as jax.nn.gelu(approximate=True)
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def run_bn(bn, state, x, inference=False):
    return jax.vmap(
        lambda xi: bn(xi, state, inference=inference), axis_name="batch", out_axes=(0, None)
    )(x)


def test_batchnorm_batch_statistics_and_running_update():
    rng = np.random.default_rng(0)
    x = rng.normal(2.0, 3.0, (4, 7, 5)).astype(np.float32)
    bn, state = eqx.nn.make_with_state(BatchNorm)(5, momentum=0.8)
    y, new_state = run_bn(bn, state, jnp.asarray(x))
    x64 = x.astype(np.float64)
    mean = x64.mean(axis=(0, 1))
    var = x64.var(axis=(0, 1))
    np.testing.assert_allclose(np.asarray(y), (x64 - mean) / np.sqrt(var + 1e-5), atol=2e-5)
    run_mean, run_var = new_state.get(bn.state_index)
    np.testing.assert_allclose(np.asarray(run_mean), 0.2 * mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(run_var), 0.8 + 0.2 * var, rtol=1e-5)
    # inference uses the running statistics, per example
    y_inf, same = run_bn(bn, new_state, jnp.asarray(x), inference=True)
    expect = (x64 - 0.2 * mean) / np.sqrt(0.8 + 0.2 * var + 1e-5)
    np.testing.assert_allclose(np.asarray(y_inf), expect, atol=2e-5)
    np.testing.assert_array_equal(np.asarray(same.get(bn.state_index)[0]), np.asarray(run_mean))


def test_layernorm_matches_numpy():
    x = np.random.default_rng(1).normal(size=(6, 8)).astype(np.float32)
    ln = LayerNorm(8)
    y, _ = ln(jnp.asarray(x), eqx.nn.State(ln))
    x64 = x.astype(np.float64)
    expect = (x64 - x64.mean(-1, keepdims=True)) / np.sqrt(x64.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(np.asarray(y), expect, atol=2e-5)


def test_bad_sizes_raise():
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(4, momentum=1.0)
    # a value outside the Literal: TypeCheckError under the test run's jaxtyping hook
    with pytest.raises((ValueError, TypeCheckError), match="glu"):
        ResidualBlock(MatMixer(jnp.eye(3)), 3, BlockConfig(glu="quarter"),  # type: ignore
                      key=jax.random.PRNGKey(0))


def _block_oracle(block, x, prenorm, glu):
    """x (batch, seq, d) float64 through norm (batch stats) -> W -> gelu -> GLU -> + x."""
    def bn(v):
        m = v.mean(axis=(0, 1))
        return (v - m) / np.sqrt(v.var(axis=(0, 1)) + 1e-5)

    W = np.asarray(block.mixer.W, np.float64)
    w1, b1 = np.asarray(block.out1.weight, np.float64), np.asarray(block.out1.bias, np.float64)
    h = bn(x) if prenorm else x
    z = np_gelu(h @ W.T)
    if glu == "full":
        w2 = np.asarray(block.out2.weight, np.float64)
        b2 = np.asarray(block.out2.bias, np.float64)
        z = (z @ w1.T + b1) * np_sigmoid(z @ w2.T + b2)
    else:
        z = z * np_sigmoid(z @ w1.T + b1)
    out = x + z
    return out if prenorm else bn(out)


@pytest.mark.parametrize("prenorm,glu", [(True, "full"), (True, "half"), (False, "full")])
def test_residual_block_matches_oracle(prenorm, glu):
    d = 6
    k1, k2 = jax.random.split(jax.random.PRNGKey(3))
    mixer = MatMixer(jax.random.normal(k1, (d, d)) / np.sqrt(d))
    block, state = eqx.nn.make_with_state(ResidualBlock)(
        mixer, d, BlockConfig(prenorm=prenorm, glu=glu), key=k2
    )
    x = np.random.default_rng(2).normal(size=(3, 9, d)).astype(np.float32)
    y, _ = jax.vmap(
        lambda xi: block(xi, state), axis_name="batch", out_axes=(0, None)
    )(jnp.asarray(x))
    expect = _block_oracle(block, x.astype(np.float64), prenorm, glu)
    np.testing.assert_allclose(np.asarray(y), expect, atol=1e-4)
    assert (block.out2 is None) == (glu == "half")


def test_dropout_statistics_and_inference_identity():
    x = jnp.ones((200, 50))
    key = jax.random.PRNGKey(0)
    np.testing.assert_array_equal(np.asarray(dropout(x, 0.3, key, True)), np.asarray(x))
    y = np.asarray(dropout(x, 0.3, key, False))
    zero_frac = np.mean(y == 0)
    assert abs(zero_frac - 0.3) < 0.02  # 10k Bernoulli draws: std 0.0046
    np.testing.assert_allclose(y[y != 0], 1 / 0.7, rtol=1e-6)
    with pytest.raises(ValueError, match="key"):
        dropout(x, 0.3, None, False)


def test_block_dropout_changes_training_output_only():
    d = 4
    mixer = MatMixer(jnp.eye(d))
    block, state = eqx.nn.make_with_state(ResidualBlock)(
        mixer, d, BlockConfig(dropout=0.5, norm="layer"), key=jax.random.PRNGKey(0)
    )
    x = jax.random.normal(jax.random.PRNGKey(1), (10, d))
    a, _ = block(x, state, inference=True)
    b, _ = block(x, state, key=jax.random.PRNGKey(2), inference=False)
    c, _ = block(x, state, key=jax.random.PRNGKey(2), inference=False)
    assert not np.allclose(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(b), np.asarray(c))


def test_tied_dropout_mask_is_constant_over_time_with_the_right_rate():
    x = jnp.ones((64, 400))
    y = np.asarray(dropout(x, 0.25, jax.random.PRNGKey(3), False, tied=True))
    kept = y != 0
    assert (kept == kept[:1]).all()  # one mask per feature, shared by every position
    assert abs(1 - kept[0].mean() - 0.25) < 0.06  # 400 Bernoulli draws: std 0.022
    np.testing.assert_allclose(y[kept], 1 / 0.75, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(dropout(x, 0.25, None, True, tied=True)), x)


def test_block_dropout_is_tied_by_default_and_per_example_under_vmap():
    """Each example gets its own (1, d) mask; inside one example every position shares it."""
    d, L = 16, 12
    mixer = MatMixer(jnp.eye(d))
    block, state = eqx.nn.make_with_state(ResidualBlock)(
        mixer, d, BlockConfig(dropout=0.5, norm="none", glu="half"), key=jax.random.PRNGKey(0))
    assert block.config.dropout_tied
    # an identity-like probe: the first dropout site acts on gelu(x); read its mask through z
    x = jnp.ones((3, L, d))
    keys = jax.random.split(jax.random.PRNGKey(5), 3)
    out = jax.vmap(lambda xi, k: block(xi, state, key=k)[0])(x, keys)
    delta = np.asarray(out) - 1.0  # the skip adds x = 1
    dropped = np.isclose(delta, 0.0)
    assert (dropped == dropped[:, :1]).all()  # constant over time within each example
    assert not (dropped[0] == dropped[1]).all()  # but differs between examples
    untied, _ = eqx.nn.make_with_state(ResidualBlock)(
        mixer, d, BlockConfig(dropout=0.5, dropout_tied=False, norm="none", glu="half"),
        key=jax.random.PRNGKey(0))
    out_u = np.asarray(untied(x[0], state, key=keys[0])[0]) - 1.0
    assert not (np.isclose(out_u, 0) == np.isclose(out_u, 0)[:1]).all()


def test_half2_glu_gates_the_raw_mixer_output():
    """S5's half_glu2: y * sigmoid(W gelu(y) + b), y the mixer output (dropout off)."""
    d = 6
    A = jax.random.normal(jax.random.PRNGKey(1), (d, d))
    block, state = eqx.nn.make_with_state(ResidualBlock)(
        MatMixer(A), d, BlockConfig(glu="half2", norm="none"), key=jax.random.PRNGKey(2))
    x = np.random.default_rng(0).normal(size=(5, d))
    y = x @ np.asarray(A, np.float64).T
    g = 0.5 * y * (1 + np.tanh(np.sqrt(2 / np.pi) * (y + 0.044715 * y**3)))
    W, b = np.asarray(block.out1.weight, np.float64), np.asarray(block.out1.bias, np.float64)
    expect = x + y / (1 + np.exp(-(g @ W.T + b)))
    got, _ = block(jnp.asarray(x, jnp.float32), state, inference=True)
    np.testing.assert_allclose(np.asarray(got), expect, atol=1e-5)
