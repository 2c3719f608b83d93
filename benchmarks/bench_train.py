"""Training speed of every LRA task's presets: steps/s and tokens/s after compilation.

    python benchmarks/bench_train.py                 # CPU: smoke + paper presets, all tasks
    python benchmarks/bench_train.py --quick         # seconds: two tiny smoke presets
    python benchmarks/bench_train.py --gpu --tasks pathx --out res.json   # one paper preset

Synthetic batches in each preset's shapes go through the same jitted, donated, sharded train
step as examples/train_lra.py (no data or grain needed). On CPU the paper presets run at a
reduced batch (--paper-batch, default 4; the full-size steps take minutes here) and report
tokens/s, the size-independent figure; --gpu keeps the Table 9 batch and reports the ratio to
the paper's A100 steps/s (paper.md section 5), measured in the same process. With
--smoke-runs it also times complete smoke runs (data generation, training, evaluation) of
the generated tasks. Writes benchmarks/results/train_cpu.json (or --out).
"""

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lrux.presets import TASKS, apply_overrides, get_preset  # noqa: E402
from lrux.train.benchmark import time_preset  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))


def smoke_run_time(task: str, model: str) -> dict:
    """Wall time of a complete smoke run (generation + training + evaluation)."""
    from lrux.train import run

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        summary = run(get_preset(task, model, "smoke"), data_dir=os.path.join(d, "data"),
                      out_dir=os.path.join(d, "run"), progress=False)
        return {"task": task, "wall_s": time.perf_counter() - t0,
                "test_accuracy": summary["test_accuracy_at_best"]}


def add_ratios(rows: list[dict]) -> dict:
    """Per task: paper-preset tokens/s over smoke-preset tokens/s (same process, same run)."""
    by = {(r["task"], r.get("preset")): r for r in rows if "error" not in r}
    out = {}
    for task in dict.fromkeys(r["task"] for r in rows):
        paper, smoke = by.get((task, "paper")), by.get((task, "smoke"))
        if paper and smoke:
            out[task] = {"paper_over_smoke_tokens_per_sec":
                         paper["tokens_per_sec"] / smoke["tokens_per_sec"]}
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="one tiny smoke preset, 2 steps")
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--model", default="lru")
    p.add_argument("--presets", nargs="*", default=["smoke", "paper"])
    p.add_argument("--steps", type=int, default=None, help="timed steps per preset")
    p.add_argument("--warmup", type=int, default=1, help="untimed (compile) steps first")
    p.add_argument("--paper-batch", type=int, default=4,
                   help="batch of the paper presets on CPU (0: the preset's)")
    p.add_argument("--gpu", action="store_true", help="paper batch sizes, A100 ratio")
    p.add_argument("--smoke-runs", action="store_true",
                   help="also time complete smoke runs of listops, pathfinder, pathx")
    p.add_argument("--scan-mode", default=None,
                   help="the mixers' scan_mode (e.g. pallas on GPU; default: the preset's)")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)

    if args.quick:
        tasks, presets, steps = ["listops"], ["smoke"], args.steps or 2
    else:
        tasks, presets = args.tasks, args.presets
        steps = args.steps
    rows = []
    for task in tasks:
        for name in presets:
            preset = get_preset(task, args.model, name)
            n = steps or (10 if name == "smoke" else 2)
            if args.scan_mode:
                preset = apply_overrides(preset, {"scan_mode": args.scan_mode})
            if args.quick:
                preset = apply_overrides(preset, {"batch_size": 4, "depth": 1})
            elif name == "paper" and not args.gpu and args.paper_batch:
                preset = apply_overrides(preset, {"batch_size": args.paper_batch})
            try:
                row = time_preset(preset, steps=n, warmup=args.warmup)
            except Exception as e:  # e.g. out of memory: record it and go on
                row = {"task": task, "preset": name, "error": f"{type(e).__name__}: {e}"}
            if row.get("paper_a100_steps_per_sec") and args.gpu:
                row["ratio_to_paper_a100"] = (row["steps_per_sec"]
                                              / row["paper_a100_steps_per_sec"])
            rows.append(row)
            if "error" in row:
                print(f"{task:10s} {name:6s} ERROR {row['error'][:200]}", flush=True)
            else:
                mem = row["peak_memory_bytes"]
                print(f"{task:10s} {name:6s} batch {row['batch_size']:3d} x {row['seq_len']:5d}"
                      f"  {row['steps_per_sec']:8.3f} steps/s  {row['tokens_per_sec']:11.0f} "
                      f"tokens/s  first step {row['first_steps_s']:6.1f} s"
                      + (f"  peak {mem / 2**30:6.2f} GiB" if mem else "")
                      + (f"  A100 {row['paper_a100_steps_per_sec']} steps/s"
                         if row.get("paper_a100_steps_per_sec") else ""), flush=True)
    smoke_runs = []
    if args.smoke_runs and not args.quick:
        for task in ("listops", "pathfinder", "pathx"):
            r = smoke_run_time(task, args.model)
            smoke_runs.append(r)
            print(f"smoke run {task:10s} {r['wall_s']:6.1f} s end to end, "
                  f"test accuracy {r['test_accuracy']:.3f}", flush=True)
    import jax

    result = {
        "benchmark": "train",
        "quick": args.quick,
        "model": args.model,
        "scan_mode": args.scan_mode or "preset",
        "platform": jax.devices()[0].platform,
        "device": str(jax.devices()[0].device_kind),
        "devices": jax.device_count(),
        "jax_version": jax.__version__,
        "cpu_paper_batch": None if args.gpu else args.paper_batch,
        "rows": rows,
        "ratios": add_ratios(rows),
        "smoke_runs": smoke_runs,
    }
    out = args.out or os.path.join(HERE, "results", "train_cpu.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
