"""ListOps: LRA's tree generator (Tay et al. 2020, after Nangia & Bowman 2018) and tokeniser.

A node at depth d (root d = 1) is a leaf digit with probability 0.75 (always at max_depth);
otherwise it has randint(2, max_args) children and a uniformly drawn operator among MIN, MAX,
MED (median, truncated) and SM (sum mod 10). A tree is kept only if
min_length < length < max_length (strict), length counting operator, digit and close tokens.
Samples are deduplicated, then split train/val/test in generation order.
"""

import csv
import itertools
import numbers
import os
import random
import statistics

import numpy as np

from lrux.errors import DataError

from .generation import atomic_generation, code_hash, commit
from .spec import SPLITS
from .workers import progress_bar, resolve_workers, worker_map

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


def draw_trees(n_trees: int, *, seed: int = 0, chunk: int = 0, min_length: int = 500,
               max_length: int = 2000, max_depth: int = 10,
               max_args: int = 10) -> list[tuple[str, int]]:
    """The accepted (release string, label) samples among `n_trees` draws of LRA's rule
    (not deduplicated): chunk `chunk` of `generate_listops(seed=seed)` when `n_trees` is its
    `chunk_trees`. Acceptance rate = len(result) / n_trees."""
    return _chunk((seed, chunk, n_trees, min_length, max_length, max_depth, max_args))


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


FILES = tuple(f"basic_{s}.tsv" for s in SPLITS)
FOLDER = "listops-1000"


def _check_arguments(counts: dict, min_length, max_length, max_depth, max_args) -> None:
    for name, v in counts.items():
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or v < 0:
            raise DataError(f"{name}={v}: expected a non-negative count")
    if not 0 <= min_length < max_length - 1:
        raise DataError(f"min_length={min_length}, max_length={max_length}: expected "
                        "0 <= min_length < max_length - 1 (bounds are strict)")
    if max_depth < 1 or max_args < 2:
        raise DataError(f"max_depth={max_depth}, max_args={max_args}: expected >= 1 and >= 2")


def _draw(options: dict, workers: int, progress: bool) -> dict[str, int]:
    """Unique accepted (string -> label) samples, in the order the seeded chunks give them."""
    o = options
    total = o["train"] + o["val"] + o["test"]
    params = (o["chunk_trees"], o["min_length"], o["max_length"], o["max_depth"],
              o["max_args"])
    tasks = ((o["seed"], k, *params) for k in itertools.count())
    samples: dict[str, int] = {}
    with progress_bar(total, "listops", "tree", progress) as bar, \
            worker_map(_chunk, tasks, 1 if total == 0 else workers) as results:
        while len(samples) < total:
            for s, label in next(results):
                if s not in samples:
                    samples[s] = label
                    bar.update(1)
                    if len(samples) == total:
                        break
    return samples


def _write_split(path: str, items: list[tuple[str, int]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, delimiter="\t")
        writer.writerow(["Source", "Target"])
        for s, label in items:
            writer.writerow([s, label])


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
    are consumed in order, so the output does not depend on `workers`. The folder must be
    absent or empty; it appears only when complete, with its marker `lrux_generated.json`
    (see `lrux.data.generation`). Returns the paths.
    """
    counts = {"train": train, "val": val, "test": test}
    _check_arguments(counts, min_length, max_length, max_depth, max_args)
    workers = resolve_workers(workers)
    options = dict(counts, seed=int(seed), min_length=int(min_length),
                   max_length=int(max_length), max_depth=int(max_depth),
                   max_args=int(max_args), chunk_trees=int(chunk_trees))
    plan = {"generator": "listops", "seed": int(seed), "options": options,
            "code": code_hash(__file__)}
    target = os.path.join(os.fspath(out_dir), FOLDER)
    with atomic_generation(target, plan, what="generate listops", expected=FILES) as part:
        items = list(_draw(options, workers, progress).items())
        a = 0
        for split, n in counts.items():
            _write_split(os.path.join(part.path, f"basic_{split}.tsv"), items[a: a + n])
            a += n
        commit(part, counts, plan)
    return {split: os.path.join(target, f"basic_{split}.tsv") for split in SPLITS}


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


_OP_IDS = (TOKEN_IDS["[MIN"], TOKEN_IDS["[SM"])  # operator ids are 11..14
_CLOSE_ID = TOKEN_IDS[CLOSE]


def structure_error(ids) -> str | None:
    """Why the token ids of one expression are not one well-formed tree (None if they are).

    A tree is a digit, or an operator, one or more trees and the close token."""
    ids = [int(i) for i in ids]
    if not ids:
        return "the expression is empty"
    if len(ids) == 1 and 1 <= ids[0] <= 10:
        return None
    depth = 0
    for k, i in enumerate(ids):
        if _OP_IDS[0] <= i <= _OP_IDS[1]:
            if k + 1 < len(ids) and ids[k + 1] == _CLOSE_ID:
                return f"operator {VOCAB[i]} at token {k + 1} has no arguments"
            depth += 1
        elif i == _CLOSE_ID:
            depth -= 1
            if depth < 0:
                return f"']' at token {k + 1} closes no operator"
        if depth == 0 and k + 1 < len(ids):
            return (f"the expression ends at token {k + 1} of {len(ids)} (tokens after a "
                    "complete tree)" if k else f"starts with {VOCAB[i]!r}, not an operator")
    if depth:
        return f"{depth} operator(s) never closed (a truncated line?)"
    return None


def _broken_rows(inputs: np.ndarray, lengths: np.ndarray, chunk: int = 4096) -> np.ndarray:
    """Indices of rows that are not one well-formed tree (vectorised `structure_error`)."""
    bad = []
    for a in range(0, len(lengths), chunk):
        x = inputs[a: a + chunk]
        n = lengths[a: a + chunk].astype(np.int64)
        is_op = (x >= _OP_IDS[0]) & (x <= _OP_IDS[1])
        is_close = x == _CLOSE_ID
        depth = np.cumsum(is_op.astype(np.int16) - is_close, axis=1, dtype=np.int16)
        cols = np.arange(x.shape[1])[None, :]
        inner = np.where(cols < (n - 1)[:, None], depth, 1).min(axis=1) >= 1
        rows = np.arange(len(n))
        closed = depth[rows, np.maximum(n - 1, 0)] == 0
        empty_op = (is_op[:, :-1] & is_close[:, 1:]).any(axis=1)
        tree = is_op[:, 0] & inner & closed & ~empty_op
        leaf = (n == 1) & (x[:, 0] >= 1) & (x[:, 0] <= 10)
        bad.extend(a + np.flatnonzero(~(tree | leaf) | (n == 0)))
    return np.asarray(bad, np.int64)


def _decode(path: str) -> str:
    with open(path, "rb") as f:
        raw = f.read()
    try:
        return raw.decode("utf-8-sig")  # a byte-order mark is not part of the header
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        raise DataError(f"{path}:{line}: bytes {raw[e.start:e.end]!r} are not UTF-8 text "
                        "(a damaged or foreign file?)") from None


def _parse_row(path: str, lineno: int, ln: str) -> tuple[np.ndarray | list, int]:
    fields = ln.split("\t")
    if len(fields) != 2:
        raise DataError(f"{path}:{lineno}: expected 2 tab-separated fields "
                        f"(Source, Target), got {len(fields)}")
    src = fields[0]
    if src.count("(") != src.count(")"):
        raise DataError(f"{path}:{lineno}: unbalanced parentheses ({src.count('(')} '(' and "
                        f"{src.count(')')} ')'; a truncated line?)")
    try:
        ids = _fast_tokenize(src)
        if ids is None:
            ids = tokenize(src)  # slow path: finds and names the bad token
    except KeyError as e:
        raise DataError(f"{path}:{lineno}: unknown token {e.args[0]!r}; expected digits, "
                        f"{', '.join(OPERATORS)}, ']' or parentheses") from None
    if len(ids) == 0:
        raise DataError(f"{path}:{lineno}: the expression is empty")
    target = fields[1].strip()
    if target not in _DIGITS:
        raise DataError(f"{path}:{lineno}: expected a Target digit 0..9, got {fields[1]!r}")
    return ids, int(target)


def _too_long_message(path, lengths, linenos, max_length) -> str:
    over = np.flatnonzero(lengths > max_length)
    longest = int(lengths.max())
    fit = 1 << (longest - 1).bit_length()
    return (f"{path}: {len(over)} of {len(lengths)} expressions are longer than "
            f"max_length={max_length} tokens (the longest has {longest}, first at line "
            f"{linenos[over[0]]}). Load with max_length >= {longest} (train_lra.py: "
            f"--set data.load.max_length={fit}), or give a --data-dir with short data "
            f"(python -m lrux.data generate listops --out DIR --min-length M "
            f"--max-length {max_length + 1}, M < {max_length})")


def read_tsv(path: str, max_length: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, list]:
    """Read one release TSV into (inputs (n, max_length) uint16, lengths, labels, notes).

    Raises DataError naming file:line on non-UTF-8 bytes, a malformed header, line, token,
    label, unbalanced parentheses, an expression that is not one well-formed tree, and on
    expressions longer than `max_length` tokens (with the fix). `notes` are counted
    warnings (blank lines, which are left out).
    """
    lines = _decode(path).splitlines()
    if not lines or lines[0].split("\t") != ["Source", "Target"]:
        got = lines[0][:60] if lines else "an empty file"
        raise DataError(f"{path}:1: expected the header 'Source<TAB>Target', got {got!r}")
    blank = [i + 2 for i, ln in enumerate(lines[1:]) if not ln.strip()]
    notes = [f"{path}: {len(blank)} blank line(s) left out (first at line {blank[0]})"] \
        if blank else []
    linenos = np.array([i + 2 for i, ln in enumerate(lines[1:]) if ln.strip()], np.int64)
    rows = [_parse_row(path, int(k), lines[k - 1]) for k in linenos]
    lengths = np.array([len(ids) for ids, _ in rows], np.int32)
    labels = np.array([y for _, y in rows], np.int32)
    if len(rows) and lengths.max() > max_length:
        raise DataError(_too_long_message(path, lengths, linenos, max_length))
    inputs = np.zeros((len(rows), max_length), np.uint16)
    for j, (ids, _) in enumerate(rows):
        inputs[j, : len(ids)] = ids
    broken = _broken_rows(inputs, lengths)
    if len(broken):
        j = int(broken[0])
        why = structure_error(inputs[j, : lengths[j]])
        raise DataError(f"{path}:{linenos[j]}: not a well-formed ListOps expression: {why} "
                        f"({len(broken)} such line(s) in the file)")
    return inputs, lengths, labels, notes
