"""The recipe options the S4D preset needed: s4's cosine horizon beyond the run
(`schedule_steps`) and warmup in steps, and s4's norm after the last block of a pre-norm
stack (`final_norm`), each against a closed form written here."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.blocks import BlockConfig
from lrux.layers.s4d import S4D
from lrux.models import SequenceEncoder
from lrux.train.optim import warmup_cosine


def transformers_cosine(t, peak, warmup, horizon):
    """transformers.get_cosine_schedule_with_warmup (s4's `cosine_warmup`), lr of step t."""
    if t < warmup:
        return peak * t / warmup
    progress = (t - warmup) / max(1, horizon - warmup)
    return peak * max(0.0, 0.5 * (1 + math.cos(math.pi * progress)))


def test_schedule_steps_is_s4s_cosine_horizon_beyond_the_run():
    """ListOps' s4 schedule: 1,000 warmup steps of 76,800, the cosine over 80,000 steps."""
    steps, warmup, horizon, peak = 76_800, 1000, 80_000, 0.01
    sched = warmup_cosine(peak, steps, warmup_frac=warmup / steps, min_lr=0.0,
                          schedule_steps=horizon)
    # (past its horizon transformers' cosine rises again; no s4 run gets there)
    for t in (0, 1, 500, 999, 1000, 1001, 40_000, 76_799, 79_999, 80_000):
        assert float(sched(t)) == pytest.approx(transformers_cosine(t, peak, warmup, horizon),
                                                rel=1e-4, abs=1e-9), t  # float32
    assert float(sched(steps - 1)) > 0.004 * peak  # the run ends before the cosine does


@pytest.mark.parametrize("steps,warmup", [(76_800, 1000), (49_984, 1000), (45_960, 2500),
                                          (180_000, 1000), (375_000, 5000), (17_500, 0),
                                          (3991, 1000)])  # int() would give 999
def test_warmup_given_as_a_fraction_of_steps_is_the_exact_step_count(steps, warmup):
    sched = warmup_cosine(1.0, steps, warmup_frac=warmup / steps, min_lr=0.0)
    lrs = np.asarray(jax.vmap(sched)(jnp.arange(warmup + 2)))
    assert int(np.argmax(np.diff(lrs) <= 0)) == warmup


def test_schedule_steps_must_not_be_negative():
    with pytest.raises(ValueError, match="schedule_steps"):
        warmup_cosine(1.0, 100, schedule_steps=-1)


def _encoder(final_norm, norm):
    return eqx.nn.make_with_state(SequenceEncoder)(
        lambda k: S4D(8, 4, key=k), depth=2, d_model=8, channels=3, pooling="none",
        block=BlockConfig(norm=norm, prenorm=True), final_norm=final_norm,
        key=jax.random.key(0))


def _run(encoder, state, x):
    lengths = jnp.full((x.shape[0],), x.shape[1])
    return jax.vmap(lambda xi, n: encoder(xi, n, state), axis_name="batch",
                    out_axes=(0, None))(x, lengths)


@pytest.mark.parametrize("norm", ["batch", "layer"])
def test_final_norm_normalises_the_last_blocks_output(norm):
    """s4's SequenceModel (b5dae46 src/models/sequence/model.py:70-78,96): with final_norm the
    output is norm(the same stack's output), by the textbook formulas at init (scale 1,
    shift 0, eps 1e-5): BatchNorm over (batch, position), LayerNorm over features."""
    x = jax.random.normal(jax.random.key(1), (3, 11, 3))
    plain, s0 = _encoder(False, norm)
    normed, s1 = _encoder(True, norm)
    h, _ = _run(plain, s0, x)
    y, s1_after = _run(normed, s1, x)
    h = np.asarray(h, np.float64)
    axes, keep = ((0, 1), False) if norm == "batch" else ((-1,), True)
    mean = h.mean(axis=axes, keepdims=True)
    var = ((h - mean) ** 2).mean(axis=axes, keepdims=True)
    np.testing.assert_allclose(np.asarray(y), (h - mean) / np.sqrt(var + 1e-5), atol=2e-5)
    assert plain.final_norm is None and normed.final_norm is not None
    if norm == "batch":  # its running statistics moved from (0, 1) by (1 - 0.9) of the batch's
        run_mean, run_var = s1_after.get(normed.final_norm.state_index)
        np.testing.assert_allclose(np.asarray(run_mean), 0.1 * mean.ravel(), atol=1e-6)
        np.testing.assert_allclose(np.asarray(run_var), 0.9 + 0.1 * var.ravel(), atol=1e-5)
