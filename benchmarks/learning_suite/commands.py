"""What one invocation does: run a tier's experiments into its JSON, report on a JSON, or
merge another JSON into it. `__main__` only parses flags into an `Invocation`."""

import dataclasses
import os
import sys
import time
from typing import Any

from lrux.errors import ConfigError

from .config import Config, MediumConfig
from .results import ResultsFile, machine, merge_results, now, read_json, write_json

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RESULTS = os.path.join(ROOT, "benchmarks", "results")
FIGURES = os.path.join(ROOT, "docs", "figures")
JSON_NAMES = {"full": "learning.json", "quick": "learning_quick.json",
              "tiny": "learning_tiny.json", "medium": "learning_medium.json",
              "medium_tiny": "learning_medium_tiny.json"}
FIG_SUFFIX = {"full": "", "quick": "_quick", "tiny": "_tiny", "medium": ""}


@dataclasses.dataclass(frozen=True)
class Invocation:
    """Everything `execute` needs, as parsed from the command line."""

    tier: str  # full, quick, tiny, medium
    config: Config | MediumConfig
    experiments: tuple[str, ...]
    out: str
    merge: bool = True
    data_dir: str = ""
    runs_dir: str = ""
    fig_dir: str = FIGURES
    plot: bool = False
    markdown: bool = False
    merge_json: str | None = None
    argv: tuple[str, ...] = ()


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def report(inv: Invocation) -> dict[str, Any]:
    """--plot / --markdown: figures and tables from the JSON; never trains."""
    from . import plots
    from . import report as tables

    results = read_json(inv.out)
    if not results:
        raise ConfigError(f"--plot / --markdown: no results at {inv.out}")
    if inv.plot:
        for p in plots.plot(results, inv.fig_dir, FIG_SUFFIX[inv.tier]):
            print(p)
    if inv.markdown:
        print(tables.markdown(results))
    return results


def merge_json(inv: Invocation) -> dict[str, Any]:
    """--merge-json: the sections of another JSON merged run by run into --out."""
    from .report import markdown

    other = read_json(inv.merge_json)
    if not other:
        raise ConfigError(f"--merge-json {inv.merge_json}: no such results file")
    results = merge_results(read_json(inv.out) if inv.merge else {}, other)
    write_json(results, inv.out)
    print(markdown(results))
    print(f"merged {inv.merge_json} into {inv.out}")
    return results


def _run_medium(inv: Invocation, file: ResultsFile) -> dict[str, Any]:
    from .medium import run_medium

    cfg = inv.config
    t0 = time.perf_counter()

    def on_update(runs: list[dict[str, Any]]) -> None:
        file.snapshot("medium", runs, cfg.to_dict(), t0)

    sec = run_medium(cfg, data_dir=inv.data_dir, runs_dir=inv.runs_dir, on_update=on_update)
    sec.update(config=cfg.to_dict(), date=now(), machine=machine())
    return {"medium": sec}


def _run_suite(inv: Invocation, file: ResultsFile) -> dict[str, Any]:
    from .experiments import Progress, StepCache, run_suite

    cfg = inv.config
    progress = Progress(on_run=lambda name, runs, t0: file.snapshot(name, runs, cfg.to_dict(),
                                                                     t0))
    return run_suite(cfg, inv.experiments, inv.data_dir, cache=StepCache(), progress=progress)


def execute(inv: Invocation) -> dict[str, Any]:
    """Run the invocation; returns the results as written (or as read, for a report)."""
    if inv.plot or inv.markdown:
        return report(inv)
    if inv.merge_json:
        return merge_json(inv)
    from . import plots
    from . import report as tables

    file = ResultsFile(inv.out, merge=inv.merge)
    new = _run_medium(inv, file) if inv.tier == "medium" else _run_suite(inv, file)
    meta = {"benchmark": "learning", "tier": inv.tier, "quick": inv.tier == "quick"}
    results = file.finish(new, argv=list(inv.argv), meta=meta)
    print(tables.markdown(new))
    print(f"wrote {inv.out} ({time.perf_counter() - file.t0:.0f} s)")
    if inv.tier != "tiny":
        for p in plots.plot(results, inv.fig_dir, FIG_SUFFIX[inv.tier]):
            print(p)
    return results
