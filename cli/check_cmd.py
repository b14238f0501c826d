"""`ttsc check FILE...`: exit 0 when every program is valid, 1 with diagnostics otherwise."""

from __future__ import annotations

import json

import click

from ttsc.cli.loading import load_program
from ttsc.dsl.diagnostics import DiagnosticError


@click.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def command(files: tuple[str, ...], fmt: str) -> None:
    """Parse and check .tts programs; report every problem found."""
    failed = False
    report: list[dict] = []
    for path in files:
        try:
            load_program(path)
        except DiagnosticError as err:
            failed = True
            if fmt == "json":
                report.extend(err.to_json())
            else:
                click.echo(err.render(), err=True)
        else:
            if fmt == "text":
                click.echo(f"ok: {path}")
    if fmt == "json":
        click.echo(json.dumps(report, indent=2))
    raise SystemExit(1 if failed else 0)
