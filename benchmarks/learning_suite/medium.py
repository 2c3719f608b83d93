"""The medium tier: the LRU paper presets, scaled down, trained by `lrux.train.run`
(`run_preset`, which the GPU runs use too).

Each task trains in its own run directory (`RUNS_DIR/<task>`: config.json, metrics.jsonl,
checkpoints, summary.json), always with `resume=True`: a second invocation continues an
interrupted run from its newest checkpoint and returns a finished run's summary at once.
The curves come from the run's metrics.jsonl, re-read at every evaluation, so the section
handed to `on_update` (the JSON written as it goes) always matches the run directory.
"""

import os
import sys
import time
from collections.abc import Callable
from typing import Any

from .config import PAPER_TEST_ACC, MediumConfig

OnUpdate = Callable[[dict[str, Any]], None]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def curves(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """metrics.jsonl records as train / val curves and the test record(s)."""
    keep = {"train": ("step", "loss", "accuracy", "lr", "steps_per_sec"),
            "val": ("step", "loss", "accuracy", "count"),
            "test": ("step", "loss", "accuracy", "count")}
    out: dict[str, list[dict[str, Any]]] = {k: [] for k in keep}
    for rec in records:
        split = rec.get("split")
        if split in keep:
            out[split].append({k: rec[k] for k in keep[split] if k in rec})
    return out


class _Recorder:
    """A `lrux.train.run` metrics writer: prints progress, and at every evaluation re-reads
    metrics.jsonl into the run record and calls `on_update`."""

    def __init__(self, record: dict[str, Any], run_dir: str, steps: int, on_update: OnUpdate):
        self.record, self.run_dir, self.steps, self.on_update = record, run_dir, steps, on_update
        self.records = 0  # received from the run

    def write(self, rec: dict[str, Any]) -> None:
        self.records += 1
        task, step = self.record["task"], rec.get("step")
        if rec.get("split") == "train":
            _say(f"{task} step {step}/{self.steps}: loss {rec['loss']:.4f} acc "
                 f"{rec['accuracy']:.3f} ({rec.get('steps_per_sec', float('nan')):.2f} steps/s)")
            return
        _say(f"{task} step {step}: {rec.get('split')} accuracy {rec['accuracy']:.4f} "
             f"loss {rec['loss']:.4f} (n={rec.get('count')})")
        self.refresh()

    def refresh(self, notify: bool = True) -> None:
        from lrux.train import read_metrics

        path = os.path.join(self.run_dir, "metrics.jsonl")
        if os.path.exists(path):
            self.record.update(curves(read_metrics(self.run_dir)))
        if notify:
            self.on_update(self.record)

    def close(self) -> None:
        pass


def _new_record(preset, seed: int, run_dir: str) -> dict[str, Any]:
    from lrux.presets import get_preset

    paper = get_preset(preset.task, preset.model, "paper")
    scaled = {k: [getattr(paper, k), v] for k, v in preset.to_dict().items()
              if k not in ("data", "name") and getattr(paper, k) != v}
    return {
        "task": preset.task, "mixer": preset.model, "seed": seed, "run_dir": run_dir,
        "preset": preset.to_dict(), "scaled": scaled,
        "paper_test_acc": PAPER_TEST_ACC.get(preset.task), "status": "running",
        "load_avg_at_start": list(os.getloadavg()),
    }


def _run_facts(run_dir: str) -> dict[str, Any]:
    """Split sizes, parameter count and platform from the run's config.json."""
    import json

    path = os.path.join(run_dir, "config.json")
    if not os.path.exists(path):
        return {}
    with open(path) as f:
        c = json.load(f)
    return {k: c.get(k) for k in ("split_sizes", "num_params", "platform", "devices",
                                  "eval_every")}


def majority_rates(preset, data_dir: str) -> dict[str, float]:
    """The share of the most frequent label in the val and test splits (what a model that
    learned only the label prior scores)."""
    import numpy as np

    from lrux.data import load_split

    out = {}
    for split in ("val", "test"):
        labels = np.asarray(load_split(preset.task, split, data_dir,
                                       **preset.data.get("load", {})).labels)
        out[f"{split}_majority_rate"] = float(np.bincount(labels).max() / max(len(labels), 1))
    return out


def _steps_per_sec(train: list[dict[str, Any]]) -> float | None:
    """Median steps/s of the train records after the first (which includes compilation)."""
    rates = sorted(r["steps_per_sec"] for r in train[1:] if isinstance(
        r.get("steps_per_sec"), float))
    return rates[len(rates) // 2] if rates else None


def finished_summary(preset, run_dir: str) -> dict[str, Any] | None:
    """summary.json of a run that finished in `run_dir` (None if it has not), after checking
    that it ran `preset`: ConfigError when the directory holds another preset's run."""
    import json

    from lrux.errors import ConfigError

    paths = [os.path.join(run_dir, n) for n in ("summary.json", "config.json")]
    if not all(os.path.exists(p) for p in paths):
        return None
    with open(paths[1]) as f:
        ran = json.load(f)["preset"]
    wanted = json.loads(json.dumps(preset.to_dict(), default=str))
    diff = sorted(k for k in set(ran) | set(wanted) if ran.get(k) != wanted.get(k))
    if diff:
        raise ConfigError(f"{run_dir} holds a finished run of another preset (differing: "
                          f"{', '.join(diff)}); choose another --runs-dir (nothing was changed)")
    with open(paths[0]) as f:
        return json.load(f)


def _train(preset, rec, recorder, *, seed, data_dir, run_dir, writers, allow_steps_change):
    from lrux.train import Interrupted, NonFiniteLoss, run

    try:
        summary = run(preset, data_dir=data_dir, out_dir=run_dir, seed=seed, resume=True,
                      allow_steps_change=allow_steps_change, progress=False,
                      writers=(recorder, *writers))
    except NonFiniteLoss as e:
        rec.update(status="diverged", error=str(e), test_acc=None)
        return
    except Interrupted:
        rec.update(status="interrupted", test_acc=None)
        raise
    rec.update(status="finished", summary=summary)


def run_preset(preset, *, seed: int, data_dir: str, run_dir: str, on_update: OnUpdate,
               writers: tuple = (), allow_steps_change: bool = False) -> dict[str, Any]:
    """Train `preset` with `lrux.train.run` in `run_dir` (resuming it) and return the run
    record: the preset, its fields that differ from the paper preset (`scaled`), the train /
    val / test curves of metrics.jsonl, the summary, steps/s, status, this call's wall time.

    A run that already finished there is reported from its directory without calling `run`
    (`reused: true`). A non-finite loss ends the run with status "diverged"; SIGTERM /
    SIGINT (`lrux.train.Interrupted`) record status "interrupted" and propagate. An error
    before the first metrics record (a bad preset, resume refused) propagates without a
    call to `on_update`, so a results file is never changed by a run that did not run."""
    rec = _new_record(preset, seed, run_dir)
    recorder = _Recorder(rec, run_dir, preset.steps, on_update)
    t0 = time.perf_counter()
    summary = finished_summary(preset, run_dir)
    try:
        if summary is not None:
            rec.update(status="finished", summary=summary, reused=True)
            del rec["load_avg_at_start"]  # this call trained nothing
        else:
            _train(preset, rec, recorder, seed=seed, data_dir=data_dir, run_dir=run_dir,
                   writers=writers, allow_steps_change=allow_steps_change)
    finally:
        if rec["status"] != "running" or recorder.records:
            _complete(rec, preset, data_dir, run_dir, recorder, time.perf_counter() - t0)
    return rec


def _complete(rec, preset, data_dir: str, run_dir: str, recorder, wall_s: float) -> None:
    """Fill the record from the run directory and hand it to `on_update` one last time."""
    summary = rec.get("summary") or {}
    rec.setdefault("test_acc", summary.get("test_accuracy_at_best"))
    rec["best_val_acc"] = summary.get("best_val_accuracy")
    rec.update(_run_facts(run_dir), wall_s=wall_s)
    if not rec.get("reused"):
        rec["load_avg_at_end"] = list(os.getloadavg())
    if rec["status"] == "finished":
        rec.update(majority_rates(preset, data_dir))
    recorder.refresh(notify=False)
    rec["steps_per_sec"] = _steps_per_sec(rec.get("train", []))
    recorder.on_update(rec)


def run_medium(cfg: MediumConfig, *, data_dir: str, runs_dir: str,
               on_update: Callable[[list[dict[str, Any]]], None]) -> dict[str, Any]:
    """Every task of `cfg.tasks` in turn; `on_update(runs so far)` after every evaluation."""
    t0 = time.perf_counter()
    runs: list[dict[str, Any]] = []
    for task in cfg.tasks:
        def update(rec: dict[str, Any], done=tuple(runs)) -> None:
            on_update([*done, rec])

        rec = run_preset(cfg.preset(task), seed=cfg.seed,
                         data_dir=os.path.join(data_dir, cfg.data_name(task)),
                         run_dir=os.path.join(runs_dir, task), on_update=update)
        runs.append(rec)
        acc = "diverged" if rec["test_acc"] is None else f"{100 * rec['test_acc']:.1f}%"
        _say(f"medium {task}: test accuracy {acc} (paper {rec['paper_test_acc']}%), "
             f"{rec['wall_s']:.0f} s")
    return {"runs": runs, "runs_dir": os.path.abspath(runs_dir),
            "wall_s": time.perf_counter() - t0}
