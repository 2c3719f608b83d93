"""`python -m benchmarks.learning_suite ...` (flags in `cli.py`)."""

import sys

from .cli import cli

sys.exit(cli())
