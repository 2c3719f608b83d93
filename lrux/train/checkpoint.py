"""Checkpoints with one orbax `CheckpointManager`: the newest and the best (by validation).

`RUN_DIR/checkpoints/<step>/` holds one checkpoint: the model's arrays, the batch-norm state,
the optimiser state and the RNG key, each saved as a nested dict keyed by the tree's own key
paths (`encoder/blocks/0/mixer/nu_log`), so the model can be restored without rebuilding the
optimiser (`restore(..., items=("model", "bn_state"))`), plus JSON metadata (the step, every
process's data-iterator state, the validation accuracy of that step if it was evaluated).
The manager ranks checkpoints by their own validation accuracy (`best_fn`); after each save
every checkpoint that is neither the newest nor the best is deleted. A best checkpoint and its
validation record are therefore one thing on disk: no kill can separate them.

Orbax writes each step into a temporary folder and renames it when complete, so a kill never
leaves a half-written checkpoint that looks complete; a failed save (a full disk) leaves the
earlier checkpoints as they were and raises `CheckpointError` naming the folder. What orbax,
its worker threads and TensorStore print while saving or reading goes into the log file
(`RUN_DIR/lrux.log`), not the terminal: the user sees one line.
"""

import base64
import contextlib
import datetime
import json
import logging
import os
import shutil
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from etils import epath
from jax.experimental import multihost_utils
from jax.tree_util import DictKey, FlattenedIndexKey, GetAttrKey, SequenceKey

from lrux.errors import LruxError

ITEMS = ("model", "bn_state", "opt_state", "key")


class CheckpointError(LruxError):
    """A checkpoint could not be written or read."""


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


def _key_name(key: Any) -> str:
    if isinstance(key, GetAttrKey):
        return key.name
    if isinstance(key, DictKey):
        return str(key.key)
    if isinstance(key, SequenceKey):
        return str(key.idx)
    if isinstance(key, FlattenedIndexKey):
        return str(key.key)
    return str(key)


def _is_array(x: Any) -> bool:
    return isinstance(x, jax.Array | np.ndarray)


def tree_to_nested(tree: Any) -> dict[str, Any]:
    """The array leaves of `tree` as a nested dict keyed by the names of their key paths."""
    out: dict[str, Any] = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
        if not _is_array(leaf):
            continue
        names = [_key_name(k) for k in path] or ["value"]
        node = out
        for name in names[:-1]:
            node = node.setdefault(name, {})
        node[names[-1]] = leaf
    return out


def nested_to_tree(like: Any, nested: dict[str, Any]) -> Any:
    """`like` with each array leaf replaced by the entry of `nested` at its key path."""

    def get(path, leaf):
        if not _is_array(leaf):
            return leaf
        node = nested
        for name in [_key_name(k) for k in path] or ["value"]:
            node = node[name]
        return node

    return jax.tree_util.tree_map_with_path(get, like)


def _abstract(tree: Any) -> Any:
    def spec(x):
        sharding = getattr(x, "sharding", None)
        return jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=sharding)

    return jax.tree_util.tree_map(spec, tree_to_nested(tree))


def _nbytes(items: dict[str, Any]) -> int:
    return sum(int(getattr(x, "nbytes", 0)) for x in jax.tree_util.tree_leaves(items))


class _NoUnevaluatedWarning(logging.Filter):
    """Checkpoints saved between evaluations carry no metrics by design; orbax warns about
    each of them ("Requested `tracked_metric`; did not provide metrics")."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "did not provide metrics" not in record.getMessage()


logging.getLogger("absl").addFilter(_NoUnevaluatedWarning())


class _NoWorkerEchoes(logging.Filter):
    """After a failed save, orbax's worker threads go on logging the same failure, and
    asyncio logs its never-retrieved futures (Python its never-awaited coroutines) at exit,
    while the run is already stopping. CheckpointError carries the cause, so these echoes
    are dropped and the run's `error:` line stays the last one."""

    ECHOES = ("_SignalingThread.run() raised", "exception was never retrieved")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(echo in message for echo in self.ECHOES)


def _join_orbax_workers(timeout_s: float = 30.0) -> None:
    """Wait for orbax's background save threads (its `_SignalingThread`s) to end."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and type(thread).__name__ == "_SignalingThread":
            threading.Thread.join(thread, timeout_s)  # the plain join: orbax's re-raises


KEEP_CHARS = 16_000  # of what one save or read printed, into the log (the first error first)


class Captured:
    """What `stderr_to` caught: `kept` is True once it is in the log file."""

    kept = False


@contextlib.contextmanager
def stderr_to(log: str, what: str) -> Iterator[Captured]:
    """Everything written to stderr in the block (Python's `sys.stderr`, and file descriptor 2:
    orbax's worker threads, TensorStore's C++ messages) goes through a pipe (no disk: the disk
    may be what failed) and is appended to the file `log` afterwards, after a line naming
    `what` (its first `KEEP_CHARS` characters); nothing is written when nothing was printed,
    and nothing is shown when the log cannot be written."""
    captured, chunks = Captured(), []
    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    saved_fd, saved_py = os.dup(2), sys.stderr
    os.dup2(write_fd, 2)
    os.close(write_fd)
    sys.stderr = os.fdopen(os.dup(2), "w", buffering=1, encoding="utf-8", errors="replace")
    try:
        yield captured
    finally:
        with contextlib.suppress(OSError, ValueError):
            sys.stderr.close()
        sys.stderr = saved_py
        os.dup2(saved_fd, 2)  # the pipe's last write end closes: the reader sees its end
        os.close(saved_fd)
        reader.join(timeout=10)
        os.close(read_fd)
        text = b"".join(chunks).decode("utf-8", "replace")
        if text:
            captured.kept = _keep(log, what, text)


def _drain(fd: int, chunks: list) -> None:
    size = 0
    while data := os.read(fd, 65536):
        if size < 4 * KEEP_CHARS:
            chunks.append(data)
            size += len(data)


def _keep(log: str, what: str, text: str) -> bool:
    stamp = datetime.datetime.now().isoformat(timespec="seconds")
    if len(text) > KEEP_CHARS:
        text = text[:KEEP_CHARS] + f"\n[... {len(text) - KEEP_CHARS} more characters]\n"
    try:
        with open(log, "a") as f:
            f.write(f"--- {stamp} {what}\n{text}")
        return True
    except OSError:
        return False


def _val_accuracy(metrics: Any) -> float:
    return float(metrics["val_accuracy"])


class Checkpointer:
    """`directory/<step>/`: keeps the newest checkpoint and the best by validation accuracy."""

    def __init__(self, directory: str, *, log: str | None = None, create: bool = True):
        """`log`: the file that receives what orbax prints (default: `lrux.log` beside
        `directory`); `create=False` reads an existing folder only."""
        self.directory = os.path.abspath(directory)
        self.log = log or os.path.join(os.path.dirname(self.directory), "lrux.log")
        options = ocp.CheckpointManagerOptions(
            best_fn=_val_accuracy, best_mode="max", keep_checkpoints_without_metrics=True,
            create=create, enable_async_checkpointing=False,
        )
        with self._quiet("opening the checkpoints"):
            self.manager = ocp.CheckpointManager(self.directory, options=options)

    def _quiet(self, what: str):
        return stderr_to(self.log, f"{what} in {self.directory}")

    def save(
        self, step: int, items: dict[str, Any], meta: dict[str, Any], *,
        val_accuracy: float | None = None,
    ) -> None:
        """Save `items` (name -> pytree of arrays, see ITEMS) and JSON `meta` at `step`."""
        meta = dict(meta, step=int(step), val_accuracy=val_accuracy)
        args = {name: ocp.args.StandardSave(tree_to_nested(tree)) for name, tree in items.items()}
        metrics = None if val_accuracy is None else {"val_accuracy": float(val_accuracy)}
        self._check_free_space(step, items)
        with self._quiet(f"saving the checkpoint of step {step}") as captured:
            try:
                self.manager.save(int(step), args=ocp.args.Composite(
                    **args, meta=ocp.args.JsonSave(meta)), metrics=metrics, force=True)
                self.manager.wait_until_finished()
            except Exception as e:  # a full disk, a read-only folder, ...: keep the old ones
                for name in ("absl", "asyncio"):
                    logging.getLogger(name).addFilter(_NoWorkerEchoes())
                warnings.filterwarnings("ignore", "coroutine .* was never awaited",
                                        RuntimeWarning)
                _join_orbax_workers()  # they may still be writing into the partial folder
                self._remove_partial(step)
                kept = ", ".join(map(str, self.steps())) or "none"
                why = " ".join(f"{type(e).__name__}: {e}".split())[:300]
                error = CheckpointError(
                    f"could not save the checkpoint of step {step} in {self.directory} "
                    f"({why}); the earlier checkpoints (steps {kept}) are intact")
            else:
                error = None
                self._prune()
        if error is not None:
            details = f"; details in {self.log}" if captured.kept else ""
            raise CheckpointError(f"{error}{details}") from error.__cause__

    def _check_free_space(self, step: int, items: dict[str, Any]) -> None:
        """Refuse a save that cannot fit on the disk before writing anything."""
        need = int(1.1 * _nbytes(items)) + 256 * 1024
        free = shutil.disk_usage(self.directory).free
        if free < need:
            kept = ", ".join(map(str, self.steps())) or "none"
            raise CheckpointError(
                f"not enough disk space to save the checkpoint of step {step} in "
                f"{self.directory}: {free / 2**20:.1f} MiB free, about {need / 2**20:.1f} MiB "
                f"needed; the earlier checkpoints (steps {kept}) are intact. Free some space "
                "and continue with --resume"
            )

    def _remove_partial(self, step: int) -> None:
        if jax.process_index() != 0 or not os.path.isdir(self.directory):
            return
        for name in os.listdir(self.directory):
            if name.startswith(f"{step}.orbax-checkpoint-tmp") or name == f"{step}.tmp":
                shutil.rmtree(os.path.join(self.directory, name), ignore_errors=True)
        try:
            self.manager.reload()
        except Exception:  # noqa: BLE001 - reload is best effort after a failed save
            pass

    def _prune(self) -> None:
        keep = {self.latest_step(), self.best_step()}
        for step in self.steps():
            if step not in keep:
                self.manager.delete(step)

    def steps(self) -> list[int]:
        """Saved steps, newest first."""
        return sorted(self.manager.all_steps(), reverse=True)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        """The step with the highest validation accuracy among saved ones (None if none of
        them was evaluated)."""
        return self.manager.best_step() if self.steps() else None

    def meta(self, step: int) -> dict[str, Any]:
        """The JSON metadata of `step` (without reading its arrays)."""
        with self._quiet(f"reading the metadata of step {step}"):
            out = self.manager.restore(step, args=ocp.args.Composite(
                meta=ocp.args.JsonRestore()))
        return dict(out["meta"])

    def shapes(self, step: int, name: str) -> dict[str, tuple] | None:
        """{"encoder/blocks/0/mixer/B_re": (shape, dtype)} of item `name` at `step`, from its
        metadata (no array is read); None when the metadata cannot be read."""
        path = epath.Path(self.directory) / str(step) / name
        try:
            with self._quiet(f"reading the array metadata of step {step}"):
                tree = ocp.StandardCheckpointHandler().metadata(path)
        except Exception:  # noqa: BLE001 - no metadata: the caller reads the arrays instead
            return None
        tree = getattr(tree, "item_metadata", tree)
        out = {}
        for keys, leaf in jax.tree_util.tree_flatten_with_path(tree)[0]:
            dtype = getattr(leaf, "dtype", None)
            out["/".join(_key_name(k) for k in keys)] = (
                tuple(getattr(leaf, "shape", ())), str(np.dtype(dtype)) if dtype else "?")
        return out

    def restore(
        self, like: dict[str, Any], step: int, *, items: Sequence[str] | None = None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Restore `items` (default: all of `like`) of `step` into the structure, shapes,
        dtypes and shardings of `like[name]`; returns (restored items, meta)."""
        names = list(items if items is not None else like)
        args = {n: ocp.args.StandardRestore(_abstract(like[n])) for n in names}
        with self._quiet(f"reading the checkpoint of step {step}"):
            out = self.manager.restore(
                step, args=ocp.args.Composite(**args, meta=ocp.args.JsonRestore())
            )
        restored = {n: nested_to_tree(like[n], out[n]) for n in names}
        return restored, dict(out["meta"])

    def mismatch(self, like: dict[str, Any], step: int, items: Sequence[str]) -> str | None:
        """How the arrays saved at `step` differ from `like`'s (the first array whose shape
        or dtype differs, one missing or one extra), from the metadata alone; None when
        they agree or the metadata cannot be read."""
        for name in items:
            saved = self.shapes(step, name)
            if saved is None:
                return None
            want = {"/".join(_key_name(k) for k in keys): (tuple(x.shape), str(x.dtype))
                    for keys, x in jax.tree_util.tree_flatten_with_path(
                        tree_to_nested(like[name]))[0]}
            for path in sorted(set(saved) | set(want)):
                a, b = saved.get(path), want.get(path)
                if a != b:
                    there = f"{a[0]} {a[1]}" if a else "absent"
                    here = f"{b[0]} {b[1]}" if b else "absent"
                    return f"{name}/{path} is {there} in the checkpoint, {here} here"
        return None

    def set_aside(self, step: int, reason: str) -> str:
        """Move an unreadable checkpoint to `directory/unreadable-<step>` (never deleted)."""
        src = os.path.join(self.directory, str(step))
        dst = os.path.join(self.directory, f"unreadable-{step}")
        if jax.process_index() == 0 and os.path.isdir(src):
            os.replace(src, dst)
            with open(os.path.join(dst, "WHY.txt"), "w") as f:
                f.write(reason + "\n")
        if jax.process_count() > 1:
            multihost_utils.sync_global_devices(f"lrux-set-aside-{step}")
        self.manager.reload()
        return dst

    def close(self) -> None:
        with self._quiet("closing the checkpoints"):
            self.manager.close()
