"""End-to-end training: learning on smoke ListOps, 8 devices and 2 processes vs 1, kill and
resume, every task's smoke preset on real-format fixtures, missing data, non-finite loss.

Subprocess runs share a persistent compilation cache so identical programs compile once.
Tolerances: runs that differ only in device or process count compute the same global batch
with different reduction orders; their losses agree to a relative 1e-5 (measured ~1e-7).
A resumed run repeats the same computation; it agrees to a relative 1e-6 (bit-identical
when XLA's CPU thread pool splits work the same way, which a loaded machine may not do).
"""

import json
import os
import re
import socket

import numpy as np
import pytest
from data_fixtures import write_aan, write_cifar, write_imdb
from train_helpers import assert_same_records, cli, records

from lrux import data as lra
from lrux.presets import apply_overrides, get_preset
from lrux.train import MissingData, NonFiniteLoss, read_metrics, run

SHORT = ["--steps", "12", "--set", "eval_every=6", "--set", "log_every=3",
         "--set", "data_shards=2"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("train_loop")


@pytest.fixture(scope="module")
def smoke_run(workdir):
    """The full ListOps smoke preset through the CLI, generating its data into an empty dir."""
    data_dir, out = str(workdir / "listops_data"), str(workdir / "smoke")
    res = cli(workdir, "--task", "listops", "--preset", "smoke", "--data-dir", data_dir,
              "--out", out)
    assert res.returncode == 0, res.stderr[-3000:]
    return data_dir, out, res.stderr


@pytest.fixture(scope="module")
def listops_dir(smoke_run):
    return smoke_run[0]


@pytest.fixture(scope="module")
def reference(workdir, listops_dir):
    """One process, one device, 12 steps, the global batch split into 2 data shards."""
    out = str(workdir / "reference")
    res = cli(workdir, "--task", "listops", "--preset", "smoke", "--data-dir", listops_dir,
              "--out", out, *SHORT)
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def test_smoke_listops_learns_and_beats_majority(smoke_run):
    listops_dir, out, stderr = smoke_run
    assert f"no listops data in {listops_dir}: generating it there" in stderr
    recs = read_metrics(out)
    train = [r for r in recs if r["split"] == "train"]
    assert all({"step", "loss", "accuracy", "lr", "steps_per_sec"} <= set(r) for r in train)
    assert train[-1]["loss"] < train[0]["loss"] - 0.15
    summary = json.load(open(os.path.join(out, "summary.json")))
    test_labels = lra.load_split("listops", "test", listops_dir,
                                 **get_preset("listops", "lru", "smoke").data["load"]).labels
    majority = np.bincount(test_labels).max() / len(test_labels)
    assert summary["test_accuracy_at_best"] > majority + 0.05, (summary, majority)
    assert summary["test_count"] == len(test_labels)  # the whole split, no dropped remainder
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["preset"]["name"] == "smoke" and config["devices"] == 1


def test_kill_and_resume_equals_uninterrupted(workdir, listops_dir, reference):
    out = str(workdir / "resumed")
    args = ["--task", "listops", "--preset", "smoke", "--data-dir", listops_dir, "--out", out,
            *SHORT]
    killed = cli(workdir, *args, "--exit-at-step", "9")
    assert killed.returncode == 17, killed.stderr[-3000:]
    assert not os.path.exists(os.path.join(out, "summary.json"))
    again = cli(workdir, *args)
    assert again.returncode != 0 and "--resume" in again.stderr  # refuses to overwrite
    resumed = cli(workdir, *args, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed" in resumed.stderr and "at step 6" in resumed.stderr
    assert_same_records(records(out), records(reference), rtol=1e-6)
    a = json.load(open(os.path.join(out, "summary.json")))
    b = json.load(open(os.path.join(reference, "summary.json")))
    assert a["best_step"] == b["best_step"]
    np.testing.assert_allclose(a["test_accuracy_at_best"], b["test_accuracy_at_best"],
                               rtol=1e-6)


def test_eight_devices_match_one(workdir, listops_dir, reference):
    out = str(workdir / "eight")
    res = cli(workdir, "--task", "listops", "--preset", "smoke", "--data-dir", listops_dir,
              "--out", out, *SHORT, env={"JAX_NUM_CPU_DEVICES": "8"})
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.load(open(os.path.join(out, "config.json")))["devices"] == 8
    assert_same_records(records(out), records(reference), rtol=1e-5)


def test_two_processes_match_one(workdir, listops_dir, reference):
    with socket.socket() as s:
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    out = str(workdir / "two_proc")
    procs = [
        cli(workdir, "--task", "listops", "--preset", "smoke", "--data-dir", listops_dir,
            "--out", out, *SHORT, "--coordinator-address", f"localhost:{port}",
            "--num-processes", "2", "--process-id", str(i), wait=False)
        for i in range(2)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs, strict=True):
        assert p.returncode == 0, err[-3000:]
    config = json.load(open(os.path.join(out, "config.json")))
    assert config["processes"] == 2 and config["devices"] == 2
    assert_same_records(records(out), records(reference), rtol=1e-5)


def _fixture_data(task, root):
    if task == "text":
        write_imdb(root)
    elif task == "retrieval":
        write_aan(root)
    elif task == "image":
        write_cifar(root)


@pytest.mark.parametrize("task", ["text", "retrieval", "image", "pathfinder", "pathx"])
def test_every_task_smoke_preset_runs(task, workdir, capfd):
    data_dir = str(workdir / f"data_{task}")
    os.makedirs(data_dir, exist_ok=True)
    _fixture_data(task, data_dir)
    preset = get_preset(task, "lru", "smoke")
    # ListOps runs the full smoke preset above; here a few steps of each other task's (the
    # full runs are timed by benchmarks/bench_train.py)
    preset = apply_overrides(preset, {"steps": 3, "eval_every": 2, "log_every": 1})
    out = str(workdir / f"run_{task}")
    summary = run(preset, data_dir=data_dir, out_dir=out, seed=1, progress=False)
    err = capfd.readouterr().err
    if task in ("pathfinder", "pathx"):
        assert f"no {task} data in {data_dir}: generating it there" in err
    splits = [(r["step"], r["split"]) for r in read_metrics(out)]
    assert splits[:4] == [(1, "train"), (2, "train"), (2, "val"), (3, "train")]
    assert splits[-1][1] == "test"
    assert 0.0 <= summary["test_accuracy_at_best"] <= 1.0
    test = lra.load_split(task, "test", data_dir, **preset.data.get("load", {}))
    assert summary["test_count"] == len(test)


def test_missing_text_data_stops_with_the_loader_message(tmp_path):
    preset = get_preset("text", "lru", "smoke")
    with pytest.raises(MissingData) as err:
        run(preset, data_dir=str(tmp_path), out_dir=str(tmp_path / "run"), progress=False)
    assert str(err.value) == lra.missing_data_message("text", str(tmp_path))


def test_non_finite_loss_stops_naming_the_step(workdir, listops_dir, capfd):
    preset = apply_overrides(get_preset("listops", "lru", "smoke"), {
        "lr": 1e38, "steps": 8, "warmup_frac": 0.5, "eval_every": 1, "log_every": 1,
    })
    out = str(workdir / "nan")
    with pytest.raises(NonFiniteLoss, match=r"at step (\d+)") as err:
        run(preset, data_dir=listops_dir, out_dir=out, progress=False)
    bad = int(re.search(r"at step (\d+)", str(err.value)).group(1))
    good = [r for r in read_metrics(out) if r["split"] == "train"]
    assert [r["step"] for r in good] == list(range(1, bad))
    assert all(np.isfinite(r["loss"]) for r in good)
    assert bad > 1, str(err.value)
    saved = [int(n) for n in os.listdir(os.path.join(out, "checkpoints")) if n.isdigit()]
    assert max(saved) == bad - 1  # the last good step's checkpoint is the newest
