"""The Pathfinder positive control (benchmarks/pathfinder_control.py): its CNN runs and learns.

The learning checks use planted tasks that the CNN can only pass if its forward pass,
gradients and optimiser steps work: memorising a fixed batch with random labels, and a
held-out rule (is the bright square in the top half?). The Pathfinder figures themselves
come from real runs (benchmarks/results/pathfinder_control*.json).
"""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).parent.parent / "benchmarks" / "pathfinder_control.py"
_SMALL = dict(widths=(8, 8, 16, 16), hidden=32)


@pytest.fixture(scope="module")
def pc():
    spec = importlib.util.spec_from_file_location("pathfinder_control_bench", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Images (n, 1, 32, 32) in [-1, 1] with one bright 4x4 square; label: square in top half."""
    rng = np.random.default_rng(seed)
    x = np.full((n, 1, 32, 32), -1.0, np.float32)
    y = rng.integers(0, 2, n).astype(np.int32)
    for i in range(n):
        top = int(rng.integers(0, 12)) if y[i] == 1 else int(rng.integers(16, 28))
        left = int(rng.integers(0, 28))
        x[i, 0, top:top + 4, left:left + 4] = 1.0
    return x, y


def test_cnn_shape_and_pixels(pc):
    import jax

    model = pc.make_cnn(jax.random.PRNGKey(0))  # the default (benchmark) widths
    x = pc.to_images((np.arange(2 * 1024) % 256).astype(np.uint8).reshape(2, 1024, 1))
    assert x.shape == (2, 1, 32, 32) and x.min() == -1.0 and x.max() == 1.0
    logits = jax.vmap(model)(x)
    assert logits.shape == (2, 2) and np.isfinite(np.asarray(logits)).all()


def test_cnn_memorises_a_fixed_batch(pc):
    """16 random images with random labels: 100% train accuracy after 80 Adam steps."""
    import equinox as eqx
    import jax

    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, (16, 1, 32, 32)).astype(np.float32)
    y = np.array([0, 1] * 8, np.int32)
    rng.shuffle(y)
    model = pc.make_cnn(jax.random.PRNGKey(1), **_SMALL)
    tx, train_step, eval_logits = pc.make_steps(3e-3)
    opt = tx.init(eqx.filter(model, eqx.is_array))
    assert pc.accuracy(eval_logits, model, x, y, 16) < 1.0  # not solved at init
    for _ in range(80):
        model, opt, loss, _ = train_step(model, opt, x, y)
    assert pc.accuracy(eval_logits, model, x, y, 16) == 1.0
    assert float(loss) < 0.1


@pytest.mark.slow
def test_train_learns_a_planted_rule_and_writes_json(pc, tmp_path):
    """train() end to end: a held-out planted rule reaches > 90% test accuracy."""
    xtr, ytr = _planted(512, 0)
    xte, yte = _planted(200, 1)
    data = {"train": (xtr, ytr), "val": (xte[:100], yte[:100]), "test": (xte, yte)}
    cfg = pc.Config(steps=60, batch=32, lr=3e-3, eval_every=30, eval_n=100, data_dir="unused",
                    save=str(tmp_path / "w.eqx"), **_SMALL)
    out = tmp_path / "pc.json"
    rec = pc.train(cfg, str(out), data=data)
    saved = json.loads(out.read_text())
    assert saved["status"] == "done" and saved["test_acc"] == rec["test_acc"]
    assert [c["step"] for c in saved["curve"]] == [30, 60]
    assert saved["split_sizes"] == {"train": 512, "val": 100, "test": 200}
    assert rec["test_acc"] > 0.9
    # --save / --init: the saved weights give the reported test accuracy again
    import equinox as eqx
    import jax

    model = eqx.tree_deserialise_leaves(cfg.save, pc.make_cnn(jax.random.PRNGKey(9), **_SMALL))
    assert pc.accuracy(pc.make_steps(1e-3)[2], model, xte, yte, 64) == rec["test_acc"]
    # the figure and the table read the same JSON
    pc.plot([str(out)], str(tmp_path / "fig.png"))
    assert (tmp_path / "fig.png").stat().st_size > 0
    assert f"| {rec['test_acc']:.3f} |" in pc.markdown([str(out)])


def test_from_run_converts_a_train_lra_run(pc, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    preset = {"model": "lru", "preset": "smoke", "depth": 4, "batch_size": 32,
              "data": {"load": {"difficulty": 6}}}
    (run / "config.json").write_text(json.dumps(
        {"preset": preset, "split_sizes": {"train": 8, "val": 1, "test": 1}, "num_params": 7}))
    lines = [{"step": 10, "split": "train", "loss": 0.69, "accuracy": 0.5},
             {"step": 10, "split": "val", "loss": 0.68, "accuracy": 0.55},
             {"step": 10, "split": "test", "loss": 0.6, "accuracy": 0.6}]
    (run / "metrics.jsonl").write_text("".join(json.dumps(m) + "\n" for m in lines))
    rec = pc.from_run(str(run), str(tmp_path / "lru.json"))
    assert rec["curve"] == [{"step": 10, "train_loss": 0.69, "train_acc": 0.5, "val_acc": 0.55}]
    assert rec["test_acc"] == 0.6 and rec["difficulty"] == 6 and rec["batch"] == 32
    assert pc.main(["--from-run", str(tmp_path / "missing"), "--out", "x.json"]) == 2


def test_geometry_stats_two_full_targets_and_clearances(pc):
    """The construction the positive control reports: two targets of `difficulty` paddles
    about seed_distance apart, 20 // 2 distractors of 2 at difficulty 6, no distractor within
    thickness + margin (1.5 px) of a target, and a held-out marker-distance accuracy."""
    s = pc.geometry_stats(6, n=6, seed=3)
    assert s["target_paddles"] == [6, 6] and s["distractor_paddles"] == [2]
    assert s["paddles"]["min"] == s["paddles"]["max"] == 2 * 6 + 10 * 2
    # origins on pixel centres, seed_distance apart to the pixel (each within sqrt 1/2)
    assert 7.0 - 2 ** 0.5 <= s["origin_distance"]["min"] <= s["origin_distance"]["max"] \
        <= 7.0 + 2 ** 0.5
    assert s["distractor_to_target_min"]["min"] >= 1.5
    # one margin each side of the pivot (1 + 1), the pivot rounded up to the pixel grid
    # (up to sqrt 2 more) and the far end rounded (within sqrt 1/2)
    assert 0.0 < s["dash_gap"]["min"] <= s["dash_gap"]["max"] <= 2.0 + 2 ** 0.5 + 0.5 ** 0.5
    cue = s["marker_distance_cue"]
    assert cue["images"] == 24 and 0.0 <= cue["held_out_accuracy"] <= 1.0


def test_distance_controlled_evaluation_partitions_the_test_split(pc, tmp_path):
    """--evaluate: the CNN's test accuracy is the image-weighted mean of its per-decile
    accuracies, the deciles cover every test image once, and the per-decile distance rule
    is at least the split's majority rate; a missing weights file is one error line."""
    import equinox as eqx
    import jax

    from lrux.data import generate_pathfinder, load_split

    generate_pathfinder(tmp_path, 32, 6, 120, seed=3, workers=1, progress=False)
    weights = tmp_path / "cnn.eqx"
    eqx.tree_serialise_leaves(weights, pc.make_cnn(jax.random.PRNGKey(0)))
    cfg = pc.Config(difficulty=6, data_dir=str(tmp_path), workers=1)
    res = pc.distance_controlled(cfg, str(weights), bins=4)
    y = np.asarray(load_split("pathfinder", "test", tmp_path, difficulty=6).labels)
    assert res["test_images"] == len(y) == sum(b["images"] for b in res["bins"])
    mean = sum(b["cnn_acc"] * b["images"] for b in res["bins"]) / len(y)
    assert abs(mean - res["cnn_test_acc"]) < 1e-9
    assert max(y.mean(), 1 - y.mean()) - 1e-9 <= res["distance_rule_acc"] <= 1.0
    code = pc.main(["--evaluate", str(tmp_path / "absent.eqx"), "--data-dir", str(tmp_path)])
    assert code == 2
