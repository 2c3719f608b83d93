"""A user's value against its declared type and range: what is expected, in words.

    problem("abc", int)                       -> "expected an integer, got 'abc'"
    problem(float("inf"), float)              -> "expected a finite number, got inf"
    problem(0, int, Range(1))                 -> "expected an integer >= 1, got 0"
    parse("pi/10", float, "--set max_phase")  -> 0.314...

The kinds are the annotations lrux declares: `bool`, `int`, `float`, `str`, `dict[...]`,
`list[...]`, `Literal[...]`, `X | None`; any other annotation is not checked. Every integer
must fit in int64 and every float must be finite (no inf, no nan), whatever its range.
Presets, data options, mixer options and CLI flags all use these checks (parse time).

Importing this module imports nothing else of lrux.
"""

import dataclasses
import functools
import json
import math
import operator
import re
import types
import typing
from typing import Any, Literal

INT64_MAX = 2**63 - 1
STEP_MAX = 2**31 - 1  # optax counts steps in an int32 (jax without x64)
SEED_MAX = 2**32 - 1  # grain's and jax's seeds: unsigned 32-bit


@dataclasses.dataclass(frozen=True)
class Range:
    """lo <= value <= hi (or < when `*_open`); None: unbounded on that side."""

    lo: int | float | None = None
    hi: int | float | None = None
    lo_open: bool = False
    hi_open: bool = False
    why: str = ""  # said after the range, e.g. "(0: the default)"

    def holds(self, value: int | float) -> bool:
        if self.lo is not None and (value <= self.lo if self.lo_open else value < self.lo):
            return False
        return self.hi is None or (value < self.hi if self.hi_open else value <= self.hi)

    def text(self) -> str:
        lo, hi = self.lo, self.hi
        if lo is not None and hi is not None:
            text = f"in {'(' if self.lo_open else '['}{lo}, {hi}{')' if self.hi_open else ']'}"
        elif lo is not None:
            text = f"{'>' if self.lo_open else '>='} {lo}"
        elif hi is not None:
            text = f"{'<' if self.hi_open else '<='} {hi}"
        else:
            text = "any value"
        return f"{text} {self.why}".strip()


POSITIVE = Range(1)
COUNT = Range(0)
STEPS = Range(1, STEP_MAX, why="(the optimiser counts steps in 32 bits)")
SEED = Range(0, SEED_MAX, why="(seeds are unsigned 32-bit)")


def _optional(kind: Any) -> tuple[Any, bool]:
    """(kind without None, whether None is allowed)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        none = len(args) < len(typing.get_args(kind))
        return functools.reduce(operator.or_, args), none
    return kind, False


def expected(kind: Any, rng: Range | None = None) -> str:
    """'an integer', 'a finite number >= 0', "one of 'a', 'b'", ... for a declared kind."""
    kind, none = _optional(kind)
    origin = typing.get_origin(kind)
    if origin is Literal:
        text = "one of " + ", ".join(map(repr, typing.get_args(kind)))
    else:
        text = {bool: "a boolean (true/false)", int: "an integer", float: "a finite number",
                str: "a string", dict: "a JSON object", list: "a list",
                tuple: "a list"}.get(origin or kind, f"a {getattr(kind, '__name__', kind)}")
    return text + (f" {rng.text()}" if rng else "") + (" or none" if none else "")


def _fits(value: Any, kind: Any) -> bool:
    origin = typing.get_origin(kind) or kind
    if origin is Literal:
        return any(value == a and type(value) is type(a) for a in typing.get_args(kind))
    if origin is bool:
        return isinstance(value, bool)
    if origin is int:
        return isinstance(value, int) and not isinstance(value, bool) and \
            -INT64_MAX - 1 <= value <= INT64_MAX
    if origin is float:
        return isinstance(value, int | float) and not isinstance(value, bool) and \
            math.isfinite(value)
    if origin in (dict, list, tuple, str):
        return isinstance(value, list | tuple if origin in (list, tuple) else origin)
    return True  # an annotation lrux does not check


def problem(value: Any, kind: Any, rng: Range | None = None) -> str | None:
    """Why `value` is not of `kind` within `rng` ("expected ..., got ..."), None if it is."""
    base, none = _optional(kind)
    if value is None and none:
        return None
    union = typing.get_origin(base) in (typing.Union, types.UnionType)
    kinds = typing.get_args(base) if union else (base,)
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if any(_fits(value, k) for k in kinds):
        if rng is None or not number or rng.holds(typing.cast(float, value)):
            return None
    elif isinstance(value, int) and number and int in kinds and rng is None:
        return f"expected {expected(kind)} of at most 64 bits (|value| < 2**63), got {value}"
    return f"expected {expected(kind, rng)}, got {_show(value)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


_PI = re.compile(r"[0-9.eE+\-*/() ]*pi[0-9.eE+\-*/() pi]*")


def _number(text: str) -> Any:
    """A number written as a literal or with pi ("pi/10", "2*pi"); the text if neither."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    low = text.strip().lower()
    if low in ("inf", "+inf", "-inf", "nan", "infinity", "-infinity"):
        return float(low)
    if _PI.fullmatch(text.strip()):
        try:
            return float(eval(text, {"__builtins__": {}}, {"pi": math.pi}))
        except Exception:  # noqa: BLE001 - not an expression after all: keep the text
            return text
    return text


def parse(text: str, kind: Any) -> Any:
    """`text` (a command-line value) read as `kind`; the text itself where it cannot be read
    (then `problem` says what was expected)."""
    base, none = _optional(kind)
    stripped = text.strip()
    if none and stripped.lower() in ("none", "null", ""):
        return None
    origin = typing.get_origin(base) or base
    if origin is bool:
        low = stripped.lower()
        truth = {"1": True, "true": True, "yes": True, "on": True,
                 "0": False, "false": False, "no": False, "off": False}
        return truth.get(low, text)
    if origin is str:
        return text
    if origin is Literal:
        choices = typing.get_args(base)
        if all(isinstance(c, str) for c in choices):
            return text
    value = _number(stripped) if origin in (int, float, Literal) else _json(stripped)
    if origin is int and isinstance(value, float) and math.isfinite(value) and \
            value.is_integer() and abs(value) < 2**53:
        return int(value)  # "1e3" -> 1000
    if origin is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _number(text)
