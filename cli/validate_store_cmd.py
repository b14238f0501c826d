"""`ttsc validate-store STORE --strategy S --backend ...`: does the store's replay estimate hold live?

Runs the strategy live on a sample of the store's questions, configured as the
store was collected (its ``meta``; flags override), and on replay over the same
questions and seeds; prints both and the paired difference live − replay with
bootstrap intervals over questions (``insight/validate.py``).
"""

from __future__ import annotations

import json

import click

from ttsc.cli.loading import load_program, parse_sets, resolve_strategy
from ttsc.cli.run_cmd import http_options
from ttsc.errors import TtscError
from ttsc.insight import stats


@click.command("validate-store")
@click.argument("store", type=click.Path(dir_okay=False))
@click.option("--strategy", required=True, help="a .tts file or a shipped strategy's name")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter (repeatable)")
@click.option("--backend", type=click.Choice(["openai", "vllm"]), required=True)
@click.option("--model", required=True, help="model name (openai) or path/name to load (vllm)")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL", help="server base URL (repeatable)")
@click.option("--questions", "n_questions", type=click.IntRange(1), default=8, show_default=True,
              help="how many of the store's questions to run live (a seeded sample)")
@click.option("--sample-seed", type=int, default=0, show_default=True, help="seed of the question sample")
@click.option("--seeds", type=click.IntRange(1, 1000), default=1, show_default=True, help="run seeds 0..N-1")
@click.option("--engine", type=click.Choice(["batched", "interpret"]), default="batched", show_default=True)
@click.option("--interval", type=click.IntRange(1), default=None, help="Δ (default: the store's)")
@click.option("--max-branch-tokens", type=click.IntRange(1), default=None)
@click.option("--probe-suffix", default=None)
@click.option("--probe-tokens", type=click.IntRange(1), default=None)
@click.option("--template", default=None, help="prompt template containing {question}")
@click.option("--extractor", default=None, help="boxed, or regex:PATTERN")
@click.option("--grader", type=click.Choice(["math", "exact"]), default=None)
@click.option("--temperature", type=float, default=None)
@click.option("--top-p", type=float, default=None)
@click.option("--defaults", "use_defaults", is_flag=True,
              help="settings neither the store's meta nor a flag gives take ttsc run's defaults")
@http_options
@click.option("--resamples", type=click.IntRange(1, 1_000_000), default=stats.RESAMPLES, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def command(store, strategy, sets, backend, model, base_urls, n_questions, sample_seed, seeds, engine, interval,
            max_branch_tokens, probe_suffix, probe_tokens, template, extractor, grader, temperature, top_p,
            use_defaults, timeout, retries, concurrency, resamples, fmt) -> None:
    """Run a strategy live on a sample of STORE's questions and compare with its replay estimate (paired)."""
    from ttsc.cli.run_cmd import _backend
    from ttsc.insight.validate import collect_meta, live_settings, sample_questions, validate
    from ttsc.runtime.live.env import LiveConfig
    from ttsc.runtime.live.grade import grader as make_grader
    from ttsc.runtime.params import bind_params
    from ttsc.runtime.replay import non_answers
    from ttsc.runtime.store import load_store

    checked = load_program(resolve_strategy(strategy))
    params = bind_params(checked, parse_sets(sets))
    st = load_store(store)
    defaults = _run_defaults() if use_defaults else None
    s = live_settings(st, {"interval": interval, "max_branch_tokens": max_branch_tokens, "probe_suffix": probe_suffix,
                           "probe_tokens": probe_tokens, "template": template, "extractor": extractor,
                           "grader": grader, "temperature": temperature, "top_p": top_p},
                      defaults)
    if s["interval"] not in {q.probe_freq for q in st.questions}:
        click.echo(f"warning: live interval {s['interval']} differs from the store's Δ; replay and live reveal "
                   "different intervals", err=True)
    config = LiveConfig(interval=s["interval"], max_branch_tokens=s["max_branch_tokens"],
                        max_branches=max(len(q.branches) for q in st.questions), probe_suffix=s["probe_suffix"],
                        probe_tokens=s["probe_tokens"], template=s["template"], extractor=s["extractor"],
                        non_answers=tuple(sorted(non_answers(st))),  # `valid` as on replay
                        logprobs=_logprobs(checked, st))
    grade = make_grader(s["grader"])
    indices = sample_questions(len(st.questions), n_questions, sample_seed)
    gen = _backend(backend, model, base_urls, s["temperature"], s["top_p"], timeout, retries, concurrency)
    try:
        # a question opens at most as many branches live as its store holds, as on replay
        v = validate(checked, params, st, indices, range(seeds), gen, config, grade, engine,
                     capacity=lambda seed, q: len(st.questions[q].branches), resamples=resamples)
    finally:
        close = getattr(gen, "close", None)
        if close:
            close()
    meta = collect_meta(st) or {}
    head = {"strategy": checked.name, "params": params, "store": st.name, "store_model": meta.get("model"),
            "store_questions": len(st.questions), "backend": backend, "model": model, "settings": s,
            "resamples": resamples, "level": stats.LEVEL}
    out = {**head, **v.to_dict()}
    if fmt == "json":
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
    else:
        click.echo(_table(out))


def _run_defaults() -> dict:
    """`ttsc run`'s defaults for the live settings, read from its options (one source)."""
    from ttsc.cli import run_cmd
    from ttsc.insight.validate import SETTINGS
    from ttsc.runtime.live.env import DEFAULT_SUFFIX, DEFAULT_TEMPLATE

    given = {p.name: p.default for p in run_cmd.command.params}
    out = {k: given[k] for k in SETTINGS}
    out["probe_suffix"] = DEFAULT_SUFFIX if out["probe_suffix"] is None else out["probe_suffix"]
    out["template"] = DEFAULT_TEMPLATE if out["template"] is None else out["template"]
    return out


def _table(r: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    def ci(d: dict, fmt: str) -> str:
        return f"{d['estimate']:{fmt}} [{d['low']:{fmt}}, {d['high']:{fmt}}]"

    live, replay, diff = r["live"], r["replay"], r["difference"]
    t = Table(show_edge=False, header_style="bold")
    for col in ("per question", "live", "replay", f"live − replay [{r['level']:.0%} CI]"):
        t.add_column(col, justify="left" if col == "per question" else "right")
    t.add_row("accuracy %", f"{live['accuracy']:.2f}", f"{replay['accuracy']:.2f}", ci(diff["accuracy"], "+.2f"))
    t.add_row("tokens", f"{live['avg_tokens']:,.1f}", f"{replay['avg_tokens']:,.1f}", ci(diff["tokens"], "+,.1f"))
    t.add_row("sequential tokens", f"{live['avg_sequential_tokens']:,.1f}", f"{replay['avg_sequential_tokens']:,.1f}",
              ci(diff["sequential"], "+,.1f"))
    t.add_row("probe tokens", f"{live['avg_probe_tokens']:,.1f}", "-", "-")
    console = Console(width=160, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(t)
    params = " ".join(f"{k}={v}" for k, v in r["params"].items())
    src = f" (collected from {r['store_model']})" if r["store_model"] else ""
    s = r["settings"]
    return (f"{r['strategy']} [{params}] on {r['store']}{src}: {r['questions']} of {r['store_questions']} questions "
            f"× {len(r['seeds'])} seed{'' if len(r['seeds']) == 1 else 's'}, live on {r['backend']} {r['model']} (Δ={s['interval']}, at most "
            f"{s['max_branch_tokens']} tokens a branch, grader {s['grader']})\n"
            f"paired bootstrap over questions ({r['resamples']:,} resamples); live better/worse/tie on "
            f"{diff['better']}/{diff['worse']}/{diff['ties']} questions, sign p {diff['sign_p']:.3g}\n"
            + cap.get().rstrip())


def _logprobs(checked, st) -> int:
    """A program reading `last_conf` asks for as many log-probabilities as the store was collected with."""
    from ttsc.cli.run_cmd import logprobs_for
    from ttsc.insight.validate import collect_meta
    k = (collect_meta(st) or {}).get("logprobs")
    return logprobs_for(checked, k if "confidence" in checked.signals and type(k) is int and k > 0 else None)
