"""`ttsc sweep STRATEGY... --env PATH...`: parameter sweeps drawn as accuracy–cost frontiers.

Every strategy is evaluated at every setting of the parameters swept (a sweep
applies to each strategy that has that parameter) on every store; the results
become a frontier (Pareto marks, bootstrap intervals, the average over stores)
written as CSV, JSON and figures.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import click

from ttsc.cli.loading import (compile_notices, expand_store_paths, load_envs, load_program, parse_spec, progress_bar,
                              resolve_strategy)
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.insight import frontier as fr
from ttsc.compiler.engines import ENGINE_HELP, ENGINES, run
from ttsc.runtime.params import Value, bind_params, parse_value



@click.command("sweep")
@click.argument("strategies", nargs=-1, required=True)
@click.option("--env", "envs", multiple=True, callback=lambda c, p, v: expand_store_paths(p, v),
              help="replay store file, directory or quoted glob of <model>/<benchmark>.json (repeatable); "
                   "default: the bundled store")
@click.option("--sweep", "sweeps", multiple=True, metavar="NAME=SPEC",
              help="values of a parameter: a list `2,4,8` or an inclusive range `start:stop:step` such as "
                   "`0:1:0.1`; applies to every strategy with that parameter, or to one as STRATEGY.NAME=SPEC; "
                   "several give the cartesian product")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
              help="fix a parameter for every strategy that has it, or for one as STRATEGY.NAME=VALUE "
                   "(repeatable)")
@click.option("--seeds", type=click.IntRange(1, 100_000), default=100, show_default=True, help="run seeds 0..N-1")
@click.option("--engine", type=click.Choice(ENGINES), default="compiled", show_default=True,
              help=ENGINE_HELP)
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default="ttsc-sweep-out", show_default=True,
              help="folder for frontier.csv, frontier.json and the figures")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "csv"]), default="table", show_default=True,
              help="what to print on stdout")
@click.option("--resamples", type=click.IntRange(1, 1_000_000), default=2000, show_default=True,
              help="bootstrap resamples for the accuracy intervals")
@click.option("--no-plot", is_flag=True, help="write the CSV and JSON only")
@click.option("--no-ci", is_flag=True,
              help="draw no interval bars; the panels zoom in on the curves (the CSV keeps the intervals)")
@click.option("--quiet", "-q", is_flag=True, help="no progress bar and no list of files written")
def command(strategies, envs, sweeps, sets, seeds, engine, out_dir, fmt, resamples, no_plot, no_ci, quiet) -> None:
    """Sweep parameters of STRATEGY... (.tts files or names of the shipped strategies) and draw the frontier.

    \b
    Example:
      ttsc sweep cmc asc esc parallel_probe --env ../shared/replay/autotts/Qwen3-8B/hmmt25.json \\
          --sweep beta=0:1:0.1 --sweep asc.max_samples=2,4,8,16,32,64 \\
          --sweep esc.max_samples=16,32,64 --sweep num_chains=2,4,8,16,32,64
    """
    programs = [load_program(resolve_strategy(s)) for s in strategies]
    names = [c.name for c in programs]
    if len(set(names)) != len(names):
        raise TtscError(f"each strategy can be swept once; got {', '.join(names)}")
    axes = [(name, parse_spec(name, spec)) for name, spec in _pairs(sweeps, "--sweep", "NAME=SPEC")]
    if len({n for n, _ in axes}) != len(axes):
        raise TtscError("each parameter can be swept once (per strategy)")
    fixed = {name: parse_value(v) for name, v in _pairs(sets, "--set", "NAME=VALUE")}
    _require_owner(programs, [n for n, _ in axes], "--sweep")
    _require_owner(programs, list(fixed), "--set")
    plans = [(c, settings(c, axes, fixed)) for c in programs]
    stores = load_envs(envs)

    points = []
    with compile_notices(engine, quiet), progress_bar(quiet) as progress:
        task = progress.add_task("sweep", total=sum(len(s) for _, s in plans) * len(stores))
        for checked, params_list in plans:
            for store in stores:
                for params in params_list:
                    progress.update(task, description=f"{checked.name} {store.name} {_short(params)}")
                    out = run(checked, params, store, range(seeds), engine=engine)
                    points.append(fr.point(checked.name, store.name, params, out, resamples=resamples))
                    progress.advance(task)
    rows = fr.frontier(points, resamples=resamples)
    for line in beta_warnings(programs, rows):
        click.echo(f"warning: {line}", err=True)
    written = write_outputs(rows, Path(out_dir), seeds=seeds, plot=not no_plot, ci=not no_ci)
    click.echo(render(rows, fmt))
    if not quiet:
        click.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


# ---- sweep specifications


def settings(checked: CheckedProgram, axes: list[tuple[str, list[Value]]], fixed: dict[str, Value]) -> list[dict]:
    """Bound parameters for each combination of the sweeps that apply to ``checked``, in sweep order.

    ``NAME`` applies to every strategy with that parameter; ``STRATEGY.NAME``
    to that strategy only, and wins over a plain ``NAME`` there.
    """
    mine = _applicable(checked, axes)
    base = _applicable(checked, list(fixed.items()))
    return [bind_params(checked, {**dict(base), **dict(zip([n for n, _ in mine], combo))})
            for combo in itertools.product(*[vs for _, vs in mine])]


def _applicable(checked: CheckedProgram, items: list[tuple[str, object]]) -> list[tuple[str, object]]:
    scoped = {n.partition(".")[2]: v for n, v in items if n.partition(".")[0] == checked.name and "." in n}
    plain = [(n, v) for n, v in items if "." not in n and n in checked.params and n not in scoped]
    return plain + [(n, v) for n, v in scoped.items() if n in checked.params]


def _pairs(items: tuple[str, ...], flag: str, form: str) -> list[tuple[str, str]]:
    out = []
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip() or not value.strip():
            raise TtscError(f"{flag} takes {form}, got `{item}`")
        out.append((name.strip(), value))
    return out


def _require_owner(programs: list[CheckedProgram], names: list[str], flag: str) -> None:
    """Every name must be a parameter of some strategy (``STRATEGY.NAME``: of that strategy)."""
    by_name = {c.name: c for c in programs}
    for name in names:
        owner, dot, param = name.partition(".")
        if dot:
            if owner not in by_name:
                raise TtscError(f"{flag} {name}: no strategy `{owner}` is being swept ({', '.join(by_name)})")
            if param not in by_name[owner].params:
                raise TtscError(f"{flag} {name}: {owner} has no parameter `{param}` "
                                f"(parameters: {', '.join(by_name[owner].params) or 'none'})")
        elif not any(name in c.params for c in programs):
            have = "; ".join(f"{c.name}: {', '.join(c.params) or 'none'}" for c in programs)
            raise TtscError(f"{flag} {name}: no strategy has a parameter `{name}` ({have})")


# ---- checks, output


def beta_warnings(programs: list[CheckedProgram], rows: list[fr.Point]) -> list[str]:
    """Where measured average tokens fall as β rises (per store, other parameters fixed)."""
    out = []
    for checked in programs:
        if "beta" not in checked.params:
            continue
        groups: dict[tuple[str, str], list[fr.Point]] = {}
        for p in rows:
            if p.strategy == checked.name and p.env != fr.AVERAGE:
                rest = json.dumps({k: v for k, v in p.params.items() if k != "beta"}, sort_keys=True)
                groups.setdefault((p.env, rest), []).append(p)
        for (env, rest), group in groups.items():
            group.sort(key=lambda p: p.params["beta"])
            falls = [(a, b) for a, b in zip(group, group[1:]) if b.avg_tokens < a.avg_tokens]
            if falls:
                a, b = falls[0]
                more = f" (and {len(falls) - 1} more drop{'s' * (len(falls) > 2)})" if len(falls) > 1 else ""
                out.append(f"{checked.name} on {env}: average tokens fall as beta rises: "
                           f"{a.avg_tokens:,.0f} at beta={a.params['beta']:g} → {b.avg_tokens:,.0f} at "
                           f"beta={b.params['beta']:g}{more}")
    return out


def write_outputs(rows: list[fr.Point], out_dir: Path, *, seeds: int, plot: bool, ci: bool = True) -> list[Path]:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        fr.write_csv(rows, out_dir / "frontier.csv")
        fr.write_json(rows, out_dir / "frontier.json")
    except OSError as exc:
        raise TtscError(f"cannot write to {out_dir}: {exc.strerror or exc}") from None
    written = [out_dir / "frontier.csv", out_dir / "frontier.json"]
    if plot:
        from ttsc.insight.plot import plot_frontier

        tail = f"{seeds} seed{'s' * (seeds != 1)}"
        written += plot_frontier(rows, out_dir / "frontier", x="tokens", title=f"Accuracy vs. tokens ({tail})",
                                 ci=ci)
        written += plot_frontier(rows, out_dir / "frontier_sequential", x="sequential",
                                 title=f"Accuracy vs. sequential tokens ({tail})", ci=ci)
    return written


def render(rows: list[fr.Point], fmt: str) -> str:
    if fmt == "json":
        return json.dumps([r.row() for r in rows], indent=2)
    if fmt == "csv":
        import io

        buf = io.StringIO()
        fr.write_csv_to(rows, buf)
        return buf.getvalue().rstrip("\n")
    return _table(rows)


def _table(rows: list[fr.Point]) -> str:
    from rich.console import Console
    from rich.table import Table

    swept = {s: fr.swept([r for r in rows if r.strategy == s]) for s in dict.fromkeys(r.strategy for r in rows)}
    t = Table(show_edge=False, header_style="bold")
    for col, justify in (("strategy", "left"), ("env", "left"), ("setting", "left"), ("accuracy %", "right"),
                         ("95% CI", "right"), ("avg tokens", "right"), ("avg seq tokens", "right"),
                         ("Pareto", "left")):
        t.add_column(col, justify=justify)
    env = None
    for r in rows:
        if env is not None and r.env != env:
            t.add_section()
        env = r.env
        keys = swept[r.strategy] or list(r.params)
        ci = f"{r.acc_ci[0]:.1f}–{r.acc_ci[1]:.1f}" if r.acc_ci else ""
        marks = " ".join(m for m, on in (("tokens", r.pareto), ("seq", r.pareto_sequential)) if on)
        t.add_row(r.strategy, r.env, " ".join(f"{k}={r.params[k]}" for k in keys), f"{r.accuracy:.2f}", ci,
                  f"{r.avg_tokens:,.0f}", f"{r.avg_sequential_tokens:,.0f}", marks)
    console = Console(width=140, record=True, force_terminal=False)
    with console.capture() as cap:
        console.print(t)
    return cap.get().rstrip()


def _short(params: dict) -> str:
    text = " ".join(f"{k}={v}" for k, v in params.items())
    return text if len(text) <= 40 else text[:37] + "..."
