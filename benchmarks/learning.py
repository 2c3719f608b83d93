"""`python benchmarks/learning.py ...`: the learning suite's documented command.

The suite lives in the package `benchmarks/learning_suite/` (config, tasks, trainer,
experiments, medium tier, results, report, plots; flags in its `__main__`); this file only
makes the repository importable when run by path and calls it. `python -m
benchmarks.learning_suite ...` is the same command.
"""

import os
import sys

if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    from benchmarks.learning_suite.cli import cli

    sys.exit(cli())
