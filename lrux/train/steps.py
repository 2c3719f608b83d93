"""The jitted train and eval steps (one program over the whole mesh).

The model works on one example; the steps vmap it over the global batch with
`axis_name="batch"`, so batch-norm statistics are global even when the batch is sharded over
many devices or processes (jit sees the global array). Losses are means over valid rows
(`valid` is False on padding rows of a final partial evaluation batch).

A batch is a `lrux.data.Batch` (inputs, lengths, labels, valid), converted once by the loaders
(int32 tokens / float32 pixels, int32 lengths and labels, bool valid) and put on the mesh by
`lrux.train.global_batch`.
"""

from typing import NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.sharding import Mesh
from jaxtyping import Array, Bool, Float, Int

from lrux.data import Batch
from lrux.models import batched_apply
from lrux.train.sharding import replicated
from lrux.train.state import TrainState


class StepMetrics(NamedTuple):
    """What a train step reports: mean loss and accuracy over the valid rows, and whether the
    loss and every updated parameter are finite."""

    loss: Float[Array, ""]
    accuracy: Float[Array, ""]
    finite: Bool[Array, ""]


def _arrays(*fields: np.ndarray | Array) -> tuple[Array, ...]:
    """A Batch's fields as jax arrays: inside the jitted steps they already are (tracers)."""
    return tuple(jnp.asarray(f) for f in fields)


def masked_loss_and_correct(
    logits: Float[Array, "batch classes"],
    labels: Int[Array, " batch"],
    valid: Bool[Array, " batch"],
) -> tuple[Float[Array, ""], Float[Array, ""], Float[Array, ""]]:
    """(sum of cross-entropy, number correct, number valid) over the valid rows."""
    w = valid.astype(jnp.float32)
    ce = optax.softmax_cross_entropy_with_integer_labels(logits.astype(jnp.float32), labels)
    correct = (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)
    return jnp.sum(ce * w), jnp.sum(correct * w), jnp.sum(w)


def make_train_step(tx: optax.GradientTransformation, mesh: Mesh):
    """`step(state: TrainState, batch) -> (TrainState, StepMetrics)`.

    Jitted with every argument donated; the new state is replicated over `mesh`.
    """
    rep = replicated(mesh)

    @eqx.filter_jit(donate="all")
    def train_step(state: TrainState, batch: Batch) -> tuple[TrainState, StepMetrics]:
        key, sub = jax.random.split(state.key)

        def loss_fn(model):
            logits, bn_state = batched_apply(
                model, state.bn_state, *_arrays(batch.inputs, batch.lengths), key=sub,
                inference=False,
            )
            loss_sum, correct, count = masked_loss_and_correct(
                logits, *_arrays(batch.labels, batch.valid)
            )
            count = jnp.maximum(count, 1.0)
            return loss_sum / count, (bn_state, correct / count)

        (loss, (bn_state, acc)), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(
            state.model
        )
        params = eqx.filter(state.model, eqx.is_inexact_array)
        updates, opt_state = tx.update(grads, state.opt_state, params)
        model = eqx.apply_updates(state.model, updates)
        finite = jnp.isfinite(loss)
        for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        new = TrainState(model=model, bn_state=bn_state, opt_state=opt_state, key=key)
        return eqx.filter_shard(new, rep), StepMetrics(loss, acc, finite)

    return train_step


def make_eval_step(mesh: Mesh):
    """`step(model, bn_state, batch) -> (loss_sum, correct, count)` in inference mode."""
    rep = replicated(mesh)

    @eqx.filter_jit
    def eval_step(model: eqx.Module, bn_state: eqx.nn.State, batch: Batch):
        logits, _ = batched_apply(
            model, bn_state, *_arrays(batch.inputs, batch.lengths), key=None, inference=True
        )
        out = masked_loss_and_correct(logits, *_arrays(batch.labels, batch.valid))
        return eqx.filter_shard(out, rep)

    return eval_step
