"""Training: one setup (`init_train_state`), jitted steps, the loop (`run`), checkpoints
(`load_model`), metrics writers, optimiser groups and schedule, mesh/sharding, the CLI."""

from lrux.train.checkpoint import Checkpointer, CheckpointError
from lrux.train.feed import MissingData, ShardedIterator, evaluate, load_splits
from lrux.train.load import Run, load_model, load_run, preset_from_config
from lrux.train.loop import Interrupted, NonFiniteLoss, run
from lrux.train.metrics import MetricsLog, MetricsWriter, TensorBoardWriter, read_metrics
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
