"""Mesh, shardings and multi-process setup for data-parallel training.

One mesh axis `"data"` over every device of every process; batches are sharded on it and
parameters replicated. The same code runs on 1 CPU, all GPUs of a machine, or many hosts.
"""

import contextlib
import os
import sys
import threading
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from lrux.checks import Range, parse, problem
from lrux.errors import ConfigError

COORDINATOR_TIMEOUT_S = 300.0  # jax's own default for initialization_timeout


def _env_number(name: str, kind: type, flag: str, rng: Range):
    text = os.environ.get(name)
    if not text:
        return None
    value = parse(text, kind)
    why = problem(value, kind, rng)
    if why is not None:
        raise ConfigError(f"${name}={text} (or {flag}): {why}")
    return value


def init_distributed(
    coordinator_address: str | None = None,
    num_processes: int | None = None,
    process_id: int | None = None,
    timeout_s: float | None = None,
) -> bool:
    """Call `jax.distributed.initialize` when flags or env vars ask for several processes.

    Flags win over the environment variables `LRUX_COORDINATOR_ADDRESS`,
    `LRUX_NUM_PROCESSES`, `LRUX_PROCESS_ID`, `LRUX_COORDINATOR_TIMEOUT`. Must run before
    anything touches a device. Returns True when it initialised. If the processes have not
    all met at the coordinator within `timeout_s` seconds (default 300), the process ends
    with one `error:` line and status 2 (jax itself would abort with a C++ stack trace).
    """
    coordinator_address = coordinator_address or os.environ.get("LRUX_COORDINATOR_ADDRESS")
    if num_processes is None:
        num_processes = _env_number("LRUX_NUM_PROCESSES", int, "--num-processes", Range(1))
    if process_id is None:
        process_id = _env_number("LRUX_PROCESS_ID", int, "--process-id", Range(0))
    if timeout_s is None:
        env = _env_number("LRUX_COORDINATOR_TIMEOUT", float, "--coordinator-timeout",
                          Range(0, lo_open=True))
        timeout_s = float(env) if env is not None else COORDINATOR_TIMEOUT_S
    if num_processes is not None and num_processes < 1:
        raise ConfigError(f"--num-processes={num_processes}: expected a positive count")
    if process_id is not None and num_processes is not None and not 0 <= process_id < num_processes:
        raise ConfigError(f"--process-id={process_id}: expected 0 <= id < --num-processes="
                          f"{num_processes}")
    if coordinator_address is None and num_processes is None and process_id is None:
        return False
    if coordinator_address is None or num_processes is None or process_id is None:
        raise ConfigError(
            "multi-process training needs all of --coordinator-address, --num-processes and "
            f"--process-id, got {coordinator_address!r}, {num_processes!r}, {process_id!r}"
        )
    with _watchdog(timeout_s, f"process {process_id} of {num_processes}: the processes did "
                   f"not all meet at the coordinator {coordinator_address} within "
                   f"{timeout_s:g} s (--coordinator-timeout): check the address and port, and "
                   "that every process was started"):
        jax.distributed.initialize(coordinator_address, num_processes, process_id,
                                   initialization_timeout=int(timeout_s) + 60)
    return True


@contextlib.contextmanager
def _watchdog(timeout_s: float, message: str):
    """End the process with `error: message` (status 2) if the block takes `timeout_s`."""
    done = threading.Event()

    def watch():
        if not done.wait(timeout_s):
            sys.stderr.write(f"error: {message}\n")
            sys.stderr.flush()
            os._exit(2)

    thread = threading.Thread(target=watch, name="lrux-coordinator-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()


def make_mesh(devices: list | None = None) -> Mesh:
    """A 1-D mesh named "data" over `devices` (default: every device of every process)."""
    axis_type = getattr(jax.sharding, "AxisType", None)
    kwargs = {"axis_types": (axis_type.Auto,)} if axis_type is not None else {}
    if devices is None:
        return jax.make_mesh((jax.device_count(),), ("data",), **kwargs)
    return Mesh(np.asarray(devices), ("data",), **kwargs)


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (batch) axis split over "data"."""
    return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
    """Every device holds the whole array."""
    return NamedSharding(mesh, P())


def replicate(tree, mesh: Mesh):
    """Put every array leaf of `tree` on all devices of `mesh` (multi-process safe)."""
    sharding = replicated(mesh)

    def put(x):
        if not isinstance(x, jax.Array | np.ndarray):
            return x
        x = np.asarray(jax.device_get(x)) if isinstance(x, jax.Array) else x
        return jax.make_array_from_process_local_data(sharding, x, x.shape)

    return jax.tree_util.tree_map(put, tree)


def global_batch(local: Any, mesh: Mesh) -> Any:
    """Assemble the global batch from each process's local rows (concatenated by process).

    `local` is any pytree of numpy arrays with the batch on axis 0 (a `lrux.data.Batch`).
    """
    sharding = batch_sharding(mesh)
    n_proc = jax.process_count()

    def put(x):
        x = np.asarray(x)
        shape = (x.shape[0] * n_proc, *x.shape[1:])
        return jax.make_array_from_process_local_data(sharding, x, shape)

    return jax.tree_util.tree_map(put, local)


def fetch(x: jax.Array) -> np.ndarray:
    """A fully replicated (possibly multi-process) array as numpy."""
    if isinstance(x, jax.Array) and not x.is_fully_addressable:
        return np.asarray(x.addressable_data(0))
    return np.asarray(x)
