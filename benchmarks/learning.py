"""Evidence of learning at CPU scale: small experiments that echo the LRU paper.

Three experiments, each trained with the library's own model, optimiser and steps
(`lrux.train.build_model`, `make_optimizer`, `make_train_step`, `make_eval_step`):

- `ladder`: every rung of the ablation ladder plus S4D, S5 and RG-LRU, one model size and
  step budget, on (a) generated ListOps with short expressions and (b) delayed recall, a
  long-memory task generated on the fly (the class token sits at position 0 of a sequence
  of `--length` random distractor tokens; the classifier reads the LAST position only, so
  the class must be carried through every step of the recurrence).
- `signal`: the paper's signal-propagation claims on delayed recall: accuracy as the ring
  moves to r_max -> 1 with gamma (the LRU) and without (`diag-ring`), and max_phase
  2 pi vs pi/10 at the longest ring. (Dense linear vs diagonal is read off the ladder.)
- `pathfinder`: the LRU's bidirectional Pathfinder-32 model (the `smoke` preset's shape) on
  generated images, trained for a fixed wall-clock budget, with its validation curve.

Every run records its config, seed, wall time, loss curve and held-out accuracy in
`benchmarks/results/learning.json` (`--quick`: `learning_quick.json`). `--only` runs some
experiments and merges them into the existing JSON. `--plot` redraws the figures in
docs/figures/ from the JSON; `--markdown` prints the results tables.

    python benchmarks/learning.py --quick                   # < 5 min on a quiet 2-core CPU
    python benchmarks/learning.py --only ladder --seeds 3   # part of the full suite
    python benchmarks/learning.py --plot --markdown         # figures and tables from the JSON
"""

import argparse
import dataclasses
import datetime
import json
import math
import os
import platform
import sys
import time
import types
from typing import Any

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

RESULTS = os.path.join(HERE, "results")
FIGURES = os.path.join(ROOT, "docs", "figures")
EXPERIMENTS = ("ladder", "signal", "pathfinder")
LADDER = (
    "rnn-relu", "rnn-tanh", "linear-dense", "diag-reim", "diag-exp", "diag-stable-exp",
    "diag-ring", "lru", "s4d", "s5", "rglru",
)
# Mixers that take the ring options (r_min, r_max, max_phase).
RING_MIXERS = ("diag-ring", "lru")


@dataclasses.dataclass(frozen=True)
class Config:
    """Sizes and budgets of one suite run (see `full_config` / `quick_config`)."""

    seeds: tuple[int, ...] = (0, 1, 2)
    mixers: tuple[str, ...] = LADDER
    ladder_tasks: tuple[str, ...] = ("listops", "recall")
    depth: int = 2
    d_model: int = 32
    d_state: int = 64
    lr: float = 3e-3
    lr_factor: float = 0.5
    weight_decay: float = 0.05
    # ListOps (short expressions)
    listops_train: int = 4000
    listops_eval: int = 500
    listops_min: int = 50
    listops_max: int = 200
    listops_steps: int = 400
    listops_batch: int = 32
    # delayed recall
    length: int = 1024
    recall_classes: int = 8
    recall_distractors: int = 1
    recall_steps: int = 300
    recall_batch: int = 16
    recall_eval: int = 512
    ring: tuple[float, float] = (0.9, 0.999)  # ring of the LRU-family rungs in the ladder
    # signal propagation
    signal_rings: tuple[tuple[float, float], ...] = (
        (0.9, 0.99), (0.99, 0.999), (0.999, 0.9999)
    )
    # max_phase values other than 2 pi at the last ring (2 pi is the ring sweep's LRU run)
    signal_phases: tuple[float, ...] = (math.pi / 10,)
    signal_seeds: tuple[int, ...] = (0, 1, 2)
    # Pathfinder-32
    pf_images: int = 4000
    pf_seconds: float = 420.0
    pf_batch: int = 32
    pf_eval_every: int = 50
    pf_eval: int = 400
    pf_lr: float = 3e-3
    log_every: int = 10

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def full_config() -> Config:
    return Config()


def quick_config() -> Config:
    return Config(
        seeds=(0,),
        mixers=("rnn-tanh", "linear-dense", "diag-reim", "diag-ring", "lru", "s4d", "s5"),
        listops_train=1000, listops_eval=200, listops_steps=60,
        length=256, recall_steps=60, recall_eval=256,
        signal_rings=((0.9, 0.99), (0.99, 0.999)), signal_phases=(math.pi / 10,),
        signal_seeds=(0,),
        pf_images=400, pf_seconds=30.0, pf_eval_every=20, pf_eval=100,
    )


def tiny_config() -> Config:
    """For the test suite: a few steps at toy sizes (seconds)."""
    return Config(
        seeds=(0,), mixers=("lru",), depth=1, d_model=8, d_state=8,
        listops_train=64, listops_eval=32, listops_min=10, listops_max=40, listops_steps=3,
        listops_batch=8, length=32, recall_steps=3, recall_batch=8, recall_eval=16,
        ring=(0.9, 0.99), signal_rings=((0.9, 0.99),), signal_phases=(), signal_seeds=(0,),
        pf_images=24, pf_seconds=1e-3, pf_batch=4, pf_eval_every=2, pf_eval=8, log_every=1,
    )


# ----------------------------------------------------------------------------- data


class Dataset:
    """Host arrays of one split in the `lrux.data` layout: inputs, lengths, labels."""

    def __init__(self, inputs: np.ndarray, lengths: np.ndarray, labels: np.ndarray,
                 kind: str):
        self.inputs, self.lengths, self.labels, self.kind = inputs, lengths, labels, kind

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def batch(self, idx: np.ndarray, batch_size: int) -> dict[str, np.ndarray]:
        """Rows `idx` as a model batch (padded to `batch_size` with valid=False rows)."""
        from lrux.data.pipeline import finish_batch

        raw = {"inputs": self.inputs[idx], "lengths": self.lengths[idx],
               "labels": self.labels[idx]}
        # pixels in [-1, 1] ("symmetric", as the Pathfinder loaders)
        return finish_batch(raw, batch_size=batch_size, kind=self.kind, pad_to=None,
                            mean=0.5, std=0.5)


def delayed_recall(n: int, length: int, *, classes: int, distractors: int,
                   seed: int) -> Dataset:
    """Delayed recall: token 1 + c (c < classes) at position 0, then length - 1 tokens drawn
    uniformly from `distractors` other ids; the label is c. Vocab: 0 pad, 1..classes,
    classes + 1 .. classes + distractors."""
    if length < 2:
        raise ValueError(f"length={length}: delayed recall needs length >= 2")
    if classes < 2 or distractors < 1:
        raise ValueError(f"classes={classes}, distractors={distractors}: expected >= 2, >= 1")
    rng = np.random.default_rng([seed, length, classes, distractors])
    labels = rng.integers(0, classes, n).astype(np.int32)
    x = rng.integers(classes + 1, classes + 1 + distractors, (n, length)).astype(np.int32)
    x[:, 0] = labels + 1
    return Dataset(x, np.full(n, length, np.int32), labels, "tokens")


def data_dir(base: str, name: str) -> str:
    return os.path.join(base, name)


def listops_data(cfg: Config, base: str) -> tuple[Dataset, Dataset]:
    """(train, test) of generated ListOps with min_length < tokens < max_length."""
    from lrux.data import generate_listops, load_split
    from lrux.data.loaders import data_present

    d = data_dir(base, f"listops_{cfg.listops_train}_{cfg.listops_eval}_"
                       f"{cfg.listops_min}_{cfg.listops_max}")
    opts = dict(max_length=cfg.listops_max, progress=False)
    if not data_present("listops", d, **opts):
        generate_listops(d, train=cfg.listops_train, val=cfg.listops_eval,
                         test=cfg.listops_eval, min_length=cfg.listops_min,
                         max_length=cfg.listops_max, seed=0, workers=1, progress=False)
    out = []
    for split in ("train", "test"):
        s = load_split("listops", split, d, **opts)
        out.append(Dataset(np.asarray(s.inputs), np.asarray(s.lengths),
                           np.asarray(s.labels), "tokens"))
    return out[0], out[1]


def pathfinder_data(cfg: Config, base: str) -> tuple[Dataset, Dataset, Dataset]:
    """(train, val, test) of generated Pathfinder-32 (difficulty 14), 80/10/10."""
    from lrux.data import generate_pathfinder, load_split
    from lrux.data.loaders import data_present

    d = data_dir(base, f"pathfinder32_{cfg.pf_images}")
    opts = dict(difficulty=14, progress=False, workers=1)
    if not data_present("pathfinder", d, **opts):
        generate_pathfinder(d, 32, 14, cfg.pf_images, seed=0, workers=1, progress=False)
    out = []
    for split in ("train", "val", "test"):
        s = load_split("pathfinder", split, d, **opts)
        out.append(Dataset(np.asarray(s.inputs), np.asarray(s.lengths),
                           np.asarray(s.labels), "pixels"))
    return out[0], out[1], out[2]


# ----------------------------------------------------------------------------- training


def _spec(num_classes: int, seq_len: int, *, vocab_size: int | None = None,
          channels: int | None = None):
    kind = "tokens" if vocab_size is not None else "pixels"
    return types.SimpleNamespace(num_classes=num_classes, seq_len=seq_len, kind=kind,
                                 vocab_size=vocab_size, channels=channels, dual=False)


def _preset(task: str, mixer: str, cfg: Config, *, steps: int, batch: int,
            pooling: str = "mean", ring: tuple[float, float] | None = None,
            max_phase: float = 2 * math.pi, bidirectional: bool = False, lr: float | None = None,
            **extra: Any):
    from lrux.presets import Preset

    r_min, r_max = ring if ring is not None else cfg.ring
    opts = dict(extra.pop("mixer_options", {}))
    if mixer in RING_MIXERS:
        opts.update(r_min=r_min, r_max=r_max, max_phase=max_phase)
    return Preset(
        task=task, model=mixer, name="smoke", depth=cfg.depth, d_model=cfg.d_model,
        d_state=cfg.d_state, mixer_options=opts,
        bidirectional=bidirectional, pooling=pooling, dropout=0.0,
        batch_size=batch, steps=steps, lr=cfg.lr if lr is None else lr,
        lr_factor=cfg.lr_factor, weight_decay=cfg.weight_decay, **extra,
    )


def _ring_of(preset) -> dict[str, float]:
    """The ring options of a preset's mixer (the uniform disk for mixers without one)."""
    opts = preset.mixer_options
    return {"r_min": opts.get("r_min", 0.0), "r_max": opts.get("r_max", 1.0),
            "max_phase": opts.get("max_phase", 2 * math.pi)}


_STEPS: dict[tuple[str, str], tuple] = {}


class Trainer:
    """One model + optimiser of a preset, with the library's jitted train / eval steps."""

    def __init__(self, preset, spec, seed: int):
        import jax

        from lrux.train import (
            TrainState,
            build_model,
            make_eval_step,
            make_mesh,
            make_optimizer,
            make_train_step,
        )

        self.mesh = make_mesh(jax.devices()[:1])
        self.preset = preset
        key = jax.random.PRNGKey(seed)
        k_model, self.key = jax.random.split(key)
        model, bn_state = build_model(preset, spec, key=k_model)
        import equinox as eqx

        # Runs that differ only in the seed share the optimiser and the jitted steps, so
        # the compiled programs are reused (same structure, same static fields).
        cache_key = (json.dumps(preset.to_dict(), sort_keys=True, default=str),
                     json.dumps(vars(spec), sort_keys=True, default=str))
        if cache_key not in _STEPS:
            tx, _ = make_optimizer(model, lr=preset.lr, lr_factor=preset.lr_factor,
                                   weight_decay=preset.weight_decay, steps=preset.steps,
                                   warmup_frac=preset.warmup_frac, min_lr=preset.min_lr)
            while len(_STEPS) >= 4:  # keep a few compiled pairs alive
                _STEPS.pop(next(iter(_STEPS)))
            _STEPS[cache_key] = (tx, make_train_step(tx, self.mesh), make_eval_step(self.mesh))
        tx, self.train_step, self.eval_step = _STEPS[cache_key]
        opt_state = tx.init(eqx.filter(model, eqx.is_inexact_array))
        self.train_state = TrainState(model, bn_state, opt_state, self.key)

    def step(self, batch: dict[str, np.ndarray]) -> tuple[float, float, bool]:
        from lrux.train import global_batch
        from lrux.train.feed import _batch

        b = global_batch(_batch(batch), self.mesh)
        self.train_state, m = self.train_step(self.train_state, b)
        return float(m.loss), float(m.accuracy), bool(m.finite)

    def evaluate(self, data: Dataset, batch_size: int) -> dict[str, float]:
        from lrux.train import global_batch

        loss = correct = count = 0.0
        for lo in range(0, len(data), batch_size):
            idx = np.arange(lo, min(lo + batch_size, len(data)))
            from lrux.train.feed import _batch

            b = global_batch(_batch(data.batch(idx, batch_size)), self.mesh)
            ls, c, n = self.eval_step(self.train_state.model, self.train_state.bn_state, b)
            loss, correct, count = loss + float(ls), correct + float(c), count + float(n)
        return {"loss": loss / max(count, 1.0), "acc": correct / max(count, 1.0),
                "n": int(count)}


def train_run(preset, spec, train: Dataset, test: Dataset, *, seed: int, log_every: int,
              eval_batch: int | None = None, seconds: float | None = None,
              val: Dataset | None = None, eval_every: int = 0) -> dict[str, Any]:
    """Train `preset.steps` steps (or until `seconds` of wall time) on shuffled batches of
    `train`; evaluate on `test` at the end (and on `val` every `eval_every` steps).

    Returns the run record: loss curve, final train loss, held-out loss / accuracy, wall
    times (compile included; `train_s` excludes evaluation), and whether every loss and
    parameter stayed finite (a non-finite step ends the run)."""
    t0 = time.perf_counter()
    tr = Trainer(preset, spec, seed)
    rng = np.random.default_rng([seed, 7])
    bs = preset.batch_size
    eval_batch = eval_batch or max(bs, 64)
    curve, val_curve = [], []
    order = rng.permutation(len(train))
    pos = 0
    finite = True
    train_s = 0.0
    step = 0
    losses = []
    for step in range(1, preset.steps + 1):
        if pos + bs > len(order):
            order, pos = rng.permutation(len(train)), 0
        idx = order[pos:pos + bs]
        pos += bs
        ts = time.perf_counter()
        loss, acc, ok = tr.step(train.batch(idx, bs))
        train_s += time.perf_counter() - ts
        losses.append(loss)
        if not ok or not math.isfinite(loss):
            finite = False
            curve.append([step, loss])
            break
        if step % log_every == 0 or step == preset.steps:
            curve.append([step, float(np.mean(losses[-log_every:]))])
        if val is not None and eval_every and (step % eval_every == 0 or step == 1):
            ev = tr.evaluate(val, eval_batch)
            val_curve.append({"step": step, "train_s": train_s, "wall_s":
                              time.perf_counter() - t0, "val_acc": ev["acc"],
                              "val_loss": ev["loss"], "train_loss": loss})
        if seconds is not None and train_s >= seconds:
            break
    ev = tr.evaluate(test, eval_batch) if finite else {"loss": float("nan"), "acc": None,
                                                        "n": len(test)}
    rec = {
        "seed": seed, "steps": preset.steps, "steps_done": step, "finite": finite,
        "batch_size": bs, "seq_len": int(train.inputs.shape[1]),
        "model": {**{k: getattr(preset, k) for k in (
            "depth", "d_model", "d_state", "bidirectional", "pooling", "lr", "lr_factor",
            "weight_decay")}, **_ring_of(preset)},
        "final_train_loss": float(np.mean(losses[-log_every:])) if losses else None,
        "test_loss": ev["loss"], "test_acc": ev["acc"], "test_n": ev["n"],
        "loss_curve": curve, "train_s": train_s, "wall_s": time.perf_counter() - t0,
    }
    if val is not None and eval_every:
        if finite and (not val_curve or val_curve[-1]["step"] != step):
            v = tr.evaluate(val, eval_batch)
            val_curve.append({"step": step, "train_s": train_s,
                              "wall_s": time.perf_counter() - t0, "val_acc": v["acc"],
                              "val_loss": v["loss"], "train_loss": losses[-1]})
        rec["val_curve"] = val_curve
    return rec


# Set by `main`: called with (experiment, runs so far, start time) after every run, so
# that an interrupted suite keeps the runs it finished (marked "partial").
_PROGRESS: list = []


def _progress(name: str, runs: list[dict[str, Any]], t0: float) -> None:
    for hook in _PROGRESS:
        hook(name, runs, t0)


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _summ(rec: dict[str, Any]) -> str:
    acc = "diverged" if rec["test_acc"] is None else f"acc {100 * rec['test_acc']:5.1f}%"
    return (f"{acc}  loss {rec['final_train_loss']:.3f}  steps {rec['steps_done']}  "
            f"{rec['wall_s']:.0f}s")


# ----------------------------------------------------------------------------- experiments


def run_ladder(cfg: Config, base: str) -> dict[str, Any]:
    """Every mixer of `cfg.mixers` x {listops, recall} x seeds."""
    from lrux.data.listops import VOCAB_SIZE

    t0 = time.perf_counter()
    lo_train, lo_test = listops_data(cfg, base) if "listops" in cfg.ladder_tasks else (
        Dataset(np.zeros((0, 1), np.int32), np.zeros(0, np.int32), np.zeros(0, np.int32),
                "tokens"),) * 2
    rc_vocab = 1 + cfg.recall_classes + cfg.recall_distractors
    rc_train = delayed_recall(cfg.recall_steps * cfg.recall_batch, cfg.length,
                              classes=cfg.recall_classes, distractors=cfg.recall_distractors,
                              seed=0)
    rc_test = delayed_recall(cfg.recall_eval, cfg.length, classes=cfg.recall_classes,
                             distractors=cfg.recall_distractors, seed=1)
    tasks = {
        "listops": (lo_train, lo_test, _spec(10, cfg.listops_max, vocab_size=VOCAB_SIZE),
                    dict(steps=cfg.listops_steps, batch=cfg.listops_batch, pooling="mean")),
        "recall": (rc_train, rc_test, _spec(cfg.recall_classes, cfg.length,
                                            vocab_size=rc_vocab),
                   dict(steps=cfg.recall_steps, batch=cfg.recall_batch, pooling="last")),
    }
    runs = []
    for task, (train, test, spec, kw) in tasks.items():
        if task not in cfg.ladder_tasks:
            continue
        for mixer in cfg.mixers:
            for seed in cfg.seeds:
                ring = cfg.ring if mixer in RING_MIXERS else (0.0, 1.0)
                preset = _preset(task, mixer, cfg, ring=ring, **kw)
                rec = train_run(preset, spec, train, test, seed=seed,
                                log_every=cfg.log_every)
                rec.update(task=task, mixer=mixer)
                runs.append(rec)
                _progress("ladder", runs, t0)
                _say(f"ladder {task:8s} {mixer:16s} seed {seed}: {_summ(rec)}")
    return {
        "runs": runs,
        "data": {k: v for k, v in {
            "listops": {"train": len(lo_train), "test": len(lo_test),
                        "tokens": [cfg.listops_min, cfg.listops_max], "generator_seed": 0},
            "recall": {"train": len(rc_train), "test": len(rc_test), "length": cfg.length,
                       "classes": cfg.recall_classes, "distractors": cfg.recall_distractors,
                       "pooling": "last"},
        }.items() if k in cfg.ladder_tasks},
        "wall_s": time.perf_counter() - t0,
    }


def run_signal(cfg: Config, base: str) -> dict[str, Any]:
    """Delayed recall: rings toward r_max -> 1 with gamma (lru) and without (diag-ring);
    max_phase values at the last ring (lru)."""
    t0 = time.perf_counter()
    vocab = 1 + cfg.recall_classes + cfg.recall_distractors
    train = delayed_recall(cfg.recall_steps * cfg.recall_batch, cfg.length,
                           classes=cfg.recall_classes, distractors=cfg.recall_distractors,
                           seed=0)
    test = delayed_recall(cfg.recall_eval, cfg.length, classes=cfg.recall_classes,
                          distractors=cfg.recall_distractors, seed=1)
    spec = _spec(cfg.recall_classes, cfg.length, vocab_size=vocab)
    kw = dict(steps=cfg.recall_steps, batch=cfg.recall_batch, pooling="last")
    runs = []
    for ring in cfg.signal_rings:
        for mixer in ("lru", "diag-ring"):
            for seed in cfg.signal_seeds:
                rec = train_run(_preset("recall", mixer, cfg, ring=ring, **kw), spec, train,
                                test, seed=seed, log_every=cfg.log_every)
                rec.update(sweep="ring", mixer=mixer, gamma=mixer == "lru", r_min=ring[0],
                           r_max=ring[1], max_phase=2 * math.pi)
                runs.append(rec)
                _progress("signal", runs, t0)
                _say(f"signal ring {ring} {mixer:9s} seed {seed}: {_summ(rec)}")
    ring = cfg.signal_rings[-1]
    for phase in cfg.signal_phases:
        for seed in cfg.signal_seeds:
            rec = train_run(_preset("recall", "lru", cfg, ring=ring, max_phase=phase, **kw),
                            spec, train, test, seed=seed, log_every=cfg.log_every)
            rec.update(sweep="phase", mixer="lru", gamma=True, r_min=ring[0], r_max=ring[1],
                       max_phase=phase)
            runs.append(rec)
            _progress("signal", runs, t0)
            _say(f"signal phase {phase:.3f} seed {seed}: {_summ(rec)}")
    return {"runs": runs, "data": {"task": "recall", "length": cfg.length,
                                   "train": len(train), "test": len(test)},
            "wall_s": time.perf_counter() - t0}


def run_pathfinder(cfg: Config, base: str) -> dict[str, Any]:
    """The LRU Pathfinder-32 model (smoke preset shape) for `cfg.pf_seconds` of training."""
    from lrux.presets import get_preset

    t0 = time.perf_counter()
    train, val, test = pathfinder_data(cfg, base)
    gen_s = time.perf_counter() - t0
    smoke = get_preset("pathfinder", "lru", "smoke")
    preset = dataclasses.replace(
        smoke, depth=cfg.depth, d_model=cfg.d_model, d_state=cfg.d_state,
        batch_size=cfg.pf_batch, lr=cfg.pf_lr, steps=100_000, data={},
    )
    # a step budget far beyond the time budget, so the cosine schedule stays near its peak
    # after warmup; the run stops on wall time. Warm up over the first 100 steps instead.
    preset = dataclasses.replace(preset, warmup_frac=100 / preset.steps)
    spec = _spec(2, 1024, channels=1)
    n_val = min(len(val), cfg.pf_eval)  # the learning curve is measured on these
    val = Dataset(val.inputs[:n_val], val.lengths[:n_val], val.labels[:n_val], "pixels")
    rec = train_run(preset, spec, train, test, seed=0, log_every=cfg.log_every,
                    seconds=cfg.pf_seconds, val=val, eval_every=cfg.pf_eval_every,
                    eval_batch=64)
    rec.update(mixer="lru", task="pathfinder32")
    _say(f"pathfinder32: {_summ(rec)}")
    labels = np.concatenate([train.labels, val.labels, test.labels])
    return {
        "runs": [rec],
        "model": {**{k: getattr(preset, k) for k in (
            "depth", "d_model", "d_state", "bidirectional", "lr", "lr_factor", "batch_size",
            "glu", "pooling")}, **_ring_of(preset)},
        "data": {"images": int(len(labels)), "train": len(train), "val": len(val),
                 "val_curve_n": n_val, "test": len(test), "difficulty": 14, "size": 32,
                 "label_1_fraction": float(labels.mean()), "generate_or_load_s": gen_s},
        "budget_train_s": cfg.pf_seconds,
        "wall_s": time.perf_counter() - t0,
    }


RUNNERS = {"ladder": run_ladder, "signal": run_signal, "pathfinder": run_pathfinder}


_INVOCATION = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def _machine() -> dict[str, Any]:
    import jax

    return {"backend": jax.default_backend(), "jax": jax.__version__,
            "cpus": os.cpu_count(), "processor": platform.machine(),
            "load_avg_at_end": list(os.getloadavg())}


def run_suite(cfg: Config, only: tuple[str, ...], base: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in only:
        if name not in RUNNERS:
            raise ValueError(f"--only {name!r}: expected some of {', '.join(EXPERIMENTS)}")
    for name in only:
        res = RUNNERS[name](cfg, base)
        res["config"] = cfg.to_dict()
        res["date"] = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
        res["machine"] = _machine()
        out[name] = res
    return out


def run_key(experiment: str, run: dict[str, Any]) -> tuple:
    """What a run measures: a later run with the same key replaces it when merging."""
    if experiment == "ladder":
        return (run["task"], run["mixer"], run["seed"])
    if experiment == "signal":
        return (run["sweep"], run["mixer"], run["r_min"], run["r_max"], run["max_phase"],
                run["seed"])
    return (run["task"], run["seed"])


def merge_section(name: str, old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new` with the runs of `old` that it does not re-measure (kept first, in order).

    Each run carries its own steps, batch and model sizes; `parts` lists the config, date
    and wall time of every invocation that contributed runs."""
    keys = ("config", "date", "wall_s", "machine", "invocation", "partial")
    parts = new.get("parts") or [{k: new.get(k) for k in keys if k in new}]
    if old is None:
        return {**new, "parts": parts}
    fresh = {run_key(name, r) for r in new["runs"]}
    kept = [r for r in old["runs"] if run_key(name, r) not in fresh]
    old_parts = old.get("parts") or [{k: old.get(k) for k in keys if k in old}]
    merged = {**new, "runs": kept + new["runs"], "parts": old_parts + parts}
    if isinstance(old.get("data"), dict) or isinstance(new.get("data"), dict):
        merged["data"] = {**(old.get("data") or {}), **(new.get("data") or {})}
    merged["wall_s"] = sum(p["wall_s"] or 0.0 for p in merged["parts"])
    return merged


def strip_invocation(results: dict[str, Any], invocation: str) -> dict[str, Any]:
    """`results` without the runs and parts written by `invocation` (its snapshots)."""
    out = dict(results)
    for name in EXPERIMENTS:
        if name not in out:
            continue
        sec = dict(out[name])
        sec["runs"] = [r for r in sec["runs"] if r.get("invocation") != invocation]
        sec["parts"] = [p for p in sec.get("parts", []) if p.get("invocation") != invocation]
        if sec["runs"]:
            out[name] = sec
        else:
            del out[name]
    return out


def merge_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Experiments of `new` merged run by run into `old` (`merge_section`); invocations
    of both kept."""
    out = dict(old)
    for name in EXPERIMENTS:
        if name in new:
            out[name] = merge_section(name, old.get(name), new[name])
    invocations = list(old.get("invocations", []))
    invocations += [i for i in new.get("invocations", []) if i not in invocations]
    if invocations:
        out["invocations"] = invocations
    for k in ("benchmark", "quick"):
        if k in new:
            out[k] = new[k]
    return out


def write_json(results: dict[str, Any], path: str) -> None:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1, allow_nan=True)
    os.replace(tmp, path)


# ----------------------------------------------------------------------------- reporting


def _stats(values: list[float]) -> tuple[float, float, int]:
    a = np.asarray([v for v in values if v is not None], float)
    if a.size == 0:
        return float("nan"), float("nan"), 0
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0, int(a.size)


def ladder_table(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Per (mixer): mean / std of test accuracy per task, seeds, diverged count."""
    rows = []
    mixers = list(dict.fromkeys(r["mixer"] for r in res["runs"]))
    for m in mixers:
        row: dict[str, Any] = {"mixer": m}
        for task in ("listops", "recall"):
            rs = [r for r in res["runs"] if r["mixer"] == m and r["task"] == task]
            mean, std, n = _stats([r["test_acc"] for r in rs])
            row[task] = {"mean": mean, "std": std, "n": n,
                         "diverged": sum(not r["finite"] for r in rs),
                         "wall_s": float(np.mean([r["wall_s"] for r in rs])) if rs else None}
        rows.append(row)
    return rows


def phase_groups(res: dict[str, Any]) -> list[tuple[float, list[dict[str, Any]]]]:
    """(max_phase, LRU runs) at the ring of the phase sweep, 2 pi first (from the ring
    sweep), then the phase sweep's values."""
    phase_runs = [r for r in res["runs"] if r["sweep"] == "phase"]
    if not phase_runs:
        return []
    ring = (phase_runs[0]["r_min"], phase_runs[0]["r_max"])
    runs = [r for r in res["runs"] if r["mixer"] == "lru" and (r["r_min"], r["r_max"]) == ring]
    phases = sorted({r["max_phase"] for r in runs}, reverse=True)
    return [(ph, [r for r in runs if r["max_phase"] == ph]) for ph in phases]


def _fmt(cell: dict[str, Any]) -> str:
    if cell["n"] == 0:
        return f"diverged x{cell['diverged']}" if cell["diverged"] else "-"
    s = f"{100 * cell['mean']:.1f}"
    if cell["n"] > 1:
        s += f" ({100 * cell['std']:.1f})"
    if cell["diverged"]:
        s += f", {cell['diverged']} diverged"
    return s


_FIT_LOSS = 0.5  # "fit by step": the first logged step whose train loss is below this


def _signal_cells(runs: list[dict[str, Any]]) -> list[str]:
    """Accuracy (mean, std), mean first logged loss and mean first step with loss below
    `_FIT_LOSS` of some signal runs, as table cells."""
    m, s, n = _stats([r["test_acc"] for r in runs])
    acc = _fmt({"mean": m, "std": s, "n": n, "diverged": sum(not r["finite"] for r in runs)})
    curves = [r["loss_curve"] for r in runs if r["loss_curve"]]
    if not curves:
        return [acc, "-", "-"]
    first = float(np.mean([c[0][1] for c in curves]))
    fit = [next((step for step, loss in c if loss < _FIT_LOSS), None) for c in curves]
    never = any(f is None for f in fit)
    steps = float(np.mean([f if f is not None else c[-1][0]
                           for f, c in zip(fit, curves, strict=True)]))
    return [acc, f"{first:.2f}", f"{'>' if never else ''}{steps:.0f}"]


def parts_table(results: dict[str, Any]) -> str:
    """What was run: one row per experiment invocation (from each section's `parts`)."""
    lines = ["| experiment | date (UTC) | seeds | what | steps | length | runs | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for name in EXPERIMENTS:
        if name not in results:
            continue
        sec = results[name]
        for part in sec.get("parts") or [sec]:
            c = part.get("config") or {}
            inv = part.get("invocation")
            n = sum(1 for r in sec["runs"] if r.get("invocation") == inv)
            if name == "ladder":
                what = (", ".join(c.get("ladder_tasks", ("listops", "recall"))) + ": "
                        + ", ".join(c.get("mixers", ())))
                steps = f"{c.get('listops_steps')} / {c.get('recall_steps')}"
                seeds = len(c.get("seeds", ()))
            elif name == "signal":
                what = "rings " + ", ".join(f"[{a:g}, {b:g}]" for a, b in
                                            c.get("signal_rings", ()))
                what += "; max_phase " + ", ".join(f"{p:.3g}" for p in
                                                   c.get("signal_phases", ()))
                steps = str(c.get("recall_steps"))
                seeds = len(c.get("signal_seeds", ()))
            else:
                what = f"{c.get('pf_images')} images, {c.get('pf_seconds'):g} s budget"
                steps = "-"
                seeds = 1
            length = c.get("length") if name != "pathfinder" else 1024
            if name == "ladder" and tuple(c.get("ladder_tasks", ())) == ("listops",):
                length = f"< {c.get('listops_max')}"
            lines.append(f"| {name} | {(part.get('date') or '')[:16]} | {seeds} | {what} | "
                         f"{steps} | {length} | {n} | {part.get('wall_s') or 0:.0f} |")
    return "\n".join(lines) + "\n"


def markdown(results: dict[str, Any]) -> str:
    """Markdown tables of every experiment present in `results`."""
    out = [parts_table(results)]
    if "ladder" in results:
        res = results["ladder"]
        n_seeds = len(res["config"]["seeds"])
        out.append(f"Ladder: test accuracy %, mean (std) over {n_seeds} seed(s)\n")
        out.append("| mixer | ListOps (short) | delayed recall | s/run (ListOps, recall) |")
        out.append("|---|---|---|---|")
        for row in ladder_table(res):
            w = ", ".join("-" if row[t]["wall_s"] is None else f"{row[t]['wall_s']:.0f}"
                          for t in ("listops", "recall"))
            out.append(f"| {row['mixer']} | {_fmt(row['listops'])} | {_fmt(row['recall'])} "
                       f"| {w} |")
        out.append("")
    if "signal" in results:
        res = results["signal"]
        first = res["runs"][0]["loss_curve"][0][0] if res["runs"][0]["loss_curve"] else 0
        out.append("Signal propagation on delayed recall: test accuracy %, mean (std); the "
                   f"mean train loss at step {first} (the first logged; chance is "
                   f"ln {res['config']['recall_classes']} = "
                   f"{math.log(res['config']['recall_classes']):.2f}); the mean first step "
                   f"with train loss < {_FIT_LOSS} (runs that never got there count as "
                   "their last step, marked >)\n")
        out.append("| ring [r_min, r_max] | LRU (gamma): acc | first loss | fit by step "
                   "| no gamma (diag-ring): acc | first loss | fit by step |")
        out.append("|---|---|---|---|---|---|---|")
        rings = list(dict.fromkeys((r["r_min"], r["r_max"]) for r in res["runs"]
                                   if r["sweep"] == "ring"))
        for ring in rings:
            cells = []
            for g in (True, False):
                rs = [r for r in res["runs"] if r["sweep"] == "ring" and r["gamma"] == g
                      and (r["r_min"], r["r_max"]) == ring]
                cells.extend(_signal_cells(rs))
            out.append(f"| [{ring[0]:g}, {ring[1]:g}] | " + " | ".join(cells) + " |")
        out.append("")
        out.append("| max_phase (LRU, last ring) | test accuracy % | first loss | fit by step |")
        out.append("|---|---|---|---|")
        for r_phase, rs in phase_groups(res):
            name = "2 pi" if abs(r_phase - 2 * math.pi) < 1e-9 else f"pi/{math.pi / r_phase:g}"
            out.append(f"| {name} | " + " | ".join(_signal_cells(rs)) + " |")
        out.append("")
    if "pathfinder" in results:
        rec = results["pathfinder"]["runs"][0]
        acc = "diverged" if rec["test_acc"] is None else f"{100 * rec['test_acc']:.1f}"
        best = max((v["val_acc"] for v in rec.get("val_curve", [])), default=float("nan"))
        out.append("| Pathfinder-32 | steps | train s | test acc % | best val acc % |")
        out.append("|---|---|---|---|---|")
        out.append(f"| LRU (bidirectional) | {rec['steps_done']} | {rec['train_s']:.0f} | "
                   f"{acc} | {100 * best:.1f} |")
        out.append("")
    return "\n".join(out)


def _plot_gamma_curves(ax, res: dict[str, Any]) -> None:
    """Mean train-loss curves at the ring closest to 1, with and without gamma: without it
    the state's scale grows like 1 / sqrt(1 - |lambda|^2) and the loss starts high."""
    rings = [(r["r_min"], r["r_max"]) for r in res["runs"] if r["sweep"] == "ring"]
    if not rings:
        return
    ring = max(rings, key=lambda x: x[1])
    for g, label, c, ls in ((True, "LRU (gamma)", "#47a", "-"),
                            (False, "no gamma (diag-ring)", "#c44", "--")):
        curves = [r["loss_curve"] for r in res["runs"] if r["sweep"] == "ring"
                  and r["gamma"] == g and (r["r_min"], r["r_max"]) == ring and r["loss_curve"]]
        if not curves:
            continue
        n = min(len(c) for c in curves)
        steps = [c[0] for c in curves[0][:n]]
        ax.plot(steps, np.mean([[v for _, v in c[:n]] for c in curves], axis=0), ls=ls,
                color=c, label=f"{label}, mean of {len(curves)}")
    ax.axhline(math.log(res["config"]["recall_classes"]), color="k", ls=":", lw=1,
               label="chance loss")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("train loss")
    ax.set_title(f"ring [{ring[0]:g}, {ring[1]:g}]: loss curves")
    ax.legend()


def plot(results: dict[str, Any], fig_dir: str, suffix: str = "") -> list[str]:
    """PNG figures of the experiments present in `results`; returns their paths."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(fig_dir, exist_ok=True)
    paths = []
    if "ladder" in results:
        lad = results["ladder"]
        rows = ladder_table(lad)
        tasks = [t for t in ("listops", "recall") if any(r[t]["n"] or r[t]["diverged"]
                                                         for r in rows)]
        fig, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2),
                                 squeeze=False)
        chance = {"listops": None, "recall": 1 / lad["config"]["recall_classes"]}
        lengths = sorted({r["seq_len"] for r in lad["runs"] if r["task"] == "recall"
                          and "seq_len" in r}) or [lad["config"]["length"]]
        titles = {"listops": "ListOps (short, generated)",
                  "recall": f"Delayed recall (L = {', '.join(map(str, lengths))})"}
        for ax, task in zip(axes[0], tasks, strict=True):
            names = [r["mixer"] for r in rows]
            means = [100 * r[task]["mean"] if r[task]["n"] else 0 for r in rows]
            colors = ["#c44" if r["mixer"] in ("rnn-relu", "rnn-tanh", "linear-dense") else
                      "#47a" if r["mixer"].startswith(("diag", "lru")) else "#7a4"
                      for r in rows]
            ax.bar(range(len(rows)), means, color=colors, alpha=0.8, label="mean")
            for i, row in enumerate(rows):
                accs = [100 * r["test_acc"] for r in lad["runs"] if r["mixer"] == row["mixer"]
                        and r["task"] == task and r["test_acc"] is not None]
                ax.plot([i] * len(accs), accs, "k.", ms=6)
                if row[task]["diverged"]:
                    ax.text(i, 2, f"div. x{row[task]['diverged']}", rotation=90,
                            ha="center", va="bottom", fontsize=8)
            ax.set_ylim(0, 105)
            ax.set_title(titles[task])
            if chance[task]:
                ax.axhline(100 * chance[task], color="k", ls=":", lw=1, label="chance")
                ax.legend(loc="upper left")
            ax.set_xticks(range(len(rows)), names, rotation=55, ha="right")
            ax.set_ylabel("test accuracy % (bars: mean, dots: seeds)")
        fig.tight_layout()
        p = os.path.join(fig_dir, f"learning_ladder{suffix}.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    if "signal" in results:
        res = results["signal"]
        fig, axes = plt.subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [2, 2, 1]})
        ax = axes[0]
        for g, label, c, ls, mk in ((True, "LRU (gamma)", "#47a", "-", "o"),
                                    (False, "no gamma (diag-ring)", "#c44", "--", "s")):
            rings = sorted({r["r_max"] for r in res["runs"] if r["sweep"] == "ring"})
            xs, ms, ss = [], [], []
            for rmax in rings:
                rs = [r for r in res["runs"] if r["sweep"] == "ring" and r["gamma"] == g
                      and r["r_max"] == rmax]
                m, s, n = _stats([r["test_acc"] for r in rs])
                if n:
                    xs.append(-math.log10(1 - rmax))
                    ms.append(100 * m)
                    ss.append(100 * s)
            ax.errorbar(xs, ms, yerr=ss, marker=mk, ls=ls, capsize=3, label=label, color=c,
                        mfc="none" if not g else c, ms=9 if not g else 6)
        ax.axhline(100 / res["config"]["recall_classes"], color="k", ls=":", lw=1,
                   label="chance")
        ax.set_xlabel("-log10(1 - r_max)  (ring [r_min, r_max])")
        ax.set_ylabel("test accuracy %")
        ax.set_title(f"Delayed recall, L = {res['config']['length']}")
        ax.legend()
        _plot_gamma_curves(axes[1], res)
        ax = axes[2]
        ms, ss, names = [], [], []
        for ph, rs in phase_groups(res):
            m, s, _ = _stats([r["test_acc"] for r in rs])
            ms.append(100 * m)
            ss.append(100 * s)
            names.append("2π" if abs(ph - 2 * math.pi) < 1e-9 else f"π/{math.pi / ph:g}")
        ax.bar(range(len(ms)), ms, yerr=ss, color="#47a", capsize=3)
        ax.set_xticks(range(len(ms)), names)
        ax.set_xlabel("max_phase (LRU)")
        ax.set_title("phase range")
        fig.tight_layout()
        p = os.path.join(fig_dir, f"learning_signal{suffix}.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    if "pathfinder" in results:
        rec = results["pathfinder"]["runs"][0]
        vc = rec.get("val_curve", [])
        fig, ax1 = plt.subplots(figsize=(6.5, 4))
        ax1.plot([c[0] for c in rec["loss_curve"]], [c[1] for c in rec["loss_curve"]],
                 color="#999", label="train loss")
        ax1.set_xlabel("step")
        ax1.set_ylabel("train loss")
        ax2 = ax1.twinx()
        ax2.plot([v["step"] for v in vc], [100 * v["val_acc"] for v in vc], "o-",
                 color="#47a", label="val accuracy")
        ax2.axhline(50, color="k", ls=":", lw=1)
        ax2.set_ylim(0, 100)
        ax2.set_ylabel("val accuracy % (dotted: 50%)")
        ax1.set_title(f"Pathfinder-32, LRU, {rec['train_s']:.0f} s of CPU training")
        fig.legend(loc="lower right", bbox_to_anchor=(0.85, 0.15))
        fig.tight_layout()
        p = os.path.join(fig_dir, f"learning_pathfinder{suffix}.png")
        fig.savefig(p, dpi=110)
        plt.close(fig)
        paths.append(p)
    return paths


# ----------------------------------------------------------------------------- CLI


def _parse_seeds(text: str) -> tuple[int, ...]:
    try:
        # "2," is the one-seed list (2,); "3" alone is a count
        return tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: expected comma-separated ints or a "
                                         f"count, got {text!r}") from None


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the < 5 minute suite")
    ap.add_argument("--only", default=",".join(EXPERIMENTS),
                    help="comma-separated experiments: " + ", ".join(EXPERIMENTS))
    ap.add_argument("--seeds", default=None,
                    help="a count (3) or a list (0,1,2; one seed: 2,) for ladder and signal")
    ap.add_argument("--mixers", default=None, help="comma-separated ladder mixers")
    ap.add_argument("--tasks", default=None,
                    help="ladder tasks, comma-separated: listops, recall (default both)")
    ap.add_argument("--steps", type=int, default=None,
                    help="training steps of every ladder / signal run (both tasks)")
    ap.add_argument("--length", type=int, default=None, help="delayed-recall length")
    ap.add_argument("--pf-seconds", type=float, default=None,
                    help="Pathfinder-32 training budget (seconds)")
    ap.add_argument("--data-dir", default=os.environ.get(
        "LRUX_LEARNING_DATA", os.path.join(os.path.expanduser("~"), ".cache", "lrux",
                                           "learning")),
                    help="where generated ListOps / Pathfinder data are cached")
    ap.add_argument("--out", default=None, help="JSON path (default results/learning.json)")
    ap.add_argument("--no-merge", action="store_true",
                    help="overwrite the JSON instead of merging the experiments run")
    ap.add_argument("--merge-json", default=None,
                    help="merge the experiments of this JSON (another part of the suite) "
                         "into --out, run by run, and exit")
    ap.add_argument("--plot", action="store_true", help="only redraw figures from the JSON")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    ap.add_argument("--fig-dir", default=FIGURES)
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    cfg = tiny_config() if args.tiny else quick_config() if args.quick else full_config()
    if args.seeds is not None:
        seeds = _parse_seeds(args.seeds)
        if len(seeds) == 1 and "," not in args.seeds:
            seeds = tuple(range(seeds[0]))
        if not seeds:
            raise ValueError(f"--seeds {args.seeds!r}: expected at least one seed")
        cfg = dataclasses.replace(cfg, seeds=seeds, signal_seeds=seeds)
    if args.mixers is not None:
        from lrux.registry import MIXERS

        mixers = tuple(m for m in args.mixers.split(",") if m)
        bad = [m for m in mixers if m not in MIXERS]
        if bad or not mixers:
            raise ValueError(f"--mixers: unknown {bad}; expected names of lrux.registry")
        cfg = dataclasses.replace(cfg, mixers=mixers)
    if args.tasks is not None:
        tasks = tuple(t for t in args.tasks.split(",") if t)
        if not tasks or any(t not in ("listops", "recall") for t in tasks):
            raise ValueError(f"--tasks {args.tasks!r}: expected listops and/or recall")
        cfg = dataclasses.replace(cfg, ladder_tasks=tasks)
    if args.steps is not None:
        if args.steps < 1:
            raise ValueError(f"--steps must be >= 1, got {args.steps}")
        cfg = dataclasses.replace(cfg, listops_steps=args.steps, recall_steps=args.steps)
    if args.length is not None:
        if args.length < 2:
            raise ValueError(f"--length must be >= 2, got {args.length}")
        cfg = dataclasses.replace(cfg, length=args.length)
    if args.pf_seconds is not None:
        cfg = dataclasses.replace(cfg, pf_seconds=args.pf_seconds)
    only = tuple(s for s in args.only.split(",") if s)
    bad = [s for s in only if s not in EXPERIMENTS]
    if bad:
        raise ValueError(f"--only: unknown {bad}; expected some of {', '.join(EXPERIMENTS)}")

    name = "learning_tiny.json" if args.tiny else (
        "learning_quick.json" if args.quick else "learning.json")
    out_path = args.out or os.path.join(RESULTS, name)
    existing: dict[str, Any] = {}
    if os.path.exists(out_path) and not args.no_merge:
        with open(out_path) as f:
            existing = json.load(f)
    suffix = "_quick" if args.quick else ("_tiny" if args.tiny else "")
    if args.plot or args.markdown:  # report on the JSON; never train
        if not existing:
            raise ValueError(f"--plot / --markdown: no results at {out_path}")
        if args.plot:
            for p in plot(existing, args.fig_dir, suffix):
                print(p)
        if args.markdown:
            print(markdown(existing))
        return existing

    if args.merge_json:
        with open(args.merge_json) as f:
            other = json.load(f)
        results = merge_results(existing, other)
        write_json(results, out_path)
        print(markdown(results))
        print(f"merged {args.merge_json} into {out_path}")
        return results

    t0 = time.perf_counter()

    def load_base() -> dict[str, Any]:
        """The JSON as it is now, without this invocation's earlier snapshots."""
        if not os.path.exists(out_path) or args.no_merge:
            return {}
        with open(out_path) as f:
            return strip_invocation(json.load(f), _INVOCATION)

    def save_partial(name: str, runs: list[dict[str, Any]], t_start: float) -> None:
        for r in runs:
            r["invocation"] = _INVOCATION
        section = {"runs": list(runs), "partial": True, "config": cfg.to_dict(),
                   "wall_s": time.perf_counter() - t_start, "machine": _machine(),
                   "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
                   "invocation": _INVOCATION}
        write_json(merge_results(load_base(), {name: section}), out_path)

    _PROGRESS[:] = [save_partial]
    try:
        new = run_suite(cfg, only, args.data_dir)
    finally:
        _PROGRESS.clear()
    for section in new.values():
        section["invocation"] = _INVOCATION
        for r in section["runs"]:
            r["invocation"] = _INVOCATION
    results = merge_results(load_base(), new)  # re-read: another run may have written it
    results["benchmark"] = "learning"
    results["quick"] = bool(args.quick)
    results.setdefault("invocations", []).append({
        "argv": list(sys.argv[1:] if argv is None else argv), "experiments": list(only),
        "wall_s": time.perf_counter() - t0,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    })
    write_json(results, out_path)
    print(markdown(new))
    print(f"wrote {out_path} ({time.perf_counter() - t0:.0f} s)")
    if not args.tiny:
        for p in plot(results, args.fig_dir, suffix):
            print(p)
    return results


if __name__ == "__main__":
    main()
