"""Print pyproject's dependency floors as exact pins (`pkg>=X` -> `pkg==X`), one a line.

Used by .ci/lowest to install the lowest versions lrux claims to support. A dependency
without a `>=` floor is an error: every floor must be tested.
"""

import re
import sys
import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parent.parent / "pyproject.toml"


def floors(extra: str | None = None) -> list[str]:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    deps = project["optional-dependencies"][extra] if extra else project["dependencies"]
    pins = []
    for dep in deps:
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-\[\]]+)\s*>=\s*([^,;\s]+)\s*(,.*)?", dep)
        if m is None:
            sys.exit(f"error: {PYPROJECT.name}: dependency {dep!r} has no '>=' floor")
        pins.append(f"{m[1]}=={m[2]}")
    return pins


if __name__ == "__main__":
    print("\n".join(floors(sys.argv[1] if len(sys.argv) > 1 else None)))
