"""Run-directory files: `metrics.jsonl`, config.json and summary.json.

`metrics.jsonl` (one JSON object per line) is the source of truth; the writers of
`lrux.train.writers` (`TensorBoardWriter`, `WandbWriter`, or anything with `write(record)`
and `close()`) receive the same records, and the run's config through `write_config`.
config.json and summary.json are written atomically.
"""

import contextlib
import json
import math
import os
import warnings
from collections.abc import Iterable
from typing import Any

from lrux.errors import ConfigError, WriteError

# the writers moved to lrux.train.writers; imported from here too, as before
from lrux.train.writers import MetricsWriter, TensorBoardWriter

__all__ = ["MetricsLog", "MetricsWriter", "TensorBoardWriter", "parse_records", "read_metrics",
           "write_json", "write_text"]


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
        line = json.dumps({k: _clean(v) for k, v in record.items()}) + "\n"
        _append(self.path, line)
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

    def records(self) -> list[dict[str, Any]]:
        """The records written so far (see `parse_records`)."""
        if not os.path.exists(self.path):
            return []
        return [rec for rec, _ in parse_records(self.path)[0]]

    def truncate_after(self, step: int, *, drop_tests: bool = False) -> list[str]:
        """Keep the records of steps <= `step` (and no test records if `drop_tests`).

        A last line cut by a kill is dropped and said so (the returned notes); any other
        line that is not a record stops with a ConfigError naming its line number, and the
        file is left as it was."""
        if not self.enabled or not os.path.exists(self.path):
            return []
        recs, notes = parse_records(self.path)
        keep = [line for rec, line in recs
                if rec["step"] <= step and not (drop_tests and rec["split"] == "test")]
        dropped = len(recs) - len(keep)
        if dropped:
            notes.append(f"{self.path}: {dropped} record(s) after step {step}"
                         f"{' or of the test split' if drop_tests else ''} removed (the "
                         "resumed run writes them again)")
        write_text(self.path, "".join(line + "\n" for line in keep))
        return notes

    def close(self) -> None:
        for w in self.writers:
            w.close()


def _append(path: str, line: str) -> None:
    """Append `line` to `path`; on a failing disk, cut the file back to its old size."""
    try:
        with open(path, "a") as f:
            size = f.tell()
            try:
                f.write(line)
                f.flush()
            except OSError:
                f.truncate(size)
                raise
    except OSError as e:
        raise WriteError(f"could not append a record to {path} ({e.strerror or e}); the "
                         "file holds every earlier record, nothing half-written. Free some "
                         "space and continue with --resume") from None


def parse_records(path: str) -> tuple[list[tuple[dict[str, Any], str]], list[str]]:
    """((record, line) for every record of a metrics file, notes). A last line that is
    not a record (cut by a kill) is left out with a note; any other raises ConfigError
    naming the file and line."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]
    out, notes = [], []
    for i, (lineno, line) in enumerate(lines):
        why = _not_a_record(line)
        if why is None:
            out.append((json.loads(line), line))
        elif i == len(lines) - 1:
            notes.append(f"{path}:{lineno}: the last line is not a record ({why}; cut by a "
                         f"kill?): left out: {line[:80]!r}")
        else:
            raise ConfigError(f"{path}:{lineno}: not a metrics record ({why}): "
                              f"{line[:80]!r}; repair or remove that line (records after it "
                              "follow), then run again")
    return out, notes


def _not_a_record(line: str) -> str | None:
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return f"not JSON: {e.msg} at column {e.colno}"
    if not isinstance(rec, dict):
        return f"a JSON {type(rec).__name__}, not an object"
    if isinstance(rec.get("step"), bool) or not isinstance(rec.get("step"), int) or \
            not isinstance(rec.get("split"), str):
        return "no integer 'step' and text 'split'"
    return None


def read_metrics(run_dir: str) -> list[dict[str, Any]]:
    """Every record of `RUN_DIR/metrics.jsonl` (a last line cut by a kill is left out with a
    `DataWarning`; a damaged line elsewhere raises ConfigError naming its line)."""
    from lrux.data.spec import DataWarning

    recs, notes = parse_records(os.path.join(run_dir, "metrics.jsonl"))
    for note in notes:
        warnings.warn(note, DataWarning, stacklevel=2)
    return [rec for rec, _ in recs]


def write_text(path: str, text: str) -> None:
    """Write `text` to `path` atomically (temporary file then rename); WriteError naming the
    file when the disk refuses (the old file is then untouched)."""
    tmp = path + ".tmp"
    try:
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except OSError as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise WriteError(f"could not write {path} ({e.strerror or e}); the earlier "
                         f"{os.path.basename(path)} (if any) is untouched. Free some space "
                         "and continue with --resume") from None


def write_json(path: str, obj: Any) -> None:
    """Write `obj` as indented JSON atomically (temporary file then rename)."""
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")
