"""The house rules in code: no import circles inside lrux (lazy imports included), no function
over 60 lines without a stated reason, and the layers / data packages import only downward."""

import ast
import os

import pytest

ROOT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "lrux")

# qualified name -> why it may be longer than 60 lines
LONG_FUNCTIONS_ALLOWED: dict[str, str] = {}
MAX_LINES = 60


def _modules() -> dict[str, str]:
    mods = {}
    for dirpath, _, files in os.walk(ROOT):
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(dirpath, f)
                rel = os.path.relpath(path, os.path.dirname(ROOT))[:-3].replace(os.sep, ".")
                mods[rel.removesuffix(".__init__")] = path
    return mods


MODULES = _modules()


def _imported(module: str, node: ast.AST) -> set[str]:
    """The lrux modules an import statement of `module` loads."""
    if isinstance(node, ast.Import):
        return {a.name for a in node.names if a.name in MODULES}
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        parts = module.split(".")
        if not MODULES[module].endswith("__init__.py"):
            parts = parts[:-1]
        parts = parts[: len(parts) - (node.level - 1)]
        base = ".".join(parts + ([node.module] if node.module else []))
    else:
        base = node.module or ""
    out = set()
    for alias in node.names:
        sub = f"{base}.{alias.name}"
        if sub in MODULES:
            out.add(sub)  # `from pkg import submodule`: the submodule, not the package
        elif base in MODULES:
            out.add(base)
    return out - {module}


def _graph() -> dict[str, set[str]]:
    graph = {}
    for module, path in MODULES.items():
        tree = ast.parse(open(path).read())
        deps: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                deps |= _imported(module, node)
        graph[module] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    found, state = [], {}

    def visit(node, stack):
        state[node] = "open"
        for dep in sorted(graph[node]):
            if state.get(dep) == "open":
                found.append(stack[stack.index(dep):] + [dep])
            elif dep not in state:
                visit(dep, stack + [dep])
        state[node] = "done"

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return found


def test_no_import_circles_in_lrux():
    assert _cycles(_graph()) == []


@pytest.mark.parametrize("package, forbidden", [
    ("lrux.layers", ("lrux.data", "lrux.train", "lrux.models", "lrux.blocks", "lrux.presets")),
    ("lrux.data", ("lrux.layers", "lrux.train", "lrux.models", "lrux.blocks", "lrux.registry")),
    ("lrux.scan", ("lrux.layers", "lrux.data", "lrux.train")),
])
def test_data_flows_one_way(package, forbidden):
    graph = _graph()
    for module, deps in graph.items():
        if module == package or module.startswith(package + "."):
            bad = {d for d in deps if d.startswith(forbidden)}
            assert not bad, f"{module} imports {sorted(bad)}"


def test_no_function_over_60_lines_without_a_reason():
    long = []
    for module, path in MODULES.items():
        tree = ast.parse(open(path).read())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                name = f"{module}.{node.name}"
                if n > MAX_LINES and name not in LONG_FUNCTIONS_ALLOWED:
                    long.append(f"{name}: {n} lines")
    assert not long, "\n".join(long)
