"""Build the sdist and the wheel (from the sdist, as pip does) and check what they carry.

The sdist must hold every tracked file the tests read (tests/, examples/, docs/,
benchmarks/, notebooks/, the package) so that `pytest` passes from an unpacked sdist; the
wheel must hold the package with py.typed and the native kernel source, and the license.
Usage: python .ci/check_dist.py [OUT_DIR]
"""

import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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
    [sdist] = out_dir.glob("lrux-*.tar.gz")
    [wheel] = out_dir.glob("lrux-*.whl")
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
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print(f"{sdist.name}: {len(in_sdist)} entries under {top}/; {wheel.name}: "
          f"{len(in_wheel)} files; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) > 1:
        sys.exit(main(Path(sys.argv[1])))
    with tempfile.TemporaryDirectory() as tmp:
        sys.exit(main(Path(tmp)))
