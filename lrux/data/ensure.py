"""`ensure_data`: what the training loop calls before loading a task (one process)."""

import inspect
import os
import sys
from collections.abc import Callable

from lrux.errors import DataError

from .listops import generate_listops
from .pathfinder import generate_pathfinder
from .release import data_status
from .spec import GENERATED_TASKS, PATH_SIZES


def _generate_kwargs(task: str, generate: dict, load_options: dict) -> dict:
    """The generator's arguments for `task`, checked against the load options."""
    fn = generate_listops if task == "listops" else generate_pathfinder
    allowed = [p for p in inspect.signature(fn).parameters if p != "out_dir"]
    unknown = sorted(set(generate) - set(allowed))
    if unknown:
        raise DataError(f"{task}: unknown generate option(s) {unknown}; expected some of "
                        f"{', '.join(allowed)}")
    kw = dict(generate)
    if task == "listops":
        longest = int(kw.get("max_length", 2000)) - 1
        load_max = int(load_options.get("max_length") or 2048)
        if longest > load_max:
            raise DataError(f"listops: generate max_length={longest + 1} makes expressions of "
                            f"up to {longest} tokens, more than the load max_length={load_max}"
                            ": lower the one or raise the other")
        return kw
    size = kw.setdefault("size", PATH_SIZES[task])
    if size != PATH_SIZES[task]:
        raise DataError(f"{task}: generate size={size}, but {task} reads "
                        f"{PATH_SIZES[task]} x {PATH_SIZES[task]} images")
    difficulty = kw.setdefault("difficulty", load_options.get("difficulty") or 14)
    if difficulty != (load_options.get("difficulty") or 14):
        raise DataError(f"{task}: generate difficulty={difficulty}, but the loader reads "
                        f"difficulty={load_options.get('difficulty') or 14}")
    return kw


def ensure_data(task: str, data_dir: str | os.PathLike, *, generate: dict | None = None,
                log: Callable[[str], None] | None = None, **load_options) -> None:
    """Return if `task`'s data under data_dir is complete; otherwise generate it (ListOps,
    Pathfinder, PathX, when `generate` holds the generator's keyword arguments, `{}` for
    full size) or raise DataError saying what is missing and what to do.

    Generation happens only into an absent or empty task folder (an interrupted generation
    with the same arguments resumes); a partial or foreign set is never touched.
    `log(msg)` (default: stderr) hears about generation. `load_options` are those of
    `load_split` (difficulty, max_length, ...). One process: synchronise hosts outside.
    """
    status = data_status(task, data_dir, **load_options)
    if status.state == "complete":
        return
    if status.state == "partial" or generate is None or status.task not in GENERATED_TASKS:
        raise DataError(status.message)
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    kw = _generate_kwargs(status.task, generate, load_options)
    shown = ", ".join(f"{k}={v}" for k, v in kw.items()) or "full size"
    say(f"no {status.task} data in {os.fspath(data_dir)}: generating it there ({shown}) ...")
    if status.task == "listops":
        generate_listops(data_dir, **kw)
    else:
        generate_pathfinder(data_dir, **kw)
    after = data_status(task, data_dir, **load_options)
    if after.state != "complete":
        raise DataError(after.message)
    say(f"generated {status.task} data in {after.root}")
