"""The GPU learning runs behind `benchmarks/gpu_learning.sh`, one step per command:

    python -m benchmarks.learning_suite.gpu generate TASK --data-dir D [--workers W] [--tiny]
    python -m benchmarks.learning_suite.gpu train TASK --data-dir D --runs-dir R --out JSON
        [--budget-s S] [--tiny]

`train` times the preset's train step on synthetic batches (`time_preset`), sets the step
count to fill `budget_s` of training, trains through `lrux.train.run` (the validation curve
from its metrics.jsonl) and merges the run, with both steps/s figures, into section "gpu"
of the JSON (written at every evaluation).
"""

import argparse
import dataclasses
import os
import signal
import sys
import time
from typing import Any

from .config import GpuConfig, gpu_config, gpu_tiny_config
from .results import ResultsFile, machine, now

TASKS = ("listops", "pathfinder")
MARGIN = 0.85  # of the budget spent in timed steps: the rest is evaluation and logging
GUARD = 1.15  # a run still training at GUARD x budget is stopped there (BudgetGuard)


def data_dir_of(base: str, task: str, cfg: GpuConfig) -> str:
    return os.path.join(base, f"{cfg.name}_{task}")


def generate(cfg: GpuConfig, task: str, base: str, workers: int) -> float:
    """Generate `task`'s data into its folder under `base` (nothing if present); seconds."""
    from lrux.data import SPLITS, data_present, generate_listops, generate_pathfinder, load_split

    d, t0 = data_dir_of(base, task, cfg), time.perf_counter()
    load = {k: v for k, v in cfg.load(task, workers).items() if k in ("max_length",
                                                                       "difficulty")}
    if not data_present(task, d, **load):
        gen = cfg.generate(task, workers)
        (generate_listops if task == "listops" else generate_pathfinder)(d, **gen)
    for split in SPLITS:  # build the loader's cache now (PNG decoding), not in `train`
        load_split(task, split, d, **cfg.load(task, workers))
    return time.perf_counter() - t0


def calibrate(cfg: GpuConfig, task: str, workers: int) -> dict[str, Any]:
    """Steps/s of the preset's train step on synthetic batches, and the steps to train."""
    from lrux.train.benchmark import time_preset

    timing = time_preset(cfg.preset(task, 1000, workers), steps=10 if cfg.budget_s > 60
                         else 2, warmup=2)
    steps = max(2, int(cfg.budget_s * MARGIN * timing["steps_per_sec"]))
    return {"synthetic_steps_per_sec": timing["steps_per_sec"], "calibrated_steps": steps,
            "compile_and_first_steps_s": timing["first_steps_s"],
            "peak_memory_bytes": timing["peak_memory_bytes"]}


class BudgetGuard:
    """A metrics writer that sends this process SIGTERM once `limit_s` have passed since
    the first training record (compilation excluded): `lrux.train.run` then saves a
    checkpoint and raises `Interrupted`, so a run slower than its calibration still stops
    on time."""

    def __init__(self, limit_s: float):
        self.limit_s, self.start, self.fired = limit_s, None, False

    def write(self, record: dict[str, Any]) -> None:
        if record.get("split") != "train":
            return
        self.start = self.start or time.perf_counter()
        if not self.fired and time.perf_counter() - self.start > self.limit_s:
            self.fired = True
            os.kill(os.getpid(), signal.SIGTERM)

    def close(self) -> None:
        pass


def _train_within_budget(preset, cfg: GpuConfig, task: str, data_dir: str, run_dir: str,
                         on_update) -> dict[str, Any]:
    """`run_preset` with a `BudgetGuard`; a run stopped by it is finished at the step it
    reached (resumed with that step count: no further steps, test at the best checkpoint)."""
    from lrux.train import Interrupted

    from .medium import run_preset

    kw = dict(seed=cfg.seed, data_dir=data_dir, run_dir=run_dir, on_update=on_update)
    try:
        return run_preset(preset, writers=(BudgetGuard(cfg.budget_s * GUARD),), **kw)
    except Interrupted:
        from lrux.train import Checkpointer

        ckpt = Checkpointer(os.path.join(run_dir, "checkpoints"))
        reached = ckpt.latest_step()
        ckpt.close()
        print(f"{task}: stopped at the budget at step {reached}; testing at the best "
              "checkpoint", file=sys.stderr, flush=True)
        rec = run_preset(dataclasses.replace(preset, steps=reached), allow_steps_change=True,
                         **kw)
        return {**rec, "stopped_at_budget": True, "planned_steps": preset.steps}


def train(cfg: GpuConfig, task: str, *, data_dir: str, runs_dir: str, out: str,
          workers: int) -> dict[str, Any]:
    """Calibrate, train for the budget, and merge the run into `out` (section "gpu")."""
    t0 = time.perf_counter()
    calib = calibrate(cfg, task, workers)
    file = ResultsFile(out)
    preset = cfg.preset(task, calib["calibrated_steps"], workers)

    def on_update(rec: dict[str, Any]) -> None:
        file.snapshot("gpu", [{**rec, **calib, "budget_s": cfg.budget_s}], cfg.to_dict(), t0)

    rec = _train_within_budget(preset, cfg, task, data_dir_of(data_dir, task, cfg),
                               os.path.join(runs_dir, task), on_update)
    rec.update(calib, budget_s=cfg.budget_s, wall_with_calibration_s=time.perf_counter() - t0)
    section = {"runs": [rec], "config": cfg.to_dict(), "date": now(), "machine": machine(),
               "wall_s": time.perf_counter() - t0}
    file.finish({"gpu": section}, argv=sys.argv[1:], meta={"benchmark": "learning_gpu"})
    return rec


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.learning_suite.gpu")
    ap.add_argument("command", choices=("generate", "train"))
    ap.add_argument("task", choices=TASKS)
    ap.add_argument("--data-dir", required=True)
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--out", default=None, help="the JSON (train)")
    ap.add_argument("--budget-s", type=float, default=None, help="training seconds")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--tiny", action="store_true", help="toy sizes (the script's CPU check)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    cfg = gpu_tiny_config() if args.tiny else gpu_config()
    if args.budget_s is not None:
        if not args.budget_s > 0:
            print(f"error: --budget-s must be > 0, got {args.budget_s}", file=sys.stderr)
            return 2
        cfg = dataclasses.replace(cfg, budget_s=args.budget_s)
    if args.command == "generate":
        s = generate(cfg, args.task, args.data_dir, args.workers)
        print(f"{args.task}: data ready in {data_dir_of(args.data_dir, args.task, cfg)} "
              f"({s:.0f} s)", flush=True)
        return 0
    if not (args.runs_dir and args.out):
        print("error: train needs --runs-dir and --out", file=sys.stderr)
        return 2
    rec = train(cfg, args.task, data_dir=args.data_dir, runs_dir=args.runs_dir, out=args.out,
                workers=args.workers)
    acc = rec.get("test_acc")
    print(f"{args.task}: {rec['status']}, {rec['preset']['steps']} steps, "
          f"{rec.get('steps_per_sec') or 0:.1f} steps/s, test "
          f"{'-' if acc is None else f'{100 * acc:.1f}%'}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
