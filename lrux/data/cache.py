"""The preprocessed cache: `.npy` arrays of every split, keyed on the content of the sources.

An entry is `CACHE/TASK-KEY/{split}.{inputs,lengths,labels}.npy` + `meta.json`, where KEY
hashes the SHA-256 of every source file (and its path relative to the task folder), the load
options and the cache version. Hashing every file is done once: `CACHE/sources/` remembers,
per task folder, the digest for the files' exact (size, mtime, ctime, inode) signature, so
a later load only stats the files. Any edit (even one that keeps size and mtime) changes
ctime and so leads to a new digest. Entries are written to a temporary folder and renamed;
an entry whose files are missing or truncated is rebuilt. `CACHE` is `DATA_DIR/.lrux_cache`,
or, when that cannot be written, `$LRUX_CACHE_DIR` (default `~/.cache/lrux/data`).
"""

import dataclasses
import errno
import hashlib
import json
import os
import shutil
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from lrux.errors import DataError, WriteError

from .spec import DataWarning

CACHE_VERSION = 2
ARRAYS = ("inputs", "lengths", "labels")


def user_cache_dir() -> str:
    """`$LRUX_CACHE_DIR`, else `~/.cache/lrux/data`: where a read-only data dir is cached."""
    return os.environ.get("LRUX_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "lrux", "data")


def cache_dirs(data_dir: str, cache_dir: str | None) -> list[str]:
    """Where entries are looked up, in order (and built: the first writable one)."""
    if cache_dir:
        return [os.fspath(cache_dir)]
    return [os.path.join(os.fspath(data_dir), ".lrux_cache"), user_cache_dir()]


def _mkdir(path: str) -> None:
    os.makedirs(path, exist_ok=True)


# ----------------------------------------------------------------------------- sources

def _stat_signature(root: str, files: Sequence[str], missing_hint: str) -> str:
    h = hashlib.sha256(os.path.abspath(root).encode())
    missing = []
    for p in files:
        try:
            st = os.stat(p)
        except OSError:
            missing.append(p)
            continue
        h.update(f"\0{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\0"
                 f"{st.st_ctime_ns}\0{st.st_ino}".encode())
    if missing:
        shown = ", ".join(os.path.relpath(p, root) for p in missing[:3])
        raise DataError(f"{root}: {len(missing)} of the {len(files)} files this data set "
                        f"names are missing (e.g. {shown}){missing_hint}")
    return h.hexdigest()[:32]


def content_digest(root: str, files: Sequence[str]) -> str:
    """SHA-256 over every file's relative path and the SHA-256 of its bytes."""
    h = hashlib.sha256()
    for p in files:
        with open(p, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        h.update(f"{os.path.relpath(p, root)}\0{digest}\n".encode())
    return h.hexdigest()


def _write_json(path: str, payload: dict) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1, default=str)
    os.replace(tmp, path)


def source_digest(task: str, root: str, files: Sequence[str], dirs: Sequence[str], *,
                  missing_hint: str = "") -> str:
    """The content digest of `files`, read from a `sources/` memo when their stat signature
    is unchanged, else computed (and remembered in the first writable cache dir)."""
    sig = _stat_signature(root, files, missing_hint)
    name = f"{task}-{sig}.json"
    for d in dirs:
        try:
            with open(os.path.join(d, "sources", name)) as f:
                return str(json.load(f)["digest"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    digest = content_digest(root, files)
    for d in dirs:
        try:
            _mkdir(os.path.join(d, "sources"))
            _write_json(os.path.join(d, "sources", name),
                        {"digest": digest, "root": os.path.abspath(root), "files": len(files)})
            break
        except OSError:
            continue  # only a memo: the next dir, or hash again next time
    return digest


def entry_name(task: str, digest: str, options: dict) -> str:
    """`TASK-KEY`: the cache folder name, also the data's fingerprint."""
    h = hashlib.sha256(json.dumps({"v": CACHE_VERSION, "task": task, "sources": digest,
                                   "options": {k: options[k] for k in sorted(options)}},
                                  sort_keys=True, default=str).encode())
    return f"{task}-{h.hexdigest()[:20]}"


# ----------------------------------------------------------------------------- entries

def save_arrays(folder: str, split: str, inputs, lengths, labels) -> None:
    for name, arr in zip(ARRAYS, (inputs, lengths, labels), strict=True):
        np.save(os.path.join(folder, f"{split}.{name}.npy"), np.ascontiguousarray(arr))


def open_array(path: str, dtype, shape: tuple[int, ...]) -> np.memmap:
    """A new `.npy` file at `path` as a writable memmap, its space reserved on the disk first:
    a full disk is an OSError here, not a SIGBUS at the first write into a page."""
    arr = np.lib.format.open_memmap(path, "w+", dtype, shape)
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        try:
            os.posix_fallocate(f.fileno(), 0, size)
        except OSError as e:
            if e.errno not in (errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL):
                del arr
                raise
    return arr


@dataclasses.dataclass
class Entry:
    """A complete cache entry: its folder and its `meta.json`."""

    folder: str
    meta: dict

    def arrays(self, split: str, *, in_memory: bool = False):
        """(inputs, lengths, labels) of `split`, read-only memmaps (or arrays)."""
        out = []
        for name in ARRAYS:
            a = np.load(os.path.join(self.folder, f"{split}.{name}.npy"), mmap_mode="r")
            out.append(np.array(a) if in_memory else a)
        return tuple(out)


def _check_entry(folder: str) -> Entry:
    """The entry in `folder`; ValueError/OSError if anything in it is missing or damaged."""
    with open(os.path.join(folder, "meta.json")) as f:
        meta = json.load(f)
    sizes = meta["files"]
    if not sizes:
        raise ValueError("it records no arrays")
    for fn, size in sizes.items():
        have = os.path.getsize(os.path.join(folder, fn))
        if have != size:
            raise ValueError(f"{fn} has {have} bytes, expected {size}")
    return Entry(folder, meta)


def find_entry(dirs: Sequence[str], name: str) -> Entry | None:
    """The first complete entry `name` in `dirs`; a damaged one is removed (with a warning)."""
    for d in dirs:
        folder = os.path.join(d, name)
        if not os.path.isdir(folder):
            continue
        try:
            entry = _check_entry(folder)
            for fn in entry.meta["files"]:  # the .npy headers parse
                np.load(os.path.join(folder, fn), mmap_mode="r")
            return entry
        except (OSError, ValueError, KeyError, TypeError) as e:
            warnings.warn(f"cache entry {folder} is damaged ({e}): rebuilding it",
                          DataWarning, stacklevel=3)
            shutil.rmtree(folder, ignore_errors=True)
    return None


def _build_folder(dirs: Sequence[str], name: str) -> tuple[str, str]:
    """(final folder, temporary folder) in the first cache dir that can be written."""
    errors = []
    for i, d in enumerate(dirs):
        tmp = os.path.join(d, f"{name}.tmp{os.getpid()}")
        try:
            _mkdir(d)
            shutil.rmtree(tmp, ignore_errors=True)
            _mkdir(tmp)
        except OSError as e:
            errors.append(f"{d} ({e.strerror or e})")
            continue
        if i:
            warnings.warn(f"cannot write the preprocessing cache in {errors[-1]}: using {d} "
                          "instead (choose with $LRUX_CACHE_DIR or the cache_dir load option)",
                          DataWarning, stacklevel=4)
        return os.path.join(d, name), tmp
    raise DataError(f"no writable cache folder: tried {'; '.join(errors)}; set "
                    "$LRUX_CACHE_DIR or the cache_dir load option to a writable folder")


def build_entry(dirs: Sequence[str], name: str, build: Callable[[str], dict]) -> Entry:
    """Run `build(tmp_folder) -> meta`, record the array sizes, and rename into place."""
    folder, tmp = _build_folder(dirs, name)
    try:
        try:
            meta = build(tmp)
            meta["files"] = {f: os.path.getsize(os.path.join(tmp, f)) for f in os.listdir(tmp)
                             if f.endswith(".npy")}
            _write_json(os.path.join(tmp, "meta.json"), meta)
        except OSError as e:  # a full disk, a quota: nothing is left half-written
            if e.filename and not os.fspath(e.filename).startswith(tmp):
                raise DataError(f"{e.filename}: cannot be read ({e.strerror or e})") from None
            raise WriteError(
                f"could not write the preprocessing cache in {os.path.dirname(folder)} "
                f"({e.strerror or e}); nothing was left there. Free some space, or choose "
                "another folder with $LRUX_CACHE_DIR or the cache_dir load option") from None
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first, or a damaged entry is in the way
            try:
                return _check_entry(folder)
            except (OSError, ValueError, KeyError, TypeError):
                shutil.rmtree(folder, ignore_errors=True)
                os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return _check_entry(folder)
