"""A store as numpy arrays, built once, for engines that run many episodes at once.

Answers become int32 ids per question so that voting is integer counting; -1
marks padding (and a gold answer no branch ever gives). Per-branch fields are
``[Q, B]`` arrays padded to the store's largest branch count. Probes are kept
ragged — every branch's probe ids back to back in ``probe_flat``, branch
``(q, b)``'s starting at ``probe_start[q, b]`` — so memory follows the store's
size, not branches × its longest branch; ``probe_ids``, the ``[Q, B, I]`` padded
form the native kernel reads, is built only when asked for.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import chain
from typing import Iterable

import numpy as np

from ttsc.runtime.store import Store

PAD = -1


@dataclass(frozen=True, eq=False)
class ReplayTables:
    vocab: list[list[str]]  # per question: id -> answer, in order of first appearance
    probe_flat: np.ndarray  # [total probes] int32: every branch's probe ids, question by question, branch by branch
    probe_start: np.ndarray  # [Q, B] int64: where branch (q, b)'s probes start in probe_flat
    n_probes: np.ndarray  # [Q, B] int32, 0 for padded branches
    total_tokens: np.ndarray  # [Q, B] int64, 0 for padded branches
    final_ids: np.ndarray  # [Q, B] int32, PAD for padded branches
    n_branches: np.ndarray  # [Q] int32
    probe_freq: np.ndarray  # [Q] int64
    gold_ids: np.ndarray  # [Q] int32, PAD when no branch ever gives the gold answer
    golds: list[str]  # [Q] the gold answers as written
    # The `confidence` signal, when the store carries it (else None): every branch's n_probes + 1
    # confidences back to back (NaN where unknown), branch (q, b)'s starting at conf_start[q, b].
    conf_flat: np.ndarray | None = None  # [total probes + branches] float64
    conf_start: np.ndarray | None = None  # [Q, B] int64

    @cached_property
    def confidence(self) -> np.ndarray:
        """[Q, B, I + 1] float64, NaN past a branch's n_probes + 1 entries: the padded form of conf_flat
        that the native kernel reads (reveal t's confidence is at index t - 1)."""
        assert self.conf_flat is not None, "the store carries no confidence"
        nq, nb = self.n_probes.shape
        ni = int(self.n_probes.max(initial=0)) + 1
        out = np.full((nq, nb, ni), np.nan, dtype=np.float64)
        out[np.arange(ni) < (self.n_probes + (self.final_ids != PAD))[:, :, None]] = self.conf_flat
        return out

    @cached_property
    def probe_ids(self) -> np.ndarray:
        """[Q, B, I] int32, PAD past n_probes: Q × B × (the longest branch's probes) ids."""
        nq, nb = self.n_probes.shape
        ni = int(self.n_probes.max(initial=0))
        out = np.full((nq, nb, ni), PAD, dtype=np.int32)
        out[np.arange(ni) < self.n_probes[:, :, None]] = self.probe_flat  # row-major order is probe_flat's
        return out

    @classmethod
    def from_store(cls, store: Store) -> ReplayTables:
        qs = store.questions
        nq = len(qs)
        nb = max((len(q.branches) for q in qs), default=0)
        n_probes = np.zeros((nq, nb), dtype=np.int32)
        total_tokens = np.zeros((nq, nb), dtype=np.int64)
        final_ids = np.full((nq, nb), PAD, dtype=np.int32)
        vocab: list[list[str]] = []
        gold_ids = np.full(nq, PAD, dtype=np.int32)
        flats: list[np.ndarray] = []
        for qi, q in enumerate(qs):
            # Every answer in reading order (a branch's probes, then its final answer): ids are
            # numbered by first appearance. dict and map do the per-answer work in C.
            answers = list(chain.from_iterable((*b.probes, b.final_answer) for b in q.branches))
            ids = {a: i for i, a in enumerate(dict.fromkeys(answers))}
            codes = np.fromiter(map(ids.__getitem__, answers), dtype=np.int32, count=len(answers))
            k = len(q.branches)
            lengths = np.fromiter((len(b.probes) for b in q.branches), dtype=np.int32, count=k)
            finals = np.cumsum(lengths + 1) - 1  # where each branch's final answer sits in `answers`
            is_probe = np.ones(len(answers), dtype=bool)
            is_probe[finals] = False
            flats.append(codes[is_probe])
            final_ids[qi, :k] = codes[finals]
            n_probes[qi, :k] = lengths
            total_tokens[qi, :k] = np.fromiter((b.total_tokens for b in q.branches), dtype=np.int64, count=k)
            vocab.append(list(ids))
            gold_ids[qi] = ids.get(q.gold, PAD)
        counts = n_probes.astype(np.int64).ravel()
        probe_start = (np.cumsum(counts) - counts).reshape(nq, nb)
        return cls(
            vocab=vocab,
            probe_flat=np.concatenate(flats) if flats else np.zeros(0, dtype=np.int32),
            probe_start=probe_start,
            n_probes=n_probes,
            total_tokens=total_tokens,
            final_ids=final_ids,
            n_branches=np.array([len(q.branches) for q in qs], dtype=np.int32),
            probe_freq=np.array([q.probe_freq for q in qs], dtype=np.int64),
            gold_ids=gold_ids,
            golds=[q.gold for q in qs],
            **_confidence_tables(store, n_probes),
        )


def _confidence_tables(store: Store, n_probes: np.ndarray) -> dict[str, np.ndarray]:
    """``conf_flat`` and ``conf_start`` of a store that carries the `confidence` signal; nothing otherwise."""
    if "confidence" not in store.signals:
        return {}
    counts = np.zeros(n_probes.shape, dtype=np.int64)
    for qi, q in enumerate(store.questions):
        counts[qi, :len(q.branches)] = n_probes[qi, :len(q.branches)].astype(np.int64) + 1
    flat = np.fromiter(chain.from_iterable(b.confidence for q in store.questions for b in q.branches),
                       dtype=np.float64, count=int(counts.sum()))
    return {"conf_flat": flat, "conf_start": (np.cumsum(counts) - counts.ravel()).reshape(n_probes.shape)}


@lru_cache(maxsize=4096)
def shuffled_order(n_branches: int, seed: int) -> tuple[int, ...]:
    """Branch indices in the order seed ``seed`` hands them out (semantics.md §2).

    ``shuffle``'s draws depend only on the length, so shuffling indices gives the
    same permutation as shuffling the branch list itself.
    """
    order = list(range(n_branches))
    random.Random(operator.index(seed)).shuffle(order)  # index(): numpy ints too
    return tuple(order)


def shuffle_orders(n_branches: int, seeds: Iterable[int]) -> np.ndarray:
    """[S, n_branches] int64: row s is the branch order under seed s (as ``random.Random(s).shuffle``)."""
    rows = [shuffled_order(n_branches, s) for s in seeds]
    return np.array(rows, dtype=np.int64).reshape(len(rows), n_branches)
