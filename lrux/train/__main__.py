"""`python -m lrux.train ...`: the training command line (see `lrux.train.cli`)."""

import sys

from lrux.train.cli import main

if __name__ == "__main__":
    sys.exit(main())
