"""Positive control for generated Pathfinder: can a plain CNN learn lrux's images?

A small reference CNN (Equinox convolutions, max pooling, a linear head; no lrux layers),
trained with optax Adam on Pathfinder-32 written by `lrux.data.generate_pathfinder` and
read with `lrux.data.load_split`. If this CNN learns a difficulty, the generated labels can
be learned from the pixels; if it does not, the generator is suspect.

The run's JSON (config, curve of (step, train loss, train acc, val acc), final test
accuracy) is rewritten after every evaluation, so a killed run keeps its curve.
`--from-run RUN_DIR` converts an `examples/train_lra.py` run (its metrics.jsonl) into the
same JSON shape, so the LRU's curve can be drawn next to the CNN's. `--plot` redraws
docs/figures/pathfinder_control.png from every benchmarks/results/pathfinder_control*.json;
`--grid` saves a PNG of labelled example images; `--stats` measures the generator's
construction (contour counts, gaps, marker placement); `--markdown` prints the table.

    python benchmarks/pathfinder_control.py --difficulty 6 --num 40000 --steps 1500
    python benchmarks/pathfinder_control.py --difficulty 14 --num 30000 --steps 20000 \
        --minutes 62 --data-dir /work/data/pf32-d14
    python benchmarks/pathfinder_control.py --difficulty 6 --steps 1000 --save d6.eqx \
        --out pretrain_d6.json        # then --difficulty 14 --init d6.eqx: a warm start
    python benchmarks/pathfinder_control.py --from-run runs/lru-d6 \
        --out benchmarks/results/pathfinder_control_lru_d6.json
    python benchmarks/pathfinder_control.py --grid --difficulty 14 --data-dir /work/data/pf32-d14
    python benchmarks/pathfinder_control.py --plot --markdown
"""

import argparse
import dataclasses
import datetime
import glob
import json
import os
import sys
import time
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

RESULTS = os.path.join(HERE, "results")
FIGURES = os.path.join(ROOT, "docs", "figures")
SIZE = 32  # Pathfinder-32: 32 x 32 grayscale images


@dataclasses.dataclass(frozen=True)
class Config:
    """One CNN run: data, model widths, optimiser and budget."""

    difficulty: int = 6
    num: int = 40_000  # images generated when the data folder is empty (80/10/10 split)
    data_dir: str = ""  # default: /work/data/pf32-d{difficulty} or ./data/pf32-d{difficulty}
    steps: int = 1500
    minutes: float = 0.0  # wall-clock budget of the training loop (0: none); then test
    batch: int = 64
    lr: float = 1e-3
    widths: tuple[int, ...] = (16, 16, 32, 32, 64, 64)  # 3x3 convs; 2x2 max-pool every 2
    hidden: int = 128
    eval_every: int = 100
    eval_n: int = 2000  # validation images per evaluation (the first eval_n of val)
    seed: int = 0
    workers: int = 2  # generation / PNG decoding processes
    init: str = ""  # start from these CNN weights (an earlier run's --save), e.g. difficulty 6
    step_offset: int = 0  # steps already taken by the --init run (a continuation's curve)
    save: str = ""  # write the final CNN weights here (eqx.tree_serialise_leaves)

    def resolved_data_dir(self) -> str:
        if self.data_dir:
            return self.data_dir
        base = "/work/data" if os.path.isdir("/work/data") else os.path.join(ROOT, "data")
        return os.path.join(base, f"pf32-d{self.difficulty}")


# ----------------------------------------------------------------------------- model


def make_cnn(key, widths=Config.widths, hidden=Config.hidden):
    """The reference CNN: (1, 32, 32) image -> (2,) logits. Built lazily (imports jax)."""
    import equinox as eqx
    import jax

    class CNN(eqx.Module):
        convs: list
        norms: list
        fc1: eqx.nn.Linear
        fc2: eqx.nn.Linear

        def __call__(self, x):
            """x (1, 32, 32) in [-1, 1] -> logits (2,)."""
            for i, (conv, norm) in enumerate(zip(self.convs, self.norms, strict=True)):
                x = jax.nn.relu(norm(conv(x)))
                if i % 2 == 1:
                    x = eqx.nn.MaxPool2d(2, 2)(x)
            return self.fc2(jax.nn.relu(self.fc1(x.reshape(-1))))

    keys = jax.random.split(key, len(widths) + 2)
    chans = (1, *widths)
    convs = [eqx.nn.Conv2d(chans[i], chans[i + 1], 3, padding=1, key=keys[i])
             for i in range(len(widths))]
    norms = [eqx.nn.GroupNorm(min(8, w), w) for w in widths]
    side = SIZE // 2 ** (len(widths) // 2)
    fc1 = eqx.nn.Linear(widths[-1] * side * side, hidden, key=keys[-2])
    fc2 = eqx.nn.Linear(hidden, 2, key=keys[-1])
    return CNN(convs, norms, fc1, fc2)


def make_steps(lr: float):
    """(optimiser, train_step, eval_logits): jitted, batch-vmapped functions."""
    import equinox as eqx
    import jax
    import jax.numpy as jnp
    import optax

    tx = optax.adam(lr)

    def loss_fn(model, x, y):
        logits = jax.vmap(model)(x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    @eqx.filter_jit
    def train_step(model, opt_state, x, y):
        (loss, acc), grads = eqx.filter_value_and_grad(loss_fn, has_aux=True)(model, x, y)
        updates, opt_state = tx.update(grads, opt_state, eqx.filter(model, eqx.is_array))
        return eqx.apply_updates(model, updates), opt_state, loss, acc

    @eqx.filter_jit
    def eval_logits(model, x):
        return jax.vmap(model)(x)

    return tx, train_step, eval_logits


def accuracy(eval_logits, model, x: np.ndarray, y: np.ndarray, batch: int) -> float:
    """Accuracy over all of (x, y), in fixed-size batches (the last one padded)."""
    correct = 0
    for lo in range(0, len(y), batch):
        xb = x[lo:lo + batch]
        n = len(xb)
        if n < batch:
            xb = np.concatenate([xb, np.zeros((batch - n, *xb.shape[1:]), xb.dtype)])
        pred = np.argmax(np.asarray(eval_logits(model, xb)), -1)[:n]
        correct += int((pred == y[lo:lo + n]).sum())
    return correct / max(1, len(y))


# ----------------------------------------------------------------------------- data


def to_images(inputs: np.ndarray) -> np.ndarray:
    """uint8 (n, 1024, 1) pixels -> float32 (n, 1, 32, 32) in [-1, 1] ("symmetric")."""
    x = np.asarray(inputs, np.float32).reshape(-1, 1, SIZE, SIZE)
    return x / 127.5 - 1.0


def load_data(cfg: Config) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (images, labels)}; generates cfg.num images first if the folder is empty."""
    from lrux.data import data_present, generate_pathfinder, load_split

    d = cfg.resolved_data_dir()
    opts = dict(difficulty=cfg.difficulty, workers=cfg.workers)
    if not data_present("pathfinder", d, **opts):
        print(f"no difficulty-{cfg.difficulty} data in {d}: generating {cfg.num} images",
              flush=True)
        generate_pathfinder(d, SIZE, cfg.difficulty, cfg.num, seed=cfg.seed,
                            workers=cfg.workers)
    out = {}
    for split in ("train", "val", "test"):
        s = load_split("pathfinder", split, d, **opts)
        out[split] = (to_images(s.inputs), np.asarray(s.labels, np.int32))
    return out


# ----------------------------------------------------------------------------- results


def load_now() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def write_json(path: str, obj: Any) -> None:
    """Atomic write (tmp + rename): a kill mid-write leaves the previous file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
    os.replace(tmp, path)


def new_record(cfg: Config, sizes: dict[str, int], n_params: int) -> dict[str, Any]:
    return {
        "model": "cnn",
        "label": f"CNN, difficulty {cfg.difficulty}"
                 + (f", lr {cfg.lr:g}" if cfg.lr != Config.lr else "")
                 + (f" (from {os.path.basename(cfg.init)})" if cfg.init else ""),
        "difficulty": cfg.difficulty,
        "batch": cfg.batch,
        "config": {**dataclasses.asdict(cfg), "data_dir": cfg.resolved_data_dir()},
        "split_sizes": sizes,
        "num_params": n_params,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
        "load_at_start": load_now(),
        "command": " ".join(["python", "benchmarks/pathfinder_control.py", *sys.argv[1:]]),
        "status": "running",
        "curve": [],
        "test_acc": None,
    }


# ----------------------------------------------------------------------------- training


def train(cfg: Config, out: str, data=None) -> dict[str, Any]:
    """Train the CNN; rewrite `out` after each evaluation; return the final record."""
    import equinox as eqx
    import jax

    data = load_data(cfg) if data is None else data
    (xtr, ytr), (xva, yva), (xte, yte) = data["train"], data["val"], data["test"]
    xva, yva = xva[:cfg.eval_n], yva[:cfg.eval_n]
    model = make_cnn(jax.random.PRNGKey(cfg.seed), cfg.widths, cfg.hidden)
    if cfg.init:
        model = eqx.tree_deserialise_leaves(cfg.init, model)
    tx, train_step, eval_logits = make_steps(cfg.lr)
    opt_state = tx.init(eqx.filter(model, eqx.is_array))
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(eqx.filter(model, eqx.is_array)))
    rec = new_record(cfg, {k: len(v[1]) for k, v in data.items()}, int(n_params))
    rng = np.random.default_rng(cfg.seed)
    order, pos = rng.permutation(len(ytr)), 0
    losses, accs, t0 = [], [], time.perf_counter()
    for step in range(1, cfg.steps + 1):
        if pos + cfg.batch > len(order):
            order, pos = rng.permutation(len(ytr)), 0
        idx = order[pos:pos + cfg.batch]
        pos += cfg.batch
        model, opt_state, loss, acc = train_step(model, opt_state, xtr[idx], ytr[idx])
        losses.append(loss)
        accs.append(acc)
        out_of_time = cfg.minutes > 0 and time.perf_counter() - t0 > 60 * cfg.minutes
        if step % cfg.eval_every == 0 or step == cfg.steps or out_of_time:
            point = {"step": step + cfg.step_offset, "train_loss": float(np.mean(losses)),
                     "train_acc": float(np.mean(accs)),
                     "val_acc": accuracy(eval_logits, model, xva, yva, 256),
                     "elapsed_s": round(time.perf_counter() - t0, 1)}
            rec["curve"].append(point)
            losses, accs = [], []
            print(json.dumps(point), flush=True)
            if out:
                write_json(out, rec)
        if out_of_time:
            break
    if cfg.save:
        eqx.tree_serialise_leaves(cfg.save, model)
    rec["test_acc"] = accuracy(eval_logits, model, xte, yte, 256)
    rec.update(status="done", train_s=round(time.perf_counter() - t0, 1),
               load_at_end=load_now())
    print(f"test accuracy {rec['test_acc']:.4f} ({len(yte)} images)", flush=True)
    if out:
        write_json(out, rec)
    return rec


def distance_controlled(cfg: Config, weights: str, bins: int = 10) -> dict[str, Any]:
    """Test accuracy of saved CNN weights, and how much of it the marker distance explains:
    the test images binned by the distance between their two markers (deciles), the best
    distance-only rule per bin (its majority label, chosen on the test images themselves,
    so this baseline is optimistic) against the CNN's accuracy in the same bin."""
    import equinox as eqx
    import jax

    sys.path.insert(0, HERE)
    import bench_data

    from lrux.data import load_split

    s = load_split("pathfinder", "test", cfg.resolved_data_dir(), difficulty=cfg.difficulty,
                   workers=cfg.workers)
    x, y = to_images(s.inputs), np.asarray(s.labels, np.int32)
    model = eqx.tree_deserialise_leaves(weights, make_cnn(jax.random.PRNGKey(0), cfg.widths,
                                                          cfg.hidden))
    _, _, eval_logits = make_steps(cfg.lr)
    pred = np.concatenate([np.argmax(np.asarray(eval_logits(model, x[lo:lo + 256])), -1)
                           for lo in range(0, len(y), 256)])
    dist = bench_data.marker_distance(np.asarray(s.inputs[:, :, 0], np.float64) / 255.0, SIZE)
    edges = np.quantile(dist, np.linspace(0, 1, bins + 1)[1:-1])
    which = np.digitize(dist, edges)
    rows = []
    for b in range(bins):
        m = which == b
        rate = float(y[m].mean())
        rows.append({"bin": b, "images": int(m.sum()), "distance": [float(dist[m].min()),
                     float(dist[m].max())], "label_1_rate": rate,
                     "distance_rule_acc": max(rate, 1 - rate),
                     "cnn_acc": float((pred[m] == y[m]).mean())})
    n = len(y)
    rule = sum(r["distance_rule_acc"] * r["images"] for r in rows) / n
    return {"weights": weights, "data_dir": cfg.resolved_data_dir(),
            "difficulty": cfg.difficulty, "test_images": n,
            "cnn_test_acc": float((pred == y).mean()), "distance_rule_acc": rule,
            "bins": rows,
            "command": " ".join(["python", "benchmarks/pathfinder_control.py", *sys.argv[1:]])}


# ----------------------------------------------------------------------------- LRU runs


def from_run(run_dir: str, out: str, label: str = "") -> dict[str, Any]:
    """The JSON record of an `examples/train_lra.py` run directory (metrics.jsonl)."""
    from lrux.train.metrics import read_metrics

    with open(os.path.join(run_dir, "config.json")) as f:
        config = json.load(f)
    preset = config["preset"]
    metrics = read_metrics(run_dir)
    train = {m["step"]: m for m in metrics if m["split"] == "train"}
    curve = [{"step": m["step"], "train_loss": train.get(m["step"], {}).get("loss"),
              "train_acc": train.get(m["step"], {}).get("accuracy"),
              "val_acc": m["accuracy"]}
             for m in metrics if m["split"] == "val"]
    test = [m for m in metrics if m["split"] == "test"]
    difficulty = preset["data"].get("load", {}).get("difficulty", 14)
    rec = {
        "model": preset["model"],
        "label": label or f"{preset['model'].upper()} ({preset['preset']} preset, depth "
                          f"{preset['depth']}), difficulty {difficulty}",
        "difficulty": difficulty,
        "batch": preset["batch_size"],
        "config": preset,
        "split_sizes": config["split_sizes"],
        "num_params": config["num_params"],
        "run_dir": os.path.abspath(run_dir),
        "status": "done" if test else "running",
        "curve": curve,
        "test_acc": test[-1]["accuracy"] if test else None,
    }
    if out:
        write_json(out, rec)
    return rec


# ----------------------------------------------------------------------------- generator


def _segment_gap(a, b, c, d) -> float:
    """Smallest distance between segments a-b and c-d (21 points along each)."""
    t = np.linspace(0.0, 1.0, 21)[:, None]
    p, q = a + (b - a) * t, c + (d - c) * t
    return float(np.min(np.linalg.norm(p[:, None] - q[None], axis=-1)))


def _summary(values) -> dict[str, float]:
    a = np.asarray(values, float)
    return {"mean": float(a.mean()), "min": float(a.min()), "max": float(a.max())}


def geometry_stats(difficulty: int, n: int = 200, seed: int = 0) -> dict[str, Any]:
    """Construction statistics of n lrux geometries, in output pixels: target and
    distractor counts and lengths, the dash gap, the distance of the two origins, the
    closest approach of a distractor to a target and of the two targets, and the marker
    distance by label (both labels from the same geometry: the label only picks the
    marked end)."""
    from lrux.data.pathfinder import draw_geometry

    rows = []
    for i in range(n):
        g = draw_geometry(SIZE, difficulty, np.random.default_rng([seed, difficulty, i]))
        t0, t1 = g.targets
        segs = [s for c in g.targets + g.distractors for s in c]
        gaps = [np.linalg.norm(c[j + 1][0] - c[j][1]) for c in g.targets + g.distractors
                for j in range(len(c) - 1)]
        m1, m0 = g.markers(1, 0), g.markers(0, 0)
        rows.append({
            "paddles": len(segs), "target_paddles": [len(t0), len(t1)],
            "distractors": len(g.distractors),
            "distractor_paddles": sorted({len(d) for d in g.distractors}),
            "dash_gap": float(np.mean(gaps)),
            "origin_distance": float(np.linalg.norm(g.origins()[0] - g.origins()[1])),
            "distractor_to_target_min": min(_segment_gap(*p, *d) for p in t0 + t1
                                            for c in g.distractors for d in c),
            "target_to_target_min": min(_segment_gap(*p, *q) for p in t0 for q in t1),
            "marker_distance_label_1": float(np.linalg.norm(m1[0] - m1[1])),
            "marker_distance_label_0": float(np.linalg.norm(m0[0] - m0[1])),
        })
    out: dict[str, Any] = {"difficulty": difficulty, "images": n}
    for k, v in rows[0].items():
        out[k] = v if isinstance(v, list) else _summary([r[k] for r in rows])
    out["marker_distance_cue"] = marker_distance_cue(difficulty, 4 * n, seed)
    return out


def marker_distance_cue(difficulty: int, n: int, seed: int = 0) -> dict[str, float]:
    """How much the exact marker distance tells the label: n geometries, label i % 2, a
    random target marked; the best threshold (either sign) on the first half, its accuracy
    on the second half (chance 0.5)."""
    from lrux.data.pathfinder import draw_geometry

    d, y = np.zeros(n), np.arange(n) % 2
    for i in range(n):
        rng = np.random.default_rng([seed, difficulty, 10_000 + i])
        g = draw_geometry(SIZE, difficulty, rng)
        m = g.markers(int(y[i]), int(rng.integers(0, 2)))
        d[i] = np.linalg.norm(m[0] - m[1])
    h = n // 2
    best = max(((max(a, 1 - a), t, a >= 0.5) for t in np.quantile(d[:h], np.linspace(0, 1, 201))
                for a in [np.mean((d[:h] > t) == y[:h])]), key=lambda b: b[0])
    _, t, sign = best
    return {"images": n, "threshold": float(t),
            "held_out_accuracy": float(np.mean(((d[h:] > t) == y[h:]) == sign))}


def pixel_stats(data_dir: str, difficulty: int, n: int = 1000) -> dict[str, Any]:
    """Pixel statistics of the first n training images of a Pathfinder-32 folder (lrux's
    or any in the release layout): brightness percentiles of the ink off the markers
    (10 < pixel < 250), the fraction of non-zero pixels, and the component features of
    benchmarks/bench_data.py by label."""
    sys.path.insert(0, HERE)
    import bench_data

    from lrux.data import load_split

    s = load_split("pathfinder", "train", data_dir, difficulty=difficulty, progress=False)
    x = np.asarray(s.inputs[:n, :, 0], np.int64)
    y = np.asarray(s.labels[:n])
    ink = x[(x > 10) & (x < 250)]
    comp = bench_data.component_features(x / 255.0, SIZE)
    return {
        "data_dir": os.path.abspath(data_dir), "images": len(y),
        "ink_percentiles_25_50_75_90": np.percentile(ink, [25, 50, 75, 90]).tolist(),
        "nonzero_fraction": float((x > 0).mean()),
        "max_is_255": float((x.max(1) == 255).mean()),
        "components_by_label": {
            name: [float(comp[y == k, j].mean()) for k in (0, 1)]
            for j, name in enumerate(bench_data.COMPONENT_NAMES)},
    }


def generator_stats(folders: dict[str, dict[int, str]], n: int = 200) -> dict[str, Any]:
    """Geometry of lrux's generator at difficulties 6 and 14, and pixel statistics of the
    folders given: {"lrux": {difficulty: dir}, "reference": {...}} (a reference is e.g. the
    original generator's output or the LRA release)."""
    out = {"command": " ".join(["python", "benchmarks/pathfinder_control.py", *sys.argv[1:]]),
           "geometry": [geometry_stats(d, n) for d in (6, 14)], "pixels": {}}
    for name, dirs in folders.items():
        for d, path in sorted(dirs.items()):
            out["pixels"][f"{name}_d{d}"] = pixel_stats(path, d)
    return out


# ----------------------------------------------------------------------------- reports


def result_files(folder: str = RESULTS) -> list[str]:
    """The training-run JSONs (those with a curve) in `folder`."""
    paths = []
    for p in sorted(glob.glob(os.path.join(folder, "pathfinder_control*.json"))):
        with open(p) as f:
            if "curve" in json.load(f):
                paths.append(p)
    return paths


def plot(paths: list[str], out_png: str) -> None:
    """Validation accuracy and train loss against training images seen, one line a run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_acc, ax_loss) = plt.subplots(1, 2, figsize=(11, 4))
    for p in paths:
        with open(p) as f:
            rec = json.load(f)
        seen = [c["step"] * rec["batch"] for c in rec["curve"]]
        ax_acc.plot(seen, [c["val_acc"] for c in rec["curve"]], label=rec["label"])
        ax_loss.plot(seen, [c["train_loss"] for c in rec["curve"]], label=rec["label"])
    ax_acc.axhline(0.5, color="gray", ls=":", lw=1)
    ax_loss.axhline(np.log(2), color="gray", ls=":", lw=1)
    ax_acc.set(xlabel="training images seen (step x batch)", ylabel="validation accuracy",
               title="Generated Pathfinder-32: validation accuracy")
    ax_loss.set(xlabel="training images seen (step x batch)", ylabel="train loss",
                title="train loss (mean since last evaluation)")
    for ax in (ax_acc, ax_loss):
        ax.grid(alpha=0.3)
    ax_acc.legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(out_png), exist_ok=True)
    fig.savefig(out_png, dpi=110)
    print(f"wrote {out_png}")


def markdown(paths: list[str]) -> str:
    rows = ["| run | train / val / test images | batch | steps | best val acc | final val acc "
            "| test acc | JSON |", "|---|---|---|---|---|---|---|---|"]
    for p in paths:
        with open(p) as f:
            rec = json.load(f)
        c = rec["curve"]
        s = rec["split_sizes"]
        test = "-" if rec["test_acc"] is None else f"{rec['test_acc']:.3f}"
        rows.append(
            f"| {rec['label']} | {s['train']} / {s['val']} / {s['test']} | {rec['batch']} | "
            f"{c[-1]['step'] if c else 0} | {max(x['val_acc'] for x in c):.3f} | "
            f"{c[-1]['val_acc']:.3f} | {test} | `{os.path.relpath(p, ROOT)}` |")
    return "\n".join(rows)


def generator_markdown(path: str) -> str:
    """The generator table (geometry and pixels) from pathfinder_control_generator.json."""
    with open(path) as f:
        st = json.load(f)
    geo = {g["difficulty"]: g for g in st["geometry"]}
    pix = st["pixels"]
    cols = [("lrux", 6), ("lrux", 14), ("reference", 6), ("reference", 14)]
    cols = [c for c in cols if f"{c[0]}_d{c[1]}" in pix or c[0] == "lrux"]
    head = "| | " + " | ".join(f"{n} difficulty {d}" for n, d in cols) + " |"
    rows = [head, "|---|" + "---|" * len(cols)]

    def geo_row(name, fmt):
        cells = [fmt(geo[d]) if n == "lrux" else "-" for n, d in cols]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")

    def pix_row(name, fmt):
        cells = [fmt(pix[f"{n}_d{d}"]) if f"{n}_d{d}" in pix else "-" for n, d in cols]
        rows.append(f"| {name} | " + " | ".join(cells) + " |")

    mm = lambda v: f"{v['mean']:.2f} [{v['min']:.2f}, {v['max']:.2f}]"  # noqa: E731
    geo_row("target contours x paddles", lambda g: f"2 x {g['target_paddles'][0]}")
    geo_row("distractors x paddles", lambda g: f"{g['distractors']['mean']:.0f} x "
            f"{g['distractor_paddles'][0]}")
    geo_row("paddles per image", lambda g: f"{g['paddles']['mean']:.0f}")
    geo_row("dash gap (mean [min, max])", lambda g: mm(g["dash_gap"]))
    geo_row("distance of the two origins", lambda g: mm(g["origin_distance"]))
    geo_row("closest distractor to a target", lambda g: mm(g["distractor_to_target_min"]))
    geo_row("closest approach of the two targets", lambda g: mm(g["target_to_target_min"]))
    geo_row("marker distance, label 1 / label 0 (mean)",
            lambda g: f"{g['marker_distance_label_1']['mean']:.2f} / "
                      f"{g['marker_distance_label_0']['mean']:.2f}")
    geo_row("label from the exact marker distance (held-out acc.)",
            lambda g: f"{g['marker_distance_cue']['held_out_accuracy']:.3f} "
                      f"(n={g['marker_distance_cue']['images'] // 2})")
    pix_row("ink off the markers, percentiles 25/50/75/90",
            lambda p: "/".join(f"{v:.0f}" for v in p["ink_percentiles_25_50_75_90"]))
    pix_row("non-zero pixels", lambda p: f"{p['nonzero_fraction']:.3f}")
    pix_row("images whose maximum is 255", lambda p: f"{p['max_is_255']:.3f}")
    for key, name in (("ink_pixels", "pixels > 64, label 0 / 1"),
                      ("components_d0", "ink components, label 0 / 1"),
                      ("largest_d0", "largest ink component (px), label 0 / 1"),
                      ("components_d1", "components after 1-px dilation, label 0 / 1"),
                      ("second_d1", "second largest after 1-px dilation, label 0 / 1")):
        pix_row(name, lambda p, k=key: "{:.1f} / {:.1f}".format(*p["components_by_label"][k]))
    return "\n".join(rows)


def save_grid(cfg: Config, out_png: str, n: int = 24) -> None:
    """A PNG of the first n test images (upscaled x4), each titled with its label."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    x, y = load_data(cfg)["test"]
    cols = 8
    fig, axes = plt.subplots((n + cols - 1) // cols, cols, figsize=(2 * cols, 2.2 * n / cols))
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < min(n, len(y)):
            ax.imshow(x[i, 0], cmap="gray", vmin=-1, vmax=1, interpolation="nearest")
            ax.set_title("connected (1)" if y[i] == 1 else "not connected (0)", fontsize=9)
    fig.suptitle(f"generated Pathfinder-32, difficulty {cfg.difficulty}: test images")
    fig.tight_layout()
    fig.savefig(out_png, dpi=80)
    print(f"wrote {out_png}")


# ----------------------------------------------------------------------------- CLI


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    d = Config()
    p.add_argument("--difficulty", type=int, default=d.difficulty, choices=(6, 9, 14))
    p.add_argument("--num", type=int, default=d.num, help="images to generate if absent")
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--minutes", type=float, default=d.minutes,
                   help="stop training after this many minutes (then test); 0: no limit")
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--eval-every", type=int, default=d.eval_every)
    p.add_argument("--eval-n", type=int, default=d.eval_n)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--workers", type=int, default=d.workers)
    p.add_argument("--init", default="", help="start from CNN weights saved by --save")
    p.add_argument("--save", default="", help="write the final CNN weights to this file")
    p.add_argument("--step-offset", type=int, default=0, help="with --init of the same "
                   "difficulty: steps the earlier run took (the curve continues its steps)")
    p.add_argument("--data-dir", default="", help="Pathfinder folder (default "
                   "/work/data/pf32-dDIFFICULTY); generated there when empty")
    p.add_argument("--out", default="", help="result JSON (default benchmarks/results/"
                   "pathfinder_control_cnn_dDIFFICULTY.json)")
    p.add_argument("--evaluate", default="", metavar="WEIGHTS", help="test accuracy of saved "
                   "CNN weights (--save) against the best marker-distance rule, per distance "
                   "decile; JSON to --out")
    p.add_argument("--from-run", default="", metavar="RUN_DIR",
                   help="convert an examples/train_lra.py run to a result JSON (--out)")
    p.add_argument("--label", default="", help="legend label for --from-run")
    p.add_argument("--plot", action="store_true", help="redraw the figure from the JSONs")
    p.add_argument("--markdown", action="store_true", help="print the results table")
    p.add_argument("--results", default=RESULTS, metavar="DIR", help="the folder of run "
                   "JSONs --markdown tabulates (e.g. results/pathfinder_control_offgrid_render)")
    p.add_argument("--grid", action="store_true", help="save labelled example images")
    p.add_argument("--stats", action="store_true", help="write the generator's construction "
                   "and pixel statistics (difficulties 6 and 14) to "
                   "pathfinder_control_generator.json")
    p.add_argument("--lrux", nargs="*", default=[], metavar="DIFFICULTY=DIR",
                   help="with --stats: lrux Pathfinder-32 folders for the pixel statistics")
    p.add_argument("--reference", nargs="*", default=[], metavar="DIFFICULTY=DIR",
                   help="with --stats: Pathfinder-32 folders (release layout) to compare "
                   "the pixel statistics with")
    args = p.parse_args(argv)
    for name in ("num", "steps", "batch", "eval_every", "eval_n", "workers"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')}={getattr(args, name)}: expected >= 1")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    cfg = Config(difficulty=args.difficulty, num=args.num, data_dir=args.data_dir,
                 steps=args.steps, minutes=args.minutes, batch=args.batch, lr=args.lr,
                 eval_every=args.eval_every, eval_n=args.eval_n, seed=args.seed,
                 workers=args.workers, init=args.init, save=args.save,
                 step_offset=args.step_offset)
    report = args.plot or args.markdown or args.grid or args.stats
    if args.evaluate:
        if not os.path.isfile(args.evaluate):
            print(f"error: --evaluate {args.evaluate}: no such weights file (expected the "
                  "file a run's --save wrote)", file=sys.stderr)
            return 2
        res = distance_controlled(cfg, args.evaluate)
        if args.out:
            write_json(args.out, res)
        print(f"test accuracy {res['cnn_test_acc']:.4f} on {res['test_images']} images; the "
              f"best marker-distance rule (per decile) {res['distance_rule_acc']:.4f}")
        for r in res["bins"]:
            print(f"  distance {r['distance'][0]:5.2f}-{r['distance'][1]:5.2f}: "
                  f"{r['images']} images, rule {r['distance_rule_acc']:.3f}, "
                  f"CNN {r['cnn_acc']:.3f}")
    elif args.from_run:
        if not args.out:
            print("error: --from-run needs --out FILE.json", file=sys.stderr)
            return 2
        if not os.path.isfile(os.path.join(args.from_run, "metrics.jsonl")):
            print(f"error: --from-run {args.from_run}: no metrics.jsonl there (expected an "
                  "examples/train_lra.py run directory)", file=sys.stderr)
            return 2
        from_run(args.from_run, args.out, args.label)
    elif not report:
        out = args.out or os.path.join(RESULTS, f"pathfinder_control_cnn_d{cfg.difficulty}.json")
        train(cfg, out)
    if args.stats:
        folders: dict[str, dict[int, str]] = {"lrux": {}, "reference": {}}
        for name in folders:
            for spec in getattr(args, name):
                d, _, path = spec.partition("=")
                if d not in ("6", "14") or not os.path.isdir(path):
                    print(f"error: --{name} {spec}: expected 6=DIR or 14=DIR with DIR an "
                          "existing folder", file=sys.stderr)
                    return 2
                folders[name][int(d)] = path
        stats = generator_stats(folders)
        write_json(os.path.join(RESULTS, "pathfinder_control_generator.json"), stats)
        print(json.dumps(stats, indent=1))
    if args.grid:
        save_grid(cfg, os.path.join(FIGURES, f"pathfinder_control_examples_d{cfg.difficulty}.png"))
    if args.plot:
        plot(result_files(), os.path.join(FIGURES, "pathfinder_control.png"))
    if args.markdown:
        print(markdown(result_files(args.results)))
        gen = os.path.join(args.results, "pathfinder_control_generator.json")
        if os.path.exists(gen):
            print()
            print(generator_markdown(gen))
    return 0


if __name__ == "__main__":
    sys.exit(main())
