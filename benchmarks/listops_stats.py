"""ListOps data evidence: lrux's generator against LRA's algorithm and its published figures.

Draws N trees with `lrux.data.listops.draw_trees` (the generator's own code path, seeded
chunks, early abort of over-long trees) and N trees with a reference written here from the
algorithm in shared/docs/lra-data.md (whole trees as nested tuples, Python's `random`, the
value computed LRA's way through unsaturated functions; no lrux code). For both: the
acceptance rate (500 < length < 2000), the length distribution of accepted trees and the
label distribution, with 95% intervals; two-sample tests between the two (chi-square on
labels and on acceptance, Kolmogorov-Smirnov on lengths); and the published figures
(~8% accepted, median ~1000 tokens, labels 0 and 9 ~17% each, the others ~8%).

    python benchmarks/listops_stats.py                 # 100k draws each (~9k accepted)
    python benchmarks/listops_stats.py --table         # the markdown table of the JSON
    python benchmarks/listops_stats.py --draws 4000 --out /tmp/s.json   # seconds

Writes benchmarks/results/listops_stats.json.
"""

import argparse
import json
import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from lrux.data.listops import draw_trees

MIN_LENGTH, MAX_LENGTH, MAX_DEPTH, MAX_ARGS = 500, 2000, 10, 10
PUBLISHED = {"acceptance": 0.08, "median_length": 1000, "label_0": 0.17, "label_9": 0.17,
             "label_other": 0.08}
# The published figures have one significant digit ("~8%"): agreement means within these.
TOLERANCE = {"acceptance": 0.015, "median_length": 100, "label_0": 0.03, "label_9": 0.03,
             "label_other": 0.02}
OUT = Path(__file__).parent / "results" / "listops_stats.json"

# ----------------------------------------------------------------------------- reference

_OPS = ("[MIN", "[MAX", "[MED", "[SM")


def ref_tree(rng: random.Random, depth: int):
    """(tree, length): a leaf with probability 0.75 (always at max depth), else an operator
    node with randint(2, max_args) children; pairs nest left as (((op, c0), c1), ..., ])."""
    r = rng.random() if depth < MAX_DEPTH else 1.0
    if r > 0.25:
        return rng.choice(range(10)), 1
    children, length = [], 2
    for _ in range(rng.randint(2, MAX_ARGS)):
        child, n = ref_tree(rng, depth + 1)
        children.append(child)
        length += n
    node = (rng.choice(_OPS), children[0])
    for c in children[1:]:
        node = (node, c)
    return (node, "]"), length


def ref_string(t) -> str:
    return f"( {ref_string(t[0])} {ref_string(t[1])} )" if isinstance(t, tuple) else str(t)


def ref_value(t):
    """LRA's evaluation: an operator with its arguments so far is an unsaturated function
    (op, [args]); `]` saturates it."""
    if not isinstance(t, tuple):
        return t
    left, right = ref_value(t[0]), ref_value(t[1])
    if left in _OPS:
        return (left, [right])
    if right == "]":
        op, args = left
        if op == "[MIN":
            return min(args)
        if op == "[MAX":
            return max(args)
        if op == "[MED":
            return int(np.median(args))
        return sum(args) % 10
    return (left[0], left[1] + [right])


def reference_samples(n_draws: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    out = []
    for _ in range(n_draws):
        tree, length = ref_tree(rng, 1)
        if MIN_LENGTH < length < MAX_LENGTH:
            s = ref_string(tree)
            assert sum(tok not in "()" for tok in s.split()) == length
            out.append((s, ref_value(tree)))
    return out


def lrux_samples(n_draws: int, seed: int, chunk: int = 5000) -> list[tuple[str, int]]:
    out = []
    for k in range(0, n_draws, chunk):
        out += draw_trees(min(chunk, n_draws - k), seed=seed, chunk=k // chunk,
                          min_length=MIN_LENGTH, max_length=MAX_LENGTH, max_depth=MAX_DEPTH,
                          max_args=MAX_ARGS)
    return out


# ----------------------------------------------------------------------------- statistics

def wilson(k: int, n: int, z: float = 1.96) -> list[float]:
    """95% Wilson interval of a proportion k / n."""
    if n == 0:
        return [0.0, 1.0]
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return [c - h, c + h]


def describe(samples: list[tuple[str, int]], n_draws: int, wall: float) -> dict:
    lengths = np.array([sum(t not in "()" for t in s.split()) for s, _ in samples])
    labels = np.array([y for _, y in samples])
    n = len(samples)
    counts = np.bincount(labels, minlength=10)
    lo, hi = np.sort(lengths)[[max(0, int(n / 2 - 0.98 * math.sqrt(n))),
                               min(n - 1, int(n / 2 + 0.98 * math.sqrt(n)))]]
    return {
        "draws": n_draws, "accepted": n, "unique": len({s for s, _ in samples}),
        "acceptance": n / n_draws, "acceptance_ci": wilson(n, n_draws),
        "length_quantiles": {str(q): float(np.percentile(lengths, q))
                             for q in (5, 25, 50, 75, 95)},
        "median_length": float(np.median(lengths)), "median_length_ci": [float(lo), float(hi)],
        "mean_length": float(lengths.mean()),
        "length_histogram": np.histogram(lengths, bins=np.arange(500, 2001, 100))[0].tolist(),
        "label_counts": counts.tolist(),
        "label_fractions": (counts / n).tolist(),
        "label_ci": [wilson(int(c), n) for c in counts],
        "wall_s": wall,
        "_lengths": lengths, "_labels": labels,
    }


def compare(a: dict, b: dict) -> dict:
    """Two-sample tests between two samples (p-values; large = no evidence of a difference)."""
    from scipy import stats

    labels = np.array([a["label_counts"], b["label_counts"]])
    accept = np.array([[a["accepted"], a["draws"] - a["accepted"]],
                       [b["accepted"], b["draws"] - b["accepted"]]])
    return {
        "labels_chi2_p": float(stats.chi2_contingency(labels)[1]),
        "acceptance_chi2_p": float(stats.chi2_contingency(accept)[1]),
        "lengths_ks_p": float(stats.ks_2samp(a["_lengths"], b["_lengths"]).pvalue),
    }


def against_published(d: dict) -> dict:
    fr = d["label_fractions"]
    other = [fr[i] for i in range(1, 9)]
    got = {"acceptance": d["acceptance"], "median_length": d["median_length"],
           "label_0": fr[0], "label_9": fr[9], "label_other": statistics.mean(other)}
    out = {k: {"published": PUBLISHED[k], "measured": v,
               "agrees": abs(v - PUBLISHED[k]) <= TOLERANCE[k]} for k, v in got.items()}
    out["label_other"]["range"] = [min(other), max(other)]
    out["label_other"]["agrees"] &= all(abs(v - 0.08) <= TOLERANCE["label_other"]
                                        for v in other)
    return out


# ----------------------------------------------------------------------------- report

def table(res: dict) -> str:
    """Markdown table of a results JSON."""
    L, R = res["lrux"], res["reference"]

    def pct(d, k):
        return f"{100 * d['label_fractions'][k]:.1f}%"

    def other(d):
        o = d["label_fractions"][1:9]
        return f"{100 * min(o):.1f}-{100 * max(o):.1f}%"

    rows = [
        ("accepted (500 < len < 2000)", "~8%",
         *(f"{100 * d['acceptance']:.2f}% [{100 * d['acceptance_ci'][0]:.2f}, "
           f"{100 * d['acceptance_ci'][1]:.2f}]" for d in (L, R))),
        ("median length (tokens)", "~1000",
         *(f"{d['median_length']:.0f} [{d['median_length_ci'][0]:.0f}, "
           f"{d['median_length_ci'][1]:.0f}]" for d in (L, R))),
        ("length 5% / 95%", "-",
         *(f"{d['length_quantiles']['5']:.0f} / {d['length_quantiles']['95']:.0f}"
           for d in (L, R))),
        ("label 0", "~17%", pct(L, 0), pct(R, 0)),
        ("label 9", "~17%", pct(L, 9), pct(R, 9)),
        ("labels 1-8 (each)", "~8%", other(L), other(R)),
    ]
    t = res["tests"]
    lines = ["| | LRA (published) | lrux generator | reference (LRA algorithm) |",
             "|---|---|---|---|"]
    lines += [f"| {' | '.join(r)} |" for r in rows]
    lines.append(f"\n{L['draws']:,} draws each ({L['accepted']:,} and {R['accepted']:,} "
                 f"accepted); lrux vs reference: labels chi-square p = "
                 f"{t['labels_chi2_p']:.2f}, acceptance p = {t['acceptance_chi2_p']:.2f}, "
                 f"lengths KS p = {t['lengths_ks_p']:.2f}. 95% intervals in brackets.")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=100_000, help="trees drawn per generator")
    ap.add_argument("--seed", type=int, default=2024)
    ap.add_argument("--out", default=str(OUT))
    ap.add_argument("--table", action="store_true", help="print the table of --out and stop")
    args = ap.parse_args(argv)
    if args.table:
        res = json.loads(Path(args.out).read_text())
        print(table(res))
        return res
    t0 = time.perf_counter()
    lx = lrux_samples(args.draws, args.seed)
    t1 = time.perf_counter()
    ref = reference_samples(args.draws, args.seed)
    t2 = time.perf_counter()
    res = {"lrux": describe(lx, args.draws, t1 - t0),
           "reference": describe(ref, args.draws, t2 - t1)}
    res["tests"] = compare(res["lrux"], res["reference"])
    res["published"] = {"lrux": against_published(res["lrux"]),
                        "reference": against_published(res["reference"]),
                        "tolerance": TOLERANCE}
    for d in (res["lrux"], res["reference"]):
        del d["_lengths"], d["_labels"]
    res["meta"] = {"command": "python benchmarks/listops_stats.py " + " ".join(argv or
                                                                               sys.argv[1:]),
                   "draws": args.draws, "seed": args.seed, "python": platform.python_version(),
                   "load_avg": os.getloadavg(), "date": time.strftime("%Y-%m-%d")}
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(res, indent=1) + "\n")
    print(table(res))
    print(f"wrote {out}")
    return res


if __name__ == "__main__":
    main()
