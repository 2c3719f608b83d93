"""Run-directory files and metrics writers.

`metrics.jsonl` (one JSON object per line) is the source of truth; other writers
(`TensorBoardWriter`, or anything with `write(record)` and `close()`, e.g. a wandb adapter)
receive the same records. config.json and summary.json are written atomically.
"""

import json
import math
import os
from collections.abc import Iterable
from typing import Any, Protocol


class MetricsWriter(Protocol):
    """What `lrux.train.run(..., writers=...)` accepts."""

    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


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

    def __init__(self, run_dir: str, *, enabled: bool = True, writers: Iterable = ()):
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


class TensorBoardWriter:
    """Scalars `SPLIT/KEY` (loss, accuracy, lr, steps_per_sec) at each record's step, written
    with tensorboardX (`pip install 'lrux[tensorboard]'`)."""

    def __init__(self, logdir: str):
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            raise ImportError("TensorBoardWriter needs tensorboardX: pip install "
                              "'lrux[tensorboard]' (or tensorboardX)") from e
        self.writer = SummaryWriter(logdir)

    def write(self, record: dict[str, Any]) -> None:
        split, step = record.get("split", "train"), int(record.get("step", 0))
        for key, value in record.items():
            if key not in ("step", "split") and isinstance(value, int | float):
                self.writer.add_scalar(f"{split}/{key}", float(value), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


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
