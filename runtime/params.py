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

from ttsc.dsl import ast
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.runtime.bounds import check_bounds

Value = int | float | bool | None


def parse_value(text: str) -> Value:
    """A command-line value: ``true``/``false``, an int, or a float."""
    t = text.strip()
    if t.lower() in ("true", "false"):
        return t.lower() == "true"
    try:
        return int(t)
    except ValueError:
        pass
    try:
        v = float(t)
    except ValueError:
        raise TtscError(f"`{text}` is not a number or a bool") from None
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
    if p.type == "bool":
        if not isinstance(v, bool):
            raise TtscError(f"parameter `{p.name}` ({where}) is a bool; got {v!r}")
        return v
    if isinstance(v, bool) or v is None:
        raise TtscError(f"parameter `{p.name}` ({where}) is {p.type}; got {v!r}")
    if p.type == "int":
        if isinstance(v, float):
            if not v.is_integer():
                raise TtscError(f"parameter `{p.name}` ({where}) is an int; got {v!r}")
            v = int(v)
    else:
        v = float(v)
    if (p.low is not None and v < p.low.value) or (p.high is not None and v > p.high.value):
        lo = "" if p.low is None else p.low.value
        hi = "" if p.high is None else p.high.value
        raise TtscError(f"parameter `{p.name}` = {v!r} is outside its range {lo}..{hi} ({where})")
    return v
