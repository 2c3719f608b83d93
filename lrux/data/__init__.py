"""Long Range Arena data: loaders of the real release, generators, grain pipelines.

Importing this package imports numpy only (grain workers re-import it): `make_loader` and
`FinishBatch` live in `lrux.data.loader`, which imports grain (and jax), and are imported
on first use.

Modules: `spec` (tasks, `TaskSpec`, `Split`), `batch` (`Batch`, `finish_batch`), `loader`
(grain), `release` (the task-source table, locating, loading), `cache` (content-keyed
preprocessing cache), `listops` / `pathfinder` (generators), `generation` (atomic,
resumable writing with a completion marker), `ensure` (`ensure_data`), `text` / `images`
(readers of the release files), `synthetic` (`delayed_recall`), `workers` (the pool).
"""

import importlib
from typing import TYPE_CHECKING

from .batch import Batch, SplitSource, bucket_length, finish_batch, trim_batch
from .ensure import ensure_data
from .listops import generate_listops
from .pathfinder import generate_pathfinder
from .release import (
    DataStatus,
    data_present,
    data_status,
    find_task_dir,
    load_split,
    missing_data_message,
    prepare,
)
from .spec import (
    GENERATED_TASKS,
    SPLITS,
    TASKS,
    DataWarning,
    Split,
    TaskSpec,
    task_spec,
)
from .synthetic import delayed_recall

if TYPE_CHECKING:
    from .loader import FinishBatch, make_loader

_LAZY = {"make_loader": "lrux.data.loader", "FinishBatch": "lrux.data.loader"}

__all__ = [
    "GENERATED_TASKS",
    "SPLITS",
    "TASKS",
    "Batch",
    "DataStatus",
    "DataWarning",
    "FinishBatch",
    "Split",
    "SplitSource",
    "TaskSpec",
    "bucket_length",
    "data_present",
    "data_status",
    "delayed_recall",
    "ensure_data",
    "find_task_dir",
    "finish_batch",
    "generate_listops",
    "generate_pathfinder",
    "load_split",
    "make_loader",
    "missing_data_message",
    "prepare",
    "task_spec",
    "trim_batch",
]


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lrux.data' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
