"""`ttsc bench --live`: the live controller's share of wall time and its throughput against plain generation.

The replay benchmark (engines against each other and against a plain scalar
implementation, on the published grid) needs that plain implementation and the
published stores, which a source checkout has and an installed package does
not; without ``--live`` this command says how to run it.
"""

from __future__ import annotations

import json

import click

from ttsc.cli.loading import load_program, parse_sets, resolve_strategy
from ttsc.errors import TtscError

REPLAY_BENCH = ("the replay benchmark runs from a source checkout, beside ../shared's published stores:\n"
                "    python -m benchmarks.bench --interpret-seeds 5 --batched [--out bench.json]\n"
                "(it needs benchmarks/baseline.py, the plain implementation, which is not installed).\n"
                "`ttsc bench --live --base-url URL --model M` measures the live runtime on a server.")


@click.command("bench")
@click.option("--live", is_flag=True, help="measure the live runtime's overhead on a generation backend")
@click.option("--backend", type=click.Choice(["openai", "vllm"]), default="openai", show_default=True)
@click.option("--model", default=None, help="model name (openai) or path/name to load (vllm)")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL", help="server base URL (repeatable)")
@click.option("--strategy", default="parallel_probe", show_default=True, help="a .tts file or a shipped name")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter (repeatable)")
@click.option("--questions", type=click.IntRange(1), default=4, show_default=True,
              help="generated arithmetic questions")
@click.option("--engine", type=click.Choice(["batched", "interpret"]), default="batched", show_default=True)
@click.option("--interval", type=click.IntRange(1), default=64, show_default=True, help="Δ: tokens per interval")
@click.option("--max-branch-tokens", type=click.IntRange(1), default=256, show_default=True)
@click.option("--max-branches", type=click.IntRange(1), default=8, show_default=True)
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@click.option("--timeout", type=float, default=120.0, show_default=True, help="seconds per HTTP request")
@click.option("--retries", type=click.IntRange(0), default=4, show_default=True)
@click.option("--concurrency", type=click.IntRange(1), default=64, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def command(live, backend, model, base_urls, strategy, sets, questions, engine, interval, max_branch_tokens,
            max_branches, temperature, top_p, timeout, retries, concurrency, fmt) -> None:
    """Benchmark the live runtime (--live): controller share of wall time, tokens/s against plain generation."""
    if not live:
        raise TtscError(REPLAY_BENCH)
    if model is None:
        raise TtscError("ttsc bench --live needs --model")
    from ttsc.cli.run_cmd import _backend
    from ttsc.insight.live_bench import arithmetic_questions, bench_live
    from ttsc.runtime.live.env import LiveConfig
    from ttsc.runtime.params import bind_params

    checked = load_program(resolve_strategy(strategy))
    params = bind_params(checked, parse_sets(sets))
    config = LiveConfig(interval=interval, max_branch_tokens=max_branch_tokens, max_branches=max_branches)
    gen = _backend(backend, model, base_urls, temperature, top_p, timeout, retries, concurrency)
    try:
        report = bench_live(checked, params, gen, arithmetic_questions(questions), config, engine)
    finally:
        close = getattr(gen, "close", None)
        if close:
            close()
    report["model"] = model
    click.echo(json.dumps(report, indent=2) if fmt == "json" else _text(report))


def _text(r: dict) -> str:
    live, plain = r["live"], r["plain"]
    mark = "within" if live["controller_within_target"] else "OVER"
    ratio = "-" if r["live_vs_plain_throughput"] is None else f"{r['live_vs_plain_throughput']:.3f}"
    return "\n".join([
        f"{r['strategy']} {r['params']} live on {r['backend']} ({r['model']}): {r['questions']} questions, "
        f"Δ={r['interval']}, at most {r['max_branch_tokens']} tokens a branch",
        f"controller share of wall time: {100 * live['controller_share']:.2f}% ({mark} the "
        f"{100 * live['controller_target']:.0f}% target) of {live['wall_s']:.2f} s; backend {live['backend_s']:.2f} s",
        f"live:  {live['generated_tokens']} tokens in {live['requests']} requests ({live['backend_calls']} calls), "
        f"{live['tokens_per_s']:.1f} tokens/s",
        f"plain: {plain['generated_tokens']} tokens in {plain['requests']} requests of at most {plain['tokens_per_request']} tokens each, "
        f"{plain['tokens_per_s']:.1f} tokens/s",
        f"live / plain throughput: {ratio}",
    ])
