"""Trust, third round: one run per folder, nothing moved aside by mistake, damaged files named,
failing disks and signals in one line, optional parts checked at start, degenerate data.

Each test is a case of a user (or a disk) going wrong; the oracle is the state of the files
(byte-identical after a refused command, nothing moved, nothing half-written) and the one
`error:` line the command prints. Runs are in-process (lrux.train.cli.main) on tiny ListOps
and the smoke preset unless a signal, a lock held by another process or a process start is
the point; those run as subprocesses.
"""

import errno
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from data_fixtures import snapshot, write_imdb, write_pathfinder
from train_helpers import ROOT, cli, records

from lrux import data as lra
from lrux.errors import ConfigError, DataError
from lrux.train.cli import main

SMOKE = ["--task", "listops", "--preset", "smoke", "--no-progress", "--steps", "4",
         "--set", "eval_every=2", "--set", "log_every=1"]
ENOSPC = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    return tmp_path_factory.mktemp("trust")


@pytest.fixture(scope="module")
def data_dir(workdir):
    d = str(workdir / "listops")
    lra.generate_listops(d, train=200, val=32, test=32, min_length=20, max_length=100,
                         workers=1, progress=False)
    return d


def call(args, capsys):
    """(exit status, stderr lines) of the training CLI run in this process."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as e:
        code = e.code
    return code, capsys.readouterr().err.strip().splitlines()


def one_error(code, lines, fragment, status=2):
    assert code == status, lines
    assert lines and lines[-1].startswith("error: ") and fragment in lines[-1], lines
    assert not any("Traceback" in ln for ln in lines), lines


@pytest.fixture(scope="module")
def finished(workdir, data_dir):
    """A finished smoke run (4 steps, checkpoints at 2 and 4) to copy into each test."""
    out = str(workdir / "finished")
    assert main([*SMOKE, "--data-dir", data_dir, "--out", out]) == 0
    return out


def copy_run(src, dst):
    shutil.copytree(src, dst)
    return str(dst)


# ----------------------------------------------------------------------------- memory

@pytest.mark.parametrize("model", ["lru", "s5", "gru"])
def test_a_model_too_large_for_memory_is_named_before_allocating(model):
    """The parameter count in the message is the real model's (built here at depth 3: the
    oracle), though check_model extrapolates it from one and two blocks."""
    import jax

    from lrux.presets import apply_overrides, get_preset
    from lrux.train.loop import _spec_for_checks
    from lrux.train.state import build_model, check_model, num_params

    preset = apply_overrides(get_preset("listops", model, "smoke"), {"depth": 3})
    spec = _spec_for_checks(preset)
    n = num_params(build_model(preset, spec, key=jax.random.PRNGKey(0))[0])
    with pytest.raises(ConfigError, match=rf"has {n:,} parameters \({4 * n / 2**30:.2f} GiB\)"
                       r"; training holds 4 copies .* more than the 0\.00 GiB available"):
        check_model(preset, spec, available=16 * n - 1)
    check_model(preset, spec, available=16 * n)  # fits exactly: float32 parameters x 4
    huge = apply_overrides(preset, {"depth": 10**9})
    t0 = time.time()
    with pytest.raises(ConfigError, match="depth=1000000000"):
        check_model(huge, spec)  # refused from two blocks, never built
    assert time.time() - t0 < 30


# ----------------------------------------------------------------------------- one run per folder

def test_a_second_process_on_the_same_out_is_refused_with_the_holder(tmp_path, capsys):
    from lrux.train.rundir import RunDir

    out = tmp_path / "run"
    with RunDir(str(out)).lock():  # another open file: the same as another process
        holder = open(out / "lrux.lock").read().strip()
        for extra in ([], ["--resume"]):
            code, lines = call(["--task", "text", "--preset", "smoke", "--data-dir",
                                tmp_path / "nodata", "--out", out, *extra], capsys)
            one_error(code, lines, "is in use by another lrux process")
            assert holder in lines[-1] and f"pid {os.getpid()} on host" in holder
    assert not os.path.exists(out / "lrux.lock")  # released with its holder


@pytest.mark.slow
def test_two_real_processes_the_second_refused_while_the_first_trains(tmp_path, data_dir):
    out = str(tmp_path / "run")
    base = [*SMOKE[:-6], "--data-dir", data_dir, "--out", out, "--steps", "100000",
            "--set", "log_every=1"]
    first = cli(tmp_path, *base, wait=False)
    try:
        metrics = os.path.join(out, "metrics.jsonl")
        t0 = time.time()
        while not (os.path.exists(metrics) and os.path.getsize(metrics)) and time.time() - t0 < 240:
            time.sleep(0.1)
        for extra in ([], ["--resume"]):
            second = cli(tmp_path, *base, *extra)
            lines = second.stderr.strip().splitlines()
            assert second.returncode == 2 and len(lines) == 1, second.stderr[-2000:]
            assert f"is in use by another lrux process (pid {first.pid} on host" in lines[0]
    finally:
        first.send_signal(signal.SIGTERM)
        first.communicate(timeout=240)
    assert first.returncode == 128 + signal.SIGTERM


def test_a_stale_lock_is_taken_over_and_said(tmp_path, data_dir, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "lrux.lock").write_text("pid 999999 on host gone since 2026-01-01T00:00:00\n")
    code, lines = call([*SMOKE, "--data-dir", data_dir, "--out", out, "--steps", "2"], capsys)
    assert code == 0, lines
    assert any("replaced the lock of a run that no longer runs (pid 999999 on host gone"
               in ln for ln in lines), lines
    assert not os.path.exists(out / "lrux.lock")


def test_resume_without_config_json_and_other_flags_moves_nothing(tmp_path, finished, capsys):
    out = copy_run(finished, tmp_path / "run")
    os.remove(os.path.join(out, "config.json"))
    os.remove(os.path.join(out, "summary.json"))
    before = snapshot(out)
    code, lines = call([*SMOKE, "--data-dir", tmp_path / "elsewhere", "--out", out, "--resume",
                        "--set", "depth=3"], capsys)
    one_error(code, lines, "preset.depth: was 2, now 3")
    assert "the record in checkpoint 4" in lines[-1]
    assert snapshot(out) == before  # nothing moved aside as unreadable-STEP, nothing written
    assert not os.path.exists(tmp_path / "elsewhere")  # checked before any data


def test_resume_of_an_older_checkpoint_without_a_record_checks_its_array_shapes(
    tmp_path, finished, data_dir, capsys, monkeypatch
):
    from lrux.train.checkpoint import Checkpointer

    out = copy_run(finished, tmp_path / "run")
    os.remove(os.path.join(out, "config.json"))
    real_meta = Checkpointer.meta
    monkeypatch.setattr(Checkpointer, "meta", lambda self, step: {
        k: v for k, v in real_meta(self, step).items() if k != "config"})  # an older lrux
    before = snapshot(out)
    code, lines = call([*SMOKE, "--data-dir", data_dir, "--out", out,
                        "--resume", "--set", "d_model=48"], capsys)
    one_error(code, lines, "does not fit this configuration (model/")
    assert "in the checkpoint" in lines[-1] and "nothing was moved" in lines[-1]
    assert snapshot(out) == before


def test_resume_after_every_checkpoint_was_set_aside_never_starts_fresh(
    tmp_path, finished, data_dir, capsys
):
    out = copy_run(finished, tmp_path / "run")
    ckpts = os.path.join(out, "checkpoints")
    steps = sorted(os.listdir(ckpts))  # 4, and 2 when it was the best
    for step in steps:
        os.replace(os.path.join(ckpts, step), os.path.join(ckpts, f"unreadable-{step}"))
    os.remove(os.path.join(out, "summary.json"))
    before = snapshot(out)
    code, lines = call([*SMOKE, "--data-dir", data_dir, "--out", out, "--resume"], capsys)
    aside = ", ".join(f"checkpoints/unreadable-{s}" for s in steps)
    one_error(code, lines, f"holds a run ({aside})")
    assert snapshot(out) == before  # metrics.jsonl not rewritten by a fresh start


def test_resume_with_another_task_stops_before_generating_its_data(tmp_path, finished, capsys):
    out = copy_run(finished, tmp_path / "run")
    data = tmp_path / "data"
    code, lines = call(["--task", "pathfinder", "--preset", "smoke", "--data-dir", data,
                        "--out", out, "--resume", "--no-progress"], capsys)
    one_error(code, lines, "preset.task: was \"listops\", now \"pathfinder\"")
    assert not os.path.exists(data)  # no Pathfinder image was drawn


@pytest.mark.parametrize("damage, fragment", [
    ("garbled", "metrics.jsonl:3: not a metrics record (not JSON"),
    ("list", "metrics.jsonl:3: not a metrics record (a JSON list, not an object)"),
    ("no-step", "metrics.jsonl:3: not a metrics record (no integer 'step'"),
])
def test_a_damaged_metrics_line_is_named_and_nothing_is_dropped(
    tmp_path, finished, data_dir, capsys, damage, fragment
):
    out = copy_run(finished, tmp_path / "run")
    os.remove(os.path.join(out, "summary.json"))
    path = os.path.join(out, "metrics.jsonl")
    lines = open(path).read().splitlines()
    lines[2] = {"garbled": lines[2][:25] + "\x00#" + lines[2][40:], "list": "[1, 2]",
                "no-step": '{"split": "val", "loss": 1.0}'}[damage]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    before = snapshot(out)
    code, err = call([*SMOKE, "--data-dir", data_dir, "--out", out, "--resume"], capsys)
    one_error(code, err, fragment)
    assert snapshot(out) == before


def test_a_last_line_cut_by_a_kill_is_left_out_with_a_word(tmp_path, finished, data_dir,
                                                           capsys):
    out = copy_run(finished, tmp_path / "run")
    os.remove(os.path.join(out, "summary.json"))
    path = os.path.join(out, "metrics.jsonl")
    with open(path, "a") as f:
        f.write('{"step": 5, "split": "tr')  # a kill in the middle of an append
    code, lines = call([*SMOKE, "--data-dir", data_dir, "--out", out, "--resume"], capsys)
    assert code == 0, lines
    assert any("the last line is not a record" in ln and "left out" in ln for ln in lines)
    assert any("1 record(s) after step 4 or of the test split removed" in ln for ln in lines)
    assert [(r["step"], r["split"]) for r in records(out)] == \
        [(r["step"], r["split"]) for r in records(finished)]


# ----------------------------------------------------------------------------- damaged files

def test_a_truncated_summary_of_a_finished_run_is_rebuilt(tmp_path, finished, data_dir, capsys):
    out = copy_run(finished, tmp_path / "run")
    summary = os.path.join(out, "summary.json")
    want = json.load(open(summary))
    with open(summary, "r+") as f:
        f.truncate(20)
    code, lines = call([*SMOKE, "--data-dir", data_dir, "--out", out, "--resume"], capsys)
    assert code == 0, lines
    assert any("summary.json is unreadable" in ln and "rebuilding it" in ln for ln in lines)
    assert json.load(open(summary)) == want
    assert records(out) == records(finished)  # no second test record


def test_load_model_names_an_edited_config_or_a_damaged_checkpoint(tmp_path, finished):
    from lrux.train import CheckpointError, load_model

    edited = copy_run(finished, tmp_path / "edited")
    config = json.load(open(os.path.join(edited, "config.json")))
    config["preset"]["d_state"] = 48
    json.dump(config, open(os.path.join(edited, "config.json"), "w"))
    with pytest.raises(ConfigError, match=r"config\.json does not match the checkpoint of step "
                       r"\d \(model/encoder/blocks/0/mixer/"):
        load_model(edited)
    config["preset"]["d_state"] = "many"
    json.dump(config, open(os.path.join(edited, "config.json"), "w"))
    with pytest.raises(ConfigError, match=r"config\.json: preset field d_state: expected an "
                       "integer, got 'many'"):
        load_model(edited)
    damaged = copy_run(finished, tmp_path / "damaged")
    shutil.rmtree(os.path.join(damaged, "checkpoints", "4", "model", "ocdbt.process_0"))
    with pytest.raises(CheckpointError, match=r"checkpoints/4: the checkpoint cannot be "
                       r"read \(.*\); load another one") as e:
        load_model(damaged, which="last")
    assert "\n" not in str(e.value)
    for other in set(os.listdir(os.path.join(damaged, "checkpoints"))) - {"4"}:
        model, _ = load_model(damaged, step=int(other))  # the best (step 2) still loads
        assert model is not None


def test_load_run_hands_back_the_run_as_it_saw_itself(finished):
    import dataclasses

    from lrux.train import Run, evaluate, load_run, make_eval_step, make_mesh

    config = json.load(open(os.path.join(finished, "config.json")))
    summary = json.load(open(os.path.join(finished, "summary.json")))
    run = load_run(finished)
    assert isinstance(run, Run) and run.step == summary["best_step"]
    assert run.preset.to_dict() == config["preset"] and run.config == config
    assert dataclasses.asdict(run.spec) == config["task_spec"]
    test = lra.load_split("listops", "test", config["data_dir"], **run.preset.data["load"])
    mesh = make_mesh()
    got = evaluate(run.model, run.state, test, batch_size=16, mesh=mesh,
                   eval_step=make_eval_step(mesh), seed=0)
    assert got["count"] == summary["test_count"]
    np.testing.assert_allclose(got["accuracy"], summary["test_accuracy_at_best"], rtol=1e-6)
    assert load_run(finished, "last").step == 4


# ----------------------------------------------------------------------------- failing disks

def test_a_full_disk_while_appending_metrics_is_one_line_and_nothing_half_written(
    tmp_path, data_dir, capsys, monkeypatch
):
    import lrux.train.metrics as M

    class FullDisk:
        def __init__(self, f):
            self.f = f

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

        def write(self, text):
            self.f.write(text[: len(text) // 2])  # part of the line lands, then the disk is full
            self.f.flush()
            raise ENOSPC

        def __getattr__(self, name):
            return getattr(self.f, name)

    real_open, appends = open, []

    def fake_open(path, mode="r", *a, **k):
        f = real_open(path, mode, *a, **k)
        if "a" in mode and str(path).endswith("metrics.jsonl"):
            appends.append(path)
            if len(appends) == 3:
                return FullDisk(f)
        return f

    monkeypatch.setattr(M, "open", fake_open, raising=False)
    out = tmp_path / "run"
    code, lines = call([*SMOKE, "--data-dir", data_dir, "--out", out], capsys)
    one_error(code, lines, f"could not append a record to {out / 'metrics.jsonl'} (No space")
    text = open(out / "metrics.jsonl").read()
    assert text.endswith("\n") and len(text.splitlines()) == 2  # two whole records


def test_a_full_disk_while_writing_the_cache_is_one_line_and_leaves_nothing(
    tmp_path, capsys, monkeypatch
):
    import lrux.data.cache as C

    data = tmp_path / "data"
    lra.generate_listops(data, train=40, val=8, test=8, min_length=20, max_length=100,
                         workers=1, progress=False)
    real = C.save_arrays

    def full(folder, split, *arrays):
        real(folder, split, *arrays)
        if split == "val":
            raise ENOSPC

    monkeypatch.setattr(C, "save_arrays", full)
    code, lines = call([*SMOKE, "--data-dir", data, "--out", tmp_path / "run"], capsys)
    one_error(code, lines, f"could not write the preprocessing cache in {data / '.lrux_cache'}")
    assert [n for n in os.listdir(data / ".lrux_cache") if n != "sources"] == []


def test_a_full_disk_while_generating_is_one_line_naming_the_folder(tmp_path, capsys,
                                                                   monkeypatch):
    import lrux.data.listops as L
    from lrux.data.__main__ import main as data_main

    def full(path, items):
        with open(path, "w") as f:
            f.write("Source\tTarget\n( ( [MAX 1")
        raise ENOSPC

    monkeypatch.setattr(L, "_write_split", full)
    out = tmp_path / "data"
    code, lines = call([*SMOKE, "--data-dir", out, "--out", tmp_path / "run"], capsys)
    partial = out / ".listops-1000.partial"
    one_error(code, lines, f"could not write into {partial} (No space left on device)")
    assert "nothing was written to" in lines[-1] and "run the same command again" in lines[-1]
    assert sorted(os.listdir(out)) == [".listops-1000.partial"]  # never read as complete
    assert data_main(["generate", "listops", "--out", str(out), "--train", "8", "--val", "2",
                      "--test", "2", "--min-length", "10", "--max-length", "40",
                      "--workers", "1"]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error")]
    assert len(err) == 1 and f"could not write into {partial}" in err[0], err


# ----------------------------------------------------------------------------- signals

_PATCHED_RUN = """
import os, signal, sys
sys.argv = ["train_lra.py"]
from lrux.train.cli import main
{patch}
sys.exit(main({args!r}))
"""


def _patched(tmp_path, patch, args):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    code = _PATCHED_RUN.format(patch=patch, args=[str(a) for a in args])
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, cwd=str(tmp_path))


def test_sigterm_during_data_generation_is_one_line(tmp_path):
    patch = """
import lrux.data.listops as L
real = L._draw
def drawing(*a, **k):
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*a, **k)
L._draw = drawing
"""
    res = _patched(tmp_path, patch, [*SMOKE, "--data-dir", tmp_path / "data", "--out",
                                     tmp_path / "run"])
    assert res.returncode == 128 + signal.SIGTERM, res.stderr[-2000:]
    lines = res.stderr.strip().splitlines()
    assert "Traceback" not in res.stderr
    assert lines[-1].startswith("error: stopped by SIGTERM while generating or loading the "
                                "data; no training was done: run the same command again")
    assert not os.path.exists(tmp_path / "run" / "config.json")


def test_sigterm_during_the_data_cli_generation_is_one_line(tmp_path):
    code = """
import os, signal, sys
import lrux.data.listops as L
from lrux.data.__main__ import main
real = L._draw
def drawing(*a, **k):
    os.kill(os.getpid(), signal.SIGTERM)
    return real(*a, **k)
L._draw = drawing
sys.exit(main(["generate", "listops", "--out", "data", "--train", "8", "--workers", "1"]))
"""
    env = dict(os.environ, PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    res = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                         text=True, timeout=300, cwd=str(tmp_path))
    assert res.returncode == 128 + signal.SIGTERM, res.stderr[-2000:]
    assert res.stderr.strip().splitlines()[-1] == (
        "error: stopped by SIGTERM (a generation resumes when rerun with the same arguments)")
    assert os.listdir(tmp_path / "data") == [".listops-1000.partial"]


def test_ctrl_c_during_the_final_test_evaluation_is_one_line_and_resume_finishes(
    tmp_path, data_dir, finished
):
    patch = """
import lrux.train.loop as loop
real = loop.evaluate
def evaluating(model, bn_state, split, **k):
    if split.split == "test":
        os.kill(os.getpid(), signal.SIGINT)
    return real(model, bn_state, split, **k)
loop.evaluate = evaluating
"""
    out = tmp_path / "run"
    res = _patched(tmp_path, patch, [*SMOKE, "--data-dir", data_dir, "--out", out])
    assert res.returncode == 128 + signal.SIGINT, res.stderr[-2000:]
    assert "Traceback" not in res.stderr
    assert res.stderr.strip().splitlines()[-1].startswith(
        "error: stopped by SIGINT while evaluating the test split at the best checkpoint; the "
        "training is saved")
    assert not os.path.exists(out / "summary.json")
    assert main([*SMOKE, "--data-dir", data_dir, "--out", str(out), "--resume"]) == 0
    assert json.load(open(out / "summary.json")) == json.load(open(
        os.path.join(finished, "summary.json")))


# ----------------------------------------------------------------------------- optional parts

def test_tensorboard_without_tensorboardx_is_refused_at_start(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)  # import fails as if not installed
    code, lines = call(["--task", "text", "--preset", "smoke", "--data-dir", tmp_path,
                        "--out", tmp_path / "run", "--tensorboard", tmp_path / "tb"], capsys)
    one_error(code, lines, "--tensorboard needs tensorboardX, which is not installed")
    assert not os.path.exists(tmp_path / "run")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("how", ["flag", "env"])
def test_an_unreachable_coordinator_fails_in_bounded_time_with_one_line(tmp_path, how):
    env = dict(os.environ, JAX_PLATFORMS="cpu",
               PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    args = ["--task", "text", "--preset", "smoke", "--data-dir", str(tmp_path), "--out",
            str(tmp_path / "run"), "--coordinator-address", f"127.0.0.1:{_free_port()}",
            "--num-processes", "2", "--process-id", "1"]
    if how == "flag":
        args += ["--coordinator-timeout", "3"]
    else:
        env["LRUX_COORDINATOR_TIMEOUT"] = "3"
    t0 = time.time()
    res = subprocess.run([sys.executable, "-m", "lrux.train", *args], env=env,
                         capture_output=True, text=True, timeout=90)
    took = time.time() - t0
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 2 and len(lines) == 1, res.stderr[-2000:]
    assert "did not all meet at the coordinator 127.0.0.1:" in lines[0]
    assert "within 3 s (--coordinator-timeout)" in lines[0]
    assert took < 60


def test_bad_multi_process_environment_values_are_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LRUX_NUM_PROCESSES", "two")
    code, lines = call(["--task", "text", "--preset", "smoke", "--data-dir", tmp_path,
                        "--out", tmp_path / "run"], capsys)
    one_error(code, lines, "$LRUX_NUM_PROCESSES=two (or --num-processes): expected an integer")


# ----------------------------------------------------------------------------- data

def test_a_partial_generation_is_named_by_training(tmp_path, capsys, monkeypatch):
    import lrux.data.listops as L

    data = tmp_path / "data"
    monkeypatch.setattr(L, "_write_split", lambda path, items: (_ for _ in ()).throw(ENOSPC))
    with pytest.raises(OSError):
        lra.generate_listops(data, train=8, val=2, test=2, min_length=10, max_length=40,
                             workers=1, progress=False)
    monkeypatch.undo()
    code, lines = call([*SMOKE, "--data-dir", data, "--out", tmp_path / "run", "--steps",
                        "2"], capsys)
    assert code == 0, lines
    assert any(f"but an interrupted generation in {data / '.listops-1000.partial'}" in ln
               for ln in lines), lines


def test_text_whose_every_review_is_empty_is_refused_and_some_empty_counted(tmp_path):
    d = write_imdb(str(tmp_path / "some"))
    open(os.path.join(d, "train", "pos", "3_9.txt"), "w").close()
    with pytest.warns(lra.DataWarning, match=r"text train split .*: 1 of 4 examples are empty"):
        lra.load_split("text", "train", tmp_path / "some", progress=False)
    d = write_imdb(str(tmp_path / "all"))
    for split in ("train", "test"):
        for cls in ("pos", "neg"):
            for name in os.listdir(os.path.join(d, split, cls)):
                open(os.path.join(d, split, cls, name), "w").close()
    with pytest.raises(DataError, match=r"text train split .*every one of its 4 examples is "
                       r"empty \(length 0\)"):
        lra.load_split("text", "train", tmp_path / "all", progress=False)


def test_pathfinder_metadata_with_a_byte_order_mark_reads_as_without(tmp_path):
    plain, bom = tmp_path / "plain", tmp_path / "bom"
    write_pathfinder(str(plain), empty=None)
    write_pathfinder(str(bom), empty=None)
    meta = bom / "pathfinder32" / "curv_contour_length_14" / "metadata"
    for name in os.listdir(meta):
        raw = (meta / name).read_bytes()
        (meta / name).write_bytes(b"\xef\xbb\xbf" + raw)  # a Windows editor's UTF-8 BOM
    a = lra.load_split("pathfinder", "train", plain, progress=False, workers=1)
    b = lra.load_split("pathfinder", "train", bom, progress=False, workers=1)
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(a.labels, b.labels)


def test_degenerate_splits_get_counted_warnings(tmp_path):
    from PIL import Image

    write_pathfinder(str(tmp_path), n_folders=1, per_folder=10, empty=None)
    base = tmp_path / "pathfinder32" / "curv_contour_length_14"
    same = np.full((32, 32), 7, np.uint8)
    for png in (base / "imgs" / "0").iterdir():
        Image.fromarray(same, mode="L").save(png)
    meta = base / "metadata" / "0.npy"
    meta.write_text("".join(" ".join(ln.split()[:3] + ["1"] + ln.split()[4:]) + "\n"
                            for ln in meta.read_text().splitlines()))  # every label 1
    with pytest.warns(lra.DataWarning) as got:
        lra.load_split("pathfinder", "train", tmp_path, progress=False, workers=1)
    text = " | ".join(str(w.message) for w in got)
    assert "pathfinder train split" in text and "all 8 examples have label 1" in text
    assert "all 8 inputs are identical" in text


def test_load_split_refuses_option_values_of_the_wrong_type(tmp_path):
    for options, fragment in (({"max_length": "abc"}, "max_length='abc': expected an integer"),
                              ({"max_length": 1e400}, "expected an integer"),
                              ({"workers": 0}, "workers=0: expected an integer >= 1"),
                              ({"progress": "no"}, "progress='no': expected a boolean")):
        with pytest.raises(DataError, match=fragment):
            lra.load_split("listops", "train", tmp_path, **options)
    with pytest.raises(DataError, match="tokenizer='words': expected one of 'bytes', 'chars'"):
        lra.task_spec("text", tokenizer="words")
