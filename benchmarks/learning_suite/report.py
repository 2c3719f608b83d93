"""Markdown tables of a results JSON (what `--markdown` prints; docs/results.md quotes it)."""

import math
from typing import Any

import numpy as np

from .config import LADDER_TASKS

FIT_LOSS = 0.5  # "fit by step": the first logged step whose train loss is below this


def stats(values: list[float | None]) -> tuple[float, float, int]:
    """(mean, sample std, count) of the values that are not None (NaN, NaN, 0 if none)."""
    a = np.asarray([v for v in values if v is not None], float)
    if a.size == 0:
        return float("nan"), float("nan"), 0
    return float(a.mean()), float(a.std(ddof=1)) if a.size > 1 else 0.0, int(a.size)


def ladder_table(res: dict[str, Any]) -> list[dict[str, Any]]:
    """Per mixer: mean / std of test accuracy per task, seeds, diverged count, s/run."""
    rows = []
    for m in dict.fromkeys(r["mixer"] for r in res["runs"]):
        row: dict[str, Any] = {"mixer": m}
        for task in LADDER_TASKS:
            rs = [r for r in res["runs"] if r["mixer"] == m and r["task"] == task]
            mean, std, n = stats([r["test_acc"] for r in rs])
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


def fmt_cell(cell: dict[str, Any]) -> str:
    """"mean (std)" in %, with the diverged count; "-" for no runs."""
    if cell["n"] == 0:
        return f"diverged x{cell['diverged']}" if cell["diverged"] else "-"
    s = f"{100 * cell['mean']:.1f}"
    if cell["n"] > 1:
        s += f" ({100 * cell['std']:.1f})"
    if cell["diverged"]:
        s += f", {cell['diverged']} diverged"
    return s


def signal_cells(runs: list[dict[str, Any]]) -> list[str]:
    """Accuracy (mean, std), mean first logged loss and mean first step with loss below
    `FIT_LOSS` of some signal runs, as table cells."""
    m, s, n = stats([r["test_acc"] for r in runs])
    acc = fmt_cell({"mean": m, "std": s, "n": n,
                    "diverged": sum(not r["finite"] for r in runs)})
    curves = [r["loss_curve"] for r in runs if r["loss_curve"]]
    if not curves:
        return [acc, "-", "-"]
    first = float(np.mean([c[0][1] for c in curves]))
    fit = [next((step for step, loss in c if loss < FIT_LOSS), None) for c in curves]
    never = any(f is None for f in fit)
    steps = float(np.mean([f if f is not None else c[-1][0]
                           for f, c in zip(fit, curves, strict=True)]))
    return [acc, f"{first:.2f}", f"{'>' if never else ''}{steps:.0f}"]


def _part_row(name: str, sec: dict[str, Any], part: dict[str, Any]) -> str:
    c = part.get("config") or {}
    n = sum(1 for r in sec["runs"] if r.get("invocation") == part.get("invocation"))
    length: Any = c.get("length")
    if name == "ladder":
        tasks = c.get("ladder_tasks", LADDER_TASKS)
        what = ", ".join(tasks) + ": " + ", ".join(c.get("mixers") or ())
        steps, seeds = f"{c.get('listops_steps')} / {c.get('recall_steps')}", len(c["seeds"])
        if tuple(tasks) == ("listops",):
            length = f"< {c.get('listops_max')}"
    elif name == "signal":
        what = "rings " + ", ".join(f"[{a:g}, {b:g}]" for a, b in c.get("signal_rings", ()))
        what += "; max_phase " + ", ".join(f"{p:.3g}" for p in c.get("signal_phases", ()))
        steps, seeds = str(c.get("recall_steps")), len(c.get("signal_seeds", ()))
    elif name == "pathfinder":
        what = f"{c.get('pf_images')} images, {c.get('pf_seconds'):g} s budget"
        steps, seeds, length = "-", 1, 1024
    else:  # medium / gpu: runs of lrux.train.run
        mine = [r for r in sec["runs"] if r.get("invocation") == part.get("invocation")]
        what = "; ".join(f"{r['task']}: LRU {r['preset']['depth']} x {r['preset']['d_model']}"
                         f" / {r['preset']['d_state']}" for r in mine)
        steps = " / ".join(str(r["preset"]["steps"]) for r in mine)
        if not mine and "tasks" in c:  # its runs were rewritten by a later invocation
            what = (f"{', '.join(c['tasks'])}: LRU {c['depth']} x {c['d_model']} / "
                    f"{c['d_state']}")
            steps = f"{c['listops_steps']} / {c['pf_steps']}"
        seeds, length = 1, "2048 / 1024"
    return (f"| {name} | {(part.get('date') or '')[:16]} | {seeds} | {what} | {steps} | "
            f"{length} | {n} | {part.get('wall_s') or 0:.0f} |")


def parts_table(results: dict[str, Any]) -> str:
    """What was run: one row per experiment invocation (from each section's `parts`)."""
    from .results import SECTIONS

    lines = ["| experiment | date (UTC) | seeds | what | steps | length | runs | wall s |",
             "|---|---|---|---|---|---|---|---|"]
    for name in SECTIONS:
        if name in results:
            sec = results[name]
            lines += [_part_row(name, sec, part) for part in sec.get("parts") or [sec]]
    return "\n".join(lines) + "\n"


def _ladder_md(res: dict[str, Any]) -> list[str]:
    n_seeds = len(res["config"]["seeds"])
    out = [f"Ladder: test accuracy %, mean (std) over {n_seeds} seed(s)\n",
           "| mixer | ListOps (short) | delayed recall | s/run (ListOps, recall) |",
           "|---|---|---|---|"]
    for row in ladder_table(res):
        w = ", ".join("-" if row[t]["wall_s"] is None else f"{row[t]['wall_s']:.0f}"
                      for t in LADDER_TASKS)
        out.append(f"| {row['mixer']} | {fmt_cell(row['listops'])} | "
                   f"{fmt_cell(row['recall'])} | {w} |")
    return out + [""]


def _signal_md(res: dict[str, Any]) -> list[str]:
    classes = res["config"]["recall_classes"]
    first = res["runs"][0]["loss_curve"][0][0] if res["runs"][0]["loss_curve"] else 0
    out = ["Signal propagation on delayed recall: test accuracy %, mean (std); the mean "
           f"train loss at step {first} (the first logged; chance is ln {classes} = "
           f"{math.log(classes):.2f}); the mean first step with train loss < {FIT_LOSS} "
           "(runs that never got there count as their last step, marked >)\n",
           "| ring [r_min, r_max] | LRU (gamma): acc | first loss | fit by step "
           "| no gamma (diag-ring): acc | first loss | fit by step |",
           "|---|---|---|---|---|---|---|"]
    ring_runs = [r for r in res["runs"] if r["sweep"] == "ring"]
    for ring in dict.fromkeys((r["r_min"], r["r_max"]) for r in ring_runs):
        cells = []
        for g in (True, False):
            cells += signal_cells([r for r in ring_runs if r["gamma"] == g
                                   and (r["r_min"], r["r_max"]) == ring])
        out.append(f"| [{ring[0]:g}, {ring[1]:g}] | " + " | ".join(cells) + " |")
    out += ["", "| max_phase (LRU, last ring) | test accuracy % | first loss | fit by step |",
            "|---|---|---|---|"]
    for phase, rs in phase_groups(res):
        name = "2 pi" if abs(phase - 2 * math.pi) < 1e-9 else f"pi/{math.pi / phase:g}"
        out.append(f"| {name} | " + " | ".join(signal_cells(rs)) + " |")
    return out + [""]


def _pathfinder_md(res: dict[str, Any]) -> list[str]:
    rec = res["runs"][0]
    acc = "diverged" if rec["test_acc"] is None else f"{100 * rec['test_acc']:.1f}"
    best = max((v["val_acc"] for v in rec.get("val_curve", [])), default=float("nan"))
    return ["| Pathfinder-32 | steps | train s | test acc % | best val acc % |",
            "|---|---|---|---|---|",
            f"| LRU (bidirectional) | {rec['steps_done']} | {rec['train_s']:.0f} | {acc} | "
            f"{100 * best:.1f} |", ""]


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}"


def loop_seconds(train: list[dict[str, Any]]) -> float | None:
    """The training loop's time from its train records (steps in each logged window /
    that window's steps/s; evaluations, checkpoints and the first step's compilation
    included): unlike an invocation's wall time, it survives a resume."""
    total, last = 0.0, 0
    for r in train:
        sps = r.get("steps_per_sec")
        if not isinstance(sps, float) or not sps > 0:
            return None
        total, last = total + (r["step"] - last) / sps, r["step"]
    return total if train else None


def medium_rows(res: dict[str, Any]) -> list[list[str]]:
    """One row per run of `lrux.train.run` (medium / GPU): task, status, model, steps,
    batch, training examples, steps/s, best val %, test %, the test split's majority rate,
    the paper's test %, the loop's seconds."""
    rows = []
    for r in res["runs"]:
        p, val = r["preset"], r.get("val", [])
        best = max((v["accuracy"] for v in val), default=None)
        last = val[-1]["step"] if val else 0
        sps = r.get("steps_per_sec")
        rows.append([
            r["task"], r["status"], f"{p['depth']} x {p['d_model']} / {p['d_state']}",
            f"{last} / {p['steps']}", str(p["batch_size"]),
            str((r.get("split_sizes") or {}).get("train", "-")),
            "-" if sps is None else f"{sps:.2f}", _pct(best), _pct(r.get("test_acc")),
            _pct(r.get("test_majority_rate")),
            _pct(None if r["paper_test_acc"] is None else r["paper_test_acc"] / 100),
            "-" if loop_seconds(r.get("train", [])) is None
            else f"{loop_seconds(r['train']):.0f}"])
    return rows


def _medium_md(res: dict[str, Any]) -> list[str]:
    head = ("| task | status | depth x d_model / d_state | steps (evaluated / planned) | "
            "batch | train examples | steps/s | best val % | test % (at best val) | "
            "test majority % | paper test % | loop s |")
    out = [head, "|" + "---|" * 12]
    out += ["| " + " | ".join(row) + " |" for row in medium_rows(res)]
    out += ["", "Fields changed from the paper preset (paper -> this run): " + "; ".join(
        f"{r['task']}: " + ", ".join(f"{k} {a} -> {b}" for k, (a, b) in r["scaled"].items())
        for r in res["runs"])]
    return out + [""]


def markdown(results: dict[str, Any]) -> str:
    """Markdown tables of every experiment present in `results`."""
    out = [parts_table(results)]
    for name, table in (("ladder", _ladder_md), ("signal", _signal_md),
                        ("pathfinder", _pathfinder_md), ("medium", _medium_md),
                        ("gpu", _medium_md)):
        if name in results and results[name]["runs"]:
            out += table(results[name])
    return "\n".join(out)
