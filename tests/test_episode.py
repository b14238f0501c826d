"""The scalar replay episode: shuffle order, shared cursor and the cost of each reveal (semantics.md §2-3)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ttsc.runtime.episode import Reveal, ReplayEpisode, shuffled_order
from ttsc.runtime.store import Branch, Question

DELTA = 100
# total 250 < Δ·3: the finishing reveal costs max(0, 250 - 300) = 0.
SHORT = Branch(("a", "b", "c"), 250, "c")
# total 730 > Δ·2: the finishing reveal costs 730 - 200 = 530.
LONG = Branch(("x", "y"), 730, "y")
EMPTY = Branch((), 42, "z")  # no probes: opening it reveals everything
TINY = Question("q", "c", DELTA, (SHORT, LONG, EMPTY))


def episode_in_order(question: Question, order: tuple[int, ...]) -> ReplayEpisode:
    """An episode whose seed hands out the branches in ``order``."""
    for seed in range(1000):
        if shuffled_order(len(question.branches), seed) == order:
            return ReplayEpisode(question, seed)
    raise AssertionError(f"no seed below 1000 gives order {order}")


def test_order_is_random_shuffle_of_the_branch_list() -> None:
    for seed in [0, 1, 99, np.int64(7)]:
        branches = list(TINY.branches)
        random.Random(int(seed)).shuffle(branches)
        ep = ReplayEpisode(TINY, seed)
        assert [TINY.branches[i] for i in ep.order] == branches


def test_open_advance_costs() -> None:
    ep = episode_in_order(TINY, (0, 1, 2))
    assert ep.open() == Reveal(0, "a", DELTA, False)
    assert ep.open() == Reveal(1, "x", DELTA, False)
    assert ep.advance(0) == Reveal(0, "b", DELTA, False)
    assert ep.advance(0) == Reveal(0, "c", DELTA, False)
    assert ep.revealed(0) == 3 and not ep.finished(0)
    assert ep.advance(0) == Reveal(0, "c", 0, True)  # 250 - 3Δ < 0
    assert ep.advance(1) == Reveal(1, "y", DELTA, False)
    assert ep.advance(1) == Reveal(1, "y", 530, True)  # 730 - 2Δ
    assert ep.open() == Reveal(2, "z", 42, True)  # no probes: whole branch
    assert ep.tokens == 3 * DELTA + 0 + 2 * DELTA + 530 + 42
    # Fully advanced, a branch costs max(total, Δ·k).
    assert ep.tokens == max(250, 3 * DELTA) + max(730, 2 * DELTA) + 42


def test_advancing_a_finished_branch_is_free() -> None:
    ep = episode_in_order(TINY, (2, 0, 1))
    assert ep.open() == Reveal(0, "z", 42, True)
    assert ep.advance(0) is None
    assert ep.read_full() == Reveal(1, "c", 250, True)
    assert ep.advance(1) is None
    assert ep.tokens == 42 + 250 and ep.finished(0) and ep.finished(1)


def test_read_full_shares_the_cursor_with_open() -> None:
    ep = episode_in_order(TINY, (1, 0, 2))
    assert ep.read_full() == Reveal(0, "y", 730, True)
    assert ep.open() == Reveal(1, "a", DELTA, False)
    assert ep.remaining == 1
    assert ep.read_full() == Reveal(2, "z", 42, True)
    assert ep.remaining == 0 and ep.opened == 3
    spent = ep.tokens
    assert ep.open() is None and ep.read_full() is None
    assert ep.tokens == spent == 730 + DELTA + 42


def test_unknown_handle() -> None:
    ep = ReplayEpisode(TINY, 0)
    ep.open()
    for handle in (-1, 1):
        with pytest.raises(IndexError):
            ep.advance(handle)


def test_same_permutation_for_every_question_with_that_many_branches() -> None:
    other = Question("q2", "1", 7, tuple(Branch(("1",), 10, str(i)) for i in range(3)))
    assert ReplayEpisode(TINY, 5).order == ReplayEpisode(other, 5).order == shuffled_order(3, 5)



branch_lists = st.lists(
    st.builds(Branch, st.lists(st.sampled_from("abc"), max_size=4).map(tuple), st.integers(0, 900), st.sampled_from("abc")),
    min_size=1, max_size=6,
)


@given(branch_lists, st.integers(0, 2**32), st.lists(st.integers(0, 7), max_size=40))
def test_every_branch_costs_its_full_length_once(bs: list[Branch], seed: int, ops: list[int]) -> None:
    """Whatever the interleaving, a branch taken to its end costs max(total, Δ·k) if opened, total if read whole."""
    ep = ReplayEpisode(Question("q", "a", DELTA, tuple(bs)), seed)
    spent: list[int] = []  # per handle, summed from the reveals
    read_whole: list[bool] = []
    for op in ops:
        if op == 1:
            r = ep.read_full()
        elif op == 0 or not spent:
            r = ep.open()
        else:
            r = ep.advance(op % len(spent))
        if r is None:
            continue
        if r.handle == len(spent):
            spent.append(0)
            read_whole.append(op == 1)
        spent[r.handle] += r.tokens
    for h in range(len(spent)):
        while (r := ep.advance(h)) is not None:
            spent[h] += r.tokens
        b = bs[ep.order[h]]  # handles follow the shuffled order
        full = b.total_tokens if read_whole[h] or not b.probes else max(b.total_tokens, DELTA * len(b.probes))
        assert spent[h] == full and ep.finished(h)
    assert ep.tokens == sum(spent)
