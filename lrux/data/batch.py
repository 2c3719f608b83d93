"""The batch type and the numpy half of the pipeline: a grain-style source over a `Split`
and the transform that pads and converts one batch. Numpy only (no grain, no jax).
"""

import warnings
from typing import NamedTuple, SupportsIndex

import numpy as np
from jaxtyping import Bool, Int32, Shaped

from lrux.errors import DataError

from .spec import Split


class Batch(NamedTuple):
    """One batch as the model consumes it, already converted (nothing casts it again).

    - `inputs`: `(batch, L)` int32 token ids, `(batch, 2, L)` for retrieval, or
      `(batch, L, C)` float32 pixels normalised as `(x / 255 - mean) / std`.
    - `lengths`: `(batch,)` or `(batch, 2)` int32 non-pad positions (for masked pooling).
    - `labels`: `(batch,)` int32 class ids.
    - `valid`: `(batch,)` bool, False on the zero rows that pad a final partial batch.

    A NamedTuple, so it is a jax pytree as it is. `batch["inputs"]` (the old dict batches)
    is deprecated and goes in lrux 0.2: use `batch.inputs`.
    """

    inputs: Shaped[np.ndarray, "batch ..."]
    lengths: Int32[np.ndarray, "batch *docs"]
    labels: Int32[np.ndarray, " batch"]
    valid: Bool[np.ndarray, " batch"]

    def __getitem__(self, key):
        if isinstance(key, str):
            warnings.warn(f"batch[{key!r}] is deprecated and goes in lrux 0.2; use "
                          f"batch.{key}", DeprecationWarning, stacklevel=2)
            if key not in self._fields:
                raise KeyError(key)
            return getattr(self, key)
        return tuple.__getitem__(self, key)


def _reopen(path: str) -> np.ndarray:
    return np.load(path, mmap_mode="r")


class SplitSource:
    """A grain random-access source: record i is a dict of row i of inputs/lengths/labels.

    Memmapped arrays pickle as their file name (cheap to send to grain workers).
    """

    def __init__(self, split: Split):
        self.inputs = split.inputs
        self.lengths = split.lengths
        self.labels = split.labels

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def __getitem__(self, index: SupportsIndex) -> dict[str, np.ndarray]:
        i = int(index)
        return {"inputs": np.asarray(self.inputs[i]), "lengths": np.asarray(self.lengths[i]),
                "labels": np.asarray(self.labels[i])}

    def __getstate__(self):
        state = {}
        for k in ("inputs", "lengths", "labels"):
            a = getattr(self, k)
            fn = getattr(a, "filename", None)
            state[k] = ("mmap", fn) if isinstance(a, np.memmap) and fn else ("array", a)
        return state

    def __setstate__(self, state):
        for k, (kind, v) in state.items():
            setattr(self, k, _reopen(v) if kind == "mmap" else v)

    def __repr__(self) -> str:
        return f"SplitSource(n={len(self)}, inputs={self.inputs.shape}:{self.inputs.dtype})"


def check_split_dtypes(split: Split) -> None:
    """Raise DataError unless `split` holds what the pipeline converts: integer token ids
    (tokens), uint8 pixels (pixels), integer lengths and labels. Never cast silently."""
    kind = split.spec.kind
    x = split.inputs
    if kind == "pixels" and x.dtype != np.uint8:
        raise DataError(f"{split.task}/{split.split}: pixel inputs are {x.dtype}, expected "
                        "uint8 (0..255; the pipeline normalises them)")
    if kind == "tokens" and not np.issubdtype(x.dtype, np.integer):
        raise DataError(f"{split.task}/{split.split}: token inputs are {x.dtype}, expected "
                        "integer ids")
    for name in ("lengths", "labels"):
        a = getattr(split, name)
        if not np.issubdtype(a.dtype, np.integer):
            raise DataError(f"{split.task}/{split.split}: {name} are {a.dtype}, expected "
                            "integers")


def finish_batch(batch: dict, *, batch_size: int, kind: str, pad_to: int | None,
                 mean, std) -> Batch:
    """Pad a (possibly partial) batch of rows to `batch_size`, mark `valid`, fix the sequence
    length to `pad_to` (truncating, lengths clipped, or zero-padding), and convert inputs:
    tokens to int32, pixels to float32 `(x / 255 - mean) / std`.

    `batch` holds `inputs` `(n, ...)`, `lengths` and `labels` `(n, ...)` with n <= batch_size.
    """
    x = np.asarray(batch["inputs"])
    lengths = np.asarray(batch["lengths"]).astype(np.int32)
    labels = np.asarray(batch["labels"]).astype(np.int32)
    n = x.shape[0]
    if n > batch_size:
        raise ValueError(f"finish_batch: {n} rows, more than batch_size={batch_size}")
    seq_axis = x.ndim - 2 if kind == "pixels" else x.ndim - 1
    if pad_to is not None and pad_to != x.shape[seq_axis]:
        if pad_to < x.shape[seq_axis]:
            x = np.take(x, np.arange(pad_to), axis=seq_axis)
            lengths = np.minimum(lengths, pad_to)
        else:
            widths = [(0, 0)] * x.ndim
            widths[seq_axis] = (0, pad_to - x.shape[seq_axis])
            x = np.pad(x, widths)
    if kind == "pixels":
        m = np.asarray(mean, np.float32)
        s = np.asarray(std, np.float32)
        x = (x.astype(np.float32) * np.float32(1 / 255) - m) / s
    else:
        x = x.astype(np.int32)
    valid = np.ones(batch_size, bool)
    if n < batch_size:
        extra = batch_size - n
        x = np.concatenate([x, np.zeros((extra,) + x.shape[1:], x.dtype)])
        lengths = np.concatenate([lengths, np.zeros((extra,) + lengths.shape[1:], np.int32)])
        labels = np.concatenate([labels, np.zeros(extra, np.int32)])
        valid[n:] = False
    return Batch(inputs=x, lengths=lengths, labels=labels, valid=valid)


def bucket_length(longest: int, stored: int, pad_multiple: int) -> int:
    """The sequence length a batch whose longest sequence is `longest` is padded to: that
    rounded up to a multiple of `pad_multiple`, at most `stored` (the split's length), and
    `stored` itself when `pad_multiple` is 0. Each length it takes compiles a step once."""
    if pad_multiple <= 0:
        return stored
    return min(stored, max(1, -(-int(longest) // pad_multiple)) * pad_multiple)


def trim_batch(batch: Batch, length: int, kind: str) -> Batch:
    """`batch` with its sequence axis cut to `length` positions (a view of the inputs).

    Only padding may be cut: every `lengths` entry must be <= `length` (ValueError
    otherwise), so no example changes, only the zeros after it.
    """
    if int(np.max(batch.lengths, initial=0)) > length:
        raise ValueError(f"trim_batch: a sequence of {int(np.max(batch.lengths))} positions "
                         f"does not fit length={length}")
    seq_axis = batch.inputs.ndim - 2 if kind == "pixels" else batch.inputs.ndim - 1
    index = [slice(None)] * batch.inputs.ndim
    index[seq_axis] = slice(0, length)
    return batch._replace(inputs=batch.inputs[tuple(index)])
