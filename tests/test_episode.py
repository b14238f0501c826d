"""The replay environment seen one episode at a time: shuffle order, shared cursor and the cost of each
reveal (semantics.md §2-3), and the reveal rule it shares with the native runtime."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ttsc.compiler import native_rt
from ttsc.runtime import reveal
from ttsc.runtime.env import EpisodeView, Reveal
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.store import Branch, Question, Store
from ttsc.runtime.tables import shuffled_order

DELTA = 100
# total 250 < Δ·3: the finishing reveal costs max(0, 250 - 300) = 0.
SHORT = Branch(("a", "b", "c"), 250, "c")
# total 730 > Δ·2: the finishing reveal costs 730 - 200 = 530.
LONG = Branch(("x", "y"), 730, "y")
EMPTY = Branch((), 42, "z")  # no probes: opening it reveals everything
TINY = Question("q", "c", DELTA, (SHORT, LONG, EMPTY))


def episode(question: Question, seed: int) -> EpisodeView:
    return EpisodeView(ReplayEnvironment(Store("s", "", (question,)), [seed]), 0)


def seed_for(question: Question, order: tuple[int, ...]) -> int:
    """A seed that hands out the branches in ``order``."""
    for seed in range(1000):
        if shuffled_order(len(question.branches), seed) == order:
            return seed
    raise AssertionError(f"no seed below 1000 gives order {order}")


def episode_in_order(question: Question, order: tuple[int, ...]) -> EpisodeView:
    return episode(question, seed_for(question, order))


def one(reveals: list[Reveal]) -> Reveal:
    assert len(reveals) == 1
    return reveals[0]


def test_order_is_random_shuffle_of_the_branch_list() -> None:
    for seed in [0, 1, 99, np.int64(7)]:
        branches = list(TINY.branches)
        random.Random(int(seed)).shuffle(branches)
        env = ReplayEnvironment(Store("s", "", (TINY,)), [seed])
        handed = env.take(np.array([0]), np.array([3]), True)
        assert [env.answer_text(np.zeros(3, dtype=np.int64), handed.answer)] == [[b.final_answer for b in branches]]
        assert handed.cost.tolist() == [b.total_tokens for b in branches]


def test_open_advance_costs() -> None:
    ep = episode_in_order(TINY, (0, 1, 2))
    assert ep.take(2, False) == [Reveal(0, "a", DELTA, False), Reveal(1, "x", DELTA, False)]
    assert one(ep.advance([0], [1])) == Reveal(0, "b", DELTA, False)
    assert one(ep.advance([0], [1])) == Reveal(0, "c", DELTA, False)
    assert one(ep.advance([0], [1])) == Reveal(0, "c", 0, True)  # 250 - 3Δ < 0
    assert one(ep.advance([1], [1])) == Reveal(1, "y", DELTA, False)
    assert one(ep.advance([1], [1])) == Reveal(1, "y", 530, True)  # 730 - 2Δ
    assert one(ep.take(1, False)) == Reveal(2, "z", 42, True)  # no probes: whole branch


def test_several_steps_and_branches_in_one_call() -> None:
    ep = episode_in_order(TINY, (0, 1, 2))
    ep.take(2, False)
    # Several intervals at once cost what they would one by one; the walk stops at the branch's end.
    assert ep.advance([1, 0], [5, 2]) == [Reveal(1, "y", DELTA + 530, True, 2), Reveal(0, "c", 2 * DELTA, False, 2)]
    assert ep.advance([0, 1], [1, 1]) == [Reveal(0, "c", 0, True, 1), Reveal(1, "y", 0, True, 0)]
    # Fully advanced, a branch costs max(total, Δ·k).
    assert 3 * DELTA + 0 == max(250, 3 * DELTA) and DELTA + DELTA + 530 == max(730, 2 * DELTA)


def test_advancing_a_finished_branch_is_free() -> None:
    ep = episode_in_order(TINY, (2, 0, 1))
    assert one(ep.take(1, False)) == Reveal(0, "z", 42, True)
    assert one(ep.advance([0], [1])) == Reveal(0, "z", 0, True, 0)
    assert one(ep.take(1, True)) == Reveal(1, "c", 250, True)
    assert one(ep.advance([1], [3])) == Reveal(1, "c", 0, True, 0)


def test_read_whole_shares_the_cursor_with_open() -> None:
    ep = episode_in_order(TINY, (1, 0, 2))
    assert one(ep.take(1, True)) == Reveal(0, "y", 730, True)
    assert one(ep.take(1, False)) == Reveal(1, "a", DELTA, False)
    assert one(ep.take(5, True)) == Reveal(2, "z", 42, True)
    assert ep.opened == 3
    assert ep.take(1, False) == [] and ep.take(1, True) == []


def test_unknown_slot() -> None:
    ep = episode(TINY, 0)
    ep.take(1, False)
    for slot in (-1, 1):
        with pytest.raises(IndexError):
            ep.advance([slot], [1])


def test_same_permutation_for_every_question_with_that_many_branches() -> None:
    other = Question("q2", "1", 7, tuple(Branch(("1",), 10, str(i)) for i in range(3)))
    env = ReplayEnvironment(Store("s", "", (TINY, other)), [5])
    env.take(np.array([0, 1]), np.array([0, 0]), False)
    assert env.order[0].tolist() == env.order[1].tolist() == list(shuffled_order(3, 5))


def test_grading_is_the_environments() -> None:
    ep = episode_in_order(TINY, (0, 1, 2))
    ep.take(3, True)
    assert ep.correct("c") and not ep.correct("y") and not ep.correct(None)


@settings(deadline=None)  # the first call compiles
@given(st.integers(0, 6), st.integers(-2, 8), st.integers(0, 5), st.integers(0, 900), st.integers(1, 300))
def test_native_compiles_the_same_reveal_rule(t0: int, steps: int, p: int, total: int, delta: int) -> None:
    """One source, two forms: numpy arrays here, numba scalars in native kernels."""
    t0 = min(t0, p + 1)
    t1 = reveal.reach(t0, steps, p)
    assert native_rt.reveal_reach(t0, steps, p) == t1 == reveal.reach(np.array([t0]), steps, p)[0]
    native = native_rt.probe_tokens(t0, t1, p, delta)  # composed as native_rt._reveal does
    if native_rt.finishes(t0, t1, p):
        native += native_rt.rest_tokens(total, p, delta)
    assert native == reveal.cost(t0, t1, p, total, delta)
    assert reveal.cost(np.array([t0]), np.array([t1]), p, np.array([total]), delta)[0] == \
        reveal.cost(t0, t1, p, total, delta)


branch_lists = st.lists(
    st.builds(Branch, st.lists(st.sampled_from("abc"), max_size=4).map(tuple), st.integers(0, 900), st.sampled_from("abc")),
    min_size=1, max_size=6,
)


@given(branch_lists, st.integers(0, 2**32), st.lists(st.integers(0, 7), max_size=40))
def test_every_branch_costs_its_full_length_once(bs: list[Branch], seed: int, ops: list[int]) -> None:
    """Whatever the interleaving, a branch taken to its end costs max(total, Δ·k) if opened, total if read whole."""
    ep = episode(Question("q", "a", DELTA, tuple(bs)), seed)
    order = shuffled_order(len(bs), seed)
    spent: list[int] = []  # per slot, summed from the reveals
    read_whole: list[bool] = []
    finished: list[bool] = []
    for op in ops:
        if op == 1:
            rs = ep.take(1, True)
        elif op == 0 or not spent:
            rs = ep.take(1, False)
        else:
            rs = ep.advance([op % len(spent)], [1])
        for r in rs:
            if r.slot == len(spent):
                spent.append(0)
                finished.append(False)
                read_whole.append(op == 1)
            spent[r.slot] += r.tokens
            finished[r.slot] = r.finished
    for h in range(len(spent)):
        while not finished[h]:
            r = one(ep.advance([h], [1]))
            spent[h] += r.tokens
            finished[h] = r.finished
        assert one(ep.advance([h], [1])).tokens == 0
        b = bs[order[h]]  # slots follow the shuffled order
        full = b.total_tokens if read_whole[h] or not b.probes else max(b.total_tokens, DELTA * len(b.probes))
        assert spent[h] == full
