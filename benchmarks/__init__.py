"""lrux's benchmarks (run as scripts, `python benchmarks/NAME.py`); `benchmarks.learning_suite`
is also importable as a package (`python -m benchmarks.learning_suite`)."""
