"""Both compiled engines (native kernels and batched numpy policies) agree exactly with the interpreter.

Per episode, not just on average: the same answer, tokens, sequential tokens,
rounds, branches opened and pruned, and stopping line — on the five reference
strategies over real stores, on the feature programs of tests/golden/programs,
on hundreds of generated programs over small adversarial stores (identical
branches, branches that finish at once, ties, a single branch, fewer branches
than asked for), and on a fixed sample of unbounded ones (64-bit edges, inf and
NaN, set-valued `if`, parameters off their defaults, many answers, sometimes
1,024+ episodes). `python -m benchmarks.fuzz` runs longer random samples.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from tests.gen_programs import programs, tiny_stores, wild_cases
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.parser import parse_source
from ttsc.errors import TtscError
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import Branch, Question, Store, load_store

from tests.conftest import ROOT, synthetic_store_path

FIELDS = ("answers", "correct", "tokens", "sequential", "rounds", "opened", "pruned", "stop_line")


def _program(text: str, name: str = "<gen>"):
    src = Source(name, text)
    return check(parse_source(src), src)


def assert_same(a, b, context: str = "", engine: str = "compiled") -> None:
    for f in FIELDS:
        x, y = getattr(a, f), getattr(b, f)
        if not np.array_equal(x, y):
            bad = np.argwhere(x != y)[0]
            raise AssertionError(f"{context}: `{f}` differs at seed/question {tuple(bad)}: "
                                 f"interpreter {x[tuple(bad)]!r}, {engine} {y[tuple(bad)]!r}")


def assert_engines_agree(checked, params, store, seeds, context: str = "") -> None:
    reference = run(checked, params, store, seeds, engine="interpret")
    for engine in ("compiled", "batched"):
        assert_same(reference, run(checked, params, store, seeds, engine=engine), context, engine)


def assert_engines_agree_or_refuse(checked, params, store, seeds, context: str = "") -> None:
    """Like assert_engines_agree; a run the interpreter refuses (a TtscError: a limit) every engine refuses."""
    try:
        run(checked, params, store, seeds, engine="interpret")
    except TtscError as refused:
        for engine in ("compiled", "batched"):
            with pytest.raises(TtscError):
                run(checked, params, store, seeds, engine=engine)
                raise AssertionError(f"{context}: the interpreter refused ({refused}), {engine} ran")
        return
    assert_engines_agree(checked, params, store, seeds, context)


@pytest.mark.parametrize("name", ["sc", "asc", "esc", "parallel_probe", "cmc"])
def test_reference_strategies_agree_on_the_bundled_store(name):
    checked = _program((ROOT / "strategies" / f"{name}.tts").read_text(), f"{name}.tts")
    store = load_store(synthetic_store_path())
    assert_engines_agree(checked, bind_params(checked), store, range(6), name)


@pytest.mark.parametrize("name,params", [
    ("cmc", {"beta": 0.0}), ("cmc", {"beta": 0.7}), ("parallel_probe", {"num_chains": 8, "warm_up": 3, "T": 5,
                                                                        "prune_patience": 2}),
    ("asc", {"max_samples": 16, "threshold": 0.8}), ("esc", {"max_samples": 40, "window_size": 5}),
    ("sc", {"n": 5}),
])
def test_reference_strategies_agree_on_a_real_store(shared, name, params):
    checked = _program((ROOT / "strategies" / f"{name}.tts").read_text(), f"{name}.tts")
    store = load_store(shared / "replay" / "autotts" / "Qwen3-1.7B" / "hmmt25.json")
    assert_engines_agree(checked, bind_params(checked, params), store, range(3), f"{name} {params}")


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=programs(), store=tiny_stores())
def test_generated_programs_agree(text, store):
    checked = _program(text)
    try:
        params = bind_params(checked)
    except TtscError:
        return  # a limit refused these parameters; every engine refuses alike (bind_params is shared)
    assert_engines_agree(checked, params, store, range(3), "\n" + text)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(text=programs(signals=True), store=tiny_stores(signals=True))
def test_generated_programs_reading_confidence_agree(text, store):
    """Programs that may read `last_conf`, on stores whose branches carry confidences (NaN among them)."""
    checked = _program(text)
    try:
        params = bind_params(checked)
    except TtscError:
        return
    assert_engines_agree(checked, params, store, range(3), "\n" + text)


@settings(max_examples=30, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(case=wild_cases())
def test_unbounded_programs_agree(case):
    """No clamping: 64-bit edges, inf and NaN, set-valued `if`, big stores, parameters off their defaults."""
    text, overrides, store, seeds = case
    checked = _program(text)
    try:
        params = bind_params(checked, overrides)
    except TtscError:
        return  # out of range for a bound the program itself computes; bind_params is shared by every engine
    assert_engines_agree_or_refuse(checked, params, store, seeds, f"{overrides}\n{text}")


GOLDEN_PROGRAMS = sorted((ROOT / "tests" / "golden" / "programs").glob("*.tts"))


@pytest.mark.parametrize("path", GOLDEN_PROGRAMS, ids=lambda p: p.stem)
def test_feature_programs_agree(path):
    """The feature programs (every declaration, statement and expression form) on every engine."""
    checked = _program(path.read_text(), path.name)
    params = bind_params(checked)
    assert_engines_agree(checked, params, load_store(synthetic_store_path()), range(3), path.name)
    assert_engines_agree(checked, params, tiny_store(), range(4), f"{path.name} on a tiny store")


def tiny_store() -> Store:
    """Three small questions: branches that tie, repeat each other, finish at once or at different depths."""
    q1 = Question(text="a", gold="1", probe_freq=10, branches=(
        Branch(("1", "2", "1"), 35, "1"), Branch(("2",), 12, "2"), Branch((), 0, "3"),
        Branch(("3", "3", "3", "3"), 40, "3"), Branch(("1", "1"), 20, "1"), Branch(("2",), 5, "2")))
    q2 = Question(text="b", gold="2", probe_freq=7, branches=(
        Branch(("2", "2"), 14, "2"), Branch(("ERR", "1", "2"), 30, "2")))
    same = Branch(("1", "3"), 9, "3")
    q3 = Question(text="c", gold="3", probe_freq=4, branches=(same, same, same))
    return Store(name="tiny", path="<tiny>", questions=(q1, q2, q3), meta={"synthetic": True})
