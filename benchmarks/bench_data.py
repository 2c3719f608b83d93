"""LRA data: generator speed, the no-shortcut check at scale, cache and pipeline throughput.

Rows, all measured in this process:

- ``listops``: accepted trees/s of `generate_listops` at LRA's lengths (500 < len < 2000)
  with W workers, and the time this projects for the full 100k set (target: < 5 min),
  both from wall time and from CPU seconds per tree spread over W free cores (the machine
  may be shared, which inflates wall time);
  then the first `load_split` (TSV parse + cache write) and the second (cache hit).
- ``pathfinder32`` / ``pathx``: images/s of `generate_pathfinder` (PNG written) with W
  workers, and the projected time for 200k images (target for Pathfinder-32: < 30 min).
- ``shortcut``: L2 logistic regression on raw pixels (and on pixel statistics, and a
  threshold on marker distance) of the generated Pathfinder-32 images, held-out accuracy
  (chance 0.5), with a planted faint shortcut as the probe's positive control.
- ``pipeline[TASK]``: examples/s of `make_loader` (worker_count 0, memmapped uint arrays of
  the task's real shape, Table 9 batch size) against the examples/s a training step
  consumes: LRU steps/s on one A100 (paper Table 4) x batch size.

Writes ``benchmarks/results/data.json`` (``data_quick.json`` with --quick).

    python benchmarks/bench_data.py              # full: 100k ListOps, 4000 + 1000 images
    python benchmarks/bench_data.py --quick      # tiny sizes, seconds
"""

import argparse
import json
import os
import platform
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

import lrux.data as D

# LRU training steps/s on one A100 (paper Table 4) and Table 9 batch sizes.
STEPS_PER_S = {"image": 15.9, "listops": 2.1, "text": 14.7, "retrieval": 5.7,
               "pathfinder": 15.5, "pathx": 2.4}
BATCH = {"image": 50, "listops": 32, "text": 32, "retrieval": 64, "pathfinder": 64,
         "pathx": 32}


def cpu_seconds():
    """CPU time of this process and its waited-for children (the generator pools)."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    b = resource.getrusage(resource.RUSAGE_CHILDREN)
    return a.ru_utime + a.ru_stime + b.ru_utime + b.ru_stime


def bench_listops(root, n, workers):
    t, c = time.perf_counter(), cpu_seconds()
    D.generate_listops(root, train=n - 2 * (n // 50), val=n // 50, test=n // 50, seed=0,
                       workers=workers, progress=False)
    gen, cpu = time.perf_counter() - t, cpu_seconds() - c
    t = time.perf_counter()
    s = D.load_split("listops", "train", root, progress=False)
    first = time.perf_counter() - t
    t = time.perf_counter()
    s = D.load_split("listops", "train", root, progress=False)
    second = time.perf_counter() - t
    labels = np.bincount(np.asarray(s.labels), minlength=10) / len(s)
    return {"n": n, "workers": workers, "seconds": gen, "per_s": n / gen,
            "projected_100k_s": 100_000 / (n / gen), "cpu_seconds": cpu,
            "projected_100k_s_free_cores": 100_000 * cpu / n / workers,
            "load_first_s": first,
            "load_cached_s": second, "median_length": float(np.median(s.lengths)),
            "label_fractions": labels.round(3).tolist()}


def bench_pathfinder(root, size, n, workers):
    t, c = time.perf_counter(), cpu_seconds()
    D.generate_pathfinder(root, size, 14, n, seed=0, workers=workers, progress=False)
    gen, cpu = time.perf_counter() - t, cpu_seconds() - c
    return {"size": size, "n": n, "workers": workers, "seconds": gen, "per_s": n / gen,
            "projected_200k_s": 200_000 / (n / gen), "cpu_seconds": cpu,
            "projected_200k_s_free_cores": 200_000 * cpu / n / workers}


def logreg_holdout(X, y, lam=1e-2, train_frac=0.8):
    from scipy.optimize import minimize

    n = int(train_frac * len(y))
    mu, sd = X[:n].mean(0), X[:n].std(0) + 1e-6
    A = np.c_[(X[:n] - mu) / sd, np.ones(n)]
    B = np.c_[(X[n:] - mu) / sd, np.ones(len(y) - n)]

    def f(w):
        z = A @ w
        p = 1 / (1 + np.exp(-z))
        g = A.T @ (p - y[:n]) / n
        g[:-1] += 2 * lam * w[:-1]
        return np.mean(np.logaddexp(0, z) - y[:n] * z) + lam * w[:-1] @ w[:-1], g

    w = minimize(f, np.zeros(A.shape[1]), jac=True, method="L-BFGS-B",
                 options={"maxiter": 500}).x
    return float(np.mean((B @ w > 0) == y[n:])), float(np.mean((A @ w > 0) == y[:n]))


def marker_distance(X, size):
    from scipy import ndimage

    out = np.zeros(len(X))
    for i, x in enumerate(X.reshape(-1, size, size)):
        lab, k = ndimage.label(x > 0.95)
        if k >= 2:
            cs = ndimage.center_of_mass(x > 0.95, lab, range(1, k + 1))
            out[i] = np.hypot(*np.subtract(cs[0], cs[-1]))
    return out


def bench_shortcut(root):
    splits = [D.load_split("pathfinder", k, root, progress=False) for k in
              ("train", "val", "test")]
    X = np.concatenate([s.inputs[..., 0] for s in splits]).astype(np.float64) / 255
    y = np.concatenate([s.labels for s in splits]).astype(np.float64)
    pix_test, pix_train = logreg_holdout(X, y)
    stats = np.c_[X.sum(1), (X > 0.9).sum(1), (X > 0).sum(1), (X > 0.5).sum(1)]
    stat_test, _ = logreg_holdout(stats, y, lam=1e-4)
    d = marker_distance(X, 32)
    n = int(0.8 * len(y))
    thresholds = np.unique(d[:n])
    best = max(thresholds, key=lambda t: abs(np.mean((d[:n] > t) == y[:n]) - 0.5))
    sign = np.mean((d[:n] > best) == y[:n]) >= 0.5
    dist_test = float(np.mean(((d[n:] > best) == y[n:]) == sign))
    leaky = X.copy()
    leaky[:, :16] += 0.3 * y[:, None]
    planted, _ = logreg_holdout(leaky, y)
    return {"n": len(y), "label_mean": float(y.mean()), "pixels_test_acc": pix_test,
            "pixels_train_acc": pix_train, "stats_test_acc": stat_test,
            "marker_distance_test_acc": dist_test, "planted_shortcut_test_acc": planted,
            "held_out": len(y) - n, "chance_sd": float(0.5 / np.sqrt(len(y) - n))}


def bench_pipeline(task, tmp, n, batches):
    spec = D.task_spec(task)
    rng = np.random.default_rng(0)
    L = spec.seq_len
    if spec.kind == "pixels":
        shape, dtype = (n, L, spec.channels), np.uint8
    elif spec.dual:
        shape, dtype = (n, 2, L), np.uint16
    else:
        shape, dtype = (n, L), np.uint16
    path = os.path.join(tmp, f"{task}.npy")
    arr = np.lib.format.open_memmap(path, "w+", dtype, shape)
    arr[:] = rng.integers(0, 255, shape, dtype=np.uint8)
    arr.flush()
    del arr
    inputs = np.load(path, mmap_mode="r")
    lengths = np.full(shape[:2] if spec.dual else shape[:1], L, np.int32)
    split = D.Split(task, "train", spec, inputs, lengths, rng.integers(0, 2, n).astype(np.int32),
                    mean=(0.5,) * (spec.channels or 1), std=(0.5,) * (spec.channels or 1))
    bs = BATCH[task]
    it = iter(D.make_loader(split, batch_size=bs, seed=0, shard_index=0, shard_count=1))
    next(it)
    t = time.perf_counter()
    for _ in range(batches):
        next(it)
    sec = time.perf_counter() - t
    rate = batches * bs / sec
    need = STEPS_PER_S[task] * bs
    return {"task": task, "batch": bs, "examples_per_s": rate, "needed_per_s": need,
            "ratio": rate / need}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--listops", type=int, default=100_000)
    ap.add_argument("--pathfinder", type=int, default=4000)
    ap.add_argument("--pathx", type=int, default=1000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.workers, args.listops, args.pathfinder, args.pathx = 1, 50, 60, 4
    tmp = tempfile.mkdtemp(prefix="lrux_bench_data_")
    res = {"machine": platform.platform(), "cpus": os.cpu_count(), "quick": args.quick}
    try:
        res["listops"] = bench_listops(os.path.join(tmp, "lo"), args.listops, args.workers)
        pf_root = os.path.join(tmp, "pf")
        res["pathfinder32"] = bench_pathfinder(pf_root, 32, args.pathfinder, args.workers)
        res["pathx"] = bench_pathfinder(os.path.join(tmp, "px"), 128, args.pathx, args.workers)
        res["shortcut"] = bench_shortcut(pf_root)
        n_rows = 64 if args.quick else 512
        n_batches = 2 if args.quick else 20
        res["pipeline"] = [bench_pipeline(t, tmp, n_rows, n_batches)
                           for t in ("listops", "text", "retrieval", "image", "pathfinder",
                                     "pathx")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    lo, pf, px, sc = res["listops"], res["pathfinder32"], res["pathx"], res["shortcut"]
    print(f"{'generator':<14}{'n':>8}{'workers':>9}{'per s':>10}{'cpu s/item':>12}"
          f"{'projected (wall)':>20}{'(W free cores)':>16}")
    print(f"{'listops':<14}{lo['n']:>8}{lo['workers']:>9}{lo['per_s']:>10.0f}"
          f"{lo['cpu_seconds'] / lo['n']:>12.4f}{lo['projected_100k_s']:>12.0f} s/100k"
          f"{lo['projected_100k_s_free_cores']:>9.0f} s/100k")
    for name, r in (("pathfinder32", pf), ("pathx", px)):
        print(f"{name:<14}{r['n']:>8}{r['workers']:>9}{r['per_s']:>10.1f}"
              f"{r['cpu_seconds'] / r['n']:>12.4f}{r['projected_200k_s'] / 60:>11.1f} min/200k"
              f"{r['projected_200k_s_free_cores'] / 60:>7.1f} min/200k")
    print(f"listops load: first {lo['load_first_s']:.2f} s, cached {lo['load_cached_s']:.3f} s;"
          f" median length {lo['median_length']:.0f}; labels {lo['label_fractions']}")
    print(f"no shortcut (pathfinder32, n={sc['n']}, held-out {sc['held_out']}, chance sd "
          f"{sc['chance_sd']:.3f}): pixels {sc['pixels_test_acc']:.3f} (train "
          f"{sc['pixels_train_acc']:.3f}), pixel stats {sc['stats_test_acc']:.3f}, marker "
          f"distance {sc['marker_distance_test_acc']:.3f}; planted control "
          f"{sc['planted_shortcut_test_acc']:.3f}")
    print(f"{'pipeline':<12}{'batch':>6}{'examples/s':>12}{'needed/s':>10}{'ratio':>8}")
    for r in res["pipeline"]:
        print(f"{r['task']:<12}{r['batch']:>6}{r['examples_per_s']:>12.0f}"
              f"{r['needed_per_s']:>10.0f}{r['ratio']:>8.1f}")
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, "data_quick.json" if args.quick else "data.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
