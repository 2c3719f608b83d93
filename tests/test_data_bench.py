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
