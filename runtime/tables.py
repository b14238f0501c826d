"""A store as padded numpy arrays, built once, for engines that run many episodes at once.

Answers become int32 ids per question so that voting is integer counting; -1
marks padding (and a gold answer no branch ever gives). Questions may have
different branch counts and branches different probe counts, so every axis is
padded to the store's maximum.
"""

from __future__ import annotations

import operator
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import numpy as np

from ttsc.runtime.store import Store

PAD = -1


@dataclass(frozen=True, eq=False)
class ReplayTables:
    vocab: list[list[str]]  # per question: id -> answer, in order of first appearance
    probe_ids: np.ndarray  # [Q, B, I] int32, PAD past n_probes
    n_probes: np.ndarray  # [Q, B] int32, 0 for padded branches
    total_tokens: np.ndarray  # [Q, B] int64, 0 for padded branches
    final_ids: np.ndarray  # [Q, B] int32, PAD for padded branches
    n_branches: np.ndarray  # [Q] int32
    probe_freq: np.ndarray  # [Q] int64
    gold_ids: np.ndarray  # [Q] int32, PAD when no branch ever gives the gold answer

    @classmethod
    def from_store(cls, store: Store) -> ReplayTables:
        qs = store.questions
        nq = len(qs)
        nb = max((len(q.branches) for q in qs), default=0)
        ni = max((len(b.probes) for q in qs for b in q.branches), default=0)
        probe_ids = np.full((nq, nb, ni), PAD, dtype=np.int32)
        n_probes = np.zeros((nq, nb), dtype=np.int32)
        total_tokens = np.zeros((nq, nb), dtype=np.int64)
        final_ids = np.full((nq, nb), PAD, dtype=np.int32)
        vocab: list[list[str]] = []
        gold_ids = np.full(nq, PAD, dtype=np.int32)
        for qi, q in enumerate(qs):
            ids: dict[str, int] = {}  # insertion order is id order
            for bi, b in enumerate(q.branches):
                probe_ids[qi, bi, :len(b.probes)] = [ids.setdefault(a, len(ids)) for a in b.probes]
                final_ids[qi, bi] = ids.setdefault(b.final_answer, len(ids))
                n_probes[qi, bi] = len(b.probes)
                total_tokens[qi, bi] = b.total_tokens
            vocab.append(list(ids))
            gold_ids[qi] = ids.get(q.gold, PAD)
        return cls(
            vocab=vocab,
            probe_ids=probe_ids,
            n_probes=n_probes,
            total_tokens=total_tokens,
            final_ids=final_ids,
            n_branches=np.array([len(q.branches) for q in qs], dtype=np.int32),
            probe_freq=np.array([q.probe_freq for q in qs], dtype=np.int64),
            gold_ids=gold_ids,
        )


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
