"""`ttsc compile FILE [-o OUT.py]`: lower a checked program to a readable numpy module."""

from __future__ import annotations

from pathlib import Path

import click

from ttsc.cli.loading import load_program, resolve_strategy
from ttsc.compiler.codegen import generate
from ttsc.errors import TtscError


@click.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the module here instead of stdout")
def command(file: str, output: str | None) -> None:
    """Compile FILE to a Python module (numpy only at run time) and print or write it."""
    python = generate(load_program(resolve_strategy(file))).source
    if output is None:
        click.echo(python, nl=False)
        return
    path = Path(output)
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(python, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise TtscError(f"cannot write {output}: {exc.strerror or exc}") from None
    click.echo(f"wrote {output}", err=True)
