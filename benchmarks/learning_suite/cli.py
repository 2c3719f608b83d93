"""Command line of the learning suite: flags -> `commands.Invocation` -> `commands.execute`.

(`__main__.py` calls `cli()`.)

    python benchmarks/learning.py --quick                   # < 5 min on a quiet 2-core CPU
    python benchmarks/learning.py --only ladder --seeds 3   # part of the full suite
    python benchmarks/learning.py --medium --runs-dir /work/runs/medium   # ~90 min
    python benchmarks/learning.py --plot --markdown         # figures and tables from the JSON

(`python -m benchmarks.learning_suite ...` is the same.) A bad flag value prints one line
`error: ...` and exits with status 2; `main()` raises it (`lrux.errors.ConfigError`, a
ValueError) instead; any other exception is a bug and keeps its traceback.
"""

import argparse
import dataclasses
import os
import sys
from typing import Any

from lrux.errors import ConfigError, LruxError

from . import config as C
from .commands import FIGURES, JSON_NAMES, RESULTS, Invocation, execute

_CACHE = os.path.join(os.path.expanduser("~"), ".cache", "lrux", "learning")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="benchmarks/learning.py",
                                 description="Evidence of learning at CPU scale (lrux).")
    tier = ap.add_mutually_exclusive_group()
    tier.add_argument("--quick", action="store_true", help="the < 5 minute suite")
    tier.add_argument("--medium", action="store_true",
                      help="the medium tier: the LRU (depth 4) on full-length ListOps and "
                           "Pathfinder-32 through lrux.train.run (~90 min on a 2-core CPU)")
    ap.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # tests' sizes
    ap.add_argument("--only", default=",".join(C.EXPERIMENTS),
                    help="comma-separated experiments: " + ", ".join(C.EXPERIMENTS))
    ap.add_argument("--seeds", default=None,
                    help="a count (3) or a list (0,1,2; one seed: 2,) for ladder and signal")
    ap.add_argument("--mixers", default=None, help="comma-separated ladder mixers")
    ap.add_argument("--tasks", default=None,
                    help="ladder tasks (listops, recall) or, with --medium, medium tasks "
                         "(listops, pathfinder); comma-separated, default all")
    ap.add_argument("--steps", type=int, default=None,
                    help="training steps of every ladder / signal run, or of each medium task")
    ap.add_argument("--length", type=int, default=None, help="delayed-recall length")
    ap.add_argument("--pf-seconds", type=float, default=None,
                    help="Pathfinder-32 training budget (seconds)")
    ap.add_argument("--data-dir", default=os.environ.get("LRUX_LEARNING_DATA", _CACHE),
                    help="where generated ListOps / Pathfinder data are cached")
    ap.add_argument("--runs-dir", default=os.environ.get("LRUX_LEARNING_RUNS"),
                    help="--medium: the run directories (checkpoints; a rerun resumes them); "
                         "default ~/.cache/lrux/learning/runs/medium")
    ap.add_argument("--out", default=None,
                    help="JSON path (default results/learning.json, learning_quick.json, "
                         "learning_medium.json)")
    ap.add_argument("--no-merge", action="store_true",
                    help="overwrite the JSON instead of merging the experiments run")
    ap.add_argument("--merge-json", default=None,
                    help="merge the experiments of this JSON (another part of the suite) "
                         "into --out, run by run, and exit")
    ap.add_argument("--plot", action="store_true", help="only redraw figures from the JSON")
    ap.add_argument("--markdown", action="store_true", help="print markdown tables")
    ap.add_argument("--fig-dir", default=None,
                    help="where figures go (default docs/figures, or the folder of --out when "
                         "--out is given: a run elsewhere never writes into the repository)")
    return ap


def _names(flag: str, text: str, allowed) -> tuple[str, ...]:
    names = tuple(s.strip() for s in text.split(",") if s.strip())
    bad = [s for s in names if s not in allowed]
    if bad or not names:
        raise ConfigError(f"{flag} {text!r}: unknown {bad or 'empty list'}; expected some of "
                         f"{', '.join(allowed)}")
    return names


def _seeds(text: str) -> tuple[int, ...]:
    """"3" is a count (0, 1, 2); "0,2" and "2," are lists."""
    try:
        seeds = tuple(int(s) for s in text.split(",") if s.strip())
    except ValueError:
        raise ConfigError(f"--seeds {text!r}: expected a count or comma-separated ints") from None
    if "," not in text and seeds:
        seeds = tuple(range(seeds[0]))
    if not seeds:
        raise ConfigError(f"--seeds {text!r}: expected at least one seed")
    return seeds


def _suite_config(args: argparse.Namespace) -> C.Config:
    cfg = C.TIERS["tiny" if args.tiny else "quick" if args.quick else "full"]()
    up: dict[str, Any] = {}
    if args.seeds is not None:
        up["seeds"] = up["signal_seeds"] = _seeds(args.seeds)
    if args.mixers is not None:
        from lrux.registry import MIXERS

        up["mixers"] = _names("--mixers", args.mixers, list(MIXERS))
    if args.tasks is not None:
        up["ladder_tasks"] = _names("--tasks", args.tasks, C.LADDER_TASKS)
    if args.steps is not None:
        up["listops_steps"] = up["recall_steps"] = args.steps
    if args.length is not None:
        if args.length < 2:
            raise ConfigError(f"--length must be >= 2, got {args.length}")
        up["length"] = args.length
    if args.pf_seconds is not None:
        if not args.pf_seconds > 0:
            raise ConfigError(f"--pf-seconds must be > 0, got {args.pf_seconds}")
        up["pf_seconds"] = args.pf_seconds
    return dataclasses.replace(cfg, **up)


def _medium_config(args: argparse.Namespace) -> C.MediumConfig:
    cfg = C.medium_tiny_config() if args.tiny else C.medium_config()
    up: dict[str, Any] = {}
    if args.tasks is not None:
        up["tasks"] = _names("--tasks", args.tasks, C.MEDIUM_TASKS)
    if args.steps is not None:
        up["listops_steps"] = up["pf_steps"] = args.steps
    for flag in ("seeds", "mixers", "length", "pf_seconds"):
        if getattr(args, flag) is not None:
            raise ConfigError(f"--{flag.replace('_', '-')}: not an option of --medium")
    if args.only != ",".join(C.EXPERIMENTS):
        raise ConfigError("--only: not an option of --medium (its tasks: --tasks listops,"
                          "pathfinder)")
    return dataclasses.replace(cfg, **up)


def parse(argv: list[str] | None = None) -> Invocation:
    """The invocation the flags describe; ConfigError naming the flag when one is wrong."""
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser().parse_args(argv)
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be >= 1, got {args.steps}")
    tier = "medium" if args.medium else "tiny" if args.tiny else (
        "quick" if args.quick else "full")
    cfg = _medium_config(args) if tier == "medium" else _suite_config(args)
    experiments = ("medium",) if tier == "medium" else _names("--only", args.only,
                                                              C.EXPERIMENTS)
    name = f"{tier}_tiny" if tier == "medium" and args.tiny else tier  # never the real JSON
    # with --out elsewhere, figures go beside it: never into docs/ or benchmarks/results/
    fig_dir = args.fig_dir or (FIGURES if args.out is None
                               else os.path.dirname(os.path.abspath(args.out)))
    return Invocation(
        tier=tier, config=cfg, experiments=experiments,
        out=args.out or os.path.join(RESULTS, JSON_NAMES[name]), merge=not args.no_merge,
        data_dir=args.data_dir, runs_dir=args.runs_dir or os.path.join(_CACHE, "runs", name),
        fig_dir=fig_dir,
        plot=args.plot, markdown=args.markdown, merge_json=args.merge_json, argv=tuple(argv),
    )


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Parse and execute; raises lrux's errors (ConfigError, DataError) for bad input."""
    return execute(parse(argv))


def cli(argv: list[str] | None = None) -> int:
    """`main` for a shell: a user's mistake is one line `error: ...` and exit status 2."""
    try:
        main(argv)
    except LruxError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
