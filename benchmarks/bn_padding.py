"""Does counting only valid positions in BatchNorm's statistics hurt? (issue 22)

The peers (minimal-LRU, S5, s4) compute BatchNorm's batch statistics over every position of
the padded batch; lrux counts the valid positions only, so that a sequence's result does not
depend on its batch's padding. This trains the same preset on the same short ListOps set
with both: lrux at a commit from before the change (BatchNorm over padding, every batch
padded to the split's length; default 57ec99f, checked out into a temporary git worktree)
and lrux as it is now, 3 seeds each, through the training CLI, and compares the test
accuracy at the best validation step.

    python benchmarks/bn_padding.py                      # ~1-2 h on 2 cores
    python benchmarks/bn_padding.py --quick              # minutes: tiny data, 2 seeds

Writes benchmarks/results/bn_padding.json (or --out).
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import load_average, write_results  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETS = ["depth=4", "d_model=64", "d_state=64", "require_full_data=false",
        "checkpoint_every=", "log_every=50"]


def _git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def train(code: str, data_dir: str, out: str, seed: int, steps: int, eval_every: int,
          max_length: int) -> dict:
    """One run of the paper preset (scaled) with the lrux checkout `code`."""
    sets = SETS + [f"steps={steps}", f"eval_every={eval_every}",
                   f"data.load.max_length={max_length}"]
    argv = [sys.executable, "-m", "lrux.train", "--task", "listops", "--preset", "paper",
            "--data-dir", data_dir, "--out", out, "--seed", str(seed), "--no-progress"]
    for s in sets:
        argv += ["--set", s]
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=code, env={**os.environ, "PYTHONPATH": code}, check=True,
                   capture_output=True)
    with open(os.path.join(out, "summary.json")) as f:
        summary = json.load(f)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        records = [json.loads(line) for line in f if line.strip()]
    return {"seed": seed, "test_accuracy": summary["test_accuracy_at_best"],
            "best_val_accuracy": summary["best_val_accuracy"], "best_step": summary["best_step"],
            "val": [[r["step"], r["accuracy"]] for r in records if r["split"] == "val"],
            "train_loss": [[r["step"], r["loss"]] for r in records if r["split"] == "train"],
            "wall_s": time.perf_counter() - t0}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--baseline", default="57ec99f", help="a commit with BatchNorm over padding")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--out", default=os.path.join(REPO, "benchmarks", "results",
                                                 "bn_padding.json"))
    args = p.parse_args(argv)
    load_at_start = load_average()
    seeds = 2 if args.quick else args.seeds
    steps = 20 if args.quick else args.steps
    eval_every = 10 if args.quick else 250
    train_n = 256 if args.quick else 20_000
    base = _git("rev-parse", args.baseline)
    with tempfile.TemporaryDirectory() as tmp:
        old = os.path.join(tmp, "baseline")
        _git("worktree", "add", "--detach", old, base)
        try:
            data = os.path.join(tmp, "data")
            subprocess.run([sys.executable, "-m", "lrux.data", "generate", "listops", "--out",
                            data, "--train", str(train_n), "--val", "1000" if not args.quick
                            else "64", "--test", "1000" if not args.quick else "64",
                            "--min-length", "50", "--max-length", "500", "--seed", "1",
                            "--workers", "2"], cwd=REPO, check=True, capture_output=True)
            rows = []
            for seed in range(seeds):
                for name, code in (("padding counted (baseline)", old),
                                   ("valid positions only", REPO)):
                    r = train(code, data, os.path.join(tmp, f"{seed}-{len(rows)}"), seed,
                              steps, eval_every, 512)
                    rows.append({"batchnorm": name, **r})
                    print(f"seed {seed} {name}: test {r['test_accuracy']:.3f} (best val "
                          f"{r['best_val_accuracy']:.3f} at {r['best_step']})", flush=True)
        finally:
            shutil.rmtree(old, ignore_errors=True)
            _git("worktree", "prune")
    summary = {}
    for name in dict.fromkeys(r["batchnorm"] for r in rows):
        acc = np.array([r["test_accuracy"] for r in rows if r["batchnorm"] == name])
        summary[name] = {"mean": float(acc.mean()), "std": float(acc.std(ddof=1)) if len(acc)
                         > 1 else 0.0, "per_seed": acc.tolist()}
    meta = {"command": "python benchmarks/bn_padding.py " + " ".join(argv or sys.argv[1:]),
            "baseline_commit": base, "commit": _git("rev-parse", "HEAD"),
            "data": {"train": train_n, "min_length": 50, "max_length": 500, "stored": 512},
            "preset": "listops paper, " + ", ".join(SETS), "steps": steps,
            "summary": summary, "load_average_at_start": load_at_start}
    write_results(args.out, meta, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
