"""Packaging contracts: one version, the distribution's name and URLs, install lines that work
in a fresh venv, the lazily exported names (of lrux and lrux.train) visible to type checkers,
and a `--help` that does not import jax. (.ci/check_dist.py builds the wheel and installs it
in a fresh venv outside the repository.)"""

import ast
import importlib
import importlib.metadata
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import lrux

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
DIST = "lrux-rnn"  # `lrux` on PyPI is an unrelated project (low-rank determinant updates)
REPO = "https://github.com/lrux-rnn/lrux-rnn"


def _init_tree(package: str = "lrux") -> ast.Module:
    return ast.parse((ROOT / package.replace(".", "/") / "__init__.py").read_text())


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
        installed = importlib.metadata.version(DIST)
    except importlib.metadata.PackageNotFoundError:
        return
    if Path(lrux.__file__).resolve().parent.parent == ROOT and _installed_from_root():
        assert installed == __version__


def _installed_from_root() -> bool:
    dist = importlib.metadata.distribution(DIST)
    url = dist.read_text("direct_url.json")
    return url is not None and json.loads(url).get("url", "").endswith(str(ROOT))


def test_license_is_spdx_with_its_file():
    project = PYPROJECT["project"]
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # SPDX instead


def test_distribution_name_is_free_of_the_other_lrux_and_has_urls():
    """The name on the package index is not `lrux` (another project's); the URLs sit beside
    the paper's and point at one repository under the new name."""
    project = PYPROJECT["project"]
    assert project["name"] == DIST
    urls = project["urls"]
    assert urls["Paper"] == "https://arxiv.org/abs/2303.06349"
    assert urls["Source"] == REPO and urls["Issues"] == f"{REPO}/issues"
    assert urls["Documentation"] == "https://lrux-rnn.github.io/lrux-rnn/"
    mkdocs = (ROOT / "mkdocs.yml").read_text()
    assert f"repo_url: {REPO}\n" in mkdocs and f"site_url: {urls['Documentation']}\n" in mkdocs
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["lrux*"]


INSTALL = re.compile(r"pip install (?P<args>[^`\n&|;#]+)")


def _install_lines():
    files = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md")),
             *sorted((ROOT / "lrux").rglob("*.py")), ROOT / "mkdocs.yml"]
    for path in files:
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in INSTALL.finditer(line):
                yield f"{path.relative_to(ROOT)}:{n}", m["args"].strip()


def test_every_install_line_works_in_a_fresh_venv():
    """`pip install lrux...` would fetch the other project: every install line of the README,
    the docs and lrux's messages installs a checkout (`.`, `-e .`, `'.[extra]'`), a wheel,
    the new distribution name, or a third-party package, and names only extras that exist."""
    extras = set(PYPROJECT["project"]["optional-dependencies"])
    seen = 0
    for where, args in _install_lines():
        for word in args.split():
            word = word.strip("'\"")
            if word.startswith("-") or not word:
                continue
            seen += 1
            name, _, extra = word.partition("[")
            assert not re.fullmatch(r"lrux(==.*)?", name), f"{where}: `pip install {args}`"
            if name in (".", DIST) or name.endswith(".whl"):
                wanted = set(extra.rstrip("]").split(",")) - {""}
                assert wanted <= extras, f"{where}: no extra {wanted - extras} in pyproject"
    assert seen >= 8


def _type_checking_imports(tree: ast.Module) -> dict[str, str]:
    seen: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for imp in node.body:
                assert isinstance(imp, ast.ImportFrom)
                for alias in imp.names:
                    assert imp.module is not None
                    seen[alias.asname or alias.name] = imp.module
    return seen


@pytest.mark.parametrize("package", ["lrux", "lrux.train"])
def test_type_checking_block_matches_the_lazy_exports(package):
    """Every lazily exported name is imported under TYPE_CHECKING from the same module, and
    __all__ (a literal list, which linters and type checkers read) names exactly them."""
    module = importlib.import_module(package)
    assert _type_checking_imports(_init_tree(package)) == module._EXPORTS
    extra = ["__version__"] if package == "lrux" else []
    assert sorted(module.__all__) == sorted([*module._EXPORTS, *extra])
    for name in module.__all__:
        assert getattr(module, name) is not None
        if name in module._EXPORTS:  # the object of the module that defines it
            home = importlib.import_module(module._EXPORTS[name])
            assert getattr(module, name) is getattr(home, name)


def test_help_does_not_import_jax():
    """`python -m lrux.train --help` (and lrux-train, the same main) answers from argparse
    alone: no jax, no orbax imported (it took 3-6 s when lrux.train imported them eagerly)."""
    code = ("import atexit, runpy, sys\n"
            "atexit.register(lambda: print('IMPORTED', 'jax' in sys.modules, "
            "'orbax' in sys.modules, 'lrux.train.loop' in sys.modules))\n"
            "sys.argv = ['python -m lrux.train', '--help']\n"
            "runpy.run_module('lrux.train', run_name='__main__')\n")
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    assert "usage:" in out.stdout and "--set NAME=VALUE" in out.stdout
    assert out.stdout.strip().splitlines()[-1] == "IMPORTED False False False", out.stdout[-500:]


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
from lrux.presets import get_preset
from lrux.train import TensorBoardWriter, run

reveal_type(lrux.LRU)
reveal_type(lrux.make_mixer)
reveal_type(lrux.linear_scan)
reveal_type(run)
lrux.linear_scan(jnp.ones(3), jnp.ones((4, 3)), reverse="yes")
run(get_preset("listops", "lru", "smoke"), data_dir="d", out_dir="o",
    writers=[TensorBoardWriter("tb")])
"""


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright is in the dev extras")
def test_pyright_sees_the_lazy_exports(tmp_path):
    """A user's file: pyright knows lrux.LRU, make_mixer, linear_scan and lrux.train.run (not
    Any, although both packages import lazily), so it flags a wrong argument type, and
    accepts `run(..., writers=[...])` with a list."""
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
    assert "writers: Sequence[MetricsWriter]" in revealed, messages  # a list is accepted
    errors = [d for d in report["generalDiagnostics"] if d["severity"] == "error"]
    assert len(errors) == 1 and '"Literal[\'yes\']"' in errors[0]["message"], errors


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("pyright") is None, reason="pyright is in the dev extras")
def test_pyright_reports_no_errors_in_lrux():
    """`pyright lrux` (standard mode, [tool.pyright] in pyproject.toml) finds no type errors."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pyright"]
    assert config["typeCheckingMode"] == "standard", config  # what editors run for users
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
