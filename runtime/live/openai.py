"""The ``openai`` backend: ``/v1/completions`` of any OpenAI-compatible server (vLLM, SGLang, llama.cpp).

Every request of a round is in flight at once (at most ``concurrency``). A
branch is continued by re-sending its text (llama.cpp's server takes string
prompts only), and token counts come from each response's ``usage``. With
several base URLs, question ``q`` goes to server ``q mod n``, so all branches
of a question share one server's prefix cache.

Faults — connection refused or reset, timeouts, HTTP 429 and 5xx, truncated or
malformed JSON — are retried with exponential backoff; after ``retries``
retries the run stops with a ``TtscError`` naming the server and the request.
Other HTTP 4xx answers are the request's fault and are not retried.
"""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import dataclass, field

from ttsc.errors import TtscError
from ttsc.runtime.live.env import Completion, Request, token_confidence


@dataclass
class Faults:
    """Faults met and survived (retried), by kind."""

    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + 1


class _Retry(Exception):
    def __init__(self, kind: str, detail: str, wait: float | None = None):
        super().__init__(detail)
        self.kind, self.wait = kind, wait


class OpenAIBackend:
    name = "openai"

    def __init__(self, base_urls: list[str], model: str, *, temperature: float = 0.7, top_p: float = 1.0,
                 timeout: float = 120.0, retries: int = 4, backoff: float = 0.25, concurrency: int = 64,
                 api_key: str | None = None):
        try:
            import httpx
        except ImportError:
            raise TtscError("the openai backend needs httpx: pip install 'ttsc[live]'") from None
        if not base_urls:
            raise TtscError("the openai backend needs at least one --base-url")
        self._httpx = httpx
        self.urls = [u.rstrip("/") for u in base_urls]
        for u in self.urls:
            if not u.startswith(("http://", "https://")):
                raise TtscError(f"--base-url {u!r}: must start with http:// or https://")
        self.model, self.temperature, self.top_p = model, temperature, top_p
        self.timeout, self.retries, self.backoff = timeout, retries, backoff
        self.concurrency = concurrency
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.faults = Faults()
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "requests": 0}
        self._loop = asyncio.new_event_loop()
        self._client = None

    def server(self, question: int) -> str:
        return self.urls[question % len(self.urls)]

    def generate(self, requests: list[Request]) -> list[Completion]:
        return self._loop.run_until_complete(self._all(requests))

    def close(self) -> None:
        if self._client is not None:
            self._loop.run_until_complete(self._client.aclose())
            self._client = None
        self._loop.close()

    async def _all(self, requests: list[Request]) -> list[Completion]:
        if self._client is None:
            limits = self._httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
            self._client = self._httpx.AsyncClient(timeout=self.timeout, limits=limits, headers=self.headers)
        gate = asyncio.Semaphore(self.concurrency)

        async def one(r: Request) -> Completion:
            async with gate:
                return await self._with_retries(r)
        tasks = [asyncio.ensure_future(one(r)) for r in requests]
        try:
            return list(await asyncio.gather(*tasks))
        except BaseException:  # one request gave up: the round is lost, stop the others
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise

    def _body(self, r: Request) -> dict:
        return {"model": self.model, "prompt": r.prompt + r.text + r.suffix, "max_tokens": r.max_tokens,
                "temperature": 0.0 if r.probe else self.temperature, "top_p": 1.0 if r.probe else self.top_p,
                "seed": r.sample_seed(), "n": 1, "stream": False, **({"logprobs": r.logprobs} if r.logprobs else {})}

    async def _with_retries(self, r: Request) -> Completion:
        url = self.server(r.question) + "/v1/completions"
        body = self._body(r)
        last = ""
        for attempt in range(self.retries + 1):
            try:
                return await self._once(url, body, r.logprobs)
            except _Retry as e:
                last = f"{e.kind}: {e}"
                if attempt == self.retries:
                    break
                self.faults.add(e.kind)
                wait = e.wait if e.wait is not None else self.backoff * 2 ** attempt
                await asyncio.sleep(min(wait, 30.0) * (1 + 0.25 * random.random()))
        what = (f"{'probe' if r.probe else 'generation'} of question {r.question}, seed {r.seed}, "
                f"branch {r.slot}, interval {r.interval} (max_tokens {r.max_tokens})")
        raise TtscError(f"server {self.server(r.question)}: {what} failed after {self.retries + 1} attempts; "
                        f"last: {last}")

    async def _once(self, url: str, body: dict, logprobs: int = 0) -> Completion:
        httpx = self._httpx
        try:
            resp = await self._client.post(url, json=body)
        except httpx.TimeoutException as e:
            raise _Retry("timeout", f"no answer within {self.timeout:g}s ({type(e).__name__})") from None
        except httpx.TransportError as e:  # refused, reset, dropped mid-response
            raise _Retry("connection", f"{type(e).__name__}: {e}") from None
        if resp.status_code == 429 or resp.status_code >= 500 or resp.status_code == 408:
            wait = _retry_after(resp.headers.get("retry-after"))
            raise _Retry(f"http {resp.status_code}", resp.text[:200], wait)
        if resp.status_code >= 400:
            raise TtscError(f"server {url}: HTTP {resp.status_code} for a completion request: {resp.text[:300]}")
        try:
            data = resp.json()
            choice = data["choices"][0]
            text = choice["text"]
            finish = choice.get("finish_reason")
            usage = data["usage"]
            tokens, prompt = int(usage["completion_tokens"]), int(usage.get("prompt_tokens") or 0)
            if not isinstance(text, str) or tokens < 0:
                raise ValueError("bad field types")
            confidences = None if not logprobs else self._confidences(url, choice, logprobs)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, IndexError, TypeError, ValueError) as e:
            raise _Retry("malformed response", f"{type(e).__name__}: {e}; body {resp.text[:120]!r}") from None
        if confidences is not None and len(confidences) != tokens:
            raise TtscError(f"server {url}: {len(confidences)} log-probability entries for {tokens} completion tokens")
        if tokens > body["max_tokens"]:
            raise TtscError(f"server {url}: reported {tokens} completion tokens for max_tokens {body['max_tokens']}")
        self.usage["prompt_tokens"] += prompt
        self.usage["completion_tokens"] += tokens
        self.usage["requests"] += 1
        return Completion(text, None, tokens, ended=finish != "length", prompt_tokens=prompt,
                          token_confidences=confidences)

    @staticmethod
    def _confidences(url: str, choice: dict, k: int) -> tuple[float, ...]:
        """Token confidences from the completions ``logprobs.top_logprobs`` ({token: logprob} per token)."""
        lp = choice.get("logprobs")
        if lp is None:
            raise TtscError(f"server {url}: returned no log-probabilities for `logprobs: {k}`; "
                            "it may not support them (run without --logprobs)")
        return tuple(token_confidence(top.values(), k) for top in lp["top_logprobs"])


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None
