"""Scalar meaning of the language's operators and built-in functions.

The interpreter calls these directly; the vectorized backend must agree with
them bit for bit, and the differential tests hold it to that.
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from typing import Sequence

Answer = str | None


def majority(answers: Sequence[Answer]) -> Answer:
    """Most frequent answer; ties go to the one whose first occurrence is earliest."""
    counts: dict[Answer, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    best, best_n = None, 0
    for a, n in counts.items():  # dicts keep first-occurrence order
        if n > best_n:
            best, best_n = a, n
    return best


def top_two(answers: Sequence[Answer]) -> tuple[int, int]:
    counts: dict[Answer, int] = {}
    for a in answers:
        counts[a] = counts.get(a, 0) + 1
    ranked = sorted(counts.values(), reverse=True) + [0, 0]
    return ranked[0], ranked[1]


MAX_VOTES = 4096  # beta_confidence counts; far above any branch count


@lru_cache(maxsize=None)
def beta_confidence(top1: int, top2: int) -> float:
    """P(p > 0.5) for p ~ Beta(top1+1, top2+1), exactly, rounded once to a float; 0 when top1 == 0.

    For integer shape parameters the Beta tail is a binomial sum:
    P(p > 1/2) = P(Binomial(top1+top2+1, 1/2) <= top1). Counts are clamped to
    [0, MAX_VOTES] so a program cannot ask for an arbitrarily long sum.
    """
    top1 = min(int(top1), MAX_VOTES)
    if top1 <= 0:
        return 0.0
    top2 = min(max(0, int(top2)), MAX_VOTES)
    n = top1 + top2 + 1
    term, tail = 1, 1  # C(n, 0)
    for k in range(top1):
        term = term * (n - k) // (k + 1)
        tail += term
    return float(Fraction(tail, 1 << n))


INT_MIN, INT_MAX = -(1 << 63), (1 << 63) - 1
_INT_EDGE = 9.223372036854775e18  # the largest float below 2**63: clamping here converts safely


def wrap(x: int) -> int:
    """ints are 64-bit and wrap around like numpy's int64, so both engines agree."""
    return ((x - INT_MIN) & ((1 << 64) - 1)) + INT_MIN


def div(a, b) -> float:
    """``/``: true division; dividing by zero gives 0.0 (arithmetic is total, never raises).

    Both operands become floats first, as in numpy and numba: Python's int / int
    would round the exact quotient instead, which differs beyond 2**53.
    """
    return float(a) / float(b) if b != 0 else 0.0


def floordiv(a, b):
    if b == 0:
        return 0 if isinstance(a, int) and isinstance(b, int) else 0.0
    q = a // b
    return wrap(q) if isinstance(q, int) else q


def mod(a, b):
    if b == 0:
        return 0 if isinstance(a, int) and isinstance(b, int) else 0.0
    return a % b


def to_int(x: float) -> int:
    """A float made an int: non-finite values become 0, others are clamped to the int64 range."""
    if not math.isfinite(x):
        return 0
    return int(max(-_INT_EDGE, min(_INT_EDGE, x)))


def round_(x, ndigits: int | None = None):
    """Python's round: half to even. ``round(x)`` is an int, ``round(x, d)`` a float."""
    if ndigits is None:
        return x if isinstance(x, int) else to_int(round(x) if math.isfinite(x) else x)
    if not math.isfinite(float(x)):
        return float(x)
    try:
        return float(round(float(x), ndigits))
    except OverflowError:  # rounded past the largest float (e.g. round(1.7e308, -308)): infinity, as in IEEE
        return math.copysign(math.inf, x)


def floor(x) -> int:
    return x if isinstance(x, int) else to_int(math.floor(x) if math.isfinite(x) else x)


def ceil(x) -> int:
    return x if isinstance(x, int) else to_int(math.ceil(x) if math.isfinite(x) else x)


# ---- built-in functions over a branch set's `last` answers (in set order)

def count(answers: Sequence[Answer]) -> int:
    return len(answers)


def top1(answers: Sequence[Answer]) -> int:
    return top_two(answers)[0]


def top2(answers: Sequence[Answer]) -> int:
    return top_two(answers)[1]


def confidence(answers: Sequence[Answer]) -> float:
    return beta_confidence(*top_two(answers))


def unanimous(answers: Sequence[Answer]) -> bool:
    return bool(answers) and all(a == answers[0] for a in answers)


def votes(answers: Sequence[Answer], answer: Answer) -> int:
    return sum(1 for a in answers if a == answer)


# ---- built-ins that ask the environment (its episode view comes first)

def valid(episode, answer: Answer) -> bool:
    """A real answer: neither none nor one of the environment's non-answers (runtime/env.py)."""
    return answer is not None and episode.is_valid(answer)


# ---- numeric built-ins (the caller makes the result a float when its type is float)

def minimum(*xs):
    return min(xs)  # the first of equal values wins


def maximum(*xs):
    return max(xs)


def clamp(x, lo, hi):
    return min(max(x, lo), hi)


def absolute(x):
    return wrap(abs(x)) if isinstance(x, int) else abs(x)


# ---- built-ins over a window's values, oldest first

def size(values: Sequence[float]) -> int:
    return len(values)


def oldest(values: Sequence[float]) -> float:
    return values[0] if values else 0.0


def newest(values: Sequence[float]) -> float:
    return values[-1] if values else 0.0


# A window whose values are all whole numbers of at most this size keeps their sum as an integer:
# at most 2**14 (> MAX_WINDOW) of them sum below 2**53, so adding them one at a time as floats
# never rounds, and that integer is the oldest-first float sum exactly. mean() is then O(1).
WHOLE_MAX = 2**39


def small_whole(v: float) -> bool:
    return v.is_integer() and abs(v) <= WHOLE_MAX


def mean(values: Sequence[float]) -> float:
    if not values:
        return 0.0
    total = getattr(values, "exact_total", None)  # kept by the interpreter's windows (see WHOLE_MAX)
    if total is None:
        total = 0.0
        for v in values:  # oldest first, one addition at a time (not fsum, not sum: both round differently)
            total += v
    return total / len(values)


def sort_key(x) -> tuple[bool, float | int]:
    """Where a `sorted by` key puts its branch: by value, NaN after every number (before them with `desc`).

    Python's own ordering of NaN is inconsistent (every comparison is false), so a sort
    by raw keys would depend on the sorting algorithm.
    """
    return (True, 0) if x != x else (False, x)


# ---- aggregates over a set: a per-member value for each member, in set order


def distinct(answers: Sequence[Answer]) -> int:
    """How many different `last` answers the members hold (`none` counts as one)."""
    return len(set(answers))


def sum_of(answers: Sequence[Answer], values: Sequence) -> int | float:
    """The values added one at a time in set order (ints wrap); 0 for an empty set."""
    total = 0
    for v in values:
        total = wrap(total + v) if isinstance(v, int) else total + v
    return total


def mean_of(answers: Sequence[Answer], values: Sequence) -> float:
    """sum_of / count as floats; 0.0 for an empty set."""
    return float(sum_of(answers, values)) / len(values) if values else 0.0


def min_of(answers: Sequence[Answer], values: Sequence) -> int | float:
    """Python's min over the values in set order (the first of equal values); 0 for an empty set."""
    return min(values) if values else 0


def max_of(answers: Sequence[Answer], values: Sequence) -> int | float:
    return max(values) if values else 0


def weighted(answers: Sequence[Answer], weights: Sequence) -> Answer:
    """The answer with the largest total weight; ties go to the answer seen first in set order.

    A weight that is not a finite positive number (NaN, infinite, zero, negative) adds nothing;
    `none` when no member has a positive weight.
    """
    totals: dict[Answer, float] = {}
    for a, w in zip(answers, weights):
        w = float(w)
        totals[a] = totals.get(a, 0.0) + (w if 0.0 < w < math.inf else 0.0)
    best, best_w = None, 0.0
    for a, w in totals.items():  # first-occurrence order
        if w > best_w:
            best, best_w = a, w
    return best
