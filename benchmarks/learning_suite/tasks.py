"""The suite's data: generated short ListOps, delayed recall, Pathfinder-32, as host arrays
that hand out model batches (`Dataset.batch`). Generated data are cached under --data-dir."""

import os
from typing import Any

import numpy as np

from .config import Config


class Dataset:
    """Host arrays of one split in the `lrux.data` layout: inputs (n, L) tokens or
    (n, L, C) uint8 pixels, lengths (n,), labels (n,); `kind` "tokens" or "pixels"."""

    def __init__(self, inputs: np.ndarray, lengths: np.ndarray, labels: np.ndarray,
                 kind: str):
        self.inputs, self.lengths, self.labels, self.kind = inputs, lengths, labels, kind

    @classmethod
    def of(cls, split: Any) -> "Dataset":
        """From a `lrux.data.Split` (or anything with inputs, lengths, labels, spec)."""
        return cls(np.asarray(split.inputs), np.asarray(split.lengths),
                   np.asarray(split.labels), split.spec.kind)

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    @property
    def seq_len(self) -> int:
        return int(self.inputs.shape[1])

    def head(self, n: int) -> "Dataset":
        return Dataset(self.inputs[:n], self.lengths[:n], self.labels[:n], self.kind)

    def batch(self, idx: np.ndarray, batch_size: int):
        """Rows `idx` as a model batch, padded to `batch_size` with valid=False rows; pixels
        scaled to [-1, 1] ("symmetric", as the Pathfinder loaders)."""
        from lrux.data import finish_batch

        raw = {"inputs": self.inputs[idx], "lengths": self.lengths[idx],
               "labels": self.labels[idx]}
        return finish_batch(raw, batch_size=batch_size, kind=self.kind, pad_to=None,
                            mean=0.5, std=0.5)


def delayed_recall(n: int, length: int, *, classes: int, distractors: int,
                   seed: int) -> Dataset:
    """n delayed-recall sequences of `length` tokens (`lrux.data.delayed_recall`: remember
    the cue at position 0 until the last position; vocab 1 + classes + distractors)."""
    from lrux.data import delayed_recall as generate

    return Dataset.of(generate(n, length, classes=classes, distractors=distractors, seed=seed))


def recall_splits(cfg: Config) -> tuple[Dataset, Dataset]:
    """(train, test): steps x batch fresh training sequences (seed 0), test from seed 1."""
    kw = dict(classes=cfg.recall_classes, distractors=cfg.recall_distractors)
    return (delayed_recall(cfg.recall_steps * cfg.recall_batch, cfg.length, seed=0, **kw),
            delayed_recall(cfg.recall_eval, cfg.length, seed=1, **kw))


def listops_splits(cfg: Config, base: str) -> tuple[Dataset, Dataset]:
    """(train, test) of generated ListOps with listops_min < tokens < listops_max."""
    from lrux.data import data_present, generate_listops, load_split

    d = os.path.join(base, f"listops_{cfg.listops_train}_{cfg.listops_eval}_"
                           f"{cfg.listops_min}_{cfg.listops_max}")
    opts = dict(max_length=cfg.listops_max, progress=False)
    if not data_present("listops", d, **opts):
        generate_listops(d, train=cfg.listops_train, val=cfg.listops_eval,
                         test=cfg.listops_eval, min_length=cfg.listops_min,
                         max_length=cfg.listops_max, seed=0, workers=1, progress=False)
    train, test = (Dataset.of(load_split("listops", s, d, **opts)) for s in ("train", "test"))
    return train, test


def pathfinder_splits(cfg: Config, base: str) -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) of generated Pathfinder-32 (difficulty 14), 80/10/10."""
    from lrux.data import data_present, generate_pathfinder, load_split

    d = os.path.join(base, f"pathfinder32_{cfg.pf_images}")
    opts = dict(difficulty=14, progress=False, workers=1)
    if not data_present("pathfinder", d, **opts):
        generate_pathfinder(d, 32, 14, cfg.pf_images, seed=0, workers=1, progress=False)
    splits = tuple(Dataset.of(load_split("pathfinder", s, d, **opts))
                   for s in ("train", "val", "test"))
    return splits[0], splits[1], splits[2]


def token_spec(name: str, num_classes: int, seq_len: int, vocab_size: int):
    from lrux.data import TaskSpec

    return TaskSpec(name, num_classes, seq_len, "tokens", vocab_size=vocab_size)


def pixel_spec(name: str, num_classes: int, seq_len: int, channels: int):
    from lrux.data import TaskSpec

    return TaskSpec(name, num_classes, seq_len, "pixels", channels=channels)
