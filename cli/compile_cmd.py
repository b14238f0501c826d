"""`ttsc compile FILE [--target batched|native] [-o OUT.py]`: lower a checked program to a readable module."""

from __future__ import annotations

import click

from ttsc.cli.loading import load_program, resolve_strategy, write_text_atomically


@click.command("compile")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--target", type=click.Choice(["batched", "native"]), default="batched", show_default=True,
              help="batched: a numpy policy over the batched environment protocol (replay or live); "
                   "native: the scalar per-episode kernel numba compiles for replay stores")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="write the module here instead of stdout")
def command(file: str, target: str, output: str | None) -> None:
    """Compile FILE to a Python module and print or write it."""
    checked = load_program(resolve_strategy(file))
    if target == "batched":
        from ttsc.compiler.codegen import generate

        python = generate(checked).source
    else:
        from ttsc.compiler.native import generate_native  # loads numba

        python = generate_native(checked).source
    if output is None:
        click.echo(python, nl=False)
        return
    write_text_atomically(output, python)
    click.echo(f"wrote {output}", err=True)
