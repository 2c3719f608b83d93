"""Classifier, pooling and retrieval dual encoder against oracles written here."""

from typing import Any, ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.blocks import BatchNorm, BlockConfig
from lrux.models import Classifier, RetrievalDualEncoder, SequenceEncoder, make_model
from lrux.models import batched_apply as _batched_apply

batched_apply = eqx.filter_jit(_batched_apply)  # op-by-op eager runs are slow on CPU


@eqx.filter_jit
def call(module, x, n, state, inference=True):
    return module(x, n, state, inference=inference)


class MatMixer(eqx.Module):
    W: jax.Array
    recurrent_params: ClassVar[tuple[str, ...]] = ("W",)

    def __call__(self, x, *, key=None):
        return x @ self.W.T


def mat_factory(d):
    return lambda k: MatMixer(jax.random.normal(k, (d, d)) / np.sqrt(d))


def np_gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x**3)))


def test_pooling_mean_and_last_match_numpy_over_valid_positions():
    d, L = 8, 12
    kw: dict[str, Any] = dict(depth=2, d_model=d, vocab_size=11,
                              block=BlockConfig(norm="layer"), key=jax.random.PRNGKey(0))
    enc_none, state = eqx.nn.make_with_state(SequenceEncoder)(mat_factory(d), pooling="none",
                                                              **kw)
    enc_mean = eqx.nn.make_with_state(SequenceEncoder)(mat_factory(d), pooling="mean", **kw)[0]
    x = jnp.asarray(np.random.default_rng(0).integers(1, 11, L), jnp.int32)
    for length in (1, 5, L):
        n = jnp.asarray(length, jnp.int32)
        h, _ = call(enc_none, x, n, state)
        h = np.asarray(h, np.float64)
        pooled, _ = call(enc_mean, x, n, state)
        np.testing.assert_allclose(np.asarray(pooled), h[:length].mean(0), atol=1e-5)
    last = eqx.nn.make_with_state(SequenceEncoder)(mat_factory(d), pooling="last", **kw)[0]
    p_last, _ = call(last, x, jnp.asarray(5, jnp.int32), state)
    h, _ = call(enc_none, x, jnp.asarray(5, jnp.int32), state)
    np.testing.assert_allclose(np.asarray(p_last), np.asarray(h[4]), atol=1e-6)


def test_embedding_is_a_table_lookup():
    d = 4
    enc, state = eqx.nn.make_with_state(SequenceEncoder)(
        mat_factory(d), depth=1, d_model=d, vocab_size=7, pooling="none",
        block=BlockConfig(norm="none"),
        key=jax.random.PRNGKey(1),
    )
    zero_blocks = eqx.tree_at(lambda e: e.blocks[0].out1.weight, enc,
                              jnp.zeros_like(enc.blocks[0].out1.weight))
    zero_blocks = eqx.tree_at(lambda e: e.blocks[0].out1.bias, zero_blocks,
                              jnp.zeros_like(enc.blocks[0].out1.bias))
    x = jnp.asarray([3, 0, 6], jnp.int32)
    h, _ = zero_blocks(x, jnp.asarray(3, jnp.int32), state)  # GLU output 0: h = embedding
    np.testing.assert_allclose(np.asarray(h), np.asarray(enc.embedding)[[3, 0, 6]], atol=1e-6)


@pytest.mark.parametrize("norm", ["layer", "batch"])
def test_causal_lru_classifier_ignores_padding(norm):
    model, state = make_model(mixer="lru", depth=2, d_model=16, d_state=8, num_classes=3,
                              vocab_size=10, block=BlockConfig(norm=norm),
                              key=jax.random.PRNGKey(0))
    rng = np.random.default_rng(0)
    x = rng.integers(1, 10, (4, 20)).astype(np.int32)
    lengths = np.array([5, 20, 11, 1], np.int32)
    x2 = x.copy()
    for i, n in enumerate(lengths):
        x2[i, n:] = rng.integers(1, 10, 20 - n)  # garbage in the padding
    out = [
        batched_apply(model, state, jnp.asarray(a), jnp.asarray(lengths), key=None,
                      inference=True)[0]
        for a in (x, x2)
    ]
    np.testing.assert_allclose(np.asarray(out[0]), np.asarray(out[1]), atol=1e-5)
    # and the content of valid positions does matter
    x3 = x.copy()
    x3[:, 0] = (x3[:, 0] % 9) + 1
    o3 = batched_apply(model, state, jnp.asarray(x3), jnp.asarray(lengths), key=None,
                       inference=True)[0]
    assert not np.allclose(np.asarray(o3), np.asarray(out[0]), atol=1e-4)


def test_bidirectional_model_sees_the_future_but_not_the_padding():
    """Position 7 of a bidirectional model sees a change at position 15 when the sequence is
    16 long, and not when it is 8 long (positions >= 8 are padding); a causal one never."""
    kw: dict[str, Any] = dict(mixer="lru", depth=1, d_model=8, d_state=8, num_classes=2,
                              channels=1, pooling="none", block=BlockConfig(norm="layer"),
                              key=jax.random.PRNGKey(0))
    model, state = make_model(bidirectional=True, **kw)
    causal, cstate = make_model(**kw)
    x = np.random.default_rng(0).normal(size=(1, 16, 1)).astype(np.float32)
    y = x.copy()
    y[0, 15] += 5.0  # change only the last pixel; read position 7
    for length, m, s, sees in ((16, model, state, True), (16, causal, cstate, False),
                               (8, model, state, False)):
        n = jnp.asarray(length, jnp.int32)
        a = m(jnp.asarray(x[0]), n, s, inference=True)[0][7]  # one example, layer norm
        b = m(jnp.asarray(y[0]), n, s, inference=True)[0][7]
        assert (not np.allclose(np.asarray(a), np.asarray(b), atol=1e-6)) == sees


def test_classifier_pixel_input_shapes():
    model, state = make_model(mixer="lru", depth=1, d_model=8, d_state=4, num_classes=10,
                              channels=3, key=jax.random.PRNGKey(0))
    assert isinstance(model, Classifier)
    x = jnp.ones((2, 30, 3))
    logits, new_state = batched_apply(model, state, x, jnp.asarray([30, 30], jnp.int32),
                                      key=jax.random.PRNGKey(1), inference=False)
    assert logits.shape == (2, 10)


def test_dual_encoder_head_and_shared_batch_statistics():
    d, L, B = 8, 10, 3
    model, state = make_model(mixer="lru", depth=1, d_model=d, d_state=4, num_classes=2,
                              vocab_size=9, dual=True, block=BlockConfig(bn_momentum=0.9),
                              key=jax.random.PRNGKey(0))
    assert isinstance(model, RetrievalDualEncoder)
    rng = np.random.default_rng(1)
    x = rng.integers(1, 9, (B, 2, L)).astype(np.int32)
    lengths = np.array([[10, 4], [7, 10], [1, 2]], np.int32)
    # inference: logits = decoder(gelu(hidden([u, v, u*v, u-v]))) with u, v the encoder's
    logits, _ = batched_apply(model, state, jnp.asarray(x), jnp.asarray(lengths), key=None,
                              inference=True)
    for i in range(B):
        u = np.asarray(call(model.encoder, jnp.asarray(x[i, 0]), jnp.asarray(lengths[i, 0]),
                            state)[0], np.float64)
        v = np.asarray(call(model.encoder, jnp.asarray(x[i, 1]), jnp.asarray(lengths[i, 1]),
                            state)[0], np.float64)
        z = np.concatenate([u, v, u * v, u - v])
        hid = np_gelu(z @ np.asarray(model.hidden.weight, np.float64).T
                      + np.asarray(model.hidden.bias))
        expect = hid @ np.asarray(model.decoder.weight, np.float64).T + np.asarray(
            model.decoder.bias)
        np.testing.assert_allclose(np.asarray(logits[i]), expect, atol=1e-4)
    # training: the first batch norm's mean covers every valid position (t < length) of
    # BOTH documents, and no padding
    _, new_state = batched_apply(model, state, jnp.asarray(x), jnp.asarray(lengths),
                                 key=None, inference=False)
    bn = model.encoder.blocks[0].norm
    assert isinstance(bn, BatchNorm)
    emb = np.asarray(model.encoder.embedding, np.float64)[x]  # (B, 2, L, d)
    valid = np.concatenate([emb[i, j, :n] for (i, j), n in np.ndenumerate(lengths)])
    run_mean, _ = new_state.get(bn.state_index)
    np.testing.assert_allclose(np.asarray(run_mean), 0.1 * valid.mean(axis=0), atol=1e-5)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="exactly one"):
        make_model(mixer="lru", depth=1, d_model=4, d_state=4, num_classes=2, vocab_size=3,
                   channels=1, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="pooling"):
        make_model(mixer="lru", depth=1, d_model=4, d_state=4, num_classes=2, vocab_size=3,
                   pooling="max", key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="depth"):
        make_model(mixer="lru", depth=0, d_model=4, d_state=4, num_classes=2, vocab_size=3,
                   key=jax.random.PRNGKey(0))


def test_remat_gives_the_same_loss_and_gradients():
    x = jnp.asarray(np.random.default_rng(0).integers(1, 5, (2, 6)), jnp.int32)
    n = jnp.asarray([6, 3], jnp.int32)
    out = []
    for remat in (False, True):
        model, state = make_model(mixer="lru", depth=2, d_model=8, d_state=4, num_classes=3,
                                  vocab_size=5, block=BlockConfig(dropout=0.1), remat=remat,
                                  key=jax.random.PRNGKey(0))

        @eqx.filter_jit
        @eqx.filter_value_and_grad
        def loss(m, s):
            logits = _batched_apply(m, s, x, n, key=jax.random.PRNGKey(1), inference=False)[0]
            return jnp.sum(logits**2)

        value, grads = loss(model, state)
        out.append((float(value), [np.asarray(g) for g in jax.tree_util.tree_leaves(grads)]))
    assert out[0][0] == pytest.approx(out[1][0], rel=1e-6)
    for a, b in zip(out[0][1], out[1][1], strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ streaming inference


def _smoke_model(task: str, **fields):
    """The smoke preset's model of `task` (LRU) with perturbed running statistics."""
    from lrux.presets import apply_overrides, get_preset
    from lrux.train.benchmark import preset_spec
    from lrux.train.state import build_model

    preset = apply_overrides(get_preset(task, "lru", "smoke"),
                             {"depth": 2, "d_model": 8, "d_state": 8, **fields})
    spec = preset_spec(preset)
    model, bn_state = build_model(preset, spec, key=jax.random.PRNGKey(3))
    rng = np.random.default_rng(4)
    assert isinstance(model, Classifier)  # not a retrieval task
    for block in model.encoder.blocks:  # running statistics away from their init (0, 1)
        assert isinstance(block.norm, BatchNorm)
        mean, var = bn_state.get(block.norm.state_index)
        bn_state = bn_state.set(block.norm.state_index,
                                (jnp.asarray(rng.normal(size=mean.shape), jnp.float32),
                                 jnp.asarray(rng.uniform(0.5, 2.0, var.shape), jnp.float32)))
    return model, bn_state, spec


@pytest.mark.parametrize("task, pooling", [("listops", "mean"), ("image", "last"),
                                           ("image", "mean")])
def test_streaming_a_classifier_equals_the_full_call_on_each_prefix(task, pooling):
    """init_state / step over a sequence give, at every position t, the logits of the full
    call in inference mode on the first t + 1 positions (BatchNorm on its running
    statistics; mean pooling as a running mean, last pooling as the latest output)."""
    model, bn_state, spec = _smoke_model(task, pooling=pooling)
    n = 12
    rng = np.random.default_rng(5)
    if spec.kind == "tokens":
        x = jnp.asarray(rng.integers(1, spec.vocab_size, n), jnp.int32)
    else:
        assert spec.channels is not None
        x = jnp.asarray(rng.normal(size=(n, spec.channels)), jnp.float32)
    full = jax.vmap(lambda t: call(model, x, t + 1, bn_state)[0])(jnp.arange(n))  # (n, classes)
    step = eqx.filter_jit(lambda m, s, x_t: m.step(s, x_t))
    stream, logits = model.init_state(bn_state), []
    for t in range(n):
        stream, out = step(model, stream, x[t])
        logits.append(out)
    np.testing.assert_allclose(np.asarray(jnp.stack(logits)), np.asarray(full), rtol=1e-4,
                               atol=1e-4)
    assert not np.allclose(np.asarray(full[0]), np.asarray(full[-1]))  # the prefixes differ


def test_a_model_that_cannot_step_says_which_block_and_why():
    model, bn_state, _ = _smoke_model("pathfinder")  # bidirectional: concat LRUs
    with pytest.raises(ValueError, match="block 0.*Bidirectional.*AbstractRecurrentMixer"):
        model.init_state(bn_state)
