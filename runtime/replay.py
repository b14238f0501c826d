"""The replay environment: every (seed, question) episode of a store, answered by array lookups.

The only replay implementation of the environment protocol (``runtime/env.py``).
For seed ``s`` a question's branches are handed out in ``shuffled_order``; reveals
and their costs follow ``runtime/reveal.py``; an answer is correct iff it is the
question's gold answer.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ttsc.errors import TtscError
from ttsc.runtime import reveal
from ttsc.runtime.env import DEFAULT_NON_ANSWERS, Moved, Taken
from ttsc.runtime.store import Store
from ttsc.runtime.store_cache import TabledStore
from ttsc.runtime.tables import ReplayTables, shuffle_orders

_tables: dict[int, tuple[Store, ReplayTables]] = {}


def tables_for(store: Store) -> ReplayTables:
    """Padded tables are built once per store object (sweeps reuse them); a store loaded from a file has them."""
    if isinstance(store, TabledStore):
        return store.tables
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
        self.non_answers = non_answers(store)
        self.signals = store.signals
        # Answers written in the program that a question's branches never give: ids after its vocabulary.
        self._extra: list[dict[str, int]] = [{} for _ in range(nq)]
        self._index: list[dict[str, int] | None] = [None] * nq
        self._valid: tuple[int, np.ndarray] | None = None  # (texts interned when built, valid_table)
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
        self._start_at = t.probe_start.ravel()[self._gid]  # where (row, slot)'s probes start in probe_flat
        if t.conf_start is not None:  # where (row, slot)'s confidences start in conf_flat
            self._conf_at = t.conf_start.ravel()[self._gid]
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
            t1 = self.revealed.reshape(-1)[flat] = self._probes[flat] + 1
            return Taken(flat_rows, slots, self._final[flat], reveal.whole_cost(self._total[flat]),
                         np.ones(slots.size, dtype=bool), self._confidence(flat, t1))
        moved = self._reveal(flat_rows, slots, np.ones(slots.size, dtype=np.int64))
        return Taken(flat_rows, slots, moved.answer, moved.cost, moved.finished, moved.confidence)

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
        probe_flat = self.tables.probe_flat
        if probe_flat.size:
            i = np.maximum(t1 - 1, 0)  # the probe now showing (a finished branch shows its final answer)
            has = i < p  # PAD when the branch has no such probe
            probe = np.where(has, probe_flat[np.where(has, self._start_at[flat] + i, 0)], -1)
            answer = np.where(finished, self._final[flat], probe)
        else:
            answer = self._final[flat].copy()
        revealed[flat] = t1
        return Moved(answer.astype(np.int64), cost, finished, t1 - t0, self._confidence(flat, t1))

    def _confidence(self, flat: np.ndarray, t1: np.ndarray) -> np.ndarray | None:
        """The confidence of reveal ``t1`` (the last one made) of each (row, slot); None without the signal."""
        conf = self.tables.conf_flat
        if conf is None:
            return None
        return np.where(t1 > 0, conf[self._conf_at[flat] + np.maximum(t1 - 1, 0)], np.nan)

    def interval(self, rows: np.ndarray) -> np.ndarray:
        """Δ of each episode: its question's ``probe_freq``."""
        return self.tables.probe_freq[self.question[rows]].astype(np.int64)

    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]:
        vocab = self.tables.vocab
        return [None if a < 0 else vocab[q][a] if a < len(vocab[q]) else self._extra_text(q, a)
                for q, a in zip(self.question[rows].tolist(), answers.tolist())]

    def answer_ids(self, rows: np.ndarray, texts: list[str]) -> np.ndarray:
        """Each text's id in each row's question: its vocabulary id, else one interned after it."""
        out = np.empty((len(rows), len(texts)), dtype=np.int64)
        for i, q in enumerate(self.question[np.asarray(rows, dtype=np.int64)].tolist()):
            out[i] = [self._id(q, t) for t in texts]
        return out

    def valid(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """A real answer: an id (not none) whose text is not one of the store's non-answers."""
        interned = sum(len(e) for e in self._extra)
        if self._valid is None or self._valid[0] != interned:  # rebuilt only when a new text was interned
            self._valid = (interned, self.valid_table([]))
        table = self._valid[1]
        a = np.asarray(answers, dtype=np.int64)
        q = self.question[np.asarray(rows, dtype=np.int64)]
        known = (a >= 0) & (a < table.shape[1])
        out = np.zeros(a.shape, dtype=bool)
        out[known] = table[q[known], a[known]]
        return out

    def valid_table(self, texts: list[str]) -> np.ndarray:
        """[Q, A] bool: is answer id a of question q valid, for every id a branch or ``texts`` can have."""
        for q in range(self.n_questions):
            for t in texts:
                self._id(q, t)
        answers = [list(v) + list(e) for v, e in zip(self.tables.vocab, self._extra)]
        table = np.zeros((self.n_questions, max(max(map(len, answers), default=0), 1)), dtype=np.bool_)
        for q, texts_q in enumerate(answers):
            table[q, :len(texts_q)] = [t not in self.non_answers for t in texts_q]
        return table

    def _id(self, q: int, text: str) -> int:
        index = self._index[q]
        if index is None:
            index = self._index[q] = {t: i for i, t in enumerate(self.tables.vocab[q])}
        if text in index:
            return index[text]
        extra = self._extra[q]
        return extra.setdefault(text, len(index) + len(extra))

    def _extra_text(self, q: int, a: int) -> str:
        return list(self._extra[q])[a - len(self.tables.vocab[q])]

    def grade(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """Correct iff the answer is the question's gold one (an id -1 gold is never matched)."""
        q = self.question[rows]
        gold = self.tables.gold_ids[q].astype(np.int64)
        golds = self.tables.golds
        for i in np.flatnonzero(gold < 0):  # a gold no branch gives may still be written in the program
            gold[i] = self._extra[q[i]].get(golds[q[i]], -1)
        return (answers >= 0) & (answers == gold)


def non_answers(store: Store) -> frozenset[str]:
    """The store's non-answers: ``meta.non_answers`` (a list of strings), by default "ERR" and ""."""
    given = store.meta.get("non_answers", list(DEFAULT_NON_ANSWERS))
    if not isinstance(given, list) or not all(isinstance(t, str) for t in given):
        raise TtscError(f"{store.path}: meta.non_answers must be a list of strings, got {given!r}")
    return frozenset(given)
