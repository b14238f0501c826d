"""`ttsc bench --live` against the fake OpenAI-compatible model on loopback: every token it reports is one the
server generated, the plain run matches the live run's size, and `benchmarks/live.py` wraps it."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from tests.live_support import FaultProxy, fake_model
from ttsc.cli.main import cli

ARGS = ["--questions", "2", "--interval", "8", "--set", "num_chains=3", "--set", "warm_up=0", "--model", "m"]


@pytest.fixture(scope="module")
def model():
    srv, url = fake_model()
    yield url
    srv.shutdown()


def test_bench_live_accounts_for_every_generated_token(model) -> None:
    proxy = FaultProxy(model, every=0)
    try:
        r = CliRunner().invoke(cli, ["bench", "--live", "--base-url", proxy.url, "--format", "json", *ARGS],
                               catch_exceptions=False)
    finally:
        proxy.close()
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    live, plain = out["live"], out["plain"]
    assert out["strategy"] == "parallel_probe" and out["params"]["num_chains"] == 3 and out["questions"] == 2
    # 2 questions x 3 chains of 38 tokens (37 words and the boxed answer), probed 2 tokens after each of the
    # 4 full intervals of 8 before the end
    assert live["generated_tokens"] == 2 * 3 * (38 + 4 * 2)
    assert 0 <= live["controller_share"] < 1
    assert live["controller_within_target"] == (live["controller_share"] < 0.05)
    assert 0 < live["backend_s"] <= live["wall_s"]
    assert plain["requests"] == live["requests"] > 0
    assert plain["tokens_per_request"] == round(live["generated_tokens"] / live["requests"])
    assert plain["generated_tokens"] == plain["requests"] * plain["tokens_per_request"]
    assert live["generated_tokens"] + plain["generated_tokens"] == proxy.usage["completion_tokens"]
    assert out["live_vs_plain_throughput"] == round(live["tokens_per_s"] / plain["tokens_per_s"], 3)


def test_bench_live_table(model) -> None:
    r = CliRunner().invoke(cli, ["bench", "--live", "--base-url", model, *ARGS], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "controller share of wall time" in r.output and "target" in r.output and "plain:" in r.output


def test_bench_without_live_says_what_to_run() -> None:
    r = CliRunner().invoke(cli, ["bench"])
    assert r.exit_code == 2 and "python -m benchmarks.bench" in r.output and "ttsc bench --live" in r.output
    r = CliRunner().invoke(cli, ["bench", "--live", "--base-url", "http://127.0.0.1:9"])
    assert r.exit_code == 2 and "--model" in r.output


def test_benchmarks_live_wraps_the_command(model, capsys) -> None:
    from benchmarks.live import main

    assert main(["--base-url", model, *ARGS]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["live"]["generated_tokens"] == 2 * 3 * (38 + 4 * 2) and out["plain"]["requests"] > 0
