"""A sequence's result never depends on its batch's padding (issue 22).

Oracles that are not the code under test: numpy's mean and variance over the valid
positions only (BatchNorm), numpy's own reversal (reverse_within), and the same model on the
same examples padded another way, with random junk instead of zeros in the padding (every
registered mixer in every form, a whole model's loss and gradients, 20 steps of training
through `lrux.train.run`).
"""

import json
import os

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.blocks import BatchNorm, BlockConfig, ResidualBlock
from lrux.data import Batch, bucket_length, trim_batch
from lrux.layers.base import reverse_within
from lrux.models import batched_apply, make_model
from lrux.registry import make_mixer, mixer_entry, mixer_names
from lrux.train.feed import bucketed

H, N = 4, 8


def test_bucket_length_rounds_up_to_the_multiple_and_caps_at_the_stored_length():
    assert bucket_length(1, 2048, 256) == 256
    assert bucket_length(256, 2048, 256) == 256
    assert bucket_length(257, 2048, 256) == 512
    assert bucket_length(1999, 2048, 256) == 2048
    assert bucket_length(1999, 2000, 256) == 2000  # never past the stored length
    assert bucket_length(0, 2048, 256) == 256  # an all-empty batch still has a position
    assert bucket_length(30, 2048, 0) == 2048  # 0: the task maximum, as before


def test_trim_batch_cuts_only_padding_on_every_input_layout():
    rng = np.random.default_rng(0)
    tokens = Batch(rng.integers(1, 9, (3, 10)).astype(np.int32), np.array([2, 6, 4], np.int32),
                   np.zeros(3, np.int32), np.ones(3, bool))
    cut = trim_batch(tokens, 6, "tokens")
    np.testing.assert_array_equal(cut.inputs, tokens.inputs[:, :6])
    pairs = tokens._replace(inputs=rng.integers(1, 9, (3, 2, 10)).astype(np.int32),
                            lengths=np.array([[2, 5], [1, 1], [3, 3]], np.int32))
    np.testing.assert_array_equal(trim_batch(pairs, 5, "tokens").inputs, pairs.inputs[..., :5])
    pixels = tokens._replace(inputs=rng.normal(size=(3, 10, 2)).astype(np.float32),
                             lengths=np.full(3, 10, np.int32))
    assert trim_batch(pixels, 10, "pixels").inputs.shape == (3, 10, 2)
    with pytest.raises(ValueError, match="does not fit"):
        trim_batch(tokens, 5, "tokens")  # would cut the 6-token sequence
    assert bucketed(tokens, "tokens", 4).inputs.shape == (3, 8)
    assert bucketed(tokens, "tokens", 0) is tokens


def test_reverse_within_matches_numpy_and_is_its_own_inverse():
    x = jnp.arange(7 * 2).reshape(7, 2)
    for n in (0, 1, 4, 7):
        expect = np.concatenate([np.asarray(x)[:n][::-1], np.asarray(x)[n:]])
        got = reverse_within(x, jnp.asarray(n))
        np.testing.assert_array_equal(np.asarray(got), expect)
        np.testing.assert_array_equal(np.asarray(reverse_within(got, n)), np.asarray(x))
    np.testing.assert_array_equal(np.asarray(reverse_within(x, None)), np.asarray(x)[::-1])


def test_batchnorm_statistics_count_valid_positions_only():
    rng = np.random.default_rng(1)
    x = rng.normal(1.0, 2.0, (3, 9, 5)).astype(np.float32)
    lengths = np.array([9, 4, 1], np.int32)
    x[1, 4:] = 1e3  # padding that would wreck the statistics if counted
    x[2, 1:] = -1e3
    bn, state = eqx.nn.make_with_state(BatchNorm)(5, momentum=0.7)
    y, new = jax.vmap(lambda xi, n: bn(xi, state, length=n), axis_name="batch",
                      out_axes=(0, None))(jnp.asarray(x), jnp.asarray(lengths))
    valid = np.concatenate([x[i, :n].astype(np.float64) for i, n in enumerate(lengths)])
    mean, var = valid.mean(0), valid.var(0)
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(np.asarray(y[i, :n]), (x[i, :n] - mean) / np.sqrt(var + 1e-5),
                                   atol=3e-5)
    run_mean, run_var = new.get(bn.state_index)
    np.testing.assert_allclose(np.asarray(run_mean), 0.3 * mean, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(run_var), 0.7 + 0.3 * var, rtol=1e-5)


def _forms(name: str) -> list[dict]:
    return [{}] + [{"bidirectional": True, "combine": c} for c in mixer_entry(name).combines]


@pytest.mark.parametrize("name", mixer_names())
def test_padding_never_reaches_a_valid_output_of_any_mixer(name):
    """Every registered mixer in every form: the outputs before `length` are the same for
    the sequence padded with 3 or 11 positions of random junk."""
    rng = np.random.default_rng(2)
    n = 9
    x = rng.normal(size=(n, H)).astype(np.float32)
    for form in _forms(name):
        mixer = make_mixer(name, H, N, key=jax.random.key(0), **form)
        outs = []
        for pad in (3, 11):
            junk = rng.normal(0, 10, size=(pad, H)).astype(np.float32)
            xp = jnp.asarray(np.concatenate([x, junk]))
            outs.append(np.asarray(mixer(xp, length=jnp.asarray(n))[:n]))
        np.testing.assert_allclose(outs[0], outs[1], rtol=1e-5, atol=1e-5, err_msg=str(form))


def test_untied_dropout_masks_do_not_depend_on_the_padding():
    mixer = make_mixer("lru", H, N, key=jax.random.key(0))
    block, state = eqx.nn.make_with_state(ResidualBlock)(
        mixer, H, BlockConfig(norm="layer", dropout=0.5, dropout_tied=False),
        key=jax.random.key(1))
    x = np.random.default_rng(3).normal(size=(12, H)).astype(np.float32)
    key = jax.random.key(7)
    a, _ = block(jnp.asarray(x[:8]), state, length=jnp.asarray(5), key=key)
    b, _ = block(jnp.asarray(x), state, length=jnp.asarray(5), key=key)
    np.testing.assert_allclose(np.asarray(a[:5]), np.asarray(b[:5]), rtol=1e-6, atol=1e-6)


def _token_batch(lengths, stored, junk):
    """The same tokens (seed 5) padded to `stored` with zeros or with random junk."""
    x = np.zeros((len(lengths), stored), np.int32)
    tokens, noise = np.random.default_rng(5), np.random.default_rng(6)
    for i, n in enumerate(lengths):
        x[i, :n] = tokens.integers(1, 15, n)
        if junk:
            x[i, n:] = noise.integers(1, 15, stored - n)
    return jnp.asarray(x)


@pytest.mark.parametrize("bidirectional", [False, True])
def test_loss_and_gradients_equal_padded_to_the_bucket_and_to_the_task_maximum(bidirectional):
    """A model with BatchNorm: loss and gradients of one batch padded to its bucket (zeros)
    and to the task maximum (random junk in the padding) agree to 1e-5."""
    model, state = make_model(mixer="lru", depth=2, d_model=8, d_state=8, num_classes=3,
                              vocab_size=16, block=BlockConfig(norm="batch"),
                              bidirectional=bidirectional,
                              key=jax.random.key(0))
    lengths = np.array([30, 120, 75, 200], np.int32)
    labels = jnp.asarray([0, 2, 1, 2])
    x_max = _token_batch(lengths, 512, junk=True)
    x_bucket = _token_batch(lengths, 256, junk=False)

    def loss(m, x, st):
        logits, new = batched_apply(m, st, x, jnp.asarray(lengths), key=None,
                                    inference=False)
        ce = -jax.nn.log_softmax(logits)[jnp.arange(4), labels]
        return jnp.mean(ce), new

    grad = eqx.filter_jit(eqx.filter_value_and_grad(loss, has_aux=True))
    (la, sa), ga = grad(model, x_bucket, state)
    (lb, sb), gb = grad(model, x_max, state)
    np.testing.assert_allclose(float(la), float(lb), rtol=1e-5, atol=1e-5)
    for u, v in zip(jax.tree_util.tree_leaves(ga), jax.tree_util.tree_leaves(gb), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-5)
    for u, v in zip(jax.tree_util.tree_leaves(sa), jax.tree_util.tree_leaves(sb), strict=True):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-5)


@pytest.mark.slow
def test_twenty_training_steps_give_the_same_losses_bucketed_and_padded(tmp_path):
    """Generated ListOps of 30 to 500 tokens, stored at 512: 20 steps through
    `lrux.train.run` with `pad_multiple=0` (every batch 512 long) and `pad_multiple=64`
    (batches of 64 to 512) log the same loss at every step."""
    from lrux.presets import apply_overrides, get_preset
    from lrux.train import run

    preset = apply_overrides(get_preset("listops", "lru", "smoke"), [
        "steps=20", "log_every=1", "eval_every=20", "batch_size=8", "eval_batch_size=16",
        "data.generate.train=160", "data.generate.val=16", "data.generate.test=16",
        "data.generate.min_length=30", "data.generate.max_length=500",
        "data.load.max_length=512",
    ])
    losses = {}
    for pad in (0, 64):
        p = apply_overrides(preset, [f"pad_multiple={pad}"])
        run(p, data_dir=str(tmp_path / "data"), out_dir=str(tmp_path / f"run{pad}"), seed=3,
            progress=False)
        with open(os.path.join(tmp_path, f"run{pad}", "metrics.jsonl")) as f:
            records = [json.loads(line) for line in f]
        losses[pad] = [r["loss"] for r in records if r["split"] == "train"]
    assert len(losses[0]) == 20
    np.testing.assert_allclose(losses[64], losses[0], rtol=1e-5, atol=1e-6)
