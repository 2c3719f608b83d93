"""The run directory: what is in it, whether it may be (re)used, its lock, and resume's
config check.

    RUN_DIR/config.json      the preset and everything else the run was started with
    RUN_DIR/metrics.jsonl    one JSON record per log point / evaluation / test
    RUN_DIR/checkpoints/     orbax checkpoints (the newest and the best by validation)
    RUN_DIR/summary.json     written when the run has finished (test at the best checkpoint)
    RUN_DIR/lrux.lock        while a process runs there: its pid, host and start time
    RUN_DIR/lrux.log         details of failures (orbax's worker-thread messages), if any
"""

import contextlib
import datetime
import errno
import fcntl
import json
import os
import socket
from collections.abc import Iterator
from typing import Any

from lrux.errors import ConfigError

# Fields that may change when a run is resumed: they do not change what is computed.
RESUME_MAY_CHANGE = (
    "preset.log_every", "preset.eval_batch_size", "preset.checkpoint_every",
    "preset.eval_every", "preset.data.load.progress", "preset.data.load.workers",
    "preset.data.generate.", "data_dir",
    "preset.pad_multiple",  # padding never reaches a result (lrux.train.feed.bucketed)
)
COMPARED = ("preset", "seed", "task_spec", "split_sizes", "data_fingerprint")


class RunDir:
    """Paths of one run directory, created (and checked writable) on construction."""

    def __init__(self, out_dir: str, *, create: bool = True):
        self.path = os.path.abspath(out_dir)
        if os.path.exists(self.path) and not os.path.isdir(self.path):
            raise ConfigError(f"--out {out_dir}: exists and is not a directory")
        if create:
            try:
                os.makedirs(self.path, exist_ok=True)
            except OSError as e:
                raise ConfigError(f"--out {out_dir}: cannot create it ({e.strerror})") from None
            if not os.access(self.path, os.W_OK | os.X_OK):
                raise ConfigError(f"--out {out_dir}: not writable")
        self.config = os.path.join(self.path, "config.json")
        self.summary = os.path.join(self.path, "summary.json")
        self.checkpoints = os.path.join(self.path, "checkpoints")
        self.log = os.path.join(self.path, "lrux.log")
        self.lock_file = os.path.join(self.path, LOCK)

    @contextlib.contextmanager
    def lock(self, say=None) -> Iterator[None]:
        """Hold `RUN_DIR/lrux.lock` for the block: a second process on this run directory
        is refused with a ConfigError naming the holder (pid, host, start). A lock left by
        a process that died is taken over (`say(message)` hears about it)."""
        fd, stale = _take_lock(self.lock_file, self.path)
        if stale and say is not None:
            say(f"{self.lock_file}: replaced the lock of a run that no longer runs ({stale})")
        try:
            yield
        finally:
            with contextlib.suppress(OSError):
                os.remove(self.lock_file)  # before unlocking: a waiter sees a new inode
            os.close(fd)

    def holds_a_run(self) -> list[str]:
        """What here shows a run was made in this folder (checkpoints set aside, a summary)."""
        aside = sorted(n for n in os.listdir(self.checkpoints) if n.startswith("unreadable-")) \
            if os.path.isdir(self.checkpoints) else []
        return [os.path.join("checkpoints", n) for n in aside] + \
            (["summary.json"] if os.path.exists(self.summary) else [])

    def has_checkpoints(self) -> bool:
        return os.path.isdir(self.checkpoints) and bool(os.listdir(self.checkpoints))

    def check_new_or_resume(self, resume: bool) -> None:
        """Refuse to start over a run that has checkpoints, and a layout lrux cannot read."""
        if os.path.isdir(os.path.join(self.checkpoints, "last")):
            raise ConfigError(
                f"--out {self.path} holds checkpoints in the layout of lrux 0.1 "
                "(checkpoints/last, checkpoints/best), which this lrux does not resume; "
                "choose another --out (nothing was changed)"
            )
        if resume:
            return
        if self.has_checkpoints():
            raise ConfigError(
                f"--out {self.path} already holds checkpoints: pass --resume to continue that "
                "run, or choose another --out"
            )
        present = [n for n in ("config.json", "metrics.jsonl", "summary.json")
                   if os.path.exists(os.path.join(self.path, n))]
        if present:
            raise ConfigError(
                f"--out {self.path} already holds {', '.join(present)} (a run that stopped "
                "before its first checkpoint?): pass --resume to restart it there, or choose "
                "another --out"
            )

    def read_json(self, path: str) -> dict[str, Any] | None:
        if not os.path.exists(path):
            return None
        try:
            with open(path) as f:
                return json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise ConfigError(f"{path}: unreadable ({e}); cannot check the resumed run against "
                              "it") from None


LOCK = "lrux.lock"


def _holder() -> str:
    now = datetime.datetime.now().isoformat(timespec="seconds")
    return f"pid {os.getpid()} on host {socket.gethostname()} since {now}"


def _take_lock(path: str, run: str) -> tuple[int, str]:
    """(open descriptor holding the lock on `path`, the text of a stale lock taken over)."""
    for _ in range(10):
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as e:
            raise ConfigError(f"--out {run}: cannot create its lock file ({e.strerror})") \
                from None
        old = os.read(fd, 500).decode("utf-8", "replace").strip()
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise ConfigError(f"--out {run}: cannot lock {path} ({e.strerror}); a file "
                                  "system without locks cannot hold a run folder") from None
            raise ConfigError(f"--out {run} is in use by another lrux process ({old or 'pid ?'}"
                              "); wait for it to end, or choose another --out") from None
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            os.lseek(fd, 0, os.SEEK_SET)
            os.ftruncate(fd, 0)
            os.write(fd, (_holder() + "\n").encode())
            return fd, old
        os.close(fd)  # removed by the holder that just ended: take the new file
    raise ConfigError(f"--out {run}: could not take its lock {path}; try again")


def _flatten(obj: Any, prefix: str) -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out or {prefix: {}}
    return {prefix: obj}


def _may_change(name: str, allow_steps_change: bool) -> bool:
    if allow_steps_change and name == "preset.steps":
        return True
    return any(name == p or (p.endswith(".") and name.startswith(p)) for p in RESUME_MAY_CHANGE)


def config_differences(old: dict, new: dict, *, allow_steps_change: bool = False,
                       keys: tuple[str, ...] = COMPARED) -> list[str]:
    """'field: was X, now Y' for every compared entry (`keys`) of config.json that differs."""
    a = _flatten({k: old.get(k) for k in keys}, "")
    b = _flatten({k: new.get(k) for k in keys}, "")
    diffs = []
    for name in sorted(set(a) | set(b)):
        va, vb = a.get(name, "<absent>"), b.get(name, "<absent>")
        if name == "data_fingerprint" and va is None:  # config.json of an older lrux
            continue
        if _json(va) != _json(vb) and not _may_change(name, allow_steps_change):
            diffs.append(f"{name}: was {_json(va)}, now {_json(vb)}")
    return diffs


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def check_resume_config(old: dict, new: dict, *, allow_steps_change: bool,
                        keys: tuple[str, ...] = COMPARED, source: str = "config.json") -> None:
    """Stop a resume whose task, model, preset, sizes, seed, steps or data differ (only
    `keys` are compared: ("preset", "seed") before any data is read)."""
    diffs = config_differences(old, new, allow_steps_change=allow_steps_change, keys=keys)
    if diffs:
        steps = any(d.startswith("preset.steps:") for d in diffs)
        hint = (" (a new --steps changes the learning-rate schedule: pass --allow-steps-change "
                "to accept that)" if steps else "")
        raise ConfigError(
            f"--resume: this run was started with a different configuration ({source}); "
            f"differing fields: {'; '.join(diffs)}{hint}. Resume with the original settings or "
            "choose another --out (nothing was changed)"
        )
