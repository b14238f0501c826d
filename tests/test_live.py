"""The live environment over the scripted token-stream backend gives exactly the replay outcomes of the
store those streams amount to: answers, tokens and sequential tokens on the interpreter and batched engines."""

from __future__ import annotations

import random

import numpy as np
import pytest

from tests.conftest import ROOT
from ttsc.compiler.engines import run_env
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.runtime.live.env import Completion, LiveConfig, LiveEnvironment
from ttsc.runtime.live.extract import Extractor
from ttsc.runtime.live.grade import grader
from ttsc.runtime.live.scripted import PROBE_TOKENS, Stream, backend_for, store_of
from ttsc.runtime.live.testing import live_expressible
from ttsc.runtime.params import bind_params
from ttsc.runtime.replay import ReplayEnvironment

STRATEGIES = ("sc", "asc", "esc", "parallel_probe", "cmc")
FIELDS = ("answers", "correct", "tokens", "sequential", "rounds", "opened", "pruned", "stop_line")
SEEDS = (0, 1, 7)
DELTA = 10
CAP = 95  # --max-branch-tokens: not a multiple of Δ, so a capped branch ends inside an interval


def _strategy(name: str):
    src = read_source(ROOT / "strategies" / f"{name}.tts")
    return check(parse_source(src), src)


def _streams(rng: random.Random, gold: str) -> list[Stream]:
    """Branches of every shape: EOS inside an interval, on a boundary, at once; capped at CAP without EOS."""
    out = []
    for _ in range(rng.randint(6, 20)):
        length = rng.choice([0, DELTA, 2 * DELTA, rng.randint(1, 120), rng.randint(1, 60)])
        answers = [gold, str(rng.randint(0, 3)), str(rng.randint(0, 3))]
        probes = tuple((p, rng.choice(answers)) for p in range(DELTA, 200, DELTA))
        out.append(Stream(length, probes, rng.choice(answers), eos=rng.random() < 0.85))
    return out


def _case(n_questions: int = 12, seed: int = 0):
    rng = random.Random(seed)
    qs = [(f"q{i}", str(rng.randint(0, 3)), _streams(rng, str(rng.randint(0, 3)))) for i in range(n_questions)]
    # A stream without EOS must reach the cap.
    qs = [(t, g, [s if s.eos else Stream(max(s.length, CAP), s.probes, s.final, False) for s in ss])
          for t, g, ss in qs]
    store = store_of(qs, DELTA, CAP)
    backend = backend_for([ss for _, _, ss in qs], SEEDS)
    env = LiveEnvironment(backend, [t for t, _, _ in qs], [g for _, g, _ in qs], SEEDS,
                          LiveConfig(interval=DELTA, max_branch_tokens=CAP, max_branches=64),
                          capacity=backend.capacity)
    return store, env, backend


def test_streams_cover_every_shape() -> None:
    store, _, _ = _case()
    branches = [(b, q.probe_freq) for q in store.questions for b in q.branches]
    assert any(b.total_tokens % d and b.total_tokens < CAP for b, d in branches)  # EOS inside an interval
    assert any(b.total_tokens % d == 0 and 0 < b.total_tokens < CAP for b, d in branches)  # EOS on a boundary
    assert any(b.total_tokens == 0 for b, d in branches)
    assert any(b.total_tokens == CAP for b, d in branches)  # capped
    assert live_expressible(store)


@pytest.mark.parametrize("engine", ["interpret", "batched"])
@pytest.mark.parametrize("name", STRATEGIES)
def test_live_over_scripted_streams_gives_the_replay_outcomes(name, engine) -> None:
    checked = _strategy(name)
    params = bind_params(checked)
    store, live, backend = _case()
    replay = run_env(checked, params, ReplayEnvironment(store, SEEDS), engine)
    calls = []
    for method in ("take", "advance"):
        inner = getattr(live, method)
        setattr(live, method, lambda *a, inner=inner: calls.append(a[0].size) or inner(*a))
    got = run_env(checked, params, live, engine)
    for f in FIELDS:
        assert np.array_equal(getattr(replay, f), getattr(got, f)), f
    assert 0 < replay.correct.sum() < replay.correct.size
    # Reasoning tokens are the protocol's cost; probes are counted apart, one per probe request.
    assert np.array_equal(live.usage.reasoning.reshape(got.tokens.shape), got.tokens)
    probes = sum(1 for b in backend.batches for r in b if r.probe)
    assert live.usage.probe.sum() == PROBE_TOKENS * probes
    # Each environment call is one backend call generating for all its branches, then one for the probes.
    assert 0 < len(backend.batches) <= 2 * len(calls)
    if engine == "batched":  # every episode's branches in one call
        assert max(len(b) for b in backend.batches) > len(store.questions)


def test_pruning_and_reads_are_exercised() -> None:
    store, live, backend = _case()
    pp = _strategy("parallel_probe")
    events = []
    params = bind_params(pp, {"prune_patience": 2, "warm_up": 0})
    got = run_env(pp, params, live, "batched", trace=lambda row, ev: events.append(ev))
    assert any(ev.action == "prune" for ev in events)
    replay = run_env(pp, params, ReplayEnvironment(store, SEEDS), "interpret")
    for f in FIELDS:
        assert np.array_equal(getattr(replay, f), getattr(got, f)), f
    _, live, backend = _case()
    sc = _strategy("sc")
    run_env(sc, bind_params(sc), live, "batched")
    gen = [r for b in backend.batches for r in b if not r.probe]
    assert gen and all(r.max_tokens == CAP for r in gen)  # read whole: generate to the end


def test_extractor() -> None:
    box = Extractor()
    assert box("so \\boxed{1} then \\boxed{\\frac{1}{2}} done") == "\\frac{1}{2}"
    assert box("answer: \\boxed{ 42") == "42"  # a probe cut short
    assert box("no answer") is None and box("\\boxed{}") is None
    assert Extractor("regex:answer is (\\d+)")("answer is 3, answer is 4") == "4"
    with pytest.raises(TtscError, match="regular expression"):
        Extractor("regex:(")
    with pytest.raises(TtscError, match="boxed"):
        Extractor("json")


def test_graders() -> None:
    math, exact = grader("math"), grader("exact")
    assert math("\\frac{1}{2}", "0.5") and math("1/2", "\\frac{1}{2}") and not math("3", "4")
    assert exact("12", " 12 ") and not exact("12.0", "12") and not exact(None, "1")
    assert not math(None, "1") and not math("1", None)
    with pytest.raises(TtscError, match="grader"):
        grader("fuzzy")


def test_the_default_prompt_is_the_question_and_a_single_braced_boxed_instruction() -> None:
    """The template is filled by replacing {question}, not by str.format: its braces are literal."""
    seen = []

    class Echo:
        name = "echo"

        def generate(self, requests):
            seen.extend(requests)
            return [Completion(" \\boxed{4}", None, 3, ended=True) for _ in requests]

    env = LiveEnvironment(Echo(), ["What is 2+2?"], ["4"], [0], LiveConfig(interval=8))
    env.take(np.array([0]), np.array([1]), False)
    assert seen[0].prompt == ("What is 2+2?\nPlease reason step by step, and put your final answer within "
                              "\\boxed{}.\n")
