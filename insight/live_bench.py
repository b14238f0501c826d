"""The live controller's overhead, and live throughput against plain generation on the same server and model.

1. The strategy runs live (one :class:`LiveEnvironment`, every question in
   lock-step) while the wall time, the time spent waiting on the backend
   (inside its ``generate``, HTTP client included) and the generated tokens
   (reasoning + probe) are measured. The controller's share is the rest of the
   wall time: the policy and the environment. Its target is under 5%.
2. Plain generation: as many requests as the live run made, each asking for as
   many tokens as a live request generated on average, all at once through the
   same backend; its tokens per second is what the backend does without a
   controller.
"""

from __future__ import annotations

import random
import time
from typing import Sequence

from ttsc.compiler.engines import run_env
from ttsc.dsl.checker import CheckedProgram
from ttsc.runtime.live.env import Backend, LiveConfig, LiveEnvironment, Request

CONTROLLER_TARGET = 0.05  # the controller's share of wall time a live run should stay under


def arithmetic_questions(n: int, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` generated questions ``What is a + b * c?`` with their answers (a small model answers them briefly)."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b, c = rng.randint(2, 40), rng.randint(2, 40), rng.randint(2, 9)
        out.append((f"What is {a} + {b} * {c}?", str(a + b * c)))
    return out


def _rate(tokens: int, seconds: float) -> float:
    return round(tokens / seconds, 1) if seconds > 0 else 0.0


def bench_live(checked: CheckedProgram, params: dict, backend: Backend, questions: Sequence[tuple[str, str]],
               config: LiveConfig, engine: str = "batched", seed: int = 0) -> dict:
    """Run ``checked`` live on ``questions``, then plain generation of the same size; one JSON-able report."""
    env = LiveEnvironment(backend, [q for q, _ in questions], [a for _, a in questions], (seed,), config)
    t0 = time.perf_counter()
    run_env(checked, params, env, engine)
    wall = time.perf_counter() - t0
    generated = int(env.usage.reasoning.sum() + env.usage.probe.sum())
    share = (wall - env.usage.backend_seconds) / wall if wall > 0 else 0.0
    live = {"wall_s": round(wall, 3), "backend_s": round(env.usage.backend_seconds, 3),
            "controller_share": round(share, 4), "controller_target": CONTROLLER_TARGET,
            "controller_within_target": share < CONTROLLER_TARGET,
            "requests": env.usage.requests, "backend_calls": env.usage.calls, "generated_tokens": generated,
            "tokens_per_s": _rate(generated, wall)}

    per = max(1, round(generated / max(1, env.usage.requests)))
    n = len(questions)
    prompts = env._prompts  # the questions exactly as the live run formatted them
    plain_reqs = [Request(i % n, seed, i, 0, prompts[i % n], "", None, "", per, False)
                  for i in range(env.usage.requests)]
    t0 = time.perf_counter()
    outs = backend.generate(plain_reqs) if plain_reqs else []
    plain_wall = time.perf_counter() - t0
    plain_tokens = sum(o.tokens for o in outs)
    plain = {"wall_s": round(plain_wall, 3), "requests": len(plain_reqs), "tokens_per_request": per,
             "generated_tokens": plain_tokens, "tokens_per_s": _rate(plain_tokens, plain_wall)}
    return {"strategy": checked.name, "params": params, "backend": backend.name, "questions": n,
            "interval": config.interval, "max_branch_tokens": config.max_branch_tokens, "live": live,
            "plain": plain, "live_vs_plain_throughput":
                round(live["tokens_per_s"] / plain["tokens_per_s"], 3) if plain["tokens_per_s"] else None}
