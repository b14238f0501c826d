"""`ttsc trace STRATEGY`: replay one episode and show every decision it made."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from ttsc.cli.loading import load_envs, load_program, parse_sets, resolve_strategy
from ttsc.errors import TtscError
from ttsc.insight import render_trace
from ttsc.insight.trace import record, write_jsonl
from ttsc.runtime.params import bind_params


@click.command("trace")
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--env", "env", type=click.Path(exists=True), default=None,
              help="replay store file, or a folder of stores (then --store picks one)  [default: the bundled store]")
@click.option("--store", "store_name", default=None, metavar="NAME",
              help="which store of an --env folder (e.g. aime24 or Qwen3-8B/aime24)")
@click.option("--question", type=click.IntRange(0), default=0, show_default=True, help="question index in the store")
@click.option("--seed", type=click.IntRange(0), default=0, show_default=True, help="the seed that shuffles branches")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter (repeatable)")
@click.option("--jsonl", type=click.Path(dir_okay=False, allow_dash=True), default=None,
              help="also write the trace as JSONL (one object per event, then a summary); - for stdout only")
@click.option("--width", type=click.IntRange(60, 1000), default=None, help="width to render for  [default: the terminal's; 160 when piped]")
def command(strategy, env, store_name, question, seed, sets, jsonl, width) -> None:
    """Replay one episode of STRATEGY (a .tts file or a shipped name such as cmc) and show a timeline and a
    width × depth picture."""
    checked = load_program(resolve_strategy(strategy))
    params = bind_params(checked, parse_sets(sets))
    store = _pick(load_envs((env,) if env else ()), store_name)
    if question >= len(store.questions):
        n = len(store.questions)
        raise TtscError(f"--question {question} is out of range: {store.name} has {n} question{'s' if n != 1 else ''} "
                        f"(0..{n - 1})")
    trace = record(checked, params, store.questions[question], seed, question_index=question, env=store.name,
                   path=store.path)
    if jsonl == "-":
        write_jsonl(trace, sys.stdout)
        return
    if jsonl is not None:
        write_jsonl(trace, jsonl)
    console = Console(width=width, highlight=False)
    if console.is_terminal:
        render_trace.render(trace, console)
    else:  # piped: plain text, wide enough for the timeline, no trailing blanks
        click.echo(render_trace.render_text(trace, width or 160), nl=False)


def _pick(stores, name: str | None):
    """The one store to trace: the only one, or the one ``--store`` names (its name or its last part)."""
    if name is None and len(stores) == 1:
        return stores[0]
    names = [s.name for s in stores]
    if name is None:
        raise TtscError(f"--env holds {len(stores)} stores; pick one with --store ({', '.join(names)})")
    found = [s for s in stores if s.name == name or s.name.endswith("/" + name)]
    if len(found) > 1:  # list the ones it matches: those are what to choose between
        raise TtscError(f"--store {name} names several of the stores in --env ({', '.join(s.name for s in found)}); "
                        "give one of these names whole")
    if not found:
        raise TtscError(f"--store {name} names none of the stores in --env ({', '.join(names)})")
    return found[0]
