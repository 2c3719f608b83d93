"""lrux.train pieces: parameter groups, schedule, AdamW groups, steps, checkpoints, presets."""

import json
import math
import os
from typing import ClassVar

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lrux.data import Batch
from lrux.models import batched_apply, make_model
from lrux.presets import apply_overrides, get_preset
from lrux.train import (
    Checkpointer,
    MetricsLog,
    TrainState,
    make_eval_step,
    make_mesh,
    make_optimizer,
    make_train_step,
    param_labels,
    read_metrics,
    replicate,
    warmup_cosine,
)


def labels_by_name(model, **kw):
    out = {}
    for path, label in jax.tree_util.tree_leaves_with_path(param_labels(model, **kw)):
        out[jax.tree_util.keystr(path)] = label
    return out


def small_model(**kw):
    args = dict(mixer="lru", depth=1, d_model=8, d_state=4, num_classes=3, vocab_size=5,
                key=jax.random.PRNGKey(0))
    args.update(kw)
    return make_model(**args)


def test_param_groups_follow_recurrent_params_paths():
    model, _ = small_model()
    labels = labels_by_name(model)
    recurrent = {k for k, v in labels.items() if v == "recurrent"}
    assert recurrent == {
        f".encoder.blocks[0].mixer.{n}" for n in ("nu_log", "theta_log", "gamma_log", "B_re",
                                                 "B_im")
    }
    for name in ("C_re", "C_im", "D"):
        assert labels[f".encoder.blocks[0].mixer.{name}"] == "decay"
    assert labels[".encoder.blocks[0].norm.weight"] == "decay"  # the paper's wording
    assert labels[".decoder.bias"] == "decay"
    no_decay = labels_by_name(model, decay_norm_bias=False)
    assert no_decay[".encoder.blocks[0].norm.weight"] == "no_decay"
    assert no_decay[".encoder.blocks[0].out1.bias"] == "no_decay"
    assert no_decay[".encoder.blocks[0].out1.weight"] == "decay"
    assert no_decay[".encoder.blocks[0].mixer.nu_log"] == "recurrent"


def test_param_groups_inside_wrappers_and_containers():
    model, _ = small_model(bidirectional=True)
    labels = labels_by_name(model)
    rec = [k for k, v in labels.items() if v == "recurrent"]
    assert len(rec) == 10  # both directions' five recurrent fields
    assert all(".mixer." in k and k.rsplit(".", 1)[1] in
               ("nu_log", "theta_log", "gamma_log", "B_re", "B_im") for k in rec)

    class Inner(eqx.Module):
        A: jax.Array
        C: jax.Array
        recurrent_params: ClassVar[tuple[str, ...]] = ("A",)

    class Outer(eqx.Module):
        layers: dict
        W: jax.Array

    outer = Outer({"a": [Inner(jnp.ones(2), jnp.ones(2))]}, jnp.ones(3))
    got = labels_by_name(outer)
    assert got == {".layers['a'][0].A": "recurrent", ".layers['a'][0].C": "decay",
                   ".W": "decay"}


def test_warmup_cosine_closed_form():
    peak, steps, lo = 1e-2, 100, 1e-7
    sched = warmup_cosine(peak, steps, warmup_frac=0.1, min_lr=lo)
    assert float(sched(0)) == pytest.approx(lo, abs=1e-9)  # float32 arithmetic
    assert float(sched(5)) == pytest.approx(lo + (peak - lo) * 0.5, rel=1e-5)
    assert float(sched(10)) == pytest.approx(peak, rel=1e-5)
    for t in (30, 55, 90):
        expect = lo + (peak - lo) * 0.5 * (1 + math.cos(math.pi * (t - 10) / 90))
        assert float(sched(t)) == pytest.approx(expect, rel=1e-4)
    assert float(sched(100)) == pytest.approx(lo, abs=1e-9)


def test_adamw_groups_first_step_closed_form():
    """One AdamW step with gradient g = 1 everywhere: Adam's first update is -lr * g/|g|
    (eps aside); weight decay adds -lr * wd * p, for the non-recurrent leaves only."""
    model, _ = small_model()
    lr, factor, wd = 1e-2, 0.25, 0.1
    tx, _ = make_optimizer(model, lr=lr, lr_factor=factor, weight_decay=wd, steps=10,
                           warmup_frac=0.0)
    params = eqx.filter(model, eqx.is_inexact_array)
    state = tx.init(params)
    grads = jax.tree_util.tree_map(jnp.ones_like, params)
    updates, _ = tx.update(grads, state, params)
    labels = param_labels(model)
    for p, u, lab in zip(jax.tree_util.tree_leaves(params), jax.tree_util.tree_leaves(updates),
                         jax.tree_util.tree_leaves(labels), strict=True):
        p, u = np.asarray(p, np.float64), np.asarray(u, np.float64)
        if lab == "recurrent":
            np.testing.assert_allclose(u, -lr * factor, rtol=1e-5)
        else:
            np.testing.assert_allclose(u, -lr - lr * wd * p, rtol=1e-5, atol=1e-9)


def _batch(rng, n, L, valid=None):
    return dict(
        inputs=rng.integers(1, 5, (n, L)).astype(np.int32),
        lengths=rng.integers(1, L + 1, (n,)).astype(np.int32),
        labels=rng.integers(0, 3, (n,)).astype(np.int32),
        valid=np.ones(n, bool) if valid is None else valid,
    )


def test_eval_step_masks_padding_rows_and_matches_numpy_cross_entropy():
    model, state = small_model()
    mesh = make_mesh()
    rng = np.random.default_rng(0)
    valid = np.array([True, True, False, True, False, False])
    b = _batch(rng, 6, 7, valid)
    logits = np.asarray(batched_apply(model, state, jnp.asarray(b["inputs"]),
                                      jnp.asarray(b["lengths"]), key=None, inference=True)[0],
                        np.float64)
    logp = logits - np.log(np.exp(logits - logits.max(1, keepdims=True)).sum(1,
                                                                               keepdims=True))
    logp -= logits.max(1, keepdims=True)
    ce = -logp[np.arange(6), b["labels"]]
    correct = logits.argmax(1) == b["labels"]
    model_r, state_r = replicate((model, state), mesh)
    loss_sum, n_correct, count = make_eval_step(mesh)(
        model_r, state_r, Batch(**{k: jnp.asarray(v) for k, v in b.items()}))
    assert float(count) == 3
    assert float(loss_sum) == pytest.approx(ce[valid].sum(), rel=1e-5)
    assert float(n_correct) == correct[valid].sum()


def test_train_step_reduces_loss_on_a_fixed_batch():
    model, state = small_model()
    mesh = make_mesh()
    tx, _ = make_optimizer(model, lr=1e-2, lr_factor=1.0, weight_decay=0.0, steps=30,
                           warmup_frac=0.0)
    opt = tx.init(eqx.filter(model, eqx.is_inexact_array))
    train = replicate(TrainState(model, state, opt, jax.random.PRNGKey(0)), mesh)
    step = make_train_step(tx, mesh)
    b = {k: jnp.asarray(v) for k, v in _batch(np.random.default_rng(1), 8, 6).items()}
    losses = []
    for _ in range(30):
        train, metrics = step(train, Batch(**b))
        losses.append(float(metrics.loss))
        assert bool(metrics.finite)
    assert losses[-1] < 0.7 * losses[0]


def test_checkpointer_keeps_the_newest_and_the_best_with_key_paths(tmp_path):
    mesh = make_mesh()
    tree = replicate({"a": np.arange(6, dtype=np.float32).reshape(2, 3),
                      "b": [np.array(3, np.int32), np.ones(4, np.uint32)]}, mesh)
    bump = lambda t, k: jax.tree_util.tree_map(lambda x: x + k, t)  # noqa: E731
    ck = Checkpointer(str(tmp_path / "ck"))
    ck.save(10, {"model": tree}, {"data_state": [[{"x": 1}]]}, val_accuracy=0.5)
    ck.save(20, {"model": bump(tree, 1)}, {"data_state": [[{"x": 2}]]}, val_accuracy=0.4)
    ck.save(25, {"model": bump(tree, 2)}, {"data_state": [[{"x": 3}]]})  # not evaluated
    # the newest (25) and the best (10) are kept; 20 is neither
    assert ck.steps() == [25, 10] and ck.latest_step() == 25 and ck.best_step() == 10
    assert sorted(os.listdir(tmp_path / "ck" / "25" / "model")) != []
    got, meta = ck.restore({"model": tree}, 25)
    assert meta["step"] == 25 and meta["data_state"] == [[{"x": 3}]]
    assert meta["val_accuracy"] is None
    for a, b in zip(jax.tree_util.tree_leaves(got["model"]),
                    jax.tree_util.tree_leaves(bump(tree, 2)), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
        assert a.dtype == b.dtype
    best, meta = ck.restore({"model": tree}, 10)
    assert meta["val_accuracy"] == 0.5
    np.testing.assert_array_equal(np.asarray(best["model"]["a"]), np.asarray(tree["a"]))
    ck.close()
    # a new manager on the same folder sees the same two checkpoints and the same best
    again = Checkpointer(str(tmp_path / "ck"))
    assert again.steps() == [25, 10] and again.best_step() == 10
    again.close()


def test_checkpoint_items_keep_the_model_key_paths(tmp_path):
    from lrux.train.checkpoint import tree_to_nested

    model, _ = small_model()
    nested = tree_to_nested(eqx.filter(model, eqx.is_array))
    assert set(nested["encoder"]["blocks"]["0"]["mixer"]) >= {"nu_log", "theta_log", "B_re"}


def test_metrics_log_truncates_after_a_step(tmp_path):
    log = MetricsLog(str(tmp_path))
    for s in (10, 20, 30):
        log.write(step=s, split="train", loss=1.0 / s, accuracy=0.5)
    with open(log.path, "a") as f:
        f.write('{"step": 40, "spl')  # a line cut by a kill
    log.truncate_after(20)
    assert [r["step"] for r in read_metrics(str(tmp_path))] == [10, 20]
    with open(log.path) as f:
        assert all(json.loads(line) for line in f)


def test_presets_table9_and_overrides():
    p = get_preset("pathx", "lru", "paper")
    assert (p.depth, p.d_model, p.d_state, p.batch_size, p.steps) == (6, 128, 256, 32, 250_000)
    ring = p.mixer_options
    assert (ring["r_min"], ring["r_max"]) == (0.999, 0.9999)
    assert ring["max_phase"] == pytest.approx(math.pi / 10)
    assert p.bidirectional and p.glu == "half" and p.lr == 0.0018
    p = get_preset("image", "lru", "paper")
    assert (p.d_model, p.d_state, p.dropout, p.lr_factor, p.lr) == (512, 384, 0.1, 0.25, 0.0045)
    assert not p.bidirectional and p.dropout_tied
    s5 = get_preset("listops", "s5", "paper")
    assert s5.lr == pytest.approx(0.003) and s5.lr_factor == pytest.approx(1 / 3)
    assert s5.d_state == 16 and s5.depth == 8 and s5.steps == 40 * 96_000 // 50
    q = apply_overrides(p, ["depth=4", "lr=1e-3", "max_phase=pi/10", "bidirectional=true",
                            "scan_mode=sequential", "data.load.grayscale=true"])
    assert (q.depth, q.lr, q.bidirectional) == (4, 1e-3, True)
    assert q.mixer_options["max_phase"] == pytest.approx(math.pi / 10)
    assert q.mixer_options["scan_mode"] == "sequential"
    assert q.data["load"]["grayscale"] is True
    with pytest.raises(ValueError, match="image has no load option 'max_length'"):
        apply_overrides(p, ["data.load.max_length=64"])  # a token task's option
    assert p.depth == 6  # the original is untouched
    with pytest.raises(ValueError, match="depth"):
        apply_overrides(p, ["depth=0"])
    with pytest.raises(ValueError, match="integer"):
        apply_overrides(p, ["depth=four"])
    with pytest.raises(ValueError, match="NAME=VALUE"):
        apply_overrides(p, ["depth"])
    with pytest.raises(ValueError, match="did you mean 'depth'"):
        apply_overrides(p, ["deptj=3"])
    with pytest.raises(ValueError, match="unknown task"):
        get_preset("mnist")
    with pytest.raises(ValueError, match="did you mean 'lru'"):
        get_preset("listops", "lruu")


def test_presets_give_the_ring_only_to_ring_mixers():
    """The task's ring (Table 8) reaches the LRU and diag-ring, never the disk rungs or SSMs."""
    ring = {"r_min": 0.0, "r_max": 0.99, "max_phase": 2 * math.pi}
    for model in ("lru", "diag-ring"):
        assert get_preset("listops", model, "paper").mixer_options == ring
    for model in ("diag-reim", "diag-exp", "diag-stable-exp", "s4d", "rnn-tanh", "gru"):
        opts = get_preset("listops", model, "paper").mixer_options
        assert not set(ring) & set(opts), model
