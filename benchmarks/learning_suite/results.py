"""The results JSON: run keys, merging run by run, partial snapshots, atomic writes.

A results file holds one section per experiment (`runs`, `config`, `data`, `parts`, ...)
and the list of `invocations` that wrote it. A later run with the same `run_key` replaces
an earlier one; every other run is kept. While an invocation runs, its finished runs are
written after each one (marked `partial`), so an interrupted suite keeps them.
"""

import datetime
import json
import os
import platform
import time
from typing import Any

from lrux.errors import ConfigError

from .config import EXPERIMENTS

SECTIONS = (*EXPERIMENTS, "medium", "gpu")
_PART_KEYS = ("config", "date", "wall_s", "machine", "invocation", "partial")


def now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def machine() -> dict[str, Any]:
    import jax

    return {"backend": jax.default_backend(), "jax": jax.__version__,
            "cpus": os.cpu_count(), "processor": platform.machine(),
            "load_avg_at_end": list(os.getloadavg())}


def run_key(experiment: str, run: dict[str, Any]) -> tuple:
    """What a run measures: a later run with the same key replaces it when merging."""
    if experiment == "ladder":
        return (run["task"], run["mixer"], run["seed"])
    if experiment == "signal":
        return (run["sweep"], run["mixer"], run["r_min"], run["r_max"], run["max_phase"],
                run["seed"])
    return (run["task"], run["seed"])


def _parts(section: dict[str, Any]) -> list[dict[str, Any]]:
    return section.get("parts") or [{k: section.get(k) for k in _PART_KEYS if k in section}]


def merge_section(name: str, old: dict[str, Any] | None, new: dict[str, Any]) -> dict[str, Any]:
    """`new` with the runs of `old` that it does not re-measure (kept first, in order).

    Each run carries its own steps, batch and model sizes; `parts` lists the config, date
    and wall time of every invocation that contributed runs."""
    if old is None:
        return {**new, "parts": _parts(new)}
    fresh = {run_key(name, r) for r in new["runs"]}
    kept = [r for r in old["runs"] if run_key(name, r) not in fresh]
    merged = {**new, "runs": kept + new["runs"], "parts": _parts(old) + _parts(new)}
    if isinstance(old.get("data"), dict) or isinstance(new.get("data"), dict):
        merged["data"] = {**(old.get("data") or {}), **(new.get("data") or {})}
    merged["wall_s"] = sum(p.get("wall_s") or 0.0 for p in merged["parts"])
    return merged


def strip_invocation(results: dict[str, Any], invocation: str) -> dict[str, Any]:
    """`results` without the runs and parts written by `invocation` (its snapshots)."""
    out = dict(results)
    for name in SECTIONS:
        if name not in out:
            continue
        sec = dict(out[name])
        sec["runs"] = [r for r in sec["runs"] if r.get("invocation") != invocation]
        sec["parts"] = [p for p in sec.get("parts", []) if p.get("invocation") != invocation]
        if sec["runs"] or sec["parts"]:  # parts are history even when re-measured since
            out[name] = sec
        else:
            del out[name]
    return out


def merge_results(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Sections of `new` merged run by run into `old` (`merge_section`); the invocations of
    both kept."""
    out = dict(old)
    for name in SECTIONS:
        if name in new:
            out[name] = merge_section(name, old.get(name), new[name])
    invocations = list(old.get("invocations", []))
    invocations += [i for i in new.get("invocations", []) if i not in invocations]
    if invocations:
        out["invocations"] = invocations
    for k in ("benchmark", "quick", "tier"):
        if k in new:
            out[k] = new[k]
    return out


def read_json(path: str) -> dict[str, Any]:
    """The results at `path` ({} when absent); ConfigError naming the file when unreadable."""
    if not os.path.exists(path):
        return {}
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise ConfigError(f"{path}: not a readable results JSON ({e}); move it away or pass "
                         "--no-merge with another --out") from None


def write_json(results: dict[str, Any], path: str) -> None:
    """Write atomically (temporary file, then rename): a kill never leaves half a file."""
    os.makedirs(os.path.dirname(os.path.abspath(path)) or ".", exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    with open(tmp, "w") as f:
        json.dump(results, f, indent=1, allow_nan=True)
    os.replace(tmp, path)


class ResultsFile:
    """One invocation's view of a results JSON: snapshots while it runs, the merge at the end.

    `merge=False` (--no-merge) starts from nothing instead of the file's current runs."""

    def __init__(self, path: str, *, merge: bool = True, invocation: str | None = None):
        self.path, self.merge = path, merge
        self.invocation = invocation or f"{now()}-{os.getpid()}"
        self.t0 = time.perf_counter()

    def base(self) -> dict[str, Any]:
        """The JSON as it is now, without this invocation's earlier snapshots (re-read each
        time: another invocation may have written it meanwhile)."""
        return strip_invocation(read_json(self.path), self.invocation) if self.merge else {}

    def _stamp(self, section: dict[str, Any]) -> dict[str, Any]:
        for r in section["runs"]:
            r["invocation"] = self.invocation
        section["invocation"] = self.invocation
        return section

    def snapshot(self, name: str, runs: list[dict[str, Any]], config: dict[str, Any],
                 t_start: float) -> None:
        """Write the runs of experiment `name` finished so far, marked partial."""
        section = {"runs": [dict(r) for r in runs], "partial": True, "config": config,
                   "wall_s": time.perf_counter() - t_start, "machine": machine(),
                   "date": now()}
        write_json(merge_results(self.base(), {name: self._stamp(section)}), self.path)

    def finish(self, new: dict[str, Any], *, argv: list[str], meta: dict[str, Any]
               ) -> dict[str, Any]:
        """Merge the finished sections `new` into the file, add this invocation, write it."""
        for section in new.values():
            self._stamp(section)
        results = merge_results(self.base(), new)
        results.update(meta)
        results.setdefault("invocations", []).append({
            "argv": list(argv), "experiments": list(new), "date": now(),
            "wall_s": time.perf_counter() - self.t0,
        })
        write_json(results, self.path)
        return results
