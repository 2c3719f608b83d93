"""The learning suite (benchmarks/learning_suite, `python benchmarks/learning.py`) runs end
to end at toy sizes, merges its JSON run by run, and keeps its contracts.

Only the structure of the results and the finiteness of the losses are checked: the
accuracies of a 3-step run mean nothing, and the reported numbers come from real runs.
"""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from benchmarks.learning_suite import config, main, tasks
from benchmarks.learning_suite.experiments import suite_preset
from benchmarks.learning_suite.results import ResultsFile, read_json
from benchmarks.learning_suite.trainer import StepCache, train_run

ROOT = Path(__file__).parent.parent


def _check_run(run, steps):
    assert run["finite"] is True
    assert 1 <= run["steps_done"] <= steps
    assert math.isfinite(run["final_train_loss"]) and run["final_train_loss"] > 0
    assert math.isfinite(run["test_loss"]) and run["test_loss"] > 0
    assert 0.0 <= run["test_acc"] <= 1.0 and run["test_n"] > 0
    assert run["loss_curve"] and all(math.isfinite(loss) for _, loss in run["loss_curve"])
    assert [s for s, _ in run["loss_curve"]] == sorted(s for s, _ in run["loss_curve"])
    assert run["wall_s"] >= run["train_s"] > 0


def test_delayed_recall_data():
    d = tasks.delayed_recall(50, 20, classes=4, distractors=3, seed=5)
    assert d.inputs.shape == (50, 20) and d.labels.shape == (50,)
    for x, y, n in zip(d.inputs, d.labels, d.lengths, strict=True):
        assert n == 20 and 0 <= y < 4
        assert x[0] == y + 1  # the cue, first
        assert all(5 <= t <= 7 for t in x[1:])  # distractors never collide with cues
    assert len(set(d.labels.tolist())) > 1
    again = tasks.delayed_recall(50, 20, classes=4, distractors=3, seed=5)
    assert np.array_equal(again.inputs, d.inputs)
    # the documented draws, replayed with numpy's generator directly
    rng = np.random.default_rng([5, 20, 4, 3])
    labels = rng.integers(0, 4, 50)
    grid = rng.integers(5, 8, (50, 20))
    grid[:, 0] = labels + 1
    assert np.array_equal(d.labels, labels) and np.array_equal(d.inputs, grid)
    b = d.batch(np.arange(3), 8)
    assert b.inputs.shape == (8, 20) and b.valid.tolist() == [True] * 3 + [False] * 5
    from lrux.errors import DataError

    with pytest.raises(DataError, match="length"):
        tasks.delayed_recall(4, 1, classes=4, distractors=3, seed=0)


def test_ladder_presets_take_the_ring_from_the_registry():
    from lrux.presets import takes_ring

    cfg = config.full_config()
    ladder = cfg.ladder()
    assert ladder[-len(config.COMPARISON):] == config.COMPARISON and "lru" in ladder
    assert {"diag-ring", "lru"} <= {m for m in ladder if takes_ring(m)}
    lo = config.table9_ring("listops")
    assert lo == (0.0, 0.99, 2 * math.pi)  # Table 9's ListOps ring, not Pathfinder's
    for mixer in ladder:
        opts = suite_preset("listops", mixer, cfg, steps=1, batch=2, ring=lo[:2]).mixer_options
        assert (opts == {"r_min": 0.0, "r_max": 0.99, "max_phase": 2 * math.pi}) == \
            takes_ring(mixer), mixer


def _committed_outputs() -> dict[str, tuple[int, int]]:
    """(mtime_ns, size) of every file under docs/ and benchmarks/results/."""
    files = [p for d in ("docs", "benchmarks/results") for p in (ROOT / d).rglob("*")
             if p.is_file()]
    return {str(p): (p.stat().st_mtime_ns, p.stat().st_size) for p in files}


def test_a_registered_rung_joins_the_ladder(tmp_path):
    """The toy rung of test_adding_a_mixer.py, registered for this test only, is trained by
    the ladder with its ring, without editing any file of the suite; with --out elsewhere
    neither the run nor its figures (--plot) write into docs/ or benchmarks/results/."""
    from test_adding_a_mixer import ENTRY, NAME

    from lrux.registry import register_mixer

    before = _committed_outputs()
    out = tmp_path / "elsewhere" / "l.json"
    with register_mixer(NAME, ENTRY):
        assert NAME in config.ladder_mixers()
        main(["--tiny", "--only", "ladder", "--tasks", "recall", "--mixers", NAME,
              "--data-dir", str(tmp_path), "--out", str(out)])
        main(["--tiny", "--plot", "--out", str(out)])
    (run,) = read_json(str(out))["ladder"]["runs"]
    assert run["mixer"] == NAME and run["finite"] and run["steps_done"] == 3
    assert (run["model"]["r_min"], run["model"]["r_max"]) == config.tiny_config().ring
    assert NAME not in config.ladder_mixers()
    assert _committed_outputs() == before
    assert sorted(p.name for p in out.parent.glob("*.png"))  # the figures went beside --out


def test_cached_steps_train_as_fresh_ones():
    """Runs that reuse another seed's compiled steps train exactly as with their own."""
    cfg = config.tiny_config()
    train, test = tasks.recall_splits(cfg)
    spec = tasks.token_spec("recall", cfg.recall_classes, cfg.length,
                            1 + cfg.recall_classes + cfg.recall_distractors)
    preset = suite_preset("recall", "lru", cfg, steps=3, batch=8, pooling="last")
    shared = StepCache()
    runs = [train_run(preset, spec, train, test, seed=s, log_every=1, cache=c)
            for s, c in ((0, shared), (1, shared), (1, StepCache()))]
    assert runs[1]["loss_curve"] == runs[2]["loss_curve"]
    assert runs[1]["test_loss"] == runs[2]["test_loss"]
    assert runs[0]["loss_curve"] != runs[1]["loss_curve"]  # the seed does matter


def test_results_file_snapshots_then_merges(tmp_path):
    path = str(tmp_path / "r.json")
    old = {"ladder": {"runs": [{"task": "recall", "mixer": "lru", "seed": 0, "v": 1},
                               {"task": "recall", "mixer": "lru", "seed": 1, "v": 1}]}}
    Path(path).write_text(json.dumps(old))
    f = ResultsFile(path)
    run = {"task": "recall", "mixer": "lru", "seed": 1, "v": 2}
    f.snapshot("ladder", [run], {"c": 1}, 0.0)
    snap = read_json(path)["ladder"]
    assert snap["partial"] and [r["v"] for r in snap["runs"]] == [1, 2]
    done = f.finish({"ladder": {"runs": [dict(run, v=3)], "config": {}}}, argv=["x"], meta={})
    assert [(r["seed"], r["v"]) for r in done["ladder"]["runs"]] == [(0, 1), (1, 3)]
    assert read_json(path) == done and done["invocations"][-1]["argv"] == ["x"]
    Path(path).write_text("{not json")
    with pytest.raises(ValueError, match="r.json"):
        read_json(path)


def test_suite_tiny(tmp_path):
    out = tmp_path / "learning.json"
    figs = tmp_path / "figs"
    args = ["--tiny", "--data-dir", str(tmp_path / "data"), "--out", str(out),
            "--fig-dir", str(figs)]
    res = main(args)
    saved = json.loads(out.read_text())
    assert set(config.EXPERIMENTS) <= set(saved)
    cfg = config.tiny_config()

    ladder = saved["ladder"]
    assert {(r["task"], r["mixer"], r["seed"]) for r in ladder["runs"]} == {
        (t, m, s) for t in ("listops", "recall") for m in cfg.ladder() for s in cfg.seeds}
    for r in ladder["runs"]:
        _check_run(r, cfg.listops_steps if r["task"] == "listops" else cfg.recall_steps)
        ring = (0.0, 0.99) if r["task"] == "listops" else cfg.ring
        assert (r["model"]["r_min"], r["model"]["r_max"]) == ring
    assert ladder["config"]["length"] == cfg.length and ladder["wall_s"] > 0
    assert ladder["data"]["recall"]["length"] == cfg.length
    assert ladder["data"]["listops"]["ring"][:2] == [0.0, 0.99]
    assert ladder["machine"]["backend"] == "cpu"
    assert "partial" not in ladder  # the final write replaced the snapshots

    signal = saved["signal"]
    assert {(r["mixer"], r["gamma"]) for r in signal["runs"]} == {("lru", True),
                                                                  ("diag-ring", False)}
    for r in signal["runs"]:
        _check_run(r, cfg.recall_steps)

    pf = saved["pathfinder"]["runs"][0]
    _check_run(pf, 100_000)
    assert pf["val_curve"] and all(0 <= v["val_acc"] <= 1 for v in pf["val_curve"])
    assert saved["pathfinder"]["data"]["size"] == 32

    from benchmarks.learning_suite import plots, report

    table = report.markdown(saved)
    assert "| lru |" in table and "Pathfinder-32" in table
    pngs = plots.plot(saved, str(figs), "_t")
    assert len(pngs) == 3 and all(Path(p).stat().st_size > 1000 for p in pngs)
    assert res["invocations"][-1]["experiments"] == list(config.EXPERIMENTS)

    # merging: a later part replaces the runs it re-measures and keeps the others
    part = json.loads(json.dumps(saved))
    redo = dict(part["ladder"]["runs"][0], test_acc=0.5, steps=7)
    extra = dict(part["ladder"]["runs"][0], seed=99)
    part["ladder"]["runs"] = [redo, extra]
    del part["ladder"]["parts"]
    part = {"ladder": part["ladder"], "invocations": [{"argv": ["part"]}]}
    (tmp_path / "part.json").write_text(json.dumps(part))
    main(args + ["--merge-json", str(tmp_path / "part.json")])
    merged = json.loads(out.read_text())
    keys = [(r["task"], r["mixer"], r["seed"]) for r in merged["ladder"]["runs"]]
    assert len(keys) == len(set(keys)) == len(saved["ladder"]["runs"]) + 1
    first = saved["ladder"]["runs"][0]
    again = [r for r in merged["ladder"]["runs"]
             if (r["task"], r["mixer"], r["seed"]) == (first["task"], first["mixer"], 0)]
    assert again[0]["steps"] == 7 and again[0]["test_acc"] == 0.5
    assert merged["signal"] == saved["signal"] and len(merged["ladder"]["parts"]) == 2
    assert merged["invocations"][-1] == {"argv": ["part"]}


@pytest.mark.slow
def test_medium_tier_tiny_runs_then_resumes(tmp_path):
    """The medium tier trains through lrux.train.run into run directories; a second
    invocation finds both runs finished and changes nothing in them."""
    runs_dir = tmp_path / "runs"
    out = tmp_path / "medium.json"
    args = ["--medium", "--tiny", "--data-dir", str(tmp_path / "data"), "--runs-dir",
            str(runs_dir), "--out", str(out), "--fig-dir", str(tmp_path / "figs")]
    main(args)
    saved = json.loads(out.read_text())
    cfg = config.medium_tiny_config()
    runs = {r["task"]: r for r in saved["medium"]["runs"]}
    assert set(runs) == {"listops", "pathfinder"} and saved["tier"] == "medium"
    for task, r in runs.items():
        steps = cfg.listops_steps if task == "listops" else cfg.pf_steps
        assert r["status"] == "finished" and 0 <= r["test_acc"] <= 1
        assert [v["step"] for v in r["val"]] == [2, 4] and r["train"][-1]["step"] == steps
        assert r["paper_test_acc"] == config.PAPER_TEST_ACC[task]
        assert r["scaled"]["depth"] == [6, 1] and r["preset"]["lr"] > 0
        assert os.path.exists(runs_dir / task / "summary.json")
    assert runs["listops"]["preset"]["mixer_options"]["r_max"] == 0.99
    assert runs["pathfinder"]["preset"]["bidirectional"] is True
    assert (tmp_path / "figs" / "learning_medium.png").stat().st_size > 1000
    before = {t: (runs_dir / t / "metrics.jsonl").read_bytes() for t in runs}
    again = main(args)
    assert [(r["test_acc"], r["reused"]) for r in again["medium"]["runs"]] == [
        (runs["listops"]["test_acc"], True), (runs["pathfinder"]["test_acc"], True)]
    assert [r["val"] for r in again["medium"]["runs"]] == [runs[t]["val"] for t in runs]
    assert before == {t: (runs_dir / t / "metrics.jsonl").read_bytes() for t in runs}
    assert len(again["invocations"]) == len(again["medium"]["parts"]) == 2
    # another preset over the same run directories: refused, and nothing is changed
    saved_bytes = out.read_bytes()
    from lrux.errors import ConfigError

    with pytest.raises(ConfigError, match="another preset.*steps"):
        main(args + ["--steps", "5"])
    assert out.read_bytes() == saved_bytes
    assert before == {t: (runs_dir / t / "metrics.jsonl").read_bytes() for t in runs}


def test_figures_go_beside_an_out_that_points_elsewhere(tmp_path):
    """With --out outside the repository, figures never land in docs/ (only the default
    --out writes the committed figures); --fig-dir still wins."""
    from benchmarks.learning_suite.cli import parse
    from benchmarks.learning_suite.commands import FIGURES

    out = tmp_path / "elsewhere" / "l.json"
    assert parse(["--quick", "--out", str(out)]).fig_dir == str(out.parent)
    assert parse(["--quick"]).fig_dir == FIGURES
    assert parse(["--quick", "--out", str(out), "--fig-dir", str(tmp_path)]).fig_dir == str(
        tmp_path)


def test_bad_arguments(tmp_path):
    base = ["--tiny", "--out", str(tmp_path / "x.json")]
    for flags, match in ((["--only", "ladder,nope"], "--only"),
                         (["--mixers", "not-a-mixer"], "--mixers"),
                         (["--steps", "0"], "--steps"), (["--seeds", "a,b"], "--seeds"),
                         (["--plot"], "--plot"), (["--medium", "--tasks", "recall"], "--tasks"),
                         (["--medium", "--seeds", "2"], "--seeds"),
                         (["--medium", "--only", "ladder"], "--only")):
        with pytest.raises(ValueError, match=match):
            main(base + flags)
    assert not (tmp_path / "x.json").exists()


def test_documented_command_reports_one_line_errors(tmp_path):
    """`python benchmarks/learning.py` (the wrapper) with a bad flag: one line, status 2."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "learning.py"), "--only",
                        "nope", "--out", str(tmp_path / "x.json")], capture_output=True,
                       text=True, env=env, cwd=tmp_path, timeout=120)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().splitlines() == [r.stderr.strip()]
    assert r.stderr.startswith("error: --only 'nope'") and "Traceback" not in r.stderr


@pytest.mark.slow
def test_gpu_runs_stop_at_their_budget(tmp_path):
    """gpu_learning.sh's steps on CPU at toy sizes: the calibrated step count overshoots the
    real loop here, so the budget guard stops the run and it is tested where it stopped."""
    from benchmarks.learning_suite import gpu

    data, out = str(tmp_path / "data"), str(tmp_path / "gpu.json")
    assert gpu.main(["generate", "listops", "--tiny", "--data-dir", data, "--workers", "1"]) == 0
    rc = gpu.main(["train", "listops", "--tiny", "--budget-s", "2", "--data-dir", data,
                   "--runs-dir", str(tmp_path / "runs"), "--out", out, "--workers", "1"])
    rec = read_json(out)["gpu"]["runs"][0]
    assert rc == 0 and rec["status"] == "finished" and rec["budget_s"] == 2
    assert rec["calibrated_steps"] >= 2 and rec["synthetic_steps_per_sec"] > 0
    done = rec["preset"]["steps"]
    assert rec["train"][-1]["step"] == done and rec["test"][-1]["count"] == 16
    if rec.get("stopped_at_budget"):  # the usual case on a CPU
        assert done < rec["planned_steps"] == rec["calibrated_steps"]
    assert gpu.main(["train", "listops", "--tiny", "--budget-s", "0", "--data-dir", data,
                     "--runs-dir", str(tmp_path / "r2"), "--out", out]) == 2
