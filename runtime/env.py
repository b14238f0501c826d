"""The environment protocol every engine runs on, and a one-episode view of it.

An environment holds *many episodes at once*: every (seed, question) pair of a
run, row ``seed_index * n_questions + question``, so engines build an
``Outcome`` of shape ``[seeds, questions]`` from per-row arrays. A policy
drives it through two primitives over flat lists of (episode, slot) pairs. A
*slot* is a branch's opening position in its episode (0, 1, 2, …), so slots
are handed out in order.

    take(rows, want, whole)     -> Taken  up to want[i] new branches for episode rows[i]
    advance(rows, slots, steps) -> Moved  up to steps[i] more intervals of each branch
    accept(rows, slots)                   stop generating each branch: its latest answer is final
    answer_text(rows, answers)  -> texts
    grade(rows, answers)        -> bool array: is each episode's answer correct
    interval(rows)              -> int array: each episode's interval length Δ
    answer_ids(rows, texts)     -> int array [rows, texts]: ids of answers written in the program
    valid(rows, answers)        -> bool array: is each answer a real one (not none, not a non-answer)

Answers are small ints interned per episode by the environment (``NO_ANSWER``
= -1 = none); ``answer_text`` maps them back. Each reveal reports its token
cost: the replay environment computes it (``runtime/replay.py``), a live one
reports what generation used. Grading is the environment's too: only it knows
the gold answers. Advancing a finished branch reveals nothing and costs nothing.
``accept`` ends unfinished branches early (a live environment stops generating
them and frees their slots); it costs nothing, and engines never advance an
accepted branch again.

Signals. An environment may report more than answers and costs about each
reveal: ``signals`` names what it provides (``"confidence"``: the DeepConf
confidence of the last interval each reveal showed, in ``Taken.confidence`` and
``Moved.confidence``). An environment that provides none needs neither the
attribute nor the fields; a program that reads a signal is refused before it
runs on an environment without it (:func:`require_signals`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from ttsc.errors import TtscError

NO_ANSWER = -1
# What an environment calls a non-answer unless told otherwise: an intermediate answer that says
# there is none yet (a probe that failed to parse is stored as "ERR").
DEFAULT_NON_ANSWERS = ("ERR", "")


@dataclass(frozen=True)
class Taken:
    """New branches: flat arrays, one entry per branch taken, grouped by row in slot order."""

    rows: np.ndarray      # int64 episode row of each new branch
    slots: np.ndarray     # int64 its slot (opening position) in that episode
    answer: np.ndarray    # int64 answer id revealed
    cost: np.ndarray      # int64 tokens spent on the reveal
    finished: np.ndarray  # bool: the reveal reached the branch's end
    confidence: np.ndarray | None = None  # float64 confidence of the last interval revealed; None: all NaN


@dataclass(frozen=True)
class Moved:
    """What advancing each requested (row, slot) revealed, in the order asked."""

    answer: np.ndarray    # int64 answer after the last interval revealed
    cost: np.ndarray      # int64 tokens spent over all intervals revealed
    finished: np.ndarray  # bool
    steps: np.ndarray     # int64 intervals actually revealed (stops at the end)
    confidence: np.ndarray | None = None  # float64 confidence of the last interval revealed; None: all NaN


class Environment(Protocol):
    seeds: tuple[int, ...]
    n_questions: int
    n_episodes: int    # len(seeds) * n_questions
    max_branches: int  # most slots any episode can have
    signals: frozenset[str]  # optional: what it reports besides answers and costs (signals_of)

    def take(self, rows: np.ndarray, want: np.ndarray, whole: bool) -> Taken: ...

    def advance(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved: ...

    def accept(self, rows: np.ndarray, slots: np.ndarray) -> None: ...

    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]: ...

    def grade(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray: ...

    def interval(self, rows: np.ndarray) -> np.ndarray: ...

    def answer_ids(self, rows: np.ndarray, texts: list[str]) -> np.ndarray: ...

    def valid(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray: ...


def signals_of(env: Environment) -> frozenset[str]:
    """The signals ``env`` provides; none when it does not say."""
    return frozenset(getattr(env, "signals", ()))


def require_signals(program: str, needed: dict[str, str], env: Environment) -> None:
    """Refuse, before anything runs, a program that reads a signal ``env`` does not provide.

    ``needed`` maps each signal the program reads to the name it reads it by.
    """
    missing = sorted(set(needed) - signals_of(env))
    if not missing:
        return
    signal = missing[0]
    store = getattr(env, "store", None)
    named = getattr(store, "path", "") or getattr(store, "name", "")  # a store built in memory has only a name
    if named:
        where, how = f"the store {named}", f"a store carries it as `signals.{signal}` in each question"
    else:
        where, how = f"this environment ({type(env).__name__})", "a live backend provides it with log-probabilities"
    raise TtscError(f"`{program}` reads `{needed[signal]}`, the `{signal}` signal, but {where} does not provide "
                    f"it ({how}; see docs/replay.md)")


# One NaN object for "no confidence known", so reveals of an environment without the signal compare equal.
UNKNOWN = float("nan")


def _confidence(conf: np.ndarray | None, n: int) -> list[float]:
    return [UNKNOWN] * n if conf is None else np.asarray(conf, dtype=np.float64).tolist()


class AnswerBook:
    """Answer texts interned per episode in order of first appearance: the ids a generating
    environment (scripted, live) hands the engines, and the texts they stand for."""

    def __init__(self, n_episodes: int):
        self._ids: list[dict[str, int]] = [{} for _ in range(n_episodes)]
        self._texts: list[list[str]] = [[] for _ in range(n_episodes)]

    def intern(self, row: int, text: str) -> int:
        ids = self._ids[row]
        if text not in ids:
            ids[text] = len(ids)
            self._texts[row].append(text)
        return ids[text]

    def texts(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]:
        return [None if a < 0 else self._texts[r][a] for r, a in zip(rows.tolist(), answers.tolist())]

    def ids(self, rows: np.ndarray, texts: list[str]) -> np.ndarray:
        out = [[self.intern(r, t) for t in texts] for r in np.asarray(rows, dtype=np.int64).tolist()]
        return np.array(out, dtype=np.int64).reshape(len(out), len(texts))


@dataclass(frozen=True, slots=True)
class Reveal:
    """One branch's share of an action, as an episode sees it."""

    slot: int          # position in opening order: 0, 1, 2, ...
    answer: str | None
    tokens: int        # cost of this action for this branch; a round's sequential cost is its max
    finished: bool
    steps: int = 1     # intervals revealed (a whole read counts as one)
    confidence: float = UNKNOWN  # of the last interval revealed (the `confidence` signal); NaN: unknown


class EpisodeView:
    """One episode (``row``) of an environment: one environment call per action, answers as texts.

    Every answer id the view hands out is remembered with its text, so the
    episode's final answer (always one it was shown, or none) can be graded by id.
    """

    def __init__(self, env: Environment, row: int):
        self.env = env
        self.row = int(row)
        self._rows1 = np.array([self.row], dtype=np.int64)
        self._ids: dict[str | None, int] = {None: NO_ANSWER}
        self.opened = 0  # slots handed out so far: valid slots are range(opened)

    def take(self, n: int, whole: bool) -> list[Reveal]:
        """Up to ``n`` new branches (open, or read whole), in slot order."""
        if n <= 0:
            return []
        t = self.env.take(self._rows1, np.array([n], dtype=np.int64), whole)
        self.opened += t.slots.size
        texts = self._texts(t.answer)
        return [Reveal(s, a, c, f, 1, x) for s, a, c, f, x in zip(t.slots.tolist(), texts, t.cost.tolist(),
                                                                  t.finished.tolist(),
                                                                  _confidence(t.confidence, t.slots.size))]

    def advance(self, slots: list[int], steps: list[int]) -> list[Reveal]:
        """Advance the given opened branches by their step counts, all at once."""
        if not slots:
            return []
        bad = [s for s in slots if not 0 <= s < self.opened]
        if bad:
            raise IndexError(f"no opened branch in slot {bad[0]} (opened: {self.opened})")
        rows = np.full(len(slots), self.row, dtype=np.int64)
        m = self.env.advance(rows, np.array(slots, dtype=np.int64), np.array(steps, dtype=np.int64))
        texts = self._texts(m.answer)
        return [Reveal(s, a, c, f, k, x) for s, a, c, f, k, x in zip(slots, texts, m.cost.tolist(),
                                                                     m.finished.tolist(), m.steps.tolist(),
                                                                     _confidence(m.confidence, len(slots)))]

    @property
    def interval(self) -> int:
        """The episode's interval length Δ (the environment's, as a live one would configure it)."""
        return int(self.env.interval(self._rows1)[0])

    def accept(self, slots: list[int]) -> None:
        """Stop generating the given opened, unfinished branches (one environment call for all)."""
        if not slots:
            return
        bad = [s for s in slots if not 0 <= s < self.opened]
        if bad:
            raise IndexError(f"no opened branch in slot {bad[0]} (opened: {self.opened})")
        self.env.accept(np.full(len(slots), self.row, dtype=np.int64), np.array(slots, dtype=np.int64))

    def is_valid(self, text: str) -> bool:
        """Is an answer this episode was shown (or that the program wrote) a real answer?"""
        ids = self.env.answer_ids(self._rows1, [text])[0]
        self._ids.setdefault(text, int(ids[0]))
        return bool(self.env.valid(self._rows1, ids)[0])

    def answer_id(self, text: str | None) -> int:
        if text not in self._ids:  # an answer the program wrote that no branch gave: the environment interns it
            self._ids[text] = int(self.env.answer_ids(self._rows1, [text])[0, 0])
        return self._ids[text]

    def correct(self, text: str | None) -> bool:
        return bool(self.env.grade(self._rows1, np.array([self.answer_id(text)], dtype=np.int64))[0])

    def _texts(self, ids: np.ndarray) -> list[str | None]:
        ids = np.asarray(ids, dtype=np.int64)
        texts = self.env.answer_text(np.full(ids.size, self.row, dtype=np.int64), ids)
        for a, text in zip(ids.tolist(), texts):
            self._ids.setdefault(text, a)
        return texts
