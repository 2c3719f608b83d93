"""LRA data: generator speed, the no-shortcut check at scale, cache and pipeline throughput.

Rows, all measured in this process:

- ``listops``: accepted trees/s of `generate_listops` at LRA's lengths (500 < len < 2000)
  with W workers, and the time this projects for the full 100k set (target: < 5 min),
  both from wall time and from CPU seconds per tree spread over W free cores (the machine
  may be shared, which inflates wall time);
  then the first `load_split` (TSV parse + cache write) and the second (cache hit).
- ``pathfinder32`` / ``pathx``: images/s of `generate_pathfinder` (PNG written) with W
  workers, and the projected time for 200k images (target for Pathfinder-32: < 30 min).
- ``shortcut``: probes that must stay at chance on the generated Pathfinder-32 images
  (5-fold out-of-fold accuracy, chance 0.5): L2 logistic regression on raw pixels, on
  pixel statistics and on connected-component features (total ink, component counts and
  the two largest components with the ink joined by dilations of 0, 1, 2 px: the contour
  count / longest contour cue), a best single threshold on those features, and a
  threshold on marker distance; a planted faint shortcut as the probe's positive control.
- ``pipeline[TASK]``: examples/s of `make_loader` (worker_count 0, memmapped uint arrays of
  the task's real shape, Table 9 batch size) against the examples/s a training step
  consumes: LRU steps/s on one A100 (paper Table 4) x batch size.

Writes ``benchmarks/results/data.json`` (``data_quick.json`` with --quick).

    python benchmarks/bench_data.py              # full: 100k ListOps, 4000 + 1000 images
    python benchmarks/bench_data.py --quick      # tiny sizes, seconds
    python benchmarks/bench_data.py --only-pathfinder   # generator rows + probes only
    python benchmarks/bench_data.py --probe new=DIR old=DIR2 --difficulty 14
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


def cv_predictions(X, y, fit_predict, folds=5, seed=0):
    """Out-of-fold predictions (0/1) of `fit_predict(X_train, y_train, X_test)`."""
    idx = np.random.default_rng(seed).permutation(len(y))
    pred = np.zeros(len(y))
    for k in range(folds):
        te = idx[k::folds]
        tr = np.setdiff1d(idx, te)
        pred[te] = fit_predict(X[tr], y[tr], X[te])
    return pred


def logreg(lam=1e-2):
    """L2 logistic regression (scipy L-BFGS) on standardised features, as fit_predict."""
    from scipy.optimize import minimize

    def fit_predict(Xtr, ytr, Xte):
        mu, sd = Xtr.mean(0), Xtr.std(0) + 1e-6
        A = np.c_[(Xtr - mu) / sd, np.ones(len(ytr))]

        def f(w):
            z = A @ w
            g = A.T @ (1 / (1 + np.exp(-z)) - ytr) / len(ytr)
            g[:-1] += 2 * lam * w[:-1]
            return np.mean(np.logaddexp(0, z) - ytr * z) + lam * w[:-1] @ w[:-1], g

        w = minimize(f, np.zeros(A.shape[1]), jac=True, method="L-BFGS-B",
                     options={"maxiter": 500}).x
        return np.c_[(Xte - mu) / sd, np.ones(len(Xte))] @ w > 0

    return fit_predict


def best_threshold(Xtr, ytr, Xte):
    """The single feature and threshold (either sign) with the best training accuracy."""
    best = (0.0, 0, 0.0, True)
    for j in range(Xtr.shape[1]):
        for t in np.unique(np.quantile(Xtr[:, j], np.linspace(0.02, 0.98, 49))):
            acc = np.mean((Xtr[:, j] > t) == ytr)
            best = max(best, (max(acc, 1 - acc), j, t, acc >= 0.5), key=lambda b: b[0])
    _, j, t, sign = best
    return (Xte[:, j] > t) == sign


def marker_distance(X, size):
    """Distance between the two brightest blobs' centres (the markers), per image."""
    from scipy import ndimage

    out = np.zeros(len(X))
    for i, x in enumerate(X.reshape(-1, size, size)):
        lab, k = ndimage.label(x > 0.95)
        if k >= 2:
            cs = ndimage.center_of_mass(x > 0.95, lab, range(1, k + 1))
            out[i] = np.hypot(*np.subtract(cs[0], cs[-1]))
    return out


def component_features(X, size):
    """Per image: total ink, inked pixels, and for the ink (> 0.25) joined by dilation of
    0, 1 and 2 pixels (8-connected) the number of components and the sizes of the two
    largest: what a pixel-grouping cue sees of contour counts and the longest contour."""
    from scipy import ndimage

    disc2 = np.hypot(*np.mgrid[-2:3, -2:3]) <= 2.0
    structs = [None, np.ones((3, 3), bool), disc2]
    rows = []
    for x in X.reshape(-1, size, size):
        ink = x > 0.25
        row = [x.sum(), ink.sum()]
        for st in structs:
            grown = ink if st is None else ndimage.binary_dilation(ink, st)
            lab, k = ndimage.label(grown, np.ones((3, 3), bool))
            sizes = np.sort(np.bincount(lab.ravel())[1:])[::-1] if k else np.zeros(0)
            sizes = np.r_[sizes, 0, 0]
            row += [k, sizes[0], sizes[1]]
        rows.append(row)
    return np.asarray(rows, np.float64)


COMPONENT_NAMES = ["ink_sum", "ink_pixels"] + [f"{n}_d{r}" for r in (0, 1, 2)
                                               for n in ("components", "largest", "second")]


def shortcut_probes(X, y, size=32):
    """5-fold out-of-fold accuracies (chance 0.5) of the no-shortcut probes on images X
    (n, size*size) in [0, 1] with labels y; a planted faint shortcut as positive control."""
    acc = lambda pred: float(np.mean(pred == y))  # noqa: E731
    stats = np.c_[X.sum(1), (X > 0.9).sum(1), (X > 0).sum(1), (X > 0.5).sum(1)]
    d = marker_distance(X, size)[:, None]
    comp = component_features(X, size)
    leaky = X.copy()
    leaky[:, :16] += 0.3 * y[:, None]
    out = {
        "n": len(y), "label_mean": float(y.mean()), "chance_sd": float(0.5 / np.sqrt(len(y))),
        "pixels_logreg": acc(cv_predictions(X, y, logreg())),
        "pixel_stats_logreg": acc(cv_predictions(stats, y, logreg(1e-4))),
        "marker_distance_threshold": acc(cv_predictions(d, y, best_threshold)),
        "components_logreg": acc(cv_predictions(comp, y, logreg(1e-4))),
        "components_best_threshold": acc(cv_predictions(comp, y, best_threshold)),
        "planted_shortcut_pixels_logreg": acc(cv_predictions(leaky, y, logreg())),
    }
    out["components_by_label"] = {
        name: [float(comp[y == k, j].mean()) for k in (0, 1)]
        for j, name in enumerate(COMPONENT_NAMES)}
    return out


def load_pathfinder_pixels(root, difficulty=14):
    """(X (n, 1024) in [0, 1], y) of every split of the Pathfinder-32 set under root."""
    splits = [D.load_split("pathfinder", k, root, progress=False, difficulty=difficulty)
              for k in ("train", "val", "test")]
    X = np.concatenate([s.inputs[..., 0] for s in splits]).astype(np.float64) / 255
    y = np.concatenate([s.labels for s in splits]).astype(np.float64)
    return X, y


def bench_shortcut(root, difficulty=14):
    return shortcut_probes(*load_pathfinder_pixels(root, difficulty))


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


def print_probes(name, sc):
    print(f"no shortcut ({name}, n={sc['n']}, 5-fold out-of-fold, chance 0.5, sd "
          f"{sc['chance_sd']:.3f}): pixels {sc['pixels_logreg']:.3f}, pixel stats "
          f"{sc['pixel_stats_logreg']:.3f}, marker distance "
          f"{sc['marker_distance_threshold']:.3f}, components (ink, counts, largest) "
          f"{sc['components_logreg']:.3f} / best single threshold "
          f"{sc['components_best_threshold']:.3f}; planted control "
          f"{sc['planted_shortcut_pixels_logreg']:.3f}")


def probes_markdown(res):
    """The probe table of a data_probes_d*.json (one row per probed set)."""
    rows = ["| set | images | pixels (logreg) | pixel stats (logreg) | marker distance "
            "(threshold) | components (logreg) | components (best threshold) | planted "
            "shortcut (logreg) |", "|---|---|---|---|---|---|---|---|"]
    for name, r in res["sets"].items():
        rows.append(f"| {name} | {r['n']} | {r['pixels_logreg']:.3f} | "
                    f"{r['pixel_stats_logreg']:.3f} | {r['marker_distance_threshold']:.3f} | "
                    f"{r['components_logreg']:.3f} | {r['components_best_threshold']:.3f} | "
                    f"{r['planted_shortcut_pixels_logreg']:.3f} |")
    return "\n".join(rows)


def probe_sets(specs, difficulty, out_dir):
    """The no-shortcut probes on existing Pathfinder-32 folders (NAME=DIR each)."""
    res = {"difficulty": difficulty, "sets": {}}
    for spec in specs:
        name, _, root = spec.partition("=")
        res["sets"][name] = {"data_dir": os.path.abspath(root),
                             **bench_shortcut(root, difficulty)}
        print_probes(name, res["sets"][name])
    path = os.path.join(out_dir, f"data_probes_d{difficulty}.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")
    print(probes_markdown(res))
    return res


def print_report(res):
    if "listops" in res:
        lo = res["listops"]
        print(f"{'generator':<14}{'n':>8}{'workers':>9}{'per s':>10}{'cpu s/item':>12}"
              f"{'projected (wall)':>20}{'(W free cores)':>16}")
        print(f"{'listops':<14}{lo['n']:>8}{lo['workers']:>9}{lo['per_s']:>10.0f}"
              f"{lo['cpu_seconds'] / lo['n']:>12.4f}{lo['projected_100k_s']:>12.0f} s/100k"
              f"{lo['projected_100k_s_free_cores']:>9.0f} s/100k")
    for name in ("pathfinder32", "pathx"):
        r = res[name]
        print(f"{name:<14}{r['n']:>8}{r['workers']:>9}{r['per_s']:>10.1f}"
              f"{r['cpu_seconds'] / r['n']:>12.4f}{r['projected_200k_s'] / 60:>11.1f} min/200k"
              f"{r['projected_200k_s_free_cores'] / 60:>7.1f} min/200k")
    if "listops" in res:
        lo = res["listops"]
        print(f"listops load: first {lo['load_first_s']:.2f} s, cached "
              f"{lo['load_cached_s']:.3f} s; median length {lo['median_length']:.0f}; "
              f"labels {lo['label_fractions']}")
    print_probes("pathfinder32 difficulty 14", res["shortcut"])
    if "pipeline" in res:
        print(f"{'pipeline':<12}{'batch':>6}{'examples/s':>12}{'needed/s':>10}{'ratio':>8}")
        for r in res["pipeline"]:
            print(f"{r['task']:<12}{r['batch']:>6}{r['examples_per_s']:>12.0f}"
                  f"{r['needed_per_s']:>10.0f}{r['ratio']:>8.1f}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    ap.add_argument("--only-pathfinder", action="store_true",
                    help="only the Pathfinder/PathX generator rows and the probes "
                         "(writes data_pathfinder.json)")
    ap.add_argument("--probe", nargs="+", metavar="NAME=DIR", default=None,
                    help="only run the no-shortcut probes on these existing Pathfinder-32 "
                         "folders (writes data_probes_dDIFFICULTY.json)")
    ap.add_argument("--difficulty", type=int, default=14, choices=(6, 9, 14),
                    help="difficulty of the --probe folders")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--listops", type=int, default=100_000)
    ap.add_argument("--pathfinder", type=int, default=4000)
    ap.add_argument("--pathx", type=int, default=1000)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)
    if args.probe:
        for spec in args.probe:
            if "=" not in spec or not os.path.isdir(spec.partition("=")[2]):
                ap.error(f"--probe {spec}: expected NAME=DIR with DIR an existing folder")
        return probe_sets(args.probe, args.difficulty, args.out)
    if args.quick:
        args.workers, args.listops, args.pathfinder, args.pathx = 1, 50, 60, 4
    tmp = tempfile.mkdtemp(prefix="lrux_bench_data_")
    res = {"machine": platform.platform(), "cpus": os.cpu_count(), "quick": args.quick,
           "load_at_start": os.getloadavg()[0]}
    try:
        if not args.only_pathfinder:
            res["listops"] = bench_listops(os.path.join(tmp, "lo"), args.listops,
                                           args.workers)
        pf_root = os.path.join(tmp, "pf")
        res["pathfinder32"] = bench_pathfinder(pf_root, 32, args.pathfinder, args.workers)
        res["pathx"] = bench_pathfinder(os.path.join(tmp, "px"), 128, args.pathx, args.workers)
        res["load_after_generation"] = os.getloadavg()[0]
        res["shortcut"] = bench_shortcut(pf_root)
        if not args.only_pathfinder:
            n_rows = 64 if args.quick else 512
            n_batches = 2 if args.quick else 20
            res["pipeline"] = [bench_pipeline(t, tmp, n_rows, n_batches)
                               for t in ("listops", "text", "retrieval", "image",
                                         "pathfinder", "pathx")]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print_report(res)
    name = "data_quick" if args.quick else "data_pathfinder" if args.only_pathfinder else "data"
    path = os.path.join(args.out, f"{name}.json")
    with open(path, "w") as f:
        json.dump(res, f, indent=1)
    print(f"wrote {path}")
    return res


if __name__ == "__main__":
    main()
