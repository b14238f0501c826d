"""Run-time support for native kernels: one replay episode's state and actions, jitted with numba.

A native kernel (``compiler/native.py``) is plain scalar Python that numba
compiles to machine code; it runs every episode of a store one after another
inside one call. This file is the scalar half of that: reveals and token
charging by the rule in ``runtime/reveal.py`` (compiled from that very source), vote counting, and the
arithmetic whose meaning ``dsl/ops.py`` fixes. The rare operations that
need Python's exact arithmetic (``round(x, d)``, ``beta_confidence`` beyond
the precomputed table) call back into ``ops`` instead of approximating.

Episode state lives in small arrays so helpers can change it in place:

* ``BR[field, slot]`` — per-branch int64 fields (rows below), one column per
  branch in opening order;
* ``ACC`` — per-episode int64 counters (slots below);
* ``COMP`` — slots of finished branches, in finishing order (``completed``);
* ``VOTE[0, a + 1]`` — how many of them answered ``a``; ``VOTE[1, a + 1]`` — where in
  ``COMP`` the first of them is. `completed` only grows and a finished branch's
  answer never changes, so its vote statistics are kept up to date as branches
  finish (``ACC[MAJORITY]``, ``ACC[TOP1]``, ``ACC[TOP2]``) instead of recounted.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from numba import njit, objmode, types
from numba.extending import overload

from ttsc.dsl import ops
from ttsc.runtime import reveal

# BR rows
LAST, STATUS, DEPTH, TOKENS, REVEALED, SOURCE = 0, 1, 2, 3, 4, 5
N_FIELDS = 6
# STATUS codes (0: slot not opened)
ACTIVE, FINISHED, PRUNED = 1, 2, 4
# ACC slots
TOTAL, SEQUENTIAL, ROUNDS, OPENED, N_COMPLETED, CURSOR, N_ACTIVE, N_PRUNED, MAJORITY, TOP1, TOP2 = range(11)
N_ACC = 11

INT_EDGE = ops._INT_EDGE
TWO_63 = 2.0 ** 63

# The reveal rule shared with the replay environment: one source, compiled here for scalars.
reveal_reach = njit(cache=True, _nrt=False)(reveal.reach)
probe_tokens = njit(cache=True, _nrt=False)(reveal.probe_tokens)
finishes = njit(cache=True, _nrt=False)(reveal.finishes)
rest_tokens = njit(cache=True, _nrt=False)(reveal.rest_tokens)
whole_cost = njit(cache=True, _nrt=False)(reveal.whole_cost)


# ---- the replay environment, one episode -----------------------------------
# env = (probe_ids [B, I] int32, n_probes [B] int32, total_tokens [B] int64, final_ids [B] int32,
#        order [n_branches] int64, delta, valid [A] bool, literals [K] int64, confidence [B, I + 1] float64)
#        — one question's rows of the store tables, the seed's order, which answer ids are real answers, the
#        program's string literals' ids and the `confidence` signal (an unread [1, 1] stand-in for a
#        program that does not read it)

@njit(cache=True, _nrt=False)
def start_episode(ACC):
    ACC[:] = 0
    ACC[MAJORITY] = -1


@njit(cache=True, _nrt=False)
def end_episode(BR, COMP, ACC, VOTE):
    """Clear the completed-vote counts this episode touched (the next episode starts from zero)."""
    for k in range(ACC[N_COMPLETED]):
        VOTE[0, BR[LAST, COMP[k]] + 1] = 0


@njit(cache=True, _nrt=False)
def _complete(BR, COMP, ACC, VOTE, slot):
    """A branch finished: append it to `completed` and update that set's vote statistics.

    The majority is the most frequent answer, ties going to the answer whose first
    occurrence in `completed` is earliest (ops.majority); top2 is the second-largest count.
    """
    BR[STATUS, slot] = FINISHED
    ACC[N_ACTIVE] -= 1
    pos = ACC[N_COMPLETED]
    COMP[pos] = slot
    ACC[N_COMPLETED] = pos + 1
    a = BR[LAST, slot]
    c = VOTE[0, a + 1] + 1
    VOTE[0, a + 1] = c
    if c == 1:
        VOTE[1, a + 1] = pos
    maj, top1 = ACC[MAJORITY], ACC[TOP1]
    if a == maj:
        ACC[TOP1] = c
    elif c > top1:
        ACC[TOP2] = top1
        ACC[TOP1] = c
        ACC[MAJORITY] = a
    elif c == top1:
        ACC[TOP2] = c
        if VOTE[1, a + 1] < VOTE[1, maj + 1]:
            ACC[MAJORITY] = a
    elif c > ACC[TOP2]:
        ACC[TOP2] = c


@njit(cache=True, _nrt=False)
def _reveal(env, BR, COMP, ACC, VOTE, slot, steps):
    """Reveal up to ``steps`` intervals of an opened branch; returns their cost (semantics.md §3)."""
    probe_ids, n_probes, total_tokens, final_ids, delta = env[0], env[1], env[2], env[3], env[5]
    b = BR[SOURCE, slot]
    p = n_probes[b]
    t0 = BR[REVEALED, slot]
    t1 = reveal_reach(t0, steps, p)
    cost = probe_tokens(t0, t1, p, delta)
    done = finishes(t0, t1, p)
    if done:  # the branch's length is read only when it finishes: one memory access fewer per reveal
        cost += rest_tokens(total_tokens[b], p, delta)
    BR[REVEALED, slot] = t1
    BR[DEPTH, slot] += t1 - t0
    BR[TOKENS, slot] += cost
    ACC[TOTAL] += cost
    if done:
        BR[LAST, slot] = final_ids[b]
        _complete(BR, COMP, ACC, VOTE, slot)
    elif t1 > t0 and t1 <= p:
        BR[LAST, slot] = probe_ids[b, t1 - 1]
    return cost


@njit(cache=True, _nrt=False)
def take(env, BR, COMP, ACC, VOTE, whole):
    """open (``whole`` False) or read one new branch; returns its slot, or -1 when none is left."""
    order = env[4]
    if ACC[CURSOR] >= order.shape[0]:
        return -1
    slot = ACC[OPENED]
    b = order[ACC[CURSOR]]
    ACC[CURSOR] += 1
    ACC[OPENED] += 1
    ACC[N_ACTIVE] += 1
    BR[SOURCE, slot] = b
    BR[STATUS, slot] = ACTIVE
    BR[DEPTH, slot] = 0
    BR[TOKENS, slot] = 0
    BR[REVEALED, slot] = 0
    if whole:
        n_probes, total_tokens, final_ids = env[1], env[2], env[3]
        cost = whole_cost(total_tokens[b])
        BR[REVEALED, slot] = n_probes[b] + 1
        BR[DEPTH, slot] = 1
        BR[LAST, slot] = final_ids[b]
        BR[TOKENS, slot] = cost
        ACC[TOTAL] += cost
        _complete(BR, COMP, ACC, VOTE, slot)
    else:
        _reveal(env, BR, COMP, ACC, VOTE, slot, 1)
    return slot


@njit(cache=True, _nrt=False)
def advance(env, BR, COMP, ACC, VOTE, slot, steps):
    """Advance an active branch by ``steps`` intervals (it stops at its end); returns the cost."""
    return _reveal(env, BR, COMP, ACC, VOTE, slot, steps)


@njit(cache=True, _nrt=False)
def end_round(ACC, moved, longest):
    """A round that moved any branch costs its longest single-branch generation in sequential tokens."""
    if moved > 0:
        ACC[SEQUENTIAL] += longest
        ACC[ROUNDS] += 1


@njit(cache=True, _nrt=False)
def prune(BR, ACC, members, n):
    for j in range(n):
        s = members[j]
        if BR[STATUS, s] == ACTIVE:
            BR[STATUS, s] = PRUNED
            ACC[N_ACTIVE] -= 1
            ACC[N_PRUNED] += 1


@njit(cache=True, _nrt=False)
def accept(BR, COMP, ACC, VOTE, members, n):
    """`accept`: active members finish with their current `last`, joining `completed` in set order."""
    for j in range(n):
        s = members[j]
        if BR[STATUS, s] == ACTIVE:
            _complete(BR, COMP, ACC, VOTE, s)


@njit(cache=True, _nrt=False)
def last_conf(env, BR, slot):
    """`last_conf`: the confidence of the branch's last reveal, from the table of the `confidence` signal
    (env[8], [B, I + 1]: reveal t's at index t - 1)."""
    t = BR[REVEALED, slot]
    return env[8][BR[SOURCE, slot], t - 1] if t > 0 else math.nan


@njit(cache=True, _nrt=False)
def valid(env, a):
    """`valid`: a real answer id of this question (not none, not a non-answer of the store)."""
    table = env[6]
    return a >= 0 and a < table.shape[0] and table[a]


# ---- the driver shared by every kernel ----------------------------------------
# A kernel's `run` allocates its scratch and calls ``drive`` with its `episode`. The driver is compiled
# once per set of argument types (and cached on disk) with `episode` as a first-class function: its
# machine code is called through a pointer, so a new program costs numba one function, not two.

def _drive(episode, scratch, probe_ids, n_probes, total_tokens, final_ids, delta, n_branches, perms, perm_of,
           valid, literals, confidence, out, first, stop):
    BR, BI, BF, COMP, ACC, VOTE, WB, WM, SB, XI, XF, IOTA, CNT, ANS, KI, KF, BETA = scratch
    Q = n_branches.shape[0]
    for e in range(first, stop):
        s, q = e // Q, e % Q
        env = (probe_ids[q], n_probes[q], total_tokens[q], final_ids[q],
               perms[perm_of[q], s, :n_branches[q]], delta[q], valid[q], literals[q], confidence[q])
        start_episode(ACC)
        answer, line = episode(env, BR, BI, BF, COMP, ACC, VOTE, WB, WM, SB, XI, XF, IOTA, CNT, ANS, KI, KF,
                               BETA)
        end_episode(BR, COMP, ACC, VOTE)
        out[0, e] = answer
        out[1, e] = ACC[TOTAL]
        out[2, e] = ACC[SEQUENTIAL]
        out[3, e] = ACC[ROUNDS]
        out[4, e] = ACC[OPENED]
        out[5, e] = ACC[N_PRUNED]
        out[6, e] = line


_drivers: dict = {}


def drive(episode, scratch, probe_ids, n_probes, total_tokens, final_ids, delta, n_branches, perms, perm_of,
          valid, literals, confidence, out, first, stop):
    """Run episodes ``first..stop-1`` of ``episode`` (a kernel's jitted function) without holding the GIL."""
    tables = (probe_ids, n_probes, total_tokens, final_ids, delta, n_branches, perms, perm_of, valid, literals,
              confidence, out)
    kinds = tuple(numba.typeof(a) for a in scratch + tables)
    hit = _drivers.get(kinds)
    if hit is None:
        # one question's rows, as the driver slices them (numba types a view as it types the slicing)
        env = types.Tuple((numba.typeof(probe_ids[0]), numba.typeof(n_probes[0]), numba.typeof(total_tokens[0]),
                           numba.typeof(final_ids[0]), numba.typeof(perms[0, 0, :0]), numba.typeof(delta[0]),
                           numba.typeof(valid[0]), numba.typeof(literals[0]), numba.typeof(confidence[0])))
        episode_sig = types.UniTuple(types.int64, 2)(env, *kinds[:len(scratch)])
        driver_sig = types.none(types.FunctionType(episode_sig), types.Tuple(kinds[:len(scratch)]),
                                *kinds[len(scratch):], types.int64, types.int64)
        hit = _drivers[kinds] = (episode_sig, njit(driver_sig, cache=True, nogil=True)(_drive))
    episode_sig, driver = hit
    episode.compile(episode_sig)  # loads numba's cached machine code when there is some
    driver(episode, scratch, *tables, first, stop)


# ---- built-in branch sets: fill ``out`` with slots, return how many -------

@njit(cache=True, _nrt=False)
def set_live(BR, ACC, out):
    n = 0
    for s in range(ACC[OPENED]):
        if BR[STATUS, s] != PRUNED:
            out[n] = s
            n += 1
    return n


@njit(cache=True, _nrt=False)
def set_active(BR, ACC, out):
    n = 0
    for s in range(ACC[OPENED]):
        if BR[STATUS, s] == ACTIVE:
            out[n] = s
            n += 1
    return n


@njit(cache=True, _nrt=False)
def _ahead(a, b, descending):
    """Must key ``b`` go strictly before key ``a``? (Equal keys never move: the sort is stable.)

    NaN sorts after every number, before them with ``descending`` (ops.sort_key).
    """
    if descending:
        return b > a or (b != b and a == a)
    return b < a or (a != a and b == b)


@njit(cache=True, _nrt=False)
def sort_members(members, n, keys, descending, out, spare, spare_keys):
    """Stable sort of ``members[:n]`` by ``keys[:n]`` into ``out``; equal keys keep set order either way.

    ``keys`` is reordered alongside; ``spare`` and ``spare_keys`` are scratch of
    the same sizes. Insertion sort on runs of 16 (fast on the nearly sorted
    orders rounds produce), then merges; nothing is allocated.
    """
    for j in range(n):
        out[j] = members[j]
    run = 16
    for lo in range(0, n, run):
        hi = min(lo + run, n)
        for i in range(lo + 1, hi):
            m, k = out[i], keys[i]
            j = i - 1
            while j >= lo and _ahead(keys[j], k, descending):
                out[j + 1] = out[j]
                keys[j + 1] = keys[j]
                j -= 1
            out[j + 1] = m
            keys[j + 1] = k
    src, src_k, dst, dst_k = out, keys, spare, spare_keys
    in_spare = False
    width = run
    while width < n:
        for lo in range(0, n, 2 * width):
            mid, hi = min(lo + width, n), min(lo + 2 * width, n)
            i, j = lo, mid
            for t in range(lo, hi):
                if j < hi and (i >= mid or _ahead(src_k[i], src_k[j], descending)):
                    dst[t], dst_k[t] = src[j], src_k[j]
                    j += 1
                else:
                    dst[t], dst_k[t] = src[i], src_k[i]
                    i += 1
        src, src_k, dst, dst_k = dst, dst_k, src, src_k
        in_spare = not in_spare
        width *= 2
    if in_spare:
        for j in range(n):
            out[j] = src[j]
    return n


# ---- votes -------------------------------------------------------------------

@njit(cache=True, _nrt=False)
def votes(members, n, last, counts, answers):
    """(majority, top1, top2) of the members' answers; ties go to the answer first in set order.

    ``counts`` is a zeroed scratch array indexed by answer id + 1 and is left zeroed;
    ``answers`` is scratch for the members' answers in set order.
    """
    for j in range(n):
        a = last[members[j]]
        answers[j] = a
        counts[a + 1] += 1
    return _rank(answers, n, counts)


@njit(cache=True, _nrt=False)
def votes_of_status(BR, ACC, counts, which, answers):
    """votes() of `branches` (which 0), `active` (1) or `live` (2), read straight off the slots.

    One pass gathers the members' answers (in opening order) into ``answers`` and counts
    them; the ranking pass then reads that short contiguous list.
    """
    k = 0
    for s in range(ACC[OPENED]):
        st = BR[STATUS, s]
        if which == 0 or (st == ACTIVE if which == 1 else st != PRUNED):
            a = BR[LAST, s]
            answers[k] = a
            counts[a + 1] += 1
            k += 1
    return _rank(answers, k, counts)


@njit(cache=True, _nrt=False)
def _rank(answers, n, counts):
    """(majority, top1, top2) from per-answer counts; ``answers[:n]`` in set order. Clears the counts."""
    best, top1, top2 = -1, 0, 0
    for j in range(n):
        a = answers[j]
        c = counts[a + 1]
        if c > 0:  # the answer's first occurrence: rank its count once, then clear it
            if c > top1:
                best, top2, top1 = a, top1, c
            elif c > top2:
                top2 = c
            counts[a + 1] = 0
    return best, top1, top2


@njit(cache=True, _nrt=False)
def votes_for(members, n, last, answer):
    c = 0
    for j in range(n):
        if last[members[j]] == answer:
            c += 1
    return c


def _py_beta(top1, top2):
    return ops.beta_confidence(int(top1), int(top2))


@njit(cache=True, _nrt=False)
def beta_confidence(top1, top2, table):
    """ops.beta_confidence, exact: from Python the first time a pair of counts appears, then from ``table``."""
    if top1 <= 0:
        return 0.0
    if top2 < 0:
        top2 = 0
    if top1 < table.shape[0] and top2 < table.shape[1]:
        v = table[top1, top2]
        if v == v:  # not NaN: filled in before
            return v
    return _beta_from_python(top1, top2, table)


@njit(cache=True)
def _beta_from_python(top1, top2, table):
    # kept out of beta_confidence: a function with an objmode block is costly to call even when it skips it
    with objmode(out="float64"):
        out = _py_beta(top1, top2)
    if top1 < table.shape[0] and top2 < table.shape[1]:
        table[top1, top2] = out
    return out


# ---- arithmetic with the language's meaning (ops.py) --------------------------

@njit(cache=True, _nrt=False)
def div(a, b):
    if b == 0:
        return 0.0
    return a / b


@njit(cache=True, _nrt=False)
def floordiv_int(a, b):
    if b == 0:
        return 0
    if b == -1:  # INT_MIN // -1 wraps instead of trapping
        return -a
    return a // b


@njit(cache=True, _nrt=False)
def mod_int(a, b):
    if b == 0 or b == -1:
        return 0
    return a % b


@njit(cache=True, _nrt=False)
def floordiv_float(a, b):
    if b == 0:
        return 0.0
    return float(a) // float(b)


@njit(cache=True, _nrt=False)
def mod_float(a, b):
    if b == 0:
        return 0.0
    return float(a) % float(b)


@njit(cache=True, _nrt=False)
def to_int(x):
    """ops.to_int: non-finite -> 0, otherwise clamped into int64."""
    if not math.isfinite(x):
        return 0
    if x > INT_EDGE:
        x = INT_EDGE
    elif x < -INT_EDGE:
        x = -INT_EDGE
    return int(x)


@njit(cache=True, _nrt=False)
def round_int(x):
    """round(x) of a float: half to even (np.rint), as an int."""
    return to_int(np.rint(x))


def _py_round(x, d):
    return ops.round_(float(x), int(d))


@njit(cache=True, _nrt=False)
def round_digits(x, d):
    """round(x, d) needs Python's correctly rounded decimal rounding: ask Python."""
    if not math.isfinite(x):
        return x
    return _round_from_python(x, d)


@njit(cache=True)
def _round_from_python(x, d):
    with objmode(out="float64"):
        out = _py_round(x, d)
    return out


@njit(cache=True, _nrt=False)
def floor(x):
    # np.floor keeps a float (numba's math.floor returns an int64, which would overflow before the clamp)
    return to_int(np.floor(x)) if math.isfinite(x) else 0


@njit(cache=True, _nrt=False)
def ceil(x):
    return to_int(np.ceil(x)) if math.isfinite(x) else 0


# int arithmetic wraps around (ops.wrap). numba emits signed int64 `+ - *` as operations that may not
# overflow, so LLVM may fold `x * x < 0` to false; the same operations on uint64 wrap by definition and
# give the same bits, so ints go through them.

@njit(cache=True, _nrt=False)
def add_int(a, b):
    return np.int64(np.uint64(a) + np.uint64(b))


@njit(cache=True, _nrt=False)
def sub_int(a, b):
    return np.int64(np.uint64(a) - np.uint64(b))


@njit(cache=True, _nrt=False)
def mul_int(a, b):
    return np.int64(np.uint64(a) * np.uint64(b))


@njit(cache=True, _nrt=False)
def neg_int(a):
    return np.int64(np.uint64(0) - np.uint64(a))


def _plus(a, b):
    return a + b


@overload(_plus, jit_options={"cache": True})
def _plus_typed(a, b):
    """``a + b`` that wraps for ints (see add_int) and is plain for floats."""
    if isinstance(a, types.Integer) and isinstance(b, types.Integer):
        return lambda a, b: np.int64(np.uint64(a) + np.uint64(b))
    return lambda a, b: a + b


@njit(cache=True, _nrt=False)
def cmp_int_float(i, f):
    """The sign of ``i - f`` for an int and a float, exact as Python compares them (NaN: unordered).

    Rounding the int is monotone, so the float comparison is right unless it finds
    the two equal; then ``f`` is a whole number (or 2**63, above every int).
    """
    if f != f:
        return math.nan
    x = float(i)
    if x != f:
        return -1.0 if x < f else 1.0
    if f >= TWO_63:
        return -1.0
    k = int(f)
    return -1.0 if i < k else (1.0 if i > k else 0.0)


@njit(cache=True, _nrt=False)
def min2(a, b):
    """Python's min(a, b): the first argument unless the second is smaller."""
    return b if b < a else a


@njit(cache=True, _nrt=False)
def max2(a, b):
    return b if b > a else a


# ---- windows: WB[w] is a ring buffer, WM[w] = (start, size, capacity, whole, others) ----------
# ``whole`` is the exact sum of the small whole values held and ``others`` how many held values are not
# small whole numbers (ops.WHOLE_MAX): while there are none, that sum is the oldest-first float sum
# exactly, so ``mean`` is O(1), as in the interpreter's and the batched engine's windows.

WHOLE_MAX = ops.WHOLE_MAX


@njit(cache=True, _nrt=False)
def open_window(WM, w, cap):
    """An empty window of capacity ``cap`` in row ``w``."""
    WM[w, 0] = 0
    WM[w, 1] = 0
    WM[w, 2] = cap
    WM[w, 3] = 0
    WM[w, 4] = 0


@njit(cache=True, _nrt=False)
def _count(WM, w, value, sign):
    if value == np.floor(value) and abs(value) <= WHOLE_MAX:  # ops.small_whole (NaN and inf are not)
        WM[w, 3] += sign * np.int64(value)
    else:
        WM[w, 4] += sign


@njit(cache=True, _nrt=False)
def push(WB, WM, w, value):
    start, size, cap = WM[w, 0], WM[w, 1], WM[w, 2]
    if size < cap:
        WB[w, (start + size) % cap] = value
        WM[w, 1] = size + 1
    else:
        _count(WM, w, WB[w, start], -1)  # the oldest drops out
        WB[w, start] = value
        WM[w, 0] = (start + 1) % cap
    _count(WM, w, value, 1)


@njit(cache=True, _nrt=False)
def window_size(WM, w):
    return WM[w, 1]


@njit(cache=True, _nrt=False)
def window_oldest(WB, WM, w):
    return WB[w, WM[w, 0]] if WM[w, 1] > 0 else 0.0


@njit(cache=True, _nrt=False)
def window_newest(WB, WM, w):
    size = WM[w, 1]
    return WB[w, (WM[w, 0] + size - 1) % WM[w, 2]] if size > 0 else 0.0


@njit(cache=True, _nrt=False)
def window_mean(WB, WM, w):
    start, size, cap = WM[w, 0], WM[w, 1], WM[w, 2]
    if size == 0:
        return 0.0
    if WM[w, 4] == 0:
        return float(WM[w, 3]) / size
    total = 0.0
    for k in range(size):  # oldest first, one addition at a time, as the interpreter sums
        total += WB[w, (start + k) % cap]
    return total / size


# ---- set algebra: ``mark`` is a zeroed scratch row indexed by slot, left zeroed ----------

@njit(cache=True, _nrt=False)
def take_last(members, n, k, out):
    """The last ``k`` of ``members[:n]`` into ``out``, in set order; returns how many."""
    start = n - min(n, max(0, k))
    for j in range(start, n):
        out[j - start] = members[j]
    return n - start


@njit(cache=True, _nrt=False)
def union(a, na, b, nb, out, mark):
    """``a``'s members in order, then ``b``'s not in ``a`` in ``b``'s order."""
    for j in range(na):
        out[j] = a[j]
        mark[a[j]] = 1
    n = na
    for j in range(nb):
        if mark[b[j]] == 0:
            out[n] = b[j]
            mark[b[j]] = 1
            n += 1
    for j in range(n):
        mark[out[j]] = 0
    return n


@njit(cache=True, _nrt=False)
def select_in(a, na, b, nb, keep, out, mark):
    """``a``'s members (in order) that are in ``b`` (``keep``) or not in it (not ``keep``)."""
    for j in range(nb):
        mark[b[j]] = 1
    n = 0
    for j in range(na):
        if (mark[a[j]] == 1) == keep:
            out[n] = a[j]
            n += 1
    for j in range(nb):
        mark[b[j]] = 0
    return n


# ---- aggregates over a set: ``values[:n]`` holds each member's value, in set order ---------

@njit(cache=True, _nrt=False)
def distinct(members, n, last, counts):
    """How many different answers ``members[:n]`` hold; ``counts`` is zeroed scratch, left zeroed."""
    d = 0
    for j in range(n):
        a = last[members[j]]
        if counts[a + 1] == 0:
            counts[a + 1] = 1
            d += 1
    for j in range(n):
        counts[last[members[j]] + 1] = 0
    return d


@njit(cache=True, _nrt=False)
def sum_of(values, n):
    total = values.dtype.type(0)  # an int row adds (and wraps) as int64, a float row as float64, in order
    for j in range(n):
        total = _plus(total, values[j])
    return total


@njit(cache=True, _nrt=False)
def mean_of(values, n):
    if n == 0:
        return 0.0
    return float(sum_of(values, n)) / n


@njit(cache=True, _nrt=False)
def min_of(values, n):
    if n == 0:
        return 0
    best = values[0]
    for j in range(1, n):
        best = min2(best, values[j])
    return best


@njit(cache=True, _nrt=False)
def max_of(values, n):
    if n == 0:
        return 0
    best = values[0]
    for j in range(1, n):
        best = max2(best, values[j])
    return best


@njit(cache=True, _nrt=False)
def _weight(w):
    w = float(w)
    return w if 0.0 < w < np.inf else 0.0


@njit(cache=True, _nrt=False)
def weighted(members, last, weights, n, counts):
    """ops.weighted: each answer's weights added in set order, answers ranked by first occurrence.

    ``counts`` (zeroed, left zeroed) marks where each answer first occurs; nothing is allocated.
    """
    for j in range(n):
        a = last[members[j]]
        if counts[a + 1] == 0:
            counts[a + 1] = j + 1
    best, best_w = -1, 0.0
    for j in range(n):
        a = last[members[j]]
        if counts[a + 1] != j + 1:
            continue  # not the answer's first occurrence
        total = 0.0
        for i in range(j, n):
            if last[members[i]] == a:
                total += _weight(weights[i])
        if total > best_w:
            best, best_w = a, total
    for j in range(n):
        counts[last[members[j]] + 1] = 0
    return best


# ---- per-branch answer histories: BI[first, slot] counts the reveals, BI[first + 1 + i, slot] is a
# ring of the last K answers (the oldest at (reveals - held) % K) ---------------------------------

@njit(cache=True, _nrt=False)
def history_record(BI, first, k, slot, answer):
    BI[first + 1 + BI[first, slot] % k, slot] = answer
    BI[first, slot] += 1


@njit(cache=True, _nrt=False)
def history_size(BI, first, k, slot):
    return min(BI[first, slot], k)


@njit(cache=True, _nrt=False)
def _held(BI, first, k, slot, i):
    """The i-th oldest answer held."""
    seen = BI[first, slot]
    return BI[first + 1 + (seen - min(seen, k) + i) % k, slot]


@njit(cache=True, _nrt=False)
def history_majority(BI, first, k, slot, counts):
    """Most common answer held, ties to the oldest; ``counts`` is zeroed scratch, left zeroed."""
    n = history_size(BI, first, k, slot)
    for i in range(n):
        counts[_held(BI, first, k, slot, i) + 1] += 1
    best, top = -1, 0
    for i in range(n):
        a = _held(BI, first, k, slot, i)
        if counts[a + 1] > top:
            best, top = a, counts[a + 1]
    for i in range(n):
        counts[_held(BI, first, k, slot, i) + 1] = 0
    return best


@njit(cache=True, _nrt=False)
def history_votes(BI, first, k, slot, answer):
    c = 0
    for i in range(history_size(BI, first, k, slot)):
        if _held(BI, first, k, slot, i) == answer:
            c += 1
    return c


@njit(cache=True, _nrt=False)
def history_unanimous(BI, first, k, slot):
    n = history_size(BI, first, k, slot)
    if n == 0:
        return False
    a = _held(BI, first, k, slot, 0)
    for i in range(1, n):
        if _held(BI, first, k, slot, i) != a:
            return False
    return True
