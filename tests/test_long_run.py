"""The long runs' records replay (issue 22), on a small version: a smoke-size ListOps run
made by its own commands, its record, and those commands run again, which must log the same
first 20 losses. The check can fail: a record with one loss changed does not match."""

import json
import os
import subprocess
import sys
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from benchmarks import long_run  # noqa: E402

KEYS = ("commands", "preset", "lengths", "train_loss", "val", "test_accuracy", "majority",
        "steps", "steps_per_s", "wall_s", "load", "commit")


def _commands(root: str) -> list[str]:
    return [
        f"python -m lrux.data generate listops --out {root}/data --train 256 --val 32 "
        "--test 32 --min-length 20 --max-length 100 --seed 1 --workers 1",
        f"python -m lrux.train --task listops --preset smoke --data-dir {root}/data --out "
        f"{root}/run --seed 0 --no-progress --set steps=40 --set log_every=1 "
        "--set eval_every=20 --set batch_size=16",
    ]


@pytest.mark.slow
def test_a_record_replays_its_first_20_losses(tmp_path):
    root = str(tmp_path / "small_run")
    os.makedirs(root)
    commands = _commands(root)
    with open(os.path.join(root, "commands.sh"), "w") as f:
        f.write("\n".join(commands) + "\n")
    start = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    for c in commands:
        subprocess.run([sys.executable, *c.split()[1:]], cwd=REPO, check=True,
                       capture_output=True)
    end = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() + 1))
    with open(os.path.join(root, "invocations.jsonl"), "w") as f:
        f.write(json.dumps({"start": start, "end": end, "rc": 0}) + "\n")
    with open(os.path.join(root, "load.log"), "w") as f:
        f.write(f"{start} 1.5 1.0 0.5 1/100 1\n")
    record = long_run.build_record(root)
    for key in KEYS:
        assert key in record, key
    assert [s for s, _ in record["train_loss"]] == list(range(1, 41))  # every step <= 200
    assert [s for s, _ in record["val"]] == [20, 40]
    assert 20 <= record["lengths"][0] <= record["lengths"][1] <= 100
    assert all(0 < r <= 1 for r in record["majority"].values())
    assert record["finished"] and record["test_accuracy"] is not None
    assert record["load"]["samples"] == 1 and record["wall_s"] > 0

    losses = long_run.replay(record, 20, str(tmp_path / "replay"))
    assert long_run.compare(record, losses) <= 1e-6
    changed = json.loads(json.dumps(record))
    changed["train_loss"][7][1] += 1e-3
    assert long_run.compare(changed, losses) > 1e-5
