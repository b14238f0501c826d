"""`ttsc report`: reproduce the paper's Table 1 and write it as Markdown and HTML."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import click

from ttsc.cli.loading import progress_bar
from ttsc.errors import TtscError
from ttsc.insight import report as rep
from ttsc.insight import table1
from ttsc.compiler.engines import ENGINE_HELP, ENGINES

# Where the shared data sits beside a checkout (relative to the working directory).
SHARED = Path("../shared")
DEFAULT_STORES = SHARED / "replay" / "autotts"
DEFAULT_PAPER = SHARED / "reference" / "paper_table1.json"
DEFAULT_CODE = SHARED / "reference" / "autotts_reference.json"


def _existing(path: Path) -> str | None:
    return str(path) if path.exists() else None


@click.command("report")
@click.option("--stores", type=click.Path(exists=True, file_okay=False), default=_existing(DEFAULT_STORES),
              help=f"directory of <model>/<benchmark>.json replay stores  [default: {DEFAULT_STORES} if present]")
@click.option("--paper", type=click.Path(exists=True, dir_okay=False), default=_existing(DEFAULT_PAPER),
              help=f"the paper's Table 1 as JSON  [default: {DEFAULT_PAPER} if present]")
@click.option("--reference", type=click.Path(exists=True, dir_okay=False), default=_existing(DEFAULT_CODE),
              help="the published code's numbers, to tell where the paper differs from its code  "
                   f"[default: {DEFAULT_CODE} if present]")
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="write report.md and report.html (self-contained) into this directory")
@click.option("--seeds", type=click.IntRange(1, 100_000), default=100, show_default=True, help="run seeds 0..N-1")
@click.option("--engine", type=click.Choice(ENGINES), default="compiled", show_default=True,
              help=ENGINE_HELP)
@click.option("--only", multiple=True, metavar="TERM[,TERM...]",
              help="keep cells whose model, benchmark, method or label is one of the terms (repeat to narrow)")
@click.option("--jobs", type=click.IntRange(1, 256), default=1, show_default=True,
              help="run cells in this many processes")
@click.option("--quiet", is_flag=True, help="print neither progress nor the Markdown")
def command(stores, paper, reference, out, seeds, engine, only, jobs, quiet) -> None:
    """Reproduce Table 1 of the paper: every cell's strategy on its store, compared with the printed numbers.

    Exits with status 1 when a cell differs from the paper unexpectedly (cells where the paper
    differs from its own published code are marked † instead).
    """
    if stores is None:
        raise TtscError(f"--stores is required ({DEFAULT_STORES} does not exist here)")
    if paper is None:
        raise TtscError(f"--paper is required ({DEFAULT_PAPER} does not exist here)")
    cells = table1.select(table1.load_cells(paper), only)
    code = table1.load_code_reference(reference) if reference else {}
    notes: list[str] = []
    if not code:
        notes.append("No published-code reference given: a cell where the paper differs from its code counts "
                     "as a mismatch.")

    start = time.perf_counter()
    with progress_bar(quiet) as bar:  # silent with --quiet or when stderr is not a terminal
        task = bar.add_task("Table 1", total=len(cells))

        def progress(r: table1.CellResult) -> None:
            mark = {table1.MATCH: "ok", table1.PAPER_DIFFERS: "† paper differs",
                    table1.MISMATCH: "MISMATCH"}[r.status]
            bar.update(task, description=f"{r.cell.name}: {' / '.join(r.ours.printed)} {mark}")
            bar.advance(task)

        results = table1.reproduce(cells, stores, seeds=seeds, engine=engine, code=code, jobs=jobs,
                                   progress=progress)
    info = rep.ReportInfo(seeds=seeds, engine=engine, stores=str(stores), seconds=time.perf_counter() - start,
                          notes=tuple(notes))
    markdown = rep.render_markdown(results, info)
    if out is not None:
        figures, why = rep.frontier_figures(results)
        if why:
            info = rep.ReportInfo(**{**info.__dict__, "notes": info.notes + (why,)})
        outdir = Path(out)
        try:
            outdir.mkdir(parents=True, exist_ok=True)
            (outdir / "report.md").write_text(markdown, encoding="utf-8")
            (outdir / "report.html").write_text(rep.render_html(results, info, figures), encoding="utf-8")
        except OSError as e:
            raise TtscError(f"{out}: cannot write the report: {e.strerror or e}") from None
    if not quiet:
        click.echo(markdown, nl=False)
    summary = table1.summarize(results)
    if out is not None and not quiet:
        click.echo(f"wrote {Path(out) / 'report.md'} and {Path(out) / 'report.html'}", err=True)
    if not summary.ok:
        click.echo(f"error: {summary.line()}", err=True)
        for r in summary.mismatches:
            click.echo(f"  {rep.mismatch_text(r)}", err=True)
        sys.exit(1)

