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


@lru_cache(maxsize=None)
def beta_confidence(top1: int, top2: int) -> float:
    """P(p > 0.5) for p ~ Beta(top1+1, top2+1), exactly, rounded once to a float; 0 when top1 == 0.

    For integer shape parameters the Beta tail is a binomial sum:
    P(p > 1/2) = P(Binomial(top1+top2+1, 1/2) <= top1).
    """
    if top1 <= 0:
        return 0.0
    top2 = max(0, top2)
    n = top1 + top2 + 1
    tail = sum(math.comb(n, k) for k in range(top1 + 1))
    return float(Fraction(tail, 2**n))


def div(a, b) -> float:
    """``/``: true division; dividing by zero gives 0.0 (arithmetic is total, never raises)."""
    return a / b if b != 0 else 0.0


def floordiv(a, b):
    if b == 0:
        return 0 if isinstance(a, int) and isinstance(b, int) else 0.0
    return a // b


def mod(a, b):
    if b == 0:
        return 0 if isinstance(a, int) and isinstance(b, int) else 0.0
    return a % b


def round_(x, ndigits: int | None = None):
    """Python's round: half to even. ``round(x)`` is an int, ``round(x, d)`` a float."""
    if ndigits is None:
        return int(round(x))
    return float(round(float(x), ndigits))
