"""The vllm backend against a stand-in that enforces vLLM's documented call surface (tests/vllm_standin)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from ttsc.compiler.engines import run_env
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.runtime.live.env import LiveConfig, LiveEnvironment
from ttsc.runtime.params import bind_params

STANDIN = Path(__file__).resolve().parent / "vllm_standin"


@pytest.fixture
def vllm(monkeypatch):
    monkeypatch.syspath_prepend(str(STANDIN))
    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    import vllm
    vllm.calls.clear()
    return vllm


def _strategy(name: str):
    src = read_source(ROOT / "strategies" / f"{name}.tts")
    return check(parse_source(src), src)


@pytest.mark.parametrize("name", ["parallel_probe", "sc"])
def test_one_generate_call_per_round_with_token_id_continuation(vllm, name) -> None:
    from ttsc.runtime.live.vllm import VLLMBackend

    backend = VLLMBackend("stand-in", seed=0, enable_prefix_caching=True)
    qs = [f"What is {i} + 4 - {i}?" for i in range(3)]
    env = LiveEnvironment(backend, qs, ["4"] * 3, (0,), LiveConfig(interval=8, max_branch_tokens=100, max_branches=4))
    checked = _strategy(name)
    out = run_env(checked, bind_params(checked, {"num_chains": 4} if name == "parallel_probe" else {"n": 4}), env,
                  "batched")
    assert out.answers.tolist() == [["4"] * 3] and out.correct.all()
    assert len(vllm.calls) == backend.calls == env.usage.calls
    assert max(len(p) for p, _ in vllm.calls) == 12  # every branch of every question in one call
    gen = [(p, sp) for ps, sps in vllm.calls for p, sp in zip(ps, sps) if sp.temperature != 0.0]
    assert all(isinstance(p, dict) and set(p) == {"prompt_token_ids"} for p, _ in gen)
    seeds = [sp.seed for _, sp in gen]
    assert len(set(seeds)) == len(seeds)  # a fresh seed per (question, branch, interval)
    # 30 reasoning tokens, " \boxed{4}" (10) and EOS: 41 per branch, counted with EOS as vLLM reports them
    assert (out.tokens == 4 * 41).all() and (env.usage.reasoning == 4 * 41).all()
    if name == "parallel_probe":
        assert backend.cached_tokens > 0  # continuations re-submit token ids: the prefix cache is reused
        assert (env.usage.probe == 4 * 5 * 3).all()  # probes after 8, 16, 24, 32, 40: "4}" and EOS each


def test_standin_enforces_the_surface(vllm) -> None:
    with pytest.raises(TypeError):
        vllm.LLM("m", data_parallel_size=2)
    with pytest.raises(TypeError):
        vllm.SamplingParams(guided_decoding=1)
    with pytest.raises(ValueError):
        vllm.LLM("m").generate(["a", "b"], [vllm.SamplingParams()])


def test_run_command_on_vllm(vllm, tmp_path) -> None:
    from ttsc.cli.main import cli

    r = CliRunner().invoke(cli, ["run", "esc", "--backend", "vllm", "--model", "stand-in", "--question", "2+2?",
                                 "--answer", "4", "--interval", "16", "--format", "json"])
    assert r.exit_code == 0, r.output
    res = json.loads(r.stdout)["results"][0]
    assert res["answer"] == "4" and res["correct"] is True and res["reasoning_tokens"] % 41 == 0
    r = CliRunner().invoke(cli, ["run", "sc", "--backend", "vllm", "--model", "m", "--base-url", "http://x",
                                 "--question", "q"])
    assert r.exit_code == 2 and "--base-url is for the openai backend" in r.output


def test_missing_vllm_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)
    from ttsc.errors import TtscError
    from ttsc.runtime.live.vllm import VLLMBackend
    with pytest.raises(TtscError, match="needs vLLM"):
        VLLMBackend("m")


@pytest.mark.parametrize("k", [3, 25])
def test_collect_on_vllm_reads_token_confidences(vllm, tmp_path, k) -> None:
    from ttsc.cli.main import cli

    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    out = tmp_path / "s.json"
    r = CliRunner().invoke(cli, ["collect", "--backend", "vllm", "--model", "stand-in", "--dataset", str(data),
                                 "--branches", "2", "--interval", "8", "--max-branch-tokens", "64",
                                 "--logprobs", str(k), "--no-progress", "--out", str(out)])
    assert r.exit_code == 0, r.output
    gen = [sp for _, sps in vllm.calls for sp in sps]
    assert {sp.logprobs for sp in gen if sp.temperature != 0.0} == {k}
    assert {sp.logprobs for sp in gen if sp.temperature == 0.0} == {None}  # probes ask for none
    q = json.loads(out.read_text())["questions"][0]
    # 41 tokens: probes after 8, 16, 24, 32, 40, then a final stretch of one token
    assert q["each_branch"] == [[["4"] * 5, 41, "4"]] * 2
    # the stand-in's token at position i has top-k log-probabilities -(j+1)(1 + i % 3)/10: confidence (k+1)(1+i%3)/20
    conf = [(k + 1) * (1 + i % 3) / 20 for i in range(41)]
    want = [round(sum(conf[a:a + 8]) / 8, 6) for a in range(0, 40, 8)] + [round(conf[40], 6)]
    assert q["signals"]["confidence"] == [want, want]


def test_standin_refuses_logprobs_above_max_logprobs(vllm) -> None:
    with pytest.raises(ValueError, match="max allowed"):
        vllm.LLM("m").generate(["a"], [vllm.SamplingParams(logprobs=21)])
    assert vllm.LLM("m", max_logprobs=30).generate(["a"], [vllm.SamplingParams(logprobs=21, max_tokens=2)])
