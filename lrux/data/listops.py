"""ListOps: LRA's tree generator (Tay et al. 2020, after Nangia & Bowman 2018) and tokeniser.

A node at depth d (root d = 1) is a leaf digit with probability 0.75 (always at max_depth);
otherwise it has randint(2, max_args) children and a uniformly drawn operator among MIN, MAX,
MED (median, truncated) and SM (sum mod 10). A tree is kept only if
min_length < length < max_length (strict), length counting operator, digit and close tokens.
Samples are deduplicated, then split train/val/test in generation order.
"""

import csv
import os
import random
import statistics
import sys
from collections.abc import Iterable

import numpy as np

OPERATORS = ("[MIN", "[MAX", "[MED", "[SM")
CLOSE = "]"
VALUE_P = 0.25  # probability threshold: r > VALUE_P makes a leaf

# Token ids: 0 pad, 1..10 digits 0..9, 11..14 operators, 15 close.
VOCAB = ("<pad>",) + tuple(str(d) for d in range(10)) + OPERATORS + (CLOSE,)
TOKEN_IDS = {tok: i for i, tok in enumerate(VOCAB)}
TOKEN_IDS["X"] = TOKEN_IDS[CLOSE]  # LRA's own tokeniser writes the close token as X
VOCAB_SIZE = len(VOCAB)


class _TooLong(Exception):
    pass


def _tree(rng: random.Random, depth: int, max_depth: int, max_args: int, budget: list,
          out: list) -> tuple[int, int]:
    """Draw one tree with LRA's rule, appending its release string parts to `out`.

    Returns (value, length). Raises _TooLong once the tree exceeds the length budget:
    aborting a tree that is certain to be rejected does not change the distribution of
    accepted trees (trees are i.i.d. and rejection is per tree). The left-nested pairs
    ((op, c0), c1), ..., ']' print as "( " * (n + 1) + "op c0 ) c1 ) ... c_{n-1} ) ] )".
    """
    rnd = rng.random
    r = rnd() if depth < max_depth else 1.0
    if r > VALUE_P:
        budget[0] -= 1
        if budget[0] < 0:
            raise _TooLong
        v = int(rnd() * 10)
        out.append(_DIGITS[v])
        return v, 1
    budget[0] -= 2
    if budget[0] < 0:
        raise _TooLong
    n = 2 + int(rnd() * (max_args - 1))  # randint(2, max_args)
    head = len(out)
    out.append("")  # placeholder for "( " * (n + 1) + op
    length = 2
    values = []
    for _ in range(n):
        v, sub_len = _tree(rng, depth + 1, max_depth, max_args, budget, out)
        out.append(")")
        values.append(v)
        length += sub_len
    op = OPERATORS[int(rnd() * 4)]
    out[head] = "( " * (n + 1) + op
    out.append("] )")
    if op == "[MIN":
        val = min(values)
    elif op == "[MAX":
        val = max(values)
    elif op == "[MED":
        val = int(statistics.median(values))
    else:
        val = sum(values) % 10
    return val, length


_DIGITS = tuple(str(d) for d in range(10))


def _chunk(args: tuple) -> list[tuple[str, int]]:
    """Accepted (string, label) samples from `n_trees` draws of one seeded chunk."""
    seed, chunk, n_trees, min_length, max_length, max_depth, max_args = args
    rng = random.Random(int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0]))
    out = []
    for _ in range(n_trees):
        budget = [max_length - 1]
        parts: list = []
        try:
            value, length = _tree(rng, 1, max_depth, max_args, budget, parts)
        except _TooLong:
            continue
        if min_length < length < max_length:
            out.append((" ".join(parts), value))
    return out


def generate_listops(
    out_dir: str | os.PathLike,
    *,
    train: int = 96_000,
    val: int = 2_000,
    test: int = 2_000,
    seed: int = 0,
    min_length: int = 500,
    max_length: int = 2000,
    max_depth: int = 10,
    max_args: int = 10,
    workers: int | None = None,
    chunk_trees: int = 500,
    progress: bool = True,
) -> dict[str, str]:
    """Write `out_dir/listops-1000/basic_{train,val,test}.tsv` as LRA's generator does.

    Seeded and reproducible: chunk k of `chunk_trees` draws uses seed (seed, k), and chunks
    are consumed in order, so the output does not depend on `workers`. Returns the paths.
    """
    for name, v in (("train", train), ("val", val), ("test", test)):
        if int(v) < 0:
            raise ValueError(f"{name}={v}: expected a non-negative count")
    if not 0 <= min_length < max_length - 1:
        raise ValueError(f"min_length={min_length}, max_length={max_length}: expected "
                         "0 <= min_length < max_length - 1 (bounds are strict)")
    if max_depth < 1 or max_args < 2:
        raise ValueError(f"max_depth={max_depth}, max_args={max_args}: expected >= 1 and >= 2")
    total = int(train) + int(val) + int(test)
    workers = (os.cpu_count() or 1) if workers is None else max(1, int(workers))
    samples: dict[str, int] = {}
    params = (min_length, max_length, max_depth, max_args)

    def tasks() -> Iterable[tuple]:
        k = 0
        while True:
            yield (seed, k, chunk_trees, *params)
            k += 1

    from tqdm.auto import tqdm

    bar = tqdm(total=total, desc="listops", unit="tree", disable=not progress,
               file=sys.stderr)
    if workers == 1 or total == 0:
        results = map(_chunk, tasks())
        pool = None
    else:
        import multiprocessing as mp

        pool = mp.get_context("spawn").Pool(workers)
        results = pool.imap(_chunk, tasks(), chunksize=1)
    try:
        while len(samples) < total:
            for s, label in next(results):
                if s not in samples:
                    samples[s] = label
                    bar.update(1)
                    if len(samples) == total:
                        break
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    items = list(samples.items())
    folder = os.path.join(os.fspath(out_dir), "listops-1000")
    os.makedirs(folder, exist_ok=True)
    bounds = {"train": (0, train), "val": (train, train + val),
              "test": (train + val, total)}
    paths = {}
    for split, (a, b) in bounds.items():
        path = os.path.join(folder, f"basic_{split}.tsv")
        tmp = path + ".tmp"
        with open(tmp, "w", newline="") as f:
            writer = csv.writer(f, delimiter="\t")
            writer.writerow(["Source", "Target"])
            for s, label in items[a:b]:
                writer.writerow([s, label])
        os.replace(tmp, path)
        paths[split] = path
    return paths


def tokenize(source: str) -> list[int]:
    """Token ids of one release expression: drop parentheses, keep the close token."""
    ids = []
    for tok in source.split():
        if tok in ("(", ")"):
            continue
        i = TOKEN_IDS.get(tok)
        if i is None:
            raise KeyError(tok)
        ids.append(i)
    return ids


# Fast path: each multi-character token becomes one letter, then a byte lookup table.
_SHORT = (("[MIN", "a"), ("[MAX", "b"), ("[MED", "c"), ("[SM", "d"))
_LUT = np.full(256, 255, np.uint8)  # 255: not a token character
for _d in range(10):
    _LUT[ord(str(_d))] = TOKEN_IDS[str(_d)]
for (_tok, _ch) in _SHORT:
    _LUT[ord(_ch)] = TOKEN_IDS[_tok]
_LUT[ord("]")] = TOKEN_IDS[CLOSE]
_LUT[ord("X")] = TOKEN_IDS[CLOSE]
_TABLE = _LUT.tobytes()  # for bytes.translate (parentheses and spaces are deleted)


def _fast_tokenize(source: str) -> np.ndarray | None:
    """`tokenize` for well-formed lines (None when the line needs the checking path)."""
    if "a" in source or "b" in source or "c" in source or "d" in source:
        return None
    # single spaces between tokens (as the release writes them) else the checking path
    n_tokens = source.count(" ") + 1 - source.count("(") - source.count(")")
    short = source
    for tok, ch in _SHORT:
        short = short.replace(tok, ch)
    try:
        raw = short.encode("ascii").translate(_TABLE, b"() ")
    except UnicodeEncodeError:
        return None
    if len(raw) != n_tokens or b"\xff" in raw:
        return None
    return np.frombuffer(raw, np.uint8)


def read_tsv(path: str, max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read one release TSV into (inputs (n, max_length) uint16, lengths, labels).

    Raises ValueError naming file:line on a malformed header, line, token or label, and on
    an expression longer than `max_length` tokens.
    """
    with open(path, encoding="utf-8", newline="") as f:
        lines = f.read().splitlines()
    if not lines or lines[0].split("\t") != ["Source", "Target"]:
        got = lines[0][:60] if lines else "an empty file"
        raise ValueError(f"{path}:1: expected the header 'Source<TAB>Target', got {got!r}")
    rows = [(i + 2, ln) for i, ln in enumerate(lines[1:]) if ln.strip()]
    inputs = np.zeros((len(rows), max_length), np.uint16)
    lengths = np.zeros(len(rows), np.int32)
    labels = np.zeros(len(rows), np.int32)
    for j, (lineno, ln) in enumerate(rows):
        fields = ln.split("\t")
        if len(fields) != 2:
            raise ValueError(f"{path}:{lineno}: expected 2 tab-separated fields "
                             f"(Source, Target), got {len(fields)}")
        try:
            ids = _fast_tokenize(fields[0])
            if ids is None:
                ids = tokenize(fields[0])  # slow path: finds and names the bad token
        except KeyError as e:
            raise ValueError(f"{path}:{lineno}: unknown token {e.args[0]!r}; expected digits, "
                             f"{', '.join(OPERATORS)}, ']' or parentheses") from None
        try:
            label = int(fields[1])
        except ValueError:
            label = -1
        if not 0 <= label <= 9:
            raise ValueError(f"{path}:{lineno}: expected a Target digit 0..9, "
                             f"got {fields[1]!r}")
        if len(ids) > max_length:
            raise ValueError(f"{path}:{lineno}: expression has {len(ids)} tokens, more than "
                             f"max_length={max_length}")
        inputs[j, : len(ids)] = ids
        lengths[j] = len(ids)
        labels[j] = label
    return inputs, lengths, labels
