"""A trained model back from its run directory, for inference and fine-tuning.

    model, bn_state = lrux.train.load_model("runs/listops", which="best")
    logits, _ = lrux.models.batched_apply(model, bn_state, inputs, lengths, key=None,
                                          inference=True)

The model is rebuilt from `config.json` (preset and task spec) and its arrays and batch-norm
statistics are read from the checkpoint; the optimiser state is not needed.
"""

import dataclasses
import os
from typing import Any, Literal

import equinox as eqx
import jax

from lrux.data.spec import TaskSpec
from lrux.errors import ConfigError
from lrux.presets import Preset
from lrux.train.checkpoint import Checkpointer
from lrux.train.convert import restore_model_items
from lrux.train.rundir import RunDir
from lrux.train.state import build_model

_PRESET_FIELDS = {f.name for f in dataclasses.fields(Preset)}


def preset_from_config(config: dict[str, Any]) -> Preset:
    """The `Preset` recorded in a run's config.json."""
    fields = dict(config["preset"])
    if "preset" in fields and "name" not in fields:  # config.json of lrux 0.1
        fields["name"] = fields.pop("preset")
    unknown = set(fields) - _PRESET_FIELDS
    if unknown:
        raise ConfigError(f"config.json has preset fields this lrux does not know: "
                          f"{sorted(unknown)}")
    return Preset(**fields)


def load_model(
    run_dir: str, which: Literal["best", "last"] = "best", *, step: int | None = None
) -> tuple[eqx.Module, eqx.nn.State]:
    """(model, batch-norm state) of a run: its best checkpoint (by validation accuracy, or the
    newest when none was evaluated), its newest (`which="last"`), or a given `step`."""
    rd = RunDir(run_dir, create=False)
    config = rd.read_json(rd.config)
    if config is None:
        raise ConfigError(f"{run_dir}: no config.json (is it a run directory?)")
    if not os.path.isdir(rd.checkpoints):
        raise ConfigError(f"{run_dir}: no checkpoints/ folder")
    preset = preset_from_config(config)
    spec = TaskSpec(**config["task_spec"])
    model, bn_state = build_model(preset, spec, key=jax.random.PRNGKey(0))
    ckpt = Checkpointer(rd.checkpoints)
    try:
        if step is None:
            step = ckpt.best_step() if which == "best" else None
            step = step if step is not None else ckpt.latest_step()
        if step is None or step not in ckpt.steps():
            raise ConfigError(f"{rd.checkpoints}: no checkpoint "
                              f"{'at step ' + str(step) if step is not None else 'saved'}; "
                              f"saved steps: {ckpt.steps() or 'none'}")
        like = {"model": eqx.filter(model, eqx.is_array), "bn_state": bn_state}
        items = restore_model_items(ckpt, like, step)  # also lrux 0.1's layout (convert.py)
    finally:
        ckpt.close()
    model = eqx.combine(items["model"], eqx.filter(model, eqx.is_array, inverse=True))
    return model, items["bn_state"]
