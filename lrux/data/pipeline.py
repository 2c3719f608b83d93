"""grain pipelines over `Split`s: seeded shuffling, per-process sharding, padded batches.

Transforms are numpy-only (grain workers are separate processes). The iterator's state
(`it.get_state()` / `it.set_state(state)`, or orbax through `grain.checkpoint`) restores the
exact stream of batches.
"""

import numpy as np

from .spec import Split


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

    def __getitem__(self, i):
        i = int(i)
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


def finish_batch(batch: dict, *, batch_size: int, kind: str, pad_to: int | None,
                 mean, std) -> dict:
    """Pad a (possibly partial) batch to `batch_size` rows, mark `valid`, fix the sequence
    length to `pad_to` (truncating, lengths clipped, or zero-padding), and convert inputs:
    tokens to int32, pixels to float32 `(x / 255 - mean) / std`.
    """
    x = np.asarray(batch["inputs"])
    lengths = np.asarray(batch["lengths"]).astype(np.int32)
    labels = np.asarray(batch["labels"]).astype(np.int32)
    n = x.shape[0]
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
    return {"inputs": x, "lengths": lengths, "labels": labels, "valid": valid}


def make_loader(
    split: Split,
    *,
    batch_size: int,
    seed: int = 0,
    shuffle: bool = True,
    num_epochs: int | None = None,
    shard_index: int | None = None,
    shard_count: int | None = None,
    drop_remainder: bool = False,
    pad_to: int | None = None,
    worker_count: int = 0,
    worker_buffer_size: int = 1,
    read_threads: int = 0,
):
    """A `grain.DataLoader` over `split` yielding dicts of numpy arrays.

    - `inputs`: `(B, L)` int32 tokens, `(B, 2, L)` for retrieval, `(B, L, C)` float32
      normalised pixels; `lengths` `(B,)` / `(B, 2)` int32; `labels` `(B,)` int32; `valid`
      `(B,)` bool, False on the zero rows that pad a final partial batch to `batch_size`.
    - `shuffle` with `seed` reshuffles every epoch; `num_epochs=None` repeats forever.
    - `shard_index` / `shard_count` default to `jax.process_index()` / `jax.process_count()`
      (each host reads its own 1/shard_count of every epoch; batch_size is per host).
    - `drop_remainder` drops the final partial batch (and makes shards equal-sized).
    - `pad_to`: sequence length of `inputs` (None: the split's L; shorter truncates).
    - `worker_count`: grain worker processes (0: in this process); `read_threads`: grain
      reader threads per process (0 reads inline: rows are memmap slices, and grain's thread
      pool costs more than it saves here).
    Epochs run back to back: with `num_epochs > 1` batches straddle epoch boundaries and only
    the very last batch can be partial (use `num_epochs=1` for evaluation).
    The iterator (`iter(loader)`) has `get_state()` / `set_state()` for exact restarts.
    """
    import grain

    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size}: expected a positive batch size")
    if pad_to is not None and pad_to < 1:
        raise ValueError(f"pad_to={pad_to}: expected a positive sequence length or None")
    if num_epochs is not None and num_epochs < 1:
        raise ValueError(f"num_epochs={num_epochs}: expected a positive count or None")
    if shard_index is None or shard_count is None:
        import jax

        shard_index = jax.process_index() if shard_index is None else shard_index
        shard_count = jax.process_count() if shard_count is None else shard_count
    if not 0 <= shard_index < shard_count:
        raise ValueError(f"shard_index={shard_index}, shard_count={shard_count}: expected "
                         "0 <= shard_index < shard_count")
    if len(split) < shard_count:
        raise ValueError(f"split {split.task}/{split.split} has {len(split)} examples, fewer "
                         f"than shard_count={shard_count}")
    if worker_count > 0:
        # grain <= 0.2.18 reads an absl flag in worker setup and fails when the script did not
        # parse absl flags (google/grain#1355); defaults are what such a script wants.
        from absl import flags

        if not flags.FLAGS.is_parsed():
            flags.FLAGS.mark_as_parsed()
    source = SplitSource(split)
    shard = grain.sharding.ShardOptions(shard_index=int(shard_index),
                                        shard_count=int(shard_count),
                                        drop_remainder=bool(drop_remainder))
    sampler = grain.samplers.IndexSampler(num_records=len(source), shard_options=shard,
                                          shuffle=bool(shuffle), num_epochs=num_epochs,
                                          seed=int(seed) if shuffle else None)

    from ._grain_ops import FinishBatch

    ops = [grain.transforms.Batch(batch_size=batch_size, drop_remainder=drop_remainder),
           FinishBatch(batch_size, split.spec.kind, pad_to, split.mean, split.std)]
    return grain.DataLoader(data_source=source, sampler=sampler, operations=ops,
                            worker_count=worker_count, worker_buffer_size=worker_buffer_size,
                            read_options=grain.ReadOptions(num_threads=int(read_threads),
                                                           prefetch_buffer_size=2 * batch_size))
