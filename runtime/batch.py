"""The batched environment protocol, and its replay implementation.

A compiled policy drives *many episodes at once* through two primitives over
flat lists of (episode, slot) pairs. A *slot* is a branch's opening position in
its episode (0, 1, 2, …), so slots are handed out in order. The replay
environment answers by array lookups; a live environment answers with batched
generation calls. The policy cannot tell which one it runs on.

    take(rows, want, whole)  -> Taken     up to want[i] new branches for episode rows[i]
    advance(rows, slots, steps) -> Moved  up to steps[i] more intervals of each branch

Answers are small ints, interned per episode by the environment (-1 = no
answer); ``answer_text`` maps them back. Each reveal reports its token cost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, Sequence

import numpy as np

from ttsc.runtime.store import Store
from ttsc.runtime.tables import ReplayTables, shuffle_orders

NO_ANSWER = -1


@dataclass(frozen=True)
class Taken:
    """New branches: flat arrays, one entry per branch taken, grouped by row in slot order."""

    rows: np.ndarray      # int64 episode row of each new branch
    slots: np.ndarray     # int64 its slot (opening position) in that episode
    answer: np.ndarray    # int64 answer id revealed
    cost: np.ndarray      # int64 tokens spent on the reveal
    finished: np.ndarray  # bool: the reveal reached the branch's end


@dataclass(frozen=True)
class Moved:
    answer: np.ndarray    # int64 answer after the last interval revealed
    cost: np.ndarray      # int64 tokens spent over all intervals revealed
    finished: np.ndarray  # bool
    steps: np.ndarray     # int64 intervals actually revealed (stops at the end)


class BatchEnvironment(Protocol):
    n_episodes: int
    max_branches: int  # most slots any episode can have

    def take(self, rows: np.ndarray, want: np.ndarray, whole: bool) -> Taken: ...

    def advance(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved: ...

    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]: ...


class ReplayBatch:
    """Every (seed, question) episode of a store at once; row = seed_index * Q + question."""

    def __init__(self, store: Store, seeds: Sequence[int], tables: ReplayTables | None = None):
        self.tables = tables if tables is not None else ReplayTables.from_store(store)
        t = self.tables
        self.seeds = tuple(int(s) for s in seeds)
        nq = len(t.n_branches)
        self.n_questions = nq
        self.n_episodes = len(self.seeds) * nq
        self.max_branches = int(t.n_branches.max())
        self.question = np.tile(np.arange(nq), len(self.seeds))
        # order[row, slot] = store branch index. shuffle() permutes by length only,
        # so questions with equal branch counts share one permutation per seed.
        self.order = np.zeros((self.n_episodes, self.max_branches), dtype=np.int64)
        for n in np.unique(t.n_branches):
            perms = shuffle_orders(int(n), self.seeds)  # [S, n]
            qs = np.flatnonzero(t.n_branches == n)
            for si in range(len(self.seeds)):
                self.order[si * nq + qs, :n] = perms[si]
        self.cursor = np.zeros(self.n_episodes, dtype=np.int64)
        self.revealed = np.zeros((self.n_episodes, self.max_branches), dtype=np.int64)
        self.n_avail = t.n_branches[self.question].astype(np.int64)
        self.delta = t.probe_freq[self.question]
        # Per (row, slot): the store branch as one flat id, and its lengths, so each
        # reveal is a handful of 1-d gathers instead of 2-d and 3-d fancy indexing.
        nb = t.n_probes.shape[1]
        self._gid = (self.question[:, None] * nb + self.order).ravel()
        self._probes = t.n_probes.astype(np.int64).ravel()[self._gid]
        self._total = t.total_tokens.ravel()[self._gid]
        self._final = t.final_ids.astype(np.int64).ravel()[self._gid]
        self._probe_ids = t.probe_ids.reshape(-1, t.probe_ids.shape[2]) if t.probe_ids.shape[2] else None

    def take(self, rows: np.ndarray, want: np.ndarray, whole: bool) -> Taken:
        got = np.minimum(np.maximum(want, 0), self.n_avail[rows] - self.cursor[rows])
        flat_rows = np.repeat(rows, got)
        first = np.repeat(self.cursor[rows], got)
        offsets = np.arange(flat_rows.size) - np.repeat(np.cumsum(got) - got, got)
        slots = first + offsets
        self.cursor[rows] += got
        if whole:
            q, b = self.question[flat_rows], self.order[flat_rows, slots]
            p = self.tables.n_probes[q, b].astype(np.int64)
            self.revealed[flat_rows, slots] = p + 1
            return Taken(flat_rows, slots, self.tables.final_ids[q, b].astype(np.int64),
                         self.tables.total_tokens[q, b], np.ones(slots.size, dtype=bool))
        moved = self._reveal(flat_rows, slots, np.ones(slots.size, dtype=np.int64))
        return Taken(flat_rows, slots, moved.answer, moved.cost, moved.finished)

    def advance(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved:
        return self._reveal(rows, slots, steps)

    def _reveal(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved:
        """Reveal up to ``steps`` intervals: Δ per probe, then the remainder on the final reveal."""
        flat = rows * self.max_branches + slots
        p = self._probes[flat]
        revealed = self.revealed.reshape(-1)
        t0 = revealed[flat]
        t1 = np.minimum(t0 + np.maximum(steps, 0), p + 1)
        delta = self.delta[rows]
        finished = t1 == p + 1
        ends = finished & (t0 < p + 1)
        cost = delta * (np.minimum(t1, p) - np.minimum(t0, p))
        cost += np.where(ends, np.maximum(0, self._total[flat] - delta * p), 0)
        if self._probe_ids is not None:
            width = self._probe_ids.shape[1]
            probe = self._probe_ids.reshape(-1)[self._gid[flat] * width + np.clip(t1 - 1, 0, width - 1)]
            answer = np.where(finished, self._final[flat], probe)
        else:
            answer = self._final[flat].copy()
        revealed[flat] = t1
        return Moved(answer.astype(np.int64), cost, finished, t1 - t0)

    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]:
        vocab = self.tables.vocab
        return [None if a < 0 else vocab[q][a] for q, a in zip(self.question[rows].tolist(), answers.tolist())]

    def gold(self) -> np.ndarray:
        """[n_episodes] gold answer id per row (-1 when no branch gives it)."""
        return self.tables.gold_ids[self.question].astype(np.int64)
