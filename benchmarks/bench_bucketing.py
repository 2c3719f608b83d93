"""Examples per second of the training loop on full-length ListOps: each batch padded to the
task maximum (`pad_multiple=0`) against padded to its bucket (the default, 256).

    python benchmarks/bench_bucketing.py                    # paper preset + the scaled model
    python benchmarks/bench_bucketing.py --quick            # seconds: a tiny model, 4 steps
    python benchmarks/bench_bucketing.py --data-dir DIR     # an existing ListOps set

The batches are the training loop's own (`lrux.train.feed.ShardedIterator`, same seed, so
both settings see the same examples in the same order) and go through the same jitted,
donated train step. The two settings take turns in blocks of steps in one process, so a
change of the machine's load affects both alike. A step whose batch shape is new compiles;
those steps are timed separately (the compile count and times), and examples/s counts the
others, data loading included. Also: the mean padded length per batch size, from the
training split's lengths (what bucketing can save without reordering the examples).
Writes benchmarks/results/bucketing.json (or --out).
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from benchmarks.common import load_average, write_results  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
# the scaled model of the long ListOps run (docs/results.md, "The LRU on full-length ListOps")
SCALED = ["depth=4", "d_model=64", "d_state=64"]


def mean_padded_length(lengths: np.ndarray, batch: int, multiple: int, stored: int,
                       draws: int = 2000, seed: int = 0) -> float:
    """The mean bucket length of random batches of `batch` examples (no reordering)."""
    from lrux.data import bucket_length

    rng = np.random.default_rng(seed)
    longest = lengths[rng.integers(0, len(lengths), (draws, batch))].max(axis=1)
    return float(np.mean([bucket_length(n, stored, multiple) for n in longest]))


class Setting:
    """One pad_multiple: its iterator, state and step, and the times of its steps."""

    def __init__(self, preset, split, mesh, seed):
        from lrux.train.feed import ShardedIterator
        from lrux.train.state import init_train_state
        from lrux.train.steps import make_train_step

        self.preset = preset
        self.mesh = mesh
        setup = init_train_state(preset, split.spec, mesh, seed=seed)
        self.state = setup.state
        self.step = make_train_step(setup.tx, mesh)
        self.it = ShardedIterator(split, preset.batch_size, preset.data_shards, seed=seed,
                                  pad_multiple=preset.pad_multiple)
        self.seen: dict[int, float] = {}  # sequence length -> compile + first step seconds
        self.times: list[float] = []  # the other steps
        self.lengths: list[int] = []
        self.losses: list[float] = []

    def run(self, steps: int) -> None:
        from lrux.train.sharding import global_batch

        for _ in range(steps):
            t0 = time.perf_counter()
            batch = next(self.it)
            self.state, metrics = self.step(self.state, global_batch(batch, self.mesh))
            loss = float(metrics.loss)
            dt = time.perf_counter() - t0
            length = int(batch.inputs.shape[-1])
            self.lengths.append(length)
            self.losses.append(loss)
            if length in self.seen:
                self.times.append(dt)
            else:
                self.seen[length] = dt

    def summary(self) -> dict:
        t = np.asarray(self.times)
        bs = self.preset.batch_size
        return {
            "pad_multiple": self.preset.pad_multiple,
            "steps": len(self.lengths),
            "timed_steps": len(t),
            "median_step_s": float(np.median(t)) if len(t) else None,
            "examples_per_s": float(bs / np.mean(t)) if len(t) else None,
            "mean_length": float(np.mean(self.lengths)),
            "lengths": self.lengths,
            "compiles": len(self.seen),
            "compile_and_first_step_s": {str(k): round(v, 2) for k, v in self.seen.items()},
            "losses": self.losses,
        }


def compare(name: str, overrides: list[str], split, *, steps: int, block: int,
            seed: int) -> dict:
    """Padded and bucketed settings of one model, taking turns in blocks of `block` steps."""
    from lrux.presets import apply_overrides, get_preset
    from lrux.train.sharding import make_mesh

    mesh = make_mesh()
    base = apply_overrides(get_preset("listops", "lru", "paper"),
                           overrides + ["require_full_data=false"])
    settings = [Setting(apply_overrides(base, [f"pad_multiple={m}"]), split, mesh, seed)
                for m in (0, base.pad_multiple)]
    t0 = time.perf_counter()
    done = 0
    while done < steps:
        n = min(block, steps - done)
        for s in settings if (done // block) % 2 == 0 else settings[::-1]:
            s.run(n)
        done += n
    padded, bucketed = (s.summary() for s in settings)
    ratio = (bucketed["examples_per_s"] / padded["examples_per_s"]
             if padded["examples_per_s"] and bucketed["examples_per_s"] else None)
    p = settings[0].preset
    return {"model": name, "overrides": overrides, "depth": p.depth, "d_model": p.d_model,
            "d_state": p.d_state, "batch_size": p.batch_size, "padded": padded,
            "bucketed": bucketed, "bucketed_over_padded": ratio,
            "same_losses": bool(np.allclose(padded["losses"], bucketed["losses"],
                                            rtol=1e-4, atol=1e-5)),
            "wall_s": time.perf_counter() - t0}


def ensure_listops(data_dir: str, train: int) -> None:
    from lrux.data import data_present, generate_listops

    if not data_present("listops", data_dir):
        generate_listops(data_dir, train=train, val=64, test=64, seed=11, progress=False)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", help="a full-length ListOps set (default: generate 2,048 "
                   "training trees into a temporary folder)")
    p.add_argument("--steps", type=int, default=24, help="steps per setting (default 24)")
    p.add_argument("--block", type=int, default=4, help="steps per turn (default 4)")
    p.add_argument("--quick", action="store_true", help="a tiny model, 4 steps")
    p.add_argument("--out", default=os.path.join(HERE, "results", "bucketing.json"))
    args = p.parse_args(argv)
    load_at_start = load_average()
    from lrux.data import load_split

    with tempfile.TemporaryDirectory() as tmp:
        data_dir = args.data_dir or os.path.join(tmp, "data")
        ensure_listops(data_dir, 512 if args.quick else 2048)
        split = load_split("listops", "train", data_dir, progress=False)
        lengths = np.asarray(split.lengths)
        stored = int(split.inputs.shape[-1])
        models = ([("tiny", ["depth=1", "d_model=16", "d_state=16", "batch_size=8"])]
                  if args.quick else [("paper", []), ("scaled", SCALED)])
        steps = 4 if args.quick else args.steps
        rows = [compare(n, o, split, steps=steps, block=min(args.block, steps), seed=0)
                for n, o in models]
        for r in rows:
            print(f"{r['model']}: {r['padded']['examples_per_s']:.2f} examples/s padded, "
                  f"{r['bucketed']['examples_per_s']:.2f} bucketed (x"
                  f"{r['bucketed_over_padded']:.3f}); {r['bucketed']['compiles']} shapes "
                  f"compiled; mean length {r['bucketed']['mean_length']:.0f} of {stored}")
        sizes = {str(b): mean_padded_length(lengths, b, 256, stored) for b in (1, 4, 8, 16, 32,
                                                                                 64)}
        meta = {"command": "python benchmarks/bench_bucketing.py " + " ".join(argv or
                                                                            sys.argv[1:]),
                "train_examples": int(len(lengths)), "stored_length": stored,
                "length_quantiles": {str(q): float(np.percentile(lengths, q))
                                     for q in (5, 25, 50, 75, 95, 100)},
                "mean_padded_length_by_batch_size": sizes,
                "load_average_at_start": load_at_start}
        write_results(args.out, meta, rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
