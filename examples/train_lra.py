"""Train any mixer of the lrux zoo on any Long Range Arena task (paper sections 2-3).

    python examples/train_lra.py --task listops --model lru --preset smoke \
        --data-dir data --out runs/listops-smoke
    python examples/train_lra.py --task pathfinder --model s5 --preset paper \
        --data-dir /data/lra --out runs/pf --set lr=0.004 --set depth=4
    python examples/train_lra.py ... --resume                # continue runs/... exactly

Multi-host: run one process per host with --coordinator-address HOST:PORT
--num-processes N --process-id I (or LRUX_COORDINATOR_ADDRESS / LRUX_NUM_PROCESSES /
LRUX_PROCESS_ID). A thin wrapper over `lrux.train.run`.
"""

import argparse
import json
import sys


def parse_args(argv=None) -> argparse.Namespace:
    from lrux.presets import PRESET_NAMES, TASKS

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", required=True, choices=TASKS)
    p.add_argument("--model", default="lru", help="mixer name from lrux.registry (default lru)")
    p.add_argument("--preset", default="paper", choices=PRESET_NAMES)
    p.add_argument("--data-dir", default="data", help="LRA data folder (generated if needed "
                   "for listops / pathfinder / pathx)")
    p.add_argument("--out", required=True, help="run directory (config, metrics, checkpoints)")
    p.add_argument("--steps", type=int, default=None, help="training steps (preset's if unset)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume", action="store_true", help="continue from RUN_DIR's last checkpoint")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="NAME=VALUE",
                   help="override a preset field (depth=4, lr=1e-3, r_min=0.5, data.load.X=..., "
                   "mixer.OPTION=...); repeatable")
    p.add_argument("--print-config", action="store_true", help="print the preset and exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--coordinator-address", default=None)
    p.add_argument("--num-processes", type=int, default=None)
    p.add_argument("--process-id", type=int, default=None)
    p.add_argument("--exit-at-step", type=int, default=None, help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    # Before anything touches a device.
    from lrux.train.sharding import init_distributed

    init_distributed(args.coordinator_address, args.num_processes, args.process_id)

    from lrux.presets import apply_overrides, get_preset

    preset = get_preset(args.task, args.model, args.preset)
    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"steps={args.steps}")
    preset = apply_overrides(preset, overrides)
    if args.print_config:
        print(json.dumps(preset.to_dict(), indent=2, default=str))
        return 0

    from lrux.train import MissingData, NonFiniteLoss, run

    try:
        summary = run(
            preset, data_dir=args.data_dir, out_dir=args.out, seed=args.seed,
            resume=args.resume, exit_at_step=args.exit_at_step,
            progress=False if args.no_progress else None,
        )
    except MissingData as e:
        print(str(e), file=sys.stderr)
        return 3
    except NonFiniteLoss as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
