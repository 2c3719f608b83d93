"""Tiny LRA fixtures in the release's real formats, written by tests (no lrux code used)."""

import os
import pickle

import numpy as np
from PIL import Image

LISTOPS_ROWS = {
    "train": [("( ( ( [MAX 2 ) 9 ) ] )", 9),
              ("( ( ( ( [SM 3 ) ( ( ( [MIN 4 ) 7 ) ] ) ) 5 ) ] )", 2),
              ("( ( ( ( [MED 1 ) 8 ) 3 ) ] )", 3)],
    "val": [("( ( ( [MIN 6 ) 0 ) ] )", 0)],
    "test": [("( ( ( [SM 9 ) 9 ) ] )", 8), ("( ( ( [MAX 1 ) 1 ) ] )", 1)],
}


def write_listops(root: str, rows=LISTOPS_ROWS, crlf: bool = True) -> str:
    d = os.path.join(root, "listops-1000")
    os.makedirs(d, exist_ok=True)
    nl = "\r\n" if crlf else "\n"
    for split, items in rows.items():
        with open(os.path.join(d, f"basic_{split}.tsv"), "w", newline="") as f:
            f.write("Source\tTarget" + nl)
            for s, y in items:
                f.write(f"{s}\t{y}{nl}")
    return d


IMDB = {
    ("train", "pos"): {"3_9.txt": "Great <br />film, naïve & \"fun\"!", "10_7.txt": "Loved it."},
    ("train", "neg"): {"1_1.txt": "Terrible.", "2_3.txt": "Bad — very bad. " * 5},
    ("test", "pos"): {"0_10.txt": "Superb"},
    ("test", "neg"): {"5_2.txt": "Meh <br /><br /> no."},
}


def write_imdb(root: str) -> str:
    d = os.path.join(root, "aclImdb")
    for (split, cls), files in IMDB.items():
        os.makedirs(os.path.join(d, split, cls), exist_ok=True)
        for name, text in files.items():
            with open(os.path.join(d, split, cls, name), "wb") as f:
                f.write(text.encode("utf-8"))
    os.makedirs(os.path.join(d, "train", "unsup"), exist_ok=True)
    with open(os.path.join(d, "train", "unsup", "0_0.txt"), "w") as f:
        f.write("unlabelled: not part of the task")
    return d


AAN = {
    "train": [("1.0", "a1", "b1", 'He said "hello" to \'them\'', 'A "quoted, text" here'),
              ("0.0", "a2", "b2", '"starts with a quote', 'ends with a quote"'),
              ("1.0", "a3", "b3", "plain ümlaut text", "x" * 50)],
    "eval": [("0.0", "c1", "d1", "eval one", '"""')],
    "test": [("1.0", "e1", "f1", "test one", "test two"), ("0.0", "e2", "f2", "q", "r")],
}


def write_aan(root: str, rows=AAN) -> str:
    d = os.path.join(root, "tsv_data")
    os.makedirs(d, exist_ok=True)
    for split, items in rows.items():
        with open(os.path.join(d, f"new_aan_pairs.{split}.tsv"), "wb") as f:
            for r in items:
                f.write(("\t".join(r) + "\n").encode("utf-8"))
    return d


def write_cifar(root: str, per_batch: int = 20, seed: int = 0):
    """Returns (train_data (5*per_batch, 3072), train_labels, test_data, test_labels)."""
    d = os.path.join(root, "cifar-10-batches-py")
    os.makedirs(d, exist_ok=True)
    rng = np.random.default_rng(seed)
    datas, labels = [], []
    for i in range(1, 7):
        data = rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8)
        lab = [int(v) for v in rng.integers(0, 10, per_batch)]
        name = f"data_batch_{i}" if i <= 5 else "test_batch"
        with open(os.path.join(d, name), "wb") as f:
            pickle.dump({b"data": data, b"labels": lab, b"batch_label": name.encode()}, f)
        datas.append(data)
        labels.append(np.array(lab))
    return (np.concatenate(datas[:5]), np.concatenate(labels[:5]), datas[5], labels[5])


def write_pathfinder(root: str, size: int = 32, n_folders: int = 2, per_folder: int = 10,
                     empty: tuple[int, int] | None = (0, 3), seed: int = 0,
                     subdir: str = "curv_contour_length_14"):
    """Random grayscale PNGs + text metadata; returns {path: (image, label)} of good files."""
    base = os.path.join(root, f"pathfinder{size}", subdir)
    os.makedirs(os.path.join(base, "metadata"), exist_ok=True)
    rng = np.random.default_rng(seed)
    good = {}
    # write folders in an order where string sort differs from integer sort (10 < 2)
    folders = list(range(n_folders)) if n_folders < 3 else [2, 10, 0][:n_folders]
    for k in folders:
        os.makedirs(os.path.join(base, "imgs", str(k)), exist_ok=True)
        lines = []
        for i in range(per_folder):
            label = int(rng.integers(0, 2))
            path = os.path.join(base, "imgs", str(k), f"sample_{i}.png")
            if empty == (k, i):
                open(path, "wb").close()
            else:
                img = rng.integers(0, 256, (size, size), dtype=np.uint8)
                Image.fromarray(img, mode="L").save(path)
                good[path] = (img, label)
            lines.append(f"imgs/{k} sample_{i}.png {i} {label} 1.0 14 4 2 0.5 1 1\n")
        with open(os.path.join(base, "metadata", f"{k}.npy"), "w") as f:
            f.writelines(lines)
    return base, good


def snapshot(root) -> dict:
    """{relative path: bytes} of every file under root (to prove nothing was touched)."""
    out = {}
    for d, _, files in os.walk(root):
        for f in files:
            p = os.path.join(d, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def write_tsv_lines(path: str, lines, header: bool = True) -> None:
    """A ListOps TSV from raw (already tab-joined) lines; bytes are written as given."""
    with open(path, "wb") as f:
        if header:
            f.write(b"Source\tTarget\r\n")
        for ln in lines:
            f.write((ln.encode() if isinstance(ln, str) else ln) + b"\r\n")


def write_png(path: str, array: np.ndarray) -> None:
    """Save an array as PNG (uint8 -> 8-bit L, uint16 -> 16-bit I;16, (h, w, 3) -> RGB)."""
    Image.fromarray(array).save(path)
