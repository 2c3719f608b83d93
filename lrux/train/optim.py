"""AdamW with the paper's parameter groups and schedule (paper section 2.2, appendix D).

Groups come from parameter paths, not per-model lists: a leaf belongs to group
`"recurrent"` when the module that owns it lists the field in its `recurrent_params`
ClassVar (LRU: nu_log, theta_log, gamma_log, B_re, B_im; SSMs: A, B, step). Recurrent
leaves get lr * lr_factor and no weight decay. Every other leaf gets lr with weight decay
(`"decay"`, the paper's wording); with `decay_norm_bias=False` norm parameters, biases and the
token embedding are moved to a `"no_decay"` group at lr without weight decay (s4's groups
since 2023; its S4D-era configs decay them).

`group_overrides` moves recurrent fields by name to another group, as S5's run scripts do
(`opt_config`, `dt_global`): e.g. `{"B_re": "decay", "B_im": "decay"}` trains S5's B at the
global lr with weight decay, `{"log_dt": "decay"}` its step; `"recurrent_decay"` is
lr * lr_factor with weight decay.

Schedule: linear warmup from `min_lr` (1e-7) over `warmup_frac` (10%) of the steps, then
cosine decay to `min_lr` at the last step, or at `schedule_steps` when that is set (s4's
`num_training_steps`, which may lie beyond the run's last step).
"""

from collections.abc import Mapping
from typing import Any

import equinox as eqx
import jax
import optax
from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

from lrux.blocks import BatchNorm, LayerNorm
from lrux.models import SequenceEncoder

GROUPS = ("recurrent", "recurrent_decay", "decay", "no_decay")


def _child(node: Any, key: Any) -> Any:
    if isinstance(key, GetAttrKey):
        return getattr(node, key.name)
    if isinstance(key, SequenceKey):
        return node[key.idx]
    if isinstance(key, DictKey):
        return node[key.key]
    if isinstance(key, FlattenedIndexKey):
        return jax.tree_util.tree_leaves(node)[key.key]
    raise ValueError(f"param_labels: cannot follow path element {key!r} of type {type(key)}")


def label_of_path(
    model: eqx.Module,
    path: tuple,
    *,
    decay_norm_bias: bool = True,
    group_overrides: Mapping[str, str] | None = None,
) -> str:
    """The group of the leaf at `path` in `model` (see the module docstring)."""
    node = model
    for key in path:
        if isinstance(node, eqx.Module) and isinstance(key, GetAttrKey):
            if key.name in getattr(type(node), "recurrent_params", ()):
                return (group_overrides or {}).get(key.name, "recurrent")
            if not decay_norm_bias and (
                isinstance(node, BatchNorm | LayerNorm)
                or key.name == "bias"
                or (isinstance(node, SequenceEncoder) and key.name == "embedding")
            ):
                return "no_decay"
        node = _child(node, key)
    return "decay"


def param_labels(
    model: eqx.Module,
    *,
    decay_norm_bias: bool = True,
    group_overrides: Mapping[str, str] | None = None,
) -> eqx.Module:
    """A tree like `eqx.filter(model, eqx.is_inexact_array)` with a group name per leaf."""
    bad = {k: v for k, v in (group_overrides or {}).items() if v not in GROUPS}
    if bad:
        raise ValueError(f"group_overrides {bad}: groups must be among {GROUPS}")
    params = eqx.filter(model, eqx.is_inexact_array)
    return jax.tree_util.tree_map_with_path(
        lambda path, _: label_of_path(
            model, path, decay_norm_bias=decay_norm_bias, group_overrides=group_overrides
        ),
        params,
    )


def warmup_cosine(
    peak: float,
    steps: int,
    *,
    warmup_frac: float = 0.1,
    min_lr: float = 1e-7,
    schedule_steps: int = 0,
):
    """Linear warmup from min_lr to peak over round(warmup_frac * steps) steps, then cosine to
    min_lr at `schedule_steps` (0: at `steps`), held there after."""
    if schedule_steps < 0:
        raise ValueError(f"schedule_steps must be >= 0 (0: the run's steps), got {schedule_steps}")
    warmup = round(warmup_frac * steps)
    return optax.warmup_cosine_decay_schedule(
        init_value=min_lr,
        peak_value=peak,
        warmup_steps=warmup,
        decay_steps=max(schedule_steps or steps, warmup + 1),
        end_value=min_lr,
    )


def make_optimizer(
    model: eqx.Module,
    *,
    lr: float,
    lr_factor: float,
    weight_decay: float,
    steps: int,
    warmup_frac: float = 0.1,
    min_lr: float = 1e-7,
    grad_clip: float = 0.0,
    decay_norm_bias: bool = True,
    group_overrides: Mapping[str, str] | None = None,
    schedule_steps: int = 0,
) -> tuple[optax.GradientTransformation, optax.Schedule]:
    """The optimiser for `model` and the base learning-rate schedule (for logging).

    Returns a transformation to use on `eqx.filter(model, eqx.is_inexact_array)`.
    """
    base = warmup_cosine(lr, steps, warmup_frac=warmup_frac, min_lr=min_lr,
                         schedule_steps=schedule_steps)
    recurrent = warmup_cosine(lr * lr_factor, steps, warmup_frac=warmup_frac, min_lr=min_lr,
                              schedule_steps=schedule_steps)
    labels = param_labels(
        model, decay_norm_bias=decay_norm_bias, group_overrides=group_overrides
    )
    tx = optax.multi_transform(
        {
            "recurrent": optax.adam(recurrent),
            "recurrent_decay": optax.adamw(recurrent, weight_decay=weight_decay),
            "decay": optax.adamw(base, weight_decay=weight_decay),
            "no_decay": optax.adam(base),
        },
        lambda _: labels,  # a Module is callable: optax would call a bare label tree
    )
    if grad_clip > 0:
        tx = optax.chain(optax.clip_by_global_norm(grad_clip), tx)
    return tx, base
