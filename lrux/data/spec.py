"""Task specifications and the in-memory split container of the LRA data contract."""

import dataclasses
from typing import Any, Literal

import numpy as np

from lrux.checks import POSITIVE, SEED, Range, problem
from lrux.errors import DataError

TASKS = ("listops", "text", "retrieval", "image", "pathfinder", "pathx")
SPLITS = ("train", "val", "test")
GENERATED_TASKS = ("listops", "pathfinder", "pathx")  # lrux can generate these itself

# Pathfinder difficulty (contour length in paddles) -> release folder name.
PATHFINDER_DIFFICULTY_DIRS = {
    6: "curv_baseline",
    9: "curv_contour_length_9",
    14: "curv_contour_length_14",
}
# Image side of the two Pathfinder tasks (PathX is Pathfinder at 128 x 128).
PATH_SIZES = {"pathfinder": 32, "pathx": 128}

# Every load option (`load_split` keyword): name -> (declared type, range). Which of them a
# task takes: `lrux.data.release.SOURCES[task].defaults` and `LOADER_OPTIONS`.
LOAD_OPTIONS: dict[str, tuple[Any, Range | None]] = {
    "max_length": (int, POSITIVE),
    "tokenizer": (Literal["bytes", "chars"], None),
    "min_freq": (int, POSITIVE),
    "grayscale": (bool, None),
    "val_split": (Literal["last", "random"], None),
    "val_fraction": (float, Range(0, 1, lo_open=True, hi_open=True)),
    "split_seed": (int, SEED),
    "difficulty": (Literal[6, 9, 14], None),  # PATHFINDER_DIFFICULTY_DIRS
    "normalize": (Literal["symmetric", "unit"], None),
    "cache_dir": (str | None, None),
    "cache": (bool, None),
    "progress": (bool, None),
    "workers": (int | None, POSITIVE),
}


class DataWarning(UserWarning):
    """Something in the data that lrux kept or left out, counted and named (never silent)."""


# CIFAR-10 normalisation (values in [0, 1] units), lra-data.md.
CIFAR_RGB_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_RGB_STD = (0.247, 0.243, 0.261)
CIFAR_GRAY_MEAN = (122.6 / 255.0,)
CIFAR_GRAY_STD = (61.0 / 255.0,)


@dataclasses.dataclass(frozen=True)
class TaskSpec:
    """Static facts about one LRA task.

    `kind` is "tokens" (integer ids, `vocab_size` set, `channels` None) or "pixels" (uint8
    images flattened to a sequence of `seq_len` pixels with `channels` channels).
    `dual` is True for Retrieval, whose examples hold two documents.
    """

    name: str
    num_classes: int
    seq_len: int
    kind: str
    vocab_size: int | None = None
    channels: int | None = None
    dual: bool = False
    pad_id: int = 0


_SPECS = {
    "listops": TaskSpec("listops", 10, 2048, "tokens", vocab_size=16),
    "text": TaskSpec("text", 2, 4096, "tokens", vocab_size=257),
    "retrieval": TaskSpec("retrieval", 2, 4000, "tokens", vocab_size=257, dual=True),
    "image": TaskSpec("image", 10, 1024, "pixels", channels=3),
    "pathfinder": TaskSpec("pathfinder", 2, 1024, "pixels", channels=1),
    "pathx": TaskSpec("pathx", 2, 16384, "pixels", channels=1),
}


def check_task(task: str) -> str:
    """Return the canonical task name or raise DataError naming the valid ones."""
    name = str(task).lower().replace("-", "_")
    aliases = {"cifar": "image", "scifar": "image", "imdb": "text", "aan": "retrieval",
               "path_x": "pathx", "path32": "pathfinder"}
    name = aliases.get(name, name)
    if name not in _SPECS:
        raise DataError(f"task={task!r}: expected one of {', '.join(TASKS)}")
    return name


def task_spec(task: str, **options) -> TaskSpec:
    """The `TaskSpec` of `task` with its default options.

    Options that change the spec: `max_length` (token tasks), `grayscale` (image),
    `tokenizer` ("bytes" or "chars"; with "chars" the vocabulary is built from the training
    data, so its size is only known from `Split.spec` after loading: here it is None).
    """
    name = check_task(task)
    spec = _SPECS[name]
    for k in ("max_length", "grayscale", "tokenizer"):
        why = problem(options[k], *LOAD_OPTIONS[k]) if k in options else None
        if why is not None:
            raise DataError(f"{k}={options[k]!r}: {why}")
    if options.get("max_length") is not None and spec.kind == "tokens":
        spec = dataclasses.replace(spec, seq_len=int(options["max_length"]))
    if name == "image" and options.get("grayscale"):
        spec = dataclasses.replace(spec, channels=1)
    if name in ("text", "retrieval") and options.get("tokenizer", "bytes") == "chars":
        spec = dataclasses.replace(spec, vocab_size=None)
    return spec


@dataclasses.dataclass
class Split:
    """One split of one task, as numpy arrays (possibly read-only memmaps).

    - `inputs`: `(n, L)` token ids (uint16/int32, pad 0), `(n, 2, L)` for retrieval, or
      `(n, L, C)` uint8 pixels.
    - `lengths`: `(n,)` (or `(n, 2)` for retrieval) number of non-pad tokens / pixels.
    - `labels`: `(n,)` int32 class ids.
    - `mean`, `std`: per-channel normalisation in [0, 1] units applied by the pipeline to
      pixel tasks (`(x / 255 - mean) / std`), None for token tasks.
    - `vocab`: for the "chars" tokenizer, the characters of ids 2.. (0 pad, 1 unknown).
    - `skipped`: unreadable images left out (Pathfinder); `source`: the folder read.
    - `fingerprint`: a content hash of the source files and the load options (the same for
      the three splits of one data set; "" for a hand-built split). Record it with a run.
    """

    task: str
    split: str
    spec: TaskSpec
    inputs: np.ndarray
    lengths: np.ndarray
    labels: np.ndarray
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    vocab: str | None = None
    skipped: int = 0
    source: str = ""
    fingerprint: str = ""

    def __len__(self) -> int:
        return int(self.labels.shape[0])
