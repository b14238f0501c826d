"""The language's built-in names: types, branch sets, branch fields, functions.

One table that the checker, both engines and the docs read, so a built-in
cannot exist in one place and not another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable

from ttsc.dsl import ops


class T(str, Enum):
    """Value types. ``answer`` values may be ``none`` (no answer)."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    ANSWER = "answer"
    SET = "branch set"
    WINDOW = "window"
    HISTORY = "history"

    def __str__(self) -> str:
        return self.value


NUMERIC = (T.INT, T.FLOAT)

# Built-in branch sets, each in opening order except `completed` (finishing order).
SETS = {
    "branches": "every branch opened so far, in opening order",
    "live": "branches not pruned (finished ones included), in opening order",
    "active": "branches neither finished nor pruned, in opening order",
    "completed": "finished branches, in the order they finished",
}

# Read-only per-episode counters (budget awareness): ints, visible everywhere, never assignable.
# They change only when an action spends tokens (`interval` never changes within an episode).
COUNTERS = {
    "spent": "tokens spent so far in this episode: every reveal of every branch, summed",
    "spent_sequential": "sequential tokens so far: the sum over rounds of each round's longest generation",
    "interval": "the interval length Δ of this episode's question: what one `open` or one `advance` step "
                "costs a branch, except the step that reveals its final answer (the rest of the branch)",
}

# Read-only per-branch fields, visible in branch scope.
FIELDS: dict[str, tuple[T, str]] = {
    "last": (T.ANSWER, "the answer revealed most recently (the final answer once finished)"),
    "finished": (T.BOOL, "the branch has reached its end"),
    "pruned": (T.BOOL, "the branch was pruned"),
    "depth": (T.INT, "reveals so far: 1 after open or read, +1 per interval advanced"),
    "tokens": (T.INT, "tokens spent on this branch so far"),
    "index": (T.INT, "opening position: 0 for the first branch opened"),
    "last_conf": (T.FLOAT, "the confidence of the interval revealed most recently (the final stretch once "
                           "finished); NaN where the environment does not know it"),
}

# Fields the environment supplies as a signal (runtime/env.py `signals`), by the signal they read.
# A program that reads one runs only on an environment that provides that signal.
FIELD_SIGNALS: dict[str, str] = {
    "last_conf": "confidence",
}


def numeric(args: list[T | None]) -> T | None:
    """Result type of min/max/clamp/abs: int if every argument is an int, else float."""
    if any(t is None for t in args):
        return None
    return T.INT if all(t is T.INT for t in args) else T.FLOAT


def fixed(t: T) -> Callable[[list[T | None]], T]:
    """A result type that does not depend on the arguments."""
    return lambda args: t


Template = str | Callable[[list[str], list[T]], str]


@dataclass(frozen=True)
class Func:
    """One built-in function: everything the checker, the three engines and the docs need.

    ``params`` are argument kinds: "set", "window" (a window's name), "num" (int or float),
    "int", "answer", "digits" (an int literal), "history" (a history's name, in branch scope), "each" (a number per member of the "set" argument). The last ``optional`` of them may be left out;
    a ``variadic`` function takes two or more "num"s. ``result`` gives the result type from the
    argument types. Engines:

    * ``interpret``: the scalar meaning, a Python callable (dsl/ops.py). A "set" argument is
      passed as its members' `last` answers in set order, a "window" as its values oldest
      first. When the result type is float the caller converts the value with ``float``.
    * ``batched``: the vectorized expression (compiler/codegen.py) — a format string or a
      function of (argument codes, argument types). Placeholders: ``{0}``… the arguments
      (a set's members, a window's quoted name), ``{args}`` all of them, ``{rows}`` the rows,
      ``{tally}`` the set's vote tally, ``{as_float}`` ", as_float=True" when the result is a
      float made from ints. ``batched_uniform``: the code when every argument is a scalar.
    * ``native``: the scalar numba expression (compiler/native.py), same forms. Placeholders:
      ``{0}``… the arguments (a window's row), ``{buf}``/``{n}`` a set's member buffer and
      count, ``{tally}`` its (majority, top1, top2) tally, ``{last}`` the row of `last` answers.

    ``environment`` functions ask the environment (``valid``): never fixed by the parameters; the
    interpreter passes its episode view (runtime/env.py ``EpisodeView``) as the first argument.
      When ``result`` is :func:`numeric` and the type is float, the code is wrapped in float().
    """

    name: str
    params: tuple[str, ...]
    doc: str
    result: Callable[[list[T | None]], T | None]
    interpret: Callable[..., Any]
    batched: Template
    native: Template
    batched_uniform: str | None = None
    variadic: bool = False
    optional: int = 0
    environment: bool = False  # asks the environment: ``interpret`` gets the episode view first

    @property
    def constant(self) -> bool:
        """Can a call be fixed by the parameters? Not when it reads branches, a window, a history or the environment."""
        return not self.environment and not any(k in ("set", "window", "history") for k in self.params)

    @property
    def coerces(self) -> bool:
        """Is the result a float made from int arguments (so engines convert it)?"""
        return self.result is numeric


def _round_native(a: list[str], ts: list[T]) -> str:
    if len(a) == 2:
        return f"rt.round_digits({a[0]}, {a[1]})"
    return a[0] if ts[0] is T.INT else f"rt.round_int({a[0]})"


def _step_native(name: str) -> Callable[[list[str], list[T]], str]:
    return lambda a, ts: a[0] if ts[0] is T.INT else f"rt.{name}({a[0]})"


def _fold_native(name: str) -> Callable[[list[str], list[T]], str]:
    def fold(a: list[str], ts: list[T]) -> str:
        code = a[0]
        for x in a[1:]:  # Python's min/max: the first of equal values wins
            code = f"rt.{name}2({code}, {x})"
        return code
    return fold


FUNCS: dict[str, Func] = {f.name: f for f in [
    Func("count", ("set",), "number of branches in the set", fixed(T.INT), ops.count,
         "rt.count({0})", "{n}"),
    Func("majority", ("set",), "most common `last` answer; ties go to the answer seen first in set order; "
                               "none for an empty set", fixed(T.ANSWER), ops.majority,
         "{tally}.majority", "{tally}[0]"),
    Func("top1", ("set",), "count of the most common answer (0 for an empty set)", fixed(T.INT), ops.top1,
         "{tally}.top1", "{tally}[1]"),
    Func("top2", ("set",), "count of the second most common answer (0 when absent)", fixed(T.INT), ops.top2,
         "{tally}.top2", "{tally}[2]"),
    Func("confidence", ("set",), "beta_confidence(top1(S), top2(S))", fixed(T.FLOAT), ops.confidence,
         "rt.confidence({tally})", "rt.beta_confidence({tally}[1], {tally}[2], BETA)"),
    Func("unanimous", ("set",), "true when the set is non-empty and every member has the same `last`",
         fixed(T.BOOL), ops.unanimous, "rt.unanimous({tally})", "({n} > 0 and {tally}[1] == {n})"),
    Func("votes", ("set", "answer"), "number of members whose `last` equals the answer", fixed(T.INT), ops.votes,
         "rt.votes_for({0}, st.field('last', {rows}), {1})", "rt.votes_for({buf}, {n}, {last}, {1})"),
    Func("beta_confidence", ("int", "int"), "P(p > 0.5) for p ~ Beta(a+1, b+1); 0 when a == 0", fixed(T.FLOAT),
         ops.beta_confidence, "rt.beta_confidence({0}, {1})", "rt.beta_confidence({0}, {1}, BETA)",
         batched_uniform="ops.beta_confidence({0}, {1})"),
    Func("min", ("num", "num"), "smallest argument (int if all are ints)", numeric, ops.minimum,
         "rt.minimum({args}{as_float})", _fold_native("min"), variadic=True),
    Func("max", ("num", "num"), "largest argument (int if all are ints)", numeric, ops.maximum,
         "rt.maximum({args}{as_float})", _fold_native("max"), variadic=True),
    Func("clamp", ("num", "num", "num"), "clamp(x, lo, hi) = min(max(x, lo), hi)", numeric, ops.clamp,
         "rt.minimum(rt.maximum({0}, {1}), {2}{as_float})", "rt.min2(rt.max2({0}, {1}), {2})"),
    Func("round", ("num", "digits"), "round half to even, as Python: round(6.5) == 6; round(x, d) keeps d decimals",
         lambda args: T.INT if len(args) == 1 else T.FLOAT, ops.round_, "rt.round_({args})", _round_native,
         optional=1),
    Func("abs", ("num",), "absolute value", numeric, ops.absolute, "rt.absolute({0}{as_float})", "abs({0})"),
    Func("floor", ("num",), "largest int <= x", fixed(T.INT), ops.floor, "rt.floor({0})", _step_native("floor")),
    Func("ceil", ("num",), "smallest int >= x", fixed(T.INT), ops.ceil, "rt.ceil({0})", _step_native("ceil")),
    Func("valid", ("answer",), "true for a real answer: false for none and for the environment's non-answers "
                               "(replay: the store's `meta.non_answers`, by default \"ERR\" and \"\")",
         fixed(T.BOOL), ops.valid, "st.valid({0}, {rows})", "rt.valid(env, {0})",
         batched_uniform="rt.valid_uniform({0})", environment=True),
    Func("size", ("window",), "number of values held", fixed(T.INT), ops.size,
         "st.window({0}, 'size', {rows})", "rt.window_size(WM, {0})"),
    Func("oldest", ("window",), "first value held (0.0 when empty)", fixed(T.FLOAT), ops.oldest,
         "st.window({0}, 'oldest', {rows})", "rt.window_oldest(WB, WM, {0})"),
    Func("newest", ("window",), "last value pushed (0.0 when empty)", fixed(T.FLOAT), ops.newest,
         "st.window({0}, 'newest', {rows})", "rt.window_newest(WB, WM, {0})"),
    Func("mean", ("window",), "mean of the values held (0.0 when empty)", fixed(T.FLOAT), ops.mean,
         "st.window({0}, 'mean', {rows})", "rt.window_mean(WB, WM, {0})"),
]}


def _member_type(args: list[T | None]) -> T | None:
    """Result type of sum_of/min_of/max_of: the type of the per-member value."""
    return args[1] if len(args) > 1 and args[1] in NUMERIC else None


# Aggregates over a set. An "each" argument is evaluated in the scope of every member of the set
# argument (as a `where` condition is), in set order; in the engines' templates it is those values
# (batched: an [n, W] array; native: a scratch row and the member count, "ROW, N").
FUNCS.update({f.name: f for f in [
    Func("distinct", ("set",), "number of different `last` answers among the members (`none` counts as one)",
         fixed(T.INT), ops.distinct, "rt.distinct({0}, st.field('last', {rows}))", "rt.distinct({buf}, {n}, {last}, CNT)"),
    Func("sum_of", ("set", "each"), "sum of the value over the members, added in set order (0 when empty)",
         _member_type, ops.sum_of, "rt.sum_of({0}, {1})", "rt.sum_of({1})"),
    Func("mean_of", ("set", "each"), "sum_of(S, x) / count(S) as a float (0.0 when empty)",
         fixed(T.FLOAT), ops.mean_of, "rt.mean_of({0}, {1})", "rt.mean_of({1})"),
    Func("min_of", ("set", "each"), "smallest value over the members; the first of equal ones (0 when empty)",
         _member_type, ops.min_of, "rt.min_of({0}, {1})", "rt.min_of({1})"),
    Func("max_of", ("set", "each"), "largest value over the members; the first of equal ones (0 when empty)",
         _member_type, ops.max_of, "rt.max_of({0}, {1})", "rt.max_of({1})"),
    Func("weighted", ("set", "each"), "the `last` answer with the largest total weight; ties go to the answer "
                                      "seen first in set order; weights that are not finite and positive count 0; "
                                      "none when no weight is positive", fixed(T.ANSWER), ops.weighted,
         "rt.weighted({0}, st.field('last', {rows}), {1})", "rt.weighted({buf}, {last}, {1}, CNT)"),
]})

# Per-branch answer histories (`branch h: history(K)`), read in branch scope: the member's own
# history. Templates: batched ``{0}`` is the history's quoted name; native ``{0}`` is
# "FIRST_ROW, K, SLOT" (its rows in BI, its capacity, the member's slot).
FUNCS.update({f.name: f for f in [
    Func("history_size", ("history",), "answers held: reveals so far, at most K", fixed(T.INT), ops.size,
         "st.history({0}, 'size', {rows})", "rt.history_size(BI, {0})"),
    Func("history_majority", ("history",), "most common answer held; ties go to the oldest; none when empty",
         fixed(T.ANSWER), ops.majority, "st.history({0}, 'majority', {rows})", "rt.history_majority(BI, {0}, CNT)"),
    Func("history_unanimous", ("history",), "true when at least one answer is held and all are equal",
         fixed(T.BOOL), ops.unanimous, "st.history({0}, 'unanimous', {rows})", "rt.history_unanimous(BI, {0})"),
    Func("history_votes", ("history", "answer"), "how many of the answers held equal the answer",
         fixed(T.INT), ops.votes, "st.history({0}, 'votes', {rows}, {1})", "rt.history_votes(BI, {0}, {1})"),
]})

KEYWORDS = frozenset({
    "strategy", "param", "var", "branch", "signal", "let", "push", "to", "if", "elif", "else", "then",
    "repeat", "as", "break", "stop", "open", "read", "advance", "by", "prune", "update", "set", "where", "sorted",
    "take", "union", "intersect", "minus", "asc", "desc", "and", "or", "not", "true", "false", "none", "in", "int",
    "float", "bool", "answer", "accept",
})

# Names a program might reach for that it must never see: hidden data.
HIDDEN = {
    "gold": "gold answers are not visible to strategies",
    "gold_answer": "gold answers are not visible to strategies",
    "answer_key": "gold answers are not visible to strategies",
    "ground_truth": "gold answers are not visible to strategies",
    "truth": "gold answers are not visible to strategies",
    "correct": "whether an answer is correct is not visible to strategies",
    "is_correct": "whether an answer is correct is not visible to strategies",
    "label": "gold answers are not visible to strategies",
    "final_answer": "a branch's final answer is only visible once it finishes: read `last` of a finished branch",
    "total_tokens": "a branch's length is unknown until it finishes: read `tokens` or `finished`",
    "probes": "unrevealed intervals are not visible: read `last` and `depth`",
    "each_branch": "unopened branches are not visible to strategies",
    "question": "the question text is not visible to strategies",
}

# Hard limits that make every program finish quickly.
MAX_REPEAT = 100_000          # iterations of one `repeat`
MAX_TOTAL_ITERATIONS = 1_000_000  # product of nested `repeat` counts
MAX_WINDOW = 10_000
MAX_HISTORY = 16  # answers a `branch NAME: history(K)` keeps per branch
MAX_BRANCH_WINDOW = 64  # numbers a `branch NAME: window(K)` keeps per branch
