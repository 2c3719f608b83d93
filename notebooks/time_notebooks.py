"""Run the course notebooks top to bottom and record how long they take.

    python notebooks/time_notebooks.py                 # every notebook, full size
    python notebooks/time_notebooks.py 03 05           # some of them (by number or name)
    python notebooks/time_notebooks.py --markdown      # print the table of the last run

Each notebook is executed (nbclient, its live figures drawn once as images) in this folder.
For each it records the wall time, the kernel's CPU time (user + system, all threads), the
load average before and after (the machine may be shared), and the time of every live
figure's redraw at the other slider values (wall and CPU; the first draw, which compiles, is
kept apart). Results are merged into reference/timings.json (only the notebooks run are
replaced). Wall times depend on the machine's load (recorded); a slider's CPU time much
less so. (Notebook 5's reference run is `python benchmarks/ladder_reference.py`.)
"""

import argparse
import datetime
import json
import os
import pathlib
import platform
import statistics
import sys
import time

HERE = pathlib.Path(__file__).resolve().parent
TIMINGS = HERE / "reference" / "timings.json"
PROBE = """\
import json as _json, resource as _resource
import course as _course
_u = _resource.getrusage(_resource.RUSAGE_SELF)
_cpu = _u.ru_utime + _u.ru_stime
_live = _course.exercise_live_figures()
print("TIMING " + _json.dumps({"cpu_s": _cpu, "live": _live}, default=str))
"""


def notebook_names(selected: list[str]) -> list[str]:
    """NN_name stems for `selected` (numbers or names; all when empty)."""
    names = sorted(p.stem for p in HERE.glob("[0-9][0-9]_*.ipynb"))
    if not selected:
        return names
    out = []
    for s in selected:
        match = [n for n in names if n == s or n.startswith(f"{s}_") or n == s.removesuffix(".ipynb")]
        if not match:
            raise ValueError(f"no notebook {s!r} in {HERE}; expected one of: "
                             f"{', '.join(names)} (or their numbers)")
        out += match
    return out


def run_one(name: str, *, small: bool) -> dict:
    """Execute notebooks/NAME.ipynb; return its timing record."""
    import nbclient
    import nbformat

    nb = nbformat.read(HERE / f"{name}.ipynb", as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    os.environ["LRUX_NOTEBOOK_STATIC"] = "1"
    os.environ.pop("LRUX_HIDE_SOLUTIONS", None)
    if small:
        os.environ["LRUX_NOTEBOOK_SMALL"] = "1"
    else:
        os.environ.pop("LRUX_NOTEBOOK_SMALL", None)
    cell_s = []
    last = [time.perf_counter()]

    def done(cell, cell_index, execute_reply):
        now = time.perf_counter()
        cell_s.append((cell_index, now - last[0]))
        last[0] = now
        print(f"  {name} cell {cell_index}: {cell_s[-1][1]:.1f} s", file=sys.stderr, flush=True)

    load_before = os.getloadavg()
    start = time.perf_counter()
    client = nbclient.NotebookClient(nb, timeout=1200, kernel_name="python3",
                                     resources={"metadata": {"path": str(HERE)}},
                                     on_cell_executed=done)
    client.execute()
    wall = time.perf_counter() - start
    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    data = json.loads(probe.split("TIMING ", 1)[1])
    probe_s = cell_s[-1][1] if cell_s else 0.0
    live = {}
    for figure, rec in data["live"].items():
        later, later_cpu = rec["seconds"][1:], rec["cpu_seconds"][1:]  # [0] compiles
        live[figure] = {
            "first_s": rec["seconds"][0], "redraws": len(later),
            "median_s": statistics.median(later) if later else None,
            "max_s": max(later) if later else None,
            "median_cpu_s": statistics.median(later_cpu) if later_cpu else None,
            "max_cpu_s": max(later_cpu) if later_cpu else None,
        }
    slowest = sorted(cell_s[:-1], key=lambda c: -c[1])[:3]
    return {
        "small": small, "wall_s": wall - probe_s, "kernel_cpu_s": data["cpu_s"],
        "load_before": load_before, "load_after": os.getloadavg(),
        "slowest_cells": [{"cell": i, "s": s} for i, s in slowest], "live": live,
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "processor": platform.processor() or platform.machine(),
                    "python": platform.python_version()},
    }


def markdown(timings: dict) -> str:
    """The README's table of run times and slider latencies."""
    rows = ["| notebook | Run All (wall) | kernel CPU | load (1 min) before / after | "
            "slider redraw: median wall (CPU) | slowest redraw: wall (CPU) |",
            "|---|---|---|---|---|---|"]
    for name, rec in sorted(timings.items()):
        lives = [v for v in rec["live"].values() if v["median_s"] is not None]
        med = (f"{statistics.median(v['median_s'] for v in lives):.2f} s "
               f"({statistics.median(v['median_cpu_s'] for v in lives):.2f} s)") if lives else "-"
        worst = max(lives, key=lambda v: v["max_s"]) if lives else None
        top = f"{worst['max_s']:.2f} s ({worst['max_cpu_s']:.2f} s)" if worst else "-"
        size = " (small)" if rec["small"] else ""
        rows.append(f"| `{name}`{size} | {rec['wall_s']:.0f} s | {rec['kernel_cpu_s']:.0f} s | "
                    f"{rec['load_before'][0]:.1f} / {rec['load_after'][0]:.1f} | {med} | {top} |")
    figures = [(v["max_cpu_s"], f"{name}/{fig}") for name, rec in timings.items()
               for fig, v in rec["live"].items() if v["max_cpu_s"] is not None]
    loads = [rec[k][0] for rec in timings.values() for k in ("load_before", "load_after")]
    if figures:
        cpu, where = max(figures)
        rows.append(f"\nSlowest slider redraw: {cpu:.2f} s of CPU ({where}); 1-minute load "
                    f"during the runs {min(loads):.1f}-{max(loads):.1f}.")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="numbers or names (default: all)")
    parser.add_argument("--small", action="store_true", help="LRUX_NOTEBOOK_SMALL=1 sizes")
    parser.add_argument("--markdown", action="store_true", help="print the last run's table")
    args = parser.parse_args(argv)
    timings = json.loads(TIMINGS.read_text()) if TIMINGS.exists() else {}
    if args.markdown and not args.notebooks:
        print(markdown(timings))
        return 0
    try:
        names = notebook_names(args.notebooks)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    for name in names:
        print(f"{name}: running ({'small' if args.small else 'full size'})", file=sys.stderr)
        rec = run_one(name, small=args.small)
        timings[name] = rec
        TIMINGS.parent.mkdir(exist_ok=True)
        tmp = TIMINGS.with_suffix(".tmp")
        tmp.write_text(json.dumps(timings, indent=1) + "\n")
        tmp.replace(TIMINGS)
        print(f"{name}: {rec['wall_s']:.0f} s wall, {rec['kernel_cpu_s']:.0f} s kernel CPU",
              file=sys.stderr)
    print(markdown(timings))
    return 0


if __name__ == "__main__":
    sys.exit(main())
