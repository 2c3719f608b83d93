"""griffe extension: show jaxtyping annotations as written, `Float[Array, "seq d_model"]`.

griffe parses strings inside annotations as forward references, so the shape "seq *state"
would print as `seq * state` and " n" as `n`. Annotations holding a shape string are
replaced by their source text.
"""

import ast

from griffe import Extension


def _has_shape_string(node: ast.AST | None) -> bool:
    """True when `node` contains `X[Array, "dims"]` (a subscript whose 2nd item is a str)."""
    for sub in ast.walk(node) if node is not None else ():
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Tuple):
            elts = sub.slice.elts
            if len(elts) >= 2 and isinstance(elts[1], ast.Constant):
                if isinstance(elts[1].value, str):
                    return True
    return False


def _as_written(node: ast.AST | None, current):
    return ast.unparse(node) if _has_shape_string(node) else current


class JaxtypingShapes(Extension):
    def on_function_instance(self, *, node, func, **kwargs) -> None:
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            return
        args = node.args
        every = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        every += [a for a in (args.vararg, args.kwarg) if a is not None]
        for arg in every:
            if arg.arg in func.parameters:
                param = func.parameters[arg.arg]
                param.annotation = _as_written(arg.annotation, param.annotation)
        func.returns = _as_written(node.returns, func.returns)

    def on_attribute_instance(self, *, node, attr, **kwargs) -> None:
        if isinstance(node, ast.AnnAssign):
            attr.annotation = _as_written(node.annotation, attr.annotation)
