"""`ttsc compare A B`: two strategies on the same episodes, as paired differences A − B.

Each store is compared on its own and then pooled over all its questions. The
intervals are paired bootstrap intervals over questions and the sign test counts
questions where A's accuracy (averaged over seeds) beats B's (``insight/stats.py``).
"""

from __future__ import annotations

import json

import click
import numpy as np

from ttsc.cli.loading import (compile_notices, expand_store_paths, load_envs, load_program, parse_sets, progress_bar,
                              resolve_strategy)
from ttsc.compiler.engines import ENGINE_HELP, ENGINES, run
from ttsc.insight import stats
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.params import bind_params

POOLED = "all stores"


@click.command("compare")
@click.argument("a", type=click.Path(dir_okay=False))
@click.argument("b", type=click.Path(dir_okay=False))
@click.option("--env", "envs", multiple=True, callback=lambda c, p, v: expand_store_paths(p, v),
              help="replay store file, directory or quoted glob (repeatable); default: the bundled store")
@click.option("--set-a", "sets_a", multiple=True, metavar="NAME=VALUE", help="override a parameter of A")
@click.option("--set-b", "sets_b", multiple=True, metavar="NAME=VALUE", help="override a parameter of B")
@click.option("--seeds", type=click.IntRange(1, 100_000), default=100, show_default=True, help="run seeds 0..N-1")
@click.option("--engine", type=click.Choice(ENGINES), default="compiled", show_default=True, help=ENGINE_HELP)
@click.option("--resamples", type=click.IntRange(1, 1_000_000), default=stats.RESAMPLES, show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def command(a, b, envs, sets_a, sets_b, seeds, engine, resamples, quiet, fmt) -> None:
    """Compare strategies A and B (files or shipped names) on the same stores and seeds."""
    prog_a, prog_b = load_program(resolve_strategy(a)), load_program(resolve_strategy(b))
    params_a, params_b = bind_params(prog_a, parse_sets(sets_a)), bind_params(prog_b, parse_sets(sets_b))
    stores = load_envs(envs)
    pairs: list[tuple[str, Outcome, Outcome]] = []
    with compile_notices(engine, quiet), progress_bar(quiet) as progress:
        task = progress.add_task("compare", total=2 * len(stores))
        for store in stores:
            outs = []
            for prog, params in ((prog_a, params_a), (prog_b, params_b)):
                progress.update(task, description=f"{prog.name} {store.name}")
                outs.append(run(prog, params, store, range(seeds), engine=engine))
                progress.advance(task)
            pairs.append((store.name, *outs))
    if len(pairs) > 1:
        pairs.append((POOLED, _pooled([p[1] for p in pairs]), _pooled([p[2] for p in pairs])))
    rows = [_row(env, oa, ob, resamples) for env, oa, ob in pairs]
    head = {"a": {"strategy": prog_a.name, "params": params_a}, "b": {"strategy": prog_b.name, "params": params_b},
            "seeds": seeds, "resamples": resamples, "level": stats.LEVEL}
    if fmt == "json":
        click.echo(json.dumps({**head, "rows": rows}, indent=2))
    else:
        click.echo(_table(head, rows))


def _pooled(outs: list[Outcome]) -> Outcome:
    """Every store's questions side by side: one [seeds, all questions] outcome."""
    cat = {k: np.concatenate([getattr(o, k) for o in outs], axis=1)
           for k in ("answers", "correct", "tokens", "sequential", "rounds", "opened", "pruned", "stop_line")}
    return Outcome(seeds=outs[0].seeds, seconds=sum(o.seconds for o in outs), **cat)


def _row(env: str, a: Outcome, b: Outcome, resamples: int) -> dict:
    c = stats.compare(a, b, resamples=resamples)
    return {"env": env, "a_accuracy": a.accuracy, "b_accuracy": b.accuracy, "a_tokens": a.avg_tokens,
            "b_tokens": b.avg_tokens, **c.to_dict()}


def _table(head: dict, rows: list[dict]) -> str:
    from rich.console import Console
    from rich.table import Table

    def signed(x: float, fmt: str) -> str:
        text = f"{x:{fmt}}"  # a small negative rounds to "-0" (or "-0.00"): shown as the zero it prints as
        return "+" + text[1:] if text.startswith("-") and not text.strip("-0.,") else text

    def interval(d: dict, fmt: str) -> str:
        return f"{signed(d['estimate'], fmt)} [{signed(d['low'], fmt)}, {signed(d['high'], fmt)}]"

    t = Table(show_edge=False, header_style="bold")
    for col in ("env", "A acc %", "B acc %", "Δ accuracy pts [CI]", "Δ tokens [CI]", "Δ seq tokens [CI]",
                "A better/worse/tie", "sign p"):
        t.add_column(col, justify="left" if col == "env" else "right")
    for r in rows:
        t.add_row(r["env"], f"{r['a_accuracy']:.2f}", f"{r['b_accuracy']:.2f}", interval(r["accuracy"], "+.2f"),
                  interval(r["tokens"], "+,.0f"), interval(r["sequential"], "+,.0f"),
                  f"{r['better']}/{r['worse']}/{r['ties']}", f"{r['sign_p']:.3g}")

    def who(side: dict) -> str:
        params = " ".join(f"{k}={v}" for k, v in side["params"].items())
        return f"{side['strategy']} [{params}]"

    console = Console(width=160, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(t)
    return (f"A = {who(head['a'])}   B = {who(head['b'])}\n"
            f"differences A − B over {head['seeds']} seeds; paired bootstrap over questions "
            f"({head['resamples']:,} resamples, {head['level']:.0%}); sign test over questions\n"
            + cap.get().rstrip())
