"""GPU smoke test of the vllm backend, one command:

    python -m benchmarks.vllm_smoke --model Qwen/Qwen3-0.6B [--questions 8] [--interval 256]

Runs every shipped strategy live on a small generated arithmetic dataset with
an in-process ``vllm.LLM`` (needs a GPU, vLLM and the model's weights) and
prints, per strategy: accuracy, reasoning / probe / sequential tokens, backend
calls, prefix-cache hits and wall time. It exits non-zero if any run fails or
if a strategy's token accounting disagrees with what vLLM returned.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

STRATEGIES = {"sc": {"n": 8}, "asc": {"max_samples": 8}, "esc": {}, "parallel_probe": {"num_chains": 8, "warm_up": 2},
              "cmc": {}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="Qwen/Qwen3-0.6B")
    ap.add_argument("--questions", type=int, default=8)
    ap.add_argument("--interval", type=int, default=256)
    ap.add_argument("--max-branch-tokens", type=int, default=2048)
    ap.add_argument("--out", default=None, help="write the results as JSON here")
    args = ap.parse_args(argv)

    from ttsc.cli.loading import load_program, resolve_strategy
    from ttsc.compiler.engines import run_env
    from ttsc.insight.live_bench import arithmetic_questions
    from ttsc.runtime.live.env import LiveConfig, LiveEnvironment
    from ttsc.runtime.live.grade import grader
    from ttsc.runtime.live.vllm import VLLMBackend
    from ttsc.runtime.params import bind_params

    backend = VLLMBackend(args.model, seed=0, enable_prefix_caching=True, max_model_len=4096)
    qs = arithmetic_questions(args.questions)
    config = LiveConfig(interval=args.interval, max_branch_tokens=args.max_branch_tokens, max_branches=16)
    rows, ok = [], True
    for name, sets in STRATEGIES.items():
        checked = load_program(resolve_strategy(name))
        env = LiveEnvironment(backend, [q for q, _ in qs], [a for _, a in qs], (0,), config, grade=grader("math"))
        calls0, cached0 = backend.calls, backend.cached_tokens
        t0 = time.perf_counter()
        out = run_env(checked, bind_params(checked, sets), env, "batched")
        wall = time.perf_counter() - t0
        consistent = int(out.tokens.sum()) == int(env.usage.reasoning.sum())
        ok &= consistent
        rows.append({"strategy": name, "accuracy": float(out.correct.mean() * 100),
                     "reasoning_tokens": int(out.tokens.sum()), "probe_tokens": int(env.usage.probe.sum()),
                     "avg_sequential_tokens": float(out.sequential.mean()), "generate_calls": backend.calls - calls0,
                     "cached_tokens": backend.cached_tokens - cached0, "seconds": round(wall, 2),
                     "backend_seconds": round(env.usage.backend_seconds, 2), "accounting_consistent": consistent})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump({"model": args.model, "rows": rows}, f, indent=2)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
