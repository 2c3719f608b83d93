"""Checkpoints with orbax: the last one and the best one (by validation accuracy).

A checkpoint holds the training arrays (model parameters, batch-norm state, optimiser state,
RNG key) as a flat list of leaves, plus JSON metadata: the step, the data iterators' states
of every process, and the metrics. Orbax writes each step into a temporary folder and renames
it when complete, so a kill never leaves a half-written checkpoint behind.
"""

import base64
import json
import os
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from jax.experimental import multihost_utils


def _manager(path: str) -> ocp.CheckpointManager:
    options = ocp.CheckpointManagerOptions(
        max_to_keep=1, create=True, enable_async_checkpointing=False
    )
    return ocp.CheckpointManager(os.path.abspath(path), options=options)


def encode_state(state: Any) -> Any:
    """A data-iterator state (bytes, str or a JSON-able dict) as JSON-able data."""
    if isinstance(state, bytes | bytearray):
        return {"__bytes__": base64.b64encode(bytes(state)).decode("ascii")}
    return state


def decode_state(data: Any) -> Any:
    if isinstance(data, dict) and set(data) == {"__bytes__"}:
        return base64.b64decode(data["__bytes__"])
    return data


def gather_json(obj: Any) -> list[Any]:
    """Every process's JSON-able `obj`, in process order (a no-op list on one process)."""
    if jax.process_count() == 1:
        return [obj]
    raw = np.frombuffer(json.dumps(obj).encode(), dtype=np.uint8)
    lengths = multihost_utils.process_allgather(np.array([raw.size], np.int32))
    size = int(np.max(lengths))
    padded = np.zeros((size,), np.uint8)
    padded[: raw.size] = raw
    everyone = multihost_utils.process_allgather(padded)
    lengths = np.asarray(lengths).reshape(-1)
    everyone = np.asarray(everyone).reshape(len(lengths), size)
    return [json.loads(everyone[i, : lengths[i]].tobytes()) for i in range(len(lengths))]


class Checkpointer:
    """`directory/last` (saved every `save`) and `directory/best` (on a new best)."""

    def __init__(self, directory: str):
        self.directory = directory
        self.last = _manager(os.path.join(directory, "last"))
        self.best = _manager(os.path.join(directory, "best"))

    def save(self, step: int, arrays: Any, meta: dict[str, Any], *, best: bool = False) -> None:
        """Save `arrays` (any pytree of jax arrays) and `meta` at `step`; also as best."""
        leaves = jax.tree_util.tree_leaves(arrays)
        items = {f"{i:05d}": leaf for i, leaf in enumerate(leaves)}
        meta = dict(meta, step=int(step))
        for mgr in (self.last, self.best) if best else (self.last,):
            mgr.save(
                int(step),
                args=ocp.args.Composite(
                    arrays=ocp.args.StandardSave(items), meta=ocp.args.JsonSave(meta)
                ),
                force=True,
            )
            mgr.wait_until_finished()

    def latest_step(self, which: str = "last") -> int | None:
        return getattr(self, which).latest_step()

    def restore(self, like: Any, which: str = "last") -> tuple[Any, dict[str, Any]]:
        """Restore into the structure, shapes, dtypes and shardings of `like`."""
        mgr = getattr(self, which)
        step = mgr.latest_step()
        if step is None:
            raise FileNotFoundError(f"no {which} checkpoint in {self.directory}")
        leaves, treedef = jax.tree_util.tree_flatten(like)
        abstract = {
            f"{i:05d}": jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding)
            for i, x in enumerate(leaves)
        }
        out = mgr.restore(
            step,
            args=ocp.args.Composite(
                arrays=ocp.args.StandardRestore(abstract), meta=ocp.args.JsonRestore()
            ),
        )
        restored = [out["arrays"][f"{i:05d}"] for i in range(len(leaves))]
        return jax.tree_util.tree_unflatten(treedef, restored), dict(out["meta"])

    def close(self) -> None:
        self.last.close()
        self.best.close()
