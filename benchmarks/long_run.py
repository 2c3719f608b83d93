"""Long training runs of record (issue 22): a replayable record from a run's folder, a replay
of its first steps from its own commands, its curve and its table.

    python benchmarks/long_run.py record ROOT [--name listops_long]   # -> results/NAME.json
    python benchmarks/long_run.py replay benchmarks/results/listops_long.json --steps 20
    python benchmarks/long_run.py plot [--name listops_long]          # -> docs/figures/NAME.png
    python benchmarks/long_run.py markdown [--name listops_long]

A run's ROOT folder (outside the repository) holds `commands.sh` (the exact shell commands,
run from the repository root in order: data generation first, the training command last;
a continuation is the training command again with `--resume`), `data/` and `run/` (the
`--data-dir` and `--out` of those commands), `load.log` (one `ISO-TIME LOADAVG...` line a
minute) and `invocations.jsonl` (`{"start", "end", "rc"}` of each training invocation).
`replay` runs the commands again with ROOT replaced by a scratch folder, stops the training
(SIGTERM, which saves and exits) once it has logged `--steps` losses, and compares them with
the record's: the run is deterministic on one machine, so they agree.
"""

import argparse
import datetime as dt
import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from typing import Any

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESULTS = os.path.join(REPO, "benchmarks", "results")
FIGURES = os.path.join(REPO, "docs", "figures")
# why each field of the paper preset was scaled on this 2-core CPU (shown in the record)
WHY = {
    "depth": "CPU cost per step (6 -> 4: a third less per step)",
    "d_model": "CPU cost per step (matmuls scale with H^2 and H N)",
    "d_state": "CPU cost per step (the scan and its projections scale with N)",
    "steps": "the CPU budget: hours, not the paper's 80,000 steps on a GPU",
    "eval_every": "a curve: the paper evaluates once per epoch (3,000 steps)",
    "log_every": "every step's loss in the record (the first 20 replay exactly)",
    "require_full_data": "smaller generated data",
    "batch_size": "CPU cost per step",
}
PAPER = {"listops": 60.2, "pathfinder": 95.1}  # the LRU's test accuracy (paper.md section 4)
LRA_TRANSFORMER = {"listops": 36.4}  # LRA's Transformer baseline (issue 22)


def _read_jsonl(path: str) -> list[dict[str, Any]]:
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def _commands(root: str) -> list[str]:
    with open(os.path.join(root, "commands.sh")) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def _git_commit() -> str:
    out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True)
    return out.stdout.strip()


def _times(invocations: list[dict[str, Any]]) -> tuple[float, list[tuple[float, float]]]:
    """Total wall seconds of the finished invocations and their (start, end) epochs."""
    spans = []
    for inv in invocations:
        if inv.get("end"):
            start, end = (dt.datetime.fromisoformat(inv[k].replace("Z", "+00:00")).timestamp()
                          for k in ("start", "end"))
            spans.append((start, end))
    return float(sum(e - s for s, e in spans)), spans


def _load(root: str, spans: list[tuple[float, float]]) -> dict[str, Any]:
    """The 1-minute load average sampled during the training invocations."""
    path = os.path.join(root, "load.log")
    samples = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 2:
                    continue
                t = dt.datetime.fromisoformat(parts[0].replace("Z", "+00:00")).timestamp()
                if any(s <= t <= e for s, e in spans):
                    samples.append((parts[0], float(parts[1])))
    values = np.array([v for _, v in samples]) if samples else np.zeros(0)
    return {"samples": len(samples), "mean": float(values.mean()) if samples else None,
            "min": float(values.min()) if samples else None,
            "max": float(values.max()) if samples else None,
            "per_minute": [[t, v] for t, v in samples[::5]]}


def _majority(data_dir: str, task: str) -> tuple[dict[str, float], list[int]]:
    """The share of the most frequent label of each split, and the training lengths'
    [min, max]."""
    from lrux.data import load_split

    rates, lengths = {}, [0, 0]
    for split in ("train", "val", "test"):
        s = load_split(task, split, data_dir, progress=False)
        labels = np.asarray(s.labels)
        rates[split] = float(np.bincount(labels).max() / len(labels))
        if split == "train":
            n = np.asarray(s.lengths)
            lengths = [int(n.min()), int(n.max())]
    return rates, lengths


def _scaled(preset: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each field of the run's preset that differs from the paper preset, with why."""
    from lrux.presets import get_preset

    paper = get_preset(preset["task"], preset["model"], "paper").to_dict()
    return {k: {"paper": paper[k], "run": v, "why": WHY.get(k, "")}
            for k, v in preset.items() if k in paper and paper[k] != v}


def build_record(root: str) -> dict[str, Any]:
    """The record of the run in ROOT (see the module docstring for the folder's layout)."""
    run = os.path.join(root, "run")
    config = json.load(open(os.path.join(run, "config.json")))
    preset = config["preset"]
    metrics = _read_jsonl(os.path.join(run, "metrics.jsonl"))
    train = [r for r in metrics if r["split"] == "train"]
    val = [r for r in metrics if r["split"] == "val"]
    summary_path = os.path.join(run, "summary.json")
    summary = json.load(open(summary_path)) if os.path.exists(summary_path) else {}
    inv_path = os.path.join(root, "invocations.jsonl")
    invocations = _read_jsonl(inv_path) if os.path.exists(inv_path) else []
    wall, spans = _times(invocations)
    majority, lengths = _majority(config["data_dir"], preset["task"])
    rates = [r["steps_per_sec"] for r in train if isinstance(r.get("steps_per_sec"), float)]
    return {
        "name": os.path.basename(os.path.normpath(root)),
        "root": os.path.normpath(root),
        "commands": _commands(root),
        "preset": preset,
        "scaled": _scaled(preset),
        "seed": config["seed"],
        "num_params": config["num_params"],
        "split_sizes": config["split_sizes"],
        "data_fingerprint": config["data_fingerprint"],
        "lengths": lengths,
        "train_loss": [[r["step"], r["loss"]] for r in train
                       if r["step"] <= 200 or r["step"] % 10 == 0],
        "val": [[r["step"], r["accuracy"]] for r in val],
        "val_loss": [[r["step"], r["loss"]] for r in val],
        "test_accuracy": summary.get("test_accuracy_at_best"),
        "best_step": summary.get("best_step"),
        "best_val_accuracy": summary.get("best_val_accuracy"),
        "majority": majority,
        "steps": preset["steps"],
        "steps_done": train[-1]["step"] if train else 0,
        "finished": bool(summary),
        "steps_per_s": float(np.median(rates)) if rates else None,
        "wall_s": wall,
        "invocations": invocations,
        "load": _load(root, spans),
        "commit": (invocations[0].get("commit") if invocations else None) or _git_commit(),
        "recorded_at_commit": _git_commit(),
        "paper_test_accuracy": PAPER.get(preset["task"]),
        "lra_transformer_test_accuracy": LRA_TRANSFORMER.get(preset["task"]),
        "machine": {"cpus": os.cpu_count(), "jax": config.get("jax_version"),
                    "platform": config.get("platform")},
    }


# ---------------------------------------------------------------------------------- replay


def _replayed(commands: list[str], root: str, workdir: str) -> list[list[str]]:
    """The commands with ROOT replaced by `workdir`, without continuations (`--resume`)."""
    out = []
    for c in commands:
        argv = shlex.split(c.replace(root, workdir))
        if "--resume" not in argv:
            out.append(argv)
    return out


def _train_losses(run_dir: str) -> list[float]:
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        lines = [json.loads(x) for x in f.read().splitlines() if x.strip().endswith("}")]
    return [r["loss"] for r in lines if r.get("split") == "train"]


def replay(record: dict[str, Any], steps: int, workdir: str, timeout: float = 3600) -> list:
    """Run the record's commands in `workdir`; stop the training after `steps` logged
    losses; return them."""
    argvs = _replayed(record["commands"], record["root"], workdir)
    *prepare, train = argvs
    for argv in prepare:
        subprocess.run([sys.executable if a == "python" else a for a in argv], cwd=REPO,
                       check=True, stdout=subprocess.DEVNULL)
    out = train[train.index("--out") + 1]
    log_path = os.path.join(workdir, "replay.log")
    with open(log_path, "w") as log:
        proc = subprocess.Popen([sys.executable if a == "python" else a for a in train],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        t0 = time.monotonic()
        try:
            while len(_train_losses(out)) < steps and proc.poll() is None:
                if time.monotonic() - t0 > timeout:
                    raise TimeoutError(f"replay: fewer than {steps} losses after "
                                       f"{timeout:.0f} s")
                time.sleep(0.5)
        finally:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)  # the loop saves and stops
            proc.wait(timeout=600)
    losses = _train_losses(out)
    if len(losses) < steps:
        with open(log_path) as f:
            last = f.read().strip().splitlines()[-1:]
        raise RuntimeError(f"replay: the training ended with {len(losses)} losses "
                           f"(rc {proc.returncode}): {last}")
    return losses[:steps]


def compare(record: dict[str, Any], losses: list[float]) -> float:
    """Largest |replayed - recorded| over the first len(losses) steps (ValueError if the
    record has fewer)."""
    recorded = [loss for step, loss in record["train_loss"] if step <= len(losses)]
    if len(recorded) < len(losses):
        raise ValueError(f"the record holds {len(recorded)} of the first {len(losses)} losses")
    return float(np.max(np.abs(np.asarray(losses) - np.asarray(recorded))))


# ---------------------------------------------------------------------------------- figures


def plot(record: dict[str, Any], path: str) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    steps, loss = np.asarray(record["train_loss"], dtype=float).T
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.8))
    a.plot(steps, loss, lw=0.6, color="0.6", label="train loss (one step)")
    if len(loss) > 20:
        k = 20
        a.plot(steps[k - 1:], np.convolve(loss, np.ones(k) / k, "valid"), lw=1.5,
               label=f"mean of {k} records")
    a.set_xlabel("step")
    a.set_ylabel("cross-entropy")
    a.legend(fontsize=8)
    vs, va = np.asarray(record["val"], dtype=float).T if record["val"] else ([], [])
    b.plot(vs, 100 * np.asarray(va), "o-", label="validation accuracy")
    b.axhline(100 * record["majority"]["val"], color="0.5", ls=":", label="validation majority")
    for value, label, style in ((record.get("lra_transformer_test_accuracy"),
                                 "LRA Transformer (test)", "--"),
                                (record.get("paper_test_accuracy"), "paper LRU (test)", "-.")):
        if value is not None:
            b.axhline(value, color="k", ls=style, lw=0.8, label=label)
    if record.get("test_accuracy") is not None:
        b.plot([record["best_step"]], [100 * record["test_accuracy"]], "r*", ms=12,
               label="test at the best validation step")
    b.set_xlabel("step")
    b.set_ylabel("accuracy %")
    b.legend(fontsize=8)
    p = record["preset"]
    fig.suptitle(f"LRU on full-length {p['task']} ({record['lengths'][0]}-"
                 f"{record['lengths'][1]} tokens): depth {p['depth']}, {p['d_model']}/"
                 f"{p['d_state']}, batch {p['batch_size']}, {record['steps_done']:,} of "
                 f"{record['steps']:,} steps")
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=110)
    return path


def markdown(record: dict[str, Any]) -> str:
    p = record["preset"]
    rows = ["| field | paper | this run | why |", "|---|---|---|---|"]
    rows += [f"| {k} | {v['paper']} | {v['run']} | {v['why']} |"
             for k, v in record["scaled"].items()]
    pct = (lambda x: "-" if x is None else f"{100 * x:.1f}")
    best = max(record["val"], key=lambda sv: sv[1]) if record["val"] else (None, None)
    load = record["load"]
    result = [
        "| task | model | steps | best val % (step) | test % at best val | test majority % | "
        "LRA Transformer % | paper LRU % | steps/s (median) | wall h | load (mean, range) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
        f"| {p['task']} | {p['model']} {p['depth']} x {p['d_model']}/{p['d_state']} | "
        f"{record['steps_done']:,} / {record['steps']:,} | {pct(best[1])} ({best[0]}) | "
        f"{pct(record['test_accuracy'])} | {pct(record['majority']['test'])} | "
        f"{record.get('lra_transformer_test_accuracy') or '-'} | "
        f"{record.get('paper_test_accuracy') or '-'} | "
        f"{record['steps_per_s'] or float('nan'):.2f} | {record['wall_s'] / 3600:.2f} | "
        f"{load['mean'] or float('nan'):.1f} ({load['min']}-{load['max']}) |",
    ]
    return "\n".join(rows) + "\n\n" + "\n".join(result)


def _load_record(name_or_path: str) -> dict[str, Any]:
    path = name_or_path if name_or_path.endswith(".json") else os.path.join(
        RESULTS, f"{name_or_path}.json")
    with open(path) as f:
        return json.load(f)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record", help="write results/NAME.json from a run's ROOT folder")
    r.add_argument("root")
    r.add_argument("--name", help="record name (default: ROOT's folder name)")
    r.add_argument("--out", help="the JSON path (default: benchmarks/results/NAME.json)")
    rp = sub.add_parser("replay", help="rerun a record's commands; compare the first losses")
    rp.add_argument("record")
    rp.add_argument("--steps", type=int, default=20)
    rp.add_argument("--workdir", help="scratch folder (default: a temporary one)")
    rp.add_argument("--tolerance", type=float, default=1e-5,
                    help="largest accepted |difference| of a loss (default 1e-5)")
    for name in ("plot", "markdown"):
        s = sub.add_parser(name)
        s.add_argument("--name", default="listops_long")
    args = p.parse_args(argv)
    if args.cmd == "record":
        rec = build_record(args.root)
        out = args.out or os.path.join(RESULTS, f"{args.name or rec['name']}.json")
        with open(out + ".tmp", "w") as f:
            json.dump(rec, f, indent=1)
        os.replace(out + ".tmp", out)
        print(f"wrote {out}: {rec['steps_done']} of {rec['steps']} steps, test accuracy "
              f"{rec['test_accuracy']}")
    elif args.cmd == "replay":
        rec = _load_record(args.record)
        with tempfile.TemporaryDirectory() as tmp:
            losses = replay(rec, args.steps, args.workdir or tmp)
        worst = compare(rec, losses)
        ok = worst <= args.tolerance
        print(f"replayed {len(losses)} steps: largest |loss difference| {worst:.3g} "
              f"({'equal' if ok else 'DIFFERENT'} within {args.tolerance:g})")
        return 0 if ok else 1
    elif args.cmd == "plot":
        print(plot(_load_record(args.name), os.path.join(FIGURES, f"{args.name}.png")))
    else:
        print(markdown(_load_record(args.name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
