"""SIGTERM / SIGINT during training: finish the step, save, stop; a second signal exits at once.
Outside the training steps (data generation, setup, the final test evaluation) they stop the
run at once with one line (`Interrupted`) saying what was being done and how to go on.

Cluster schedulers send SIGTERM some time before they kill a job, and Ctrl-C sends SIGINT. The
loop asks `stop.requested` after every step; on multi-process runs the processes agree
(`any_process`) at a fixed cadence so that all of them save the same step.
"""

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator

import jax
import numpy as np

from lrux.errors import LruxError

_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}


class Interrupted(LruxError):
    """SIGTERM / SIGINT stopped the run (after saving, when it came during the training
    steps); the message says how to go on. `signum` is the signal's number."""

    def __init__(self, message: str, signum: int):
        super().__init__(message)
        self.signum = signum


class _Signal(BaseException):
    def __init__(self, signum: int, phase: list[str]):
        super().__init__(signum)
        self.signum, self.phase = signum, phase


# What the run is doing outside the training steps, and how to go on if a signal stops it.
_PHASE = ["before training started", "nothing was written: run the same command again"]


@contextlib.contextmanager
def phase(doing: str, then: str) -> Iterator[None]:
    """Name what the run does in this block ("while generating the data") and how to go on
    when a signal stops it there ("run the same command again")."""
    before = list(_PHASE)
    _PHASE[:] = [doing, then]
    try:
        yield
    finally:
        _PHASE[:] = before


def _raise(signum, frame):
    raise _Signal(signum, list(_PHASE))  # the phase now: the raise unwinds its block


@contextlib.contextmanager
def interrupts_as_errors() -> Iterator[None]:
    """While active (main thread only), SIGTERM and SIGINT raise `Interrupted` naming the
    phase (see `phase`) instead of a KeyboardInterrupt traceback or a silent kill; inside
    `StopSignals` (the training steps) its own handling applies."""
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, _raise) for sig in _NAMES}
    try:
        yield
    except (_Signal, KeyboardInterrupt) as e:
        signum = getattr(e, "signum", signal.SIGINT)
        doing, then = getattr(e, "phase", _PHASE)
        raise Interrupted(f"stopped by {_NAMES.get(signum, signum)} {doing}; {then}",
                          signum) from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


class StopSignals:
    """Context manager: while active, SIGTERM and SIGINT set `requested` (and `name`).

    A second signal exits the process at once with status 128 + the signal number. Outside
    the main thread (where Python cannot install handlers) it does nothing.
    """

    def __init__(self):
        self.requested = False
        self.name = ""
        self.signum = 0
        self._previous: dict = {}

    def _handle(self, signum, frame):
        if self.requested:
            print(f"\nsecond {_NAMES.get(signum, signum)}: exiting now without saving",
                  file=sys.stderr, flush=True)
            os._exit(128 + signum)
        self.requested, self.signum = True, signum
        self.name = _NAMES.get(signum, str(signum))
        print(f"\n{self.name}: finishing this step and saving a checkpoint (send it again to "
              "exit at once)", file=sys.stderr, flush=True)

    def __enter__(self) -> "StopSignals":
        if threading.current_thread() is threading.main_thread():
            for sig in _NAMES:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()


def any_process(*flags: bool) -> tuple[bool, ...]:
    """Each flag OR-ed over every process (a no-op on one process)."""
    if jax.process_count() == 1:
        return tuple(bool(f) for f in flags)
    from jax.experimental import multihost_utils

    everyone = multihost_utils.process_allgather(np.asarray(flags, np.int32))
    rows = np.asarray(everyone).reshape(-1, len(flags))  # (processes, flags)
    return tuple(bool(rows[:, i].any()) for i in range(len(flags)))
