"""Readers of the two image tasks into cache arrays: CIFAR-10 python pickles and the
Pathfinder / PathX release folders (`imgs/K/sample_I.png` + text `metadata/K.npy`).

Every `prepare_*` writes `{split}.{inputs,lengths,labels}.npy` into `out` and returns the
entry's meta: `counts`, `notes` (counted warnings, shown on every load) and `skipped`.
"""

import os
import pickle

import numpy as np

from lrux.errors import DataError

from .cache import open_array, save_arrays
from .workers import progress_bar, resolve_workers, worker_map

CIFAR_FILES = tuple(f"data_batch_{i}" for i in range(1, 6)) + ("test_batch",)


# ----------------------------------------------------------------------------- CIFAR-10

def _cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data, labels = d[b"data"], d[b"labels"]
    except Exception as e:  # noqa: BLE001 - report any unreadable pickle the same way
        raise DataError(f"{path}: expected a CIFAR-10 python pickle with b'data' uint8 "
                        f"(n, 3072) and b'labels' ({type(e).__name__}: {e})") from None
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8:
        got = data.dtype if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{path}: b'data' is {got}, expected uint8 pixels 0..255")
    labels = np.asarray(labels)
    if labels.size and not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{path}: b'labels' are {labels.dtype}, expected integers 0..9")
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise DataError(f"{path}: expected b'data' of shape (n, 3072) and n labels, got "
                        f"{data.shape} and {labels.shape}")
    bad = np.flatnonzero((labels < 0) | (labels > 9))
    if len(bad):
        raise DataError(f"{path}: label {labels[bad[0]]} at index {bad[0]} ({len(bad)} "
                        "labels outside 0..9 in this file)")
    return data, labels.astype(np.int32)


def _cifar_pixels(data: np.ndarray, grayscale: bool) -> np.ndarray:
    rgb = data.reshape(-1, 3, 1024).transpose(0, 2, 1)  # (n, 1024, 3) R, G, B planes
    if not grayscale:
        return np.ascontiguousarray(rgb)
    w = np.array([0.2989, 0.5870, 0.1140])
    return np.rint(rgb @ w).astype(np.uint8)[..., None]  # a convex mix of 0..255 stays in


def prepare_image(root: str, opts: dict, out: str, *, progress: bool, workers=None) -> dict:
    parts = [_cifar_batch(os.path.join(root, f)) for f in CIFAR_FILES[:5]]
    data = np.concatenate([p[0] for p in parts])
    labels = np.concatenate([p[1] for p in parts])
    n_val = int(round(len(labels) * float(opts["val_fraction"])))
    if opts["val_split"] == "random":
        order = np.random.default_rng(int(opts["split_seed"])).permutation(len(labels))
    else:
        order = np.arange(len(labels))
    tr, va = order[: len(labels) - n_val], order[len(labels) - n_val:]
    gray = bool(opts["grayscale"])
    pix = _cifar_pixels(data, gray)
    test_data, test_labels = _cifar_batch(os.path.join(root, "test_batch"))
    counts = {}
    for split, x, y in (("train", pix[tr], labels[tr]), ("val", pix[va], labels[va]),
                        ("test", _cifar_pixels(test_data, gray), test_labels)):
        save_arrays(out, split, x, np.full(len(y), x.shape[1], np.int32), y)
        counts[split] = len(y)
    return {"counts": counts, "notes": []}


# ----------------------------------------------------------------------------- Pathfinder

def sorted_metadata(meta: str) -> list[str]:
    """The metadata files of a Pathfinder folder, by integer name (0, 1, ..., 10, ...)."""
    names = [f for f in os.listdir(meta) if f.endswith(".npy")]
    try:
        return sorted(names, key=lambda f: int(f[:-4]))
    except ValueError:
        return sorted(names)


def read_pathfinder_meta(root: str) -> list[tuple[str, int]]:
    """(image path, label) of every metadata line, in order. DataError on a malformed or
    repeated line (naming both lines)."""
    meta = os.path.join(root, "metadata")
    items, seen = [], {}
    for name in sorted_metadata(meta):
        path = os.path.join(meta, name)
        with open(path, "rb") as f:
            raw = f.read()
        try:
            text = raw.decode("utf-8-sig")  # a byte-order mark (Windows editors) is no name
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            raise DataError(f"{path}:{line}: bytes {raw[e.start:e.end]!r} are not text "
                            "(metadata files are text despite the .npy suffix)") from None
        for lineno, line in enumerate(text.splitlines(), 1):
            fields = line.split()
            if not fields:
                continue
            if len(fields) < 4:
                raise DataError(f"{path}:{lineno}: expected at least 4 space-separated "
                                f"fields 'imgs/K sample_I.png I label ...', got {len(fields)}")
            if fields[3] not in ("0", "1"):
                raise DataError(f"{path}:{lineno}: expected label 0 or 1 in field 4, "
                                f"got {fields[3]!r}")
            image = os.path.join(root, fields[0], fields[1])
            if image in seen:
                raise DataError(f"{path}:{lineno}: repeats {fields[0]} {fields[1]} (first at "
                                f"{seen[image]}): duplicated metadata lines")
            seen[image] = f"{name}:{lineno}"
            items.append((image, int(fields[3])))
    return items


def _read_png_chunk(args):
    """(pixels (n, size*size) uint8, ok (n,) bool, problems [(i, why)]) of a list of PNGs.

    Unreadable files (the release has an empty one) are not ok; images that are not
    size x size 8-bit grayscale are problems (errors for the caller)."""
    from PIL import Image

    paths, size = args
    out = np.zeros((len(paths), size * size), np.uint8)
    ok = np.zeros(len(paths), bool)
    problems = []
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                im.load()
                mode, shape = im.mode, (im.height, im.width)
                a = np.asarray(im) if mode == "L" else None
        except Exception:  # noqa: BLE001 - any unreadable image is skipped and counted
            continue
        if mode != "L":
            bits = "16-bit" if mode.startswith("I") else mode
            problems.append((i, f"{bits} (mode {mode}), expected 8-bit grayscale (mode L)"))
        elif shape != (size, size):
            problems.append((i, f"{shape[1]}x{shape[0]}, expected {size}x{size}"))
        else:
            assert a is not None  # read for mode L
            out[i] = a.reshape(-1)
            ok[i] = True
    return out, ok, problems


def _decode_all(task: str, paths: list[str], size: int, out_path: str, progress: bool,
                workers) -> np.ndarray:
    """Decode every PNG into the memmap `out_path`; returns the ok mask."""
    n = len(paths)
    pix = open_array(out_path, np.uint8, (max(n, 1), size * size))
    ok = np.zeros(n, bool)
    step = 1000
    chunks = [(paths[i: i + step], size) for i in range(0, n, step)]
    workers = resolve_workers(workers)
    problems = []
    with progress_bar(n, f"{task} png", "img", progress) as bar, \
            worker_map(_read_png_chunk, chunks, 1 if len(chunks) <= 1 else workers) as res:
        for k, (x, good, bad) in enumerate(res):
            pix[k * step: k * step + len(good)] = x
            ok[k * step: k * step + len(good)] = good
            problems += [(k * step + i, why) for i, why in bad]
            bar.update(len(good))
    pix.flush()
    if problems:
        shown = "; ".join(f"{paths[i]}: {why}" for i, why in problems[:3])
        raise DataError(f"{task}: {len(problems)} image(s) are not {size}x{size} 8-bit "
                        f"grayscale PNGs ({shown}); is this the right pathfinder{size} folder?")
    return ok


def _unlisted_folders(root: str, items) -> list[str]:
    named = {os.path.dirname(p) for p, _ in items}
    imgs = os.path.join(root, "imgs")
    return [f"imgs/{k}" for k in sorted(os.listdir(imgs))
            if os.path.join(imgs, k) not in named and os.path.isdir(os.path.join(imgs, k))]


def prepare_pathfinder(root: str, opts: dict, out: str, *, progress: bool, workers=None,
                       size: int, task: str) -> dict:
    items = read_pathfinder_meta(root)
    if not items:
        raise DataError(f"{root}: the metadata files name no images")
    paths = [p for p, _ in items]
    labels = np.array([y for _, y in items], np.int32)
    all_path = os.path.join(out, "all.inputs.npy")  # PathX is 3.3 GB of uint8: a memmap
    ok = _decode_all(task, paths, size, all_path, progress, workers)
    pix = np.load(all_path, mmap_mode="r")
    bad = [paths[i] for i in np.flatnonzero(~ok)]
    keep = np.flatnonzero(ok)
    order = keep[np.random.default_rng(int(opts["split_seed"])).permutation(len(keep))]
    n_tr, n_va = int(0.8 * len(order)), int(0.1 * len(order))
    parts = {"train": order[:n_tr], "val": order[n_tr: n_tr + n_va],
             "test": order[n_tr + n_va:]}
    counts = {}
    for split, idx in parts.items():
        x = open_array(os.path.join(out, f"{split}.inputs.npy"), np.uint8,
                       (len(idx), size * size, 1))
        for a in range(0, len(idx), 10_000):
            x[a: a + 10_000, :, 0] = pix[idx[a: a + 10_000]]
        x.flush()
        del x
        np.save(os.path.join(out, f"{split}.lengths.npy"),
                np.full(len(idx), size * size, np.int32))
        np.save(os.path.join(out, f"{split}.labels.npy"), labels[idx])
        counts[split] = len(idx)
    del pix
    os.remove(all_path)
    notes = []
    if bad:
        notes.append(f"{task}: skipped {len(bad)} unreadable image(s) of {len(paths)} (e.g. "
                     f"{', '.join(bad[:3])})")
    unlisted = _unlisted_folders(root, items)
    if unlisted:
        notes.append(f"{root}: {len(unlisted)} image folder(s) named in no metadata file "
                     f"left out: {', '.join(unlisted[:3])}")
    return {"counts": counts, "notes": notes, "skipped": len(bad),
            "skipped_examples": bad[:20]}
