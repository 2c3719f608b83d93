"""The errors lrux raises for a user's mistake (not for a bug in lrux).

The command-line tools (`python -m lrux.train`, `examples/train_lra.py`, `python -m lrux.data`)
print an `LruxError` as one line `error: ...` and exit with status 2, without a traceback;
any other exception is a bug and keeps its traceback. `ConfigError` and `DataError` are also
`ValueError`s, and `WriteError` an `OSError`, so code that catches those keeps working.

Importing this module imports nothing else (data workers use it without jax).
"""


class LruxError(Exception):
    """A mistake in what the user gave lrux: configuration, flags, files or data."""


class ConfigError(LruxError, ValueError):
    """A bad preset field, `--set` override, flag or option value."""


class DataError(LruxError, ValueError):
    """Data that is missing, partial, foreign, or not in the expected format."""


class WriteError(LruxError, OSError):
    """A file lrux writes could not be written (a full disk, a quota, a read-only folder);
    the message names the file or folder and what was kept."""
