"""The live controller's overhead against plain generation on the same server and model:

    python -m benchmarks.live --base-url http://127.0.0.1:8000 --model M [--strategy parallel_probe]
        [--set num_chains=8] [--questions 4] [--interval 64] [--max-branch-tokens 256]

1. Runs the strategy live (openai backend, batched engine) on generated
   arithmetic questions and measures wall time, the time spent waiting on the
   server (inside the backend's ``generate``, HTTP client included), and
   generated tokens (reasoning + probe) per second. The controller's share is
   the rest of the wall time: the policy and the environment.
2. Plain generation: the same number of requests, each as many tokens as the
   live run generated per request on average, all in flight at once, with the
   same client; tokens per second.

Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--base-url", action="append", required=True)
    ap.add_argument("--model", default="m")
    ap.add_argument("--strategy", default="parallel_probe")
    ap.add_argument("--set", dest="sets", action="append", default=[])
    ap.add_argument("--questions", type=int, default=4)
    ap.add_argument("--interval", type=int, default=64)
    ap.add_argument("--max-branch-tokens", type=int, default=256)
    ap.add_argument("--max-branches", type=int, default=8)
    ap.add_argument("--concurrency", type=int, default=64)
    args = ap.parse_args(argv)

    from benchmarks.vllm_smoke import questions
    from ttsc.cli.loading import load_program, parse_sets, resolve_strategy
    from ttsc.compiler.engines import run_env
    from ttsc.runtime.live.env import LiveConfig, LiveEnvironment, Request
    from ttsc.runtime.live.openai import OpenAIBackend
    from ttsc.runtime.params import bind_params

    backend = OpenAIBackend(args.base_url, args.model, concurrency=args.concurrency)
    checked = load_program(resolve_strategy(args.strategy))
    params = bind_params(checked, parse_sets(tuple(args.sets)))
    qs = questions(args.questions)
    env = LiveEnvironment(backend, [q for q, _ in qs], [a for _, a in qs], (0,),
                          LiveConfig(interval=args.interval, max_branch_tokens=args.max_branch_tokens,
                                     max_branches=args.max_branches))
    t0 = time.perf_counter()
    run_env(checked, params, env, "batched")
    wall = time.perf_counter() - t0
    generated = int(env.usage.reasoning.sum() + env.usage.probe.sum())
    live = {"wall_s": round(wall, 3), "backend_s": round(env.usage.backend_seconds, 3),
            "controller_share": round((wall - env.usage.backend_seconds) / wall, 4) if wall else 0.0,
            "requests": env.usage.requests, "backend_calls": env.usage.calls, "generated_tokens": generated,
            "tokens_per_s": round(generated / wall, 1) if wall else 0.0}

    per = max(1, round(generated / max(1, env.usage.requests)))
    plain_reqs = [Request(i % len(qs), 1, i, 0, env._prompts[i % len(qs)], "", None, "", per, False)
                  for i in range(env.usage.requests)]
    t0 = time.perf_counter()
    outs = backend.generate(plain_reqs)
    pw = time.perf_counter() - t0
    plain_tokens = sum(o.tokens for o in outs)
    plain = {"wall_s": round(pw, 3), "requests": len(plain_reqs), "generated_tokens": plain_tokens,
             "tokens_per_s": round(plain_tokens / pw, 1) if pw else 0.0}
    backend.close()
    print(json.dumps({"strategy": checked.name, "params": params, "live": live, "plain": plain,
                      "live_vs_plain_throughput": round(live["tokens_per_s"] / plain["tokens_per_s"], 3)
                      if plain["tokens_per_s"] else None}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
