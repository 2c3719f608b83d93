"""Every ```python block of README.md and docs/**/*.md runs, so the docs cannot rot; every
number the README links to a JSON of benchmarks/results/ is the number in that JSON.

The blocks of one file run in order in one namespace (as a reader pasting them into one
session would), in a subprocess whose working directory is a fresh temporary folder, so
relative paths such as `data/` and `runs/` land there. A block that cannot run offline in
seconds is marked by an HTML comment on the line before its fence,
`<!-- not-tested: reason -->`; the test prints what it skipped and why.
"""

import json
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOC_FILES = ["README.md",
             *sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*.md"))]
MARKER = re.compile(r"^<!--\s*not-tested:\s*(?P<reason>\S.*?)\s*-->$")

# what a file's blocks expect to find, made in the temporary folder before they run
SETUP = {
    # the data page reads the ListOps written by its own command, made small here
    "docs/data.md": [
        [sys.executable, "-m", "lrux.data", "generate", "listops", "--out", "data/full",
         "--train", "64", "--val", "8", "--test", "8", "--min-length", "20",
         "--max-length", "120", "--workers", "1"],
    ],
}

RUNNER = r"""
import json, sys, traceback
namespace = {"__name__": "__main__"}
for block in json.load(sys.stdin):
    print(f"--- running {block['where']}", flush=True)
    try:
        exec(compile(block["source"], block["where"], "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"FAILED: the python block at {block['where']}", flush=True)
        sys.exit(1)
"""


class Block(NamedTuple):
    where: str  # "README.md:123", the line of the opening fence
    source: str
    skip_reason: str | None


def python_blocks(rel_path: str) -> list[Block]:
    """The ```python blocks of a markdown file, with the not-tested reason of each."""
    lines = (ROOT / rel_path).read_text(encoding="utf-8").splitlines()
    blocks, previous, i = [], "", 0
    while i < len(lines):
        line = lines[i].strip()
        if line.startswith("```") and line[3:].strip() == "python":
            start, body = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                body.append(lines[i])
                i += 1
            assert i < len(lines), f"{rel_path}:{start}: unclosed ```python block"
            marker = MARKER.match(previous)
            reason = marker["reason"] if marker else None
            blocks.append(Block(f"{rel_path}:{start}", "\n".join(body) + "\n", reason))
        elif line.startswith("```"):  # skip other fenced blocks whole
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
        if line:
            previous = line
        i += 1
    return blocks


def test_every_not_tested_marker_precedes_a_python_block():
    for rel in DOC_FILES:
        lines = (ROOT / rel).read_text(encoding="utf-8").splitlines()
        for n, line in enumerate(lines):
            if not (line.strip().startswith("<!--") and "not-tested" in line):
                continue
            assert MARKER.match(line.strip()), f"{rel}:{n + 1}: write <!-- not-tested: reason -->"
            nxt = next((x.strip() for x in lines[n + 1:] if x.strip()), "")
            assert nxt == "```python", f"{rel}:{n + 1}: the marker must come right before a block"


def test_the_parser_finds_blocks_and_markers(tmp_path, monkeypatch):
    doc = tmp_path / "x.md"
    doc.write_text("text\n```bash\n```python\n```\n<!-- not-tested: needs a GPU -->\n\n"
                   "```python\nimport gpu\n```\n```python\nx = 1\ny = x\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    blocks = python_blocks("x.md")
    assert blocks == [Block("x.md:7", "import gpu\n", "needs a GPU"),
                      Block("x.md:10", "x = 1\ny = x\n", None)]


def _env() -> dict[str, str]:
    path = os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])
    return dict(os.environ, PYTHONPATH=path, JAX_PLATFORMS="cpu", MPLBACKEND="Agg")


# the training page trains two smoke models (about 40 s on one core); the others are quick
SLOW_PAGES = {"docs/training.md"}


@pytest.mark.parametrize(
    "rel_path", [pytest.param(f, marks=pytest.mark.slow) if f in SLOW_PAGES else f
                 for f in DOC_FILES])
def test_python_blocks_run(rel_path, tmp_path):
    blocks = python_blocks(rel_path)
    run = [b._asdict() for b in blocks if b.skip_reason is None]
    skipped = [b for b in blocks if b.skip_reason is not None]
    print(f"{rel_path}: {len(run)} python blocks run, {len(skipped)} skipped")
    for b in skipped:
        print(f"  skipped {b.where}: {b.skip_reason}")
    if not run:
        return
    env = _env()
    for command in SETUP.get(rel_path, []):
        subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    out = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(run), cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-6000:]
    assert out.stdout.count("--- running ") == len(run)


HOOK_CONTROL = """
import contextlib, jaxtyping
jaxtyping.install_import_hook = lambda *args, **kwargs: contextlib.nullcontext()
"""


def test_runtime_checks_block(tmp_path):
    """The types page's jaxtyping paragraph: with the import hook a wrong shape is caught at
    the call, naming the function, the parameter and the expected shape; without the hook
    (the control) the same call passes silently."""
    [block] = [b for b in python_blocks("docs/types.md") if "install_import_hook" in b.source]
    printed = {}
    for control in (False, True):
        source = (HOOK_CONTROL if control else "") + block.source
        out = subprocess.run([sys.executable, "-c", source], cwd=tmp_path, env=_env(),
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr[-4000:]
        printed[control] = out.stdout
    assert "Type-check error" not in printed[True], printed[True]
    hooked = printed[False]
    assert "Type-check error" in hooked and "circular_law_fraction" in hooked, hooked
    assert "parameter 'radii'" in hooked and "'r'" in hooked, hooked


# --- the README: the quickstart first, and every linked number from its JSON ---------------
QUICKSTART = [
    "pip install -e . && python examples/train_lra.py --task listops --preset smoke "
    "--data-dir data --out runs/listops-smoke",
    "pip install -e '.[dev]' && python -m pytest",
]


def test_readme_quickstart_comes_first_and_unchanged():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    first = text.split("```bash\n", 1)[1].split("```", 1)[0]
    assert first.splitlines() == QUICKSTART
    headings = [line for line in text.splitlines() if line.startswith("## ")]
    assert headings[0] == "## Quickstart", headings


def test_readme_is_a_front_page():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 150, f"README.md has {len(lines)} lines; move detail to docs/"


# [NUMBER](benchmarks/results/FILE.json "SELECTOR"); a link to the file on the repository's
# site (the docs pages' form) is read from the same file here
NUMBER_LINK = re.compile(r'\[(?P<text>[^\]]*?)\]\((?P<target>[^)\s]*benchmarks/results/[^)\s]+'
                         r'\.json)(?:\s+"(?P<title>[^"]*)")?\)')
SELECTOR = re.compile(r"^(?:(?P<agg>mean|min|max) )?(?P<field>[\w.\-]+)"
                      r"(?: where (?P<filters>.+))?$")
NUMBER = re.compile(r"^(?P<num>-?[\d,]*\.?\d+)(?P<unit>%|x)?$")


def _dicts(obj):
    if isinstance(obj, dict):
        yield obj
        obj = list(obj.values())
    if isinstance(obj, list):
        for item in obj:
            yield from _dicts(item)


def select(doc, selector: str) -> float:
    """The number a selector names in a JSON document: `FIELD` (the one dict holding it),
    `FIELD where KEY=VALUE, ...` (the one dict holding it with those values), and `mean`,
    `min` or `max` before the field to reduce every match."""
    m = SELECTOR.match(selector.strip())
    assert m, f"not a selector: {selector!r} (FIELD [where KEY=VALUE, ...])"
    filters = [f.strip().split("=", 1) for f in m["filters"].split(",")] if m["filters"] else []
    values = [d[m["field"]] for d in _dicts(doc) if m["field"] in d
              and all(k in d and str(d[k]) == v for k, v in filters)]
    assert values, f"nothing matches {selector!r}"
    if m["agg"] is None:
        assert len(values) == 1, f"{selector!r} matches {len(values)} values: {values[:5]}"
        return float(values[0])
    return float({"mean": statistics.mean, "min": min, "max": max}[m["agg"]](values))


def shown_matches(text: str, value: float) -> bool:
    """`1.11x`, `100%` (of a fraction), `0.968`: the value rounded as shown."""
    m = NUMBER.match(text.strip())
    assert m, f"not a number: {text!r}"
    digits = m["num"].replace(",", "")
    decimals = len(digits.split(".")[1]) if "." in digits else 0
    scaled = value * 100 if m["unit"] == "%" else value
    return abs(scaled - float(digits)) <= 0.5 * 10 ** -decimals + 1e-12


def linked_numbers(rel_path: str):
    text = (ROOT / rel_path).read_text(encoding="utf-8")
    for m in NUMBER_LINK.finditer(text):
        path = "benchmarks/results/" + m["target"].split("benchmarks/results/", 1)[1]
        yield m["text"], path, m["title"]


def test_the_number_checker_can_fail():
    doc = {"rows": [{"L": 1024, "r": 1.5}, {"L": 4096, "r": 1.1111}], "acc": [1.0, 0.5]}
    assert select(doc, "r where L=4096") == 1.1111 and select(doc, "max r") == 1.5
    assert shown_matches("1.11x", 1.1111) and not shown_matches("1.12x", 1.1111)
    assert shown_matches("75%", 0.75) and not shown_matches("76%", 0.75)
    with pytest.raises(AssertionError, match="matches 2 values"):
        select(doc, "r")


def test_every_linked_number_is_its_json():
    checked = 0
    for rel in DOC_FILES:
        for text, path, selector in linked_numbers(rel):
            assert (ROOT / path).is_file(), f"{rel}: {path} does not exist"
            if not NUMBER.match(text.strip()):
                continue  # a link to the file itself, not a number
            assert selector, f"{rel}: [{text}]({path}) needs a title naming its field"
            value = select(json.loads((ROOT / path).read_text()), selector)
            assert shown_matches(text, value), f"{rel}: {text} is {value} in {path} ({selector})"
            checked += 1
    print(f"{checked} linked numbers checked")
    assert checked >= 10


def test_course_run_times_table_is_the_json_s():
    """docs/course.md's run-time table is what `time_notebooks.py --markdown` prints from
    notebooks/reference/timings.json."""
    out = subprocess.run([sys.executable, "notebooks/time_notebooks.py", "--markdown"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=_env())
    assert out.returncode == 0, out.stderr
    table = out.stdout.strip()
    assert table.count("\n") >= 6
    assert table in (ROOT / "docs" / "course.md").read_text(encoding="utf-8")
