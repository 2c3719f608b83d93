"""Run-directory files: `metrics.jsonl`, config.json and summary.json.

`metrics.jsonl` (one JSON object per line) is the source of truth; the writers of
`lrux.train.writers` (`TensorBoardWriter`, `WandbWriter`, or anything with `write(record)`
and `close()`) receive the same records, and the run's config through `write_config`.
config.json and summary.json are written atomically.
"""

import json
import math
import os
from collections.abc import Iterable
from typing import Any

# the writers moved to lrux.train.writers; imported from here too, as before
from lrux.train.writers import MetricsWriter, TensorBoardWriter

__all__ = ["MetricsLog", "MetricsWriter", "TensorBoardWriter", "read_metrics", "write_json"]


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value


class MetricsLog:
    """Appends `{"step", "split", "loss", "accuracy", ...}` lines to `RUN_DIR/metrics.jsonl`
    and hands each record to `writers`.

    Only the writing process (process 0) touches the file; `truncate_after(step)` drops lines
    past a restored checkpoint so a resumed run's file equals an uninterrupted run's.
    """

    def __init__(self, run_dir: str, *, enabled: bool = True,
                 writers: Iterable[MetricsWriter] = ()):
        self.path = os.path.join(run_dir, "metrics.jsonl")
        self.enabled = enabled
        self.writers = list(writers) if enabled else []

    def write(self, **record: Any) -> None:
        if not self.enabled:
            return
        with open(self.path, "a") as f:
            f.write(json.dumps({k: _clean(v) for k, v in record.items()}) + "\n")
            f.flush()
        for w in self.writers:
            w.write(dict(record))

    def write_config(self, config: dict[str, Any]) -> None:
        """Hand the run's config (as config.json holds it) to each writer that takes one."""
        if not self.enabled:
            return
        plain = json.loads(json.dumps(config, default=str))
        for w in self.writers:
            write_config = getattr(w, "write_config", None)
            if callable(write_config):
                write_config(plain)

    def truncate_after(self, step: int, *, drop_tests: bool = False) -> None:
        """Keep the records of steps <= `step` (and no test records if `drop_tests`)."""
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
                if rec.get("step", 0) <= step and not (drop_tests and rec.get("split") == "test"):
                    keep.append(line)
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("".join(line + "\n" for line in keep))
        os.replace(tmp, self.path)

    def close(self) -> None:
        for w in self.writers:
            w.close()


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
