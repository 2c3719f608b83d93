"""Helpers shared by the speed benchmarks: timing, compiled memory, run metadata."""

import json
import os
import platform
import time
from pathlib import Path

import jax


def timeit(fn, *args, repeats: int) -> float:
    """Median wall time in milliseconds of fn(*args) after one compile+warm-up call."""
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    times.sort()
    return 1e3 * times[len(times) // 2]


def time_interleaved(calls: dict, repeats: int) -> dict:
    """Median wall time in milliseconds of each of {name: (fn, args)}, after one warm-up call
    each, the calls taking turns in every repeat (the order rotated, and reversed every other
    repeat): on a loaded machine a change of load then affects every candidate alike, and no
    candidate always runs right after the same other one."""
    for fn, args in calls.values():
        jax.block_until_ready(fn(*args))
    times = {name: [] for name in calls}
    names = list(calls)
    for r in range(repeats):
        order = names[r % len(names):] + names[: r % len(names)]
        for name in order[::-1] if r % 2 else order:
            fn, args = calls[name]
            start = time.perf_counter()
            jax.block_until_ready(fn(*args))
            times[name].append(time.perf_counter() - start)
    return {name: 1e3 * sorted(t)[len(t) // 2] for name, t in times.items()}


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (as `uptime` prints them), None where unknown."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def peak_bytes(compiled) -> int | None:
    """Compiled memory need: arguments + outputs + temporaries (XLA's memory analysis)."""
    try:
        stats = compiled.memory_analysis()
    except Exception:  # backends without a memory analysis
        return None
    if stats is None:
        return None
    return int(stats.argument_size_in_bytes + stats.output_size_in_bytes + stats.temp_size_in_bytes)


def machine_meta() -> dict:
    """Where a benchmark ran: backend, devices, jax version, processor."""
    return {
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "jax": jax.__version__,
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "load_average_at_end": load_average(),
    }


def write_results(path: str, meta: dict, rows: list) -> None:
    """Write {"meta": machine + meta, "rows": rows} as JSON, creating the folder."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": {**machine_meta(), **meta}, "rows": rows}, indent=2))
    print(f"wrote {out}")
