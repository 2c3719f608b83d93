"""Train any mixer of the lrux zoo on any Long Range Arena task (paper sections 2-3).

    python -m lrux.train --task listops --model lru --preset smoke --data-dir data \\
        --out runs/listops-smoke
    lrux-train --task pathfinder --model s5 --preset paper --data-dir /data/lra \\
        --out runs/pf --set lr=0.004 --set depth=4
    lrux-train ... --resume              # continue runs/... exactly (after a kill, SIGTERM)

Multi-host: run one process per host with --coordinator-address HOST:PORT
--num-processes N --process-id I (or LRUX_COORDINATOR_ADDRESS / LRUX_NUM_PROCESSES /
LRUX_PROCESS_ID); --coordinator-timeout SECONDS (LRUX_COORDINATOR_TIMEOUT, default 300) bounds
the wait for the other processes. Exit status: 0 done, 2 a mistake in the flags, data or run
directory, or a failing disk (one `error:` line), 3 data missing and not generatable, 128 + N
stopped by signal N (after saving, when it came during the training steps).
"""

import argparse
import json
import os
import sys
import warnings

from lrux.checks import SEED, STEPS, Range, parse, problem
from lrux.errors import ConfigError, LruxError

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


def _number(kind: type, rng: Range | None = None):
    """An argparse `type` reading `kind` within `rng` ("argument --seed: expected ...")."""

    def read(text: str):
        value = parse(text, kind)
        why = problem(value, kind, rng)
        if why is not None:
            raise argparse.ArgumentTypeError(why)
        return value

    read.__name__ = kind.__name__
    return read


def _non_empty():
    def read(text: str) -> str:
        if not text.strip():
            raise argparse.ArgumentTypeError(
                "empty (an unset variable in a script?); give a folder")
        return text

    return read


def parse_args(argv=None, prog: str | None = None) -> argparse.Namespace:
    from lrux.presets import PRESET_NAMES, TASKS

    p = _Parser(prog=prog or _prog(), description=(__doc__ or "").split("\n\n")[0],
                epilog=_fields_help())
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--model", default="lru", help="mixer name from lrux.registry (default lru)")
    p.add_argument("--preset", default="paper", choices=PRESET_NAMES)
    p.add_argument("--data-dir", default="data", type=_non_empty(),
                   help="LRA data folder (generated if absent or empty for listops / "
                   "pathfinder / pathx)")
    p.add_argument("--out", required=True, type=_non_empty(),
                   help="run directory (config, metrics, checkpoints)")
    p.add_argument("--steps", type=_number(int, STEPS), default=None,
                   help="training steps (preset's if unset)")
    p.add_argument("--seed", type=_number(int, SEED), default=0)
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
    p.add_argument("--tensorboard", metavar="DIR", default=None, type=_non_empty(),
                   help="also write the metrics as TensorBoard scalars to DIR (tensorboardX)")
    p.add_argument("--coordinator-address", default=None)
    p.add_argument("--num-processes", type=_number(int, Range(1)), default=None)
    p.add_argument("--process-id", type=_number(int, Range(0)), default=None)
    p.add_argument("--coordinator-timeout", type=_number(float, Range(0, lo_open=True)),
                   default=None, metavar="SECONDS",
                   help="multi-process start: give up (one error line) when the processes "
                   "have not all met at the coordinator within SECONDS (default 300)")
    p.add_argument("--exit-at-step", type=_number(int, STEPS), default=None,
                   help=argparse.SUPPRESS)
    return p.parse_args(argv)


def build_preset(args: argparse.Namespace):
    """The preset of the parsed flags (every `--set`, then `--steps`, applied and checked)."""
    from lrux.presets import apply_overrides, get_preset
    from lrux.registry import MIXERS

    preset = get_preset(args.task, args.model, args.preset)
    accepted = getattr(MIXERS[args.model], "option_names", None)
    preset = apply_overrides(preset, list(args.overrides),
                             mixer_options=set(accepted()) if accepted else None)
    if args.steps is not None:
        try:
            preset = apply_overrides(preset, {"steps": args.steps})
        except ConfigError as e:
            raise ConfigError(f"--steps {args.steps}: {e}") from None
    return preset


def check_tensorboard(logdir: str | None) -> None:
    """`--tensorboard DIR` needs tensorboardX and a DIR that is (or can be) a folder."""
    if logdir is None:
        return
    try:
        import tensorboardX  # noqa: F401
    except ImportError:
        raise ConfigError("--tensorboard needs tensorboardX, which is not installed: pip "
                          "install -e '.[tensorboard]' in a checkout of lrux (or pip install "
                          "tensorboardX)") from None
    parent = logdir
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent.rstrip(os.sep))
    if parent and not os.path.isdir(parent):
        raise ConfigError(f"--tensorboard {logdir}: {parent} exists and is not a folder")
    if parent and not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"--tensorboard {logdir}: {parent} is not writable")


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


def _status(e: LruxError) -> int:
    from lrux.train.feed import MissingData
    from lrux.train.signals import Interrupted

    if isinstance(e, Interrupted):
        return 128 + e.signum
    return 3 if isinstance(e, MissingData) else 2


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr, flush=True)


def main(argv=None, prog: str | None = None) -> int:
    args = parse_args(argv, prog)  # --help answers here, before jax is imported
    from lrux.train.signals import interrupts_as_errors

    shown, warnings.showwarning = warnings.showwarning, _show_warning  # one line each
    try:
        with interrupts_as_errors():
            check_tensorboard(args.tensorboard)
            from lrux.train.sharding import init_distributed

            init_distributed(args.coordinator_address, args.num_processes, args.process_id,
                             args.coordinator_timeout)
            preset = build_preset(args)
            if args.print_config:
                print(json.dumps(preset.to_dict(), indent=2, default=str))
                return 0
            summary = _train(args, preset)
    except LruxError as e:
        print(f"error: {e}", file=sys.stderr, flush=True)
        return _status(e)
    finally:
        warnings.showwarning = shown
    print(json.dumps(summary, indent=2))
    return 0
