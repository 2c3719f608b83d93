"""The grain pipeline over a `Split`: seeded shuffling, per-process sharding, padded `Batch`es.

The one module of `lrux.data` that imports grain (and so jax). Transforms are numpy-only
(grain workers are separate processes). The iterator's state (`it.get_state()` /
`it.set_state(state)`, or orbax through `grain.checkpoint`) restores the exact stream.
"""

import grain

from lrux.errors import DataError

from .batch import Batch, SplitSource, check_split_dtypes, finish_batch
from .spec import Split


class FinishBatch(grain.transforms.Map):
    """Pad/convert one batch with `finish_batch` (picklable for grain workers)."""

    def __init__(self, batch_size: int, kind: str, pad_to: int | None, mean, std):
        self.batch_size = batch_size
        self.kind = kind
        self.pad_to = pad_to
        self.mean = mean
        self.std = std

    def map(self, element) -> Batch:  # pyright: ignore[reportIncompatibleMethodOverride] (grain's Map.map declares no return type; pyright infers None)
        return finish_batch(element, batch_size=self.batch_size, kind=self.kind,
                            pad_to=self.pad_to, mean=self.mean, std=self.std)


def _check(split: Split, batch_size, pad_to, num_epochs, shard_index, shard_count) -> None:
    if batch_size < 1:
        raise DataError(f"batch_size={batch_size}: expected a positive batch size")
    if pad_to is not None and pad_to < 1:
        raise DataError(f"pad_to={pad_to}: expected a positive sequence length or None")
    if num_epochs is not None and num_epochs < 1:
        raise DataError(f"num_epochs={num_epochs}: expected a positive count or None")
    if not 0 <= shard_index < shard_count:
        raise DataError(f"shard_index={shard_index}, shard_count={shard_count}: expected "
                        "0 <= shard_index < shard_count")
    if len(split) < shard_count:
        raise DataError(f"split {split.task}/{split.split} has {len(split)} examples, fewer "
                        f"than shard_count={shard_count}")
    check_split_dtypes(split)


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
) -> grain.DataLoader:
    """A `grain.DataLoader` over `split` whose iterator yields `Batch`es (see `Batch`).

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
    if shard_index is None or shard_count is None:
        import jax

        shard_index = jax.process_index() if shard_index is None else shard_index
        shard_count = jax.process_count() if shard_count is None else shard_count
    _check(split, batch_size, pad_to, num_epochs, shard_index, shard_count)
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
    ops = [grain.transforms.Batch(batch_size=batch_size, drop_remainder=drop_remainder),
           FinishBatch(batch_size, split.spec.kind, pad_to, split.mean, split.std)]
    return grain.DataLoader(data_source=source, sampler=sampler, operations=ops,
                            worker_count=worker_count, worker_buffer_size=worker_buffer_size,
                            read_options=grain.ReadOptions(num_threads=int(read_threads),
                                                           prefetch_buffer_size=2 * batch_size))
