"""One training run of the suite: `init_train_state` + `make_train_step` on host batches.

Runs that differ only in the seed reuse the compiled steps through a `StepCache` (the
caller owns it and passes it in), so a sweep compiles each model once.
"""

import collections
import dataclasses
import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from .tasks import Dataset


class StepCache:
    """Jitted (train_step, eval_step) pairs by preset and task spec, the newest `size` kept,
    on a one-device mesh (`self.mesh`)."""

    def __init__(self, size: int = 4):
        import jax

        from lrux.train import make_mesh

        self.size = size
        self.mesh = make_mesh(jax.devices()[:1])
        self._steps: collections.OrderedDict = collections.OrderedDict()

    def steps(self, preset, spec, tx) -> tuple[Callable, Callable]:
        """The steps of (preset, spec), built with `tx` the first time. Runs of the same
        preset build equal optimisers (same groups, schedule), so any of them fits."""
        from lrux.train import make_eval_step, make_train_step

        key = (json.dumps(preset.to_dict(), sort_keys=True, default=str),
               json.dumps(dataclasses.asdict(spec), sort_keys=True))
        if key not in self._steps:
            while len(self._steps) >= self.size:
                self._steps.popitem(last=False)
            self._steps[key] = (make_train_step(tx, self.mesh), make_eval_step(self.mesh))
        self._steps.move_to_end(key)
        return self._steps[key]


class Trainer:
    """The model and optimiser state of `preset` for `spec` at `seed`, with its steps."""

    def __init__(self, preset, spec, seed: int, *, cache: StepCache):
        from lrux.train import init_train_state

        self.mesh = cache.mesh
        setup = init_train_state(preset, spec, self.mesh, seed=seed)
        self.state = setup.state
        self.train_step, self.eval_step = cache.steps(preset, spec, setup.tx)

    def step(self, batch: Any) -> tuple[float, float, bool]:
        """One training step: (loss, accuracy, finite)."""
        from lrux.train import global_batch

        self.state, m = self.train_step(self.state, global_batch(batch, self.mesh))
        return float(m.loss), float(m.accuracy), bool(m.finite)

    def evaluate(self, data: Dataset, batch_size: int) -> dict[str, float]:
        """Mean loss, accuracy and count over all of `data` (inference mode)."""
        from lrux.train import global_batch

        total = np.zeros(3)
        for lo in range(0, len(data), batch_size):
            b = data.batch(np.arange(lo, min(lo + batch_size, len(data))), batch_size)
            out = self.eval_step(self.state.model, self.state.bn_state,
                                 global_batch(b, self.mesh))
            total += [float(x) for x in out]
        loss, correct, count = total
        return {"loss": loss / max(count, 1.0), "acc": correct / max(count, 1.0),
                "n": int(count)}


def epochs_of(n: int, batch_size: int, rng: np.random.Generator) -> Iterator[np.ndarray]:
    """Row indices of batches over shuffled epochs of n rows (a new order each epoch)."""
    while True:
        order = rng.permutation(n)
        for lo in range(0, n - batch_size + 1, batch_size):
            yield order[lo:lo + batch_size]


@dataclasses.dataclass
class _Log:
    """What a run accumulates: losses, the logged curve, the validation curve, time."""

    losses: list = dataclasses.field(default_factory=list)
    curve: list = dataclasses.field(default_factory=list)
    val_curve: list = dataclasses.field(default_factory=list)
    train_s: float = 0.0
    finite: bool = True
    step: int = 0


def _val_point(tr: Trainer, val: Dataset, eval_batch: int, log: _Log, t0: float) -> None:
    ev = tr.evaluate(val, eval_batch)
    log.val_curve.append({"step": log.step, "train_s": log.train_s,
                          "wall_s": time.perf_counter() - t0, "val_acc": ev["acc"],
                          "val_loss": ev["loss"], "train_loss": log.losses[-1]})


def _train_loop(tr: Trainer, train: Dataset, log: _Log, steps: int, bs: int, seed: int, *,
                log_every: int, seconds: float | None, val_every: Callable[[int], bool],
                on_val: Callable[[], None]) -> None:
    """Fill `log` with `steps` steps (fewer on a non-finite step or past `seconds`)."""
    batches = epochs_of(len(train), bs, np.random.default_rng([seed, 7]))
    for step in range(1, steps + 1):
        log.step = step
        ts = time.perf_counter()
        loss, _, ok = tr.step(train.batch(next(batches), bs))
        log.train_s += time.perf_counter() - ts
        log.losses.append(loss)
        if not ok or not math.isfinite(loss):
            log.finite = False
            log.curve.append([step, loss])
            break
        if step % log_every == 0 or step == steps:
            log.curve.append([step, float(np.mean(log.losses[-log_every:]))])
        if val_every(step):
            on_val()
        if seconds is not None and log.train_s >= seconds:
            break


def model_fields(preset) -> dict[str, Any]:
    """The preset's model and optimiser fields a run records, with its ring (the uniform
    disk for mixers without one)."""
    opts = preset.mixer_options
    return {**{k: getattr(preset, k) for k in (
        "depth", "d_model", "d_state", "bidirectional", "pooling", "lr", "lr_factor",
        "weight_decay")}, "r_min": opts.get("r_min", 0.0), "r_max": opts.get("r_max", 1.0),
        "max_phase": opts.get("max_phase", 2 * math.pi)}


def train_run(preset, spec, train: Dataset, test: Dataset, *, seed: int, log_every: int,
              cache: StepCache, eval_batch: int | None = None, seconds: float | None = None,
              val: Dataset | None = None, eval_every: int = 0) -> dict[str, Any]:
    """Train `preset.steps` steps (or until `seconds` of step time) on shuffled batches of
    `train`; evaluate on `test` at the end (and on `val` at step 1, every `eval_every`
    steps and at the end).

    Returns the run record: loss curve, final train loss, held-out loss / accuracy, wall
    times (compile included; `train_s` excludes evaluation), and whether every loss and
    parameter stayed finite (a non-finite step ends the run)."""
    t0 = time.perf_counter()
    tr = Trainer(preset, spec, seed, cache=cache)
    bs, eval_batch = preset.batch_size, eval_batch or max(preset.batch_size, 64)
    use_val = val is not None and eval_every > 0
    log = _Log()

    def on_val() -> None:
        _val_point(tr, val, eval_batch, log, t0)

    _train_loop(tr, train, log, preset.steps, bs, seed, log_every=log_every, seconds=seconds,
                val_every=lambda s: use_val and (s == 1 or s % eval_every == 0), on_val=on_val)
    ev = tr.evaluate(test, eval_batch) if log.finite else {
        "loss": float("nan"), "acc": None, "n": len(test)}
    if use_val and log.finite and (not log.val_curve or log.val_curve[-1]["step"] != log.step):
        on_val()
    rec = {"seed": seed, "steps": preset.steps, "steps_done": log.step, "finite": log.finite,
           "batch_size": bs, "seq_len": train.seq_len, "model": model_fields(preset),
           "final_train_loss": float(np.mean(log.losses[-log_every:])) if log.losses else None,
           "test_loss": ev["loss"], "test_acc": ev["acc"], "test_n": ev["n"],
           "loss_curve": log.curve, "train_s": log.train_s,
           "wall_s": time.perf_counter() - t0}
    if use_val:
        rec["val_curve"] = log.val_curve
    return rec
