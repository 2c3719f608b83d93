"""Writing a generated data set so that nothing of the user's is overwritten and nothing
half-written ever loads.

A generator targets one task folder (e.g. `OUT/listops-1000`). It refuses a target that
exists and is not empty, writes everything into the hidden sibling `.NAME.partial/` (with
`generation.json`, what is being generated, and a lock), writes the completion marker
`lrux_generated.json` (counts, seed, options, lrux version) last, and renames the sibling
onto the target. A generator killed mid-way leaves only the sibling, which no loader reads;
rerunning with the same options resumes it (what the generator can keep), with other
options restarts it.
"""

import contextlib
import dataclasses
import datetime
import fcntl
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Iterator, Sequence

from lrux.errors import DataError, WriteError

from .spec import DataWarning

MARKER = "lrux_generated.json"
PLAN = "generation.json"
_LOCK = ".lock"


def lrux_version() -> str:
    try:
        from importlib.metadata import version

        return version("lrux")
    except Exception:  # noqa: BLE001 - a source checkout without metadata
        return "unknown"


def code_hash(module_file: str) -> str:
    """A short hash of a generator's source file: a resume never mixes two versions of the
    drawing code, and the marker says which code made the set."""
    with open(module_file, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()[:16]


def _names(names: Sequence[str], limit: int = 6) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def describe(folder: str, expected: Sequence[str] = ()) -> str:
    """'holds a, b; missing c' for the entries of `folder` against the `expected` ones."""
    try:
        have = sorted(os.listdir(folder))
    except OSError as e:
        return f"cannot be listed ({e.strerror})"
    missing = [e for e in expected if not os.path.exists(os.path.join(folder, e))]
    text = f"holds {_names(have)}" if have else "is empty"
    if missing:
        text += f"; missing {_names(missing)}"
    return text


def partial_path(target: str) -> str:
    """The temporary sibling a generator writes `target` into."""
    parent, name = os.path.split(os.path.normpath(os.fspath(target)))
    return os.path.join(parent, f".{name}.partial")


def check_target(target: str, what: str, expected: Sequence[str]) -> None:
    """Raise DataError unless `target` is absent or an empty folder."""
    if not os.path.lexists(target):
        return
    if not os.path.isdir(target):
        raise DataError(f"{what}: {target} exists and is not a folder; lrux writes only into "
                        "an absent or empty folder: move it away or choose another --out")
    if os.listdir(target):
        kind = "an lrux-generated set" if os.path.exists(os.path.join(target, MARKER)) \
            else "files lrux did not write"
        raise DataError(f"{what}: {target} is not empty ({kind}: it {describe(target, expected)})"
                        "; lrux never writes over existing data: move it away or choose "
                        "another --out")


@dataclasses.dataclass
class Partial:
    """The folder a generator writes into; `resumed` when it continues an interrupted run."""

    path: str
    target: str
    resumed: bool


def read_plan(path: str) -> dict | None:
    """The plan (generator, seed, options) of the interrupted generation in `path`."""
    try:
        with open(os.path.join(path, PLAN)) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _prepare_partial(tmp: str, plan: dict, what: str) -> bool:
    """Make `tmp` ready for `plan`; True if it already holds an interrupted run of it."""
    if os.path.isdir(tmp):
        old = read_plan(tmp)
        if old == plan:
            return True
        if old is None and set(os.listdir(tmp)) - {_LOCK}:
            raise DataError(f"{what}: {tmp} exists but was not written by an lrux generator "
                            f"(no {PLAN}; it {describe(tmp)}): move it away")
        if old is not None:
            warnings.warn(f"{what}: an interrupted generation in {tmp} had other options "
                          f"({old.get('options')}); starting again", DataWarning, stacklevel=4)
        for name in os.listdir(tmp):
            if name != _LOCK:
                p = os.path.join(tmp, name)
                shutil.rmtree(p) if os.path.isdir(p) and not os.path.islink(p) else os.remove(p)
    return False


def _write_json(path: str, payload: dict) -> None:
    with open(path + ".tmp", "w") as f:
        json.dump(payload, f, indent=1, sort_keys=True, default=str)
        f.write("\n")
    os.replace(path + ".tmp", path)


@contextlib.contextmanager
def atomic_generation(target: str | os.PathLike, plan: dict, *, what: str,
                      expected: Sequence[str] = ()) -> Iterator[Partial]:
    """`with atomic_generation(target, plan, what=...) as part:` write into `part.path`,
    then call `commit(part, counts)`. Raises DataError if `target` is not absent/empty, if
    its folder cannot be written, or if another process is generating into it."""
    target = os.path.normpath(os.fspath(target))
    check_target(target, what, expected)
    tmp = partial_path(target)
    try:
        os.makedirs(tmp, exist_ok=True)
        lock = open(os.path.join(tmp, _LOCK), "a+")
    except OSError as e:
        raise DataError(f"{what}: cannot write into {os.path.dirname(target) or '.'} "
                        f"({e.strerror or e}); choose a writable --out") from None
    with lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise DataError(f"{what}: another process ({lock.read().strip() or 'pid ?'}) is "
                            f"generating into {tmp}; wait for it to finish") from None
        lock.seek(0)
        lock.truncate()
        lock.write(f"pid {os.getpid()}\n")
        lock.flush()
        try:
            resumed = _prepare_partial(tmp, plan, what)
            if not resumed:
                _write_json(os.path.join(tmp, PLAN), plan)
            yield Partial(tmp, target, resumed)
        except OSError as e:  # a full disk, a quota: the partial folder is never loaded
            raise WriteError(
                f"{what}: could not write into {tmp} ({e.strerror or e}); nothing was written "
                f"to {target}, and the interrupted generation there is never loaded. Free "
                "some space and run the same command again to finish it (or remove "
                f"{tmp})") from None


def commit(part: Partial, counts: dict, plan: dict) -> str:
    """Write the completion marker into `part.path` and rename it onto the target.

    The marker records `counts`, the byte size of every top-level file, the plan (generator,
    seed, options) and the lrux version; loaders refuse a set that disagrees with it."""
    files = {f: os.path.getsize(os.path.join(part.path, f)) for f in sorted(os.listdir(part.path))
             if f not in (PLAN, _LOCK, MARKER) and os.path.isfile(os.path.join(part.path, f))}
    marker = {**plan, "counts": counts, "files": files, "lrux_version": lrux_version(),
              "completed": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")}
    _write_json(os.path.join(part.path, MARKER), marker)
    os.remove(os.path.join(part.path, PLAN))
    os.remove(os.path.join(part.path, _LOCK))
    check_target(part.target, marker.get("generator", "generate"), ())  # no one came first
    os.replace(part.path, part.target)
    return part.target


def read_marker(folder: str) -> dict | None:
    """The completion marker of an lrux-generated set in `folder` (None if there is none)."""
    path = os.path.join(folder, MARKER)
    if not os.path.exists(path):
        return None
    try:
        with open(path) as f:
            marker = json.load(f)
        if not isinstance(marker, dict) or not isinstance(marker.get("counts"), dict):
            raise ValueError("no counts")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: the completion marker is unreadable ({e}); regenerate the "
                        "set (move the folder away and run the generate command again)") from None
    return marker
