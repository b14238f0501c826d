"""The `llm` proposer: any OpenAI-compatible chat endpoint writes the next candidate.

The prompt carries the language reference, the shipped strategies, and the
search-set history only (the best and the latest candidates with their scores,
per-store gains and the diagnostics of refused ones). A refused answer gets its
diagnostics back for at most ``max_repairs`` more tries; a timeout or an HTTP
error ends the attempt, and the candidate is recorded as refused with the reason
(X0003); after ``MAX_FAILED_IN_A_ROW`` such requests in a row the search stops
with an error.

``constrained`` sends the language's grammar with every request, so every
sample parses (it may still fail the checker, and a sample cut off by
``max_tokens`` is incomplete): ``"gbnf"`` as llama.cpp's ``grammar`` field
(``ttsc grammar --format gbnf``), ``"lark"`` as vLLM's
``structured_outputs: {"grammar": ...}`` (grammars/tts.lark as is; vLLM
silently ignores the old ``guided_grammar`` field).
"""

from __future__ import annotations

import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ttsc.errors import TtscError
from ttsc.explorer.program import front_end

SYSTEM = ("You design test-time-scaling controllers in the .tts language. Reply with exactly one complete "
          "program in a ```tts code block. It must keep a float parameter `beta` in 0.0..1.0 as its only budget "
          "knob: small beta spends few tokens, beta = 1 may use up to 64 branches. Improve accuracy at equal "
          "tokens over the whole range; prefer a new mechanism to threshold tuning; keep it small.")
CONSTRAINED = ("Your reply is decoded under the language's grammar: write the program text itself, no "
               "code block, no prose, no comments, and end when the program is complete.")
_BLOCK = re.compile(r"```(?:tts)?\s*\n(.*?)```", re.S)
DIALECTS = ("gbnf", "lark")
# Requests in a row that get no answer (connection refused, timeout, HTTP error, malformed reply) before the
# search stops: one bad request is recorded as a refused candidate, a dead server is not a thousand of them.
MAX_FAILED_IN_A_ROW = 3


def grammar_for(dialect: str) -> str:
    from ttsc.dsl.parser import grammar_text
    if dialect == "lark":
        return grammar_text()
    if dialect == "gbnf":
        from ttsc.explorer.gbnf import lark_to_gbnf
        return lark_to_gbnf(grammar_text(), comments=False)
    raise TtscError(f"unknown grammar dialect `{dialect}` (one of {', '.join(DIALECTS)})")


def _language_reference() -> str:
    path = Path(__file__).resolve().parents[1] / "docs" / "language.md"
    return path.read_text(encoding="utf-8") if path.exists() else ""


def _shipped() -> str:
    parts = []
    for p in sorted(resources.files("ttsc.strategies").iterdir(), key=lambda p: p.name):
        if p.name.endswith(".tts"):
            parts.append(f"## {p.name}\n```tts\n{p.read_text(encoding='utf-8')}```")
    return "\n\n".join(parts)


def extract(content: str) -> str:
    m = _BLOCK.search(content)
    return (m.group(1) if m else content).strip() + "\n"


@dataclass
class LLMProposer:
    base_url: str
    model: str
    api_key_env: str | None = None
    max_repairs: int = 2
    timeout: float = 120.0
    temperature: float = 0.8
    constrained: str | None = None  # "gbnf" (llama.cpp) or "lark" (vLLM structured outputs)
    max_tokens: int | None = None
    traces: bool = True  # show where the best and the latest candidates fail (search set only)
    tokens: dict = field(default_factory=lambda: {"prompt": 0, "completion": 0})

    def __post_init__(self):
        self.reference = _language_reference()
        self.shipped = _shipped()
        self.grammar = grammar_for(self.constrained) if self.constrained else None
        self.finish_reason: str | None = None
        self._failures: dict[int, str] = {}  # record index → its failure summary
        self._stores = None
        self._failed_in_a_row = 0  # requests that got no answer since the last one that did
        self.gave_up: str | None = None  # why the server was given up on: the loop records, then stops

    def _request(self, messages: list[dict], seed: int) -> dict:
        body = {"model": self.model, "messages": messages, "temperature": self.temperature, "seed": seed}
        if self.max_tokens is not None:
            body["max_tokens"] = self.max_tokens
        if self.constrained == "gbnf":
            body["grammar"] = self.grammar
        elif self.constrained == "lark":
            body["structured_outputs"] = {"grammar": self.grammar}
        return body

    def _chat(self, messages: list[dict], seed: int) -> str:
        body = json.dumps(self._request(messages, seed)).encode()
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        if key:
            headers["Authorization"] = f"Bearer {key}"
        req = urllib.request.Request(self.base_url.rstrip("/") + "/chat/completions", body, headers)
        with urllib.request.urlopen(req, timeout=self.timeout) as resp:
            data = json.loads(resp.read())
        usage = data.get("usage") or {}
        self.tokens["prompt"] += int(usage.get("prompt_tokens", 0))
        self.tokens["completion"] += int(usage.get("completion_tokens", 0))
        self.finish_reason = data["choices"][0].get("finish_reason")
        return data["choices"][0]["message"]["content"]

    def prompt(self, state, cfg) -> list[dict]:
        scored = [r for r in state.records if r.get("score")]
        best = state.records[state.best] if state.best >= 0 else None
        lines = [f"Seed strategy `{cfg.seed_name}` (score 0 by definition):\n```tts\n{cfg.seed_text}```"]
        latest = next((r for r in reversed(state.records) if r.get("score")), None)
        if best:
            lines.append(_describe(best, "Best so far") + self._failure(best, cfg))
        for r in state.records[-4:]:
            if r is not best:
                lines.append(_describe(r, "Recent") + (self._failure(r, cfg) if r is latest else ""))
        lines.append(f"{len(state.records)} candidates tried, {len(scored)} scored. Write the next candidate.")
        system = SYSTEM + (" " + CONSTRAINED if self.constrained else "")
        return [{"role": "system", "content": f"{system}\n\n# Language reference\n{self.reference}\n\n"
                                              f"# Shipped strategies\n{self.shipped}"},
                {"role": "user", "content": "\n\n".join(lines)}]

    def _failure(self, rec: dict, cfg) -> str:
        """Where ``rec`` fails, traced on the search stores (``cfg.search``: the only stores this sees)."""
        if not self.traces or not rec.get("score"):
            return ""
        if rec["index"] not in self._failures:
            from ttsc.explorer.failures import summarize
            from ttsc.runtime.store import load_stores
            if self._stores is None:
                self._stores = load_stores(cfg.search)
            beta = cfg.grid[len(cfg.grid) // 2]
            self._failures[rec["index"]] = summarize(rec["source"], self._stores, range(cfg.seeds), beta)
        return "\nWhere it fails:\n" + self._failures[rec["index"]]

    def __call__(self, rng, state, cfg) -> tuple[str, tuple[int, ...], str]:
        messages = self.prompt(state, cfg)
        parent = (state.best,) if state.best >= 0 else (-1,)
        seed = int(rng.integers(2**31))
        text = ""
        for attempt in range(self.max_repairs + 1):
            try:
                content = self._chat(messages, seed + attempt)
            except (urllib.error.URLError, TimeoutError, OSError, KeyError, IndexError, ValueError) as exc:
                reason = (f"HTTP {exc.code} {exc.reason}" if isinstance(exc, urllib.error.HTTPError)
                          else getattr(exc, "reason", None) or exc)
                self._failed_in_a_row += 1
                if self._failed_in_a_row >= MAX_FAILED_IN_A_ROW:  # the loop records this one, then stops
                    self.gave_up = (f"the proposer's server at {self.base_url} failed {self._failed_in_a_row} "
                                    f"requests in a row (the last: {reason}); the search stops here. Check "
                                    "--base-url, --model and the server, then continue with --resume")
                return text, parent, f"llm: request failed after {attempt} repair(s): {reason}"
            self._failed_in_a_row = 0
            text = extract(content)
            fe = front_end(text)
            if fe.valid:
                return text, parent, f"llm{self._how()} ({attempt} repair(s))"
            if attempt < self.max_repairs:
                messages = messages + [{"role": "assistant", "content": content},
                                       {"role": "user", "content": "The program was refused:\n"
                                        + "\n".join(d.get("message", "") for d in fe.diagnostics)
                                        + "\nFix it and reply with the whole program."}]
        return text, parent, f"llm{self._how()}: still refused after {self.max_repairs} repair(s)"

    def _how(self) -> str:
        """How the last sample was made, for the record: the grammar, and a cut-off by max_tokens."""
        out = f", constrained {self.constrained}" if self.constrained else ""
        return out + (", cut off at max_tokens" if self.finish_reason == "length" else "")


def _describe(r: dict, what: str) -> str:
    head = f"{what}: candidate #{r['index']} ({r['mutation']}), status {r['status']}"
    if r.get("score"):
        s = r["score"]
        per = ", ".join(f"{k}: {v:+.2f}" for k, v in s["per_store"].items())
        head += (f"; gain {s['gain']:+.2f} points over the seed (per store: {per}; "
                 f"by budget quarter, cheap to dear: {', '.join(f'{g:+.2f}' for g in s['segments'])})")
    if r.get("diagnostics"):
        head += "; refused: " + "; ".join(d.get("message", "") for d in r["diagnostics"][:5])
    return f"{head}\n```tts\n{r['source']}```"


def from_options(base_url: str | None, model: str | None, api_key_env: str | None, max_repairs: int,
                 timeout: float, constrained: str | None = None, max_tokens: int | None = None) -> LLMProposer:
    if not base_url or not model:
        raise TtscError("--proposer llm needs --base-url and --model")
    return LLMProposer(base_url, model, api_key_env, max_repairs, timeout, constrained=constrained,
                       max_tokens=max_tokens)
