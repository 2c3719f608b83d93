"""Long Range Arena data: loaders of the real release, generators, grain pipelines.

Importing this package does not import jax or grain (grain workers re-import it);
`make_loader` imports grain when called.
"""

from .listops import generate_listops
from .loaders import (
    data_present,
    find_task_dir,
    load_split,
    missing_data_message,
    prepare,
)
from .pathfinder import generate_pathfinder
from .pipeline import SplitSource, finish_batch, make_loader
from .spec import SPLITS, TASKS, Split, TaskSpec, task_spec

__all__ = [
    "SPLITS",
    "TASKS",
    "Split",
    "SplitSource",
    "TaskSpec",
    "data_present",
    "find_task_dir",
    "finish_batch",
    "generate_listops",
    "generate_pathfinder",
    "load_split",
    "make_loader",
    "missing_data_message",
    "prepare",
    "task_spec",
]
