"""Training: one setup (`init_train_state`), jitted steps, the loop (`run`), checkpoints
(`load_model`), metrics writers, optimiser groups and schedule, mesh/sharding, the CLI.

Names are imported lazily (as in `lrux/__init__.py`), so `lrux-train --help` and
`python -m lrux.train --help` answer without importing jax or orbax.
"""

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # what type checkers see; at run time __getattr__ imports on first use
    from lrux.train.checkpoint import Checkpointer, CheckpointError
    from lrux.train.feed import MissingData, ShardedIterator, evaluate, load_splits
    from lrux.train.load import Run, load_model, load_run, preset_from_config
    from lrux.train.loop import Interrupted, NonFiniteLoss, run
    from lrux.train.metrics import MetricsLog, read_metrics
    from lrux.train.optim import label_of_path, make_optimizer, param_labels, warmup_cosine
    from lrux.train.sharding import (
        batch_sharding,
        global_batch,
        init_distributed,
        make_mesh,
        replicate,
        replicated,
    )
    from lrux.train.state import TrainSetup, TrainState, build_model, init_train_state
    from lrux.train.steps import (
        StepMetrics,
        make_eval_step,
        make_train_step,
        masked_loss_and_correct,
    )
    from lrux.train.writers import MetricsWriter, TensorBoardWriter, WandbWriter

_EXPORTS = {
    "Checkpointer": "lrux.train.checkpoint",
    "CheckpointError": "lrux.train.checkpoint",
    "MissingData": "lrux.train.feed",
    "ShardedIterator": "lrux.train.feed",
    "evaluate": "lrux.train.feed",
    "load_splits": "lrux.train.feed",
    "load_model": "lrux.train.load",
    "load_run": "lrux.train.load",
    "Run": "lrux.train.load",
    "preset_from_config": "lrux.train.load",
    "Interrupted": "lrux.train.loop",
    "NonFiniteLoss": "lrux.train.loop",
    "run": "lrux.train.loop",
    "MetricsLog": "lrux.train.metrics",
    "read_metrics": "lrux.train.metrics",
    "label_of_path": "lrux.train.optim",
    "make_optimizer": "lrux.train.optim",
    "param_labels": "lrux.train.optim",
    "warmup_cosine": "lrux.train.optim",
    "batch_sharding": "lrux.train.sharding",
    "global_batch": "lrux.train.sharding",
    "init_distributed": "lrux.train.sharding",
    "make_mesh": "lrux.train.sharding",
    "replicate": "lrux.train.sharding",
    "replicated": "lrux.train.sharding",
    "TrainSetup": "lrux.train.state",
    "TrainState": "lrux.train.state",
    "build_model": "lrux.train.state",
    "init_train_state": "lrux.train.state",
    "StepMetrics": "lrux.train.steps",
    "make_eval_step": "lrux.train.steps",
    "make_train_step": "lrux.train.steps",
    "masked_loss_and_correct": "lrux.train.steps",
    "MetricsWriter": "lrux.train.writers",
    "TensorBoardWriter": "lrux.train.writers",
    "WandbWriter": "lrux.train.writers",
}

# a literal list, so that linters and type checkers read it (tests check it against _EXPORTS)
__all__ = [
    "CheckpointError",
    "Checkpointer",
    "Interrupted",
    "MetricsLog",
    "MetricsWriter",
    "MissingData",
    "NonFiniteLoss",
    "Run",
    "ShardedIterator",
    "StepMetrics",
    "TensorBoardWriter",
    "TrainSetup",
    "TrainState",
    "WandbWriter",
    "batch_sharding",
    "build_model",
    "evaluate",
    "global_batch",
    "init_distributed",
    "init_train_state",
    "label_of_path",
    "load_model",
    "load_run",
    "load_splits",
    "make_eval_step",
    "make_mesh",
    "make_optimizer",
    "make_train_step",
    "masked_loss_and_correct",
    "param_labels",
    "preset_from_config",
    "read_metrics",
    "replicate",
    "replicated",
    "run",
    "warmup_cosine",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        try:
            module = importlib.import_module(_EXPORTS[name])
        except AttributeError as e:  # else `from lrux.train import NAME` blames NAME
            raise ImportError(f"importing {_EXPORTS[name]} (for lrux.train.{name}) failed: "
                              f"{type(e).__name__}: {e}") from e
        value = getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrux.train' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
