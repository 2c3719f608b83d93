"""The training loop behind `examples/train_lra.py`: data, model, jitted steps, checkpoints.

    summary = lrux.train.run(get_preset("listops", "lru", "smoke"), data_dir="data",
                             out_dir="runs/listops", seed=0)

Writes `out_dir/config.json`, `out_dir/metrics.jsonl`, `out_dir/checkpoints/{last,best}` and
`out_dir/summary.json`. The same code runs on one CPU, on every GPU of a machine, and on many
processes (call `lrux.train.init_distributed` first): each process loads its own shard of
every batch and the global batch is assembled with `jax.make_array_from_process_local_data`.
"""

import inspect
import math
import os
import sys
import time
from typing import Any

import equinox as eqx
import jax
import numpy as np

from lrux.models import make_model
from lrux.presets import Preset, validate
from lrux.train.checkpoint import Checkpointer, decode_state, encode_state, gather_json
from lrux.train.metrics import MetricsLog, write_json
from lrux.train.optim import make_optimizer
from lrux.train.sharding import fetch, global_batch, make_mesh, replicate
from lrux.train.steps import make_eval_step, make_train_step

GENERATED_TASKS = ("listops", "pathfinder", "pathx")


class NonFiniteLoss(RuntimeError):
    """The training loss became NaN or infinite; the run stopped."""


class MissingData(RuntimeError):
    """A task's data is not in --data-dir and cannot be generated (text, retrieval, image)."""


def _log(msg: str) -> None:
    if jax.process_index() == 0:
        print(msg, file=sys.stderr, flush=True)


def mixer_options(preset: Preset) -> dict[str, Any]:
    """Options for `make_mixer`: the ring fields (r_min, r_max, max_phase) for mixers that
    take all three (the LRU family, except the disk-init rungs), then
    `preset.mixer_options` (which must all be accepted: a ValueError names the bad one)."""
    from lrux.registry import MIXERS, mixer_class

    cls = mixer_class(preset.model)
    params = inspect.signature(cls.__init__).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    accepted = set(params) | set(MIXERS[preset.model].options)
    ring = preset.ring_options
    # The disk rungs of the ladder are the uniform disk by definition: no ring to set.
    disk = {**MIXERS[preset.model].options, **preset.mixer_options}.get("init") == "disk"
    opts = dict(ring) if (takes_any or set(ring) <= accepted) and not disk else {}
    for name, value in preset.mixer_options.items():
        if not takes_any and name not in accepted:
            raise ValueError(
                f"mixer option {name!r} is not accepted by {cls.__name__} (--model "
                f"{preset.model}); it takes: {', '.join(sorted(accepted - {'self'}))}"
            )
        opts[name] = value
    return opts


def build_model(preset: Preset, spec: Any, *, key) -> tuple[eqx.Module, eqx.nn.State]:
    """The model of `preset` for a task spec (num_classes, vocab_size / channels, dual).

    Mixers with an `l_max` option (S4) get the task's sequence length unless set."""
    from lrux.registry import mixer_class

    opts = mixer_options(preset)
    if "l_max" in inspect.signature(mixer_class(preset.model).__init__).parameters:
        opts.setdefault("l_max", spec.seq_len)
    return make_model(
        mixer=preset.model,
        depth=preset.depth,
        d_model=preset.d_model,
        d_state=preset.d_state,
        num_classes=spec.num_classes,
        vocab_size=spec.vocab_size if spec.kind == "tokens" else None,
        channels=spec.channels if spec.kind == "pixels" else None,
        dual=bool(spec.dual),
        pooling=preset.pooling,
        norm=preset.norm,
        prenorm=preset.prenorm,
        glu=preset.glu,
        dropout=preset.dropout,
        bn_momentum=preset.bn_momentum,
        bidirectional=preset.bidirectional,
        combine=preset.combine,
        mixer_options=opts,
        remat=preset.remat,
        key=key,
    )


def prepare_data(preset: Preset, data_dir: str) -> None:
    """Generate ListOps / Pathfinder / PathX into `data_dir` when missing (saying so);
    raise `MissingData` with the loaders' message for text / retrieval / image."""
    from lrux import data as lra

    task = preset.task
    load = dict(preset.data.get("load", {}))
    if lra.data_present(task, data_dir, **load):
        return
    if task not in GENERATED_TASKS:
        raise MissingData(lra.missing_data_message(task, data_dir))
    if jax.process_index() == 0:
        gen = dict(preset.data.get("generate", {}))
        _log(f"no {task} data in {data_dir}: generating it there ({gen or 'full size'}) ...")
        if task == "listops":
            lra.generate_listops(data_dir, **gen)
        else:
            lra.generate_pathfinder(data_dir, **gen)
        _log(f"generated {task} data in {data_dir}")
    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices("lrux-generate-data")


def _host_batch(batch) -> dict[str, np.ndarray]:  # a lrux.data.Batch (or an old dict)
    out = {}
    for name in ("inputs", "lengths", "labels", "valid"):
        x = np.asarray(batch[name])
        if name == "inputs" and np.issubdtype(x.dtype, np.integer):
            x = x.astype(np.int32)
        elif name == "inputs":
            x = x.astype(np.float32)
        elif name in ("lengths", "labels"):
            x = x.astype(np.int32)
        out[name] = x
    return out


class ShardedIterator:
    """This process's part of the training stream: `data_shards` grain loaders in all (0 =
    one per process), of which this process reads its contiguous `data_shards / n_proc`,
    each `batch_size / data_shards` rows per step, concatenated in shard order.

    The global batch is therefore the same for any process count that divides
    `data_shards`: a run on 2 processes sees exactly the batches of a run on 1 process with
    `data_shards=2`. The state is the list of the loaders' states.
    """

    def __init__(self, split, batch_size: int, data_shards: int, *, seed: int):
        from lrux import data as lra

        n_proc, pid = jax.process_count(), jax.process_index()
        shards = data_shards or n_proc
        if shards % n_proc or batch_size % shards:
            raise ValueError(
                f"data_shards={shards} must be a multiple of the process count ({n_proc}) "
                f"and divide batch_size={batch_size}"
            )
        per = shards // n_proc
        self.iterators = [
            iter(lra.make_loader(
                split, batch_size=batch_size // shards, seed=seed, shuffle=True,
                num_epochs=None, shard_index=pid * per + i, shard_count=shards,
                drop_remainder=True, pad_to=None,
            ))
            for i in range(per)
        ]

    def __next__(self) -> dict[str, np.ndarray]:
        parts = [_host_batch(next(it)) for it in self.iterators]
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}

    def get_state(self) -> list:
        return [encode_state(it.get_state()) for it in self.iterators]

    def set_state(self, states: list) -> None:
        if len(states) != len(self.iterators):
            raise ValueError(
                f"checkpoint holds {len(states)} data-iterator states for this process, "
                f"expected {len(self.iterators)} (data_shards / processes changed?)"
            )
        for it, st in zip(self.iterators, states, strict=True):
            it.set_state(decode_state(st))


def evaluate(model, state, split, *, batch_size: int, mesh, eval_step, seed: int) -> dict:
    """Loss and accuracy over the WHOLE split (padding rows masked by `valid`).

    Each process reads its shard; processes whose shard has fewer batches feed all-invalid
    batches so that every process runs the same number of steps.
    """
    from lrux import data as lra

    n_proc, pid = jax.process_count(), jax.process_index()
    local_bs = batch_size // n_proc
    per_proc = math.ceil(len(split) / n_proc)
    n_batches = max(1, math.ceil(per_proc / local_bs))
    loader = lra.make_loader(
        split, batch_size=local_bs, seed=seed, shuffle=False, num_epochs=1,
        shard_index=pid, shard_count=n_proc, drop_remainder=False, pad_to=None,
    )
    it = iter(loader)
    template = None
    totals = np.zeros(3)
    for _ in range(n_batches):
        try:
            batch = _host_batch(next(it))
            template = batch
        except StopIteration:
            if template is None:
                template = _host_batch(_first(split, local_bs, seed))
            batch = dict(template, valid=np.zeros_like(template["valid"]))
        out = eval_step(model, state, global_batch(batch, mesh))
        totals += np.array([float(fetch(x)) for x in out])
    loss_sum, correct, count = totals
    return {
        "loss": float(loss_sum / max(count, 1.0)),
        "accuracy": float(correct / max(count, 1.0)),
        "count": int(count),
    }


def _first(split, batch_size, seed):
    from lrux import data as lra

    return next(iter(lra.make_loader(
        split, batch_size=batch_size, seed=seed, shuffle=False, num_epochs=1,
        shard_index=0, shard_count=1, drop_remainder=False, pad_to=None,
    )))


def run(
    preset: Preset,
    *,
    data_dir: str,
    out_dir: str,
    seed: int = 0,
    resume: bool = False,
    exit_at_step: int | None = None,
    progress: bool | None = None,
) -> dict[str, Any]:
    """Train `preset` and return the summary (also written to `out_dir/summary.json`).

    `resume=True` continues from `out_dir/checkpoints/last` exactly (parameters, batch-norm
    and optimiser state, RNG key, data-iterator position, metrics file). `exit_at_step`
    kills the process (os._exit(17), no clean-up) right after that step: the test hook
    that simulates a crash. Raises `NonFiniteLoss` when the loss is NaN or infinite
    (checkpoints keep the last good state) and `MissingData` when data is absent.
    """
    from lrux import data as lra

    validate(preset)
    primary = jax.process_index() == 0
    n_proc = jax.process_count()
    os.makedirs(out_dir, exist_ok=True)
    ckpt_dir = os.path.join(out_dir, "checkpoints")
    if not resume and os.path.isdir(ckpt_dir) and os.listdir(ckpt_dir):
        raise ValueError(
            f"--out {out_dir} already holds checkpoints: pass --resume to continue that run "
            "or choose another --out"
        )

    # --- data ------------------------------------------------------------------------
    prepare_data(preset, data_dir)
    load = dict(preset.data.get("load", {}))
    splits = {s: lra.load_split(preset.task, s, data_dir, **load) for s in ("train", "val",
                                                                            "test")}
    spec = splits["train"].spec
    mesh = make_mesh()
    n_dev = mesh.devices.size
    eval_bs = preset.eval_batch_size or preset.batch_size
    for name, bs in (("batch_size", preset.batch_size), ("eval_batch_size", eval_bs)):
        if bs % n_dev:
            raise ValueError(
                f"{name}={bs} must be divisible by the number of devices ({n_dev})"
            )

    # --- model and optimiser -----------------------------------------------------------
    key = jax.random.PRNGKey(seed)
    model_key, train_key = jax.random.split(key)
    model, bn_state = build_model(preset, spec, key=model_key)
    tx, schedule = make_optimizer(
        model, lr=preset.lr, lr_factor=preset.lr_factor, weight_decay=preset.weight_decay,
        steps=preset.steps, warmup_frac=preset.warmup_frac, min_lr=preset.min_lr,
        grad_clip=preset.grad_clip, decay_norm_bias=preset.decay_norm_bias,
    )
    opt_state = tx.init(eqx.filter(model, eqx.is_inexact_array))
    params, static = eqx.partition(model, eqx.is_array)
    arrays = replicate((params, bn_state, opt_state, train_key), mesh)
    n_params = sum(x.size for x in jax.tree_util.tree_leaves(params))

    train_it = ShardedIterator(splits["train"], preset.batch_size, preset.data_shards,
                               seed=seed)

    ckpt = Checkpointer(ckpt_dir)
    log = MetricsLog(out_dir, enabled=primary)
    start, best_val, best_step = 0, -1.0, None
    if resume and ckpt.latest_step() is not None:
        arrays, meta = ckpt.restore(arrays)
        start = int(meta["step"])
        best_val = float(meta.get("best_val_accuracy", -1.0))
        best_step = meta.get("best_step")
        train_it.set_state(meta["data_state"][jax.process_index()])
        log.truncate_after(start)
        _log(f"resumed from {ckpt_dir} at step {start}")
    elif primary and os.path.exists(log.path):
        os.remove(log.path)

    config = {
        "preset": preset.to_dict(),
        "seed": seed,
        "data_dir": os.path.abspath(data_dir),
        "task_spec": {k: getattr(spec, k) for k in vars(spec)},
        "split_sizes": {s: len(v) for s, v in splits.items()},
        "mixer_options": mixer_options(preset),
        "num_params": int(n_params),
        "devices": n_dev,
        "processes": n_proc,
        "platform": jax.devices()[0].platform,
        "jax_version": jax.__version__,
        "global_batch_size": preset.batch_size,
    }
    if primary:
        write_json(os.path.join(out_dir, "config.json"), config)

    train_step = make_train_step(tx, mesh)
    eval_step = make_eval_step(mesh)

    def eval_split(name, arr):
        p, s = arr[0], arr[1]
        return evaluate(eqx.combine(p, static), s, splits[name], batch_size=eval_bs,
                        mesh=mesh, eval_step=eval_step, seed=seed)

    def save(step, arr, *, best):
        meta = {
            "data_state": gather_json(train_it.get_state()),
            "best_val_accuracy": best_val,
            "best_step": best_step,
        }
        ckpt.save(step, arr, meta, best=best)

    from tqdm.auto import tqdm

    show = primary and (sys.stderr.isatty() if progress is None else progress)
    bar = tqdm(total=preset.steps, initial=start, disable=not show, desc=preset.task,
               dynamic_ncols=True)
    pending: list[tuple[int, Any, Any, Any]] = []
    window_start = time.perf_counter()
    window_steps = 0
    last_saved = start if resume else -1
    for step in range(start, preset.steps):
        batch = global_batch(next(train_it), mesh)
        p, s, o, k = arrays
        model = eqx.combine(p, static)
        model, s, o, k, loss, acc, finite = train_step(model, s, o, k, batch)
        arrays = (eqx.filter(model, eqx.is_array), s, o, k)
        done = step + 1
        pending.append((done, loss, acc, finite))
        window_steps += 1
        bar.update(1)
        if exit_at_step is not None and done == exit_at_step:
            bar.close()
            sys.stderr.flush()
            os._exit(17)
        is_last = done == preset.steps
        if done % preset.log_every == 0 or done % preset.eval_every == 0 or is_last:
            losses = np.array([float(fetch(x[1])) for x in pending])
            accs = np.array([float(fetch(x[2])) for x in pending])
            ok = np.array([bool(fetch(x[3])) for x in pending])
            bad = np.flatnonzero(~(ok & np.isfinite(losses)))
            if bad.size:
                bad_step = pending[bad[0]][0]
                bar.close()
                what = "loss" if not np.isfinite(losses[bad[0]]) else "parameters"
                msg = (
                    f"non-finite training {what} at step {bad_step} (loss {losses[bad[0]]}); "
                    f"stopping. Last good checkpoint: step {ckpt.latest_step()} in {ckpt_dir}"
                )
                _log(msg)
                ckpt.close()
                raise NonFiniteLoss(msg)
            elapsed = time.perf_counter() - window_start
            rate = window_steps / elapsed if elapsed > 0 else float("nan")
            log.write(step=done, split="train", loss=float(losses.mean()),
                      accuracy=float(accs.mean()), lr=float(schedule(done - 1)),
                      steps_per_sec=rate)
            bar.set_postfix(loss=f"{losses.mean():.4f}", acc=f"{accs.mean():.3f}")
            pending.clear()
            if done % preset.eval_every == 0 or is_last:
                val = eval_split("val", arrays)
                log.write(step=done, split="val", loss=val["loss"],
                          accuracy=val["accuracy"], count=val["count"])
                improved = bool(val["accuracy"] > best_val)
                if improved:
                    best_val, best_step = float(val["accuracy"]), done
                save(done, arrays, best=improved)
                last_saved = done
            window_start = time.perf_counter()
            window_steps = 0
    bar.close()
    if last_saved != preset.steps and start < preset.steps:
        save(preset.steps, arrays, best=False)

    # --- test at the best checkpoint ------------------------------------------------------
    if ckpt.latest_step("best") is not None:
        best_arrays, _ = ckpt.restore(arrays, which="best")
    else:
        best_arrays = arrays
    test = eval_split("test", best_arrays)
    log.write(step=best_step if best_step is not None else preset.steps, split="test",
              loss=test["loss"], accuracy=test["accuracy"], count=test["count"])
    ckpt.close()
    summary = {
        "task": preset.task,
        "model": preset.model,
        "preset": preset.preset,
        "steps": preset.steps,
        "best_val_accuracy": best_val,
        "best_step": best_step,
        "test_accuracy_at_best": test["accuracy"],
        "test_loss_at_best": test["loss"],
        "test_count": test["count"],
    }
    if primary:
        write_json(os.path.join(out_dir, "summary.json"), summary)
    return summary
