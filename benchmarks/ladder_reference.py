"""Notebook 05's reference run: every rung of the ladder on the majority vote, at four lengths,
and the PathX-style runs of gamma, the ring and the phase.

The task (`majority_vote`): a sequence of L tokens, each 1 or 2 with probability 1/2; the label
is 1 when token 2 is the strict majority, else 0 (chance 1/2). Every token counts equally,
so the recurrence must add up the whole sequence: a mode must keep |lambda|^L near 1 and turn
slowly, like PathX (paper.md section 4), where only the full LRU learns.

The ladder: every mixer of the registry's "ladder" family (`lrux.mixer_names("ladder")`), in
the same deep model (lrux's residual block, depth 1, width 32, 32 states, last-position
pooling), trained with lrux's own train step (AdamW, the recurrent parameters at lr x 0.5,
warmup and cosine decay), 200 steps of batch 16, tested on 512 held-out sequences. A rung
whose registry entry takes a ring (`MixerEntry.ring`) gets the task's ring, PathX's
[0.999, 0.9999] with max phase pi/10 (paper Table 9); the others start on the unit disk. A
rung below 60% at one length is not run at the longer ones (recorded as skipped, with the
reason): a model that cannot add up L votes cannot add up 4 L.

The PathX story, at the longest length: the LRU (gamma) and `diag-ring` (the same layer
without gamma) on PathX's ring with max phase pi/10 (two cells of the ladder), plus the LRU
with max phase 2 pi and the LRU on sCIFAR's ring [0.9, 0.999].

    python benchmarks/ladder_reference.py           # the reference (18 min on 2 cores at load 12)
    python benchmarks/ladder_reference.py --quick --out /tmp/ladder.json   # a smoke run

Writes notebooks/reference/05_the_ladder.json: the config, and per run the rung, length,
options, test accuracy, final training loss, the loss curve (mean of every 5 steps) and its
wall time. One seed: a rung near a threshold can land on either side in another run.
"""

import argparse
import datetime
import json
import math
import os
import sys
import time

import jax
import numpy as np

import lrux
import lrux.train
from lrux.data.spec import Split, TaskSpec
from lrux.presets import Preset
from lrux.registry import MIXERS, mixer_names

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(HERE, "..", "notebooks", "reference", "05_the_ladder.json")

CONFIG = {
    "task": "majority vote", "lengths": [32, 128, 512, 2048], "steps": 200, "batch": 16,
    "test": 512, "depth": 1, "d_model": 32, "d_state": 32, "lr": 3e-3, "lr_factor": 0.5,
    "weight_decay": 0.05, "seed": 0, "curve_every": 5,
    "skip_below": 0.6,  # a rung below this at one length is not run at the longer ones
    "ring": {"r_min": 0.999, "r_max": 0.9999, "max_phase": math.pi / 10},  # PathX's
}
QUICK = {**CONFIG, "lengths": [16, 32], "steps": 6, "batch": 4, "test": 16}
STORY = {  # label -> (rung, options); at the longest length
    "no gamma, ring [0.999, 0.9999], max phase pi/10": ("diag-ring", CONFIG["ring"]),
    "gamma, ring [0.999, 0.9999], max phase 2 pi": (
        "lru", {**CONFIG["ring"], "max_phase": 2 * math.pi}),
    "gamma, ring [0.999, 0.9999], max phase pi/10 (the LRU on PathX)": ("lru", CONFIG["ring"]),
    "gamma, ring [0.9, 0.999], max phase 2 pi": (
        "lru", {"r_min": 0.9, "r_max": 0.999, "max_phase": 2 * math.pi}),
}


def majority_vote(n: int, length: int, seed: int, split: str = "train") -> Split:
    """n sequences of `length` tokens in {1, 2}; label 1 iff token 2 is the strict majority."""
    rng = np.random.default_rng([seed, length])
    tokens = rng.integers(1, 3, (n, length)).astype(np.int32)
    labels = (2 * (tokens == 2).sum(axis=1) > length).astype(np.int32)
    spec = TaskSpec("majority_vote", 2, length, "tokens", vocab_size=3)
    return Split(task="majority_vote", split=split, spec=spec, inputs=tokens,
                 lengths=np.full(n, length, np.int32), labels=labels,
                 source="benchmarks/ladder_reference.py")


def ring_options(name: str, ring: dict) -> dict:
    """The task's ring as the options the rung takes (registry: `ring_kwargs`; max_phase only
    where the layer has phases), {} for a rung without a ring (the unit disk)."""
    return MIXERS[name].ring_kwargs(ring["r_min"], ring["r_max"],
                                    ring.get("max_phase", 2 * math.pi))


def train_rung(name: str, options: dict, length: int, cfg: dict) -> dict:
    """Train one rung with lrux's train step; test accuracy, losses, wall time."""
    start = time.perf_counter()
    train = majority_vote(cfg["steps"] * cfg["batch"], length, seed=cfg["seed"])
    test = majority_vote(cfg["test"], length, seed=cfg["seed"] + 1, split="test")
    mesh = lrux.train.make_mesh(jax.devices()[:1])
    preset = Preset(task="majority_vote", model=name, name="ladder-reference",
                    depth=cfg["depth"], d_model=cfg["d_model"], d_state=cfg["d_state"],
                    pooling="last", batch_size=cfg["batch"], steps=cfg["steps"], lr=cfg["lr"],
                    lr_factor=cfg["lr_factor"], weight_decay=cfg["weight_decay"],
                    mixer_options=options)
    setup = lrux.train.init_train_state(preset, test.spec, mesh, seed=cfg["seed"])
    step = lrux.train.make_train_step(setup.tx, mesh)
    batches = lrux.train.ShardedIterator(train, cfg["batch"], 1, seed=cfg["seed"])
    state, losses = setup.state, []
    for _ in range(cfg["steps"]):
        state, metrics = step(state, lrux.train.global_batch(next(batches), mesh))
        losses.append(float(metrics.loss))
    result = lrux.train.evaluate(state.model, state.bn_state, test, batch_size=cfg["test"],
                                 mesh=mesh, eval_step=lrux.train.make_eval_step(mesh), seed=0)
    every = cfg["curve_every"]
    curve = [float(np.mean(losses[i:i + every])) for i in range(0, len(losses), every)]
    finite = bool(np.all(np.isfinite(losses)))
    return {"rung": name, "length": length, "options": options,
            "accuracy": float(result["accuracy"]) if finite else None,
            "final_loss": float(np.mean(losses[-20:])), "finite": finite,
            "curve": [c if math.isfinite(c) else None for c in curve],
            "wall_s": time.perf_counter() - start}


def failed(run: dict, cfg: dict) -> bool:
    """A run skipped, or below `skip_below`: not run again at a longer length."""
    return bool(run.get("skipped")) or (run["accuracy"] or 0.0) < cfg["skip_below"]


def skipped(before: dict, length: int, cfg: dict) -> dict:
    """The record of a rung not run at `length` because it failed at a shorter one."""
    if before.get("skipped"):
        return {**before, "length": length}
    return {"rung": before["rung"], "length": length, "skipped": True,
            "reason": f"below {cfg['skip_below']:.0%} at L = {before['length']} (accuracy "
                      f"{before['accuracy']}); a longer vote is not easier"}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (a smoke run)")
    parser.add_argument("--out", default=REFERENCE)
    args = parser.parse_args(argv)
    if args.quick and os.path.abspath(args.out) == os.path.abspath(REFERENCE):
        print("error: --quick would overwrite the reference; pass --out PATH", file=sys.stderr)
        return 2
    cfg = QUICK if args.quick else CONFIG
    start, load = time.perf_counter(), os.getloadavg()
    rungs, runs = mixer_names("ladder"), []
    for i, length in enumerate(cfg["lengths"]):
        for name in rungs:
            before = [r for r in runs if i and r["rung"] == name
                      and r["length"] == cfg["lengths"][i - 1]]
            runs.append(skipped(before[0], length, cfg) if before and failed(before[0], cfg)
                        else train_rung(name, ring_options(name, cfg["ring"]), length, cfg))
            r = runs[-1]
            print(f"L = {length:5d} {name:16s} accuracy {r.get('accuracy')}  "
                  + ("skipped" if r.get("skipped") else
                     f"final loss {r['final_loss']:.3f}  ({r['wall_s']:.0f} s)"), flush=True)
    story = {}
    longest = cfg["lengths"][-1]
    for label, (name, options) in STORY.items():
        same = [r for r in runs if r["rung"] == name and r["length"] == longest
                and r.get("options") == options]
        story[label] = same[0] if same else train_rung(name, dict(options), longest, cfg)
        print(f"story: {label}: accuracy {story[label]['accuracy']}", flush=True)
    out = {
        "config": cfg, "rungs": rungs, "runs": runs, "story": story,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - start, "load_at_start": list(load),
        "load_at_end": list(os.getloadavg()), "jax": jax.__version__,
        "command": "python benchmarks/ladder_reference.py" + (" --quick" if args.quick else ""),
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({out['wall_s']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
