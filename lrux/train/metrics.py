"""Run-directory files: config.json, metrics.jsonl (one JSON object per line), summary.json."""

import json
import math
import os
from typing import Any


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    """Appends `{"step", "split", "loss", "accuracy", ...}` lines to `RUN_DIR/metrics.jsonl`.

    Only the writing process (process 0) touches the file; `truncate_after(step)` drops lines
    past a restored checkpoint so a resumed run's file equals an uninterrupted run's.
    """

    def __init__(self, run_dir: str, *, enabled: bool = True):
        self.path = os.path.join(run_dir, "metrics.jsonl")
        self.enabled = enabled

    def write(self, **record: Any) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")
            f.flush()

    def truncate_after(self, step: int) -> None:
        if not self.enabled or not os.path.exists(self.path):
            return
        keep = []
        with open(self.path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:  # a line cut by a kill
                    continue
                if rec.get("step", 0) <= step:
                    keep.append(line)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in keep))
        os.replace(tmp, self.path)


def read_metrics(run_dir: str) -> list[dict[str, Any]]:
    """Every record of `RUN_DIR/metrics.jsonl`."""
    with open(os.path.join(run_dir, "metrics.jsonl")) as f:
        return [json.loads(line) for line in f if line.strip()]


def write_json(path: str, obj: Any) -> None:
    """Write `obj` as indented JSON atomically (temporary file then rename)."""
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True, default=str)
        f.write("\n")
    os.replace(tmp, path)
