"""One replay episode: a question under a seed, with the three primitive operations.

This is the scalar specification of semantics.md §2-3 (../shared/docs) that faster
engines are checked against, so it favours being obviously right.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass
from functools import lru_cache

from ttsc.runtime.store import Answer, Branch, Question


@lru_cache(maxsize=4096)
def shuffled_order(n_branches: int, seed: int) -> tuple[int, ...]:
    """Branch indices in the order seed ``seed`` hands them out (semantics.md §2).

    ``shuffle``'s draws depend only on the length, so shuffling indices gives the
    same permutation as shuffling the branch list itself.
    """
    order = list(range(n_branches))
    random.Random(operator.index(seed)).shuffle(order)  # index(): numpy ints too
    return tuple(order)


@dataclass(frozen=True, slots=True)
class Reveal:
    """What one operation showed: which branch, its answer, what it cost."""

    handle: int  # position in opening order: 0, 1, 2, ...
    answer: Answer
    tokens: int  # cost of this one call; a round's sequential cost is its max
    finished: bool


class ReplayEpisode:
    """Hands out a question's branches in the seed's shuffled order and charges tokens.

    ``open`` and ``read_full`` share one cursor over the shuffled branches and
    return ``None`` once it is past the last branch. ``advance`` on a branch
    that has already finished is a free no-op returning ``None``: the published
    evaluator would charge the remainder again, but no reference strategy ever
    advances a finished branch, so charging nothing changes no reference number
    and keeps a careless strategy from paying for tokens it never receives.
    """

    def __init__(self, question: Question, seed: int) -> None:
        self.question = question
        self.order = shuffled_order(len(question.branches), seed)
        self.tokens = 0
        self._cursor = 0
        self._opened: list[int] = []  # branch index per handle
        self._revealed: list[int] = []  # probes revealed per handle
        self._finished: list[bool] = []

    @property
    def remaining(self) -> int:
        """Branches not yet taken by ``open`` or ``read_full``."""
        return len(self.order) - self._cursor

    @property
    def opened(self) -> int:
        """Branches taken so far; valid handles are ``range(opened)``."""
        return len(self._opened)

    def revealed(self, handle: int) -> int:
        return self._revealed[self._check(handle)]

    def finished(self, handle: int) -> bool:
        return self._finished[self._check(handle)]

    def open(self) -> Reveal | None:
        """Take the next branch and reveal its first interval (or all of it if it has no probes)."""
        handle = self._take()
        if handle is None:
            return None
        branch = self._branch(handle)
        if branch.probes:
            return self._reveal(handle, branch.probes[0], self.question.probe_freq, False)
        return self._reveal(handle, branch.final_answer, branch.total_tokens, True)

    def advance(self, handle: int) -> Reveal | None:
        """Reveal the next interval of an opened branch; ``None`` (free) if it has finished."""
        if self._finished[self._check(handle)]:
            return None
        branch = self._branch(handle)
        j = self._revealed[handle]
        if j < len(branch.probes):
            return self._reveal(handle, branch.probes[j], self.question.probe_freq, False)
        rest = max(0, branch.total_tokens - self.question.probe_freq * len(branch.probes))
        return self._reveal(handle, branch.final_answer, rest, True)

    def read_full(self) -> Reveal | None:
        """Take the next branch whole: its final answer for its total tokens."""
        handle = self._take()
        if handle is None:
            return None
        branch = self._branch(handle)
        self._revealed[handle] = len(branch.probes)
        return self._reveal(handle, branch.final_answer, branch.total_tokens, True)

    def _take(self) -> int | None:
        if self._cursor >= len(self.order):
            return None
        self._opened.append(self.order[self._cursor])
        self._cursor += 1
        self._revealed.append(0)
        self._finished.append(False)
        return len(self._opened) - 1

    def _reveal(self, handle: int, answer: Answer, tokens: int, finished: bool) -> Reveal:
        self.tokens += tokens
        if finished:
            self._finished[handle] = True
        else:
            self._revealed[handle] += 1
        return Reveal(handle, answer, tokens, finished)

    def _branch(self, handle: int) -> Branch:
        return self.question.branches[self._opened[handle]]

    def _check(self, handle: int) -> int:
        if not 0 <= handle < len(self._opened):
            raise IndexError(f"no opened branch with handle {handle} (opened: {len(self._opened)})")
        return handle
