"""Padded replay tables agree with the store they were built from."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.conftest import synthetic_store_path
from ttsc.runtime.tables import shuffled_order
from ttsc.runtime.store import Branch, Question, Store, load_store
from ttsc.runtime.tables import PAD, ReplayTables, shuffle_orders


def assert_matches(tables: ReplayTables, store: Store) -> None:
    nq = len(store.questions)
    assert tables.probe_ids.dtype == tables.final_ids.dtype == tables.gold_ids.dtype == np.int32
    assert tables.total_tokens.dtype == tables.probe_freq.dtype == np.int64
    assert tables.probe_ids.shape[:2] == tables.n_probes.shape == tables.final_ids.shape == tables.total_tokens.shape
    assert tables.n_branches.shape == tables.probe_freq.shape == tables.gold_ids.shape == (nq,)
    for qi, q in enumerate(store.questions):
        vocab = tables.vocab[qi]
        assert len(set(vocab)) == len(vocab)
        assert tables.n_branches[qi] == len(q.branches) and tables.probe_freq[qi] == q.probe_freq
        gold = tables.gold_ids[qi]
        assert (vocab[gold] == q.gold) if gold != PAD else q.gold not in vocab
        seen: dict[str, None] = {}  # answers in order of first appearance
        for bi, b in enumerate(q.branches):
            k = len(b.probes)
            assert tables.n_probes[qi, bi] == k and tables.total_tokens[qi, bi] == b.total_tokens
            assert [vocab[i] for i in tables.probe_ids[qi, bi, :k]] == list(b.probes)
            start = tables.probe_start[qi, bi]
            assert (tables.probe_flat[start:start + k] == tables.probe_ids[qi, bi, :k]).all()
            assert (tables.probe_ids[qi, bi, k:] == PAD).all()
            assert vocab[tables.final_ids[qi, bi]] == b.final_answer
            seen.update(dict.fromkeys((*b.probes, b.final_answer)))
        assert vocab == list(seen)
        padded = slice(len(q.branches), None)
        assert (tables.final_ids[qi, padded] == PAD).all() and (tables.n_probes[qi, padded] == 0).all()
        assert (tables.probe_ids[qi, padded] == PAD).all() and (tables.total_tokens[qi, padded] == 0).all()


def test_ragged_store_is_padded() -> None:
    store = Store("t", "t", (
        Question("a", "9", 100, (Branch(("1", "2", "1"), 400, "2"), Branch((), 50, "ERR"))),
        Question("b", "5", 7, (Branch(("5",), 3, "5"),)),  # fewer branches
    ))
    tables = ReplayTables.from_store(store)
    assert tables.probe_ids.shape == (2, 2, 3)
    assert tables.vocab == [["1", "2", "ERR"], ["5"]]
    assert tables.gold_ids.tolist() == [PAD, 0]
    assert tables.probe_ids[0].tolist() == [[0, 1, 0], [PAD, PAD, PAD]]
    assert tables.final_ids.tolist() == [[1, 2], [0, PAD]]
    assert_matches(tables, store)


def test_default_store() -> None:
    store = load_store(synthetic_store_path())
    assert_matches(ReplayTables.from_store(store), store)


def test_published_store(shared: Path) -> None:
    store = load_store(shared / "replay" / "autotts" / "Qwen3-8B" / "aime25.json")
    assert_matches(ReplayTables.from_store(store), store)


def test_shuffle_orders() -> None:
    orders = shuffle_orders(128, range(100))
    assert orders.shape == (100, 128) and orders.dtype == np.int64
    assert all(tuple(orders[s]) == shuffled_order(128, s) for s in range(100))
    assert shuffle_orders(5, [np.int64(3), 3]).tolist() == [list(shuffled_order(5, 3))] * 2
    assert shuffle_orders(4, []).shape == (0, 4)
