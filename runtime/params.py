"""Binding parameter values: defaults, overrides, ranges, knob evaluation.

Both engines bind parameters here, so a value is accepted or refused the same
way whichever engine runs; the limits that depend on parameter values (repeat
counts, window capacities) are checked here too. Knobs (top-level ``let``
constants derived from the parameters, e.g. CMC's β schedule) are computed by
both engines with Python's own arithmetic — ``round`` is Python's
ties-to-even ``round`` — so they agree to the bit.
"""

from __future__ import annotations

import math
import re

from ttsc.dsl import ast
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.runtime.bounds import check_bounds

Value = int | float | bool | None


# Plain ASCII number syntax only: Python's int()/float() also take `1_000` and non-ASCII digits (`１`).
_INT = re.compile(r"[+-]?[0-9]+")
_FLOAT = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_SYNTAX = "a value is true, false, an integer like 8 or -3, or a decimal number like 0.5 or 1e-3"

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # every engine holds an int parameter in 64 bits


def parse_value(text: str) -> Value:
    """A command-line value: ``true``/``false``, an int, or a float (plain ASCII number syntax)."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    if _INT.fullmatch(t):
        try:
            return int(t)
        except ValueError:  # past Python's digit limit for int(): far outside any range
            raise TtscError(f"`{t[:20]}…` has {len(t):,} digits: far outside any parameter's range") from None
    if _FLOAT.fullmatch(t):
        v = float(t)
    elif t.lower().lstrip("+-") in ("inf", "infinity", "nan"):
        v = math.inf
    else:
        raise TtscError(f"`{text}` is not a number or a bool ({_SYNTAX})")
    if not math.isfinite(v):
        raise TtscError(f"`{text}` is not a finite number")
    return v


def bind_params(checked: CheckedProgram, overrides: dict[str, Value] | None = None) -> dict[str, Value]:
    """Every parameter's value, in declaration order: its default unless overridden."""
    overrides = dict(overrides or {})
    unknown = sorted(set(overrides) - set(checked.params))
    if unknown:
        known = ", ".join(checked.params) or "none"
        raise TtscError(f"{checked.name} has no parameter {', '.join(f'`{u}`' for u in unknown)} (parameters: {known})")
    values: dict[str, Value] = {}
    for name, p in checked.params.items():
        v = overrides.get(name, p.default.value if not isinstance(p.default, ast.NoneLit) else None)
        values[name] = _coerce(checked, p, v)
    check_bounds(checked, values)
    return values


def _coerce(checked: CheckedProgram, p: ast.Param, v: Value) -> Value:
    where = f"{checked.source.name}:{p.span.line}:{p.span.col}"
    article = "an" if p.type == "int" else "a"
    if p.type == "bool":
        if not isinstance(v, bool):
            raise TtscError(f"parameter `{p.name}` ({where}) is a bool; got {_show(v)}")
        return v
    if isinstance(v, bool) or v is None:
        raise TtscError(f"parameter `{p.name}` ({where}) is {article} {p.type}; got {_show(v)}")
    given = v
    if p.type == "int":
        if isinstance(v, float):
            if not v.is_integer():
                raise TtscError(f"parameter `{p.name}` ({where}) is an int; got {_show(v)}")
            v = int(v)
        if not INT64_MIN <= v <= INT64_MAX:
            raise TtscError(f"parameter `{p.name}` = {_show(given)} is outside the int64 range "
                            f"{INT64_MIN}..{INT64_MAX} ({where})")
    else:
        try:
            v = float(v)
        except OverflowError:  # an int too large for a float
            raise TtscError(f"parameter `{p.name}` = {_show(v)} is too large for a float ({where})") from None
    if (p.low is not None and v < p.low.value) or (p.high is not None and v > p.high.value):
        lo = "" if p.low is None else p.low.value
        hi = "" if p.high is None else p.high.value
        raise TtscError(f"parameter `{p.name}` = {v!r} is outside its range {lo}..{hi} ({where})")
    return v


def _show(v: Value) -> str:
    """A value as the language writes it (``true``, ``none``), a huge int shortened."""
    if isinstance(v, bool) or v is None:
        return {True: "true", False: "false", None: "none"}[v]
    text = repr(v)
    return text if len(text) <= 24 else f"{text[:20]}…({len(text)} digits)"
