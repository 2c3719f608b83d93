"""Runs you can rely on: kills at any point, unreadable checkpoints, signals, a full disk,
changed configurations and finished runs; the model back from its run directory.

Every resumed run is compared with an uninterrupted one of the same settings (the oracle):
same records (losses to a relative 1e-6) and the same summary.
"""

import json
import os
import resource
import shutil
import signal
import subprocess
import time

import numpy as np
import pytest
from train_helpers import assert_same_records, cli, records

from lrux import data as lra
from lrux.presets import apply_overrides, get_preset
from lrux.train import evaluate, load_model, make_eval_step, make_mesh, read_metrics, run

SHORT = ["--steps", "12", "--set", "eval_every=6", "--set", "log_every=3"]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("resume")


@pytest.fixture(scope="module")
def data_dir(workdir):
    d = str(workdir / "listops")
    lra.generate_listops(d, train=400, val=64, test=64, min_length=20, max_length=100,
                         workers=1, progress=False)
    return d


def args(data_dir, out, *extra):
    return ["--task", "listops", "--preset", "smoke", "--data-dir", data_dir, "--out", out,
            *SHORT, *extra]


@pytest.fixture(scope="module")
def reference(workdir, data_dir):
    out = str(workdir / "reference")
    res = cli(workdir, *args(data_dir, out))
    assert res.returncode == 0, res.stderr[-3000:]
    return out


def assert_same_run(out, reference):
    assert_same_records(records(out), records(reference), rtol=1e-6)
    a = json.load(open(os.path.join(out, "summary.json")))
    b = json.load(open(os.path.join(reference, "summary.json")))
    assert a["best_step"] == b["best_step"]
    for key in ("best_val_accuracy", "test_accuracy_at_best", "test_loss_at_best"):
        np.testing.assert_allclose(a[key], b[key], rtol=1e-6, err_msg=key)


@pytest.mark.slow
@pytest.mark.parametrize("point", ["before-save:12", "after-save:6", "after-save:12"])
def test_a_kill_around_a_save_resumes_to_the_uninterrupted_summary(
    workdir, data_dir, reference, point
):
    """The best checkpoint and its validation record are saved as one: a kill between
    evaluating and saving, or right after saving (before the old checkpoint is pruned), never
    makes summary.json report a test accuracy from another checkpoint."""
    out = str(workdir / f"kill-{point.replace(':', '-')}")
    killed = cli(workdir, *args(data_dir, out), env={"LRUX_TEST_KILL": point})
    assert killed.returncode == 17, killed.stderr[-3000:]
    resumed = cli(workdir, *args(data_dir, out, "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert_same_run(out, reference)


@pytest.mark.slow
def test_resume_of_a_finished_run_is_a_no_op(workdir, reference):
    out = str(workdir / "finished")
    shutil.copytree(reference, out)
    before = open(os.path.join(out, "metrics.jsonl")).read()
    data = json.load(open(os.path.join(out, "config.json")))["data_dir"]
    res = cli(workdir, *args(data, out, "--resume"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert "already finished at step 12" in res.stderr and "nothing to do" in res.stderr
    assert open(os.path.join(out, "metrics.jsonl")).read() == before  # no second test line


def test_resume_without_a_checkpoint_says_it_starts_fresh(workdir, data_dir, capfd):
    preset = apply_overrides(get_preset("listops", "lru", "smoke"),
                             {"steps": 4, "eval_every": 2, "log_every": 2})
    out = str(workdir / "fresh")
    run(preset, data_dir=data_dir, out_dir=out, resume=True, progress=False)
    assert "no checkpoint in" in capfd.readouterr().err
    assert [r["step"] for r in read_metrics(out) if r["split"] == "val"] == [2, 4]


@pytest.mark.slow
def test_unreadable_newest_checkpoint_falls_back_and_keeps_it(workdir, data_dir, reference):
    out = str(workdir / "unreadable")
    killed = cli(workdir, *args(data_dir, out, "--set", "checkpoint_every=3"),
                 env={"LRUX_TEST_KILL": "after-save:9"})
    assert killed.returncode == 17, killed.stderr[-3000:]
    ckpts = os.path.join(out, "checkpoints")
    assert sorted(int(n) for n in os.listdir(ckpts)) == [6, 9]  # the newest and the best
    for root, _, files in os.walk(os.path.join(ckpts, "9", "model")):
        for f in files:  # damage every array file of the newest checkpoint
            with open(os.path.join(root, f), "r+b") as fh:
                fh.truncate(7)
    resumed = cli(workdir, *args(data_dir, out, "--set", "checkpoint_every=3", "--resume"))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "step 9 is unreadable" in resumed.stderr and "at step 6" in resumed.stderr
    assert os.path.isdir(os.path.join(ckpts, "unreadable-9"))  # set aside, not deleted
    assert_same_run(out, reference)


@pytest.mark.slow
def test_resume_with_another_configuration_names_each_difference(workdir, data_dir):
    out = str(workdir / "changed")
    killed = cli(workdir, *args(data_dir, out), "--exit-at-step", "8")
    assert killed.returncode == 17, killed.stderr[-2000:]
    res = cli(workdir, *args(data_dir, out, "--resume", "--seed", "3", "--set", "depth=3"))
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line = res.stderr.strip().splitlines()[-1]
    assert line.startswith("error: --resume") and "preset.depth: was 2, now 3" in line
    assert "seed: was 0, now 3" in line
    res = cli(workdir, *args(data_dir, out, "--resume", "--steps", "14"))
    assert res.returncode == 2 and "--allow-steps-change" in res.stderr
    res = cli(workdir, *args(data_dir, out, "--resume", "--steps", "14",
                             "--allow-steps-change"))
    assert res.returncode == 0, res.stderr[-2000:]
    assert json.load(open(os.path.join(out, "summary.json")))["steps"] == 14


def _wait_for_record(path, timeout=240):
    t0 = time.time()
    while time.time() - t0 < timeout:
        if os.path.exists(path) and open(path).read().count("\n") >= 1:
            return
        time.sleep(0.05)
    raise TimeoutError(path)


@pytest.mark.slow
def test_sigterm_saves_and_resume_finishes_the_run(workdir, data_dir):
    long = ["--steps", "150", "--set", "eval_every=75", "--set", "log_every=1"]
    ref = str(workdir / "sig-ref")
    res = cli(workdir, "--task", "listops", "--preset", "smoke", "--data-dir", data_dir,
              "--out", ref, *long)
    assert res.returncode == 0, res.stderr[-2000:]
    out = str(workdir / "sig")
    base = ["--task", "listops", "--preset", "smoke", "--data-dir", data_dir, "--out", out,
            *long]
    proc = cli(workdir, *base, wait=False)
    _wait_for_record(os.path.join(out, "metrics.jsonl"))
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: stopped by SIGTERM at step") and "--resume" in last
    stopped = int(last.split("at step ")[1].split(":")[0])
    assert stopped < 150
    assert str(stopped) in os.listdir(os.path.join(out, "checkpoints"))
    assert read_metrics(out)[-1] == {**read_metrics(out)[-1], "step": stopped,
                                     "interrupted": True}
    resumed = cli(workdir, *base, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    pick = lambda d: [r for r in records(d) if r["split"] != "train"]  # noqa: E731
    assert_same_records(pick(out), pick(ref), rtol=1e-6)


@pytest.mark.slow
def test_a_second_signal_exits_at_once(workdir, data_dir):
    out = str(workdir / "sig2")
    proc = cli(workdir, "--task", "listops", "--preset", "smoke", "--data-dir", data_dir,
               "--out", out, "--steps", "100000", "--set", "log_every=1", wait=False)
    _wait_for_record(os.path.join(out, "metrics.jsonl"))
    proc.send_signal(signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGINT
    assert "second SIGINT: exiting now" in err or "stopped by SIGINT" in err


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (32_000, 32_000))


@pytest.fixture()
def tiny_disk(tmp_path, reference):
    """A tmpfs with room for one checkpoint of the reference model but not two."""
    ckpt = os.path.join(reference, "checkpoints")
    one = max(sum(os.path.getsize(os.path.join(r, f)) + 4096 for r, _, fs in
                  os.walk(os.path.join(ckpt, n)) for f in fs) for n in os.listdir(ckpt))
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    size = one + 300 * 1024
    res = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                         capture_output=True, text=True)
    if res.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({res.stderr.strip()[:100]})")
    yield str(mnt)
    subprocess.run(["umount", str(mnt)], capture_output=True)


@pytest.mark.slow
def test_a_full_disk_stops_before_writing_and_keeps_the_earlier_checkpoint(
    workdir, data_dir, tiny_disk
):
    out = os.path.join(tiny_disk, "run")
    res = cli(workdir, *args(data_dir, out), cache=False)
    assert res.returncode == 2, res.stderr[-3000:]
    assert "Traceback" not in res.stderr
    line = res.stderr.strip().splitlines()[-1]
    ckpts = os.path.join(out, "checkpoints")
    assert line.startswith("error: not enough disk space to save the checkpoint of step 12")
    assert ckpts in line and "steps 6) are intact" in line
    assert sorted(os.listdir(ckpts)) == ["6"]
    model, bn_state = load_model(out, which="last")  # the earlier checkpoint still loads
    assert model is not None and bn_state is not None


def _limit_file_size():
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG
    resource.setrlimit(resource.RLIMIT_FSIZE, (32_000, 32_000))


@pytest.mark.slow
def test_a_failing_write_keeps_the_earlier_checkpoint_and_names_the_folder(workdir, data_dir):
    """A write that fails inside orbax (here: a file-size limit; orbax's worker threads log
    their own tracebacks, into lrux.log) leaves no partial folder and prints one error line."""
    out = str(workdir / "failing-write")
    killed = cli(workdir, *args(data_dir, out), "--exit-at-step", "8")
    assert killed.returncode == 17, killed.stderr[-2000:]
    ckpts = os.path.join(out, "checkpoints")
    before = sorted(os.listdir(ckpts))
    res = cli(workdir, *args(data_dir, out, "--resume"), cache=False,
              preexec_fn=_limit_file_size)
    assert res.returncode == 2, res.stderr[-3000:]
    lines = res.stderr.strip().splitlines()
    line = lines[-1]
    assert line.startswith("error: could not save the checkpoint of step 12") and ckpts in line
    # orbax's worker threads and TensorStore said it many times: into lrux.log, not here
    assert "Traceback" not in res.stderr and "absl" not in res.stderr, res.stderr[-3000:]
    assert lines[-2] == f"resumed from {ckpts} at step 6", lines
    assert len(lines) == 3 and "replaced the lock of a run that no longer runs" in lines[0]
    log = os.path.join(out, "lrux.log")
    assert line.endswith(f"details in {log}") and "File too large" in open(log).read()
    assert sorted(os.listdir(ckpts)) == before  # no partial folder left, step 6 intact
    model, bn_state = load_model(out, which="last")
    assert model is not None and bn_state is not None


@pytest.mark.slow
def test_load_model_gives_the_best_checkpoint_test_accuracy(reference):
    summary = json.load(open(os.path.join(reference, "summary.json")))
    config = json.load(open(os.path.join(reference, "config.json")))
    model, bn_state = load_model(reference, which="best")
    test = lra.load_split("listops", "test", config["data_dir"],
                          **config["preset"]["data"]["load"])
    mesh = make_mesh()
    out = evaluate(model, bn_state, test, batch_size=32, mesh=mesh,
                   eval_step=make_eval_step(mesh), seed=0)
    assert out["count"] == summary["test_count"]
    np.testing.assert_allclose(out["accuracy"], summary["test_accuracy_at_best"], rtol=1e-6)


def test_writers_receive_every_record_of_metrics_jsonl(workdir, data_dir):
    class Collect:
        def __init__(self):
            self.records, self.closed = [], False

        def write(self, record):
            self.records.append(record)

        def close(self):
            self.closed = True

    preset = apply_overrides(get_preset("listops", "lru", "smoke"),
                             {"steps": 4, "eval_every": 2, "log_every": 1})
    out = str(workdir / "writers")
    w = Collect()
    run(preset, data_dir=data_dir, out_dir=out, writers=(w,), progress=False)
    assert w.closed
    assert [(r["step"], r["split"]) for r in w.records] == [
        (r["step"], r["split"]) for r in read_metrics(out)]


def test_tensorboard_writer_writes_an_event_file(tmp_path):
    pytest.importorskip("tensorboardX")
    from lrux.train import TensorBoardWriter

    w = TensorBoardWriter(str(tmp_path / "tb"))
    w.write({"step": 3, "split": "val", "loss": 0.5, "accuracy": 0.75})
    w.close()
    files = os.listdir(tmp_path / "tb")
    assert any(f.startswith("events.out.tfevents") for f in files)
    assert os.path.getsize(tmp_path / "tb" / files[0]) > 0
