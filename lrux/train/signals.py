"""SIGTERM / SIGINT during training: finish the step, save, stop; a second signal exits at once.

Cluster schedulers send SIGTERM some time before they kill a job, and Ctrl-C sends SIGINT. The
loop asks `stop.requested` after every step; on multi-process runs the processes agree
(`any_process`) at a fixed cadence so that all of them save the same step.
"""

import os
import signal
import sys
import threading

import jax
import numpy as np

_NAMES = {signal.SIGTERM: "SIGTERM", signal.SIGINT: "SIGINT"}


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
