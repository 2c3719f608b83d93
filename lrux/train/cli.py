"""Train any mixer of the lrux zoo on any Long Range Arena task (paper sections 2-3).

    python -m lrux.train --task listops --model lru --preset smoke --data-dir data \\
        --out runs/listops-smoke
    lrux-train --task pathfinder --model s5 --preset paper --data-dir /data/lra \\
        --out runs/pf --set lr=0.004 --set depth=4
    lrux-train ... --resume              # continue runs/... exactly (after a kill, SIGTERM)

Multi-host: run one process per host with --coordinator-address HOST:PORT
--num-processes N --process-id I (or LRUX_COORDINATOR_ADDRESS / LRUX_NUM_PROCESSES /
LRUX_PROCESS_ID). Exit status: 0 done, 2 a mistake in the flags, data or run directory (one
`error:` line), 3 data missing and not generatable, 128 + N stopped by signal N after saving.
"""

import argparse
import json
import os
import sys

from lrux.errors import LruxError

PROG = "python -m lrux.train"


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        self.exit(2, f"error: {message} ({self.prog} --help lists the flags)\n")


def _fields_help() -> str:
    from lrux.presets import Preset, field_names

    defaults = Preset(task="listops")
    parts = [f"{n} ({type(getattr(defaults, n)).__name__})" for n in field_names()]
    return ("--set NAME=VALUE accepts a preset field: " + ", ".join(parts) + "; or "
            "data.load.KEY / data.generate.KEY (loader / generator options); or a mixer "
            "option (mixer.NAME, or NAME when it is no field), e.g. r_min, r_max, max_phase "
            "for the LRU.")


def _prog() -> str:
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    return name if name in ("lrux-train", "train_lra.py") else PROG


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    from lrux.presets import PRESET_NAMES, TASKS

    p = _Parser(prog=prog or _prog(), description=(__doc__ or "").split("\n\n")[0],
                epilog=_fields_help())
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--model", default="lru", help="mixer name from lrux.registry (default lru)")
    p.add_argument("--preset", default="paper", choices=PRESET_NAMES)
    p.add_argument("--data-dir", default="data", help="LRA data folder (generated if absent "
                   "or empty for listops / pathfinder / pathx)")
    p.add_argument("--out", required=True, help="run directory (config, metrics, checkpoints)")
    p.add_argument("--steps", type=int, default=None, help="training steps (preset's if unset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true",
                   help="continue from the run directory's newest readable checkpoint")
    p.add_argument("--allow-steps-change", action="store_true",
                   help="with --resume: accept a --steps different from the run's (this "
                   "changes its learning-rate schedule)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="override a preset field (depth=4, lr=1e-3, r_min=0.5, "
                   "data.load.max_length=512, mixer.OPTION=...); repeatable")
    p.add_argument("--print-config", action="store_true", help="print the preset and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help="also write the metrics as TensorBoard scalars to DIR (tensorboardX)")
    p.add_argument("--coordinator-address", default=None)
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--exit-at-step", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def build_preset(args: argparse.Namespace):
    """The preset of the parsed flags (`--steps` and every `--set` applied and checked)."""
    from lrux.presets import apply_overrides, get_preset
    from lrux.registry import MIXERS

    preset = get_preset(args.task, args.model, args.preset)
    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    accepted = getattr(MIXERS[args.model], "option_names", None)
    return apply_overrides(preset, overrides, mixer_options=set(accepted()) if accepted else None)


def _train(args, preset) -> dict:
    from lrux.train.loop import run

    writers = []
    if args.tensorboard:
        from lrux.train.metrics import TensorBoardWriter

        writers.append(TensorBoardWriter(args.tensorboard))
    return run(preset, data_dir=args.data_dir, out_dir=args.out, seed=args.seed,
               resume=args.resume, allow_steps_change=args.allow_steps_change,
               exit_at_step=args.exit_at_step, progress=False if args.no_progress else None,
               writers=tuple(writers))


def main(argv=None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)
    try:
        from lrux.train.sharding import init_distributed

        init_distributed(args.coordinator_address, args.num_processes, args.process_id)
        preset = build_preset(args)
        if args.print_config:
            print(json.dumps(preset.to_dict(), indent=2, default=str))
            return 0
        summary = _train(args, preset)
    except LruxError as e:
        from lrux.train.feed import MissingData
        from lrux.train.loop import Interrupted

        print(f"error: {e}", file=sys.stderr, flush=True)
        if isinstance(e, Interrupted):
            return 128 + e.signum
        return 3 if isinstance(e, MissingData) else 2
    print(json.dumps(summary, indent=2))
    return 0
