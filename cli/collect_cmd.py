"""`ttsc collect`: sample trajectories from a live backend and freeze them as a replay store.

The store is the published AutoTTS format plus a ``meta`` block, so `ttsc eval`,
`sweep` and `explore` take it unchanged; see ``runtime/live/collect.py`` for
what is recorded and how an interrupted run resumes.
"""

from __future__ import annotations

import click

from ttsc.cli.run_cmd import http_options
from ttsc.errors import TtscError


@click.command("collect")
@click.option("--backend", type=click.Choice(["openai", "vllm"]), required=True,
              help="openai: any OpenAI-compatible /v1/completions server; vllm: in-process vllm.LLM (GPU)")
@click.option("--model", required=True, help="model name (openai) or path/name to load (vllm)")
@click.option("--base-url", "base_urls", multiple=True, metavar="URL",
              help="server base URL (repeatable: questions are spread over them, a question's branches on one)")
@click.option("--dataset", type=click.Path(dir_okay=False), required=True,
              help="JSONL: one {\"question\", \"answer\"} per line")
@click.option("--branches", type=click.IntRange(1), required=True, help="trajectories per question")
@click.option("--interval", type=click.IntRange(1), required=True, help="Δ: tokens per interval")
@click.option("--max-branch-tokens", type=click.IntRange(1), default=32768, show_default=True)
@click.option("--logprobs", type=click.IntRange(0), default=0, show_default=True,
              help="top-k log-probabilities per token: store per-interval confidence signals (0 = none)")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), required=True, help="the store to write (JSON)")
@click.option("--resume", is_flag=True, help="continue an interrupted collection of --out")
@click.option("--probe-suffix", default=None, help="answer-eliciting text appended to probe a branch")
@click.option("--probe-tokens", type=click.IntRange(1), default=16, show_default=True)
@click.option("--extractor", default="boxed", show_default=True, help="boxed, or regex:PATTERN")
@click.option("--template", default=None, help="prompt template containing {question}")
@click.option("--grader", type=click.Choice(["math", "exact"]), default="math", show_default=True,
              help="how the store's answers are meant to be graded (recorded in its meta)")
@click.option("--temperature", type=float, default=0.7, show_default=True)
@click.option("--top-p", type=float, default=1.0, show_default=True)
@http_options
@click.option("--batch-questions", type=click.IntRange(1), default=8, show_default=True,
              help="questions generated in the same backend calls")
@click.option("--progress/--no-progress", default=True, show_default=True, help="a progress bar on stderr")
def command(backend, model, base_urls, dataset, branches, interval, max_branch_tokens, logprobs, seed, out, resume,
            probe_suffix, probe_tokens, extractor, template, grader, temperature, top_p, timeout, retries,
            concurrency, batch_questions, progress) -> None:
    """Collect --branches trajectories per --dataset question from a live model into the replay store --out."""
    from ttsc.cli.run_cmd import _items
    from ttsc.runtime.live.collect import Item, Settings, collect
    from ttsc.runtime.live.env import DEFAULT_SUFFIX, DEFAULT_TEMPLATE, LiveConfig

    config = LiveConfig(interval=interval, max_branch_tokens=max_branch_tokens, max_branches=branches,
                        probe_suffix=DEFAULT_SUFFIX if probe_suffix is None else probe_suffix,
                        probe_tokens=probe_tokens, template=template or DEFAULT_TEMPLATE, extractor=extractor,
                        logprobs=logprobs)
    items = []
    for index, question, gold in _items((), (), dataset):
        if gold is None:
            raise TtscError(f"{dataset}: question {index} has no \"answer\"; a store needs every gold answer")
        items.append(Item(index, question, gold))
    settings = Settings(model=model, backend=backend, config=config, temperature=temperature, top_p=top_p,
                        seed=seed, branches=branches, dataset=str(dataset), grader=grader)
    gen = _backend(backend, model, base_urls, temperature, top_p, timeout, retries, concurrency, logprobs)
    try:
        s = collect(gen, items, settings, out, resume=resume, batch_questions=batch_questions, progress=progress)
    except KeyboardInterrupt:
        click.echo(f"interrupted: the questions finished so far are kept in {out}.journal; run the same command "
                   "with --resume to continue", err=True)
        raise
    finally:
        close = getattr(gen, "close", None)
        if close:
            close()
    if s["collected"] == 0 and resume:
        click.echo(f"{out}: already complete ({s['questions']} questions)")
        return
    rate = s["tokens"] / s["seconds"] if s["seconds"] > 0 else 0.0
    click.echo(f"wrote {out}: {s['questions']} questions × {branches} branches ({s['collected']} collected now, "
               f"{s['tokens']:,} tokens generated, probes included, in {s['seconds']:.1f}s, {rate:,.1f} tokens/s)")


def _backend(kind, model, base_urls, temperature, top_p, timeout, retries, concurrency, logprobs):
    if kind == "vllm" and not base_urls and logprobs > 20:  # vLLM refuses more than its max_logprobs (20)
        from ttsc.runtime.live.vllm import VLLMBackend
        return VLLMBackend(model, temperature=temperature, top_p=top_p, max_logprobs=logprobs)
    from ttsc.cli.run_cmd import _backend as backend
    return backend(kind, model, base_urls, temperature, top_p, timeout, retries, concurrency)
