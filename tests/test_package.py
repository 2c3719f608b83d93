"""Packaging contracts: one version, the lazily exported names visible to type checkers."""

import ast
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import lrux

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())


def _init_tree() -> ast.Module:
    return ast.parse((ROOT / "lrux" / "__init__.py").read_text())


def test_version_has_one_source():
    """pyproject reads the version from lrux/_version.py; an installed lrux reports the same."""
    project = PYPROJECT["project"]
    assert "version" not in project and "version" in project["dynamic"]
    attr = PYPROJECT["tool"]["setuptools"]["dynamic"]["version"]["attr"]
    assert attr == "lrux._version.__version__"
    from lrux._version import __version__

    assert lrux.__version__ == __version__
    assert all(part.isdigit() for part in __version__.split(".")[:2]), __version__
    try:
        installed = importlib.metadata.version("lrux")
    except importlib.metadata.PackageNotFoundError:
        return
    if Path(lrux.__file__).resolve().parent.parent == ROOT and _installed_from_root():
        assert installed == __version__


def _installed_from_root() -> bool:
    dist = importlib.metadata.distribution("lrux")
    url = dist.read_text("direct_url.json")
    return url is not None and json.loads(url).get("url", "").endswith(str(ROOT))


def test_license_is_spdx_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # SPDX instead


def test_type_checking_block_matches_the_lazy_exports():
    """Every lazily exported name is imported under TYPE_CHECKING from the same module, and
    __all__ (a literal list, which linters and type checkers read) names exactly them."""
    tree = _init_tree()
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                for alias in imp.names:
                    seen[alias.asname or alias.name] = imp.module
    assert seen == lrux._EXPORTS
    assert sorted(lrux.__all__) == sorted([*lrux._EXPORTS, "__version__"])
    for name in lrux.__all__:
        assert getattr(lrux, name) is not None


def test_import_lrux_stays_lazy():
    code = ("import sys, lrux; assert 'jax' not in sys.modules, 'import lrux imported jax'; "
            "lrux.LRU; assert 'jax' in sys.modules; print(lrux.__version__)")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == lrux.__version__


def test_py_typed_is_package_data():
    assert (ROOT / "lrux" / "py.typed").is_file()
    assert "py.typed" in PYPROJECT["tool"]["setuptools"]["package-data"]["lrux"]


USER_CODE = """\
import jax.numpy as jnp

import lrux

reveal_type(lrux.LRU)
reveal_type(lrux.make_mixer)
reveal_type(lrux.linear_scan)
lrux.linear_scan(jnp.ones(3), jnp.ones((4, 3)), reverse="yes")
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright is in the dev extras")
def test_pyright_sees_the_lazy_exports(tmp_path):
    """A user's file: pyright knows lrux.LRU, make_mixer and linear_scan (not Any), and so
    flags a wrong argument type."""
    (tmp_path / "user.py").write_text(USER_CODE)
    config = {"extraPaths": [str(ROOT)], "typeCheckingMode": "basic",
              "pythonVersion": f"{sys.version_info.major}.{sys.version_info.minor}"}
    (tmp_path / "pyrightconfig.json").write_text(json.dumps(config))
    out = subprocess.run(["pyright", "--outputjson", "user.py"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=600)
    report = json.loads(out.stdout)
    messages = [d["message"] for d in report["generalDiagnostics"]]
    revealed = " ".join(m for m in messages if "Type of" in m)
    assert 'Type of "lrux.LRU" is "type[LRU]"' in revealed, messages
    assert "make_mixer" in revealed and "-> AbstractMixer" in revealed, messages
    assert "linear_scan" in revealed and "reverse: bool" in revealed, messages
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert len(errors) == 1 and '"Literal[\'yes\']"' in errors[0]["message"], errors


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright is in the dev extras")
def test_pyright_reports_no_errors_in_lrux():
    """`pyright lrux` (basic mode, [tool.pyright] in pyproject.toml) finds no type errors."""
    out = subprocess.run(["pyright", "--outputjson", "lrux"], cwd=ROOT,
                         capture_output=True, text=True, timeout=600)
    report = json.loads(out.stdout)
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    shown = "\n".join(
        f"{os.path.relpath(d['file'], ROOT)}:{d['range']['start']['line'] + 1}: "
        f"{d['message'].splitlines()[0]} ({d.get('rule', '')})"
        for d in errors[:10]
    )
    assert report["summary"]["errorCount"] == 0, f"{len(errors)} error(s):\n{shown}"
