"""dsl/ops.py against an independent statement of each rule (docs/language.md §4 and §8, semantics.md §4).

Each oracle here is computed another way than ops computes it: int64 wrap-around
by numpy, rounding by ``decimal`` (ROUND_HALF_EVEN on the float's exact value),
floors and quotients by exact ``Fraction`` arithmetic, float ``//`` and ``%`` by
numpy, the Beta tail as an exact binomial sum (and scipy within one ulp).
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from decimal import ROUND_HALF_EVEN, Decimal, localcontext
from fractions import Fraction
from math import comb

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ttsc.dsl import ops

INT_MIN, INT_MAX = -(2**63), 2**63 - 1
NAN, INF = math.nan, math.inf
EDGE = float(np.nextafter(2.0**63, 0.0))  # the largest float below 2**63: where float → int saturates
FLOAT_EDGES = [0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 3.5, 1.0, -1.0, 5e-324, -5e-324, 2.0**52 + 0.5,
               2.0**53, 2.0**53 + 2, -(2.0**53), 2.0**63, -(2.0**63), EDGE, 1e300, -1e300,
               1.7976931348623157e308, -1.7976931348623157e308, INF, -INF, NAN]
INT_EDGES = [0, 1, -1, 2, -2, 3, -3, 7, -7, 2**53, 2**53 + 1, -(2**53) - 1, INT_MAX, INT_MIN, INT_MIN + 1]

int64s = st.integers(INT_MIN, INT_MAX)
floats = st.floats(allow_nan=True, allow_infinity=True)
finite = st.floats(allow_nan=False, allow_infinity=False)
numbers = st.one_of(int64s, floats)


def same(got, want) -> bool:
    """Equal value and type; floats bit for bit (NaN is NaN, -0.0 is not 0.0)."""
    if type(got) is not type(want):
        return False
    if isinstance(want, float):
        return struct.pack("<d", got) == struct.pack("<d", want) or (math.isnan(got) and math.isnan(want))
    return got == want


def np_int64(x: int) -> int:
    """``x`` reduced into int64 the way numpy's int64 arithmetic wraps it."""
    return int(np.array(x % 2**64, dtype=np.uint64).view(np.int64))


def saturate(n: int) -> int:
    """An integer-valued result of a float, held in int64: the largest float below 2**63 bounds it both ways."""
    return max(-int(EDGE), min(int(EDGE), n))


# ---- wrap --------------------------------------------------------------------

@pytest.mark.parametrize("x,want", [(INT_MAX + 1, INT_MIN), (INT_MIN - 1, INT_MAX), (2**64, 0), (-(2**64), 0),
                                    (2**64 + 5, 5), (INT_MAX, INT_MAX), (INT_MIN, INT_MIN), (-0, 0)])
def test_wrap_edges(x: int, want: int) -> None:
    assert ops.wrap(x) == want == np_int64(x)


@given(st.integers(-(2**200), 2**200))
def test_wrap_is_numpy_int64(x: int) -> None:
    assert ops.wrap(x) == np_int64(x)


@given(int64s, int64s)
@example(INT_MAX, 1)
@example(INT_MIN, -1)
@example(INT_MIN, INT_MIN)
def test_wrap_matches_numpy_arithmetic(a: int, b: int) -> None:
    x, y = np.array([a], dtype=np.int64), np.array([b], dtype=np.int64)  # arrays wrap silently
    assert ops.wrap(a + b) == int((x + y)[0])
    assert ops.wrap(a - b) == int((x - y)[0])
    assert ops.wrap(a * b) == int((x * y)[0])
    assert ops.wrap(-a) == int((-x)[0])


# ---- / ---------------------------------------------------------------------

@pytest.mark.parametrize("a", INT_EDGES + FLOAT_EDGES)
@pytest.mark.parametrize("zero", [0, 0.0, -0.0])
def test_div_by_zero_is_positive_zero(a, zero) -> None:
    assert same(ops.div(a, zero), 0.0)


@pytest.mark.parametrize("a,b,want", [
    (1, 2, 0.5), (-7, 2, -3.5), (1, 3, 1 / 3), (7.0, -2, -3.5), (1, INF, 0.0), (-1, INF, -0.0), (1, -INF, -0.0),
    (INF, 2, INF), (INF, INF, NAN), (NAN, 1, NAN), (1, NAN, NAN), (-0.0, 5, -0.0), (0, -5, -0.0),
    # ints become floats before dividing (as numpy and numba do), not Python's exact int / int
    (2**53 + 1, 3, 3002399751580330.5), (INT_MAX, 1, 2.0**63), (INT_MIN, -1, 2.0**63),
    (1e308, 1e-308, INF),
])
def test_div_cases(a, b, want) -> None:
    assert same(ops.div(a, b), want)


@given(numbers, numbers)
@example(2**53 + 1, 3)
@example(INT_MAX, 7)
def test_div_is_float_division(a, b) -> None:
    if b == 0:
        want = 0.0
    else:
        with np.errstate(all="ignore"):
            want = float(np.float64(a) / np.float64(b))
    assert same(ops.div(a, b), want)


# ---- // and % ------------------------------------------------------------------

@pytest.mark.parametrize("a", INT_EDGES)
def test_int_floordiv_and_mod_by_zero_are_int_zero(a: int) -> None:
    assert same(ops.floordiv(a, 0), 0) and same(ops.mod(a, 0), 0)


@pytest.mark.parametrize("a,b", [(a, b) for a in INT_EDGES + FLOAT_EDGES for b in (0, 0.0, -0.0)
                                 if isinstance(a, float) or isinstance(b, float)])
def test_float_floordiv_and_mod_by_zero_are_float_zero(a, b) -> None:
    assert same(ops.floordiv(a, b), 0.0) and same(ops.mod(a, b), 0.0)


@pytest.mark.parametrize("a,b,q,r", [
    (7, 2, 3, 1), (-7, 2, -4, 1), (7, -2, -4, -1), (-7, -2, 3, -1), (6, 3, 2, 0), (-6, 3, -2, 0),
    (0, -5, 0, 0), (INT_MAX, 1, INT_MAX, 0), (INT_MIN, 1, INT_MIN, 0),
    (INT_MIN, -1, INT_MIN, 0),  # 2**63 wraps around, as in int64
    (INT_MIN, 2, -(2**62), 0), (INT_MAX, -2, -(2**62), -1), (INT_MIN, INT_MAX, -2, INT_MAX - 1),
])
def test_int_floordiv_and_mod_cases(a: int, b: int, q: int, r: int) -> None:
    assert same(ops.floordiv(a, b), q) and same(ops.mod(a, b), r)


@given(int64s, int64s.filter(lambda b: b != 0))
@example(INT_MIN, -1)
@example(INT_MIN, INT_MIN)
def test_int_floordiv_and_mod_are_exact(a: int, b: int) -> None:
    q, r = ops.floordiv(a, b), ops.mod(a, b)
    exact = math.floor(Fraction(a, b))
    assert same(q, np_int64(exact))  # rounds toward -inf; only INT_MIN // -1 leaves int64 and wraps
    assert same(r, a - b * exact)
    assert r == 0 or (r > 0) == (b > 0)  # the sign of b
    assert abs(r) < abs(b)
    assert a == np_int64(q * b + r)  # a == (a // b) * b + a % b, in int64


@pytest.mark.parametrize("a,b,q,r", [
    (7.5, 2, 3.0, 1.5), (-7.5, 2, -4.0, 0.5), (7.5, -2, -4.0, -0.5), (-1.0, 3.0, -1.0, 2.0),
    (1.0, -3.0, -1.0, -2.0), (-0.0, 5.0, -0.0, 0.0), (0.0, -5.0, -0.0, -0.0),
    (5.0, INF, 0.0, 5.0), (-5.0, INF, -1.0, INF), (5.0, -INF, -1.0, -INF), (INF, 2.0, NAN, NAN),
    (NAN, 2.0, NAN, NAN), (2.0, NAN, NAN, NAN), (7, 2.0, 3.0, 1.0), (2**53 + 1, 1.0, 2.0**53, 0.0),
])
def test_float_floordiv_and_mod_cases(a, b, q, r) -> None:
    assert same(ops.floordiv(a, b), q) and same(ops.mod(a, b), r)


@given(st.one_of(floats, int64s), floats.filter(lambda b: b != 0) | int64s.filter(lambda b: b != 0))
def test_float_floordiv_and_mod_are_numpys(a, b) -> None:
    if isinstance(a, int) and isinstance(b, int):
        b = float(b)
    with np.errstate(all="ignore"):
        q = float(np.floor_divide(np.float64(a), np.float64(b)))
        r = float(np.remainder(np.float64(a), np.float64(b)))
    assert same(ops.floordiv(a, b), q) and same(ops.mod(a, b), r)


# ---- float → int: to_int, round, floor, ceil -----------------------------------

@pytest.mark.parametrize("x", [NAN, INF, -INF])
@pytest.mark.parametrize("fn", [ops.to_int, ops.round_, ops.floor, ops.ceil])
def test_non_finite_to_int_is_zero(fn, x) -> None:
    assert same(fn(x), 0)


@pytest.mark.parametrize("fn", [ops.round_, ops.floor, ops.ceil])
@pytest.mark.parametrize("n", INT_EDGES)
def test_int_arguments_pass_through(fn, n: int) -> None:
    assert same(fn(n), n)


@pytest.mark.parametrize("x,want", [
    (0.0, 0), (-0.0, 0), (0.9, 0), (-0.9, 0), (2.0**53, 2**53), (2.0**53 + 2, 2**53 + 2), (-(2.0**53), -(2**53)),
    (EDGE, 2**63 - 1024), (2.0**63, 2**63 - 1024), (-(2.0**63), -(2**63) + 1024), (1e300, 2**63 - 1024),
    (-1e300, -(2**63) + 1024),
])
def test_to_int_cases(x: float, want: int) -> None:
    assert same(ops.to_int(x), want)


@given(floats)
def test_to_int_truncates_and_saturates(x: float) -> None:
    want = 0 if not math.isfinite(x) else saturate(math.trunc(Fraction(x)))
    assert same(ops.to_int(x), want)


@pytest.mark.parametrize("x,want", [
    (0.5, 0), (1.5, 2), (2.5, 2), (3.5, 4), (-0.5, 0), (-1.5, -2), (-2.5, -2), (0.49999999999999994, 0),
    (-0.0, 0), (2.0**52 + 0.5, 2**52), (2.0**52 + 1.5, 2**52 + 2), (2.0**53, 2**53), (2.0**63, 2**63 - 1024),
    (1.7976931348623157e308, 2**63 - 1024), (-1.7976931348623157e308, -(2**63) + 1024),
])
def test_round_to_int_cases(x: float, want: int) -> None:
    assert same(ops.round_(x), want)


@given(floats)
def test_round_to_int_is_half_even(x: float) -> None:
    want = 0 if not math.isfinite(x) else saturate(int(Decimal(x).to_integral_value(rounding=ROUND_HALF_EVEN)))
    assert same(ops.round_(x), want)


@pytest.mark.parametrize("x,want,ceil_want", [
    (0.5, 0, 1), (1.5, 1, 2), (1.0, 1, 1), (-1.0, -1, -1), (-1.2, -2, -1), (-0.0, 0, 0), (0.0, 0, 0),
    (2.0**53 + 2, 2**53 + 2, 2**53 + 2), (EDGE, 2**63 - 1024, 2**63 - 1024), (1e300, 2**63 - 1024, 2**63 - 1024),
    (-1e300, -(2**63) + 1024, -(2**63) + 1024), (5e-324, 0, 1), (-5e-324, -1, 0),
])
def test_floor_and_ceil_cases(x: float, want: int, ceil_want: int) -> None:
    assert same(ops.floor(x), want) and same(ops.ceil(x), ceil_want)


@given(floats)
def test_floor_and_ceil_are_exact(x: float) -> None:
    if not math.isfinite(x):
        assert same(ops.floor(x), 0) and same(ops.ceil(x), 0)
        return
    assert same(ops.floor(x), saturate(math.floor(Fraction(x))))
    assert same(ops.ceil(x), saturate(math.ceil(Fraction(x))))


# ---- round(x, d) ---------------------------------------------------------------

def decimal_round(x: float, d: int) -> float:
    """x to d decimals, half to even on x's exact binary value, then the nearest float."""
    with localcontext() as ctx:
        ctx.prec = 2000
        return float(Decimal(x).quantize(Decimal(1).scaleb(-d), rounding=ROUND_HALF_EVEN))


@pytest.mark.parametrize("x,d,want", [
    (0.125, 2, 0.12), (0.375, 2, 0.38), (2.675, 2, 2.67),  # 2.675 is just below 2.675 in binary
    (0.70 - 0.40 * 0.5, 4, 0.5), (0.70 - 0.40 * 0.1, 4, 0.66), (15, -1, 20.0), (25, -1, 20.0), (25.0, -1, 20.0),
    (5, 2, 5.0), (-0.4, 0, -0.0), (0.0, 3, 0.0), (-0.0, 3, -0.0), (2**53 + 1, 0, 2.0**53),
    (1.7e308, -308, INF), (-1.7e308, -308, -INF),  # past the largest float: infinity, not an error
    (1.7e308, -309, 0.0), (1e-320, 400, 1e-320), (NAN, 2, NAN), (INF, 2, INF), (-INF, -3, -INF),
])
def test_round_digits_cases(x, d: int, want: float) -> None:
    assert same(ops.round_(x, d), want)


@given(floats, st.integers(-330, 340))
@example(2.675, 2)
@example(1.7976931348623157e308, -292)
@example(-1.7976931348623157e308, -308)
def test_round_digits_is_decimal_half_even(x: float, d: int) -> None:
    want = x if not math.isfinite(x) else decimal_round(x, d)
    assert same(ops.round_(x, d), want)


@given(int64s, st.integers(-20, 5))
def test_round_digits_of_ints_is_a_float(n: int, d: int) -> None:
    assert same(ops.round_(n, d), decimal_round(float(n), d))


# ---- beta_confidence -----------------------------------------------------------

def exact_beta_sf(top1: int, top2: int) -> Fraction:
    """P(p > 1/2) for p ~ Beta(top1+1, top2+1) = P(Binomial(top1+top2+1, 1/2) <= top1)."""
    n = top1 + top2 + 1
    return Fraction(sum(comb(n, k) for k in range(top1 + 1)), 2**n)


@pytest.mark.parametrize("args,want", [
    ((1, 0), 0.75), ((2, 1), 0.6875), ((3, 0), 0.9375), ((1, 1), 0.5),  # language.md's examples
    ((0, 0), 0.0), ((0, 5), 0.0), ((-3, 0), 0.0), ((-1, -1), 0.0), ((1, -4), 0.75), ((2, -1), 0.875),
    ((9, 0), 1 - 2.0**-10), ((5, 5), 0.5), ((60, 0), 1 - 2.0**-61), ((200, 0), 1.0),
    # the largest counts: a tie is exactly 1/2 by symmetry; 4099 / 2**4098 is below the smallest float
    ((ops.MAX_VOTES, ops.MAX_VOTES), 0.5), ((ops.MAX_VOTES, 0), 1.0), ((1, ops.MAX_VOTES), 0.0),
])
def test_beta_confidence_cases(args: tuple[int, int], want: float) -> None:
    assert same(ops.beta_confidence(*args), want)


@given(st.integers(-10, 600), st.integers(-10, 600))
@settings(deadline=None)
def test_beta_confidence_is_the_exact_tail_rounded_once(top1: int, top2: int) -> None:
    want = 0.0 if top1 <= 0 else float(exact_beta_sf(top1, max(0, top2)))
    assert same(ops.beta_confidence(top1, top2), want)


def test_beta_confidence_symmetry() -> None:
    # P(p > 1/2) for Beta(a, b) + P(p > 1/2) for Beta(b, a) == 1 exactly; both rounded once.
    for t1 in range(1, 130, 3):
        for t2 in range(1, 130, 7):
            assert ops.beta_confidence(t1, t2) == float(1 - exact_beta_sf(t2, t1))


def test_beta_confidence_within_one_ulp_of_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    t1, t2 = np.meshgrid(np.arange(1, 130), np.arange(0, 130), indexing="ij")
    ref = stats.beta.sf(0.5, t1 + 1, t2 + 1)
    got = np.vectorize(ops.beta_confidence, otypes=[float])(t1, t2)
    far = np.abs(got - ref) > np.vectorize(math.ulp, otypes=[float])(ref)
    assert not far.any(), list(zip(t1[far], t2[far]))


# ---- majority, top_two ---------------------------------------------------------

@pytest.mark.parametrize("answers,want", [
    ([], None), (["a"], "a"), (["a", "b"], "a"), (["b", "a"], "b"), (["b", "a", "a", "b"], "b"),
    (["c", "a", "b", "a", "b"], "a"), (["x", "y", "y"], "y"), (["1", "01", "1.0", "01"], "01"),
    (["ERR", "ERR", "7"], "ERR"), (["", "", "a"], ""), (["a", None, None], None), ([None], None),
])
def test_majority_cases(answers: list, want) -> None:
    assert ops.majority(answers) == want


@pytest.mark.parametrize("answers,want", [
    ([], (0, 0)), (["a"], (1, 0)), (["a", "a"], (2, 0)), (["a", "b"], (1, 1)), (["a", "b", "b", "c"], (2, 1)),
    (["a", "b", "a", "b", "c"], (2, 2)), (["x"] * 5 + ["y"] * 3 + ["z"] * 4, (5, 4)), ([None, None, "a"], (2, 1)),
])
def test_top_two_cases(answers: list, want: tuple[int, int]) -> None:
    assert ops.top_two(answers) == want


answer_lists = st.lists(st.sampled_from(["a", "b", "c", "d", "10", "ERR"]), max_size=40)


@given(answer_lists)
def test_majority_is_most_frequent_first_occurring(answers: list[str]) -> None:
    # Among the most frequent answers, the one whose first occurrence is earliest.
    want = min(set(answers), key=lambda a: (-answers.count(a), answers.index(a))) if answers else None
    assert ops.majority(answers) == want


@given(answer_lists)
def test_top_two_are_the_two_largest_counts(answers: list[str]) -> None:
    counts = sorted(Counter(answers).values())
    assert ops.top_two(answers) == ((counts[-1] if counts else 0), (counts[-2] if len(counts) > 1 else 0))
