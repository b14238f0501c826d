"""The llm proposer against a scripted OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import synthetic_store_path
from ttsc.cli.loading import resolve_strategy
from ttsc.explorer import loop
from ttsc.explorer.llm import LLMProposer
from ttsc.explorer.program import front_end
from ttsc.errors import TtscError

CMC = Path(str(resolve_strategy("cmc"))).read_text(encoding="utf-8")
GOOD = "```tts\n" + CMC.replace("0.85 + 0.12", "0.86 + 0.12") + "```"
BAD = "```tts\nstrategy x\nparam beta: float = 0.5\nstop majority(nothing)\n```"


class Scripted:
    """Answers each request with the next scripted step: text, ("status", code) or ("sleep", seconds)."""

    def __init__(self, steps):
        self.steps = list(steps)
        self.requests: list[dict] = []
        script = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                script.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                step = script.steps.pop(0) if script.steps else BAD
                if isinstance(step, tuple) and step[0] == "status":
                    self.send_response(step[1])
                    self.end_headers()
                    self.wfile.write(b"{}")
                    return
                if isinstance(step, tuple) and step[0] == "sleep":
                    time.sleep(step[1])
                    step = GOOD
                out = json.dumps({"choices": [{"message": {"role": "assistant", "content": step}}],
                                  "usage": {"prompt_tokens": 10, "completion_tokens": 5}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                try:
                    self.wfile.write(out)
                except BrokenPipeError:  # the client gave up (the timeout test)
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self):
        self.server.shutdown()


@pytest.fixture
def cfg():
    return loop.Config(search=(str(synthetic_store_path()),), seed_text=CMC, seed_name="cmc", seeds=2, grid=(0.0, 1.0))


def propose(steps, cfg, monkeypatch, **kw):
    server = Scripted(steps)
    monkeypatch.setenv("TEST_KEY", "sekrit")
    try:
        p = LLMProposer(server.url, "m", "TEST_KEY", **kw)
        text, parents, what = p(np.random.default_rng(0), loop.State(), cfg)
        return text, what, server.requests, p
    finally:
        server.close()


def test_valid_answer(cfg, monkeypatch):
    text, what, reqs, p = propose([GOOD], cfg, monkeypatch)
    assert front_end(text).valid and what == "llm (0 repair(s))"
    assert reqs[0]["path"] == "/v1/chat/completions" and reqs[0]["auth"] == "Bearer sekrit"
    system = reqs[0]["body"]["messages"][0]["content"]
    assert "Language reference" in system and "strategy sc" in system
    assert p.tokens == {"prompt": 10, "completion": 5}


def test_invalid_then_repaired_gets_its_diagnostics_back(cfg, monkeypatch):
    text, what, reqs, _ = propose([BAD, GOOD], cfg, monkeypatch)
    assert front_end(text).valid and what == "llm (1 repair(s))"
    repair = reqs[1]["body"]["messages"][-1]["content"]
    assert "refused" in repair and "nothing" in repair


def test_never_valid_stops_after_the_repairs(cfg, monkeypatch):
    text, what, reqs, _ = propose([BAD] * 5, cfg, monkeypatch, max_repairs=2)
    assert not front_end(text).valid and "still refused after 2" in what and len(reqs) == 3


def test_timeout_and_http_error_end_the_attempt(cfg, monkeypatch):
    text, what, _, _ = propose([("sleep", 2.0)], cfg, monkeypatch, timeout=0.3)
    assert text == "" and "request failed" in what
    text, what, _, _ = propose([("status", 500)], cfg, monkeypatch)
    assert text == "" and "request failed" in what and "500" in what


def test_llm_search_records_every_outcome(cfg, monkeypatch, tmp_path):
    server = Scripted([GOOD, BAD, BAD, BAD, ("status", 503)])
    try:
        p = LLMProposer(server.url, "m", max_repairs=2)
        state = loop.search(cfg, tmp_path, p, budget_candidates=3)
    finally:
        server.close()
    assert [r["status"] for r in state.records] == ["scored", "invalid", "invalid"]
    assert "request failed" in state.records[2]["mutation"]
    (d,) = state.records[2]["diagnostics"]  # why it has no program, not "empty program"
    assert d["code"] == "X0003" and "503" in d["message"]


def test_a_server_that_never_answers_stops_the_search(cfg, tmp_path):
    """Three requests in a row with no answer end the search with an error; one in between does not."""
    server = Scripted([("status", 500), GOOD, ("status", 500), ("status", 502), ("status", 503)])
    try:
        with pytest.raises(TtscError, match=r"failed 3 requests in a row \(the last: HTTP 503.*--resume"):
            loop.search(cfg, tmp_path / "a", LLMProposer(server.url, "m", max_repairs=0), budget_candidates=50)
    finally:
        server.close()
    records = loop.recorded_state(tmp_path / "a", 1).records  # the third failure is recorded too
    assert [r["status"] for r in records] == ["invalid", "scored", "invalid", "invalid", "invalid"]
    assert json.loads((tmp_path / "a" / "stopped.json").read_text())["reason"] == "proposer-failed"
    # nothing listens on a closed port: connection refused, three times, and the CLI says so in one line
    import socket

    from click.testing import CliRunner

    from ttsc.cli.main import cli
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    out = CliRunner().invoke(cli, ["explore", "--search", cfg.search[0], "--out", str(tmp_path / "b"),
                                   "--proposer", "llm", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "m",
                                   "--budget-seconds", "60", "--workers", "1", "--search-seeds", "2", "-q"])
    assert out.exit_code == 2 and "failed 3 requests in a row" in out.stderr and "Traceback" not in out.output
    assert len(loop.recorded_state(tmp_path / "b", 1).records) == 3


@pytest.mark.parametrize("dialect", ["gbnf", "lark"])
def test_constrained_sends_the_grammar_in_the_servers_field(cfg, monkeypatch, dialect):
    from ttsc.dsl.parser import grammar_text
    from ttsc.explorer.gbnf import lark_to_gbnf
    bare = GOOD.removeprefix("```tts\n").removesuffix("```")  # under a grammar the reply is the program itself
    text, what, reqs, _ = propose([bare], cfg, monkeypatch, constrained=dialect, max_tokens=900)
    body = reqs[0]["body"]
    assert front_end(text).valid and what == f"llm, constrained {dialect} (0 repair(s))"
    assert body["max_tokens"] == 900 and "guided_grammar" not in body
    if dialect == "gbnf":  # llama.cpp's server
        assert body["grammar"] == lark_to_gbnf(grammar_text(), comments=False) and "structured_outputs" not in body
        assert '"#"' not in body["grammar"] and '"#"' in lark_to_gbnf(grammar_text())
    else:  # vLLM's OpenAI server: structured outputs, a Lark grammar
        assert body["structured_outputs"] == {"grammar": grammar_text()} and "grammar" not in body
    assert "decoded under the language's grammar" in body["messages"][0]["content"]
    _, _, reqs, _ = propose([GOOD], cfg, monkeypatch)
    assert "grammar" not in reqs[0]["body"] and "structured_outputs" not in reqs[0]["body"]


def test_budget_tokens_stops_cleanly_records_and_resumes(cfg, tmp_path):
    """Each request costs 15 tokens (the scripted usage); refused answers keep the test free of evaluations."""
    def run(out, budget, resume=False):
        server = Scripted([BAD] * 20)
        try:
            return loop.search(cfg, out, LLMProposer(server.url, "m", max_repairs=1), budget_tokens=budget,
                               resume=resume)
        finally:
            server.close()
    state = run(tmp_path / "a", 50)  # 2 requests a candidate: 30, 60 → stops after 2 candidates
    assert len(state.records) == 2 and all(r["proposer_tokens"] == {"prompt": 20, "completion": 10}
                                           for r in state.records)
    stopped = json.loads((tmp_path / "a" / "stopped.json").read_text())
    this_run = stopped.pop("this_run")
    assert stopped == {"reason": "budget-tokens", "candidates": 2, "proposer_tokens": 60}
    assert this_run["candidates"] == 2 and this_run["seconds"] > 0 and this_run["new_shapes_per_minute"] == 0
    # 2 candidates in this run's seconds (stored rounded to the millisecond)
    assert this_run["candidates_per_minute"] == pytest.approx(2 / this_run["seconds"] * 60, rel=0.05)
    state = run(tmp_path / "a", 100, resume=True)
    assert len(state.records) == 4 and loop.proposer_tokens(state.records) == 120
    whole = run(tmp_path / "b", 100)
    strip = lambda rs: [{k: v for k, v in r.items() if not k.endswith("seconds")} for r in rs]  # noqa: E731
    assert strip(whole.records) == strip(state.records)


def test_budget_tokens_is_for_the_llm_proposer(tmp_path):
    from click.testing import CliRunner

    from ttsc.cli.main import cli
    r = CliRunner().invoke(cli, ["explore", "--search", str(synthetic_store_path()), "--out", str(tmp_path / "o"),
                                 "--budget-tokens", "100"])
    assert r.exit_code != 0 and "apply to --proposer llm" in r.output


def _marked_holdout(path: Path) -> tuple[Path, set[str]]:
    """A held-out store whose every answer and question is a marker no search store contains."""
    data = json.loads(Path(str(synthetic_store_path())).read_text())
    marks: dict[str, str] = {}

    def mark(a):
        return None if a is None else marks.setdefault(a, f"HELDANSWER{len(marks)}Z")
    for i, q in enumerate(data["questions"]):
        q["question"] = f"HELDQUESTION{i}Z"
        q["gold_answer"] = mark(q["gold_answer"])
        q["each_branch"] = [[[mark(a) for a in probes], n, mark(final)] for probes, n, final in q["each_branch"]]
    held = path / "HELDSTORE.json"
    held.write_text(json.dumps(data))
    return held, set(marks.values()) | {"HELDQUESTION", "HELDSTORE", str(held)}


def test_held_out_wall_holds_for_the_llm_prompt_and_its_trace_summaries(cfg, tmp_path, monkeypatch):
    """Every request the llm proposer sends (prompts with scores and failure traces of the best and the latest
    candidates) is free of the held-out store's name, path, answers and questions; it is read only afterwards."""
    from ttsc.explorer import report
    import ttsc.runtime.store as store_mod

    held, marks = _marked_holdout(tmp_path)
    read = []
    real = store_mod.load_store

    def tripwire(path, name=None):
        if Path(path) == held and not read:
            raise AssertionError("a held-out store was read before the search ended")
        return real(path, name)
    monkeypatch.setattr(store_mod, "load_store", tripwire)
    other = GOOD.replace("0.86 + 0.12", "0.8 + 0.12")
    server = Scripted([GOOD, other, GOOD.replace("0.86 + 0.12", "0.9 + 0.12"), BAD])
    try:
        state = loop.search(cfg, tmp_path / "o", LLMProposer(server.url, "m", max_repairs=0), budget_candidates=4)
    finally:
        server.close()
    bodies = [json.dumps(r["body"]) for r in server.requests]
    assert len(bodies) == 4 and sum(r["status"] == "scored" for r in state.records) == 3
    assert "Where it fails:" in bodies[-1] and "lost by stopping early" in bodies[-1]
    for body in bodies:
        assert not [m for m in marks if m in body]
    read.append(True)
    rep = report.holdout_report(cfg, CMC, [str(held)], tmp_path / "o", seeds=2, baselines=())
    assert rep["stores"] == ["tmp/HELDSTORE"] or rep["stores"][0].endswith("HELDSTORE")


def test_explore_expands_quoted_globs_and_says_when_nothing_beat_the_seed(tmp_path):
    import shutil

    from click.testing import CliRunner

    from ttsc.cli.main import cli
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(synthetic_store_path(), tmp_path / name / "s.json")
    r = CliRunner().invoke(cli, ["explore", "--search", str(tmp_path / "a" / "*.json"), "--holdout",
                                 str(tmp_path / "b" / "*.json"), "--out", str(tmp_path / "o"),
                                 "--budget-candidates", "0", "--search-seeds", "2"])
    assert r.exit_code == 0, r.output
    assert json.loads((tmp_path / "o" / "run.json").read_text())["search"] == [str(tmp_path / "a" / "s.json")]
    assert "no candidate beat cmc on the search set" in r.output and "no held-out evaluation" in r.output
    assert (tmp_path / "o" / "best.tts").read_text().startswith("# `ttsc explore` found no candidate that beats cmc")
    assert "none was selected" in (tmp_path / "o" / "holdout.md").read_text()
    r = CliRunner().invoke(cli, ["explore", "--search", str(tmp_path / "nope" / "*.json"), "--out", str(tmp_path / "p")])
    assert r.exit_code == 2 and "no store matches" in r.output and "Traceback" not in r.output


def test_a_server_dying_mid_generation_keeps_the_replies_it_gave(tmp_path):
    """A generation of 8 (two workers): 5 answered, then the server stops answering; all 8 are recorded."""
    cfg2 = loop.Config(search=(str(synthetic_store_path()),), seed_text=CMC, seed_name="cmc", seeds=2,
                       grid=(0.0, 1.0), workers=2)
    server = Scripted([GOOD] * 5 + [("status", 500)] * 3)
    try:
        with pytest.raises(TtscError, match="failed 3 requests in a row"):
            loop.search(cfg2, tmp_path, LLMProposer(server.url, "m", max_repairs=0), budget_candidates=40)
    finally:
        server.close()
    records = loop.recorded_state(tmp_path, 1).records
    assert [r["status"] for r in records] == ["scored"] + ["duplicate"] * 4 + ["invalid"] * 3
    assert len(server.requests) == 8


def test_budget_tokens_stops_within_a_generation_and_resume_asks_only_for_the_rest(tmp_path):
    """15 tokens a request: a budget of 50 stops after 4 of a generation of 8, and --resume with 100 asks
    for 3 more, not for the whole generation again."""
    cfg2 = loop.Config(search=(str(synthetic_store_path()),), seed_text=CMC, seed_name="cmc", seeds=2,
                       grid=(0.0, 1.0), workers=2)
    server = Scripted([BAD] * 20)
    try:
        state = loop.search(cfg2, tmp_path, LLMProposer(server.url, "m", max_repairs=0), budget_tokens=50)
        assert len(state.records) == 4 and len(server.requests) == 4
        state = loop.search(cfg2, tmp_path, LLMProposer(server.url, "m", max_repairs=0), budget_tokens=100,
                            resume=True)
        assert len(state.records) == 7 and len(server.requests) == 7
        assert [r["index"] for r in state.records] == list(range(7))
    finally:
        server.close()
