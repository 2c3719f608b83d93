"""Command line: `python -m lrux.data {generate,inspect} ...`.

    python -m lrux.data generate listops --out DIR [--seed S] [--train N --val N --test N]
        [--min-length 500 --max-length 2000] [--workers W]
    python -m lrux.data generate pathfinder --out DIR --size {32,64,128,256}
        --difficulty {6,9,14} --num N [--seed S] [--workers W]
    python -m lrux.data inspect TASK --data-dir DIR [--tokenizer chars] [--grayscale] ...

A mistake (bad flag, unwritable --out, partial or malformed data, a full disk) prints one
line `error: ...` and exits with status 2; warnings about the data print as `warning: ...`.
Ctrl-C or SIGTERM print one line and exit with 128 + the signal number.
"""

import argparse
import signal
import sys
import threading
import warnings

import numpy as np

from lrux.errors import LruxError


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of usage + message, and no SystemExit
        raise _UsageError(f"{message} (see {self.prog} --help)")


def _inspect(args) -> int:
    from .release import load_split
    from .spec import SPLITS, check_task

    task = check_task(args.task)
    opts = {}
    if task in ("text", "retrieval"):
        opts["tokenizer"] = args.tokenizer
    if task in ("listops", "text", "retrieval") and args.max_length is not None:
        opts["max_length"] = args.max_length
    if task == "image":
        opts["grayscale"] = args.grayscale
    if task in ("pathfinder", "pathx"):
        opts["difficulty"] = args.difficulty
    if args.cache_dir:
        opts["cache_dir"] = args.cache_dir
    s = None
    for split in SPLITS:
        s = load_split(task, split, args.data_dir, **opts)
        n = len(s)
        lengths = np.asarray(s.lengths)
        counts = np.bincount(np.asarray(s.labels), minlength=s.spec.num_classes)
        frac = " ".join(f"{c}:{k / max(n, 1):.3f}" for c, k in enumerate(counts))
        if n:
            q = np.percentile(lengths, [0, 50, 100])
            length = f"min {q[0]:.0f} median {q[1]:.0f} max {q[2]:.0f}"
        else:
            length = "-"
        print(f"{task} {split}: n={n} inputs={tuple(s.inputs.shape)} {s.inputs.dtype} "
              f"length {length}")
        print(f"  labels {frac}")
        if s.skipped:
            print(f"  skipped unreadable images: {s.skipped}")
    assert s is not None  # SPLITS is not empty
    if s.spec.kind == "tokens":
        print(f"vocab_size={s.spec.vocab_size} seq_len={s.spec.seq_len}")
    else:
        print(f"seq_len={s.spec.seq_len} channels={s.spec.channels} mean={s.mean} std={s.std}")
    print(f"source={s.source} fingerprint={s.fingerprint}")
    return 0


def _parser() -> argparse.ArgumentParser:
    ap = _Parser(prog="python -m lrux.data", description=__doc__,
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    gen = sub.add_parser("generate", help="generate ListOps or Pathfinder in the release layout")
    gsub = gen.add_subparsers(dest="what", required=True, parser_class=_Parser)
    lo = gsub.add_parser("listops")
    lo.add_argument("--out", required=True)
    lo.add_argument("--seed", type=int, default=0)
    lo.add_argument("--train", type=int, default=96_000)
    lo.add_argument("--val", type=int, default=2_000)
    lo.add_argument("--test", type=int, default=2_000)
    lo.add_argument("--min-length", type=int, default=500)
    lo.add_argument("--max-length", type=int, default=2000)
    lo.add_argument("--max-depth", type=int, default=10)
    lo.add_argument("--max-args", type=int, default=10)
    lo.add_argument("--workers", type=int, default=None)
    pf = gsub.add_parser("pathfinder")
    pf.add_argument("--out", required=True)
    pf.add_argument("--size", type=int, choices=(32, 64, 128, 256), default=32)
    pf.add_argument("--difficulty", type=int, choices=(6, 9, 14), default=14)
    pf.add_argument("--num", type=int, default=200_000)
    pf.add_argument("--seed", type=int, default=0)
    pf.add_argument("--workers", type=int, default=None)
    pf.add_argument("--per-folder", type=int, default=1000)
    ins = sub.add_parser("inspect", help="counts, lengths and labels per split")
    ins.add_argument("task")
    ins.add_argument("--data-dir", required=True)
    ins.add_argument("--tokenizer", choices=("bytes", "chars"), default="bytes")
    ins.add_argument("--max-length", type=int, default=None)
    ins.add_argument("--grayscale", action="store_true")
    ins.add_argument("--difficulty", type=int, choices=(6, 9, 14), default=14)
    ins.add_argument("--cache-dir", default=None)
    return ap


def _run(args) -> int:
    if args.cmd == "inspect":
        return _inspect(args)
    if args.what == "listops":
        from .listops import generate_listops

        paths = generate_listops(args.out, train=args.train, val=args.val, test=args.test,
                                 seed=args.seed, min_length=args.min_length,
                                 max_length=args.max_length, max_depth=args.max_depth,
                                 max_args=args.max_args, workers=args.workers)
        for split, p in paths.items():
            print(f"{split}: {p}")
        return 0
    from .pathfinder import generate_pathfinder

    print(generate_pathfinder(args.out, args.size, args.difficulty, args.num, seed=args.seed,
                              workers=args.workers, per_folder=args.per_folder))
    return 0


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"warning: {message}", file=sys.stderr)


def _terminate(signum, frame):
    raise KeyboardInterrupt(signum)


def main(argv=None) -> int:
    """Run the CLI; returns the exit status (0, 2 for a mistake, 128 + N when stopped by
    signal N: 130 for Ctrl-C, 143 for SIGTERM)."""
    shown, warnings.showwarning = warnings.showwarning, _show_warning
    main_thread = threading.current_thread() is threading.main_thread()
    term = signal.signal(signal.SIGTERM, _terminate) if main_thread else None
    try:
        return _run(_parser().parse_args(argv))
    except (_UsageError, LruxError, ValueError, OSError) as e:
        print("error: " + " ".join(str(e).split()), file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        signum = e.args[0] if e.args and isinstance(e.args[0], int) else signal.SIGINT
        print(f"error: stopped by {signal.Signals(signum).name} (a generation resumes when "
              "rerun with the same arguments)", file=sys.stderr)
        return 128 + signum
    finally:
        warnings.showwarning = shown
        if term is not None:
            signal.signal(signal.SIGTERM, term)


if __name__ == "__main__":
    sys.exit(main())
