"""Engines over the environment protocol: a scripted environment gives the replay numbers, traces from any
engine agree, and the native engine refuses what it cannot do."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT, synthetic_store_path
from ttsc.compiler.engines import run_env
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.insight.trace import record, record_episode
from ttsc.runtime.params import bind_params
from ttsc.runtime.replay import ReplayEnvironment, non_answers
from ttsc.runtime.scripted import ScriptedEnvironment, Trajectory
from ttsc.runtime.store import Store, load_store
from ttsc.runtime.tables import shuffled_order

STRATEGIES = ("sc", "asc", "esc", "parallel_probe", "cmc")
FIELDS = ("answers", "correct", "tokens", "sequential", "rounds", "opened", "pruned", "stop_line")
SEEDS = (0, 1, 5)


def _strategy(name: str):
    src = read_source(ROOT / "strategies" / f"{name}.tts")
    return check(parse_source(src), src)


def scripted_from(store: Store, seeds) -> ScriptedEnvironment:
    """The store's episodes as a script: what a live server would report generating each branch."""
    episodes = []
    for seed in seeds:
        for q in store.questions:
            d = q.probe_freq
            episodes.append([Trajectory(chunks=tuple((a, d) for a in b.probes),
                                        final=(b.final_answer, max(0, b.total_tokens - d * len(b.probes))),
                                        whole_tokens=b.total_tokens, confidence=b.confidence)
                             for b in (q.branches[i] for i in shuffled_order(len(q.branches), seed))])
    return ScriptedEnvironment(episodes, [q.gold for q in store.questions], seeds,
                               intervals=[q.probe_freq for q in store.questions], non_answers=non_answers(store))


@pytest.fixture(scope="module")
def store() -> Store:
    return load_store(synthetic_store_path())


@pytest.mark.parametrize("engine", ["interpret", "batched"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_scripted_environment_gives_the_replay_outcomes(store, name, engine) -> None:
    checked = _strategy(name)
    params = bind_params(checked)
    replay = run_env(checked, params, ReplayEnvironment(store, SEEDS), engine)
    scripted = run_env(checked, params, scripted_from(store, SEEDS), engine)
    for f in FIELDS:
        assert np.array_equal(getattr(replay, f), getattr(scripted, f)), f
    assert 0 < replay.correct.sum() < replay.correct.size  # grading is exercised both ways


@pytest.mark.parametrize("name", STRATEGIES)
def test_batched_trace_equals_the_interpreters(store, name) -> None:
    checked = _strategy(name)
    params = bind_params(checked)
    logs = {}
    for engine in ("interpret", "batched"):
        events: dict[int, list] = {}
        run_env(checked, params, scripted_from(store, (0, 3)), engine,
                trace=lambda row, ev: events.setdefault(row, []).append(ev))
        logs[engine] = events
    assert logs["interpret"] == logs["batched"]
    assert sorted(logs["batched"]) == list(range(2 * len(store.questions)))  # every episode acted
    if name == "parallel_probe":
        assert any(ev.action == "prune" for evs in logs["batched"].values() for ev in evs)


def test_traces_record_any_environment(store) -> None:
    checked = _strategy("cmc")
    params = bind_params(checked)
    q = store.questions[3]
    replay = record(checked, params, q, 2, question_index=3)
    scripted = record_episode(checked, params, scripted_from(store, (1, 2)), len(store.questions) + 3,
                              gold=q.gold, probe_freq=q.probe_freq)
    assert replay == scripted


def test_native_runs_on_replay_only(store) -> None:
    checked = _strategy("sc")
    with pytest.raises(TtscError, match="replay stores only.*batched engine"):
        run_env(checked, bind_params(checked), scripted_from(store, (0,)), "compiled")
    with pytest.raises(TtscError, match="does not record traces"):
        run_env(checked, bind_params(checked), ReplayEnvironment(store, (0,)), "compiled", trace=lambda r, e: None)
