"""The data a run feeds its steps: the checked splits, the sharded training stream, and
evaluation over a whole split.

Every process reads its own shard of every batch; `global_batch` assembles the global batch
with `jax.make_array_from_process_local_data`.
"""

import math
import sys
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from lrux import data as lra
from lrux.errors import DataError
from lrux.presets import TRAIN_SIZE, Preset
from lrux.train.checkpoint import decode_state, encode_state
from lrux.train.sharding import fetch, global_batch


class MissingData(DataError):
    """A task's data is not in --data-dir and cannot be generated (text, retrieval, image)."""


def _log(msg: str) -> None:
    if jax.process_index() == 0:
        print(msg, file=sys.stderr, flush=True)


def ensure_data(preset: Preset, data_dir: str, log: Callable[[str], None] = _log) -> None:
    """Generate ListOps / Pathfinder / PathX into an absent or empty `data_dir` folder (on
    process 0, saying so); raise `MissingData` for text / retrieval / image without data,
    and the data layer's `DataError` for a partial or foreign set."""
    load = dict(preset.data.get("load", {}))
    generated = preset.task in lra.GENERATED_TASKS
    generate = dict(preset.data.get("generate", {})) if generated else None
    if jax.process_index() == 0:
        status = lra.data_status(preset.task, data_dir, **_locate(load))
        if status.state == "absent" and not generated:
            raise MissingData(lra.missing_data_message(preset.task, data_dir))
        lra.ensure_data(preset.task, data_dir, generate=generate, log=log, **load)
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("lrux-generate-data")


def _locate(load: dict) -> dict:
    return {k: v for k, v in load.items() if k in ("difficulty",)}


def load_splits(preset: Preset, data_dir: str) -> dict[str, lra.Split]:
    """The train / val / test splits of `preset`'s task, generated first where needed, and
    checked against the preset: a paper preset refuses a training split under half the size
    of the paper's (e.g. the smoke set the quickstart generates)."""
    ensure_data(preset, data_dir)
    load = dict(preset.data.get("load", {}))
    splits = {s: lra.load_split(preset.task, s, data_dir, **load) for s in lra.SPLITS}
    n, expected = len(splits["train"]), TRAIN_SIZE[preset.task]
    if preset.require_full_data and n < expected // 2:
        where = splits["train"].source or data_dir
        raise DataError(
            f"--preset {preset.name} trains on the paper's {preset.task} set ({expected:,} "
            f"training examples), but {where} holds {n:,} (a smoke-sized set?). Generate the "
            f"full set into another --data-dir, or pass --set require_full_data=false to "
            "train on this one"
        )
    for name, split in splits.items():
        if len(split) == 0:
            raise DataError(f"{preset.task}: the {name} split in {data_dir} is empty")
    return splits


def data_fingerprint(splits: dict[str, lra.Split]) -> str:
    """The content fingerprint of the data (the same for the three splits of one set)."""
    return ",".join(sorted({s.fingerprint for s in splits.values()}))


def _loader(split, *, batch_size, seed, train, shard_index, shard_count):
    return lra.make_loader(
        split, batch_size=batch_size, seed=seed, shuffle=train,
        num_epochs=None if train else 1, shard_index=shard_index, shard_count=shard_count,
        drop_remainder=train, pad_to=None,
    )


def _global_longest(batch: lra.Batch) -> int:
    """The longest sequence of the global batch (every process's part; one int gathered)."""
    local = int(np.max(batch.lengths, initial=0))
    if jax.process_count() == 1:
        return local
    from jax.experimental import multihost_utils

    return int(np.max(multihost_utils.process_allgather(np.asarray(local, np.int32))))


def bucketed(batch: lra.Batch, kind: str, pad_multiple: int) -> lra.Batch:
    """`batch` cut to the bucket of its global longest sequence (`lrux.data.bucket_length`:
    rounded up to `pad_multiple`; unchanged when 0). Every process cuts to the same length,
    so the parts still form one global array; only padding is cut."""
    if pad_multiple <= 0:
        return batch
    stored = batch.inputs.shape[-2 if kind == "pixels" else -1]
    length = lra.bucket_length(_global_longest(batch), stored, pad_multiple)
    return batch if length == stored else lra.trim_batch(batch, length, kind)


class ShardedIterator:
    """This process's part of the training stream: `data_shards` grain loaders in all (0 =
    one per process), of which this process reads its contiguous `data_shards / n_proc`,
    each `batch_size / data_shards` rows per step, concatenated in shard order, then cut to
    the bucket of the global batch's longest sequence (`pad_multiple`, see `bucketed`).

    The global batch is therefore the same for any process count that divides
    `data_shards`: a run on 2 processes sees exactly the batches of a run on 1 process with
    `data_shards=2`. The state is the list of the loaders' states.
    """

    def __init__(self, split, batch_size: int, data_shards: int, *, seed: int,
                 pad_multiple: int = 0):
        n_proc, pid = jax.process_count(), jax.process_index()
        shards = data_shards or n_proc
        if shards % n_proc or batch_size % shards:
            raise DataError(
                f"data_shards={shards} must be a multiple of the process count ({n_proc}) "
                f"and divide batch_size={batch_size}"
            )
        per = shards // n_proc
        self.kind, self.pad_multiple = split.spec.kind, pad_multiple
        self.iterators = [
            iter(_loader(split, batch_size=batch_size // shards, seed=seed, train=True,
                         shard_index=pid * per + i, shard_count=shards))
            for i in range(per)
        ]

    def __next__(self) -> Any:
        parts = [next(it) for it in self.iterators]
        batch = parts[0] if len(parts) == 1 else jax.tree_util.tree_map(
            lambda *xs: np.concatenate(xs), *parts)
        return bucketed(batch, self.kind, self.pad_multiple)

    def get_state(self) -> list:
        return [encode_state(it.get_state()) for it in self.iterators]

    def set_state(self, states: list) -> None:
        if len(states) != len(self.iterators):
            raise DataError(
                f"the checkpoint holds {len(states)} data-iterator states for this process, "
                f"expected {len(self.iterators)} (data_shards or the process count changed)"
            )
        for it, st in zip(self.iterators, states, strict=True):
            it.set_state(decode_state(st))


def evaluate(model, bn_state, split, *, batch_size: int, mesh, eval_step, seed: int,
             pad_multiple: int = 0) -> dict:
    """Loss and accuracy over the WHOLE split (padding rows masked by `valid`), each batch
    cut to the bucket of its longest sequence (`pad_multiple`, see `bucketed`).

    Each process reads its shard; processes whose shard has fewer batches feed all-invalid
    batches so that every process runs the same number of steps.
    """
    n_proc, pid = jax.process_count(), jax.process_index()
    local_bs = batch_size // n_proc
    n_batches = max(1, math.ceil(math.ceil(len(split) / n_proc) / local_bs))
    it = iter(_loader(split, batch_size=local_bs, seed=seed, train=False, shard_index=pid,
                      shard_count=n_proc))
    template = None
    totals = np.zeros(3)
    for _ in range(n_batches):
        try:
            batch = template = next(it)
        except StopIteration:
            if template is None:  # this process's shard is empty: any batch, all invalid
                template = next(iter(_loader(
                    split, batch_size=local_bs, seed=seed, train=False, shard_index=0,
                    shard_count=1)))
            batch = template._replace(valid=np.zeros_like(template.valid))
        batch = bucketed(batch, split.spec.kind, pad_multiple)
        out = eval_step(model, bn_state, global_batch(batch, mesh))
        totals += np.array([float(fetch(x)) for x in out])
    loss_sum, correct, count = totals
    return {
        "loss": float(loss_sum / max(count, 1.0)),
        "accuracy": float(correct / max(count, 1.0)),
        "count": int(count),
    }
