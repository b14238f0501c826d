"""`ttsc eval STRATEGY`: score a strategy on replay stores, over parameter settings and seeds."""

from __future__ import annotations

import csv
import io
import json

import click

from ttsc.cli.loading import (compile_notices, expand_store_paths, load_envs, load_program, parse_sets, parse_sweeps,
                              progress_bar, resolve_strategy)
from ttsc.compiler.engines import ENGINE_HELP, ENGINES, run
from ttsc.errors import TtscError
from ttsc.runtime.params import bind_params

# seconds: running the episodes; compile_seconds: compiling (or loading) the program before the first run
COLUMNS = ("strategy", "env", "params", "accuracy", "avg_tokens", "avg_sequential_tokens", "seconds",
           "compile_seconds")


@click.command("eval")
@click.argument("strategy", type=click.Path(dir_okay=False))
@click.option("--env", "envs", multiple=True, callback=lambda c, p, v: expand_store_paths(p, v),
              help="replay store file, directory or quoted glob of <model>/<benchmark>.json (repeatable); "
                   "default: the bundled store")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="override a parameter (repeatable)")
@click.option("--sweep", "sweeps", multiple=True, metavar="NAME=SPEC",
              help="evaluate each value: a list `2,4,8` or an inclusive range `start:stop:step` such as "
                   "`0:1:0.1`; several --sweep give the cartesian product")
@click.option("--seeds", type=click.IntRange(1, 100_000), default=100, show_default=True,
              help="run seeds 0..N-1")
@click.option("--engine", type=click.Choice(ENGINES), default="compiled", show_default=True,
              help=ENGINE_HELP)
@click.option("--quiet", "-q", is_flag=True, help="no progress bar")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True)
@click.option("--traces", type=click.Path(file_okay=False), default=None,
              help="write one JSONL line per episode into this directory, one file per (env, params)")
def command(strategy, envs, sets, sweeps, seeds, engine, quiet, fmt, traces) -> None:
    """Evaluate STRATEGY (a .tts file, or a shipped strategy's name) and print accuracy and tokens per question."""
    checked = load_program(resolve_strategy(strategy))
    fixed = parse_sets(sets)
    sweep_settings = parse_sweeps(sweeps)
    both = sorted(set(fixed) & set(sweep_settings[0]))
    if both:
        raise TtscError(f"`{both[0]}` is given to both --set and --sweep; give it to one of them")
    settings = [bind_params(checked, {**fixed, **sweep}) for sweep in sweep_settings]
    stores = load_envs(envs)
    rows = []
    with compile_notices(engine, quiet), progress_bar(quiet) as progress:
        task = progress.add_task(checked.name, total=len(stores) * len(settings))
        for store in stores:
            for params in settings:
                progress.update(task, description=f"{checked.name} {store.name}")
                rows.append(_evaluate(checked, params, store, seeds, engine, traces))
                progress.advance(task)
    click.echo(render(rows, fmt))


def _evaluate(checked, params, store, seeds, engine, traces) -> dict:
    out = run(checked, params, store, range(seeds), engine=engine)
    if traces is not None:
        from ttsc.insight.trace import write_episode_summaries

        write_episode_summaries(traces, checked.name, store.name, params, out)
    return {"strategy": checked.name, "env": store.name, "params": params, "accuracy": out.accuracy,
            "avg_tokens": out.avg_tokens, "avg_sequential_tokens": out.avg_sequential_tokens, "seconds": out.seconds,
            "compile_seconds": out.compile_seconds}


def render(rows: list[dict], fmt: str) -> str:
    if fmt == "json":
        return json.dumps(rows, indent=2)
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(COLUMNS)
        for r in rows:
            w.writerow([r["strategy"], r["env"], json.dumps(r["params"], sort_keys=False),
                        repr(r["accuracy"]), repr(r["avg_tokens"]), repr(r["avg_sequential_tokens"]),
                        f"{r['seconds']:.3f}", f"{r['compile_seconds']:.3f}"])
        return buf.getvalue().rstrip("\n")
    return _table(rows)


def _table(rows: list[dict]) -> str:
    from rich.console import Console
    from rich.table import Table

    t = Table(show_edge=False, header_style="bold")
    for col, justify in (("env", "left"), ("params", "left"), ("accuracy %", "right"), ("avg tokens", "right"),
                         ("avg seq tokens", "right"), ("seconds", "right"), ("compile s", "right")):
        t.add_column(col, justify=justify)
    for r in rows:
        params = " ".join(f"{k}={v}" for k, v in r["params"].items())
        t.add_row(r["env"], params, f"{r['accuracy']:.2f}", f"{r['avg_tokens']:,.1f}",
                  f"{r['avg_sequential_tokens']:,.1f}", f"{r['seconds']:.2f}", f"{r['compile_seconds']:.2f}")
    console = Console(width=120, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(t)
    return f"{rows[0]['strategy'] if rows else ''}\n" + cap.get().rstrip()
