"""Training: optimiser groups and schedule, mesh/sharding, orbax checkpoints, metrics, loop."""

from lrux.train.checkpoint import Checkpointer
from lrux.train.loop import MissingData, NonFiniteLoss, build_model, evaluate, run
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
from lrux.train.steps import make_eval_step, make_train_step, masked_loss_and_correct

__all__ = [
    "Checkpointer",
    "MetricsLog",
    "MissingData",
    "NonFiniteLoss",
    "batch_sharding",
    "build_model",
    "evaluate",
    "global_batch",
    "init_distributed",
    "label_of_path",
    "make_eval_step",
    "make_mesh",
    "make_optimizer",
    "make_train_step",
    "masked_loss_and_correct",
    "param_labels",
    "read_metrics",
    "replicate",
    "replicated",
    "run",
    "warmup_cosine",
]
