"""`ttsc check FILE...`: exit 0 when every program is valid, 1 with diagnostics otherwise."""

from __future__ import annotations

import json

import click

from ttsc.cli.loading import load_program, shipped_strategy
from ttsc.dsl.checker import CheckedProgram
from ttsc.dsl.diagnostics import DiagnosticError


@click.command("check")
# Plain paths: a missing file or a directory is reported like any other refused program
# (a located E0001 and exit 1), not as a usage error.
@click.argument("files", nargs=-1, required=True, type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--beta-monotone", is_flag=True,
              help="also verify that every knob derived from `beta` is monotone in beta on [0, 1]")
def command(files: tuple[str, ...], fmt: str, beta_monotone: bool) -> None:
    """Parse and check .tts programs (files or names of the shipped strategies); report every problem found."""
    failed = False
    report: list[dict] = []
    for path in files:
        try:
            # a missing file: a located E0001; warnings are printed here in text mode, collected for JSON below
            checked = load_program(shipped_strategy(path) or path, warn=fmt == "text")
        except DiagnosticError as err:
            failed = True
            if fmt == "json":
                report.extend(err.to_json())
            else:
                click.echo(err.render(), err=True)
        else:
            if fmt == "json":  # reported, but a program with warnings is still valid
                report.extend(w.to_json(checked.source) for w in checked.warnings)
            ok = _beta_monotone(checked, fmt, report) if beta_monotone else True
            failed |= not ok
            if fmt == "text" and ok:  # `ok:` only once every requested check has passed
                click.echo(f"ok: {path}")
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    raise SystemExit(1 if failed else 0)


def _beta_monotone(checked: CheckedProgram, fmt: str, report: list[dict]) -> bool:
    """Run the β-monotonicity check; print (text) or collect (json) its findings. False when a knob is not."""
    from ttsc.insight.monotone import NoBetaError, check_beta_monotone

    try:
        result = check_beta_monotone(checked)
    except NoBetaError as exc:
        if fmt == "text":
            click.echo(f"note: {exc}", err=True)
        return True
    diags = result.diagnostics()
    if fmt == "json":
        report.extend(d.to_json(checked.source) for d in diags)
    else:
        click.echo(result.render())
        for d in diags:
            click.echo(d.render(checked.source) + "\n", err=True)
    return not diags
