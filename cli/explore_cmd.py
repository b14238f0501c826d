"""`ttsc explore`: search over .tts programs for a better accuracy–cost frontier than a seed strategy."""

from __future__ import annotations

import json
import math
import signal
from pathlib import Path

import click

from ttsc.cli.loading import expand_store_paths, resolve_strategy
from ttsc.cpus import available_cpus
from ttsc.errors import TtscError


@click.command("explore")
@click.option("--search", "search", multiple=True, required=True, callback=lambda c, p, v: _stores(p, v),
              help="search-set replay store (repeatable, or a quoted glob such as 'stores/*/aime24.json'): all the "
                   "loop evaluates or shows a proposer")
@click.option("--holdout", "holdout", multiple=True, callback=lambda c, p, v: _stores(p, v),
              help="held-out store (repeatable, or a quoted glob): evaluated once per finished leg, on its "
                   "selection, after its search; an earlier leg's report (before --resume) is kept as "
                   "holdout.1.md, …")
@click.option("--seed-strategy", default="cmc", show_default=True, help="the strategy the search starts from")
@click.option("--baseline", "baselines", multiple=True, metavar="STRATEGY",
              help="the held-out report also compares the selection with this strategy over its β, as with "
                   "the seed (repeatable; a shipped name or a .tts file), e.g. `--baseline cmc` for a search "
                   "seeded elsewhere")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="output folder")
@click.option("--resume", is_flag=True, help="continue the search recorded in --out")
@click.option("--seed", type=int, default=0, show_default=True, help="the search's random seed")
@click.option("--proposer", type=click.Choice(["evolve", "llm"]), default="evolve", show_default=True,
              help="evolve: typed AST mutations and crossover (no LLM); llm: an OpenAI-compatible chat endpoint")
@click.option("--structural-weight", type=click.FloatRange(0), default=1.0, show_default=True,
              help="evolve: scale the weights of the operators that change a program's shape (each new shape "
                   "costs a native compile); 0 tunes constants only")
@click.option("--base-url", default=None, help="llm: the endpoint, e.g. http://127.0.0.1:8000/v1")
@click.option("--model", default=None, help="llm: the model name to request")
@click.option("--api-key-env", default=None, help="llm: the environment variable holding the API key")
@click.option("--max-repairs", type=click.IntRange(0, 20), default=2, show_default=True,
              help="llm: tries to fix a refused program with its diagnostics")
@click.option("--llm-timeout", type=click.FloatRange(0.1), default=120.0, show_default=True,
              help="llm: seconds per request")
@click.option("--constrained", is_flag=True,
              help="llm: send the language's grammar with every request, so every sample parses")
@click.option("--grammar-dialect", type=click.Choice(["gbnf", "lark"]), default="gbnf", show_default=True,
              help="llm --constrained: gbnf = llama.cpp's `grammar` field; lark = vLLM's "
                   "`structured_outputs: {grammar}` (grammars/tts.lark)")
@click.option("--llm-max-tokens", type=click.IntRange(1), default=None,
              help="llm: max_tokens per request (a sample cut off there is incomplete)")
@click.option("--budget-candidates", type=click.IntRange(0), default=None,
              help="stop once the record holds this many candidates in all (with --resume: the earlier legs' "
                   "count too)")
@click.option("--budget-seconds", type=click.FloatRange(0), default=None,
              help="stop after this many seconds of this leg (with --resume: the earlier legs' time is not counted)")
@click.option("--budget-tokens", type=click.IntRange(0), default=None,
              help="llm: stop once the record holds this many proposer tokens (prompt + completion, from the "
                   "server's usage)")
@click.option("--workers", type=click.IntRange(1, 64), default=None,
              help="evaluation processes [default: the CPUs this process may use]; a new search proposes "
                   "4 candidates per worker together (1 with one worker), and --resume keeps the recorded "
                   "generation size whatever --workers is")
@click.option("--ray", "ray_address", default=None, metavar="ADDRESS",
              help="evaluate candidates as Ray tasks on this cluster (`auto`, `ray://host:10001`, or `local` for a "
                   "new local instance); needs the `ray` extra and the --search paths readable on its nodes")
@click.option("--search-seeds", type=click.IntRange(1, 100_000), default=32, show_default=True,
              help="replay seeds 0..N-1 per search evaluation")
@click.option("--holdout-seeds", type=click.IntRange(1, 100_000), default=100, show_default=True)
@click.option("--score", "score_mode", type=click.Choice(["area", "gamma"]), default="area", show_default=True,
              help="area: frontier area over the seed's token span; gamma: the paper's accuracy − γ·cost at the "
                   "best setting (cost in thousands of tokens per question)")
@click.option("--gamma", type=click.FloatRange(0), default=None,
              help="--score gamma: accuracy points per thousand tokens per question")
@click.option("--folds", type=click.IntRange(0, 1000), default=0, show_default=True,
              help="split each store's questions into K disjoint folds; a best candidate must also win on "
                   "three quarters of them (0: no folds)")
@click.option("--size-penalty", type=click.FloatRange(0), default=0.01, show_default=True,
              help="fitness points subtracted per AST node a candidate has beyond the seed's (a guard against "
                   "bloat; a mechanism such as cmc_revote's re-vote adds about 80 nodes)")
@click.option("--quiet", "-q", is_flag=True)
def command(search, holdout, seed_strategy, baselines, out_dir, resume, seed, proposer, structural_weight, base_url, model, api_key_env,
            max_repairs, llm_timeout, constrained, grammar_dialect, llm_max_tokens, budget_candidates, budget_seconds, budget_tokens, workers, search_seeds, holdout_seeds,
            ray_address, score_mode, gamma, folds, size_penalty, quiet) -> None:
    """Search for a strategy whose frontier beats SEED-STRATEGY's on the --search stores."""
    from ttsc.explorer import loop, report

    if proposer != "llm" and (constrained or llm_max_tokens is not None or budget_tokens is not None):
        raise TtscError("--constrained, --llm-max-tokens and --budget-tokens apply to --proposer llm")
    if budget_candidates is None and budget_seconds is None and budget_tokens is None:
        raise TtscError("give --budget-candidates, --budget-seconds or --budget-tokens (or several)")
    for flag, value in (("--budget-seconds", budget_seconds), ("--gamma", gamma), ("--size-penalty", size_penalty)):
        if value is not None and not math.isfinite(value):  # nan would never stop the loop
            raise TtscError(f"{flag} must be a finite number, not {value}")
    if (score_mode == "gamma") != (gamma is not None):
        raise TtscError("--score gamma needs --gamma G, and --gamma needs --score gamma")
    overlap = {str(Path(p).resolve()) for p in search} & {str(Path(p).resolve()) for p in holdout}
    if overlap:
        raise TtscError(f"a store is both searched and held out: {sorted(overlap)[0]}")
    path = resolve_strategy(seed_strategy)
    name = Path(str(path)).stem
    against = _baselines(baselines, name)
    out = Path(out_dir)
    cfg = loop.Config(search=tuple(search), seed_text=Path(str(path)).read_text(encoding="utf-8"), seed_name=name,
                      seed=seed, seeds=search_seeds, workers=workers or available_cpus(), score=score_mode,
                      gamma=gamma or 0.0, folds=folds, size_penalty=size_penalty,
                      generation=loop.recorded_generation(out) if resume else 0)
    if proposer == "llm":
        from ttsc.explorer.llm import from_options
        propose = from_options(base_url, model, api_key_env, max_repairs, llm_timeout,
                               grammar_dialect if constrained else None, llm_max_tokens)
    else:
        from ttsc.explorer.evolve import Evolve
        propose = loop.evolve_proposer(Evolve(structural_weight=structural_weight))
    previous = signal.signal(signal.SIGTERM, _terminate)  # stop as Ctrl-C does: workers stopped, outputs written
    try:
        try:
            with _progress(quiet) as show:
                state = loop.search(cfg, out, propose, resume=resume, budget_candidates=budget_candidates,
                                    budget_seconds=budget_seconds, budget_tokens=budget_tokens, on_progress=show,
                                    ray_address=ray_address, on_warning=_warn)
        except KeyboardInterrupt as exc:
            _interrupted(cfg, out, exc)
        try:
            _finish(cfg, state, out, holdout, holdout_seeds, against)
        except KeyboardInterrupt as exc:  # the search itself ended; its outputs or held-out report did not
            _interrupted(cfg, out, exc, during="the outputs and held-out evaluation after the search")
    finally:
        signal.signal(signal.SIGTERM, previous)


def _baselines(names: tuple[str, ...], seed_name: str) -> tuple[tuple[str, str], ...]:
    """(name, text) of each --baseline, checked now (before any search) as a candidate would be: it must
    parse, check and have the float knob `beta` the report sweeps."""
    from ttsc.cli.loading import load_program
    from ttsc.explorer.program import front_end

    out = []
    for arg in names:
        path = resolve_strategy(arg)
        name = Path(str(path)).stem
        checked = load_program(path, warn=False)  # a located error, as `ttsc check` prints it
        text = checked.source.text
        fe = front_end(text, str(path))
        if not fe.valid:
            why = "\n".join(d.get("message", "").replace("a candidate needs", "a baseline needs") for d in fe.diagnostics)
            raise TtscError(f"--baseline {arg} is not usable: {why}")
        if name != seed_name and name not in dict(out):
            out.append((name, text))
    return tuple(out)


def _finish(cfg, state, out: Path, holdout, holdout_seeds: int, against=()) -> None:
    """best.tts, the Pareto set and the plot; the summary lines; then the held-out report of a finished leg."""
    from ttsc.explorer import loop, report

    seed_settings = loop._seed_settings(cfg, out, None)
    best = report.write_search_outputs(cfg, state, out, seed_settings)
    scored = [r for r in state.records if r["status"] == "scored"]
    stopped = out / "stopped.json"
    run = json.loads(stopped.read_text(encoding="utf-8")).get("this_run", {}) if stopped.exists() else {}
    if run.get("candidates"):
        click.echo(f"this run: {run['candidates']} candidates in {run['seconds'] / 60:.1f} min = "
                   f"{run['candidates_per_minute']:.1f} per minute ({run['new_shapes_per_minute']:.1f} per minute "
                   "of a new shape)")
    if state.best >= 0:
        s = state.records[state.best]["score"]
        chosen = (f"best #{state.best}: search gain {s['gain']:+.2f} points ({state.best_fitness:+.2f} after the "
                  f"size penalty) → {best}")
    else:
        chosen = f"no candidate beat {cfg.seed_name} on the search set; {best} is {cfg.seed_name} unchanged"
    click.echo(f"{len(state.records)} candidates: {len(scored)} scored, "
               f"{sum(r['status'] == 'invalid' for r in state.records)} invalid, "
               f"{sum(r['status'] == 'duplicate' for r in state.records)} duplicates, "
               f"{sum(bool(r.get('new_shape')) for r in state.records)} of a new shape (a native compile each); "
               + chosen)
    if holdout and state.best < 0:  # nothing was selected: a report would compare the seed with itself
        note = report.evaluation_note(report.keep_earlier_holdout(out)).replace("evaluated", "written")
        (out / "holdout.md").write_text(f"No held-out report ({note}): no candidate beat {cfg.seed_name} on the "
                                        "search set, so none was selected.\n", encoding="utf-8")
        click.echo("no held-out evaluation: nothing was selected (the held-out stores were not read)")
    elif holdout:
        report.holdout_report(cfg, best.read_text(encoding="utf-8"), holdout, out, seeds=holdout_seeds,
                              candidate=state.best, against=against)
        click.echo((out / "holdout.md").read_text(encoding="utf-8"))


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the search is, so it stops like Ctrl-C."""


def _terminate(signum, frame) -> None:
    raise _Terminated()


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _interrupted(cfg, out: Path, exc: KeyboardInterrupt, during: str | None = None) -> None:
    """Bring best.tts, pareto.json and the plot up to date with the record, say how to go on, and exit
    130 (Ctrl-C) or 143 (SIGTERM). No held-out evaluation: that belongs to a finished leg. ``during``: the
    search had ended (its stopped.json said why) and what came after it was interrupted."""
    from ttsc.explorer import loop, report

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut these files short
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    click.echo("stopping: writing best.tts and pareto.json …", err=True)
    if during:
        loop.mark_interrupted(out, during)
    n = 0
    if (out / "run.json").exists():
        state = loop.recorded_state(out, len(cfg.search))
        n = len(state.records)
        if (out / "seed_settings.json").exists():
            report.write_search_outputs(cfg, state, out, loop._seed_settings(cfg, out, None))
    click.echo(f"interrupted after {n} recorded candidates; the record is whole, and best.tts and pareto.json "
               f"are up to date with it. Continue with the same command and --resume.", err=True)
    raise SystemExit(143 if isinstance(exc, _Terminated) else 130)


def progress_line(p) -> str:
    """One line under 80 columns for a search of thousands of candidates (a wrapped line breaks the live
    redraw): tried / valid / improved, the best fitness, candidates per minute (and of them, of a new shape)."""
    return (f"tried {p.tried}  valid {p.valid}  improved {p.improved}  best {p.best:+.2f}  "
            f"{p.per_minute:.1f}/min ({p.new_per_minute:.1f} new)"
            + (f"  {p.tokens:,} tok" if p.tokens else ""))


PLAIN_EVERY = 60.0  # seconds between progress lines when stderr is not a terminal (a log file, CI)


class _progress:
    """A rich live line on a terminal: tried / valid / improved, best so far, candidates per minute; the
    same line every PLAIN_EVERY seconds otherwise, so a search run under nohup or in CI shows it is alive."""

    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __enter__(self):
        import sys
        import time

        self.live = None
        self.plain = not self.quiet and sys.stderr is not None and not sys.stderr.isatty()
        self.last = time.monotonic()
        if not self.quiet and not self.plain and sys.stderr is not None:
            from rich.console import Console
            from rich.live import Live

            self.live = Live("", console=Console(stderr=True), refresh_per_second=2)
            self.live.__enter__()
        return self.show

    def show(self, p) -> None:
        if self.live is not None:
            self.live.update(progress_line(p))
        elif self.plain:
            import time

            now = time.monotonic()
            if now - self.last >= PLAIN_EVERY:
                self.last = now
                click.echo(progress_line(p), err=True)

    def __exit__(self, *exc):
        if self.live is not None:
            self.live.__exit__(*exc)
        return False


def _stores(param, values: tuple[str, ...]) -> tuple[str, ...]:
    return expand_store_paths(param, values, files_only=True)
