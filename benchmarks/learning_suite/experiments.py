"""The suite's experiments: the ablation ladder, signal propagation, Pathfinder-32.

Each returns its results section ({"runs": [...], "data": ..., "wall_s": ...}); after every
finished run it calls `progress.on_run(experiment, runs so far, start time)` (the caller
writes a partial JSON there, so an interrupted suite keeps its runs).
"""

import dataclasses
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from lrux.errors import ConfigError

from .config import Config, table9_ring
from .results import machine, now
from .tasks import (
    listops_splits,
    pathfinder_splits,
    pixel_spec,
    recall_splits,
    token_spec,
)
from .trainer import StepCache, model_fields, train_run


def _stderr(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


@dataclasses.dataclass(frozen=True)
class Progress:
    """Callbacks of a suite run: `on_run(experiment, runs, t0)` after each run, `say(line)`."""

    on_run: Callable[[str, list[dict[str, Any]], float], None] = lambda *_: None
    say: Callable[[str], None] = _stderr


def summary_line(rec: dict[str, Any]) -> str:
    acc = "diverged" if rec["test_acc"] is None else f"acc {100 * rec['test_acc']:5.1f}%"
    return (f"{acc}  loss {rec['final_train_loss']:.3f}  steps {rec['steps_done']}  "
            f"{rec['wall_s']:.0f}s")


def suite_preset(task: str, mixer: str, cfg: Config, *, steps: int, batch: int,
                 pooling: str = "mean", ring: tuple[float, ...] | None = None,
                 max_phase: float = 2 * math.pi, **fields: Any):
    """A preset at the suite's model size; mixers that take a ring get `ring` (r_min, r_max)
    and `max_phase` (where they take it: the registry's `ring_options`), every other mixer its
    own init (the uniform disk for the disk rungs)."""
    from lrux.presets import Preset
    from lrux.registry import mixer_entry

    r_min, r_max = ring if ring is not None else cfg.ring
    opts: dict[str, Any] = mixer_entry(mixer).ring_kwargs(r_min, r_max, max_phase)
    fields.setdefault("lr", cfg.lr)
    return Preset(task=task, model=mixer, name="smoke", depth=cfg.depth, d_model=cfg.d_model,
                  d_state=cfg.d_state, mixer_options=opts, pooling=pooling, dropout=0.0,
                  batch_size=batch, steps=steps, lr_factor=cfg.lr_factor,
                  weight_decay=cfg.weight_decay, **fields)


def _ladder_tasks(cfg: Config, base: str) -> dict[str, tuple]:
    """task -> (train, test, spec, preset kwargs) of the ladder tasks in `cfg.ladder_tasks`."""
    from lrux.data.listops import VOCAB_SIZE

    tasks = {}
    if "listops" in cfg.ladder_tasks:
        train, test = listops_splits(cfg, base)
        r_min, r_max, phase = table9_ring("listops")
        tasks["listops"] = (train, test, token_spec("listops", 10, cfg.listops_max, VOCAB_SIZE),
                            dict(steps=cfg.listops_steps, batch=cfg.listops_batch,
                                 pooling="mean", ring=(r_min, r_max), max_phase=phase))
    if "recall" in cfg.ladder_tasks:
        train, test = recall_splits(cfg)
        vocab = 1 + cfg.recall_classes + cfg.recall_distractors
        tasks["recall"] = (train, test, token_spec("recall", cfg.recall_classes, cfg.length,
                                                   vocab),
                           dict(steps=cfg.recall_steps, batch=cfg.recall_batch,
                                pooling="last", ring=cfg.ring))
    return tasks


def _ladder_data(cfg: Config, tasks: dict[str, tuple]) -> dict[str, Any]:
    data = {}
    if "listops" in tasks:
        train, test, _, kw = tasks["listops"]
        data["listops"] = {"train": len(train), "test": len(test), "generator_seed": 0,
                           "tokens": [cfg.listops_min, cfg.listops_max],
                           "ring": list(kw["ring"]) + [kw["max_phase"]]}
    if "recall" in tasks:
        train, test, _, kw = tasks["recall"]
        data["recall"] = {"train": len(train), "test": len(test), "length": cfg.length,
                          "classes": cfg.recall_classes, "pooling": "last",
                          "distractors": cfg.recall_distractors, "ring": list(kw["ring"])}
    return data


def run_ladder(cfg: Config, base: str, *, cache: StepCache, progress: Progress
               ) -> dict[str, Any]:
    """Every mixer of `cfg.ladder()` x the ladder tasks x seeds."""
    t0 = time.perf_counter()
    tasks = _ladder_tasks(cfg, base)
    runs = []
    for task, (train, test, spec, kw) in tasks.items():
        for mixer in cfg.ladder():
            for seed in cfg.seeds:
                rec = train_run(suite_preset(task, mixer, cfg, **kw), spec, train, test,
                                seed=seed, log_every=cfg.log_every, cache=cache)
                rec.update(task=task, mixer=mixer)
                runs.append(rec)
                progress.on_run("ladder", runs, t0)
                progress.say(f"ladder {task:8s} {mixer:16s} seed {seed}: {summary_line(rec)}")
    return {"runs": runs, "data": _ladder_data(cfg, tasks), "wall_s": time.perf_counter() - t0}


def run_signal(cfg: Config, base: str, *, cache: StepCache, progress: Progress
               ) -> dict[str, Any]:
    """Delayed recall: rings toward r_max -> 1 with gamma (lru) and without (diag-ring);
    max_phase values at the last ring (lru)."""
    t0 = time.perf_counter()
    train, test = recall_splits(cfg)
    spec = token_spec("recall", cfg.recall_classes, cfg.length,
                      1 + cfg.recall_classes + cfg.recall_distractors)
    kw: dict[str, Any] = dict(steps=cfg.recall_steps, batch=cfg.recall_batch, pooling="last")
    points = [("ring", mixer, ring, 2 * math.pi) for ring in cfg.signal_rings
              for mixer in ("lru", "diag-ring")]
    points += [("phase", "lru", cfg.signal_rings[-1], ph) for ph in cfg.signal_phases]
    runs = []
    for sweep, mixer, ring, phase in points:
        for seed in cfg.signal_seeds:
            preset = suite_preset("recall", mixer, cfg, ring=ring, max_phase=phase, **kw)
            rec = train_run(preset, spec, train, test, seed=seed, log_every=cfg.log_every,
                            cache=cache)
            rec.update(sweep=sweep, mixer=mixer, gamma=mixer == "lru", r_min=ring[0],
                       r_max=ring[1], max_phase=phase)
            runs.append(rec)
            progress.on_run("signal", runs, t0)
            progress.say(f"signal {sweep} {ring} {mixer:9s} phase {phase:.3f} seed {seed}: "
                         f"{summary_line(rec)}")
    return {"runs": runs, "data": {"task": "recall", "length": cfg.length,
                                   "train": len(train), "test": len(test)},
            "wall_s": time.perf_counter() - t0}


def pathfinder_preset(cfg: Config):
    """The LRU `smoke` Pathfinder preset at the suite's sizes. Its step budget is far beyond
    the time budget, so the cosine schedule stays near its peak after a 100-step warmup;
    the run stops on wall time."""
    from lrux.presets import get_preset

    steps = 100_000
    return dataclasses.replace(
        get_preset("pathfinder", "lru", "smoke"), depth=cfg.depth, d_model=cfg.d_model,
        d_state=cfg.d_state, batch_size=cfg.pf_batch, lr=cfg.pf_lr, steps=steps, data={},
        warmup_frac=100 / steps)


def run_pathfinder(cfg: Config, base: str, *, cache: StepCache, progress: Progress
                   ) -> dict[str, Any]:
    """The LRU Pathfinder-32 model for `cfg.pf_seconds` of training, with its val curve."""
    t0 = time.perf_counter()
    train, val, test = pathfinder_splits(cfg, base)
    gen_s = time.perf_counter() - t0
    preset = pathfinder_preset(cfg)
    val = val.head(min(len(val), cfg.pf_eval))  # the learning curve is measured on these
    rec = train_run(preset, pixel_spec("pathfinder", 2, 1024, 1), train, test, seed=0,
                    log_every=cfg.log_every, seconds=cfg.pf_seconds, val=val,
                    eval_every=cfg.pf_eval_every, eval_batch=64, cache=cache)
    rec.update(mixer="lru", task="pathfinder32")
    progress.on_run("pathfinder", [rec], t0)
    progress.say(f"pathfinder32: {summary_line(rec)}")
    labels = [*train.labels, *val.labels, *test.labels]
    return {
        "runs": [rec],
        "model": {**model_fields(preset), "batch_size": preset.batch_size, "glu": preset.glu},
        "data": {"images": len(labels), "train": len(train), "val": len(val),
                 "val_curve_n": len(val), "test": len(test), "difficulty": 14, "size": 32,
                 "label_1_fraction": float(sum(labels) / len(labels)),
                 "generate_or_load_s": gen_s},
        "budget_train_s": cfg.pf_seconds,
        "wall_s": time.perf_counter() - t0,
    }


RUNNERS = {"ladder": run_ladder, "signal": run_signal, "pathfinder": run_pathfinder}


def run_suite(cfg: Config, only: tuple[str, ...], base: str, *, cache: StepCache,
              progress: Progress) -> dict[str, Any]:
    """The experiments `only` (names of RUNNERS), each section stamped with config, date
    and machine."""
    unknown = [name for name in only if name not in RUNNERS]
    if unknown:
        raise ConfigError(f"--only {unknown}: expected some of {', '.join(RUNNERS)}")
    out: dict[str, Any] = {}
    for name in only:
        res = RUNNERS[name](cfg, base, cache=cache, progress=progress)
        res.update(config=cfg.to_dict(), date=now(), machine=machine())
        out[name] = res
    return out
