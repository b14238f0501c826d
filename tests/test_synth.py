"""Synthetic stores: deterministic, valid, labelled, and the bundled default is current."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttsc.errors import TtscError
from ttsc.runtime.store import load_store
from ttsc.runtime.synth import dumps_store, generate_store


def test_same_seed_same_store() -> None:
    assert generate_store(seed=4, questions=5, branches=9) == generate_store(seed=4, questions=5, branches=9)
    assert generate_store(seed=4, questions=5, branches=9) != generate_store(seed=5, questions=5, branches=9)


def test_meta_says_synthetic() -> None:
    meta = generate_store(seed=11, questions=1, branches=1)["meta"]
    assert meta["synthetic"] is True and meta["seed"] == 11
    assert meta["generator"] == "ttsc synth" and "not from a model" in meta["note"]


def test_shape_of_the_data(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    out.write_text(dumps_store(generate_store(seed=2, questions=12, branches=40, probe_freq=300)), encoding="utf-8")
    store = load_store(out)  # validates every field
    branches = [b for q in store.questions for b in q.branches]
    assert len(store.questions) == 12 and len(branches) == 12 * 40
    assert all(3 <= len(b.probes) <= 40 for b in branches)
    assert all(a == "ERR" or a.isdigit() for b in branches for a in (*b.probes, b.final_answer))
    # Like the published stores: some totals end before the last probe point, some far past it.
    assert any(b.total_tokens < 300 * len(b.probes) for b in branches)
    assert any(b.total_tokens > 300 * (len(b.probes) + 1) for b in branches)
    # Questions range from easy (gold wins the vote) to hard (a distractor wins).
    wins = [max(set(f := [b.final_answer for b in q.branches]), key=f.count) == q.gold for q in store.questions]
    assert any(wins) and not all(wins)


def test_bad_sizes() -> None:
    with pytest.raises(TtscError, match="needs questions, branches and probe_freq >= 1"):
        generate_store(branches=0)
