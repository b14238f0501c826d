"""Hypothesis strategies: random valid .tts programs and tiny replay stores.

``programs()`` yields the canonical text of programs that the checker accepts.
The formatter's round-trip tests and the interpreter-vs-compiled differential
tests share it, so it aims at covering the language's semantics rather than at
size: parameters with ranges, knobs, every kind of state (int, float, bool and
answer variables, windows, branch variables), signals, every statement (nested
`if`/`elif`/`else`, `repeat … as`, `break`, `stop`, `open`/`read … as`, `advance
… by`, `prune`, `accept`, `update` with several setters), the budget counters,
string literals and `valid`, every built-in function and
every query operator, with nested branch scopes (a `where` inside a `where`,
`votes(live, last)` inside an `update`).

Every program runs in milliseconds and stays in a numeric range both engines
represent exactly:

* nested `repeat` counts multiply to at most MAX_ITERATIONS;
* every numeric value written to state (`=`, `push`, `update … set`) that reads
  state is wrapped in `clamp`, `min(max(…))` or `%`, so no value grows with
  time; `*` takes one small operand and `/` divides by a literal, a name or a
  count, so expressions of bounded depth stay far below 2**31;
* `beta_confidence` gets arguments in [-2, 40]; `advance … by`, `open` and
  `read` get small counts.

``wild_cases()`` drops those bounds to reach the shapes that break engines:
no clamping, ints at the edges of 64 bits (INT_MIN, INT_MAX, 2**53 and products
that wrap), huge floats whose sums and products make inf and NaN, large windows
and counts, parameters away from their defaults, and stores with many distinct
answers, large vote counts and sometimes 1,024+ episodes (the native engine's
threaded path). Loops stay bounded (MAX_ITERATIONS) so every program still runs
quickly.

``tiny_stores()`` yields small in-memory stores that make ties and edge cases
common. ``programs(signals=True)`` may also read environment signals (`last_conf`:
thresholds, `prune … where last_conf < c`, windows of confidences, weighted
votes), to run on ``tiny_stores(signals=True)``, whose branches carry
confidences (NaN among them). ``layouts(program)`` re-prints a program the way a person might
(redundant parentheses, explicit `asc`, any line breaks, comments anywhere)
for the formatter's tests.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from hypothesis import strategies as st

from ttsc.dsl import ast
from ttsc.dsl.formatter import format_program
from ttsc.runtime.store import Branch, Question, Store

INT, FLOAT, BOOL, ANSWER, SET = "int", "float", "bool", "answer", "set"
NUM = (INT, FLOAT)
ALPHABET = ("1", "2", "3", "ERR")  # answers in tiny stores: few, so votes tie often
MAX_ITERATIONS = 60  # product of nested repeat counts
STATE_BOUND = 1000

_S = ast.Span.point()
_FLOATS = ("0.0", "0.125", "0.25", "0.5", "1.0", "1.5", "2.5", "3.0", "1.5e1", "2.0e-1")
_PARAM_FLOATS = ("-2.5", "-1.0", "-0.5", "0.0", "0.25", "0.5", "1.0", "1.5", "3.0")  # ascending
_FIELDS = {"last": ANSWER, "finished": BOOL, "pruned": BOOL, "depth": INT, "tokens": INT, "index": INT}
_SIGNAL_FIELDS = {"last_conf": FLOAT}  # fields the environment supplies as a signal
# confidences in tiny stores: few, so sort keys and weights tie; NaN (null in a store) often
_CONFIDENCES = (0.0, 0.5, 1.0, 1.5, 2.25, 3.0, 7.5, float("nan"))
_SETS = ("branches", "live", "active", "completed")
# the unbounded mode's extreme values, written with literals the grammar accepts (at most 15 digits, 1e15)
_INT_MIN = "1073741824 * 1073741824 * 8"  # 2**63 wraps to -2**63
_WILD_INTS = ("1073741824", "2147483647", "999999999999999", _INT_MIN, f"{_INT_MIN} - 1",
              "1073741824 * 8388608", "1073741824 * 8388608 + 1", "-1073741824 * 8388608 - 1")
_WILD_FLOATS = ("1.0e15", "9.999e14", " * ".join(["1.0e15"] * 7), " * ".join(["1.0e15"] * 21),  # 1e105, inf
                "1073741824.0 * 8388608.0", "0.1", "5.0e-15")
WILD_ALPHABET = tuple(str(i) for i in range(40)) + ("ERR",)


# ---- node builders (spans are placeholders: programs are printed, then parsed) ----

def _int(v: int) -> ast.Int:
    return ast.Int(span=_S, value=v)


def _float(text: str) -> ast.Float:
    return ast.Float(span=_S, value=float(text), text=text)


def _name(n: str) -> ast.Name:
    return ast.Name(span=_S, id=n)


def _call(f: str, *args: Any) -> ast.Call:
    return ast.Call(span=_S, func=f, func_span=_S, args=tuple(args))


def _bin(op: str, a: Any, b: Any) -> ast.Binary:
    return ast.Binary(span=_S, op=op, left=a, right=b)


def _neg(e: Any) -> Any:
    # The parser reads `-3` as the literal -3, so a generated tree must too.
    if isinstance(e, ast.Int):
        return _int(-e.value)
    if isinstance(e, ast.Float):
        return _float(e.text[1:] if e.text.startswith("-") else "-" + e.text)
    return ast.Unary(span=_S, op="-", operand=e)


def _ifexp(c: Any, a: Any, b: Any) -> ast.IfExp:
    return ast.IfExp(span=_S, cond=c, then=a, orelse=b)


@dataclass
class _Sym:
    name: str
    type: str
    kind: str  # param | knob | var | let | loop | bound | signal | window
    state: bool = False  # may change over an episode, so may grow if fed back into state
    high: int | None = None  # an int parameter's upper bound (for repeat counts)


class _Gen:
    """One program's generation: the names in scope by type, and the loop budget."""

    def __init__(self, draw: Callable, wild: bool = False, signals: bool = False):
        self.draw = draw
        self.wild = wild  # the unbounded mode (wild_cases)
        # the stores carry the `confidence` signal, so programs may read `last_conf` (tiny_stores(signals=True))
        self.signals = signals
        self.fields = {**_FIELDS, **_SIGNAL_FIELDS} if signals else _FIELDS
        self.scopes: list[dict[str, _Sym]] = [{}]
        self.branch_vars: dict[str, str] = {}
        self.windows: list[str] = []
        self.histories: list[str] = []  # `branch NAME: history(K)`
        self.branch_windows: list[str] = []  # `branch NAME: window(K)`
        self.n = 0
        self.loops = 0
        self.iterations = 1

    # ---- choices
    def pick(self, options: list) -> Any:
        return options[self.draw(st.integers(0, len(options) - 1))]  # integers() is cached; sampled_from is not

    def chance(self, p_in_8: int) -> bool:
        return self.draw(st.integers(0, 7)) < p_in_8

    def size(self) -> int:
        """How deep a statement's expression may nest: mostly shallow, sometimes three levels."""
        return self.draw(st.integers(1, 3))

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def declare(self, sym: _Sym) -> None:
        self.scopes[-1][sym.name] = sym

    def visible(self, ty: str, const: bool = False) -> list[_Sym]:
        seen = [s for scope in self.scopes for s in scope.values() if s.type == ty]
        return [s for s in seen if s.kind in ("param", "knob")] if const else seen

    def mentions_state(self, e: Any) -> bool:
        syms = {s.name: s for scope in self.scopes for s in scope.values()}
        for node in _walk(e):
            if isinstance(node, ast.Name) and (node.id in self.branch_vars or (
                    node.id in syms and syms[node.id].state)):
                return True
            if isinstance(node, ast.Call) and node.func in ("oldest", "newest", "mean"):
                return True
        return False

    # ---- expressions
    def expr(self, ty: str, depth: int, branch: bool = False, const: bool = False) -> Any:
        if ty == SET:
            const = False
        if depth <= 0 or self.chance(3):
            return self.leaf(ty, branch, const)
        make = {INT: self.int_, FLOAT: self.float_, BOOL: self.bool_, ANSWER: self.answer_, SET: self.set_}[ty]
        return make(depth - 1, branch, const)

    def num(self, depth: int, branch: bool, const: bool) -> Any:
        return self.expr(self.pick([INT, FLOAT]), depth, branch, const)

    def leaf(self, ty: str, branch: bool, const: bool) -> Any:
        opts: list[Callable[[], Any]] = [lambda s=s: _name(s.name) for s in self.visible(ty, const)]
        if branch:
            opts += [lambda f=f: _name(f) for f, t in {**self.fields, **self.branch_vars}.items() if t == ty]
            opts += self.history_reads(ty)
            opts += self.branch_window_reads(ty)
            if self.signals and ty == FLOAT:  # often, so most programs read it
                opts += [lambda: _name("last_conf")] * 3
        if ty == INT:
            opts.append(lambda: _int(self.draw(st.integers(-3, 12))))
            if self.wild:
                opts += [lambda: self.wild_literal(_WILD_INTS)] * 2
            if not const:
                opts.append(lambda: _call("count", self.set_leaf()))
                opts.append(self.budget_counter)
        elif ty == FLOAT:
            opts.append(lambda: self.float_literal())
            if self.wild:
                opts += [lambda: self.wild_literal(_WILD_FLOATS)] * 2
            if not const:
                opts.append(lambda: _call("confidence", self.set_leaf()))
                opts += [lambda w=w: _call(self.pick(["oldest", "newest", "mean"]), _name(w)) for w in self.windows]
        elif ty == BOOL:
            opts.append(lambda: ast.Bool(span=_S, value=self.draw(st.booleans())))
            if not const:
                opts.append(lambda: _call("unanimous", self.set_leaf()))
        elif ty == ANSWER:
            opts.append(lambda: ast.NoneLit(span=_S))
            if not const:
                opts.append(lambda: _call("majority", self.set_leaf()))
                opts.append(self.answer_literal)
        else:
            return self.set_leaf()
        return self.pick(opts)()

    def budget_counter(self) -> Any:
        """A budget counter (builtins.COUNTERS): the episode's spending so far, or its interval Δ."""
        return _name(self.pick(["spent", "spent_sequential", "interval"]))

    def answer_literal(self) -> ast.Str:
        """An answer written in the program: one the stores give (the non-answer "ERR" among them), or not."""
        return ast.Str(span=_S, value=self.pick(list(ALPHABET) + ["", "#{x}"]))

    def validity(self, d: int, branch: bool) -> ast.Call:
        """`valid(a)`: often of a branch's `last` in branch scope, so `where valid(last)` filters."""
        if branch and self.chance(4):
            return _call("valid", _name("last"))
        return _call("valid", self.expr(ANSWER, d, branch))

    def set_leaf(self) -> Any:
        names = [s.name for s in self.visible(SET)]
        return _name(self.pick(list(_SETS) + names))

    def wild_literal(self, texts: tuple[str, ...]) -> Any:
        """An extreme value: parsed from its text, so products stay products (and wrap or overflow)."""
        from ttsc.dsl.parser import parse_source
        from ttsc.dsl.diagnostics import Source
        text = self.pick(list(texts))
        if self.chance(2):
            text = f"-({text})"
        let = parse_source(Source("<wild>", f"strategy w\nlet x = {text}\n")).items[0]
        return let.value

    def float_literal(self) -> ast.Float:
        text = self.pick(list(_FLOATS))
        return _float("-" + text if self.chance(1) else text)

    def small(self, branch: bool, const: bool) -> Any:
        """An int that stays small: a multiplier (any int in the unbounded mode)."""
        if self.wild and self.chance(5):
            return self.expr(INT, 1, branch, const)
        opts = [lambda: _int(self.draw(st.integers(-2, 6)))]
        if not const:
            opts += [lambda s=s: _name(s.name) for s in self.visible(INT) if s.kind == "loop"]
            opts.append(lambda: _call("count", self.set_leaf()))
        if branch:
            opts.append(lambda: _name("depth"))
        return self.pick(opts)()

    def divisor(self, const: bool) -> Any:
        if self.wild and self.chance(3):  # inf, NaN, zero or INT_MIN below the line
            return self.num(1, False, const)
        opts = [lambda: _int(self.draw(st.integers(-3, 7))), lambda: self.float_literal()]
        opts += [lambda s=s: _name(s.name) for s in self.visible(INT, const) + self.visible(FLOAT, const)
                 if s.kind in ("param", "knob", "loop")]
        if not const:
            opts.append(lambda: _call("count", self.set_leaf()))
        return self.pick(opts)()

    def bounded_int(self, depth: int, branch: bool, const: bool) -> Any:
        """An int in [-2, 40], for `beta_confidence` (up to a few thousand, or anything, in the unbounded mode)."""
        if self.wild and self.chance(3):
            return self.pick([lambda: _int(self.draw(st.integers(0, 5000))),
                              lambda: self.expr(INT, depth, branch, const)])()
        if not const and self.chance(4):
            return _call(self.pick(["count", "top1", "top2"]), self.expr(SET, depth, branch))
        inner = self.expr(INT, depth, branch, const)
        return _call("clamp", inner, _int(self.draw(st.integers(-2, 0))), _int(self.draw(st.integers(1, 40))))

    def int_(self, d: int, branch: bool, const: bool) -> Any:
        x = lambda: self.expr(INT, d, branch, const)  # noqa: E731
        n = lambda: self.num(d, branch, const)  # noqa: E731
        opts = [
            lambda: _bin(self.pick(["+", "-"]), x(), x()),
            lambda: _bin("*", x(), self.small(branch, const)) if self.chance(5) else
            _bin("*", self.small(branch, const), x()),
            lambda: _bin(self.pick(["//", "%"]), x(), self.int_divisor(const)),
            lambda: _neg(x()),
            lambda: _call(self.pick(["min", "max"]), *[x() for _ in range(self.draw(st.integers(2, 3)))]),
            lambda: _call("clamp", x(), x(), x()),
            lambda: _call("abs", x()),
            lambda: _call(self.pick(["round", "floor", "ceil"]), n()),
            lambda: _ifexp(self.expr(BOOL, d, branch, const), x(), x()),
        ]
        if not const:
            opts += [
                lambda: _call(self.pick(["count", "top1", "top2"]), self.expr(SET, d, branch)),
                lambda: _call("votes", self.expr(SET, d, branch), self.expr(ANSWER, d, branch)),
            ]
            opts += [lambda w=w: _call("size", _name(w)) for w in self.windows]
            opts += self.aggregates(INT, d, branch)
        return self.pick(opts)()

    def int_divisor(self, const: bool) -> Any:
        if self.wild and self.chance(3):
            return self.expr(INT, 1, False, const)
        opts = [lambda: _int(self.draw(st.integers(-3, 7)))]
        opts += [lambda s=s: _name(s.name) for s in self.visible(INT, const) if s.kind in ("param", "knob", "loop")]
        if not const:
            opts.append(lambda: _call("count", self.set_leaf()))
        return self.pick(opts)()

    def float_(self, d: int, branch: bool, const: bool) -> Any:
        f = lambda: self.expr(FLOAT, d, branch, const)  # noqa: E731
        n = lambda: self.num(d, branch, const)  # noqa: E731

        def mixed(op: str) -> Any:
            a, b = f(), n()
            return _bin(op, a, b) if self.chance(4) else _bin(op, b, a)

        opts = [
            lambda: _bin("/", n(), self.divisor(const)),
            lambda: mixed(self.pick(["+", "-"])),
            lambda: _bin("*", f(), self.small(branch, const)),
            lambda: _bin(self.pick(["//", "%"]), f(), self.divisor(const)),
            lambda: _neg(f()),
            lambda: _call(self.pick(["min", "max"]), f(), *[n() for _ in range(self.draw(st.integers(1, 2)))]),
            lambda: _call("clamp", f(), n(), n()),
            lambda: _call("abs", f()),
            lambda: _call("round", n(), _int(self.draw(st.integers(-1, 3)))),
            lambda: _call("beta_confidence", self.bounded_int(d, branch, const), self.bounded_int(d, branch, const)),
            lambda: _ifexp(self.expr(BOOL, d, branch, const), f(), n()) if self.chance(4) else
            _ifexp(self.expr(BOOL, d, branch, const), n(), f()),
        ]
        if not const:
            opts.append(lambda: _call("confidence", self.expr(SET, d, branch)))
            opts += self.aggregates(FLOAT, d, branch)
        return self.pick(opts)()

    def bool_(self, d: int, branch: bool, const: bool) -> Any:
        b = lambda: self.expr(BOOL, d, branch, const)  # noqa: E731
        opts = [
            lambda: _bin(self.pick(["<", "<=", ">", ">=", "==", "!="]), self.num(d, branch, const),
                         self.num(d, branch, const)),
            lambda: _bin(self.pick(["==", "!="]), self.expr(ANSWER, d, branch, const),
                         self.expr(ANSWER, d, branch, const)),
            lambda: _bin(self.pick(["==", "!="]), b(), b()),
            lambda: _bin(self.pick(["and", "or"]), b(), b()),
            lambda: ast.Unary(span=_S, op="not", operand=b()),
            lambda: _ifexp(b(), b(), b()),
        ]
        if not const:
            opts.append(lambda: _call("unanimous", self.expr(SET, d, branch)))
            opts.append(lambda: self.validity(d, branch))
        if branch and self.signals:  # a threshold on the confidence, as controllers write them
            opts += [lambda: _bin(self.pick(["<", "<=", ">", ">=", "==", "!="]), _name("last_conf"),
                                  self.float_literal())] * 2
        return self.pick(opts)()

    def answer_(self, d: int, branch: bool, const: bool) -> Any:
        opts = [lambda: _ifexp(self.expr(BOOL, d, branch, const), self.expr(ANSWER, d, branch, const),
                               self.expr(ANSWER, d, branch, const))]
        if not const:
            opts.append(lambda: _call("majority", self.expr(SET, d, branch)))
            opts += self.aggregates(ANSWER, d, branch)
        return self.pick(opts)()

    def set_(self, d: int, branch: bool, const: bool) -> Any:
        s = lambda: self.expr(SET, d, branch)  # noqa: E731
        opts = [
            lambda: ast.Where(span=_S, set=s(), cond=self.expr(BOOL, d, branch=True)),
            lambda: ast.Sorted(span=_S, set=s(), key=self.expr(self.pick([INT, FLOAT, BOOL]), d, branch=True),
                               descending=self.draw(st.booleans())),
            lambda: ast.Take(span=_S, set=s(), count=self.expr(INT, d, False)),
            lambda: _ifexp(self.expr(BOOL, d, branch, const), s(), s()),  # inside branch scope, per member
        ]
        opts += self.set_algebra(d, branch)
        return self.pick(opts)()

    # ---- set algebra and aggregates over a set
    def set_algebra(self, d: int, branch: bool) -> list[Callable[[], Any]]:
        """`take last`, `union`, `intersect`, `minus`: often of sets that overlap (a set and a query on it)."""
        s = lambda: self.expr(SET, d, branch)  # noqa: E731

        def overlapping() -> Any:
            a = s()
            return a, (ast.Where(span=_S, set=a, cond=self.expr(BOOL, d, branch=True)) if self.chance(4) else s())

        def set_op() -> Any:
            a, b = overlapping()
            if self.chance(4):
                a, b = b, a
            return ast.SetOp(span=_S, op=self.pick(["union", "intersect", "minus"]), set=a, other=b)

        def chained() -> Any:
            """A take (or take last) of the last k: a set whose members' places no longer start at 0."""
            small = lambda: ast.Int(span=_S, value=self.draw(st.integers(0, 3)))  # noqa: E731
            inner = ast.TakeLast(span=_S, set=s(), count=small() if self.chance(6) else self.expr(INT, d, False))
            kind = ast.TakeLast if self.chance(4) else ast.Take
            return kind(span=_S, set=inner, count=small() if self.chance(6) else self.expr(INT, d, False))

        return [lambda: ast.TakeLast(span=_S, set=s(), count=self.expr(INT, d, False)), set_op, chained]

    def aggregates(self, ty: str, d: int, branch: bool) -> list[Callable[[], Any]]:
        """distinct, sum_of / mean_of / min_of / max_of and weighted, the value per member in branch scope."""
        s = lambda: self.expr(SET, d, branch)  # noqa: E731
        if ty == ANSWER:
            return [lambda: _call("weighted", s(), self.num(d, True, False))]
        if ty == INT:
            return [lambda: _call("distinct", s()),
                    lambda: _call(self.pick(["sum_of", "min_of", "max_of"]), s(), self.expr(INT, d, True))]
        return [lambda: _call(self.pick(["sum_of", "min_of", "max_of"]), s(), self.expr(FLOAT, d, True)),
                lambda: _call("mean_of", s(), self.num(d, True, False))]

    # ---- per-branch answer histories
    def history(self) -> ast.BranchHistory:
        name = self.fresh("h")
        self.histories.append(name)
        return ast.BranchHistory(span=_S, name=name, capacity=self.draw(st.integers(1, 16) if self.wild else
                                                                         st.integers(1, 4)))

    def history_reads(self, ty: str) -> list[Callable[[], Any]]:
        """In branch scope: the member's own history, through the function of type ``ty``."""
        func = {INT: "history_size", ANSWER: "history_majority", BOOL: "history_unanimous"}.get(ty)
        out = [lambda h=h: _call(func, _name(h)) for h in self.histories] if func else []
        if ty == INT:  # how often the member held an answer: a constant, its own or one of the episode's
            out += [lambda h=h: _call("history_votes", _name(h), self.expr(ANSWER, 1, True)) for h in self.histories]
        return out

    # ---- per-branch windows
    def branch_window(self) -> ast.BranchWindow:
        name = self.fresh("bw")
        self.branch_windows.append(name)
        return ast.BranchWindow(span=_S, name=name, capacity=self.draw(st.integers(1, 64) if self.wild else
                                                                       st.integers(1, 4)))

    def branch_window_reads(self, ty: str) -> list[Callable[[], Any]]:
        if ty == INT:
            return [lambda w=w: _call("size", _name(w)) for w in self.branch_windows]
        if ty == FLOAT:
            return [lambda w=w: _call(self.pick(["oldest", "newest", "mean"]), _name(w)) for w in self.branch_windows]
        return []

    def s_update_push(self, depth: int) -> Any:
        """`update S push E to w`: a member's own value, kept bounded like any state fed back into itself."""
        value = self.bounded(self.num(self.size(), True, False), FLOAT)
        if self.signals and self.chance(3):  # a window of confidences (DeepConf's group confidence)
            value = _name("last_conf")
        return ast.UpdatePush(span=_S, set=self.expr(SET, 2), value=value, window=self.pick(self.branch_windows))

    def bounded(self, e: Any, ty: str) -> Any:
        """``e`` kept within ±STATE_BOUND if it reads state, so state cannot grow without bound."""
        if self.wild or ty not in NUM or not self.mentions_state(e):
            return e
        lo, hi = _int(-STATE_BOUND), _int(STATE_BOUND)
        form = self.draw(st.integers(0, 2))
        if form == 0:
            return _call("clamp", e, lo, hi)
        if form == 1:
            return _call("min", _call("max", e, lo), hi)
        return _bin("%", e, _int(self.draw(st.integers(2, STATE_BOUND))))

    # ---- declarations
    def param(self) -> ast.Param:
        name = self.fresh("p")
        ty = self.pick([INT, INT, FLOAT, BOOL])
        low = high = None
        if ty == BOOL:
            default: Any = ast.Bool(span=_S, value=self.draw(st.booleans()))
        elif ty == INT:
            lo = self.draw(st.integers(-3, 3))
            hi = lo + self.draw(st.integers(0, 6))
            default = _int(self.draw(st.integers(lo, hi)))
            low = _int(lo) if self.chance(6) else None
            high = _int(hi) if self.chance(6) else None
        else:
            i, j, k = sorted(self.draw(st.lists(st.integers(0, len(_PARAM_FLOATS) - 1), min_size=3, max_size=3)))
            default = _float(_PARAM_FLOATS[j])
            low = _float(_PARAM_FLOATS[i]) if self.chance(5) else None
            high = _float(_PARAM_FLOATS[k]) if self.chance(5) else None
        self.declare(_Sym(name, ty, "param", high=high.value if ty == INT and high is not None else None))
        return ast.Param(span=_S, name=name, type=ty, default=default, low=low, high=high)

    def knob(self) -> ast.Let:
        ty = self.pick([INT, FLOAT, BOOL])
        value = self.expr(ty, 1, const=True)
        name = self.fresh("k")
        self.declare(_Sym(name, ty, "knob"))
        return ast.Let(span=_S, name=name, value=value)

    def var(self) -> ast.Var:
        ty = self.pick([INT, FLOAT, BOOL, ANSWER])
        init = self.num(1, False, True) if ty == FLOAT else self.expr(ty, 1, const=True)
        name = self.fresh("v")
        self.declare(_Sym(name, ty, "var", state=True))
        return ast.Var(span=_S, name=name, type=ty, init=init)

    def window(self) -> ast.Window:
        cap: Any = _int(self.draw(st.integers(1, 5) | st.integers(1, 2000) if self.wild else st.integers(1, 5)))
        if self.chance(2):
            cap = _call("clamp", self.expr(INT, 1, const=True), _int(1), cap)
        name = self.fresh("w")
        self.windows.append(name)
        return ast.Window(span=_S, name=name, capacity=cap)

    def branch_var(self) -> ast.BranchVar:
        ty = self.pick([INT, FLOAT, BOOL, ANSWER])
        init = self.num(1, False, True) if ty == FLOAT else self.expr(ty, 1, const=True)
        name = self.fresh("b")
        self.branch_vars[name] = ty
        return ast.BranchVar(span=_S, name=name, type=ty, init=init)

    def signal(self) -> ast.Signal:
        ty = self.pick([INT, FLOAT, BOOL, ANSWER, ANSWER, SET])
        value = self.expr(ty, 2)
        name = self.fresh("s")
        self.declare(_Sym(name, ty, "signal", state=True))
        return ast.Signal(span=_S, name=name, value=value)

    # ---- statements
    def block(self, depth: int, extra: dict[str, _Sym] | None = None) -> tuple:
        self.scopes.append(dict(extra or {}))
        body = tuple(self.stmt(depth) for _ in range(self.draw(st.integers(0, 3))))
        self.scopes.pop()
        return body

    def stmt(self, depth: int) -> Any:
        kinds = ["let", "let", "open", "read", "advance", "advance", "advance", "prune", "accept"]
        if depth < 3:  # not at top level, where it would end most episodes before they start
            kinds.append("stop")
        if any(s.kind == "var" for s in self.visible(INT) + self.visible(FLOAT) + self.visible(BOOL)
               + self.visible(ANSWER)):
            kinds += ["assign", "assign"]
        if self.windows:
            kinds.append("push")
        if self.branch_vars:
            kinds += ["update", "update"]
        if self.branch_windows:
            kinds += ["update_push", "update_push"]
        if self.signals:
            kinds += ["confidence_prune", "confidence_prune"]
        if depth > 0:
            kinds += ["if", "if"]
            if self.iterations * 2 <= MAX_ITERATIONS:
                kinds += ["repeat", "repeat"]
        if self.loops:
            kinds += ["break"] * 2
        return getattr(self, "s_" + self.pick(kinds))(depth)

    def s_let(self, depth: int) -> ast.Let:
        ty = self.pick([INT, FLOAT, BOOL, ANSWER, SET])
        value = self.expr(ty, self.size())
        name = self.fresh("t")
        self.declare(_Sym(name, ty, "let", state=self.mentions_state(value)))
        return ast.Let(span=_S, name=name, value=value)

    def s_assign(self, depth: int) -> ast.Assign:
        target = self.pick([s for t in (INT, FLOAT, BOOL, ANSWER) for s in self.visible(t) if s.kind == "var"])
        value = self.num(self.size(), False, False) if target.type == FLOAT else self.expr(target.type, self.size())
        return ast.Assign(span=_S, name=target.name, value=self.bounded(value, target.type))

    def s_push(self, depth: int) -> ast.Push:
        value = self.bounded(self.num(self.size(), False, False), FLOAT)
        return ast.Push(span=_S, value=value, window=self.pick(self.windows))

    def s_if(self, depth: int) -> ast.If:
        branches = tuple(ast.IfBranch(span=_S, cond=self.expr(BOOL, self.size()), body=self.block(depth - 1))
                         for _ in range(self.draw(st.integers(1, 3))))
        orelse = self.block(depth - 1) if self.chance(4) else None
        return ast.If(span=_S, branches=branches, orelse=orelse)

    def s_repeat(self, depth: int) -> ast.Repeat:
        budget = MAX_ITERATIONS // self.iterations
        count, most = self.repeat_count(min(budget, 30))
        var = self.fresh("i") if self.chance(5) else None
        extra = {var: _Sym(var, INT, "loop")} if var else {}
        outer = self.iterations
        self.iterations *= max(1, most)
        self.loops += 1
        body = self.block(depth - 1, extra)
        self.loops -= 1
        self.iterations = outer
        return ast.Repeat(span=_S, count=count, var=var, body=body)

    def repeat_count(self, most: int) -> tuple[Any, int]:
        """A constant count and an upper bound on its value for any parameter values in range."""
        small = [s for s in self.visible(INT, const=True) if s.kind == "param" and s.high is not None
                 and s.high <= most]
        k = self.draw(st.integers(0, 3))
        if k == 1 and small:
            s = self.pick(small)
            return _name(s.name), max(0, s.high)
        if k == 2:
            hi = self.draw(st.integers(0, most))
            return _call("clamp", self.expr(INT, 1, const=True), _int(self.draw(st.integers(-1, 1))), _int(hi)), hi
        if k == 3:
            hi = self.draw(st.integers(0, most))
            return _call("min", self.expr(INT, 1, const=True), _int(hi)), hi
        n = self.draw(st.integers(1, most))
        return _int(n), n

    def s_break(self, depth: int) -> ast.Break:
        return ast.Break(span=_S)

    def s_stop(self, depth: int) -> ast.Stop:
        return ast.Stop(span=_S, value=self.expr(ANSWER, self.size()))

    def _take_count(self) -> Any:
        if self.wild and self.chance(2):
            return self.expr(INT, 2)  # `open` takes at most what the question has, whatever the count
        if self.chance(5):
            return _int(self.draw(st.integers(0, 4)))
        return _call("clamp", self.expr(INT, 2), _int(-1), _int(self.draw(st.integers(0, 6))))

    def _open_like(self, cls: type) -> Any:
        count = self._take_count()
        bind = self.fresh("g") if self.chance(3) else None
        if bind:
            self.declare(_Sym(bind, SET, "bound", state=True))
        return cls(span=_S, count=count, bind=bind)

    def s_open(self, depth: int) -> ast.Open:
        return self._open_like(ast.Open)

    def s_read(self, depth: int) -> ast.Read:
        return self._open_like(ast.Read)

    def s_advance(self, depth: int) -> ast.Advance:
        by = None
        if self.wild and self.chance(3):
            by = self.expr(INT, self.size(), branch=True)
        elif self.chance(5):
            k = self.draw(st.integers(0, 2))
            if k == 0:
                by = _int(self.draw(st.integers(-1, 3)))
            elif k == 1:
                by = _ifexp(self.expr(BOOL, 2, branch=True), _int(self.draw(st.integers(0, 3))),
                            _int(self.draw(st.integers(1, 3))))
            else:
                by = _call("clamp", self.expr(INT, 2, branch=True), _int(-1), _int(self.draw(st.integers(1, 4))))
        return ast.Advance(span=_S, set=self.expr(SET, self.size()), by=by)

    def s_confidence_prune(self, depth: int) -> ast.Prune:
        """`prune S where last_conf < c`: the controller a confidence signal is for."""
        cond = _bin(self.pick(["<", "<=", ">"]), _name("last_conf"), self.float_literal())
        if self.chance(3):
            cond = _bin(self.pick(["and", "or"]), cond, self.expr(BOOL, 1, branch=True))
        return ast.Prune(span=_S, set=ast.Where(span=_S, set=self.expr(SET, 1), cond=cond))

    def s_prune(self, depth: int) -> ast.Prune:
        return ast.Prune(span=_S, set=self.expr(SET, self.size()))

    def s_accept(self, depth: int) -> ast.Accept:
        """`accept S`: any set (often a query, so the order within one `accept` matters)."""
        return ast.Accept(span=_S, set=self.expr(SET, self.size()))

    def s_update(self, depth: int) -> ast.Update:
        fields = self.draw(st.lists(st.sampled_from(sorted(self.branch_vars)), min_size=1, max_size=3, unique=True))
        setters = []
        for f in fields:
            ty = self.branch_vars[f]
            value = self.num(2, True, False) if ty == FLOAT else self.expr(ty, 2, branch=True)
            setters.append(ast.Setter(span=_S, field=f, value=self.bounded(value, ty)))
        return ast.Update(span=_S, set=self.expr(SET, self.size()), setters=tuple(setters))

    # ---- a whole program
    def program(self) -> ast.Program:
        items: list[Any] = [self.param() for _ in range(self.draw(st.integers(0, 3)))]
        decls = {"knob": self.knob, "var": self.var, "window": self.window, "branch": self.branch_var,
                 "signal": self.signal, "history": self.history, "branch window": self.branch_window}
        for kind in self.draw(st.lists(st.sampled_from(sorted(decls)), min_size=2, max_size=8)):
            items.append(decls[kind]())
        if self.wild or self.chance(7):
            first = self.pick([self.s_open, self.s_read])(0)
            most = 40 if self.wild else 6
            items.append(first.model_copy(update={"count": _int(self.draw(st.integers(1, most)))}))
        items += [self.stmt(3) for _ in range(self.draw(st.integers(1, 7)))]
        if self.chance(8 if self.wild else 6):  # mostly a vote, so episodes end with an answer worth comparing
            if self.wild and self.chance(4):  # a set that is rarely empty: few programs answer none everywhere
                value = _call("majority", self.pick([_name("branches"), _name("live")]))
            elif self.signals and self.chance(3):  # a confidence-weighted vote
                value = _call("weighted", self.expr(SET, 1), _name("last_conf"))
            else:
                value = _call("majority", self.expr(SET, 2)) if self.chance(5) else self.expr(ANSWER, self.size())
            items.append(ast.Stop(span=_S, value=value))
        return ast.Program(span=_S, name=self.fresh("gen"), items=tuple(items))


def _walk(node: Any):
    yield node
    if isinstance(node, ast.Node):
        for key, value in node:
            if key in ("span", "func_span"):
                continue
            for v in value if isinstance(value, tuple) else (value,):
                if isinstance(v, ast.Node):
                    yield from _walk(v)


@st.composite
def program_trees(draw, signals: bool = False) -> ast.Program:
    """Syntax trees of programs the checker accepts (placeholder spans); with ``signals``, they may read
    the fields of environment signals (`last_conf`), for stores that carry them."""
    return _Gen(draw, signals=signals).program()


def programs(signals: bool = False) -> st.SearchStrategy[str]:
    """Canonical source text of programs the checker accepts."""
    return program_trees(signals).map(format_program)


@st.composite
def wild_cases(draw) -> tuple[str, dict[str, Any], Store, tuple[int, ...]]:
    """The unbounded mode: (program text, parameter values, store, seeds).

    Parameters take values other than their defaults (inside their ranges, or at
    the edges of 64 bits when unbounded); one case in 16 runs at least 1,024
    episodes.
    """
    program = _Gen(draw, wild=True).program()
    params: dict[str, Any] = {}
    for p in program.items:
        if isinstance(p, ast.Param) and draw(st.booleans()):
            params[p.name] = draw(_param_value(p))
    store = draw(tiny_stores(wild=True))
    n = len(store.questions)
    seeds = draw(st.sampled_from([(0, 1), (0, 1, 2), tuple(range(-(-1024 // n)))]
                                 if draw(st.integers(0, 15)) == 0 else [(0, 1), (0, 1, 2), (5,)]))
    return format_program(program), params, store, seeds


def _param_value(p: ast.Param) -> st.SearchStrategy:
    if p.type == BOOL:
        return st.booleans()
    lo = p.low.value if p.low is not None else None
    hi = p.high.value if p.high is not None else None
    if p.type == INT:
        edges = [v for v in (-(1 << 63), (1 << 63) - 1, 1 << 53, (1 << 53) + 1, 0, -1)
                 if (lo is None or v >= lo) and (hi is None or v <= hi)]
        inner = st.integers(min_value=lo, max_value=hi)
        return st.sampled_from(edges) | inner if edges else inner
    inner = st.floats(min_value=lo, max_value=hi, allow_nan=False, allow_infinity=False)
    edges = [v for v in (1e300, -1e300, 2.0 ** 53, 0.0, -0.0, 5e-324) if (lo is None or v >= lo) and (hi is None or v <= hi)]
    return st.sampled_from(edges) | inner if edges else inner


# ---- tiny replay stores --------------------------------------------------------

@st.composite
def _question(draw, mode: str, wild: bool = False, signals: bool = False) -> Question:
    freq = draw(st.integers(1, 600))
    answer = st.sampled_from(WILD_ALPHABET if wild and draw(st.booleans()) else ALPHABET)
    most = 48 if wild else 12  # branches

    def branch(probes_max: int) -> Branch:
        probes = tuple(draw(st.lists(answer, max_size=probes_max)))
        full = freq * len(probes)
        # Totals below Δ·len(probes) happen in the real data: the last interval is then free.
        total = draw(st.integers(0, full + 2 * freq) | st.integers(0, max(0, full - 1)))
        conf = tuple(draw(st.lists(st.sampled_from(_CONFIDENCES), min_size=len(probes) + 1,
                                   max_size=len(probes) + 1))) if signals else None
        return Branch(probes, total, draw(answer), conf)

    if mode == "identical":
        one = branch(6)
        branches = [one] * draw(st.integers(1, most))
    elif mode == "no_probes":  # every branch finishes the moment it is opened
        branches = [branch(0) for _ in range(draw(st.integers(1, most)))]
    elif mode == "single":
        branches = [branch(6)]
    else:
        branches = [branch(12 if wild else 6) for _ in range(draw(st.integers(1, most)))]
    return Question(text=f"q-{mode}", gold=draw(answer), probe_freq=freq, branches=tuple(branches))


@st.composite
def tiny_stores(draw, wild: bool = False, signals: bool = False) -> Store:
    """Stores of 1-4 questions, 1-12 branches each, 0-6 probes, answers from ALPHABET.

    ``wild``: up to 48 branches and 12 probes, often answers from the 41 of WILD_ALPHABET.
    ``signals``: every branch carries the `confidence` signal (values from _CONFIDENCES, NaN among them).
    """
    modes = st.sampled_from(["mixed", "mixed", "mixed", "identical", "no_probes", "single"])
    questions = tuple(draw(_question(draw(modes), wild, signals)) for _ in range(draw(st.integers(1, 4))))
    return Store(name="tiny", path="<tiny>", questions=questions, meta={"synthetic": True})


# ---- the same program laid out by hand ------------------------------------------

# Binding strength, loosest first (grammars/tts.lark), written out again here so the
# formatter is tested against an independent printer.
# 0 query, 1 if-then-else, 2 or, 3 and, 4 not, 5 comparison, 6 + -, 7 * / // %, 8 unary -, 9 atom.
_LEVEL = {"or": 2, "and": 3, "+": 6, "-": 6, "*": 7, "/": 7, "//": 7, "%": 7}
_CMP = ("==", "!=", "<", "<=", ">", ">=")


def _level(e: Any) -> int:
    if isinstance(e, (ast.Where, ast.Sorted, ast.Take, ast.TakeLast, ast.SetOp)):
        return 0
    if isinstance(e, ast.IfExp):
        return 1
    if isinstance(e, ast.Binary):
        return 5 if e.op in _CMP else _LEVEL[e.op]
    if isinstance(e, ast.Unary):
        return 4 if e.op == "not" else 8
    if isinstance(e, (ast.Int, ast.Float)) and str(getattr(e, "text", e.value)).startswith("-"):
        return 8
    return 9


class _Printer:
    """Prints a tree with random redundant parentheses and explicit `asc`."""

    def __init__(self, draw: Callable, wild: bool = False):
        self.draw = draw
        self.wild = wild  # the unbounded mode (wild_cases)

    def x(self, e: Any, need: int = 0) -> str:
        text = self.bare(e)
        if _level(e) < need or self.draw(st.integers(0, 9)) == 0:
            return f"({text})"
        return text

    def bare(self, e: Any) -> str:
        if isinstance(e, ast.Int):
            return str(e.value)
        if isinstance(e, ast.Float):
            return e.text
        if isinstance(e, ast.Bool):
            return "true" if e.value else "false"
        if isinstance(e, ast.NoneLit):
            return "none"
        if isinstance(e, ast.Str):
            return f'"{e.value}"'
        if isinstance(e, ast.Name):
            return e.id
        if isinstance(e, ast.Call):
            return f"{e.func}({', '.join(self.x(a) for a in e.args)})"
        if isinstance(e, ast.Unary):
            if e.op == "not":
                return f"not {self.x(e.operand, 4)}"
            inner = self.x(e.operand, 8)
            return f"-({inner})" if inner.startswith("-") else f"-{inner}"
        if isinstance(e, ast.Binary):
            if e.op in _CMP:
                return f"{self.x(e.left, 6)} {e.op} {self.x(e.right, 6)}"
            lv = _LEVEL[e.op]
            return f"{self.x(e.left, lv)} {e.op} {self.x(e.right, lv + 1)}"
        if isinstance(e, ast.IfExp):
            return f"if {self.x(e.cond)} then {self.x(e.then)} else {self.x(e.orelse, 1)}"
        if isinstance(e, ast.Where):
            return f"{self.x(e.set)} where {self.x(e.cond, 1)}"
        if isinstance(e, ast.Sorted):
            order = " desc" if e.descending else (" asc" if self.draw(st.booleans()) else "")
            return f"{self.x(e.set)} sorted by {self.x(e.key, 1)}{order}"
        if isinstance(e, ast.Take):
            return f"{self.x(e.set)} take {self.x(e.count, 1)}"
        if isinstance(e, ast.TakeLast):
            return f"{self.x(e.set)} take last {self.x(e.count, 1)}"
        if isinstance(e, ast.SetOp):
            return f"{self.x(e.set)} {e.op} {self.x(e.other, 1)}"
        raise TypeError(type(e).__name__)

    def block(self, body) -> str:
        return "{\n" + "".join(self.stmt(s) + "\n" for s in body) + "}"

    def stmt(self, s: Any) -> str:
        x = self.x
        if isinstance(s, ast.Param):
            rng = ""
            if s.low is not None or s.high is not None or self.draw(st.integers(0, 4)) == 0 and s.type != "bool":
                rng = f" in {'' if s.low is None else self.bare(s.low)}..{'' if s.high is None else self.bare(s.high)}"
            return f"param {s.name}: {s.type} = {self.bare(s.default)}{rng}"
        if isinstance(s, ast.Var):
            return f"var {s.name}: {s.type} = {x(s.init)}"
        if isinstance(s, ast.Window):
            return f"var {s.name}: window({x(s.capacity)})"
        if isinstance(s, ast.BranchVar):
            return f"branch {s.name}: {s.type} = {x(s.init)}"
        if isinstance(s, ast.Signal):
            return f"signal {s.name} = {x(s.value)}"
        if isinstance(s, ast.BranchHistory):
            return f"branch {s.name}: history({s.capacity})"
        if isinstance(s, ast.BranchWindow):
            return f"branch {s.name}: window({s.capacity})"
        if isinstance(s, ast.UpdatePush):
            return f"update {x(s.set)} push {x(s.value)} to {s.window}"
        if isinstance(s, ast.Let):
            return f"let {s.name} = {x(s.value)}"
        if isinstance(s, ast.Assign):
            return f"{s.name} = {x(s.value)}"
        if isinstance(s, ast.Push):
            return f"push {x(s.value)} to {s.window}"
        if isinstance(s, ast.If):
            text = f"if {x(s.branches[0].cond)} {self.block(s.branches[0].body)}"
            text += "".join(f" elif {x(b.cond)} {self.block(b.body)}" for b in s.branches[1:])
            return text + (f" else {self.block(s.orelse)}" if s.orelse is not None else "")
        if isinstance(s, ast.Repeat):
            return f"repeat {x(s.count)}{f' as {s.var}' if s.var else ''} {self.block(s.body)}"
        if isinstance(s, ast.Break):
            return "break"
        if isinstance(s, ast.Stop):
            return f"stop {x(s.value)}"
        if isinstance(s, (ast.Open, ast.Read)):
            return f"{s.kind} {x(s.count)}{f' as {s.bind}' if s.bind else ''}"
        if isinstance(s, ast.Advance):
            return f"advance {x(s.set)}" + (f" by {x(s.by)}" if s.by is not None else "")
        if isinstance(s, ast.Prune):
            return f"prune {x(s.set)}"
        if isinstance(s, ast.Accept):
            return f"accept {x(s.set)}"
        if isinstance(s, ast.Update):
            return f"update {x(s.set)} set " + ", ".join(f"{t.field} = {x(t.value)}" for t in s.setters)
        raise TypeError(type(s).__name__)


@st.composite
def layouts(draw, program: ast.Program, comments: bool = True, blank_lines: bool = True) -> tuple[str, list[str]]:
    """``program`` as a person might write it, and the comments it holds.

    Redundant parentheses, explicit `asc`, any whitespace between tokens (whitespace
    is insignificant), and with ``comments`` a comment at the end of some lines and
    alone on others, some with braces, parentheses and `#` inside.
    """
    p = _Printer(draw)
    text = f"strategy {program.name}\n" + "".join(p.stmt(i) + "\n" for i in program.items)
    gaps = [" ", "\n", "  ", "\n    ", "\t", " \n\t "] + (["\n\n", "\n \n  "] if blank_lines else [])
    parts = re.split(r"(\s+)", text.strip())
    text = "".join(draw(st.sampled_from(gaps)) if part.isspace() else part for part in parts)
    if not comments:
        return text + "\n", []
    lines = text.split("\n")
    out: list[str] = []
    notes: list[str] = []
    for k in range(len(lines) + 1):
        if draw(st.integers(0, 5)) == 0:
            note = f"# own {len(notes)} {draw(st.sampled_from(['', '{', '} (', '#', 'x = 1 }']))}".rstrip()
            out.append(draw(st.sampled_from(["", "  ", "\t"])) + note)
            notes.append(note)
        if k == len(lines):
            break
        line = lines[k]
        if line.strip() and draw(st.integers(0, 3)) == 0:
            note = f"# trailing {len(notes)}"
            line += draw(st.sampled_from([" ", "   ", "\t"])) + note
            notes.append(note)
        out.append(line)
    return "\n".join(out) + "\n", notes
