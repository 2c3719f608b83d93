"""Train any mixer of the lrux zoo on any Long Range Arena task (paper sections 2-3).

    python examples/train_lra.py --task listops --model lru --preset smoke \
        --data-dir data --out runs/listops-smoke

The same command line as `python -m lrux.train` and `lrux-train` (see `lrux.train.cli`), kept
so that every documented `examples/train_lra.py` command keeps working.
"""

import sys

from lrux.train.cli import main, parse_args  # noqa: F401 - parse_args: older scripts import it

if __name__ == "__main__":
    sys.exit(main(prog="examples/train_lra.py"))
