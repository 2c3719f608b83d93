"""Every ```python block of README.md and docs/**/*.md runs, so the docs cannot rot.

The blocks of one file run in order in one namespace (as a reader pasting them into one
session would), in a subprocess whose working directory is a fresh temporary folder, so
relative paths such as `data/` and `runs/` land there. A block that cannot run offline in
seconds is marked by an HTML comment on the line before its fence,
`<!-- not-tested: reason -->`; the test prints what it skipped and why.
"""

import json
import os
import re
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
    # the README's data section reads the ListOps written by its own command, made small here
    "README.md": [
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


# the README trains a smoke model (about 20 s on one core); the other pages are quick
@pytest.mark.parametrize(
    "rel_path", [pytest.param(f, marks=pytest.mark.slow) if f == "README.md" else f
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
    """The README's jaxtyping paragraph: with the import hook a wrong shape is caught at the
    call, naming the function, the parameter and the expected shape; without the hook (the
    control) the same call passes silently."""
    [block] = [b for b in python_blocks("README.md") if "install_import_hook" in b.source]
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
