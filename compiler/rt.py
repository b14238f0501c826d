"""Run-time support for compiled policies: batched state, branch sets, votes, actions.

Generated modules call into this file; it holds no strategy logic. Every
function here is the array form of a scalar rule in ``compiler/interpret.py``
and ``dsl/ops.py``, and the differential tests hold the two to exact
agreement.

Conventions. Episodes are *rows*. Long-lived values (state, ``let`` values,
bound sets) are full-length arrays indexed by row; a statement runs on the
rows that reach it (``rows``, an int array) and works on gathered copies:
``[n]`` for per-episode values, ``[n, W]`` for per-branch values, where ``W``
is the widest episode so far (slots past an episode's own branches are masked
out). Values that are the same for every row (literals, parameters, knobs,
loop counters) stay Python scalars and use Python's own arithmetic.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Callable

import numpy as np

from ttsc.dsl.builtins import MAX_REPEAT, MAX_WINDOW
from ttsc.errors import TtscError
from ttsc.dsl import ops
from ttsc.runtime.env import Environment

STATUS_ACTIVE, STATUS_FINISHED, STATUS_PRUNED = 1, 2, 4  # 0: slot not opened
_BIG = np.int64(1) << 40  # sorts after every real answer id and position
_NONMEMBER = np.int64(np.iinfo(np.int64).max)
_LOW32 = np.int64((1 << 32) - 1)


class Set:
    """A branch set on the current rows: membership, and an order.

    ``pos`` orders the members (smaller first; None = opening order); ``dense``
    says it already numbers them 0, 1, 2, …. A sorted set keeps its sort keys
    and computes ``pos`` only when something needs the whole order: advancing
    needs only the order of the few branches that finish.
    """

    __slots__ = ("mask", "_pos", "dense", "_keys")

    def __init__(self, mask: np.ndarray, pos: np.ndarray | None, dense: bool = False,
                 keys: tuple[np.ndarray, np.ndarray] | None = None):
        self.mask = mask
        self._pos = pos
        self.dense = dense
        self._keys = keys  # (primary sort key, previous order), both [n, W], when sorted lazily

    @property
    def pos(self) -> np.ndarray | None:
        if self._keys is not None:
            self._pos = _sorted_ranks(self.mask, *self._keys)
            self.dense, self._keys = True, None
        return self._pos

    def order_keys(self, ri: np.ndarray, si: np.ndarray) -> tuple[np.ndarray, ...]:
        """Keys that put the given members in set order (for lexsort, least significant first)."""
        if self._keys is not None:
            primary, previous = self._keys
            return previous[ri, si], primary[ri, si]
        return (_positions(self)[ri, si],)


@dataclass(frozen=True)
class Votes:
    """Vote statistics of a set's `last` answers, per row."""

    majority: np.ndarray  # [n] int64 answer id, -1 when the set is empty
    top1: np.ndarray      # [n] int64
    top2: np.ndarray      # [n] int64
    count: np.ndarray     # [n] int64


def check_repeat(n: int, line: int) -> int:
    if n > MAX_REPEAT:
        raise TtscError(f"line {line}: `repeat {n}` exceeds the limit of {MAX_REPEAT:,} iterations")
    return n


class _Window:
    """A window per episode: a ring buffer (O(1) push), and the exact sum of its values while all are
    small whole numbers (ops.WHOLE_MAX), which makes ``mean`` O(1) without changing a bit of it."""

    def __init__(self, episodes: int, capacity: int):
        self.cap = max(capacity, 1)
        self.buf = np.zeros((episodes, self.cap), dtype=np.float64)
        self.size = np.zeros(episodes, dtype=np.int64)
        self.start = np.zeros(episodes, dtype=np.int64)  # slot of the oldest value
        self.whole = np.zeros(episodes, dtype=np.int64)  # sum of the small whole values held
        self.others = np.zeros(episodes, dtype=np.int64)  # how many values held are not small whole numbers

    def _count(self, rows: np.ndarray, v: np.ndarray, sign: int) -> None:
        small = (v == np.round(v)) & (np.abs(v) <= ops.WHOLE_MAX)  # ops.small_whole, elementwise
        np.add.at(self.whole, rows, sign * np.where(small, v, 0.0).astype(np.int64))
        np.add.at(self.others, rows, sign * (~small).astype(np.int64))

    def push(self, rows: np.ndarray, v: np.ndarray) -> None:
        full = self.size[rows] >= self.cap
        fr = rows[full]
        if fr.size:
            self._count(fr, self.buf[fr, self.start[fr]], -1)
            self.buf[fr, self.start[fr]] = v[full]  # the oldest slot becomes the newest
            self.start[fr] = (self.start[fr] + 1) % self.cap
        nf = rows[~full]
        self.buf[nf, (self.start[nf] + self.size[nf]) % self.cap] = v[~full]
        self.size[nf] += 1
        self._count(rows, v, 1)


def check_window(n: int, line: int) -> int:
    if not 1 <= n <= MAX_WINDOW:
        raise TtscError(f"line {line}: a window holds 1 to {MAX_WINDOW:,} values, not {n}")
    return n


def is_uniform(x) -> bool:
    return not isinstance(x, np.ndarray)


# ---- arithmetic: Python semantics for scalars, the same rules for arrays ----

def div(a, b):
    if is_uniform(a) and is_uniform(b):
        return ops.div(a, b)
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b)
    zero = b == 0
    return np.where(zero, 0.0, a / np.where(zero, 1, b))


def _by_nonzero(scalar_op, array_op):
    """``//`` and ``%``: Python's rules for scalars; for arrays the same, with 0 where b == 0."""
    def op(a, b):
        if is_uniform(a) and is_uniform(b):
            return scalar_op(a, b)
        b = np.asarray(b)
        zero = b == 0
        return np.where(zero, 0, array_op(a, np.where(zero, 1, b)))
    return op


floordiv = _by_nonzero(ops.floordiv, np.floor_divide)
mod = _by_nonzero(ops.mod, np.remainder)


def _to_int(x: np.ndarray) -> np.ndarray:
    """Like ops.to_int: non-finite -> 0, then clamped into int64."""
    if x.dtype.kind in "iub":
        return x.astype(np.int64)
    finite = np.isfinite(x)
    clipped = np.clip(np.where(finite, x, 0.0), -ops._INT_EDGE, ops._INT_EDGE)
    return clipped.astype(np.int64)


def round_(x, ndigits=None):
    if is_uniform(x):
        return ops.round_(x, ndigits)
    if ndigits is None:
        return _to_int(np.rint(x))  # rint rounds half to even, like Python
    # numpy's decimal rounding is not Python's correctly-rounded one: round each value.
    return np.array([ops.round_(v, ndigits) for v in np.asarray(x, dtype=np.float64).ravel().tolist()],
                    dtype=np.float64).reshape(np.shape(x))


def floor(x):
    return ops.floor(x) if is_uniform(x) else _to_int(np.floor(x))


def ceil(x):
    return ops.ceil(x) if is_uniform(x) else _to_int(np.ceil(x))


def where(cond, a, b, as_float: bool = False):
    if is_uniform(cond):
        out = a if cond else b
        if not (is_uniform(a) and is_uniform(b)):  # keep the shape the other side would have had
            out = np.broadcast_arrays(np.asarray(a), np.asarray(b))[0 if cond else 1].copy()
    else:
        out = np.where(cond, a, b)
    return to_float(out) if as_float else out


def to_float(x):
    return float(x) if is_uniform(x) else np.asarray(x, dtype=np.float64)


def minimum(*args, as_float: bool = False):
    """Python's min, left to right: the first value unless a later one is smaller (so NaN is kept
    only where it comes first: every comparison with NaN is false)."""
    out = args[0]
    for a in args[1:]:
        out = min(out, a) if is_uniform(out) and is_uniform(a) else np.where(a < out, a, out)
    return to_float(out) if as_float else out


def maximum(*args, as_float: bool = False):
    out = args[0]
    for a in args[1:]:
        out = max(out, a) if is_uniform(out) and is_uniform(a) else np.where(a > out, a, out)
    return to_float(out) if as_float else out


def absolute(x, as_float: bool = False):
    if is_uniform(x):
        out = ops.wrap(abs(x)) if isinstance(x, int) else abs(x)  # abs(INT_MIN) wraps to INT_MIN
    else:
        out = np.abs(x)
    return to_float(out) if as_float else out


_COMPARE = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq,
            "!=": operator.ne}
_TWO_63 = 2.0 ** 63


def compare_int_float(op: str, a, b, int_left: bool):
    """``a op b`` for one int and one float operand, exactly as Python compares them.

    numpy converts the int to the nearest float first, so 2**53 + 1 == 2.0**53 would
    hold. Rounding is monotone, so the float comparison is right unless it finds the
    two equal; then the float is a whole number within 2**10 of the int (or 2**63,
    above every int) and the exact comparison is an int subtraction.
    """
    if is_uniform(a) and is_uniform(b):
        return _COMPARE[op](a, b)
    i, f = (a, b) if int_left else (b, a)
    i = np.asarray(i, dtype=np.int64)
    f = np.asarray(f, dtype=np.float64)
    as_f = i.astype(np.float64)
    tie = as_f == f
    exact = np.where(tie & (f < _TWO_63), f, 0.0).astype(np.int64)
    sign = np.where(tie, np.where(f >= _TWO_63, -1.0, np.sign(i - exact).astype(np.float64)), np.sign(as_f - f))
    if not int_left:
        sign = -sign  # NaN stays NaN: every comparison but != is false
    return _COMPARE[op](sign, 0.0)


def logical_and(a, b):
    return (a and b) if is_uniform(a) and is_uniform(b) else np.logical_and(a, b)


def logical_or(a, b):
    return (a or b) if is_uniform(a) and is_uniform(b) else np.logical_or(a, b)


def logical_not(a):
    return (not a) if is_uniform(a) else np.logical_not(a)


def col(x):
    """A per-row value as a column, to combine with per-branch values."""
    return x[:, None] if isinstance(x, np.ndarray) and x.ndim == 1 else x


_beta_table = np.full((0, 0), np.nan)


def beta_confidence(top1, top2):
    """ops.beta_confidence elementwise, from a table filled in as new count pairs appear."""
    global _beta_table
    t1, t2 = np.broadcast_arrays(np.clip(np.asarray(top1, dtype=np.int64), 0, ops.MAX_VOTES),
                                 np.clip(np.asarray(top2, dtype=np.int64), 0, ops.MAX_VOTES))
    if t1.size == 0:
        return np.zeros(t1.shape)
    need = max(int(t1.max()), int(t2.max())) + 1
    if need > _beta_table.shape[0]:
        size = min(max(need, 2 * _beta_table.shape[0], 64), ops.MAX_VOTES + 1)
        grown = np.full((size, size), np.nan)
        grown[:_beta_table.shape[0], :_beta_table.shape[1]] = _beta_table
        _beta_table = grown
    out = _beta_table[t1, t2]
    missing = np.isnan(out)
    if missing.any():
        for a, b in set(zip(t1[missing].tolist(), t2[missing].tolist())):
            _beta_table[a, b] = ops.beta_confidence(a, b)
        out = _beta_table[t1, t2]
    return float(out) if out.ndim == 0 else out


# ---- branch sets ------------------------------------------------------------

def _positions(s: Set) -> np.ndarray:
    if s.pos is not None:
        return s.pos
    return np.broadcast_to(np.arange(s.mask.shape[1], dtype=np.int64), s.mask.shape)


def _ranks(s: Set) -> np.ndarray:
    """Each member's 0-based place in the set's order."""
    if s.pos is None:
        return np.cumsum(s.mask, axis=1) - 1
    if s.dense:
        return s.pos
    keyed = np.where(s.mask, s.pos, _BIG)
    order = np.argsort(keyed, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1])[None, :].repeat(order.shape[0], 0), axis=1)
    return ranks


def filter_set(s: Set, cond) -> Set:
    mask = s.mask & np.broadcast_to(cond, s.mask.shape)
    if s._keys is not None:  # dropping members keeps the others' relative order
        return Set(mask, None, keys=s._keys)
    return Set(mask, s.pos)  # a filtered order is no longer dense


def sort_set(s: Set, key, descending: bool) -> Set:
    """Stable sort of the members by key; ties keep the set's order (ranks computed on demand)."""
    key = np.broadcast_to(np.asarray(key), s.mask.shape)
    if key.dtype == bool:
        key = key.astype(np.int64)
    elif key.dtype.kind == "f":
        key = _float_order(key)
    primary = ~key if descending else key  # ~k = -k - 1 reverses the order and, unlike -k, never wraps
    previous = _ranks(s) if s.pos is not None else _positions(s)
    return Set(s.mask, None, keys=(primary, previous))


def _float_order(key: np.ndarray) -> np.ndarray:
    """int64 keys in the order ops.sort_key puts floats: numbers ascending (-0.0 equal to 0.0), NaN last."""
    nan = np.isnan(key)
    bits = np.where(nan, 0.0, key + 0.0).view(np.int64)  # + 0.0 turns -0.0 into 0.0
    ordered = np.where(bits < 0, bits ^ np.int64(0x7FFFFFFFFFFFFFFF), bits)  # negative floats: reverse
    return np.where(nan, _NAN_ORDER, ordered)


_NAN_ORDER = np.int64(0x7FF0000000000001)  # just above +inf's bits


def _sorted_ranks(mask: np.ndarray, primary: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Dense ranks of the members ordered by (primary, pos); non-members after them."""
    s_mask = mask
    order = None
    if primary.dtype.kind in "iu" and primary.size:
        lo, hi = int(primary.min()), int(primary.max())
        if hi - lo < (1 << 30) and s_mask.shape[1] < (1 << 20):
            # members first, then by key, then by the set's order: one packed int64 per branch
            packed = (((~s_mask).astype(np.int64) << 52) | ((primary - lo) << 20) | pos)
            order = np.argsort(packed, axis=1)
    if order is None:
        order = np.lexsort((pos, primary, ~s_mask), axis=1)
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(order.shape[1])[None, :].repeat(order.shape[0], 0), axis=1)
    return ranks


def choose_set(cond, a: Set, b: Set) -> Set:
    """`if cond then a else b`, chosen per row."""
    c = col(np.asarray(cond))
    mask = np.where(c, a.mask, b.mask)
    pa, pb = a.pos, b.pos  # (a lazily sorted set computes its order here)
    if pa is None and pb is None:
        return Set(mask, None)
    dense = pa is not None and a.dense and pb is not None and b.dense
    return Set(mask, np.where(c, _positions(a), _positions(b)), dense)


def take_set(s: Set, k) -> Set:
    limit = col(np.asarray(k)) if not is_uniform(k) else k
    ranks = _ranks(s)
    return Set(s.mask & (ranks < limit), s.pos, s.dense)


def take_last_set(s: Set, k) -> Set:
    """The last ``k`` members in the set's order (none when ``k`` <= 0)."""
    n, w = s.mask.shape
    keep = np.clip(col(np.asarray(k)) if not is_uniform(k) else k, 0, w)
    first = count(s)[:, None] - keep  # the place of the first member kept
    return Set(s.mask & (_ranks(s) >= first), s.pos)  # its members' places no longer start at 0: not dense


def union_set(a: Set, b: Set) -> Set:
    """``a``'s members in ``a``'s order, then ``b``'s new members in ``b``'s order."""
    w = a.mask.shape[1]
    pos = np.where(a.mask, _ranks(a), w + _ranks(b))
    return Set(a.mask | b.mask, pos)


def intersect_set(a: Set, b: Set) -> Set:
    return filter_set(a, b.mask)


def minus_set(a: Set, b: Set) -> Set:
    return filter_set(a, ~b.mask)


# ---- aggregates over a set: ``values`` holds a value per slot ([n, W] or broadcastable) -------

def _in_order(s: Set, *arrays) -> tuple[np.ndarray, list[np.ndarray], int]:
    """The members first, in set order: (which places hold a member, each array gathered, widest count)."""
    n, w = s.mask.shape
    order = np.argsort(np.where(s.mask, _ranks(s), w), axis=1, kind="stable")
    valid = np.take_along_axis(s.mask, order, axis=1)
    gathered = [np.take_along_axis(np.broadcast_to(np.asarray(a), s.mask.shape), order, axis=1) for a in arrays]
    return valid, gathered, int(valid.sum(axis=1).max()) if n and w else 0


def distinct(s: Set, last: np.ndarray) -> np.ndarray:
    n, w = s.mask.shape
    if n == 0 or w == 0:
        return np.zeros(n, dtype=np.int64)
    key = np.sort(np.where(s.mask, last, _NONMEMBER), axis=1)
    held = key != _NONMEMBER
    return (held[:, 0] + (held[:, 1:] & (key[:, 1:] != key[:, :-1])).sum(axis=1)).astype(np.int64)


def sum_of(s: Set, values) -> np.ndarray:
    """Added one member at a time in set order, as the interpreter does (not numpy's pairwise sum)."""
    valid, (v,), k = _in_order(s, values)
    total = np.zeros(s.mask.shape[0], dtype=v.dtype)
    with np.errstate(all="ignore"):  # inf - inf is NaN here as everywhere; ints wrap
        for j in range(k):
            total = np.where(valid[:, j], total + v[:, j], total)
    return total


def mean_of(s: Set, values) -> np.ndarray:
    n = count(s)
    total = sum_of(s, values).astype(np.float64)
    with np.errstate(all="ignore"):
        return np.where(n > 0, total / np.maximum(n, 1), 0.0)


def _fold(s: Set, values, better) -> np.ndarray:
    valid, (v,), k = _in_order(s, values)
    if k == 0:
        return np.zeros(s.mask.shape[0], dtype=v.dtype)
    best = np.where(valid[:, 0], v[:, 0], 0)
    for j in range(1, k):  # a later member replaces the best only when strictly better (Python's min/max)
        best = np.where(valid[:, j] & better(v[:, j], best), v[:, j], best)
    return best.astype(v.dtype)


def min_of(s: Set, values) -> np.ndarray:
    return _fold(s, values, np.less)


def max_of(s: Set, values) -> np.ndarray:
    return _fold(s, values, np.greater)


def weighted(s: Set, last: np.ndarray, weights) -> np.ndarray:
    """ops.weighted per row: each answer's weights added in set order, ties to its first occurrence."""
    n, w = s.mask.shape
    valid, (a, wt), k = _in_order(s, last, np.asarray(weights, dtype=np.float64))
    if k == 0:
        return np.full(n, -1, dtype=np.int64)
    good = valid & (wt > 0.0) & (wt < np.inf)
    contrib = np.where(good, wt, 0.0)
    # where each place's answer first occurs: sort (answer, place), spread each group's first place
    places = np.arange(w, dtype=np.int64)
    key = np.sort(np.where(valid, ((a + 1) << 32) | places, _NONMEMBER), axis=1)
    start = np.ones_like(key, dtype=bool)
    start[:, 1:] = (key[:, 1:] >> 32) != (key[:, :-1] >> 32)
    group = np.maximum.accumulate(np.where(start, places, 0), axis=1)
    head_sorted = np.take_along_axis(key & _LOW32, group, axis=1)
    head = np.zeros((n, w), dtype=np.int64)
    held = key != _NONMEMBER
    r, c = np.nonzero(held)
    head[r, (key & _LOW32)[r, c]] = head_sorted[r, c]
    totals = np.zeros((n, w), dtype=np.float64)
    rows = np.arange(n)
    for j in range(k):  # in set order, as the interpreter adds
        totals[rows, head[:, j]] += contrib[:, j]
    best = np.argmax(totals, axis=1)  # the first of equal totals: the earliest first occurrence
    return np.where(totals[rows, best] > 0.0, a[rows, best], -1).astype(np.int64)


def count(s: Set) -> np.ndarray:
    return s.mask.sum(axis=1).astype(np.int64)


def votes_of(s: Set, last: np.ndarray) -> Votes:
    """Group the members' answers; majority ties go to the answer seen first in set order.

    One int64 sort per row of ``answer << 32 | position`` puts each answer's
    members together, earliest first; group sizes and first positions follow
    from where the answer changes.
    """
    n, w = s.mask.shape
    if w == 0 or n == 0:
        z = np.zeros(n, dtype=np.int64)
        return Votes(np.full(n, -1, dtype=np.int64), z, z, z)
    pos = _positions(s)
    # answers are >= -1: shift by one so the packed key is non-negative; non-members sort last
    key = np.where(s.mask, ((last + 1) << 32) | pos, _NONMEMBER)
    key.sort(axis=1)
    valid = key != _NONMEMBER
    a = key >> 32
    start = valid.copy()
    start[:, 1:] &= a[:, 1:] != a[:, :-1]
    idx = np.arange(w, dtype=np.int64)
    boundary = np.where(start | ~valid, idx, w)
    following = np.minimum.accumulate(boundary[:, ::-1], axis=1)[:, ::-1]
    sizes = np.zeros((n, w), dtype=np.int64)
    sizes[:, :-1] = following[:, 1:]
    sizes[:, -1] = w
    sizes = np.where(start, sizes - idx, 0)
    score = np.where(start, (sizes << 32) - (key & _LOW32), -1)
    best = np.argmax(score, axis=1)
    rows = np.arange(n)
    has = start[:, 0]
    majority = np.where(has, a[rows, best] - 1, -1)
    top1 = sizes[rows, best]
    sizes[rows, best] = 0
    top2 = sizes.max(axis=1)
    return Votes(majority.astype(np.int64), top1, top2, valid.sum(axis=1))


def unanimous(v: Votes) -> np.ndarray:
    return (v.count > 0) & (v.top1 == v.count)


def confidence(v: Votes) -> np.ndarray:
    return beta_confidence(v.top1, v.top2)


def votes_for(s: Set, last: np.ndarray, answer) -> np.ndarray:
    """Members whose answer equals ``answer``: per row, or per branch when ``answer`` is per branch."""
    answer = np.asarray(answer)
    if answer.ndim == 2:  # [n, W]: count for every branch j the members i with last_i == answer_j
        same = last[:, None, :] == answer[:, :, None]
        return (same & s.mask[:, None, :]).sum(axis=2).astype(np.int64)
    return (s.mask & (last == col(answer))).sum(axis=1).astype(np.int64)


# ---- the batched episode state ----------------------------------------------

@dataclass(frozen=True)
class ActionEvent:
    """One action statement's effect on every episode that ran it (for traces).

    Touched branches are grouped by row, each row's in the order the
    interpreter lists them (set order; slot order for new branches). A `prune`
    is reported only for the rows where it pruned something.
    """

    line: int
    action: str               # open | read | advance | prune | accept
    rows: np.ndarray          # [n] episodes that ran the statement
    branch_rows: np.ndarray   # [m] the row of each touched branch
    slots: np.ndarray         # [m]
    answers: np.ndarray       # [m] answer ids after the action
    costs: np.ndarray         # [m] tokens each generated in it
    finished: np.ndarray      # [m] bool
    rounds: np.ndarray        # [n] action rounds so far, per row
    tokens: np.ndarray        # [n] tokens so far, per row


def valid_uniform(answer: int) -> bool:
    """`valid` of an answer fixed by the parameters: such an answer is always none (a string is per episode)."""
    assert answer == -1, answer
    return False


class State:
    """All episodes' state for one run of a compiled policy."""

    def __init__(self, env: Environment, trace: Callable[[ActionEvent], None] | None = None):
        self.env = env
        self.trace = trace
        e, b = env.n_episodes, env.max_branches
        self.E, self.B, self.W = e, b, 0
        self.opened = np.zeros(e, dtype=np.int64)
        self.last = np.full((e, b), -1, dtype=np.int64)
        # one code per slot; the `finished` and `pruned` fields are read off it
        self.status = np.zeros((e, b), dtype=np.int8)  # 0 unopened, 1 active, 2 finished, 4 pruned
        self.depth = np.zeros((e, b), dtype=np.int64)
        self.tokens_b = np.zeros((e, b), dtype=np.int64)
        self.last_conf = np.full((e, b), np.nan)  # the `confidence` signal of each branch's last reveal
        self.fin_seq = np.zeros((e, b), dtype=np.int64)
        self.fin_count = np.zeros(e, dtype=np.int64)
        self.user: dict[str, np.ndarray] = {}
        self.windows: dict[str, _Window] = {}
        self.histories: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (answers [E, B, K], reveals [E, B])
        self.branch_windows: dict[str, tuple[np.ndarray, np.ndarray]] = {}  # name -> (values [E, B, K], sizes)
        self.stopped = np.zeros(e, dtype=bool)
        self.answer = np.full(e, -1, dtype=np.int64)
        self.stop_line = np.zeros(e, dtype=np.int64)
        self.tokens = np.zeros(e, dtype=np.int64)
        self.sequential = np.zeros(e, dtype=np.int64)
        self.rounds = np.zeros(e, dtype=np.int64)
        # Bumped for a row whenever its branches' answers or statuses change, so
        # vote statistics of built-in sets are recomputed only for rows that moved.
        self.row_version = np.zeros(e, dtype=np.int64)
        self._votes: dict[str, tuple[np.ndarray, Votes]] = {}
        self._interval: np.ndarray | None = None
        self._literals: dict[str, np.ndarray] = {}

    def literal(self, text: str, rows: np.ndarray) -> np.ndarray:
        """The id of an answer written in the program, in each row's episode (asked once per run)."""
        ids = self._literals.get(text)
        if ids is None:
            ids = self._literals[text] = np.asarray(self.env.answer_ids(self.all_rows(), [text]),
                                                    dtype=np.int64)[:, 0]
        return ids[rows]

    def valid(self, answers, rows: np.ndarray) -> np.ndarray:
        """`valid` of per-row ([n]) or per-branch ([n, W]) answer ids: the environment decides."""
        a = np.asarray(answers, dtype=np.int64)
        r = rows if a.ndim == 1 else np.broadcast_to(rows[:, None], a.shape)
        out = np.zeros(a.shape, dtype=bool)
        real = a >= 0
        if real.any():
            out[real] = self.env.valid(r[real], a[real])
        return out

    def counter(self, name: str, rows: np.ndarray) -> np.ndarray:
        """A budget counter (builtins.COUNTERS) of each row: a copy, so later spending does not change it."""
        if name == "spent":
            return self.tokens[rows].copy()
        if name == "spent_sequential":
            return self.sequential[rows].copy()
        if self._interval is None:  # "interval": asked of the environment once per run
            self._interval = np.asarray(self.env.interval(self.all_rows()), dtype=np.int64)
        return self._interval[rows]

    def add_branch_var(self, name: str, dtype, init) -> None:
        self.user[name] = np.full((self.E, self.B), init, dtype=dtype)

    def add_window(self, name: str, capacity: int) -> None:
        self.windows[name] = _Window(self.E, capacity)

    def add_branch_window(self, name: str, capacity: int) -> None:
        self.branch_windows[name] = (np.zeros((self.E, self.B, capacity), dtype=np.float64),
                                     np.zeros((self.E, self.B), dtype=np.int64))

    def push_branch(self, name: str, rows: np.ndarray, s: Set, value) -> None:
        """Each member pushes its own value to its own window (oldest first; the oldest drops when full)."""
        buf, size = self.branch_windows[name]
        cap = buf.shape[2]
        value = np.broadcast_to(np.asarray(value, dtype=np.float64), s.mask.shape)
        ri, si = np.nonzero(s.mask)
        r, v = rows[ri], value[ri, si]
        full = size[r, si] >= cap
        fr, fs = r[full], si[full]
        buf[fr, fs, :cap - 1] = buf[fr, fs, 1:cap]
        buf[fr, fs, cap - 1] = v[full]
        nr, ns = r[~full], si[~full]
        buf[nr, ns, size[nr, ns]] = v[~full]
        size[nr, ns] += 1

    def _branch_window(self, name: str, fn: str, rows: np.ndarray) -> np.ndarray:
        """A window function of every slot's own window, [n, W]."""
        buf, size = self.branch_windows[name]
        values, n = buf[rows, :self.W], size[rows, :self.W]
        if fn == "size":
            return n.copy()
        if fn == "oldest":
            return np.where(n > 0, values[..., 0], 0.0)
        if fn == "newest":
            return np.where(n > 0, np.take_along_axis(values, np.maximum(n - 1, 0)[..., None], axis=2)[..., 0], 0.0)
        total = np.zeros(n.shape, dtype=np.float64)
        with np.errstate(all="ignore"):
            for k in range(values.shape[2]):  # oldest first, one addition at a time, as the interpreter sums
                total = np.where(k < n, total + values[..., k], total)
            return np.where(n > 0, total / np.maximum(n, 1), 0.0)

    def add_history(self, name: str, capacity: int) -> None:
        self.histories[name] = (np.full((self.E, self.B, capacity), -1, dtype=np.int64),
                                np.zeros((self.E, self.B), dtype=np.int64))

    def history(self, name: str, fn: str, rows: np.ndarray, answer=None) -> np.ndarray:
        """A history function of every slot's own history, [n, W]: its answers oldest first. ``answer``
        (for "votes"): a scalar, one per row ([n, 1]) or one per slot ([n, W])."""
        ring, seen = self.histories[name]
        k = ring.shape[2]
        reveals = self._rows(seen, rows)
        held = np.minimum(reveals, k)
        place = np.arange(k)
        # the oldest held answer sits at (reveals - held) % K; ring order from there
        order = (reveals[..., None] - held[..., None] + place) % k
        answers = np.take_along_axis(ring[rows, :self.W], order, axis=2)
        valid = place < held[..., None]
        if fn == "size":
            return held
        if fn == "votes":
            a = np.asarray(answer)
            return ((answers == (a[..., None] if a.ndim else a)) & valid).sum(axis=2).astype(np.int64)
        same = (answers[..., :, None] == answers[..., None, :]) & valid[..., None, :]
        counts = np.where(valid, same.sum(axis=3), 0)  # how many held answers equal each one
        if fn == "unanimous":
            return (held > 0) & (counts[..., 0] == held)
        best = np.argmax(counts, axis=2)  # the first of the most common: ties go to the oldest
        top = np.take_along_axis(answers, best[..., None], axis=2)[..., 0]
        return np.where(held > 0, top, -1)

    def store_bound(self, full: np.ndarray, rows: np.ndarray, new: np.ndarray) -> None:
        full[rows] = False
        full[rows, :new.shape[1]] = new

    def store_set(self, mask: np.ndarray, pos: np.ndarray, rows: np.ndarray, s: Set) -> None:
        mask[rows] = False
        mask[rows, :self.W] = s.mask
        pos[rows, :self.W] = _positions(s)

    def load_set(self, mask: np.ndarray, pos: np.ndarray, rows: np.ndarray) -> Set:
        return Set(mask[rows, :self.W], pos[rows, :self.W])

    def all_rows(self) -> np.ndarray:
        return np.arange(self.E, dtype=np.int64)

    def running(self, rows: np.ndarray, broken: np.ndarray | None = None) -> np.ndarray:
        halted = self.stopped[rows]
        if broken is not None:
            halted = halted | broken[rows]
        return rows[~halted]

    # -- reading branch state
    def _rows(self, arr: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``arr[rows, :W]``; a view when every row is there (rows are sorted and unique)."""
        if rows.size == self.E:
            return arr[:, :self.W]
        return arr[rows, :self.W]

    def field(self, name: str, rows: np.ndarray) -> np.ndarray:
        w = self.W
        if name == "index":
            return np.broadcast_to(np.arange(w, dtype=np.int64), (rows.size, w))
        if name == "tokens":
            return self._rows(self.tokens_b, rows)
        if name in ("finished", "pruned"):
            return self._rows(self.status, rows) == (STATUS_FINISHED if name == "finished" else STATUS_PRUNED)
        src = self.user.get(name)
        if src is None:
            src = getattr(self, name)
        return self._rows(src, rows)

    def builtin_set(self, name: str, rows: np.ndarray) -> Set:
        status = self._rows(self.status, rows)
        if name == "branches":
            return Set(status != 0, None)
        if name == "live":
            return Set((status == STATUS_ACTIVE) | (status == STATUS_FINISHED), None)
        if name == "active":
            return Set(status == STATUS_ACTIVE, None)
        if name == "completed":
            return Set(status == STATUS_FINISHED, self._rows(self.fin_seq, rows), dense=True)
        raise KeyError(name)

    def bound(self, full: np.ndarray, rows: np.ndarray) -> Set:
        return Set(full[rows, :self.W], None)

    def votes(self, s: Set, rows: np.ndarray, builtin: str | None = None) -> Votes:
        """Vote statistics; a built-in set's are cached per row until that row's branches change."""
        if builtin is None:
            return votes_of(s, self.field("last", rows))
        cached = self._votes.get(builtin)
        if cached is None:
            z = np.zeros(self.E, dtype=np.int64)
            cached = (np.full(self.E, -1, dtype=np.int64), Votes(z.copy(), z.copy(), z.copy(), z.copy()))
            self._votes[builtin] = cached
        seen, full = cached
        stale = seen[rows] != self.row_version[rows]
        if stale.any():
            sub = rows[stale]
            fresh = votes_of(Set(s.mask[stale], None if s.pos is None else s.pos[stale]),
                             self.field("last", sub))
            full.majority[sub], full.top1[sub], full.top2[sub], full.count[sub] = (
                fresh.majority, fresh.top1, fresh.top2, fresh.count)
            seen[sub] = self.row_version[sub]
        return Votes(full.majority[rows], full.top1[rows], full.top2[rows], full.count[rows])

    # -- windows
    def push(self, name: str, rows: np.ndarray, value) -> None:
        self.windows[name].push(rows, np.broadcast_to(np.asarray(value, dtype=np.float64), rows.shape))

    def window(self, name: str, fn: str, rows: np.ndarray):
        if name in self.branch_windows:
            return self._branch_window(name, fn, rows)
        w = self.windows[name]
        n = w.size[rows]
        if fn == "size":
            return n.copy()
        if fn == "oldest":
            return np.where(n > 0, w.buf[rows, w.start[rows]], 0.0)
        if fn == "newest":
            return np.where(n > 0, w.buf[rows, (w.start[rows] + np.maximum(n - 1, 0)) % w.cap], 0.0)
        total = w.whole[rows].astype(np.float64)  # exact while every value held is small and whole
        slow = np.flatnonzero(w.others[rows] > 0)
        if slow.size:  # oldest first, one addition at a time, as the interpreter sums: a running sum
            r = rows[slow]
            held = w.buf[r[:, None], (w.start[r, None] + np.arange(w.cap)) % w.cap]
            held[np.arange(w.cap) >= n[slow, None]] = 0.0
            sums = np.cumsum(np.concatenate([np.zeros((r.size, 1)), held], axis=1), axis=1)
            total[slow] = sums[np.arange(r.size), n[slow]]
        return np.where(n > 0, total / np.maximum(n, 1), 0.0)

    # -- actions
    def take(self, rows: np.ndarray, want, whole: bool, line: int = 0) -> np.ndarray:
        """open/read: up to ``want`` new branches per row; returns the new slots as a [n, W] mask."""
        want = np.broadcast_to(np.asarray(want, dtype=np.int64), rows.shape)
        t = self.env.take(rows, want, whole)
        r, s = t.rows, t.slots
        if s.size:
            self.W = max(self.W, int(s.max()) + 1)
        self.opened[rows] += np.bincount(np.searchsorted(rows, r), minlength=rows.size)
        # one reveal each (a whole read counts as one); those that finish at once join `completed` in slot order
        self._record(r, s, t.answer, t.cost, t.finished, 1, t.confidence)
        if t.finished.any():
            self._finish(r[t.finished], s[t.finished])
        self._charge(r, t.cost)
        if self.trace is not None:
            self._event(line, "read" if whole else "open", rows, r, s, t.cost)
        new = np.zeros((rows.size, self.W), dtype=bool)
        new[np.searchsorted(rows, r), s] = True  # rows are sorted: generated code only ever filters them
        return new

    def advance(self, rows: np.ndarray, s: Set, steps, line: int = 0) -> None:
        steps = np.broadcast_to(np.asarray(steps, dtype=np.int64), s.mask.shape)
        moving = s.mask & (self._rows(self.status, rows) == STATUS_ACTIVE) & (steps > 0)
        ri, si = np.nonzero(moving)  # row-major: grouped by row, slots ascending
        if ri.size == 0:
            if self.trace is not None:
                self._event(line, "advance", rows, ri, si, ri)
            return
        r = rows[ri]
        m = self.env.advance(r, si.astype(np.int64), steps[ri, si])
        self._record(r, si, m.answer, m.cost, m.finished, m.steps, m.confidence)
        done = m.finished
        if done.any():
            keys = s.order_keys(ri[done], si[done])
            fr, fs = r[done], si[done]
            seq = np.lexsort((*keys, fr))  # by row, then set order
            self._finish(fr[seq], fs[seq])
        self._charge(r, m.cost)
        if self.trace is not None:
            seq = np.lexsort((*s.order_keys(ri, si), r))
            self._event(line, "advance", rows, r[seq], si[seq], m.cost[seq])

    def prune(self, rows: np.ndarray, s: Set, line: int = 0) -> None:
        cut = s.mask & (self._rows(self.status, rows) == STATUS_ACTIVE)
        hit = cut.any(axis=1)
        if not hit.any():
            return
        ri, si = np.nonzero(cut)
        self.status.reshape(-1)[rows[ri] * self.B + si] = STATUS_PRUNED
        self.row_version[rows[hit]] += 1  # only rows that lost a branch need their votes recounted
        if self.trace is not None:
            seq = np.lexsort((*s.order_keys(ri, si), ri))
            self._event(line, "prune", rows[hit], rows[ri[seq]], si[seq], np.zeros(ri.size, dtype=np.int64))

    def accept(self, rows: np.ndarray, s: Set, line: int = 0) -> None:
        """The active members finish with their current `last`, joining `completed` in set order; no tokens."""
        cut = s.mask & (self._rows(self.status, rows) == STATUS_ACTIVE)
        hit = cut.any(axis=1)
        if not hit.any():
            return
        ri, si = np.nonzero(cut)
        seq = np.lexsort((*s.order_keys(ri, si), ri))  # by row, then set order
        r, sl = rows[ri[seq]], si[seq].astype(np.int64)
        self.env.accept(r, sl)
        self.status.reshape(-1)[r * self.B + sl] = STATUS_FINISHED
        self._finish(r, sl)
        self.row_version[rows[hit]] += 1
        if self.trace is not None:
            self._event(line, "accept", rows[hit], r, sl, np.zeros(r.size, dtype=np.int64))

    def _event(self, line: int, action: str, rows: np.ndarray, r: np.ndarray, s: np.ndarray,
               cost: np.ndarray) -> None:
        flat = r * self.B + s
        self.trace(ActionEvent(line, action, rows, r, s, self.last.reshape(-1)[flat],
                               np.asarray(cost, dtype=np.int64),
                               self.status.reshape(-1)[flat] == STATUS_FINISHED, self.rounds[rows].copy(),
                               self.tokens[rows].copy()))

    def update(self, rows: np.ndarray, s: Set, values: dict[str, object]) -> None:
        w = self.W
        # Every new column is built before any is written: a value may be a view of another field.
        new = {}
        for name, value in values.items():
            cur = self.user[name][rows, :w]
            new[name] = np.where(s.mask, np.broadcast_to(value, cur.shape), cur)
        for name, column in new.items():
            self.user[name][rows, :w] = column

    def stop(self, rows: np.ndarray, answer, line: int) -> None:
        self.answer[rows] = np.broadcast_to(np.asarray(answer, dtype=np.int64), rows.shape)
        self.stopped[rows] = True
        self.stop_line[rows] = line

    # -- bookkeeping
    def _record(self, r: np.ndarray, s: np.ndarray, answer, cost, finished, steps, confidence) -> None:
        """What a reveal changed for branches (r, s); their rows' votes must be recounted."""
        flat = r * self.B + s
        self.last.reshape(-1)[flat] = answer
        if confidence is not None:  # an environment without the signal leaves NaN (programs reading it are refused)
            self.last_conf.reshape(-1)[flat] = confidence
        self.depth.reshape(-1)[flat] += steps
        self.tokens_b.reshape(-1)[flat] += cost
        self.status.reshape(-1)[flat] = np.where(finished, STATUS_FINISHED, STATUS_ACTIVE)
        self.row_version[r] += 1
        for ring, seen in self.histories.values():  # each reveal adds its answer to the branch's histories
            k = ring.shape[2]
            reveals = seen.reshape(-1)
            ring.reshape(-1, k)[flat, reveals[flat] % k] = answer
            reveals[flat] += 1

    def _finish(self, r: np.ndarray, s: np.ndarray) -> None:
        """Append finished branches to `completed`: r is grouped by row, in finishing order."""
        first = np.r_[True, r[1:] != r[:-1]]
        group_start = np.maximum.accumulate(np.where(first, np.arange(r.size), 0))
        rank = np.arange(r.size) - group_start
        self.fin_seq[r, s] = self.fin_count[r] + rank
        np.add.at(self.fin_count, r, 1)

    def _charge(self, r: np.ndarray, cost: np.ndarray) -> None:
        """Add tokens; the round costs each row its longest single-branch generation.

        ``r`` is grouped by row (callers pass pairs in row order), so per-row sums
        and maxima are segment reductions.
        """
        if r.size == 0:
            return
        starts = np.flatnonzero(np.r_[True, r[1:] != r[:-1]])
        who = r[starts]
        self.tokens[who] += np.add.reduceat(cost, starts)
        self.sequential[who] += np.maximum.reduceat(cost, starts)
        self.rounds[who] += 1

