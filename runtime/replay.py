"""The replay environment: every (seed, question) episode of a store, answered by array lookups.

The only replay implementation of the environment protocol (``runtime/env.py``).
For seed ``s`` a question's branches are handed out in ``shuffled_order``; reveals
and their costs follow ``runtime/reveal.py``; an answer is correct iff it is the
question's gold answer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ttsc.runtime import reveal
from ttsc.runtime.env import Moved, Taken
from ttsc.runtime.store import Store
from ttsc.runtime.tables import ReplayTables, shuffle_orders

_tables: dict[int, tuple[Store, ReplayTables]] = {}


def tables_for(store: Store) -> ReplayTables:
    """Padded tables are built once per store object (sweeps reuse them)."""
    hit = _tables.get(id(store))
    if hit is not None and hit[0] is store:
        return hit[1]
    t = ReplayTables.from_store(store)
    if len(_tables) >= 16:
        _tables.pop(next(iter(_tables)))
    _tables[id(store)] = (store, t)
    return t


class ReplayEnvironment:
    """Every (seed, question) episode of a store at once; row = seed_index * Q + question."""

    def __init__(self, store: Store, seeds: Sequence[int]):
        self.store = store
        self.tables = t = tables_for(store)
        self.seeds = tuple(int(s) for s in seeds)
        nq = len(t.n_branches)
        self.n_questions = nq
        self.n_episodes = len(self.seeds) * nq
        self.max_branches = int(t.n_branches.max())
        self.question = np.tile(np.arange(nq), len(self.seeds))
        self._state = False  # the per-episode arrays below are built on the first action

    def _start(self) -> None:
        t, nq = self.tables, self.n_questions
        # order[row, slot] = store branch index. shuffle() permutes by length only,
        # so questions with equal branch counts share one permutation per seed.
        self.order = np.zeros((self.n_episodes, self.max_branches), dtype=np.int64)
        for n in np.unique(t.n_branches):
            perms = shuffle_orders(int(n), self.seeds)  # [S, n]
            qs = np.flatnonzero(t.n_branches == n)
            for si in range(len(self.seeds)):
                self.order[si * nq + qs, :n] = perms[si]
        self.cursor = np.zeros(self.n_episodes, dtype=np.int64)
        # reveals made per (row, slot): n_probes + 1 once finished (reveal.py)
        self.revealed = np.zeros((self.n_episodes, self.max_branches), dtype=np.int64)
        self.accepted = np.zeros((self.n_episodes, self.max_branches), dtype=bool)  # ended early by `accept`
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
        self._state = True

    def take(self, rows: np.ndarray, want: np.ndarray, whole: bool) -> Taken:
        if not self._state:
            self._start()
        got = np.minimum(np.maximum(want, 0), self.n_avail[rows] - self.cursor[rows])
        flat_rows = np.repeat(rows, got)
        first = np.repeat(self.cursor[rows], got)
        offsets = np.arange(flat_rows.size) - np.repeat(np.cumsum(got) - got, got)
        slots = first + offsets
        self.cursor[rows] += got
        if whole:
            flat = flat_rows * self.max_branches + slots
            self.revealed.reshape(-1)[flat] = self._probes[flat] + 1
            return Taken(flat_rows, slots, self._final[flat], reveal.whole_cost(self._total[flat]),
                         np.ones(slots.size, dtype=bool))
        moved = self._reveal(flat_rows, slots, np.ones(slots.size, dtype=np.int64))
        return Taken(flat_rows, slots, moved.answer, moved.cost, moved.finished)

    def advance(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved:
        if not self._state:
            self._start()
        return self._reveal(rows, slots, steps)

    def accept(self, rows: np.ndarray, slots: np.ndarray) -> None:
        """Accepted branches are only marked: the store's trajectories are already generated."""
        if not self._state:
            self._start()
        self.accepted.reshape(-1)[rows * self.max_branches + slots] = True

    def _reveal(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved:
        flat = rows * self.max_branches + slots
        p = self._probes[flat]
        revealed = self.revealed.reshape(-1)
        t0 = revealed[flat]
        t1 = reveal.reach(t0, steps, p)
        cost = reveal.cost(t0, t1, p, self._total[flat], self.delta[rows])
        finished = t1 > p
        if self._probe_ids is not None:
            width = self._probe_ids.shape[1]
            probe = self._probe_ids.reshape(-1)[self._gid[flat] * width + np.clip(t1 - 1, 0, width - 1)]
            answer = np.where(finished, self._final[flat], probe)
        else:
            answer = self._final[flat].copy()
        revealed[flat] = t1
        return Moved(answer.astype(np.int64), cost, finished, t1 - t0)

    def interval(self, rows: np.ndarray) -> np.ndarray:
        """Δ of each episode: its question's ``probe_freq``."""
        return self.tables.probe_freq[self.question[rows]].astype(np.int64)

    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]:
        vocab = self.tables.vocab
        return [None if a < 0 else vocab[q][a] for q, a in zip(self.question[rows].tolist(), answers.tolist())]

    def grade(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """Correct iff the answer is the question's gold one (an id -1 gold is never matched)."""
        gold = self.tables.gold_ids[self.question[rows]].astype(np.int64)
        return (answers >= 0) & (answers == gold)
