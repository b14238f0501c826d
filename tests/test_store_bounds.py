"""Stores with numbers no engine can sum in 64 bits are refused on load, naming the place."""

from __future__ import annotations

import json

import pytest

from ttsc.errors import StoreError
from ttsc.runtime.store import MAX_BRANCHES, MAX_PROBE_FREQ, MAX_TOKENS, load_store


def _write(tmp_path, branches, probe_freq=500):
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"question": "q", "gold_answer": "1", "probe_freq": probe_freq,
                                 "each_branch": branches}]))
    return path


@pytest.mark.parametrize("total", [10**30, 2**63 - 1, MAX_TOKENS + 1])
def test_huge_total_tokens_are_refused(tmp_path, total):
    path = _write(tmp_path, [[["1"], 600, "1"], [["1"], total, "1"]])
    with pytest.raises(StoreError, match=r"question 0: key 'each_branch': branch 1: total_tokens is .*at most"):
        load_store(path)


def test_huge_probe_freq_is_refused(tmp_path):
    with pytest.raises(StoreError, match=r"question 0: key 'probe_freq' is .* at most"):
        load_store(_write(tmp_path, [[["1"], 600, "1"]], probe_freq=2**62))
    with pytest.raises(StoreError, match="at most"):
        load_store(_write(tmp_path, [[["1"], 600, "1"]], probe_freq=MAX_PROBE_FREQ + 1))


def test_probes_spanning_too_many_tokens_are_refused(tmp_path):
    probes = ["1"] * 2000
    with pytest.raises(StoreError, match=r"branch 0: 2,000 probes every 1,000,000,000 tokens span"):
        load_store(_write(tmp_path, [[probes, 10, "1"]], probe_freq=MAX_PROBE_FREQ))


def test_the_largest_allowed_numbers_load(tmp_path):
    store = load_store(_write(tmp_path, [[["1"], MAX_TOKENS, "1"]], probe_freq=MAX_PROBE_FREQ))
    assert store.questions[0].branches[0].total_tokens == MAX_TOKENS
    # the bound keeps the worst episode's charge inside int64
    assert MAX_BRANCHES * 2 * MAX_TOKENS < 2**63


def test_a_branch_of_the_wrong_length_says_its_length(tmp_path):
    with pytest.raises(StoreError, match=r"branch 0: must be a list of 3 items .*got a list of 2$"):
        load_store(_write(tmp_path, [[["1"] * 50, 600]]))
