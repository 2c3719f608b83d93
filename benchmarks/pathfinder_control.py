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
    from lrux.data import generate_pathfinder, load_split
    from lrux.data.loaders import data_present

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
            point = {"step": step, "train_loss": float(np.mean(losses)),
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


def draw_geometry(difficulty: int, label: int, rng):
    """(path, distractors, markers, snakes) of one lrux image; coordinates in output px."""
    from lrux.data.pathfinder import PARAMS, _DeadEnd, _Snakes

    while True:
        sn = _Snakes(PARAMS[SIZE], difficulty, rng)
        try:
            segs, markers = sn.draw(label)
        except _DeadEnd:
            continue
        s = PARAMS[SIZE].antialias
        segs = [(a / s, b / s) for a, b in segs]
        return segs[:difficulty], segs[difficulty:], [m / s for m in markers], sn


def generator_stats(difficulty: int, n: int = 200, seed: int = 0) -> dict[str, Any]:
    """Construction statistics of n lrux images (half of each label), in output pixels:
    paddles and contours per image, the dash gap inside a contour, the gap between the
    two arms at the middle of the path (label 1: one dash gap; label 0: the seed gap), the
    closest approach of a distractor to the path, and each marker's distance to its
    nearest paddle end. Next to the LRA release's settings (two targets of
    `difficulty` paddles, 20 // (difficulty // 3) distractors of difficulty // 3)."""
    from lrux.data.pathfinder import PARAMS

    rows = {0: [], 1: []}
    for i in range(n):
        label = i % 2
        rng = np.random.default_rng([seed, difficulty, i])
        path, dis, markers, sn = draw_geometry(difficulty, label, rng)
        a1 = difficulty - difficulty // 2
        ends = [e for seg in path for e in seg]
        rows[label].append([
            len(path) + len(dis),
            2 if label == 0 else 1,
            len(dis) / max(1, difficulty // 3),
            np.mean([np.linalg.norm(path[j + 1][0] - path[j][1]) for j in range(a1 - 1)]),
            np.linalg.norm(path[a1][0] - path[0][0]),
            min((_segment_gap(*p, *d) for p in path for d in dis), default=np.inf),
            max(min(np.linalg.norm(m - e) for e in ends) for m in markers),
        ])
    names = ["paddles", "target_contours", "distractors", "dash_gap", "middle_gap",
             "distractor_to_path_min", "marker_to_end_max"]
    out = {"difficulty": difficulty, "images": n, "lrux": {}}
    for label, r in rows.items():
        a = np.array(r, float)
        out["lrux"][f"label_{label}"] = {
            k: {"mean": float(a[:, j].mean()), "min": float(a[:, j].min()),
                "max": float(a[:, j].max())} for j, k in enumerate(names)}
    dl = difficulty // 3
    out["lra_settings"] = {"target_contours": 2, "target_paddles": 2 * difficulty,
                           "distractors": 20 // dl, "distractor_paddles": 20 // dl * dl,
                           "paddles": 2 * difficulty + 20 // dl * dl,
                           "seed_distance": PARAMS[SIZE].seed_distance,
                           "dash_gap (margin)": 1}
    return out


# ----------------------------------------------------------------------------- reports


def result_files() -> list[str]:
    """The training-run JSONs (those with a curve)."""
    paths = []
    for p in sorted(glob.glob(os.path.join(RESULTS, "pathfinder_control*.json"))):
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
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
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
    p.add_argument("--data-dir", default="", help="Pathfinder folder (default "
                   "/work/data/pf32-dDIFFICULTY); generated there when empty")
    p.add_argument("--out", default="", help="result JSON (default benchmarks/results/"
                   "pathfinder_control_cnn_dDIFFICULTY.json)")
    p.add_argument("--from-run", default="", metavar="RUN_DIR",
                   help="convert an examples/train_lra.py run to a result JSON (--out)")
    p.add_argument("--label", default="", help="legend label for --from-run")
    p.add_argument("--plot", action="store_true", help="redraw the figure from the JSONs")
    p.add_argument("--markdown", action="store_true", help="print the results table")
    p.add_argument("--grid", action="store_true", help="save labelled example images")
    p.add_argument("--stats", action="store_true", help="write the generator's construction "
                   "statistics (difficulties 6 and 14) to pathfinder_control_generator.json")
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
                 workers=args.workers, init=args.init, save=args.save)
    report = args.plot or args.markdown or args.grid or args.stats
    if args.from_run:
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
        stats = {"command": "python benchmarks/pathfinder_control.py --stats",
                 "difficulties": [generator_stats(d, 200) for d in (6, 14)]}
        write_json(os.path.join(RESULTS, "pathfinder_control_generator.json"), stats)
        print(json.dumps(stats, indent=1))
    if args.grid:
        save_grid(cfg, os.path.join(FIGURES, f"pathfinder_control_examples_d{cfg.difficulty}.png"))
    if args.plot:
        plot(result_files(), os.path.join(FIGURES, "pathfinder_control.png"))
    if args.markdown:
        print(markdown(result_files()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
