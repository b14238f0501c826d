"""Is every derived knob monotone in β?

A strategy that declares ``param beta`` derives its knobs (top-level ``let``
constants) from it; the promise of a single β knob is that raising β moves each
knob one way only. This module checks that numerically: it evaluates every knob
on a dense grid of β over [0, 1] *plus* the exact β values where each
``round``/``floor``/``ceil`` inside a knob switches to its next integer (found
by bisection to adjacent floats, so a step is never smeared over a grid cell),
then classifies each knob as constant, non-decreasing, non-increasing or
non-monotone, and for a non-monotone knob reports where its direction flips.

Knob expressions are evaluated by the one evaluator of expressions fixed by
the parameters (:mod:`ttsc.dsl.evaluate`), exactly as the engines bind them;
other parameters keep their defaults unless overridden.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from ttsc.dsl import ast
from ttsc.dsl.checker import CheckedProgram
from ttsc.dsl.diagnostics import Diagnostic
from ttsc.errors import TtscError
from ttsc.dsl.evaluate import Evaluator
from ttsc.runtime.params import Value, bind_params

PARAM = "beta"
GRID = 10_001
CODE = "E0901"  # diagnostic code of a non-monotone knob
MAX_SWITCHES = 4096

Env = dict[str, Any]


class NoBetaError(TtscError):
    """The program declares no ``beta`` parameter: there is nothing to check."""


@dataclass(frozen=True)
class Flip:
    """The knob turns from ``before`` to ``after``; it holds its turning ``value`` for β in [low, high]."""

    low: float
    high: float
    before: str
    after: str
    value: Any

    def describe(self) -> str:
        where = f"at β = {_fmt(self.low)}" if self.low == self.high else \
            f"for β in [{_fmt(self.low)}, {_fmt(self.high)}]"
        return f"turns from {self.before} to {self.after} {where} (where it is {_fmt(self.value)})"


@dataclass(frozen=True)
class Knob:
    name: str
    location: str           # file:line:col of its `let`
    span: ast.Span
    direction: str          # constant | non-decreasing | non-increasing | non-monotone | not numeric
    first: Any              # value at the low end of the domain
    last: Any               # value at the high end
    flips: tuple[Flip, ...] = ()

    @property
    def monotone(self) -> bool:
        return self.direction != "non-monotone"

    def to_json(self) -> dict:
        return {"name": self.name, "location": self.location, "direction": self.direction, "first": self.first,
                "last": self.last, "flips": [{"low": f.low, "high": f.high, "before": f.before, "after": f.after,
                                              "value": f.value} for f in self.flips]}


@dataclass(frozen=True)
class Report:
    strategy: str
    domain: tuple[float, float]
    grid: int
    switch_points: int
    knobs: tuple[Knob, ...]

    @property
    def ok(self) -> bool:
        return all(k.monotone for k in self.knobs)

    @property
    def method(self) -> str:
        lo, hi = self.domain
        return (f"dense grid of {self.grid:,} points on β ∈ [{lo:g}, {hi:g}] plus {self.switch_points} exact "
                "round/floor/ceil switch points (numeric, not a proof); other parameters at their defaults")

    def render(self) -> str:
        """A table of every knob's direction, then a verdict."""
        width = max([len(k.name) for k in self.knobs] + [4])
        spans = [f"{_fmt(k.first)} → {_fmt(k.last)}" for k in self.knobs]
        vwidth = max([len(v) for v in spans] + [1])
        lines = [f"{self.strategy}: β-monotonicity of {len(self.knobs)} knob{'s' * (len(self.knobs) != 1)}",
                 f"  method: {self.method}"]
        for k, v in zip(self.knobs, spans):
            lines.append(f"  {k.name:<{width}}  {k.direction:<14}  {v:<{vwidth}}  {k.location}")
        bad = [k.name for k in self.knobs if not k.monotone]
        if bad:
            lines.append(f"not monotone: {', '.join(f'`{b}`' for b in bad)}")
        else:
            lines.append("ok: every knob is monotone in β" if self.knobs else "ok: no knobs derive from β")
        return "\n".join(lines)

    def diagnostics(self) -> list[Diagnostic]:
        """One error per non-monotone knob, pointing at its `let`."""
        return [Diagnostic(CODE, f"knob `{k.name}` is not monotone in β", k.span,
                           help="derive each knob from β so that raising β moves it one way only",
                           notes=tuple(f"it {f.describe()}" for f in k.flips) + (f"checked on a {self.method}",))
                for k in self.knobs if not k.monotone]

    def to_json(self) -> dict:
        return {"strategy": self.strategy, "domain": list(self.domain), "method": self.method, "ok": self.ok,
                "knobs": [k.to_json() for k in self.knobs]}


def check_beta_monotone(checked: CheckedProgram, overrides: dict[str, Value] | None = None,
                        grid: int = GRID) -> Report:
    """Classify every knob of ``checked`` by its direction in β."""
    param = checked.params.get(PARAM)
    if param is None:
        raise NoBetaError(f"{checked.name} declares no `{PARAM}` parameter; there is nothing to check")
    if param.type != "float":
        raise TtscError(f"`{PARAM}` in {checked.name} is {param.type}; the monotonicity check needs a float in [0, 1]")
    if grid < 2:
        raise TtscError(f"the grid needs at least 2 points, got {grid}")
    lo = max(0.0, float(param.low.value)) if param.low is not None else 0.0
    hi = min(1.0, float(param.high.value)) if param.high is not None else 1.0
    if lo >= hi:
        raise TtscError(f"`{PARAM}` in {checked.name} has no room in [0, 1] (its range is {lo:g}..{hi:g})")
    base = bind_params(checked, overrides)
    lets = {i.name: i for i in checked.program.items if isinstance(i, ast.Let) and i.name in checked.knobs}
    evaluator = Evaluator(checked.type_of)
    knobs = [(name, lets[name].value) for name in checked.knobs]

    def env_at(beta: float) -> Env:
        env = {**base, PARAM: beta}
        for name, value in knobs:
            try:
                env[name] = evaluator.eval(value, env)
            except (ArithmeticError, ValueError) as exc:
                raise TtscError(f"knob `{name}` ({_where(checked, lets[name])}) cannot be evaluated at "
                                f"β = {beta!r}: {exc}") from None
        return env

    xs = [lo + (hi - lo) * i / (grid - 1) for i in range(grid)]
    envs = {x: env_at(x) for x in xs}
    switches = _switch_points(evaluator, lets, xs, envs, env_at)
    for x in switches:
        envs.setdefault(x, env_at(x))
    xs = sorted(envs)
    out = []
    for name, _ in knobs:
        values = [envs[x][name] for x in xs]
        out.append(_classify(name, _where(checked, lets[name]), lets[name].span, xs, values))
    return Report(checked.name, (lo, hi), grid, len(switches), tuple(out))


# ---- classification


def _classify(name: str, location: str, span: ast.Span, xs: list[float], values: list[Any]) -> Knob:
    if any(v is None or not isinstance(v, (int, float)) for v in values):
        return Knob(name, location, span, "constant" if len(set(map(repr, values))) == 1 else "not numeric",
                    values[0], values[-1])
    # Each change: (sign, index of the first sample at the new value).
    changes = [(1 if b > a else -1, i + 1) for i, (a, b) in enumerate(zip(values, values[1:])) if b != a]
    signs = {s for s, _ in changes}
    if not signs:
        direction = "constant"
    elif len(signs) == 1:
        direction = "non-decreasing" if signs == {1} else "non-increasing"
    else:
        direction = "non-monotone"
    flips = []
    word = {1: "increasing", -1: "decreasing"}
    for (s0, i0), (s1, i1) in zip(changes, changes[1:]):
        if s0 != s1:  # the turning value is held from sample i0 up to the sample before i1
            flips.append(Flip(xs[i0], xs[i1 - 1], word[s0], word[s1], values[i0]))
    return Knob(name, location, span, direction, values[0], values[-1], tuple(flips))


# ---- round/floor/ceil switch points


def _switch_points(evaluator: Evaluator, lets: dict[str, ast.Let], xs: list[float], envs: dict[float, Env],
                   env_at: Callable[[float], Env]) -> list[float]:
    """β values on both sides of every step of an integer-valued call inside a knob.

    A grid cell may hold several steps; each is found in turn from the left.
    At most :data:`MAX_SWITCHES` steps are refined (a knob like ``round(1e9 * beta)``
    steps everywhere; the grid alone judges the rest).
    """
    out: list[float] = []
    for let in lets.values():
        for call in _integer_steps(let.value):
            arg = lambda env, e=call.args[0]: evaluator.eval(e, env)  # noqa: E731
            step = _STEPS[call.func]
            level = lambda b: step(arg(env_at(b)))  # noqa: E731
            levels = [step(arg(envs[x])) for x in xs]
            for i in range(len(xs) - 1):
                a, b = xs[i], xs[i + 1]
                left = levels[i]
                while left != levels[i + 1] and a < b and len(out) < 2 * MAX_SWITCHES:
                    before, after = _bisect(lambda v: level(v) == left, a, b)
                    out += [before, after]
                    a, left = after, level(after)
    return sorted(set(out))


def _bisect(same: Callable[[float], bool], a: float, b: float) -> tuple[float, float]:
    """Adjacent floats (the last where ``same`` holds, the first where it does not) in [a, b]."""
    while True:
        mid = a + (b - a) / 2
        if mid <= a or mid >= b:
            return a, b
        a, b = (mid, b) if same(mid) else (a, mid)


def _integer_steps(e: ast.Node) -> Iterator[ast.Call]:
    if isinstance(e, ast.Call) and e.func in _STEPS and len(e.args) == 1:
        yield e
    for _, v in e:
        if isinstance(v, ast.Node):
            yield from _integer_steps(v)
        elif isinstance(v, tuple):
            for c in v:
                if isinstance(c, ast.Node):
                    yield from _integer_steps(c)


# The integer level each call's value is a function of: it switches where the level changes.
_STEPS: dict[str, Callable[[float], int]] = {"round": lambda v: math.floor(v + 0.5), "floor": math.floor,
                                             "ceil": math.ceil}


def _where(checked: CheckedProgram, node: ast.Node) -> str:
    return f"{checked.source.name}:{node.span.line}:{node.span.col}"


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v).lower() if isinstance(v, bool) else str(v)
