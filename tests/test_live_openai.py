"""The openai backend and `ttsc run` against a fake OpenAI-compatible model on loopback, with and without faults."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from tests.live_support import FaultProxy, fake_model, free_port
from ttsc.cli.main import cli


FAST = ["--interval", "10", "--max-branch-tokens", "200", "--retries", "6", "--grader", "exact"]


@pytest.fixture(scope="module")
def model():
    srv, url = fake_model()
    yield url
    srv.shutdown()


def _run(*args: str):
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def _dataset(tmp_path, n: int):
    path = tmp_path / "qs.jsonl"
    path.write_text("".join(json.dumps({"question": f"What is {i} + 4 - {i}?", "answer": "4"}) + "\n"
                            for i in range(n)))
    return str(path)


@pytest.mark.parametrize("strategy", ["sc", "parallel_probe"])
def test_run_counts_every_token_the_server_reports(model, tmp_path, strategy) -> None:
    proxy = FaultProxy(model, every=0)
    try:
        r = _run(strategy, "--set", "num_chains=3" if strategy == "parallel_probe" else "n=3",
                 "--backend", "openai", "--model", "m", "--base-url", proxy.url, "--dataset", _dataset(tmp_path, 3),
                 "--format", "json", *FAST)
    finally:
        proxy.close()
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert [x["answer"] for x in out["results"]] == ["4"] * 3 and out["summary"]["accuracy"] == 100.0
    s = out["summary"]
    assert s["reasoning_tokens"] + s["probe_tokens"] == proxy.usage["completion_tokens"] > 0
    assert sum(x["prompt_tokens"] for x in out["results"]) == proxy.usage["prompt_tokens"]
    if strategy == "sc":  # read whole: 37 words and the boxed answer, 3 branches, no probe needed
        assert all(x["reasoning_tokens"] == 3 * 38 and x["probe_tokens"] == 0 for x in out["results"])
    else:  # interval 10: probed after 10, 20, 30; ends in the 4th interval
        assert all(x["probe_tokens"] == 3 * 3 * 2 and x["sequential_tokens"] == 38 for x in out["results"])


def test_faults_are_survived_and_counted(model, tmp_path, capsys) -> None:
    proxy = FaultProxy(model, every=3, delay=4.0)
    try:
        r = _run("parallel_probe", "--set", "num_chains=2", "--backend", "openai", "--model", "m",
                 "--base-url", proxy.url, "--dataset", _dataset(tmp_path, 2), "--format", "json", *FAST,
                 "--timeout", "2")
    finally:
        proxy.close()
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    survived = out["summary"]["faults_survived"]
    with capsys.disabled():
        print(f"\nfaults injected {proxy.injected}; survived {survived}; {proxy.late} genuine timeouts")
    assert set(proxy.injected) == {"drop", "delay", "500", "429", "truncate"}
    assert survived.get("timeout", 0) == proxy.injected["delay"] + proxy.late
    assert sum(survived.values()) == sum(proxy.injected.values()) + proxy.late
    assert [x["answer"] for x in out["results"]] == ["4", "4"]
    assert out["summary"]["reasoning_tokens"] + out["summary"]["probe_tokens"] == proxy.usage["completion_tokens"]


def test_exhausted_retries_name_server_and_request(tmp_path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    r = CliRunner().invoke(cli, ["run", "sc", "--backend", "openai", "--model", "m", "--base-url", url,
                                 "--question", "1+1?", "--retries", "1"])
    assert r.exit_code == 2
    assert re.search(f"server {url}: generation of question 0, seed 0, branch \\d+, interval 0", r.output)
    assert "failed after 2 attempts" in r.output and "connection" in r.output
    assert "Traceback" not in r.output


def test_client_errors_are_not_retried(tmp_path) -> None:
    proxy = FaultProxy("http://127.0.0.1:9", every=1, kinds=("400",))
    try:
        r = CliRunner().invoke(cli, ["run", "sc", "--set", "n=1", "--backend", "openai", "--model", "m",
                                     "--base-url", proxy.url, "--question", "1+1?", "--retries", "2"])
    finally:
        proxy.close()
    assert r.exit_code == 2 and "HTTP 400" in r.output and proxy.seen == 1


def test_questions_spread_over_servers_and_resume(model, tmp_path) -> None:
    a, b = FaultProxy(model, every=0), FaultProxy(model, every=0)
    out = tmp_path / "res.jsonl"
    data = _dataset(tmp_path, 4)
    try:
        args = ["sc", "--set", "n=2", "--backend", "openai", "--model", "m", "--base-url", a.url,
                "--base-url", b.url, "--dataset", data, "--out", str(out), "--batch-questions", "1", *FAST]
        assert _run(*args).exit_code == 0
        assert a.usage["responses"] == b.usage["responses"] == 4  # questions 0, 2 on a; 1, 3 on b
        lines = out.read_text().splitlines()
        assert [json.loads(x)["index"] for x in lines] == [0, 1, 2, 3]
        r = _run(*args)
        assert r.exit_code == 2 and "--resume" in r.output
        # a torn last line (a run killed mid-write) and a missing question: resume redoes only that one
        out.write_text("\n".join(lines[:2]) + "\n" + lines[2][:10])
        r = _run(*args, "--resume")
        assert r.exit_code == 0, r.output
        assert [json.loads(x)["index"] for x in out.read_text().splitlines()] == [0, 1, 2, 3]
        assert a.usage["responses"] + b.usage["responses"] == 8 + 4  # questions 2 and 3 again, 2 branches each
    finally:
        a.close()
        b.close()


def test_bad_dataset_and_options(tmp_path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "ok"}\n{"q": 1}\n')
    r = CliRunner().invoke(cli, ["run", "sc", "--backend", "openai", "--model", "m", "--base-url", "http://x",
                                 "--dataset", str(bad)])
    assert r.exit_code == 2 and "bad.jsonl:2" in r.output
    r = CliRunner().invoke(cli, ["run", "sc", "--backend", "openai", "--model", "m", "--question", "q"])
    assert r.exit_code == 2 and "--base-url" in r.output
    r = CliRunner().invoke(cli, ["run", "sc", "--backend", "openai", "--model", "m", "--base-url", "ftp://x",
                                 "--question", "q"])
    assert r.exit_code == 2 and "http://" in r.output


def test_traces_record_every_action(model, tmp_path) -> None:
    r = _run("parallel_probe", "--set", "num_chains=2", "--set", "warm_up=0", "--backend", "openai", "--model", "m",
             "--base-url", model, "--dataset", _dataset(tmp_path, 2), "--traces", str(tmp_path / "tr"), *FAST)
    assert r.exit_code == 0, r.output
    recs = [json.loads(x) for x in (tmp_path / "tr" / "parallel_probe.live.jsonl").read_text().splitlines()]
    assert [x["index"] for x in recs] == [0, 1]
    for rec in recs:
        acts = [e["action"] for e in rec["events"]]
        assert acts[0] == "open" and "advance" in acts
        assert sum(sum(e["tokens"]) for e in rec["events"]) == 38 * 2  # every reasoning token, once
