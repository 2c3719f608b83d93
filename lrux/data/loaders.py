"""Loaders of the LRA release (and IMDB, CIFAR-10) into `Split`s, with an .npy cache."""

import collections
import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import sys
import warnings

import numpy as np

from . import listops as _listops
from .spec import (
    CIFAR_GRAY_MEAN,
    CIFAR_GRAY_STD,
    CIFAR_RGB_MEAN,
    CIFAR_RGB_STD,
    PATHFINDER_DIFFICULTY_DIRS,
    SPLITS,
    Split,
    check_task,
    task_spec,
)

CACHE_VERSION = 1
RELEASE_URL = "https://storage.googleapis.com/long-range-arena/lra_release.gz"
IMDB_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
CIFAR_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"

_DEFAULTS = {
    "listops": {"max_length": 2048},
    "text": {"max_length": 4096, "tokenizer": "bytes", "min_freq": 15},
    "retrieval": {"max_length": 4000, "tokenizer": "bytes", "min_freq": 15},
    "image": {"grayscale": False, "val_split": "last", "val_fraction": 0.1, "split_seed": 0},
    "pathfinder": {"difficulty": 14, "split_seed": 42, "normalize": "symmetric"},
    "pathx": {"difficulty": 14, "split_seed": 42, "normalize": "symmetric"},
}
_PATH_SIZE = {"pathfinder": 32, "pathx": 128}


def _options(task: str, options: dict) -> dict:
    allowed = _DEFAULTS[task]
    unknown = set(options) - set(allowed) - {"cache_dir", "cache", "progress", "workers"}
    if unknown:
        raise ValueError(f"{task}: unknown option(s) {sorted(unknown)}; expected some of "
                         f"{sorted(allowed)} or cache_dir, cache, progress, workers")
    opts = dict(allowed)
    opts.update({k: v for k, v in options.items() if k in allowed and v is not None})
    if "tokenizer" in opts and opts["tokenizer"] not in ("bytes", "chars"):
        raise ValueError(f"tokenizer={opts['tokenizer']!r}: expected 'bytes' or 'chars'")
    if "max_length" in opts and int(opts["max_length"]) < 1:
        raise ValueError(f"max_length={opts['max_length']}: expected a positive length")
    if "difficulty" in opts and int(opts["difficulty"]) not in PATHFINDER_DIFFICULTY_DIRS:
        raise ValueError(f"difficulty={opts['difficulty']}: expected one of "
                         f"{sorted(PATHFINDER_DIFFICULTY_DIRS)}")
    if "normalize" in opts and opts["normalize"] not in ("symmetric", "unit"):
        raise ValueError(f"normalize={opts['normalize']!r}: expected 'symmetric' ([-1, 1]) "
                         "or 'unit' ([0, 1])")
    if "val_split" in opts and opts["val_split"] not in ("last", "random"):
        raise ValueError(f"val_split={opts['val_split']!r}: expected 'last' or 'random'")
    return opts


# ----------------------------------------------------------------------------- locating

def _relative(task: str, opts: dict) -> str:
    if task == "listops":
        return "listops-1000"
    if task == "text":
        return "aclImdb"
    if task == "retrieval":
        return "tsv_data"
    if task == "image":
        return "cifar-10-batches-py"
    sub = PATHFINDER_DIFFICULTY_DIRS[int(opts["difficulty"])]
    return os.path.join(f"pathfinder{_PATH_SIZE[task]}", sub)


def _required(task: str, root: str, opts: dict) -> list[str]:
    if task == "listops":
        return [os.path.join(root, f"basic_{s}.tsv") for s in SPLITS]
    if task == "text":
        return [os.path.join(root, s, c) for s in ("train", "test") for c in ("pos", "neg")]
    if task == "retrieval":
        return [os.path.join(root, f"new_aan_pairs.{s}.tsv") for s in ("train", "eval", "test")]
    if task == "image":
        return [os.path.join(root, f"data_batch_{i}") for i in range(1, 6)] + [
            os.path.join(root, "test_batch")]
    return [os.path.join(root, "metadata")]


def _candidates(data_dir: str, rel: str) -> list[str]:
    # The release's useful tree is lra_release/lra_release/; stray copies sit one level up.
    d = os.fspath(data_dir)
    return [os.path.join(d, "lra_release", "lra_release", rel),
            os.path.join(d, "lra_release", rel), os.path.join(d, rel)]


def find_task_dir(task: str, data_dir: str | os.PathLike, **options) -> str | None:
    """The folder holding `task`'s files under data_dir (any release level), or None."""
    name = check_task(task)
    opts = _options(name, options)
    for root in _candidates(os.fspath(data_dir), _relative(name, opts)):
        if all(os.path.exists(p) for p in _required(name, root, opts)):
            return root
    return None


def data_present(task: str, data_dir: str | os.PathLike, **options) -> bool:
    """True if `task`'s files are found under data_dir."""
    return find_task_dir(task, data_dir, **options) is not None


def missing_data_message(task: str, data_dir: str | os.PathLike, **options) -> str:
    """What is expected under data_dir for `task`, where it comes from, how to generate it."""
    name = check_task(task)
    opts = _options(name, options)
    rel = _relative(name, opts)
    layout = {
        "listops": "listops-1000/basic_{train,val,test}.tsv",
        "text": "aclImdb/{train,test}/{pos,neg}/*.txt",
        "retrieval": "tsv_data/new_aan_pairs.{train,eval,test}.tsv",
        "image": "cifar-10-batches-py/{data_batch_1..5,test_batch}",
        "pathfinder": f"{rel}/{{imgs/K/sample_I.png,metadata/K.npy}}",
        "pathx": f"{rel}/{{imgs/K/sample_I.png,metadata/K.npy}}",
    }[name]
    source = {
        "listops": f"the LRA release ({RELEASE_URL}, tar -xzf)",
        "text": f"Stanford's IMDB reviews ({IMDB_URL}, tar -xzf; not in the LRA release)",
        "retrieval": f"the LRA release ({RELEASE_URL}, tar -xzf)",
        "image": f"CIFAR-10 python version ({CIFAR_URL}, tar -xzf; not in the LRA release)",
        "pathfinder": f"the LRA release ({RELEASE_URL}, tar -xzf)",
        "pathx": f"the LRA release ({RELEASE_URL}, tar -xzf)",
    }[name]
    msg = (f"{name}: no data found under {os.fspath(data_dir)!r}. Expected {layout} there "
           f"(or under lra_release/ or lra_release/lra_release/). It comes from {source}.")
    d = os.fspath(data_dir)
    if name == "listops":
        msg += f" Or generate it: python -m lrux.data generate listops --out {d}"
    elif name in _PATH_SIZE:
        msg += (f" Or generate it: python -m lrux.data generate pathfinder --out {d} "
                f"--size {_PATH_SIZE[name]} --difficulty {opts['difficulty']} --num 200000")
    return msg


# ----------------------------------------------------------------------------- caching

def _source_files(task: str, root: str, opts: dict) -> list[str]:
    if task == "listops":
        return _required(task, root, opts)
    if task == "retrieval":
        return _required(task, root, opts)
    if task == "image":
        return _required(task, root, opts)
    if task == "text":
        files = []
        for s in ("train", "test"):
            for c in ("neg", "pos"):
                d = os.path.join(root, s, c)
                files += [os.path.join(d, f) for f in _sorted_reviews(d)]
        return files
    meta = os.path.join(root, "metadata")
    return [os.path.join(meta, f) for f in _sorted_metadata(meta)]


def _cache_key(task: str, root: str, files: list[str], opts: dict, extra: list[str]) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "task": task, "root": os.path.abspath(root),
                         "options": {k: opts[k] for k in sorted(opts)}},
                        sort_keys=True, default=str).encode())
    for p in list(files) + list(extra):
        try:
            st = os.stat(p)
            h.update(f"{os.path.relpath(p, root)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        except OSError:
            h.update(f"{os.path.relpath(p, root)}\0missing\n".encode())
    return h.hexdigest()[:20]


def _save_arrays(folder: str, split: str, inputs, lengths, labels) -> None:
    for name, arr in (("inputs", inputs), ("lengths", lengths), ("labels", labels)):
        np.save(os.path.join(folder, f"{split}.{name}.npy"), np.ascontiguousarray(arr))


def _load_arrays(folder: str, split: str):
    return tuple(np.load(os.path.join(folder, f"{split}.{name}.npy"), mmap_mode="r")
                 for name in ("inputs", "lengths", "labels"))


# ----------------------------------------------------------------------------- per task

def _prepare_listops(root, opts, folder, progress):
    meta = {}
    for split in SPLITS:
        path = os.path.join(root, f"basic_{split}.tsv")
        inputs, lengths, labels = _listops.read_tsv(path, int(opts["max_length"]))
        _save_arrays(folder, split, inputs, lengths, labels)
        meta[split] = len(labels)
    return {"counts": meta}


def _sorted_reviews(d: str) -> list[str]:
    def key(f):
        stem = f[:-4].split("_")
        try:
            return (int(stem[0]), f)
        except ValueError:
            return (sys.maxsize, f)
    return sorted((f for f in os.listdir(d) if f.endswith(".txt")), key=key)


def _char_vocab(texts, min_freq: int) -> str:
    counts: collections.Counter = collections.Counter()
    for t in texts:
        counts.update(t)
    keep = [c for c, n in counts.items() if n >= min_freq]
    keep.sort(key=lambda c: (-counts[c], ord(c)))
    return "".join(keep)


def _encode(raw: bytes, tokenizer: str, table: dict | None, max_length: int) -> np.ndarray:
    if tokenizer == "bytes":
        return np.frombuffer(raw[:max_length], np.uint8).astype(np.uint16) + 1
    text = raw.decode("utf-8", errors="replace")[:max_length]
    return np.fromiter((table.get(c, 1) for c in text), np.uint16, len(text))


def _table(vocab: str) -> dict:
    if len(vocab) + 2 > 65535:
        raise ValueError(f"tokenizer='chars': {len(vocab)} characters pass min_freq, more than "
                         "uint16 ids hold; raise min_freq")
    return {c: i + 2 for i, c in enumerate(vocab)}


def _prepare_text(root, opts, folder, progress):
    from tqdm.auto import tqdm

    L, tok = int(opts["max_length"]), opts["tokenizer"]
    files = {s: [] for s in ("train", "test")}
    for s in files:
        for label, c in ((0, "neg"), (1, "pos")):
            d = os.path.join(root, s, c)
            files[s] += [(os.path.join(d, f), label) for f in _sorted_reviews(d)]
    vocab = None
    table = None
    if tok == "chars":
        texts = (open(p, "rb").read().decode("utf-8", errors="replace")
                 for p, _ in files["train"])
        vocab = _char_vocab(texts, int(opts["min_freq"]))
        table = _table(vocab)
    counts = {}
    for s, items in files.items():
        inputs = np.zeros((len(items), L), np.uint16)
        lengths = np.zeros(len(items), np.int32)
        labels = np.zeros(len(items), np.int32)
        for i, (p, label) in enumerate(tqdm(items, desc=f"text {s}", disable=not progress,
                                            file=sys.stderr)):
            with open(p, "rb") as f:
                ids = _encode(f.read(), tok, table, L)
            inputs[i, : len(ids)] = ids
            lengths[i] = len(ids)
            labels[i] = label
        _save_arrays(folder, s, inputs, lengths, labels)
        counts[s] = len(items)
    counts["val"] = counts["test"]  # val reads the test files (see load_split)
    return {"counts": counts, "vocab": vocab}


def _iter_aan(path: str):
    """Yield (label, text1, text2) of one AAN TSV line by line, quoting off."""
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip(b"\n")
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                continue
            fields = line.split(b"\t")
            if len(fields) != 5:
                raise ValueError(f"{path}:{lineno}: expected 5 tab-separated fields (label, "
                                 f"id1, id2, text1, text2), got {len(fields)}")
            try:
                label = float(fields[0])
            except ValueError:
                label = -1.0
            if label not in (0.0, 1.0):
                raise ValueError(f"{path}:{lineno}: expected label 0/1 (written 0.0/1.0), "
                                 f"got {fields[0][:20]!r}")
            yield int(label), fields[3], fields[4]


def _prepare_retrieval(root, opts, folder, progress):
    from tqdm.auto import tqdm

    L, tok = int(opts["max_length"]), opts["tokenizer"]
    names = {"train": "train", "val": "eval", "test": "test"}
    vocab = table = None
    if tok == "chars":
        path = os.path.join(root, "new_aan_pairs.train.tsv")
        texts = (t.decode("utf-8", errors="replace")
                 for r in _iter_aan(path) for t in r[1:])
        vocab = _char_vocab(texts, int(opts["min_freq"]))
        table = _table(vocab)
    counts = {}
    for split, name in names.items():
        path = os.path.join(root, f"new_aan_pairs.{name}.tsv")
        n = sum(1 for _ in _iter_aan(path))  # validates every line before writing
        inputs = np.lib.format.open_memmap(os.path.join(folder, f"{split}.inputs.npy"), "w+",
                                           np.uint16, (n, 2, L))
        lengths = np.zeros((n, 2), np.int32)
        labels = np.zeros(n, np.int32)
        rows = tqdm(_iter_aan(path), total=n, desc=f"retrieval {split}",
                    disable=not progress, file=sys.stderr)
        for i, (label, t1, t2) in enumerate(rows):
            for j, t in enumerate((t1, t2)):
                ids = _encode(t, tok, table, L)
                inputs[i, j, : len(ids)] = ids
                lengths[i, j] = len(ids)
            labels[i] = label
        inputs.flush()
        del inputs
        np.save(os.path.join(folder, f"{split}.lengths.npy"), lengths)
        np.save(os.path.join(folder, f"{split}.labels.npy"), labels)
        counts[split] = n
    return {"counts": counts, "vocab": vocab}


def _cifar_batch(path: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        with open(path, "rb") as f:
            d = pickle.load(f, encoding="bytes")
        data = np.asarray(d[b"data"], np.uint8)
        labels = np.asarray(d[b"labels"], np.int32)
    except Exception as e:  # noqa: BLE001 - report any unreadable pickle the same way
        raise ValueError(f"{path}: expected a CIFAR-10 python pickle with b'data' uint8 "
                         f"(n, 3072) and b'labels' ({type(e).__name__}: {e})") from e
    if data.ndim != 2 or data.shape[1] != 3072 or labels.shape != (data.shape[0],):
        raise ValueError(f"{path}: expected b'data' of shape (n, 3072) and n labels, got "
                         f"{data.shape} and {labels.shape}")
    return data, labels


def _cifar_pixels(data: np.ndarray, grayscale: bool) -> np.ndarray:
    rgb = data.reshape(-1, 3, 1024).transpose(0, 2, 1)  # (n, 1024, 3) R, G, B planes
    if not grayscale:
        return np.ascontiguousarray(rgb)
    w = np.array([0.2989, 0.5870, 0.1140])
    return np.rint(rgb @ w).clip(0, 255).astype(np.uint8)[..., None]


def _prepare_image(root, opts, folder, progress):
    parts = [_cifar_batch(os.path.join(root, f"data_batch_{i}")) for i in range(1, 6)]
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
        _save_arrays(folder, split, x, np.full(len(y), x.shape[1], np.int32), y)
        counts[split] = len(y)
    return {"counts": counts}


def _sorted_metadata(meta: str) -> list[str]:
    names = [f for f in os.listdir(meta) if f.endswith(".npy")]
    try:
        return sorted(names, key=lambda f: int(f[:-4]))
    except ValueError:
        return sorted(names)


def _read_png_chunk(args):
    from PIL import Image

    paths, size = args
    out = np.zeros((len(paths), size * size), np.uint8)
    ok = np.zeros(len(paths), bool)
    for i, p in enumerate(paths):
        try:
            with Image.open(p) as im:
                a = np.asarray(im.convert("L"))
            if a.shape == (size, size):
                out[i] = a.reshape(-1)
                ok[i] = True
        except Exception:  # noqa: BLE001 - any unreadable image is skipped and counted
            pass
    return out, ok


def _read_pathfinder_meta(root: str) -> list[tuple[str, int]]:
    meta = os.path.join(root, "metadata")
    items = []
    for name in _sorted_metadata(meta):
        path = os.path.join(meta, name)
        with open(path, encoding="utf-8", errors="replace") as f:
            for lineno, line in enumerate(f, 1):
                fields = line.split()
                if not fields:
                    continue
                if len(fields) < 4:
                    raise ValueError(f"{path}:{lineno}: expected at least 4 space-separated "
                                     f"fields 'imgs/K sample_I.png I label ...', got "
                                     f"{len(fields)}")
                if fields[3] not in ("0", "1"):
                    raise ValueError(f"{path}:{lineno}: expected label 0 or 1 in field 4, "
                                     f"got {fields[3]!r}")
                items.append((os.path.join(root, fields[0], fields[1]), int(fields[3])))
    return items


def _prepare_pathfinder(task, root, opts, folder, progress, workers):
    from tqdm.auto import tqdm

    size = _PATH_SIZE[task]
    items = _read_pathfinder_meta(root)
    paths = [p for p, _ in items]
    labels = np.array([y for _, y in items], np.int32)
    n = len(paths)
    # decode into a memmap in the cache's temporary folder: PathX is 3.3 GB of uint8
    all_path = os.path.join(folder, "all.inputs.npy")
    pix = np.lib.format.open_memmap(all_path, "w+", np.uint8, (max(n, 1), size * size))
    ok = np.zeros(n, bool)
    step = 1000
    chunks = [(paths[i: i + step], size) for i in range(0, n, step)]
    bar = tqdm(total=n, desc=f"{task} png", disable=not progress, file=sys.stderr)
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    if workers == 1 or len(chunks) <= 1:
        results = map(_read_png_chunk, chunks)
        pool = None
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(workers)
        results = pool.imap(_read_png_chunk, chunks)
    try:
        for k, (x, good) in enumerate(results):
            pix[k * step: k * step + len(good)] = x
            ok[k * step: k * step + len(good)] = good
            bar.update(len(good))
    finally:
        bar.close()
        if pool is not None:
            pool.close()
            pool.join()
    bad = [paths[i] for i in np.flatnonzero(~ok)]
    keep = np.flatnonzero(ok)
    order = keep[np.random.default_rng(int(opts["split_seed"])).permutation(len(keep))]
    n_keep = len(order)
    n_tr, n_va = int(0.8 * n_keep), int(0.1 * n_keep)
    parts = {"train": order[:n_tr], "val": order[n_tr: n_tr + n_va],
             "test": order[n_tr + n_va:]}
    counts = {}
    for split, idx in parts.items():
        x = np.lib.format.open_memmap(os.path.join(folder, f"{split}.inputs.npy"), "w+",
                                      np.uint8, (len(idx), size * size, 1))
        for a in range(0, len(idx), 10_000):
            x[a: a + 10_000, :, 0] = pix[idx[a: a + 10_000]]
        x.flush()
        del x
        np.save(os.path.join(folder, f"{split}.lengths.npy"),
                np.full(len(idx), size * size, np.int32))
        np.save(os.path.join(folder, f"{split}.labels.npy"), labels[idx])
        counts[split] = len(idx)
    del pix
    os.remove(all_path)
    return {"counts": counts, "skipped": len(bad), "skipped_examples": bad[:20]}


# ----------------------------------------------------------------------------- public

def prepare(task: str, data_dir: str | os.PathLike, **options) -> str:
    """Preprocess all splits of `task` into the cache (if not there) and return its folder.

    The cache folder is `cache_dir` (default `DATA_DIR/.lrux_cache/`) / `TASK-KEY`, where KEY
    hashes the source files' paths, sizes and modification times and the options.
    """
    name = check_task(task)
    opts = _options(name, options)
    root = find_task_dir(name, data_dir, **{k: v for k, v in options.items()
                                            if k in _DEFAULTS[name]})
    if root is None:
        raise FileNotFoundError(missing_data_message(name, data_dir, **{
            k: v for k, v in options.items() if k in _DEFAULTS[name]}))
    progress = bool(options.get("progress", True))
    cache_dir = options.get("cache_dir") or os.path.join(os.fspath(data_dir), ".lrux_cache")
    files = _source_files(name, root, opts)
    extra = []
    if name in _PATH_SIZE:
        extra = [p for p, _ in _read_pathfinder_meta(root)]
    key = _cache_key(name, root, files, opts, extra)
    folder = os.path.join(cache_dir, f"{name}-{key}")
    if os.path.exists(os.path.join(folder, "meta.json")):
        return folder
    os.makedirs(cache_dir, exist_ok=True)
    tmp = f"{folder}.tmp{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    os.makedirs(tmp)
    try:
        if name == "listops":
            meta = _prepare_listops(root, opts, tmp, progress)
        elif name == "text":
            meta = _prepare_text(root, opts, tmp, progress)
        elif name == "retrieval":
            meta = _prepare_retrieval(root, opts, tmp, progress)
        elif name == "image":
            meta = _prepare_image(root, opts, tmp, progress)
        else:
            meta = _prepare_pathfinder(name, root, opts, tmp, progress, options.get("workers"))
        meta.update({"task": name, "root": os.path.abspath(root), "options": opts,
                     "version": CACHE_VERSION})
        with open(os.path.join(tmp, "meta.json"), "w") as f:
            json.dump(meta, f, indent=1, default=str)
        try:
            os.replace(tmp, folder)
        except OSError:  # another process finished first
            if not os.path.exists(os.path.join(folder, "meta.json")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def load_split(task: str, split: str, data_dir: str | os.PathLike, **options) -> Split:
    """Load one split of an LRA task as numpy arrays (read-only memmaps of the cache).

    Options (all named, all part of the cache key):
    - listops: `max_length` (2048; sequences hold at most 1999 tokens).
    - text: `tokenizer` ("bytes": id = UTF-8 byte + 1, vocab 257, as LRA; "chars": unicode
      characters seen >= `min_freq` (15) times in train, ids from 2 by frequency, 1 unknown),
      `max_length` (4096). val is the test set (as LRA and S4).
    - retrieval: `tokenizer`, `min_freq` as text, `max_length` (4000 per document).
    - image: `grayscale` (False: 1024 x 3 RGB as the LRU paper), `val_split` ("last" 10% of
      train, or "random" with `split_seed`), `val_fraction` (0.1).
    - pathfinder / pathx: `difficulty` (14, or 9 or 6), `split_seed` (42; 80/10/10 split),
      `normalize` ("symmetric": [-1, 1]; "unit": [0, 1]) applied by the pipeline.
    - all: `cache_dir` (DATA_DIR/.lrux_cache), `cache` (True; False rebuilds in a temporary
      folder and loads into memory), `progress` (True), `workers` (all cores, PNG decoding).
    """
    name = check_task(task)
    if split not in SPLITS:
        raise ValueError(f"split={split!r}: expected one of {', '.join(SPLITS)}")
    opts = _options(name, options)
    # LRA and S4 evaluate Text on the test set during training: val reads the test split
    file_split = "test" if (name == "text" and split == "val") else split
    if options.get("cache", True) is False:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            folder = prepare(name, data_dir, **{**options, "cache_dir": d})
            arrays = tuple(np.array(a) for a in _load_arrays(folder, file_split))
            with open(os.path.join(folder, "meta.json")) as f:
                meta = json.load(f)
    else:
        folder = prepare(name, data_dir, **options)
        arrays = _load_arrays(folder, file_split)
        with open(os.path.join(folder, "meta.json")) as f:
            meta = json.load(f)
    inputs, lengths, labels = arrays
    if meta.get("skipped"):
        warnings.warn(f"{name}: skipped {meta['skipped']} unreadable image(s) of "
                      f"{meta['skipped'] + sum(meta['counts'].values())} (e.g. "
                      f"{', '.join(meta['skipped_examples'][:3])})", stacklevel=3)
    spec = task_spec(name, **{k: v for k, v in opts.items()
                              if k in ("max_length", "grayscale", "tokenizer")})
    vocab = meta.get("vocab")
    if vocab is not None:
        spec = dataclasses.replace(spec, vocab_size=len(vocab) + 2)
    mean = std = None
    if name == "image":
        mean, std = ((CIFAR_GRAY_MEAN, CIFAR_GRAY_STD) if opts["grayscale"]
                     else (CIFAR_RGB_MEAN, CIFAR_RGB_STD))
    elif name in _PATH_SIZE:
        mean, std = ((0.5,), (0.5,)) if opts["normalize"] == "symmetric" else ((0.0,), (1.0,))
    return Split(task=name, split=split, spec=spec, inputs=inputs, lengths=lengths,
                 labels=labels, mean=mean, std=std, vocab=vocab,
                 skipped=int(meta.get("skipped", 0)), source=meta.get("root", ""))
