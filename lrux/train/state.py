"""One training setup: the model of a preset, its optimiser, and the state a step updates.

    setup = init_train_state(preset, spec, mesh, seed=0)
    step = make_train_step(setup.tx, mesh)
    state, metrics = step(setup.state, batch)

`lrux.train.run`, the training benchmark, the learning benchmark and the ladder notebook all
start here, so they train the same optimiser groups and schedule.
"""

from typing import Any, NamedTuple

import equinox as eqx
import jax
import optax
from jax.sharding import Mesh
from jaxtyping import PRNGKeyArray, PyTree

from lrux.blocks import BlockConfig
from lrux.errors import ConfigError
from lrux.models import Classifier, RetrievalDualEncoder, make_model
from lrux.presets import Preset
from lrux.registry import mixer_entry
from lrux.train.optim import make_optimizer
from lrux.train.sharding import replicate


class TrainState(eqx.Module):
    """Everything a train step reads and writes: the model (its arrays are the parameters),
    the batch-norm statistics, the optimiser state and the dropout RNG key."""

    model: eqx.Module
    bn_state: eqx.nn.State
    opt_state: PyTree  # optax.OptState (optax 0.2.4 names it by a string beartype cannot resolve)
    key: PRNGKeyArray

    def items(self) -> dict[str, Any]:
        """The arrays of each part, by name (what a checkpoint holds)."""
        return {
            "model": eqx.filter(self.model, eqx.is_array),
            "bn_state": self.bn_state,
            "opt_state": self.opt_state,
            "key": self.key,
        }

    def replace_items(self, items: dict[str, Any]) -> "TrainState":
        """This state with the parts named in `items` replaced (as restored by `items()`)."""
        model = self.model
        if "model" in items:
            model = eqx.combine(items["model"], eqx.filter(self.model, eqx.is_array, inverse=True))
        return TrainState(
            model=model,
            bn_state=items.get("bn_state", self.bn_state),
            opt_state=items.get("opt_state", self.opt_state),
            key=items.get("key", self.key),
        )


class TrainSetup(NamedTuple):
    """What `init_train_state` returns: the initial state, the optimiser, the lr schedule."""

    state: TrainState
    tx: optax.GradientTransformation
    schedule: optax.Schedule


def build_model(preset: Preset, spec: Any, *, key: PRNGKeyArray
                ) -> tuple[Classifier | RetrievalDualEncoder, eqx.nn.State]:
    """The model of `preset` for a task spec (num_classes, vocab_size / channels, dual).

    The block's knobs travel as one `BlockConfig` read off the preset's fields of the same
    names. A mixer with a sequence-length option (the registry's `length_option`, S4's
    `l_max`) gets the task's sequence length unless the preset sets it.
    """
    opts = dict(preset.mixer_options)
    length_option = mixer_entry(preset.model).length_option
    if length_option:
        opts.setdefault(length_option, spec.seq_len)
    return make_model(
        mixer=preset.model,
        depth=preset.depth,
        d_model=preset.d_model,
        d_state=preset.d_state,
        num_classes=spec.num_classes,
        vocab_size=spec.vocab_size if spec.kind == "tokens" else None,
        channels=spec.channels if spec.kind == "pixels" else None,
        dual=bool(spec.dual),
        pooling=preset.pooling,
        block=BlockConfig.of(preset),
        bidirectional=preset.bidirectional,
        combine=None if preset.combine == "default" else preset.combine,
        mixer_options=opts,
        remat=preset.remat,
        final_norm=preset.final_norm,
        key=key,
    )


def check_model(preset: Preset, spec: Any) -> None:
    """Build `preset`'s model abstractly (no arrays are allocated) so that a bad mixer option
    or size stops the run at once, as a ConfigError naming the option."""
    try:
        eqx.filter_eval_shape(build_model, preset, spec, key=jax.random.PRNGKey(0))
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"--model {preset.model}: {e}") from e


def preset_optimizer(model: eqx.Module, preset: Preset):
    """`make_optimizer` for `model` with every optimisation field of `preset`: (tx, schedule)."""
    return make_optimizer(
        model, lr=preset.lr, lr_factor=preset.lr_factor, weight_decay=preset.weight_decay,
        steps=preset.steps, warmup_frac=preset.warmup_frac, min_lr=preset.min_lr,
        grad_clip=preset.grad_clip, decay_norm_bias=preset.decay_norm_bias,
        group_overrides=preset.param_groups, schedule_steps=preset.schedule_steps,
    )


def init_train_state(preset: Preset, spec: Any, mesh: Mesh, *, seed: int) -> TrainSetup:
    """The model, batch-norm state, optimiser state and RNG key of `preset` at step 0,
    replicated over `mesh`, with the optimiser and its base learning-rate schedule."""
    model_key, train_key = jax.random.split(jax.random.PRNGKey(seed))
    model, bn_state = build_model(preset, spec, key=model_key)
    tx, schedule = preset_optimizer(model, preset)
    opt_state = tx.init(eqx.filter(model, eqx.is_inexact_array))
    state = TrainState(model=model, bn_state=bn_state, opt_state=opt_state, key=train_key)
    return TrainSetup(replicate(state, mesh), tx, schedule)


def num_params(model: eqx.Module) -> int:
    """Number of parameters (entries of the model's inexact arrays)."""
    return sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_inexact_array)))
