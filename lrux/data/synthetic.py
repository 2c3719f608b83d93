"""Synthetic tasks that need no files: the one long-memory toy task of lrux."""

import hashlib

import numpy as np

from lrux.errors import DataError

from .spec import Split, TaskSpec


def delayed_recall(n: int, length: int, *, classes: int = 8, distractors: int = 8,
                   seed: int = 0, split: str = "train") -> Split:
    """Delayed recall as token sequences: remember the first token until the end.

    Example i is `length` token ids: position 0 holds the cue `1 + c_i` (class
    c_i ~ U{0..classes-1}), positions 1..length-1 hold distractors drawn uniformly from
    `classes + 1 .. classes + distractors` (never a cue id); the label is c_i. Vocabulary:
    0 pad (unused), 1..classes cues, then the distractors (`vocab_size = 1 + classes +
    distractors`); every length is `length`. A model must carry the cue over
    `length - 1` steps (read it out at the last position, e.g. pooling "last"); chance is
    1 / classes. Deterministic in (seed, length, classes, distractors): draws come from
    `numpy.random.default_rng([seed, length, classes, distractors])`, labels first, then
    the (n, length) distractor grid, then position 0 is overwritten by the cue.

    Returns a `Split` (task "delayed_recall", int32 inputs `(n, length)`), usable with
    `make_loader`. Use different seeds for training and evaluation sets.
    """
    if length < 2:
        raise DataError(f"length={length}: delayed recall needs length >= 2")
    if classes < 2 or distractors < 1:
        raise DataError(f"classes={classes}, distractors={distractors}: expected >= 2, >= 1")
    if n < 0:
        raise DataError(f"n={n}: expected a non-negative number of examples")
    rng = np.random.default_rng([seed, length, classes, distractors])
    labels = rng.integers(0, classes, n).astype(np.int32)
    x = rng.integers(classes + 1, classes + 1 + distractors, (n, length)).astype(np.int32)
    x[:, 0] = labels + 1
    spec = TaskSpec("delayed_recall", classes, length, "tokens",
                    vocab_size=1 + classes + distractors)
    key = f"{n} {length} {classes} {distractors} {seed}".encode()
    return Split(task="delayed_recall", split=split, spec=spec, inputs=x,
                 lengths=np.full(n, length, np.int32), labels=labels,
                 source="lrux.data.delayed_recall",
                 fingerprint=f"delayed_recall-{hashlib.sha256(key).hexdigest()[:20]}")
