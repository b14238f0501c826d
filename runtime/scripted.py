"""A scripted environment: episodes given explicitly, standing in for a live one.

Each episode is the list of trajectories it hands out, in that order. A
trajectory is what generating one branch would produce: the answer and token
usage of each interval, then of its final stretch, plus what reading it whole
costs. Costs are whatever the script says, as a live server's usage reports
would be; nothing here consults the replay tables or the reveal rule. Answers
are interned per episode in order of first appearance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ttsc.errors import TtscError
from ttsc.runtime.env import DEFAULT_NON_ANSWERS, NO_ANSWER, AnswerBook, Moved, Taken


@dataclass(frozen=True)
class Trajectory:
    chunks: tuple[tuple[str, int], ...]  # per interval: (answer after it, tokens it used)
    final: tuple[str, int]               # (final answer, tokens of the last stretch)
    whole_tokens: int                    # tokens used when read whole
    # per interval, then the final stretch: len(chunks) + 1 confidences (NaN: unknown); None: not known
    confidence: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.confidence is not None and len(self.confidence) != len(self.chunks) + 1:
            raise ValueError(f"a trajectory of {len(self.chunks)} intervals has {len(self.chunks) + 1} "
                             f"confidences (the last for its final stretch), not {len(self.confidence)}")


class ScriptedEnvironment:
    """Episodes in row order (``seed_index * n_questions + question``), each a list of trajectories."""

    def __init__(self, episodes: Sequence[Sequence[Trajectory]], golds: Sequence[str], seeds: Sequence[int],
                 intervals: Sequence[int] | None = None, non_answers: Sequence[str] = DEFAULT_NON_ANSWERS):
        """``intervals``: per question, the interval length Δ the script was generated with (what a live
        environment is configured with); programs that read `interval` need it. ``non_answers``: the
        texts `valid` rejects."""
        self.non_answers = frozenset(non_answers)
        self.seeds = tuple(int(s) for s in seeds)
        self.golds = tuple(golds)
        if intervals is not None and len(intervals) != len(self.golds):
            raise ValueError(f"{len(intervals)} intervals given for {len(self.golds)} questions")
        self.intervals = None if intervals is None else np.array([int(d) for d in intervals], dtype=np.int64)
        self.n_questions = len(self.golds)
        self.n_episodes = len(self.seeds) * self.n_questions
        if len(episodes) != self.n_episodes:
            raise ValueError(f"{len(episodes)} episodes scripted for {len(self.seeds)} seeds "
                             f"x {self.n_questions} questions")
        self.episodes = [list(e) for e in episodes]
        self.max_branches = max((len(e) for e in self.episodes), default=0)
        every = [tr for e in self.episodes for tr in e]
        self.signals = frozenset({"confidence"}) if every and all(tr.confidence is not None for tr in every) \
            else frozenset()
        self._taken = [0] * self.n_episodes
        self._step: dict[tuple[int, int], int] = {}  # reveals made per (row, slot)
        self.accepted: set[tuple[int, int]] = set()  # (row, slot) ended early: never generated again
        self.answers = AnswerBook(self.n_episodes)

    def take(self, rows: np.ndarray, want: np.ndarray, whole: bool) -> Taken:
        out: list[tuple[int, int, int, int, bool, float]] = []
        for row, n in zip(rows.tolist(), want.tolist()):
            for _ in range(max(0, n)):
                slot = self._taken[row]
                if slot >= len(self.episodes[row]):
                    break
                self._taken[row] += 1
                self._step[row, slot] = 0
                if whole:
                    tr = self.episodes[row][slot]
                    self._step[row, slot] = len(tr.chunks) + 1
                    out.append((row, slot, self.answers.intern(row, tr.final[0]), tr.whole_tokens, True,
                                self._confidence(tr, len(tr.chunks) + 1)))
                else:
                    answer, cost, finished, _, conf = self._move(row, slot, 1)
                    out.append((row, slot, answer, cost, finished, conf))
        cols = list(zip(*out)) or [(), (), (), (), (), ()]
        return Taken(*(np.array(c, dtype=np.int64) for c in cols[:4]), np.array(cols[4], dtype=bool),
                     self._confidences(cols[5]))

    def advance(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved:
        out = [self._move(r, s, k) for r, s, k in zip(rows.tolist(), slots.tolist(), steps.tolist())]
        cols = list(zip(*out)) or [(), (), (), (), ()]
        return Moved(np.array(cols[0], dtype=np.int64), np.array(cols[1], dtype=np.int64),
                     np.array(cols[2], dtype=bool), np.array(cols[3], dtype=np.int64), self._confidences(cols[4]))

    @staticmethod
    def _confidence(tr: Trajectory, t: int) -> float:
        """The confidence of reveal ``t`` (1 = the first interval; len(chunks) + 1 = the final stretch)."""
        return tr.confidence[t - 1] if tr.confidence is not None and t > 0 else float("nan")

    def _confidences(self, values) -> np.ndarray | None:
        return np.array(values, dtype=np.float64) if self.signals else None

    def accept(self, rows: np.ndarray, slots: np.ndarray) -> None:
        for row, slot in zip(rows.tolist(), slots.tolist()):
            if (row, slot) not in self._step:
                raise IndexError(f"episode {row} has no opened branch in slot {slot}")
            self.accepted.add((row, slot))

    def _move(self, row: int, slot: int, steps: int) -> tuple[int, int, bool, int, float]:
        if (row, slot) in self.accepted:
            raise ValueError(f"branch {slot} of episode {row} was accepted: it generates nothing more")
        tr = self.episodes[row][slot]
        k = len(tr.chunks)
        t0 = t = self._step[row, slot]
        answer, cost = NO_ANSWER, 0
        while t < t0 + steps and t <= k:
            text, tokens = tr.chunks[t] if t < k else tr.final
            answer, cost, t = self.answers.intern(row, text), cost + tokens, t + 1
        if t == t0 and t > 0:  # nothing revealed: the latest answer stands
            answer = self.answers.intern(row, tr.final[0] if t > k else tr.chunks[t - 1][0])
        self._step[row, slot] = t
        return answer, cost, t > k, t - t0, self._confidence(tr, t)


    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]:
        return self.answers.texts(rows, answers)

    def interval(self, rows: np.ndarray) -> np.ndarray:
        if self.intervals is None:
            raise TtscError("this scripted environment was given no `intervals`, so `interval` is unknown")
        return self.intervals[np.asarray(rows, dtype=np.int64) % self.n_questions]

    def answer_ids(self, rows: np.ndarray, texts: list[str]) -> np.ndarray:
        return self.answers.ids(rows, texts)

    def valid(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        texts = self.answer_text(np.asarray(rows, dtype=np.int64), np.asarray(answers, dtype=np.int64))
        return np.array([t is not None and t not in self.non_answers for t in texts], dtype=bool)

    def grade(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        texts = self.answer_text(rows, answers)
        golds = [self.golds[r % self.n_questions] for r in rows.tolist()]
        return np.array([a is not None and a == g for a, g in zip(texts, golds)], dtype=bool)
