"""Readers of the two text tasks into cache arrays: IMDB reviews (`aclImdb/`) and AAN pairs
(`tsv_data/new_aan_pairs.*.tsv`), with the byte or character tokenizers.

Every `prepare_*` writes `{split}.{inputs,lengths,labels}.npy` into `out` and returns the
entry's meta: `counts`, `vocab` and `notes` (counted warnings, shown on every load).
"""

import collections
import os
import re

import numpy as np

from lrux.errors import DataError

from .cache import open_array, save_arrays
from .workers import progress_bar

REVIEW = re.compile(r"^(\d+)_(\d+)\.txt$")  # aclImdb: ID_RATING.txt
IMDB_FOLDERS = tuple((s, c) for s in ("train", "test") for c in ("neg", "pos"))
AAN_FILES = {"train": "train", "val": "eval", "test": "test"}


def _shown(names, limit: int = 3) -> str:
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


def _id_and_rating(name: str) -> tuple[int, int]:
    """(id, rating) of a review file name ID_RATING.txt (one that REVIEW matches)."""
    match = REVIEW.match(name)
    assert match is not None, name
    return int(match.group(1)), int(match.group(2))


def reviews(d: str) -> tuple[list[str], list[str]]:
    """(review files ordered by integer id, other entries) of one aclImdb label folder."""
    names = sorted(os.listdir(d))
    good = [n for n in names if REVIEW.match(n) and os.path.isfile(os.path.join(d, n))]
    stray = [n for n in names if n not in set(good)]
    good.sort(key=lambda n: (_id_and_rating(n)[0], n))
    return [os.path.join(d, n) for n in good], stray


def review_files(root: str) -> list[str]:
    """Every review file of the four label folders (the sources of the text task)."""
    return [p for s, c in IMDB_FOLDERS for p in reviews(os.path.join(root, s, c))[0]]


def _char_vocab(texts, min_freq: int) -> str:
    counts: collections.Counter = collections.Counter()
    for t in texts:
        counts.update(t)
    keep = [c for c, n in counts.items() if n >= min_freq]
    keep.sort(key=lambda c: (-counts[c], ord(c)))
    return "".join(keep)


def _table(vocab: str) -> dict:
    if len(vocab) + 2 > 65535:
        raise DataError(f"tokenizer='chars': {len(vocab)} characters pass min_freq, more than "
                        "uint16 ids hold; raise min_freq")
    return {c: i + 2 for i, c in enumerate(vocab)}


def _encode(raw: bytes, tokenizer: str, table: dict | None, max_length: int) -> np.ndarray:
    if tokenizer == "bytes":
        return np.frombuffer(raw[:max_length], np.uint8).astype(np.uint16) + 1
    assert table is not None  # built for the char tokenizer
    text = raw.decode("utf-8", errors="replace")[:max_length]
    return np.fromiter((table.get(c, 1) for c in text), np.uint16, len(text))


class _Utf8Count:
    """Counts (and names) the texts that are not valid UTF-8."""

    def __init__(self):
        self.bad: list[str] = []

    def check(self, raw: bytes, where: str) -> None:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as e:
            self.bad.append(f"{where} byte {e.start}")

    def note(self, what: str, tokenizer: str) -> list[str]:
        if not self.bad:
            return []
        kept = ("kept as raw bytes (bytes tokenizer)" if tokenizer == "bytes"
                else "read as U+FFFD (chars tokenizer)")
        return [f"{len(self.bad)} {what} not valid UTF-8 (e.g. {_shown(self.bad)}): the bad "
                f"bytes are {kept}"]


def _imdb_notes(root: str) -> list[str]:
    """Stray entries in the label folders and reviews whose rating contradicts the folder."""
    notes = []
    for s, c in IMDB_FOLDERS:
        d = os.path.join(root, s, c)
        files, stray = reviews(d)
        if stray:
            notes.append(f"{d}: {len(stray)} entr{'y' if len(stray) == 1 else 'ies'} that "
                         f"are not reviews (ID_RATING.txt) left out: {_shown(stray)}")
        wrong = [os.path.basename(p) for p in files
                 if (_id_and_rating(os.path.basename(p))[1] >= 5) != (c == "pos")]
        if wrong:
            notes.append(f"{d}: {len(wrong)} review(s) rated on the other side of 5 than "
                         f"'{c}' (e.g. {_shown(wrong)}): labelled by folder ({c})")
    return notes


def prepare_text(root: str, opts: dict, out: str, *, progress: bool, workers=None) -> dict:
    L, tok = int(opts["max_length"]), opts["tokenizer"]
    files = {s: [] for s in ("train", "test")}
    for s, c in IMDB_FOLDERS:
        files[s] += [(p, int(c == "pos")) for p in reviews(os.path.join(root, s, c))[0]]
    for s, items in files.items():
        if not items:
            raise DataError(f"{os.path.join(root, s)}: no review files (ID_RATING.txt) in "
                            "pos/ and neg/")
    vocab = table = None
    if tok == "chars":
        texts = (open(p, "rb").read().decode("utf-8", errors="replace")
                 for p, _ in files["train"])
        vocab = _char_vocab(texts, int(opts["min_freq"]))
        table = _table(vocab)
    counts, utf8 = {}, _Utf8Count()
    for s, items in files.items():
        inputs = np.zeros((len(items), L), np.uint16)
        lengths = np.zeros(len(items), np.int32)
        labels = np.array([y for _, y in items], np.int32)
        with progress_bar(len(items), f"text {s}", "file", progress) as bar:
            for i, (p, _) in enumerate(items):
                with open(p, "rb") as f:
                    raw = f.read()
                utf8.check(raw, os.path.relpath(p, root))
                ids = _encode(raw, tok, table, L)
                inputs[i, : len(ids)] = ids
                lengths[i] = len(ids)
                bar.update(1)
        save_arrays(out, s, inputs, lengths, labels)
        counts[s] = len(items)
    counts["val"] = counts["test"]  # val reads the test files (see load_split)
    notes = _imdb_notes(root) + utf8.note("review file(s) are", tok)
    return {"counts": counts, "vocab": vocab, "notes": notes}


def iter_aan(path: str, notes: list | None = None):
    """Yield (lineno, label, text1, text2) of one AAN TSV line by line, quoting off."""
    blank = []
    with open(path, "rb") as f:
        for lineno, line in enumerate(f, 1):
            line = line.rstrip(b"\n")
            if line.endswith(b"\r"):
                line = line[:-1]
            if not line.strip():
                blank.append(lineno)
                continue
            fields = line.split(b"\t")
            if len(fields) != 5:
                raise DataError(f"{path}:{lineno}: expected 5 tab-separated fields (label, "
                                f"id1, id2, text1, text2), got {len(fields)}")
            try:
                label = float(fields[0])
            except ValueError:
                label = -1.0
            if label not in (0.0, 1.0):
                raise DataError(f"{path}:{lineno}: expected label 0/1 (written 0.0/1.0), "
                                f"got {fields[0][:20]!r}")
            yield lineno, int(label), fields[3], fields[4]
    if blank and notes is not None:
        notes.append(f"{path}: {len(blank)} blank line(s) left out (first at line {blank[0]})")


def prepare_retrieval(root: str, opts: dict, out: str, *, progress: bool,
                      workers=None) -> dict:
    L, tok = int(opts["max_length"]), opts["tokenizer"]
    vocab = table = None
    if tok == "chars":
        path = os.path.join(root, "new_aan_pairs.train.tsv")
        texts = (t.decode("utf-8", errors="replace")
                 for r in iter_aan(path) for t in r[2:])
        vocab = _char_vocab(texts, int(opts["min_freq"]))
        table = _table(vocab)
    counts, notes, utf8 = {}, [], _Utf8Count()
    for split, name in AAN_FILES.items():
        path = os.path.join(root, f"new_aan_pairs.{name}.tsv")
        n = sum(1 for _ in iter_aan(path, notes))  # validates every line before writing
        inputs = open_array(os.path.join(out, f"{split}.inputs.npy"), np.uint16, (n, 2, L))
        lengths = np.zeros((n, 2), np.int32)
        labels = np.zeros(n, np.int32)
        with progress_bar(n, f"retrieval {split}", "pair", progress) as bar:
            for i, (lineno, label, t1, t2) in enumerate(iter_aan(path)):
                for j, t in enumerate((t1, t2)):
                    utf8.check(t, f"{os.path.basename(path)}:{lineno} text{j + 1}")
                    ids = _encode(t, tok, table, L)
                    inputs[i, j, : len(ids)] = ids
                    lengths[i, j] = len(ids)
                labels[i] = label
                bar.update(1)
        inputs.flush()
        del inputs
        np.save(os.path.join(out, f"{split}.lengths.npy"), lengths)
        np.save(os.path.join(out, f"{split}.labels.npy"), labels)
        counts[split] = n
    return {"counts": counts, "vocab": vocab, "notes": notes + utf8.note("texts are", tok)}
