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
