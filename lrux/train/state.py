"""One training setup: the model of a preset, its optimiser, and the state a step updates.

    setup = init_train_state(preset, spec, mesh, seed=0)
    step = make_train_step(setup.tx, mesh)
    state, metrics = step(setup.state, batch)

`lrux.train.run`, the training benchmark, the learning benchmark and the ladder notebook all
start here, so they train the same optimiser groups and schedule.
"""

import dataclasses
import math
from typing import Any, NamedTuple

import equinox as eqx
import jax
import jax.numpy as jnp
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


COPIES = 4  # parameters, gradients and Adam's two moments, each the size of the parameters


def check_model(preset: Preset, spec: Any, *, available: int | None = None) -> None:
    """Build `preset`'s model abstractly (no arrays are allocated) so that a bad mixer option
    or size stops the run at once, as a ConfigError naming the option; and stop a model
    whose parameters, gradients and optimiser moments (`COPIES` x the parameter bytes) do
    not fit in the memory of one device (`available` bytes; default `available_memory()`),
    naming its parameter count and bytes. The count of a deep model is extrapolated from
    one and two blocks first, so that a huge depth is refused without building it."""
    shallow = [_abstract_size(dataclasses.replace(preset, depth=d), spec)
               for d in sorted({1, min(2, preset.depth)})]
    per_block = shallow[-1][0] - shallow[0][0] if len(shallow) == 2 else 0
    bytes_per = shallow[0][1] / max(shallow[0][0], 1)
    params = shallow[0][0] + (preset.depth - 1) * per_block
    _check_fits(preset, params, int(params * bytes_per), available)
    if preset.depth > 2:
        _abstract_size(preset, spec)


def _abstract_size(preset: Preset, spec: Any) -> tuple[int, int]:
    """(parameters, bytes) of `preset`'s model, built abstractly."""
    try:
        model, _ = eqx.filter_eval_shape(build_model, preset, spec, key=jax.random.PRNGKey(0))
    except ConfigError:
        raise
    except (ValueError, TypeError) as e:
        raise ConfigError(f"--model {preset.model}: {e}") from e
    leaves = [x for x in jax.tree_util.tree_leaves(model)
              if isinstance(x, jax.ShapeDtypeStruct) and jnp.issubdtype(x.dtype, jnp.inexact)]
    return (sum(math.prod(x.shape) for x in leaves),
            sum(math.prod(x.shape) * x.dtype.itemsize for x in leaves))


def _check_fits(preset: Preset, params: int, nbytes: int, available: int | None) -> None:
    where = "one device"
    if available is None:
        available, where = available_memory()
    need = COPIES * nbytes
    if need > available:
        raise ConfigError(
            f"the model of this preset (depth={preset.depth}, d_model={preset.d_model}, "
            f"d_state={preset.d_state}) has {params:,} parameters ({nbytes / 2**30:.2f} GiB); "
            f"training holds {COPIES} copies ({need / 2**30:.2f} GiB: parameters, gradients, "
            f"optimiser moments), more than the {available / 2**30:.2f} GiB available on "
            f"{where}: make it smaller (--set d_model=..., depth=..., d_state=...)")


def available_memory() -> tuple[int, str]:
    """(bytes free for arrays, where): the first device's free memory where jax reports it
    (GPU, TPU), else the host's MemAvailable (/proc/meminfo) for the CPU."""
    device = jax.local_devices()[0]
    stats = device.memory_stats() if hasattr(device, "memory_stats") else None
    if stats and "bytes_limit" in stats:
        free = int(stats["bytes_limit"]) - int(stats.get("bytes_in_use", 0))
        return free, f"{device.platform.upper()} {device.id}"
    n = jax.local_device_count()  # CPU devices share the host's memory
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f if ":" in line)
        free = int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        return 2**62, "this host (unknown)"
    return free // n, "this host (MemAvailable" + (f" / {n} devices)" if n > 1 else ")")


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
