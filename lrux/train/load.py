"""A trained model back from its run directory, for inference and fine-tuning.

    model, bn_state = lrux.train.load_model("runs/listops", which="best")
    logits, _ = lrux.models.batched_apply(model, bn_state, inputs, lengths, key=None,
                                          inference=True)
    run = lrux.train.load_run("runs/listops")   # model, state, preset, spec, step, config

The model is rebuilt from `config.json` (preset and task spec) and its arrays and batch-norm
statistics are read from the checkpoint; the optimiser state is not needed (a checkpoint of
lrux 0.1's shared bidirectional LRU / S5 layout is converted: convert.py). A config.json that
no longer matches its checkpoint, or a damaged checkpoint, raises a one-line `ConfigError` /
`CheckpointError` naming the field or the file.
"""

import dataclasses
import os
from typing import Any, Literal, NamedTuple

import equinox as eqx
import jax

from lrux.data.spec import TaskSpec
from lrux.errors import ConfigError
from lrux.models import Classifier, RetrievalDualEncoder
from lrux.presets import Preset, field_problem, validate
from lrux.train.checkpoint import Checkpointer, CheckpointError
from lrux.train.convert import restore_lrux_0_1
from lrux.train.rundir import RunDir
from lrux.train.state import build_model

_PRESET_FIELDS = {f.name for f in dataclasses.fields(Preset)}
_SPEC_FIELDS = {f.name for f in dataclasses.fields(TaskSpec)}

Model = Classifier | RetrievalDualEncoder  # what a run trains (Retrieval: the dual encoder)


class Run(NamedTuple):
    """A run as it saw itself: what `load_run` returns."""

    model: Model
    state: eqx.nn.State  # the batch-norm statistics of that checkpoint
    preset: Preset
    spec: TaskSpec
    step: int  # the checkpoint's step
    config: dict[str, Any]  # config.json (seed, data folder and fingerprint, split sizes, ...)


def preset_from_config(config: dict[str, Any], where: str = "config.json") -> Preset:
    """The `Preset` recorded in a run's config.json (ConfigError naming a bad field)."""
    fields = config.get("preset")
    if not isinstance(fields, dict):
        raise ConfigError(f"{where}: no 'preset' object")
    fields = dict(fields)
    if "preset" in fields and "name" not in fields:  # config.json of lrux 0.1
        fields["name"] = fields.pop("preset")
    unknown = set(fields) - _PRESET_FIELDS
    if unknown:
        raise ConfigError(f"{where} has preset fields this lrux does not know: "
                          f"{sorted(unknown)}")
    for name, value in fields.items():
        why = field_problem(name, value)
        if why is not None:
            raise ConfigError(f"{where}: {why}")
    try:
        preset = Preset(**fields)
        validate(preset)
    except TypeError as e:
        raise ConfigError(f"{where}: preset: {e}") from None
    except ConfigError as e:
        raise ConfigError(f"{where}: {e}") from None
    return preset


def spec_from_config(config: dict[str, Any], where: str = "config.json") -> TaskSpec:
    """The `TaskSpec` recorded in a run's config.json (ConfigError naming a bad field)."""
    fields = config.get("task_spec")
    if not isinstance(fields, dict) or set(fields) != _SPEC_FIELDS:
        got = sorted(fields) if isinstance(fields, dict) else fields
        raise ConfigError(f"{where}: task_spec: expected the fields {sorted(_SPEC_FIELDS)}, "
                          f"got {got!r}")
    return TaskSpec(**fields)


def _pick(ckpt: Checkpointer, which: str, step: int | None) -> int:
    if which not in ("best", "last"):
        raise ConfigError(f"which={which!r}: expected 'best' or 'last'")
    if step is None:
        step = ckpt.best_step() if which == "best" else None
        step = step if step is not None else ckpt.latest_step()
    if step is None or step not in ckpt.steps():
        raise ConfigError(f"{ckpt.directory}: no checkpoint "
                          f"{'at step ' + str(step) if step is not None else 'saved'}; "
                          f"saved steps: {ckpt.steps() or 'none'}")
    return step


def _restore(ckpt: Checkpointer, model, bn_state, step: int, where: str):
    like = {"model": eqx.filter(model, eqx.is_array), "bn_state": bn_state}
    names = ("model", "bn_state")
    mismatch = ckpt.mismatch(like, step, names)
    try:
        if mismatch is None:
            items, _ = ckpt.restore(like, step, items=names)
        else:  # lrux 0.1's layout of this model (convert.py), or another model's checkpoint
            items = restore_lrux_0_1(ckpt, like, step)
    except ConfigError as e:  # lrux 0.1's layout, of another model
        raise ConfigError(f"{where} does not match the checkpoint of step {step} ({e}): was "
                          "config.json edited? Restore the run's own config.json") from None
    except Exception as e:  # noqa: BLE001 - a damaged checkpoint, whatever orbax raises
        why = " ".join(f"{type(e).__name__}: {e}".split())[:200]
        raise CheckpointError(f"{os.path.join(ckpt.directory, str(step))}: the checkpoint "
                              f"cannot be read ({why}); load another one (which='last' / "
                              f"step=N; saved steps: {ckpt.steps()})") from None
    if items is None:
        raise ConfigError(f"{where} does not match the checkpoint of step {step} ({mismatch}): "
                          "was config.json edited? Restore the run's own config.json")
    model = eqx.combine(items["model"], eqx.filter(model, eqx.is_array, inverse=True))
    return model, items["bn_state"]


def load_run(
    run_dir: str, which: Literal["best", "last"] = "best", *, step: int | None = None
) -> Run:
    """The run in `run_dir` as it saw itself: the model and batch-norm state of its best
    checkpoint (by validation accuracy, or the newest when none was evaluated), its newest
    (`which="last"`) or a given `step`, with the preset, task spec and config.json."""
    rd = RunDir(run_dir, create=False)
    config = rd.read_json(rd.config)
    if config is None:
        raise ConfigError(f"{run_dir}: no config.json (is it a run directory?)")
    if not os.path.isdir(rd.checkpoints):
        raise ConfigError(f"{run_dir}: no checkpoints/ folder")
    preset, spec = preset_from_config(config, rd.config), spec_from_config(config, rd.config)
    try:
        model, bn_state = build_model(preset, spec, key=jax.random.PRNGKey(0))
    except (ValueError, TypeError) as e:
        raise ConfigError(f"{rd.config}: the model cannot be built ({e})") from None
    ckpt = Checkpointer(rd.checkpoints, log=rd.log, create=False)
    try:
        step = _pick(ckpt, which, step)
        model, bn_state = _restore(ckpt, model, bn_state, step, rd.config)
    finally:
        ckpt.close()
    if not isinstance(model, Classifier | RetrievalDualEncoder):
        raise ConfigError(f"{rd.config}: builds a {type(model).__name__}, not a classifier")
    return Run(model, bn_state, preset, spec, step, config)


def load_model(
    run_dir: str, which: Literal["best", "last"] = "best", *, step: int | None = None
) -> tuple[Model, eqx.nn.State]:
    """(model, batch-norm state) of a run: its best checkpoint (by validation accuracy, or the
    newest when none was evaluated), its newest (`which="last"`), or a given `step`. The model
    is a `Classifier`, or a `RetrievalDualEncoder` for Retrieval runs."""
    run = load_run(run_dir, which, step=step)
    return run.model, run.state
