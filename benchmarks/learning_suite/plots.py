"""Figures of a results JSON (PNG, matplotlib Agg): one function per figure, drawn only
from the JSON, so `--plot` redraws docs/figures/learning*.png without training."""

import math
import os
from typing import Any

import numpy as np

from .report import ladder_table, phase_groups, stats

BLUE, RED, GREEN, GREY = "#47a", "#c44", "#7a4", "#999"


def _color(mixer: str) -> str:
    """Red for a dense ladder rung, blue for a diagonal one (registry facts: the family and
    the type), green for every other mixer."""
    from lrux.layers.base import AbstractDiagonalMixer
    from lrux.registry import MIXERS

    entry = MIXERS.get(mixer)
    if entry is None or entry.family != "ladder":
        return GREEN
    return BLUE if issubclass(entry.layer, AbstractDiagonalMixer) else RED


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, fig_dir: str, name: str) -> str:
    path = os.path.join(fig_dir, name)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    _plt().close(fig)
    return path


def _ladder_axis(ax, lad: dict[str, Any], rows: list[dict[str, Any]], task: str) -> None:
    colors = [_color(r["mixer"]) for r in rows]
    ax.bar(range(len(rows)), [100 * r[task]["mean"] if r[task]["n"] else 0 for r in rows],
           color=colors, alpha=0.8, label="mean")
    for i, row in enumerate(rows):
        accs = [100 * r["test_acc"] for r in lad["runs"] if r["mixer"] == row["mixer"]
                and r["task"] == task and r["test_acc"] is not None]
        ax.plot([i] * len(accs), accs, "k.", ms=6)
        if row[task]["diverged"]:
            ax.text(i, 2, f"div. x{row[task]['diverged']}", rotation=90, ha="center",
                    va="bottom", fontsize=8)
    if task == "recall":
        ax.axhline(100 / lad["config"]["recall_classes"], color="k", ls=":", lw=1,
                   label="chance")
        ax.legend(loc="upper left")
    ax.set_ylim(0, 105)
    ax.set_xticks(range(len(rows)), [r["mixer"] for r in rows], rotation=55, ha="right")
    ax.set_ylabel("test accuracy % (bars: mean, dots: seeds)")


def plot_ladder(lad: dict[str, Any], fig_dir: str, suffix: str) -> str:
    """Test accuracy per mixer (bars: mean, dots: seeds), one panel per task."""
    rows = ladder_table(lad)
    tasks = [t for t in ("listops", "recall")
             if any(r[t]["n"] or r[t]["diverged"] for r in rows)]
    lengths = sorted({r["seq_len"] for r in lad["runs"] if r["task"] == "recall"}) or [
        lad["config"]["length"]]
    titles = {"listops": "ListOps (short, generated)",
              "recall": f"Delayed recall (L = {', '.join(map(str, lengths))})"}
    fig, axes = _plt().subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        _ladder_axis(ax, lad, rows, task)
        ax.set_title(titles[task])
    return _save(fig, fig_dir, f"learning_ladder{suffix}.png")


def _ring_axis(ax, res: dict[str, Any]) -> None:
    rings = sorted({r["r_max"] for r in res["runs"] if r["sweep"] == "ring"})
    for g, label, c, ls, mk in ((True, "LRU (gamma)", BLUE, "-", "o"),
                                (False, "no gamma (diag-ring)", RED, "--", "s")):
        xs, ms, ss = [], [], []
        for rmax in rings:
            m, s, n = stats([r["test_acc"] for r in res["runs"] if r["sweep"] == "ring"
                             and r["gamma"] == g and r["r_max"] == rmax])
            if n:
                xs.append(-math.log10(1 - rmax))
                ms.append(100 * m)
                ss.append(100 * s)
        ax.errorbar(xs, ms, yerr=ss, marker=mk, ls=ls, capsize=3, label=label, color=c,
                    mfc=c if g else "none", ms=6 if g else 9)
    ax.axhline(100 / res["config"]["recall_classes"], color="k", ls=":", lw=1, label="chance")
    ax.set_xlabel("-log10(1 - r_max)  (ring [r_min, r_max])")
    ax.set_ylabel("test accuracy %")
    ax.set_title(f"Delayed recall, L = {res['config']['length']}")
    ax.legend()


def _gamma_curves_axis(ax, res: dict[str, Any]) -> None:
    """Mean train-loss curves at the ring closest to 1, with and without gamma: without it
    the state's scale grows like 1 / sqrt(1 - |lambda|^2) and the loss starts high."""
    ring_runs = [r for r in res["runs"] if r["sweep"] == "ring"]
    if not ring_runs:
        return
    ring = max({(r["r_min"], r["r_max"]) for r in ring_runs}, key=lambda x: x[1])
    for g, label, c, ls in ((True, "LRU (gamma)", BLUE, "-"),
                            (False, "no gamma (diag-ring)", RED, "--")):
        cs = [r["loss_curve"] for r in ring_runs if r["gamma"] == g
              and (r["r_min"], r["r_max"]) == ring and r["loss_curve"]]
        if cs:
            n = min(len(c) for c in cs)
            ax.plot([s for s, _ in cs[0][:n]], np.mean([[v for _, v in c[:n]] for c in cs], 0),
                    ls=ls, color=c, label=f"{label}, mean of {len(cs)}")
    ax.axhline(math.log(res["config"]["recall_classes"]), color="k", ls=":", lw=1,
               label="chance loss")
    ax.set(yscale="log", xlabel="step", ylabel="train loss",
           title=f"ring [{ring[0]:g}, {ring[1]:g}]: loss curves")
    ax.legend()


def _phase_axis(ax, res: dict[str, Any]) -> None:
    ms, ss, names = [], [], []
    for ph, rs in phase_groups(res):
        m, s, _ = stats([r["test_acc"] for r in rs])
        ms.append(100 * m)
        ss.append(100 * s)
        names.append("2π" if abs(ph - 2 * math.pi) < 1e-9 else f"π/{math.pi / ph:g}")
    ax.bar(range(len(ms)), ms, yerr=ss, color=BLUE, capsize=3)
    ax.set_xticks(range(len(ms)), names)
    ax.set(xlabel="max_phase (LRU)", title="phase range")


def plot_signal(res: dict[str, Any], fig_dir: str, suffix: str) -> str:
    """Accuracy over rings (with / without gamma), loss curves at the last ring, phases."""
    fig, axes = _plt().subplots(1, 3, figsize=(15, 4), gridspec_kw={"width_ratios": [2, 2, 1]})
    _ring_axis(axes[0], res)
    _gamma_curves_axis(axes[1], res)
    _phase_axis(axes[2], res)
    return _save(fig, fig_dir, f"learning_signal{suffix}.png")


def _loss_and_val(ax1, train: list[tuple[int, float]], val: list[tuple[int, float]],
                  chance: float | None, paper: float | None = None):
    ax1.plot([s for s, _ in train], [v for _, v in train], color=GREY, label="train loss")
    ax1.set(xlabel="step", ylabel="train loss")
    ax2 = ax1.twinx()
    ax2.plot([s for s, _ in val], [100 * v for _, v in val], "o-", color=BLUE,
             label="val accuracy")
    if chance is not None:
        ax2.axhline(100 * chance, color="k", ls=":", lw=1, label="val majority class")
    if paper is not None:
        ax2.axhline(paper, color=GREEN, ls="--", lw=1, label=f"paper test {paper:g}%")
    ax2.set(ylim=(0, 100), ylabel="val accuracy %")
    return ax2


def plot_pathfinder(res: dict[str, Any], fig_dir: str, suffix: str) -> str:
    """Train loss and validation accuracy of the fixed-budget Pathfinder-32 run."""
    rec = res["runs"][0]
    fig, ax1 = _plt().subplots(figsize=(6.5, 4))
    _loss_and_val(ax1, [tuple(c) for c in rec["loss_curve"]],
                  [(v["step"], v["val_acc"]) for v in rec.get("val_curve", [])], 0.5)
    ax1.set_title(f"Pathfinder-32, LRU, {rec['train_s']:.0f} s of CPU training")
    fig.legend(loc="lower right", bbox_to_anchor=(0.85, 0.15))
    return _save(fig, fig_dir, f"learning_pathfinder{suffix}.png")


MEDIUM_CHANCE = {"listops": None, "pathfinder": 0.5}


def plot_preset_runs(res: dict[str, Any], fig_dir: str, name: str) -> str:
    """One panel per run of `lrux.train.run` (medium / GPU): train loss, val accuracy over
    steps, the paper's test %."""
    runs = res["runs"]
    fig, axes = _plt().subplots(1, len(runs), figsize=(6.5 * len(runs), 4.2), squeeze=False)
    for ax, r in zip(axes[0], runs, strict=True):
        p = r["preset"]
        chance = r.get("val_majority_rate", MEDIUM_CHANCE.get(r["task"]))
        ax2 = _loss_and_val(ax, [(t["step"], t["loss"]) for t in r.get("train", [])],
                            [(v["step"], v["accuracy"]) for v in r.get("val", [])],
                            chance, r["paper_test_acc"])
        test = "" if r.get("test_acc") is None else f", test {100 * r['test_acc']:.1f}%"
        ax.set_title(f"{r['task']}: LRU {p['depth']} x {p['d_model']} / {p['d_state']}, "
                     f"batch {p['batch_size']}{test} ({r['status']})", fontsize=10)
        ax.set_xlim(0, p["steps"])
        handles = [h for a in (ax, ax2) for h in a.get_legend_handles_labels()[0]]
        ax2.legend(handles, [h.get_label() for h in handles], loc="upper left", fontsize=8)
    return _save(fig, fig_dir, name)


def plot_medium(res: dict[str, Any], fig_dir: str, suffix: str) -> str:
    return plot_preset_runs(res, fig_dir, f"learning_medium{suffix}.png")


def plot_gpu(res: dict[str, Any], fig_dir: str, suffix: str) -> str:
    return plot_preset_runs(res, fig_dir, f"learning_gpu{suffix}.png")


PLOTS = {"ladder": plot_ladder, "signal": plot_signal, "pathfinder": plot_pathfinder,
         "medium": plot_medium, "gpu": plot_gpu}


def plot(results: dict[str, Any], fig_dir: str, suffix: str = "") -> list[str]:
    """PNG figures of the experiments present in `results`; returns their paths."""
    os.makedirs(fig_dir, exist_ok=True)
    return [fn(results[name], fig_dir, suffix) for name, fn in PLOTS.items()
            if name in results and results[name]["runs"]]
