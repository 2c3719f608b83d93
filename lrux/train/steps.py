"""The jitted train and eval steps (one program over the whole mesh).

The model works on one example; the steps vmap it over the global batch with
`axis_name="batch"`, so batch-norm statistics are global even when the batch is sharded over
many devices or processes (jit sees the global array). Losses are means over valid rows
(`valid` is False on padding rows of a final partial evaluation batch).
"""

from typing import Any

import equinox as eqx
import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh
from jaxtyping import Array, Bool, Float, Int

from lrux.models import batched_apply
from lrux.train.sharding import replicated


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
    """`step(model, state, opt_state, key, batch) -> (model, state, opt_state, key, loss, acc,
    finite)`; `finite` is False when the loss or any updated parameter is NaN or infinite.

    Jitted with every argument donated; outputs other than the metrics are replicated.
    """
    rep = replicated(mesh)

    @eqx.filter_jit(donate="all")
    def train_step(model, state, opt_state, key, batch: dict[str, Any]):
        key, sub = jax.random.split(key)

        def loss_fn(m):
            logits, new_state = batched_apply(
                m, state, batch["inputs"], batch["lengths"], key=sub, inference=False
            )
            loss_sum, correct, count = masked_loss_and_correct(
                logits, batch["labels"], batch["valid"]
            )
            count = jnp.maximum(count, 1.0)
            return loss_sum / count, (new_state, correct / count)

        (loss, (new_state, acc)), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model)
        params = eqx.filter(model, eqx.is_inexact_array)
        updates, opt_state = tx.update(grads, opt_state, params)
        model = eqx.apply_updates(model, updates)
        finite = jnp.isfinite(loss)
        for leaf in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)):
            finite = finite & jnp.all(jnp.isfinite(leaf))
        model, new_state, opt_state, key = eqx.filter_shard(
            (model, new_state, opt_state, key), rep
        )
        return model, new_state, opt_state, key, loss, acc, finite

    return train_step


def make_eval_step(mesh: Mesh):
    """`step(model, state, batch) -> (loss_sum, correct, count)` in inference mode."""
    rep = replicated(mesh)

    @eqx.filter_jit
    def eval_step(model, state, batch: dict[str, Any]):
        logits, _ = batched_apply(
            model, state, batch["inputs"], batch["lengths"], key=None, inference=True
        )
        out = masked_loss_and_correct(logits, batch["labels"], batch["valid"])
        return eqx.filter_shard(out, rep)

    return eval_step
