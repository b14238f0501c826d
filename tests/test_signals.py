"""The `confidence` signal end to end: environments report it per reveal, `last_conf` reads it on every
engine, a program that reads it is refused where it is missing, and the DeepConf-lite example runs."""

from __future__ import annotations

import math
import random
from dataclasses import replace

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, synthetic_store_path
from tests.test_differential import FIELDS, assert_engines_agree, assert_same
from tests.test_env import scripted_from
from ttsc.cli.main import cli
from ttsc.compiler.engines import run, run_env
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.insight.trace import record
from ttsc.runtime.params import bind_params
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.scripted import Trajectory
from ttsc.runtime.store import Store, load_store

CONF_STORE = ROOT / "tests" / "conformance" / "stores" / "confidence.json"
DEEPCONF = ROOT / "docs" / "examples" / "deepconf.tts"
READS = "strategy reads\nopen 2\nstop weighted(live, last_conf)\n"


def _checked(text: str, name: str = "<test>"):
    src = Source(name, text)
    return check(parse_source(src), src)


def _same(a, b) -> bool:
    return np.array_equal(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64), equal_nan=True)


@pytest.mark.parametrize("make", [lambda s: ReplayEnvironment(s, (0,)), lambda s: scripted_from(s, (0,))],
                         ids=["replay", "scripted"])
def test_each_reveal_reports_the_confidence_of_the_last_interval_it_showed(make) -> None:
    # seed 0 hands out b2 [3, NaN], b0 [5, 4, 6], b1 [1, 0.5, 0.25, 2], b3 [0.75]
    env = make(load_store(CONF_STORE))
    assert env.signals == frozenset({"confidence"})
    one = np.array([0], dtype=np.int64)
    opened = env.take(one, np.array([2]), whole=False)  # the first interval of b2 and b0
    assert _same(opened.confidence, [3.0, 5.0])
    moved = env.advance(np.array([0, 0]), np.array([0, 1]), np.array([2, 1]))  # b2 to its end; b0 one interval
    assert moved.finished.tolist() == [True, False] and _same(moved.confidence, [math.nan, 4.0])
    moved = env.advance(np.array([0]), np.array([1]), np.array([5]))  # b0's final stretch: it stops at its end
    assert moved.steps.tolist() == [1] and _same(moved.confidence, [6.0])
    read = env.take(one, np.array([2]), whole=True)  # b1 and b3 whole: their final stretches
    assert _same(read.confidence, [2.0, 0.75])


def test_environments_without_the_signal_report_none() -> None:
    store = load_store(synthetic_store_path())
    for env in (ReplayEnvironment(store, (0,)), scripted_from(store, (0,))):
        assert env.signals == frozenset()
        assert env.take(np.array([0]), np.array([1]), whole=False).confidence is None


def test_a_trajectory_carries_one_confidence_per_interval_and_one_for_its_final_stretch() -> None:
    Trajectory((("1", 10),), ("1", 3), 13, confidence=(1.0, 2.0))
    with pytest.raises(ValueError, match="a trajectory of 1 intervals has 2 confidences"):
        Trajectory((("1", 10),), ("1", 3), 13, confidence=(1.0,))


@pytest.mark.parametrize("engine", ["interpret", "batched", "compiled"])
def test_a_program_reading_a_missing_signal_is_refused_before_it_runs(engine) -> None:
    checked = _checked(READS, "reads.tts")
    assert checked.signals == {"confidence": "last_conf"}
    store = load_store(synthetic_store_path())
    with pytest.raises(TtscError, match=r"^`reads` reads `last_conf`, the `confidence` signal, but the store "
                                        rf"{store.path} does not provide it"):
        run(checked, {}, store, (0,), engine)
    if engine != "compiled":
        with pytest.raises(TtscError, match=r"the `confidence` signal, but this environment \(ScriptedEnvironment\)"):
            run_env(checked, {}, scripted_from(store, (0,)), engine)


def test_the_cli_refuses_it_with_one_line(tmp_path) -> None:
    path = tmp_path / "reads.tts"
    path.write_text(READS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["eval", str(path), "--env", str(synthetic_store_path()), "--seeds", "1"])
    assert result.exit_code == 2, result.output
    assert "reads `last_conf`, the `confidence` signal" in result.output and "Traceback" not in result.output
    ok = CliRunner().invoke(cli, ["eval", str(path), "--env", str(CONF_STORE), "--seeds", "2", "--format", "csv"])
    assert ok.exit_code == 0, ok.output


def test_programs_that_do_not_read_signals_ignore_them() -> None:
    """The same store with and without confidences gives the same outcomes to a program that does not read it."""
    store = load_store(CONF_STORE)
    plain = Store("plain", "", tuple(replace(q, branches=tuple(replace(b, confidence=None) for b in q.branches))
                                     for q in store.questions))
    checked = _checked("strategy p\nopen 2\nadvance active by 2\nread 1\nstop majority(completed)\n")
    for engine in ("interpret", "batched", "compiled"):
        assert_same(run(checked, {}, store, range(4), engine), run(checked, {}, plain, range(4), engine), engine)


def test_traces_show_any_program_reading_the_signal() -> None:
    store = load_store(CONF_STORE)
    checked = _checked((ROOT / "tests" / "conformance" / "confidence.tts").read_text(encoding="utf-8"))
    trace = record(checked, {}, store.questions[0], 1)
    assert trace.summary.answer == "7" and trace.summary.tokens == 81
    with pytest.raises(TtscError, match="the `confidence` signal"):
        record(checked, {}, load_store(synthetic_store_path()).questions[0], 1)


def with_confidence(store: Store, seed: int = 0) -> Store:
    """``store`` with an invented confidence per interval: lower, and falling, on branches that end wrong
    (so pruning by confidence has something to find), sometimes unknown."""
    rng = random.Random(seed)

    def conf(q, b) -> tuple[float, ...]:
        right = b.final_answer == q.gold
        values = []
        for k in range(len(b.probes) + 1):
            if rng.random() < 0.05:
                values.append(math.nan)
            else:
                level = 8.0 if right else 8.0 - 0.5 * k
                values.append(round(max(0.0, rng.gauss(level, 1.5)), 3))
        return tuple(values)

    return Store(f"{store.name}+confidence", store.path, tuple(
        replace(q, branches=tuple(replace(b, confidence=conf(q, b)) for b in q.branches)) for q in store.questions))


@pytest.fixture(scope="module")
def confident_store() -> Store:
    return with_confidence(load_store(synthetic_store_path()))


def test_deepconf_example_agrees_on_every_engine_and_environment(confident_store) -> None:
    src = read_source(DEEPCONF)
    checked = check(parse_source(src), src)
    for params in ({}, {"n": 8, "warmup": 2, "slack": 1.2}):
        bound = bind_params(checked, params)
        assert_engines_agree(checked, bound, confident_store, range(3), f"deepconf {params}")
        replay = run(checked, bound, confident_store, range(2), "interpret")
        for engine in ("interpret", "batched"):
            scripted = run_env(checked, bound, scripted_from(confident_store, range(2)), engine)
            assert_same(replay, scripted, f"deepconf {params} scripted", engine)


def test_deepconf_example_prunes_low_confidence_branches_and_saves_tokens(confident_store) -> None:
    src = read_source(DEEPCONF)
    checked = check(parse_source(src), src)
    pruning = run(checked, bind_params(checked), confident_store, range(4), "compiled")
    never = run(checked, bind_params(checked, {"slack": 0.0}), confident_store, range(4), "compiled")  # bar 0
    assert never.pruned.sum() == 0 < pruning.pruned.sum()
    assert pruning.tokens.mean() < never.tokens.mean()
    assert pruning.correct.mean() >= never.correct.mean() - 0.05  # pruning the unsure costs little accuracy


# ---- live: the signal comes from log-probabilities

def test_live_environment_provides_the_signal_only_when_it_asks_for_log_probabilities() -> None:
    from dataclasses import replace as dreplace
    from ttsc.runtime.live.testing import live_over_store
    store = load_store(CONF_STORE)
    checked = _checked(READS)
    env = live_over_store(store, range(2))
    assert env.signals == {"confidence"}
    replay = run(checked, bind_params(checked), store, range(2), "interpret")
    assert _same(run_env(checked, bind_params(checked), env, "batched").answers, replay.answers)
    env = live_over_store(store, range(2))
    env.config = dreplace(env.config, logprobs=0)
    env.signals = frozenset()  # as a live environment configured without log-probabilities is
    with pytest.raises(TtscError, match="last_conf"):
        run_env(checked, bind_params(checked), env, "batched")


def test_a_backend_that_returns_no_log_probabilities_when_asked_is_an_error() -> None:
    from ttsc.runtime.live.env import Completion, LiveConfig, LiveEnvironment

    class Mute:
        name = "mute"

        def generate(self, requests):
            return [Completion(" x", None, 1 if not r.probe else 2, ended=not r.probe) for r in requests]

    env = LiveEnvironment(Mute(), ["q"], ["1"], [0], LiveConfig(interval=4, logprobs=5))
    with pytest.raises(TtscError, match="no log-probabilities returned although 5 were asked for"):
        env.take(np.array([0]), np.array([1]), False)


def test_run_asks_for_log_probabilities_when_the_program_reads_the_signal() -> None:
    from ttsc.cli.run_cmd import DEFAULT_LOGPROBS, logprobs_for
    reads, plain = _checked(READS), _checked("strategy plain\nopen 2\nstop majority(live)\n")
    assert logprobs_for(reads, None) == DEFAULT_LOGPROBS and logprobs_for(plain, None) == 0
    assert logprobs_for(reads, 5) == 5 and logprobs_for(plain, 3) == 3
    with pytest.raises(TtscError, match="needs --logprobs > 0"):
        logprobs_for(reads, 0)


def test_a_trace_shows_the_confidence_a_program_reads() -> None:
    from ttsc.insight.render_trace import render_text

    store = load_store(CONF_STORE)
    reads = _checked("strategy reads\nopen 2\nadvance live\nstop weighted(live, last_conf)\n")
    trace = record(reads, bind_params(reads), store.questions[0], 0, env=store.name)
    # seed 0 opens b2 (first interval 3) and b0 (5); one advance finishes b2 (its final stretch: unknown)
    # and shows b0's second interval (4)
    assert [s.confidences for s in trace.steps] == [[3.0, 5.0], [None, 4.0]]
    text = render_text(trace)
    assert "b1:" in text and "@5.00" in text and "@4.00" in text and "last_conf" in text
    blind = _checked("strategy blind\nopen 2\nadvance live\nstop majority(live)\n")
    trace = record(blind, bind_params(blind), store.questions[0], 0, env=store.name)
    assert all(s.confidences == [] for s in trace.steps) and "last_conf" not in render_text(trace)
