"""The learning experiments (benchmarks/learning.py) run end to end at a toy size.

Only the structure of the results and the finiteness of the losses are checked: the
accuracies of a 3-step run mean nothing, and the reported numbers come from real runs.
"""

import importlib.util
import json
import math
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).parent.parent / "benchmarks" / "learning.py"


@pytest.fixture(scope="module")
def learning():
    spec = importlib.util.spec_from_file_location("learning_bench", _PATH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _check_run(run, steps):
    assert run["finite"] is True
    assert 1 <= run["steps_done"] <= steps
    assert math.isfinite(run["final_train_loss"]) and run["final_train_loss"] > 0
    assert math.isfinite(run["test_loss"]) and run["test_loss"] > 0
    assert 0.0 <= run["test_acc"] <= 1.0 and run["test_n"] > 0
    assert run["loss_curve"] and all(math.isfinite(loss) for _, loss in run["loss_curve"])
    assert [s for s, _ in run["loss_curve"]] == sorted(s for s, _ in run["loss_curve"])
    assert run["wall_s"] >= run["train_s"] > 0


def test_delayed_recall_data(learning):
    d = learning.delayed_recall(50, 20, classes=4, distractors=3, seed=5)
    assert d.inputs.shape == (50, 20) and d.labels.shape == (50,)
    for x, y, n in zip(d.inputs, d.labels, d.lengths, strict=True):
        assert n == 20 and 0 <= y < 4
        assert x[0] == y + 1  # the class token, first
        assert all(5 <= t <= 7 for t in x[1:])  # distractors never collide with classes
    assert len(set(d.labels.tolist())) > 1
    again = learning.delayed_recall(50, 20, classes=4, distractors=3, seed=5)
    assert np.array_equal(again.inputs, d.inputs)
    b = d.batch(np.arange(3), 8)
    assert b["inputs"].shape == (8, 20) and b["valid"].tolist() == [True] * 3 + [False] * 5
    with pytest.raises(ValueError, match="length"):
        learning.delayed_recall(4, 1, classes=4, distractors=3, seed=0)


def test_suite_tiny(learning, tmp_path):
    out = tmp_path / "learning.json"
    figs = tmp_path / "figs"
    args = ["--tiny", "--data-dir", str(tmp_path / "data"), "--out", str(out),
            "--fig-dir", str(figs)]
    res = learning.main(args)
    saved = json.loads(out.read_text())
    assert set(learning.EXPERIMENTS) <= set(saved)
    cfg = learning.tiny_config()

    ladder = saved["ladder"]
    assert {(r["task"], r["mixer"], r["seed"]) for r in ladder["runs"]} == {
        (t, m, s) for t in ("listops", "recall") for m in cfg.mixers for s in cfg.seeds}
    for r in ladder["runs"]:
        _check_run(r, cfg.listops_steps if r["task"] == "listops" else cfg.recall_steps)
    assert ladder["config"]["length"] == cfg.length and ladder["wall_s"] > 0
    assert ladder["data"]["recall"]["length"] == cfg.length
    assert ladder["machine"]["backend"] == "cpu"

    signal = saved["signal"]
    assert {(r["mixer"], r["gamma"]) for r in signal["runs"]} == {("lru", True),
                                                                  ("diag-ring", False)}
    for r in signal["runs"]:
        _check_run(r, cfg.recall_steps)

    pf = saved["pathfinder"]["runs"][0]
    _check_run(pf, 100_000)
    assert pf["val_curve"] and all(0 <= v["val_acc"] <= 1 for v in pf["val_curve"])
    assert saved["pathfinder"]["data"]["size"] == 32

    table = learning.markdown(saved)
    assert "| lru |" in table and "Pathfinder-32" in table
    pngs = learning.plot(saved, str(figs), "_t")
    assert len(pngs) == 3 and all(Path(p).stat().st_size > 1000 for p in pngs)
    assert res["invocations"][-1]["experiments"] == list(learning.EXPERIMENTS)

    # merging: a later part replaces the runs it re-measures and keeps the others
    part = json.loads(json.dumps(saved))
    redo = dict(part["ladder"]["runs"][0], test_acc=0.5, steps=7)
    extra = dict(part["ladder"]["runs"][0], seed=99)
    part["ladder"]["runs"] = [redo, extra]
    del part["ladder"]["parts"]
    part = {"ladder": part["ladder"], "invocations": [{"argv": ["part"]}]}
    (tmp_path / "part.json").write_text(json.dumps(part))
    learning.main(args + ["--merge-json", str(tmp_path / "part.json")])
    merged = json.loads(out.read_text())
    keys = [(r["task"], r["mixer"], r["seed"]) for r in merged["ladder"]["runs"]]
    assert len(keys) == len(set(keys)) == len(saved["ladder"]["runs"]) + 1
    first = saved["ladder"]["runs"][0]
    again = [r for r in merged["ladder"]["runs"]
             if (r["task"], r["mixer"], r["seed"]) == (first["task"], first["mixer"], 0)]
    assert again[0]["steps"] == 7 and again[0]["test_acc"] == 0.5
    assert merged["signal"] == saved["signal"] and len(merged["ladder"]["parts"]) == 2
    assert merged["invocations"][-1] == {"argv": ["part"]}


def test_bad_arguments(learning, tmp_path):
    base = ["--tiny", "--out", str(tmp_path / "x.json")]
    with pytest.raises(ValueError, match="--only"):
        learning.main(base + ["--only", "ladder,nope"])
    with pytest.raises(ValueError, match="--mixers"):
        learning.main(base + ["--mixers", "not-a-mixer"])
    with pytest.raises(ValueError, match="--steps"):
        learning.main(base + ["--steps", "0"])
    with pytest.raises(ValueError, match="--plot"):
        learning.main(base + ["--plot"])
