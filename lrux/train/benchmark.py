"""Training-speed measurement on synthetic batches in a preset's shapes (no data, no grain).

`time_preset(preset)` builds the preset's model and optimiser, feeds random batches of the
task's shapes to the same jitted, donated, mesh-sharded train step as the loop, and returns
steps/s and tokens/s after compilation (and the device's peak memory where it reports one).
"""

import time
from typing import Any

import jax
import numpy as np

from lrux.presets import Preset

# Paper Table 4: training steps/s on one A100 at the Table 9 batch sizes (paper.md sec. 5).
PAPER_A100_STEPS_PER_SEC = {
    "lru": {"image": 15.9, "listops": 2.1, "text": 14.7, "retrieval": 5.7, "pathfinder": 15.5,
            "pathx": 2.4},
    "s4d": {"image": 13.5, "listops": 2.2, "text": 10.6, "retrieval": 3.0, "pathfinder": 24.5,
            "pathx": 2.6},
    "s5": {"image": 15.9, "listops": 2.2, "text": 14.4, "retrieval": 5.7, "pathfinder": 15.6,
           "pathx": 2.3},
    "rnn-tanh": {"image": 2.0, "listops": 1.1, "text": 0.5, "retrieval": 0.5,
                 "pathfinder": 2.1, "pathx": 0.14},
}


def preset_spec(preset: Preset):
    """The task spec in the preset's shapes (its `data.load.max_length` where given)."""
    from lrux.data.spec import task_spec

    load = preset.data.get("load", {})
    opts = {k: load[k] for k in ("max_length", "grayscale") if k in load}
    return task_spec(preset.task, **opts)


def synthetic_batch(spec, batch_size: int, rng: np.random.Generator):
    """Random full-length inputs, labels and all-valid rows in the task's shapes and dtypes."""
    from lrux.data import Batch

    L = spec.seq_len
    if spec.kind == "tokens":
        shape = (batch_size, 2, L) if spec.dual else (batch_size, L)
        inputs = rng.integers(1, spec.vocab_size, shape).astype(np.int32)
        lengths = np.full(shape[:-1], L, np.int32)
    else:
        inputs = rng.standard_normal((batch_size, L, spec.channels)).astype(np.float32)
        lengths = np.full((batch_size,), L, np.int32)
    return Batch(
        inputs=inputs,
        lengths=lengths,
        labels=rng.integers(0, spec.num_classes, (batch_size,)).astype(np.int32),
        valid=np.ones((batch_size,), bool),
    )


def peak_memory_bytes() -> int | None:
    """Peak bytes in use on the first local device, if the backend reports it."""
    try:
        stats = jax.local_devices()[0].memory_stats()
    except Exception:  # backends without memory stats
        return None
    if not stats:
        return None
    return int(stats.get("peak_bytes_in_use", stats.get("bytes_in_use", 0))) or None


def time_preset(
    preset: Preset, *, steps: int = 5, warmup: int = 1, seed: int = 0
) -> dict[str, Any]:
    """Steps/s and tokens/s of `preset`'s train step on random batches of its shapes."""
    if warmup < 1 or steps < 1:
        raise ValueError(f"time_preset: warmup={warmup}, steps={steps}: expected both >= 1")
    from lrux.train.sharding import global_batch, make_mesh
    from lrux.train.state import init_train_state
    from lrux.train.steps import make_train_step

    spec = preset_spec(preset)
    mesh = make_mesh()
    setup = init_train_state(preset, spec, mesh, seed=seed)
    step = make_train_step(setup.tx, mesh)
    rng = np.random.default_rng(seed)
    host = [synthetic_batch(spec, preset.batch_size, rng) for _ in range(2)]
    state = setup.state

    def one(i, state):
        state, metrics = step(state, global_batch(host[i % 2], mesh))
        return state, metrics.loss

    t0 = time.perf_counter()
    state, loss = one(0, state)
    for i in range(1, warmup):
        state, loss = one(i, state)
    loss.block_until_ready()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    for i in range(steps):
        state, loss = one(i, state)
    loss.block_until_ready()
    elapsed = time.perf_counter() - t0
    sps = steps / elapsed
    tokens = preset.batch_size * spec.seq_len * (2 if spec.dual else 1)
    return {
        "task": preset.task,
        "model": preset.model,
        "preset": preset.name,
        "batch_size": preset.batch_size,
        "seq_len": spec.seq_len,
        "depth": preset.depth,
        "d_model": preset.d_model,
        "d_state": preset.d_state,
        "bidirectional": preset.bidirectional,
        "steps_timed": steps,
        "first_steps_s": compile_s,
        "steps_per_sec": sps,
        "tokens_per_sec": sps * tokens,
        "final_loss": float(np.asarray(jax.device_get(loss))),
        "peak_memory_bytes": peak_memory_bytes(),
        "devices": mesh.devices.size,
        "platform": jax.devices()[0].platform,
        "paper_a100_steps_per_sec": PAPER_A100_STEPS_PER_SEC.get(preset.model, {}).get(
            preset.task
        ) if preset.name == "paper" else None,
    }
