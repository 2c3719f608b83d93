"""The data benchmark runs end to end at its --quick size (timings are not asserted)."""

import importlib.util
import json
import os
from pathlib import Path

import pytest


def test_bench_data_quick(tmp_path):
    pytest.importorskip("scipy")
    path = Path(__file__).parent.parent / "benchmarks" / "bench_data.py"
    spec = importlib.util.spec_from_file_location("bench_data", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    res = mod.main(["--quick", "--out", str(tmp_path)])
    saved = json.loads((tmp_path / "data_quick.json").read_text())
    assert saved["quick"] and saved["listops"]["n"] == 50
    assert {r["task"] for r in res["pipeline"]} == {"listops", "text", "retrieval", "image",
                                                    "pathfinder", "pathx"}
    assert all(r["examples_per_s"] > 0 for r in res["pipeline"])
    assert os.path.basename(str(tmp_path / "data_quick.json")) == "data_quick.json"


def test_listops_stats_quick(tmp_path):
    """The ListOps statistics script runs, and its reference is LRA's algorithm: every
    accepted reference tree parses, has its counted length and the value an independent
    evaluator gives (test_data_generators.oracle_value)."""
    pytest.importorskip("scipy")
    import random

    from test_data_generators import oracle_value

    path = Path(__file__).parent.parent / "benchmarks" / "listops_stats.py"
    spec = importlib.util.spec_from_file_location("listops_stats", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rng = random.Random(0)
    checked = 0
    while checked < 20:
        tree, length = mod.ref_tree(rng, 1)
        flat = [t for t in mod.ref_string(tree).split() if t not in "()"]
        assert len(flat) == length
        if length > 1:
            assert mod.ref_value(tree) == oracle_value(flat)
            checked += 1
    res = mod.main(["--draws", "1500", "--out", str(tmp_path / "s.json")])
    saved = json.loads((tmp_path / "s.json").read_text())
    assert saved["lrux"]["draws"] == saved["reference"]["draws"] == 1500
    for side in ("lrux", "reference"):
        d = res[side]
        assert 0.04 < d["acceptance"] < 0.14 and sum(d["label_counts"]) == d["accepted"]
        assert 500 < d["median_length"] < 2000
    assert set(saved["tests"]) == {"labels_chi2_p", "acceptance_chi2_p", "lengths_ks_p"}
    assert "| label 0 |" in mod.table(saved)
