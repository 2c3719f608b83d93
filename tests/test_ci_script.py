"""`.ci/run` reaches the test suite: no step can end it early with a success status."""

import re
import shlex
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CI = ROOT / ".ci"


def _commands(script: Path) -> list[list[str]]:
    """The script's non-comment lines, split into words (a line shlex cannot split, such as
    the first line of a multi-line quoted command, is split on whitespace)."""
    out = []
    for line in script.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            try:
                out.append(shlex.split(line))
            except ValueError:
                out.append(line.split())
    return out


def test_sourced_scripts_never_exit():
    """A script run with `source` (or `.`) shares .ci/run's shell: an `exit 0` in it ends CI
    green before any test ran (this happened: CI 'passed' in 5 s)."""
    sourced = []
    for words in _commands(CI / "run"):
        for i, w in enumerate(words[:-1]):
            if w in ("source", "."):
                sourced.append(ROOT / words[i + 1])
    for path in sourced:
        text = path.read_text()
        assert not re.search(r"^\s*exit\b", text, re.M), f"{path} is sourced but calls exit"


def test_the_whole_suite_is_the_last_step():
    """The README's test command is .ci/run's last command, so its summary closes the log."""
    last = _commands(CI / "run")[-1]
    assert last == ["python", "-m", "pytest"]
    readme = (ROOT / "README.md").read_text()
    assert "python -m pytest" in readme


def test_the_docs_step_cannot_pass_with_warnings():
    """`.ci/run` builds the site with `.ci/docs`, which runs `mkdocs build --strict` without
    `--quiet` (with it mkdocs 1.6 does not count warnings, so strict mode never failed).
    tests/test_site.py breaks a link in a scratch copy and sees `.ci/docs` fail."""
    assert ["step", "docs site", "bash", ".ci/docs"] in _commands(CI / "run")
    builds = [w for w in _commands(CI / "docs") if w[:2] == ["mkdocs", "build"]]
    assert builds == [["mkdocs", "build", "--strict", "$@"]]
    assert "set -euo pipefail" in (CI / "docs").read_text()


def test_the_wheel_is_installed_in_a_fresh_venv():
    """`.ci/check_dist.py` runs with its install check (no --no-install in CI)."""
    assert ["step", "sdist + wheel", "python", ".ci/check_dist.py"] in _commands(CI / "run")
