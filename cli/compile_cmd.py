"""`ttsc compile FILE [-o OUT.py]`: lower a checked program to a readable numpy module."""

from __future__ import annotations

import click

from ttsc.cli.loading import load_program, resolve_strategy, write_text_atomically
from ttsc.compiler.codegen import generate


@click.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the module here instead of stdout")
def command(file: str, output: str | None) -> None:
    """Compile FILE to a Python module (numpy only at run time) and print or write it."""
    python = generate(load_program(resolve_strategy(file))).source
    if output is None:
        click.echo(python, nl=False)
        return
    write_text_atomically(output, python)
    click.echo(f"wrote {output}", err=True)
