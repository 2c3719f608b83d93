"""Whole-model train steps against their floor and the paper's formulation, in one process.

For each task's paper preset (LRU, Table 9 sizes) at a reduced batch, the jitted, donated
train step of `lrux.train` (`init_train_state` + `make_train_step`) on synthetic batches of
the task's shapes, in four variants of the same model:

- ``lru``: the preset as it is;
- ``matmul``: every mixer replaced by the LRU's two unavoidable products
  (x @ W_in^T (H -> 2N), then @ W_out^T (2N -> H)): the model's own floor;
- ``paper-code``: every LRU replaced by the paper's appendix formulation (bench_lru's
  `paper_code`: complex B matvec per step, associative scan over lambda repeated L times,
  complex C per step), same parameters;
- ``lru-scanned``: the ``lru`` model with its identical residual blocks stacked into one
  (arrays with a leading depth axis) and applied by `lax.scan`: does it compile faster at
  the same step time? (Here only; lrux.models is unchanged.)

Reported per variant: compile + first step (seconds, a fresh compilation cache), the median
step time of steps that take turns across the variants, the compiled step's memory (XLA's
memory analysis: arguments + outputs + temporaries), and the ratios lru / matmul (goal
<= 1.3x), paper-code / lru (goal >= 3x) and lru-scanned / lru. paper-code and lru-scanned
are the lru model computed differently: their first losses must equal lru's (checked). Writes
``benchmarks/results/model.json`` (``model_quick.json`` with ``--quick``).

    python benchmarks/bench_model.py                       # every task, batch 2
    python benchmarks/bench_model.py --tasks listops --batch 4 --steps 5
    python benchmarks/bench_model.py --quick               # smoke presets of two tasks
"""

import argparse
import contextlib
import dataclasses
import os
import sys
import tempfile
import time
from typing import Any, ClassVar, cast

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from bench_lru import paper_code
from common import load_average, peak_bytes, write_results
from jaxtyping import Array, Float, PRNGKeyArray

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from lrux import registry  # noqa: E402
from lrux.layers.base import AbstractRecurrentMixer  # noqa: E402
from lrux.layers.lru import LRU  # noqa: E402
from lrux.models import Classifier, SequenceEncoder  # noqa: E402
from lrux.presets import TASKS, apply_overrides, get_preset  # noqa: E402

VARIANTS = ("lru", "matmul", "paper-code", "lru-scanned")


class MatmulMixer(AbstractRecurrentMixer):
    """The LRU's unavoidable products and nothing else: (seq, H) -> (seq, H), x @ W_in^T
    (H -> 2N) then @ W_out^T (2N -> H). (Its bidirectional forms are the LRU's two-mixer
    ones, "concat" and "sum", which the LRU presets use.)"""

    w_in: Float[Array, "two_n d_model"]
    w_out: Float[Array, "d_model two_n"]
    d_model: int = eqx.field(static=True)
    d_state: int = eqx.field(static=True)
    recurrent_params: ClassVar[tuple[str, ...]] = ("w_in",)  # where the LRU has B

    def __init__(self, d_model: int, d_state: int, *, key: PRNGKeyArray):
        k_in, k_out = jax.random.split(key)
        self.w_in = jax.random.normal(k_in, (2 * d_state, d_model)) / d_model**0.5
        scale = (2 * d_state) ** -0.5
        self.w_out = jax.random.normal(k_out, (d_model, 2 * d_state)) * scale
        self.d_model, self.d_state = d_model, d_state

    def __call__(self, x, *, length=None, key=None):
        return (x @ self.w_in.T) @ self.w_out.T

    def init_state(self):
        return jnp.zeros((0,))

    def step(self, state, x_t):
        return state, self(x_t[None])[0]


class PaperLRU(LRU):
    """`lrux.LRU`'s parameters run through the paper's appendix formulation (a benchmark's
    swap of the call; its shared bidirectional forms run it twice, as the LRU's do)."""

    def __call__(self, x, *, length=None, key=None):
        return paper_code(self, x)


def baseline_entries() -> dict:
    """The two baseline mixers (their bidirectional forms follow from their types)."""
    return {
        "bench-matmul": registry.MixerEntry(MatmulMixer, {}, "the LRU's matmuls only",
                                            "baseline"),
        "bench-paper-lru": registry.MixerEntry(PaperLRU, {}, "the paper's appendix LRU",
                                               "ladder", ring=True),
    }


@contextlib.contextmanager
def baseline_mixers():
    """Register the two baseline mixers for the benchmark's duration (and only then)."""
    with contextlib.ExitStack() as stack:
        for name, entry in baseline_entries().items():
            stack.enter_context(registry.register_mixer(name, entry))
        yield


# --- The scanned encoder: identical blocks stacked, applied by lax.scan -------------------


def _state_indices(tree) -> list:
    is_index = lambda x: isinstance(x, eqx.nn.StateIndex)  # noqa: E731
    return [x for x in jax.tree.leaves(tree, is_leaf=is_index) if is_index(x)]


class ScannedEncoder(SequenceEncoder):
    """A `SequenceEncoder` whose blocks are one stacked block scanned over the depth; the
    batch-norm statistics of block i are gathered into the scan and written back."""

    stacked: eqx.Module
    indices: tuple

    def __init__(self, encoder: SequenceEncoder):
        self.embedding, self.encoder = encoder.embedding, encoder.encoder
        self.pooling, self.remat = encoder.pooling, encoder.remat
        self.final_norm = encoder.final_norm
        # leaf by leaf in block 0's structure (the blocks' state indices differ in name only)
        first, static = eqx.partition(encoder.blocks[0], eqx.is_array)
        leaves = [jax.tree.leaves(eqx.filter(b, eqx.is_array)) for b in encoder.blocks]
        stacked = [jnp.stack(column) for column in zip(*leaves, strict=True)]
        self.stacked = eqx.combine(jax.tree.structure(first).unflatten(stacked), static)
        self.indices = tuple(tuple(_state_indices(b)) for b in encoder.blocks)
        self.blocks = ()

    def __call__(self, x, length, state, *, key=None, inference=False):
        if self.embedding is not None:
            h = self.embedding[x]
        else:
            assert self.encoder is not None  # pixels: the linear encoder
            h = self.encoder(x.astype(jnp.float32))
        depth = len(self.indices)
        keys = jax.random.split(key, depth) if key is not None else None
        params, static = eqx.partition(self.stacked, eqx.is_array)
        first = self.indices[0]
        stack = lambda *v: jnp.stack(v)  # noqa: E731
        saved = [jax.tree.map(stack, *[state.get(ix[j]) for ix in self.indices])
                 for j in range(len(first))]

        def layer(h, xs):
            p, k, s = xs
            leaves, treedef = jax.tree.flatten(state)
            local = jax.tree.unflatten(treedef, leaves)  # a clone: State objects are single-use
            for index, value in zip(first, s, strict=True):
                local = local.set(index, value)
            h, local = eqx.combine(p, static)(h, local, key=k, inference=inference)
            return h, [local.get(index) for index in first]

        if self.remat:
            layer = jax.checkpoint(layer)
        h, new = jax.lax.scan(layer, h, (params, keys, saved), length=depth)
        for j in range(len(first)):
            for i, ix in enumerate(self.indices):
                state = state.set(ix[j], jax.tree.map(lambda v, i=i: v[i], new[j]))
        if self.final_norm is not None:
            h, state = self.final_norm(h, state, length=length, inference=inference)
        if self.pooling == "none":
            return h, state
        if self.pooling == "last":
            return h[jnp.clip(length - 1, 0, h.shape[0] - 1)], state
        mask = (jnp.arange(h.shape[0]) < length)[:, None]
        return jnp.sum(jnp.where(mask, h, 0.0), axis=0) / jnp.maximum(length, 1), state


# --- Building and timing the variants ------------------------------------------------------


def variant_preset(preset, variant: str):
    """The preset of one variant: the same model sizes, blocks and optimiser."""
    if variant == "matmul":
        return dataclasses.replace(preset, model="bench-matmul", mixer_options={})
    if variant == "paper-code":
        return dataclasses.replace(preset, model="bench-paper-lru")
    return preset


def setup_variant(preset, variant: str, spec, mesh):
    """(state, step) of one variant; lru-scanned rebuilds the optimiser for its stacked
    parameters (same groups: they follow the parameters' field names)."""
    from lrux.train import TrainState, init_train_state, make_train_step, replicate
    from lrux.train.state import preset_optimizer

    setup = init_train_state(variant_preset(preset, variant), spec, mesh, seed=0)
    state, tx = setup.state, setup.tx
    if variant == "lru-scanned":
        assert isinstance(state.model, Classifier)
        model = eqx.tree_at(lambda m: m.encoder, state.model, ScannedEncoder(state.model.encoder))
        tx, _ = preset_optimizer(model, preset)
        opt_state = tx.init(eqx.filter(model, eqx.is_inexact_array))
        state = replicate(TrainState(model=model, bn_state=state.bn_state, opt_state=opt_state,
                                     key=state.key), mesh)
    return state, make_train_step(tx, mesh)


def measure_task(preset, variants, steps: int) -> list[dict]:
    """Compile + first step, then `steps` steps of each variant taking turns."""
    from lrux.train.benchmark import preset_spec, synthetic_batch
    from lrux.train.sharding import global_batch, make_mesh

    spec = preset_spec(preset)
    mesh = make_mesh()
    host = synthetic_batch(spec, preset.batch_size, np.random.default_rng(0))
    batch = lambda: global_batch(host, mesh)  # noqa: E731  (the step donates its batch)
    runs, rows = {}, {}
    for variant in variants:
        t0 = time.perf_counter()
        state, step = setup_variant(preset, variant, spec, mesh)
        init_s = time.perf_counter() - t0
        device_batch = batch()
        t0 = time.perf_counter()
        state, metrics = step(state, device_batch)
        metrics.loss.block_until_ready()
        first = time.perf_counter() - t0
        # (equinox wraps the jax Compiled; a cache hit: no second compilation)
        mem = peak_bytes(cast(Any, step).lower(state, batch()).compile().compiled)
        runs[variant] = [step, state, []]
        rows[variant] = {"init_s": init_s, "compile_first_step_s": first,
                         "step_peak_mib": None if mem is None else mem / 2**20,
                         "first_loss": float(metrics.loss)}
        print(f"  {preset.task:10s} {variant:12s} compile + first step {first:7.1f} s", flush=True)
    for _ in range(steps):
        for run in runs.values():
            device_batch = batch()
            t0 = time.perf_counter()
            run[1], metrics = run[0](run[1], device_batch)
            metrics.loss.block_until_ready()
            run[2].append(time.perf_counter() - t0)
    out = []
    for variant, (_, _, times) in runs.items():
        step_ms = 1e3 * float(np.median(times))
        out.append({"task": preset.task, "variant": variant, "batch_size": preset.batch_size,
                    "seq_len": spec.seq_len, "depth": preset.depth, "d_model": preset.d_model,
                    "d_state": preset.d_state, "bidirectional": preset.bidirectional,
                    "step_ms": step_ms, "steps_timed": steps, **rows[variant]})
    return out


def add_ratios(rows: list[dict]) -> list[dict]:
    """Per task: lru / matmul, paper-code / lru, lru-scanned / lru (steps and compile)."""
    out = []
    for task in dict.fromkeys(r["task"] for r in rows):
        by = {r["variant"]: r for r in rows if r["task"] == task}
        lru = by["lru"]
        ratio = {"task": task}
        if "matmul" in by:
            ratio["lru_over_matmul_step"] = lru["step_ms"] / by["matmul"]["step_ms"]
        for same in ("paper-code", "lru-scanned"):  # the same model: the same first loss
            if same in by:
                diff = abs(by[same]["first_loss"] - lru["first_loss"])
                ratio[f"{same}_same_first_loss"] = diff <= 1e-4 * abs(lru["first_loss"])
        if "paper-code" in by:
            ratio["paper_over_lru_step"] = by["paper-code"]["step_ms"] / lru["step_ms"]
            ratio["paper_over_lru_compile"] = (by["paper-code"]["compile_first_step_s"]
                                               / lru["compile_first_step_s"])
        if "lru-scanned" in by:
            ratio["scanned_over_lru_step"] = by["lru-scanned"]["step_ms"] / lru["step_ms"]
            ratio["scanned_over_lru_compile"] = (by["lru-scanned"]["compile_first_step_s"]
                                                 / lru["compile_first_step_s"])
        out.append(ratio)
    return out


def print_table(rows, ratios):
    print(f"\n{'task':10s} {'variant':12s} {'step ms':>9s} {'compile+1st s':>14s} "
          f"{'peak MiB':>9s}")
    for r in rows:
        mem = r["step_peak_mib"]
        print(f"{r['task']:10s} {r['variant']:12s} {r['step_ms']:9.1f} "
              f"{r['compile_first_step_s']:14.1f} {mem if mem is not None else float('nan'):9.1f}")
    print("\nratios (goals: lru / matmul <= 1.3, paper-code / lru >= 3):")
    for r in ratios:
        print("  " + ", ".join(f"{k} {v:.2f}" if isinstance(v, float) else f"{k} {v}"
                               for k, v in r.items()))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    p.add_argument("--tasks", nargs="*", default=list(TASKS))
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=VARIANTS)
    p.add_argument("--batch", type=int, default=2, help="batch of every preset (reduced)")
    p.add_argument("--steps", type=int, default=3, help="timed steps per variant")
    p.add_argument("--quick", action="store_true", help="smoke presets of listops, pathfinder")
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    if "lru" not in args.variants:
        args.variants = ["lru", *args.variants]
    tasks = ["listops", "pathfinder"] if args.quick else args.tasks
    # A fresh persistent cache: compile times are cold, and the memory analysis's second
    # lowering of each step is a cache hit instead of a second compilation.
    jax.config.update("jax_compilation_cache_dir", tempfile.mkdtemp(prefix="lrux-bench-"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    load_start = load_average()
    print(f"backend {jax.default_backend()}, load average {load_start}", flush=True)
    out = args.out or f"benchmarks/results/model{'_quick' if args.quick else ''}.json"
    meta = {"batch": args.batch, "steps": args.steps, "quick": args.quick,
            "load_average_at_start": load_start}
    rows = []
    with baseline_mixers():
        for task in tasks:  # the JSON is rewritten after each task: a long run keeps its rows
            preset = get_preset(task, "lru", "smoke" if args.quick else "paper")
            preset = apply_overrides(preset, {"batch_size": args.batch})
            rows.extend(measure_task(preset, args.variants, args.steps))
            write_results(out, {**meta, "ratios": add_ratios(rows)}, rows)
    print_table(rows, add_ratios(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
