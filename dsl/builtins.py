"""The language's built-in names: types, branch sets, branch fields, functions.

One table that the checker, both engines and the docs read, so a built-in
cannot exist in one place and not another.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class T(str, Enum):
    """Value types. ``answer`` values may be ``none`` (no answer)."""

    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    ANSWER = "answer"
    SET = "branch set"
    WINDOW = "window"

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

# Read-only per-branch fields, visible in branch scope.
FIELDS: dict[str, tuple[T, str]] = {
    "last": (T.ANSWER, "the answer revealed most recently (the final answer once finished)"),
    "finished": (T.BOOL, "the branch has reached its end"),
    "pruned": (T.BOOL, "the branch was pruned"),
    "depth": (T.INT, "reveals so far: 1 after open or read, +1 per interval advanced"),
    "tokens": (T.INT, "tokens spent on this branch so far"),
    "index": (T.INT, "opening position: 0 for the first branch opened"),
}


@dataclass(frozen=True)
class Func:
    name: str
    params: tuple[str, ...]  # argument kinds: "set", "num", "int", "answer", "window"
    doc: str
    variadic: bool = False


FUNCS: dict[str, Func] = {f.name: f for f in [
    Func("count", ("set",), "number of branches in the set"),
    Func("majority", ("set",), "most common `last` answer; ties go to the answer seen first in set order; "
                               "none for an empty set"),
    Func("top1", ("set",), "count of the most common answer (0 for an empty set)"),
    Func("top2", ("set",), "count of the second most common answer (0 when absent)"),
    Func("confidence", ("set",), "beta_confidence(top1(S), top2(S))"),
    Func("unanimous", ("set",), "true when the set is non-empty and every member has the same `last`"),
    Func("votes", ("set", "answer"), "number of members whose `last` equals the answer"),
    Func("beta_confidence", ("int", "int"), "P(p > 0.5) for p ~ Beta(a+1, b+1); 0 when a == 0"),
    Func("min", ("num", "num"), "smallest argument (int if all are ints)", variadic=True),
    Func("max", ("num", "num"), "largest argument (int if all are ints)", variadic=True),
    Func("clamp", ("num", "num", "num"), "clamp(x, lo, hi) = min(max(x, lo), hi)"),
    Func("round", ("num",), "round half to even, as Python: round(6.5) == 6; round(x, d) keeps d decimals"),
    Func("abs", ("num",), "absolute value"),
    Func("floor", ("num",), "largest int <= x"),
    Func("ceil", ("num",), "smallest int >= x"),
    Func("size", ("window",), "number of values held"),
    Func("oldest", ("window",), "first value held (0.0 when empty)"),
    Func("newest", ("window",), "last value pushed (0.0 when empty)"),
    Func("mean", ("window",), "mean of the values held (0.0 when empty)"),
]}

KEYWORDS = frozenset({
    "strategy", "param", "var", "branch", "signal", "let", "push", "to", "if", "elif", "else", "then",
    "repeat", "as", "break", "stop", "open", "read", "advance", "by", "prune", "update", "set", "where", "sorted",
    "take", "asc", "desc", "and", "or", "not", "true", "false", "none", "in", "int", "float", "bool", "answer",
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
