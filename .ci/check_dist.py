"""Build the sdist and the wheel (from the sdist, as pip does), check what they carry, and
install the wheel as a new user would.

The sdist must hold every tracked file the tests read (tests/, examples/, docs/,
benchmarks/, notebooks/, the package) so that `pytest` passes from an unpacked sdist; the
wheel must hold the package with py.typed and the native kernel source, and the license,
and carry the distribution name (`lrux-rnn`) and the project URLs. Then the wheel is
installed with its dependencies into a fresh virtual environment outside the repository,
where `import lrux` must load the installed package and `lrux-train --help` must answer.
Usage: python .ci/check_dist.py [--no-install] [OUT_DIR]
"""

import os
import re
import subprocess
import sys
import tarfile
import tempfile
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
DIST = PROJECT["name"]  # lrux-rnn: the name on the package index
FILE_STEM = re.sub(r"[-_.]+", "_", DIST).lower()  # lrux_rnn: its sdist and wheel file names
URLS = ("Source", "Documentation", "Issues", "Paper")
SDIST_DIRS = ("lrux", "tests", "examples", "docs", "benchmarks", "notebooks")
SDIST_FILES = ("LICENSE", "README.md", "pyproject.toml", "mkdocs.yml")
WHEEL_FILES = ("lrux/__init__.py", "lrux/py.typed", "lrux/kernels/scan_cpu.cc")


def tracked(dirs) -> set[str]:
    out = subprocess.run(["git", "ls-files", "--", *dirs], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout.split()
    return {p for p in out if (ROOT / p).is_file()}


def main(out_dir: Path) -> int:
    built = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out_dir), str(ROOT)],
                           capture_output=True, text=True)
    if built.returncode != 0:
        print(built.stdout[-4000:], built.stderr[-4000:], sep="\n", file=sys.stderr)
        print("error: python -m build failed", file=sys.stderr)
        return 1
    [sdist] = out_dir.glob(f"{FILE_STEM}-*.tar.gz")
    [wheel] = out_dir.glob(f"{FILE_STEM}-*.whl")
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    with zipfile.ZipFile(wheel) as whl:
        in_wheel = set(whl.namelist())
        [meta] = [n for n in in_wheel if n.endswith(".dist-info/METADATA")]
        metadata = whl.read(meta).decode()
    problems = [f"sdist lacks {p}" for p in sorted(tracked(SDIST_DIRS) | set(SDIST_FILES))
                if p not in in_sdist]
    problems += [f"wheel lacks {p}" for p in WHEEL_FILES if p not in in_wheel]
    if not any(n.endswith(".dist-info/licenses/LICENSE") for n in in_wheel):
        problems.append("wheel lacks the LICENSE file")
    if "License-Expression: Apache-2.0" not in metadata:
        problems.append("wheel METADATA has no 'License-Expression: Apache-2.0'")
    if f"Name: {DIST}\n" not in metadata:
        problems.append(f"wheel METADATA does not name the distribution {DIST}")
    problems += [f"wheel METADATA has no Project-URL {u}" for u in URLS
                 if f"Project-URL: {u}, " not in metadata]
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"{sdist.name}: {len(in_sdist)} entries under {top}/; {wheel.name}: "
          f"{len(in_wheel)} files; {len(problems)} problems")
    return 1 if problems else 0


def run(cmd: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)


def install_check(wheel: Path, scratch: Path) -> int:
    """The wheel with its dependencies in a fresh venv outside the repository: `import lrux`
    loads the installed package at the version of lrux/_version.py; `lrux-train --help`
    and `python -m lrux.train --help` answer."""
    venv = scratch / "venv"
    python = venv / "bin" / "python"
    steps = [
        ([sys.executable, "-m", "venv", str(venv)], None),
        ([str(python), "-m", "pip", "install", "--quiet", str(wheel)], None),
        ([str(python), "-c", "import importlib.metadata as m, lrux; "
          f"print(m.version({DIST!r}), lrux.__version__, lrux.__file__)"], "site-packages"),
        ([str(venv / "bin" / "lrux-train"), "--help"], "usage: lrux-train"),
        ([str(python), "-m", "lrux.train", "--help"], "usage: python -m lrux.train"),
    ]
    for cmd, expect in steps:
        res = run(cmd, scratch)
        shown = " ".join(Path(c).name if c.startswith("/") else c for c in cmd)[:100]
        if res.returncode != 0 or (expect and expect not in res.stdout):
            print(res.stdout[-3000:], res.stderr[-3000:], sep="\n", file=sys.stderr)
            print(f"error: in a fresh venv with the wheel: `{shown}` failed "
                  f"(rc {res.returncode})", file=sys.stderr)
            return 1
        if expect == "site-packages":
            version, imported, where = res.stdout.split()
            from_here = (ROOT / "lrux" / "_version.py").read_text()
            if version != imported or f'"{version}"' not in from_here:
                print(f"error: installed {DIST} {version} imports lrux {imported} ({where})",
                      file=sys.stderr)
                return 1
            print(f"fresh venv: {DIST} {version} imports {where}")
    print("fresh venv: lrux-train --help and python -m lrux.train --help answer")
    return 0


def check(out_dir: Path, install: bool) -> int:
    status = main(out_dir)
    if status or not install:
        return status
    [wheel] = out_dir.glob(f"{FILE_STEM}-*.whl")
    with tempfile.TemporaryDirectory() as scratch:
        return install_check(wheel, Path(scratch))


if __name__ == "__main__":
    args = sys.argv[1:]
    install = "--no-install" not in args
    args = [a for a in args if a != "--no-install"]
    if args:
        sys.exit(check(Path(args[0]), install))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(check(Path(tmp), install))
