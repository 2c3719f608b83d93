"""The training loop behind `python -m lrux.train` (and `examples/train_lra.py`).

    summary = lrux.train.run(get_preset("listops", "lru", "smoke"), data_dir="data",
                             out_dir="runs/listops", seed=0)

Writes `out_dir/config.json`, `out_dir/metrics.jsonl`, `out_dir/checkpoints/<step>` (the
newest and the best by validation accuracy) and `out_dir/summary.json`. The same code runs on
one CPU, on every GPU of a machine, and on many processes (call
`lrux.train.init_distributed` first): each process loads its own shard of every batch.

Order of work: every check that needs no data runs first (preset values, devices, the model
built abstractly, the run directory), then the data is generated / loaded and checked, then
training. SIGTERM / SIGINT finish the current step, save a checkpoint and raise `Interrupted`.
"""

import contextlib
import os
import sys
import time
from collections.abc import Sequence
from typing import Any

import jax
import numpy as np

from lrux import data as lra
from lrux.checks import SEED, problem
from lrux.errors import ConfigError, LruxError
from lrux.presets import Preset, validate
from lrux.train.checkpoint import Checkpointer, CheckpointError, gather_json
from lrux.train.feed import (
    MissingData,
    ShardedIterator,
    data_fingerprint,
    evaluate,
    load_splits,
)
from lrux.train.metrics import MetricsLog, MetricsWriter, write_json
from lrux.train.rundir import COMPARED, RunDir, check_resume_config
from lrux.train.sharding import fetch, global_batch, make_mesh
from lrux.train.signals import Interrupted, StopSignals, any_process, phase
from lrux.train.state import TrainState, check_model, init_train_state, num_params
from lrux.train.steps import make_eval_step, make_train_step

__all__ = ["Interrupted", "MissingData", "NonFiniteLoss", "run"]

SYNC_EVERY = 10  # steps between the processes' agreement on signals and timed checkpoints


class NonFiniteLoss(LruxError):
    """The training loss or a parameter became NaN or infinite; the run stopped."""


def _log(msg: str) -> None:
    if jax.process_index() == 0:
        print(msg, file=sys.stderr, flush=True)


def _test_kill(point: str, step: int) -> None:
    """Test hook: `LRUX_TEST_KILL=POINT:STEP` kills the process (no clean-up) there."""
    if os.environ.get("LRUX_TEST_KILL") == f"{point}:{step}":
        sys.stderr.flush()
        os._exit(17)


def _spec_for_checks(preset: Preset):
    load = preset.data.get("load", {})
    spec = lra.task_spec(preset.task, **{k: load[k] for k in ("max_length", "grayscale",
                                                               "tokenizer") if k in load})
    if spec.kind == "tokens" and spec.vocab_size is None:  # chars: known after loading
        spec = type(spec)(**{**vars(spec), "vocab_size": 256})
    return spec


def check_before_data(preset: Preset, mesh, seed: int = 0) -> None:
    """Everything that can be checked before any data is read or generated."""
    why = problem(seed, int, SEED)
    if why is not None:
        raise ConfigError(f"--seed {seed}: {why}")
    validate(preset)
    n_dev = mesh.devices.size
    eval_bs = preset.eval_batch_size or preset.batch_size
    for name, bs in (("batch_size", preset.batch_size), ("eval_batch_size", eval_bs)):
        if bs % n_dev:
            raise ConfigError(f"{name}={bs} must be divisible by the number of devices "
                              f"({n_dev}); pass --set {name}=N with N a multiple of {n_dev}")
    check_model(preset, _spec_for_checks(preset))


def _config(preset, seed, data_dir, splits, mesh, n_params, eval_every) -> dict[str, Any]:
    spec = splits["train"].spec
    return {
        "preset": preset.to_dict(),
        "seed": seed,
        "data_dir": os.path.abspath(data_dir),
        "data_fingerprint": data_fingerprint(splits),
        "task_spec": {k: getattr(spec, k) for k in vars(spec)},
        "split_sizes": {s: len(v) for s, v in splits.items()},
        "eval_every": eval_every,
        "num_params": int(n_params),
        "devices": int(mesh.devices.size),
        "processes": jax.process_count(),
        "platform": jax.devices()[0].platform,
        "jax_version": jax.__version__,
        "global_batch_size": preset.batch_size,
    }


class _Training:
    """One run's parts (steps, data stream, checkpoints, metrics), one phase per method."""

    def __init__(self, preset, splits, setup, mesh, run_dir, ckpt, *, seed, writers,
                 progress):
        self.preset, self.splits, self.mesh, self.run_dir, self.seed = (
            preset, splits, mesh, run_dir, seed)
        self.config: dict[str, Any] = {}  # set by run(): what config.json records
        self.primary = jax.process_index() == 0
        self.schedule = setup.schedule
        self.train_step = make_train_step(setup.tx, mesh)
        self.eval_step = make_eval_step(mesh)
        self.it = ShardedIterator(splits["train"], preset.batch_size, preset.data_shards,
                                  seed=seed, pad_multiple=preset.pad_multiple)
        self.ckpt = ckpt
        self.log = MetricsLog(run_dir.path, enabled=self.primary, writers=writers)
        self.eval_every = preset.eval_interval(len(splits["train"]))
        self.ckpt_steps, self.ckpt_minutes = preset.checkpoint_interval()
        self.eval_bs = preset.eval_batch_size or preset.batch_size
        self.show = self.primary and (sys.stderr.isatty() if progress is None else progress)
        self.last_save = time.monotonic()

    # --- starting -------------------------------------------------------------------------
    def restore(self, state: TrainState, resume: bool) -> tuple[TrainState, int]:
        """The state to start from: step 0, or the newest readable checkpoint on resume
        (metrics.jsonl is then cut back to that step, saying what it dropped). A checkpoint
        whose arrays do not fit this configuration stops the resume (nothing moved); one
        that cannot be read is moved to `unreadable-STEP` and the next one tried."""
        if not (resume and self.ckpt.steps()):
            self._start_fresh(resume)
            return state, 0
        for step in self.ckpt.steps():
            self.check_fits(state, step)
            try:
                items, meta = self.ckpt.restore(state.items(), step)
            except Exception as e:  # noqa: BLE001 - any unreadable checkpoint: try the next
                why = " ".join(f"{type(e).__name__}: {e}".split())
                moved = self.ckpt.set_aside(step, why)
                _log(f"--resume: the checkpoint of step {step} is unreadable ({why[:200]}); "
                     f"moved it to {moved} and trying the next one")
                continue
            self.it.set_state(meta["data_state"][jax.process_index()])
            for note in self.log.truncate_after(step, drop_tests=True):
                _log(note)
            _log(f"resumed from {self.ckpt.directory} at step {step}")
            return state.replace_items(items), step
        raise CheckpointError(f"--resume: no readable checkpoint in {self.ckpt.directory} "
                              "(each was moved to unreadable-STEP); start a new --out")

    def check_fits(self, state: TrainState, step: int) -> None:
        """ConfigError (nothing moved) when the arrays saved at `step` do not fit `state`'s
        (read from the checkpoint's metadata; a checkpoint without any is read in full)."""
        mismatch = self.ckpt.mismatch(state.items(), step, list(state.items()))
        if mismatch is not None:
            raise ConfigError(
                f"--resume: the checkpoint of step {step} in {self.ckpt.directory} does not "
                f"fit this configuration ({mismatch}): resume with the settings the run "
                "was started with, or choose another --out (nothing was moved)")

    def _start_fresh(self, resume: bool) -> None:
        """Step 0: refused on resume where the folder holds a run that cannot be continued;
        metrics.jsonl records of a run stopped before its first checkpoint are replaced."""
        if resume:
            held = self.run_dir.holds_a_run()
            if held:
                raise CheckpointError(
                    f"--resume: no readable checkpoint in {self.ckpt.directory}, but "
                    f"{self.run_dir.path} holds a run ({', '.join(held)}): it cannot be "
                    "continued, and a fresh run would replace its records; start a new --out")
            _log(f"--resume: no checkpoint in {self.ckpt.directory}: starting a fresh run")
        for note in self.log.truncate_after(0, drop_tests=True):
            _log(note)

    def finished_summary(self) -> dict[str, Any] | None:
        """The summary of a run that already ended (a resume with nothing left to do); a
        summary.json that cannot be read is rebuilt from the best checkpoint and the test
        record of metrics.jsonl (or, without that record, None: the test runs again)."""
        if self.ckpt.latest_step() != self.preset.steps:
            return None
        try:
            return self.run_dir.read_json(self.run_dir.summary)
        except ConfigError as e:
            damaged = str(e).split(" (", 1)[-1].split(")", 1)[0]
        best = self.ckpt.best_step()
        want = best if best is not None else self.preset.steps
        tests = [r for r in self.log.records() if r["split"] == "test" and r["step"] == want]
        _log(f"{self.run_dir.summary} is unreadable ({damaged}): rebuilding it from the best "
             f"checkpoint (step {want})" + (" and the test record of metrics.jsonl" if tests
                                            else " by evaluating the test split again"))
        if not tests:
            return None
        summary = self._summary(best, tests[-1])
        write_json(self.run_dir.summary, summary)
        return summary

    # --- training -------------------------------------------------------------------------
    def train(self, state: TrainState, start: int, stop: StopSignals, exit_at_step=None):
        from tqdm.auto import tqdm

        p = self.preset
        bar = tqdm(total=p.steps, initial=start, disable=not self.show, desc=p.task,
                   dynamic_ncols=True)
        pending: list = []
        window = [time.perf_counter(), 0]
        try:
            for step in range(start, p.steps):
                state, metrics = self.train_step(state, global_batch(next(self.it), self.mesh))
                done = step + 1
                pending.append((done, metrics))
                window[1] += 1
                bar.update(1)
                if exit_at_step is not None and done == exit_at_step:
                    bar.close()
                    sys.stderr.flush()
                    os._exit(17)
                self._after_step(state, done, pending, window, stop, bar)
        finally:
            bar.close()
        return state

    def _after_step(self, state, done, pending, window, stop, bar) -> None:
        p = self.preset
        is_last = done == p.steps
        sync = jax.process_count() == 1 or done % SYNC_EVERY == 0 or is_last
        stop_now, timed = any_process(stop.requested, self._timed_due()) if sync else (False, False)
        evaluate_now = done % self.eval_every == 0 or is_last
        log_now = done % p.log_every == 0 or evaluate_now or stop_now
        save_now = evaluate_now or stop_now or timed or (
            self.ckpt_steps is not None and done % self.ckpt_steps == 0)
        if not (log_now or save_now):
            return
        self._check_finite(pending)
        if log_now:
            self._write_train(pending, done, window, bar, partial=stop_now)
        if evaluate_now:
            self._evaluate_and_save(done, state)
        elif save_now:
            self._save(done, state)
        if stop_now:
            raise Interrupted(
                f"stopped by {stop.name or 'a signal'} at step {done}: saved a checkpoint in "
                f"{self.ckpt.directory}; continue with the same command and --resume",
                stop.signum,
            )

    def _timed_due(self) -> bool:
        return (self.ckpt_minutes is not None
                and time.monotonic() - self.last_save >= 60 * self.ckpt_minutes)

    def _check_finite(self, pending: list) -> None:
        for step, m in pending:
            loss, finite = float(fetch(m.loss)), bool(fetch(m.finite))
            if finite and np.isfinite(loss):
                continue
            what = "loss" if not np.isfinite(loss) else "parameters"
            msg = (f"non-finite training {what} at step {step} (loss {loss}); stopping. Last "
                   f"good checkpoint: step {self.ckpt.latest_step()} in {self.ckpt.directory}")
            _log(msg)
            raise NonFiniteLoss(msg)

    def _write_train(self, pending, done, window, bar, *, partial: bool) -> None:
        losses = np.array([float(fetch(m.loss)) for _, m in pending])
        accs = np.array([float(fetch(m.accuracy)) for _, m in pending])
        elapsed = time.perf_counter() - window[0]
        extra = {"interrupted": True} if partial else {}
        self.log.write(step=done, split="train", loss=float(losses.mean()),
                       accuracy=float(accs.mean()), lr=float(self.schedule(done - 1)),
                       steps_per_sec=window[1] / elapsed if elapsed > 0 else float("nan"),
                       **extra)
        bar.set_postfix(loss=f"{losses.mean():.4f}", acc=f"{accs.mean():.3f}")
        pending.clear()
        window[:] = [time.perf_counter(), 0]

    def _evaluate(self, state: TrainState, split: str) -> dict[str, Any]:
        return evaluate(state.model, state.bn_state, self.splits[split],
                        batch_size=self.eval_bs, mesh=self.mesh, eval_step=self.eval_step,
                        seed=self.seed, pad_multiple=self.preset.pad_multiple)

    def _evaluate_and_save(self, done: int, state: TrainState) -> None:
        val = self._evaluate(state, "val")
        self.log.write(step=done, split="val", loss=val["loss"], accuracy=val["accuracy"],
                       count=val["count"])
        _test_kill("before-save", done)
        self._save(done, state, val_accuracy=val["accuracy"])

    def _save(self, done: int, state: TrainState, val_accuracy: float | None = None) -> None:
        meta = {"data_state": gather_json(self.it.get_state()),
                "config": {k: self.config.get(k) for k in COMPARED}}
        self.ckpt.save(done, state.items(), meta, val_accuracy=val_accuracy)
        self.last_save = time.monotonic()
        _test_kill("after-save", done)

    # --- ending ---------------------------------------------------------------------------
    def test_at_best(self, state: TrainState) -> dict[str, Any]:
        """Evaluate the test split at the best checkpoint and write summary.json."""
        p = self.preset
        if self.ckpt.latest_step() != p.steps:
            self._save(p.steps, state)
        best = self.ckpt.best_step()
        if best is not None and best != p.steps:
            items, _ = self.ckpt.restore(state.items(), best, items=("model", "bn_state"))
            state = state.replace_items(items)
        test = self._evaluate(state, "test")
        record = dict(step=best if best is not None else p.steps, split="test",
                      loss=test["loss"], accuracy=test["accuracy"], count=test["count"])
        self.log.write(**record)
        summary = self._summary(best, record)
        if self.primary:
            write_json(self.run_dir.summary, summary)
        return summary

    def _summary(self, best: int | None, test: dict[str, Any]) -> dict[str, Any]:
        p = self.preset
        return {
            "task": p.task, "model": p.model, "preset": p.name, "steps": p.steps,
            "best_val_accuracy": self.ckpt.meta(best)["val_accuracy"] if best is not None
            else None, "best_step": best,
            "test_accuracy_at_best": test["accuracy"], "test_loss_at_best": test["loss"],
            "test_count": test["count"],
        }


def run(
    preset: Preset,
    *,
    data_dir: str,
    out_dir: str,
    seed: int = 0,
    resume: bool = False,
    allow_steps_change: bool = False,
    exit_at_step: int | None = None,
    progress: bool | None = None,
    writers: Sequence[MetricsWriter] = (),
) -> dict[str, Any]:
    """Train `preset` and return the summary (also written to `out_dir/summary.json`).

    `resume=True` continues from the newest readable checkpoint of `out_dir` exactly
    (parameters, batch-norm and optimiser state, RNG key, data-iterator position, metrics
    file), after checking that the configuration is the one the run was started with
    (`allow_steps_change=True` accepts a new step count): the preset and seed before any
    data is read, the data after. `writers` (a list or tuple) receive the run's config
    (`write_config`, if they have it) and every metrics record (`write(record)`, `close()`;
    e.g. `lrux.train.TensorBoardWriter`, `WandbWriter`). One process at a time per
    `out_dir` (`out_dir/lrux.lock`). `exit_at_step` kills the process right after that step
    (the test hook of a crash).
    Raises `NonFiniteLoss`, `Interrupted` (SIGTERM / SIGINT, after saving), `MissingData`,
    `ConfigError` / `DataError` for a user's mistake, `CheckpointError` when a save fails,
    `WriteError` when another file of the run cannot be written.
    """
    for name, folder in (("out_dir", out_dir), ("data_dir", data_dir)):
        if not str(folder).strip():
            raise ConfigError(f"--{name.replace('_', '-')} is empty (an unset variable in a "
                              "script?); give a folder")
    mesh = make_mesh()
    check_before_data(preset, mesh, seed)
    run_dir = RunDir(out_dir)
    primary = jax.process_index() == 0
    with run_dir.lock(say=_log) if primary else contextlib.nullcontext():
        run_dir.check_new_or_resume(resume)
        ckpt = Checkpointer(run_dir.checkpoints, log=run_dir.log)
        try:
            previous = _resume_check_before_data(run_dir, ckpt, preset, seed, resume,
                                                 allow_steps_change)
            with phase("while generating or loading the data", "no training was done: run "
                       "the same command again (an interrupted generation resumes)"):
                splits = load_splits(preset, data_dir)
            setup = init_train_state(preset, splits["train"].spec, mesh, seed=seed)
            t = _Training(preset, splits, setup, mesh, run_dir, ckpt, seed=seed,
                          writers=writers, progress=progress)
            return _run(t, setup, data_dir, previous, resume=resume,
                        allow_steps_change=allow_steps_change, exit_at_step=exit_at_step)
        finally:
            ckpt.close()


def _resume_check_before_data(run_dir, ckpt, preset, seed, resume, allow_steps_change):
    """The configuration a resumed run was started with (config.json, or the newest
    checkpoint's own record when config.json is missing), its preset and seed checked
    against this run's before any data is generated or read; None for a new run."""
    if not (resume and ckpt.steps()):
        return None
    previous, source = run_dir.read_json(run_dir.config), "config.json"
    if previous is None:
        with contextlib.suppress(Exception):  # an unreadable one: its arrays are checked
            previous = ckpt.meta(ckpt.steps()[0]).get("config")
        source = f"the record in checkpoint {ckpt.steps()[0]}"
        _log(f"--resume: {run_dir.config} is missing: checking the configuration against "
             + (source if previous else "the checkpoint's array shapes only"))
    if previous:
        check_resume_config(previous, {"preset": preset.to_dict(), "seed": seed},
                            allow_steps_change=allow_steps_change, keys=("preset", "seed"),
                            source=source)
        return previous, source
    return None


def _run(t: _Training, setup, data_dir, previous, *, resume, allow_steps_change,
         exit_at_step) -> dict[str, Any]:
    """The run after its data is loaded: check, restore, train, test."""
    preset, run_dir = t.preset, t.run_dir
    try:
        t.config = _config(preset, t.seed, data_dir, t.splits, t.mesh,
                           num_params(setup.state.model), t.eval_every)
        if previous is not None:
            check_resume_config(previous[0], t.config, allow_steps_change=allow_steps_change,
                                source=previous[1])
        elif resume and t.ckpt.steps():  # no record of the configuration: the arrays
            t.check_fits(setup.state, t.ckpt.steps()[0])
        done = t.finished_summary() if resume else None
        if done is not None:
            _log(f"--resume: the run in {run_dir.path} already finished at step "
                 f"{preset.steps} (test accuracy {done.get('test_accuracy_at_best')}); "
                 "nothing to do")
            return done
        state, start = t.restore(setup.state, resume)
        if t.primary:
            write_json(run_dir.config, t.config)
            t.log.write_config(t.config)
        with StopSignals() as stop:
            state = t.train(state, start, stop, exit_at_step=exit_at_step)
        with phase("while evaluating the test split at the best checkpoint", "the training "
                   f"is saved in {t.ckpt.directory}: run the same command with --resume to "
                   "finish"):
            return t.test_at_best(state)
    finally:
        t.log.close()
