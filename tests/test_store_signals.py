"""Stores that carry signals: `signals.confidence` loads, validates and names every malformed case."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from ttsc.errors import StoreError
from ttsc.runtime.store import load_store
from tests.test_store import question, write

CONF = {"confidence": [[1.5, 2, None], [0.25]]}  # branch 0 has 2 probes, branch 1 none


def test_confidence_loads_per_branch_with_null_as_nan(tmp_path: Path) -> None:
    store = load_store(write(tmp_path, [question(signals=CONF), question(signals=CONF)]))
    b0, b1 = store.questions[0].branches
    assert b0.confidence[:2] == (1.5, 2.0) and math.isnan(b0.confidence[2])
    assert all(type(x) is float for x in b0.confidence)
    assert b1.confidence == (0.25,)
    assert store.signals == frozenset({"confidence"}) == store.questions[1].signals


def test_stores_without_signals_load_as_before(tmp_path: Path) -> None:
    store = load_store(write(tmp_path, [question()]))
    assert store.signals == frozenset() and all(b.confidence is None for b in store.questions[0].branches)
    # an empty `signals` object carries nothing
    assert load_store(write(tmp_path, [question(signals={})], "empty.json")).signals == frozenset()


def test_a_store_provides_a_signal_only_when_every_question_carries_it(tmp_path: Path) -> None:
    store = load_store(write(tmp_path, [question(signals=CONF), question()]))
    assert store.questions[0].signals == frozenset({"confidence"}) and store.signals == frozenset()


BAD_SIGNALS = [
    # (the question's `signals`, what the message must hold after "question 3: key 'signals'")
    ([1.0], ": must be an object, got a list"),
    ({"confidance": []}, ": unknown signal 'confidance'; a store may carry 'confidence'"),
    ({"confidence": {"0": [1.0]}}, ": key 'confidence': must be a list with one list per branch, got an object"),
    ({"confidence": [[1.0, 1.0, 1.0]]}, ": key 'confidence': holds 1 lists for 2 branches; it must hold one per "
                                        "branch, in the order of 'each_branch'"),
    ({"confidence": [[1.0, 1.0, 1.0], 0.5]}, ": key 'confidence': branch 1: must be a list of 1 confidences (one per "
                                             "probe, then the final stretch), got a number 0.5"),
    ({"confidence": [[1.0, 1.0], [0.5]]}, ": key 'confidence': branch 0: holds 2 confidences for a branch with 2 "
                                          "probes; it must hold 3 (one per probe, then the final stretch)"),
    ({"confidence": [[1.0, 1.0, 1.0], []]}, ": key 'confidence': branch 1: holds 0 confidences for a branch with 0 "
                                            "probes; it must hold 1"),
    ({"confidence": [[1.0, True, 1.0], [0.5]]}, ": key 'confidence': branch 0: confidence 1 must be a number or null, "
                                                "got a boolean True"),
    ({"confidence": [[1.0, 1.0, "2.5"], [0.5]]}, ": key 'confidence': branch 0: confidence 2 must be a number or "
                                                 "null, got a string '2.5'"),
    ({"confidence": [[1.0, 1.0, 1.0], [-0.5]]}, ": key 'confidence': branch 1: confidence 0 is -0.5; a confidence is "
                                                "a number from 0 to 1e+06"),
    ({"confidence": [[1.0, 2e6, 1.0], [0.5]]}, ": key 'confidence': branch 0: confidence 1 is 2000000.0; a "
                                               "confidence is a number from 0 to 1e+06"),
]


@pytest.mark.parametrize(("signals", "message"), BAD_SIGNALS)
def test_malformed_signals_name_file_question_branch_and_key(tmp_path: Path, signals: Any, message: str) -> None:
    path = write(tmp_path, [question(signals=CONF)] * 3 + [question(signals=signals)])
    with pytest.raises(StoreError) as err:
        load_store(path)
    assert str(err.value).startswith(f"{path}: question 3: key 'signals'")
    assert message in str(err.value), str(err.value)


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_confidences_are_refused(tmp_path: Path, literal: str) -> None:
    """Python's JSON reader accepts these literals; a store may not hold them (unknown is `null`)."""
    text = json.dumps([question(signals={"confidence": [[1.0, 1.0, 0.0], [0.5]]})]).replace("0.0]", literal + "]")
    path = write(tmp_path, text)
    with pytest.raises(StoreError, match=r"question 0: key 'signals': key 'confidence': branch 0: confidence 2 is"):
        load_store(path)
