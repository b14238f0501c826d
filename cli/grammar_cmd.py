"""`ttsc grammar --format lark|gbnf`: the language's grammar, for grammar-constrained decoding."""

from __future__ import annotations

import click


@click.command("grammar")
@click.option("--format", "fmt", type=click.Choice(["lark", "gbnf"]), default="lark", show_default=True,
              help="lark: grammars/tts.lark as is (vLLM structured outputs); gbnf: llama.cpp's grammar format")
def command(fmt: str) -> None:
    """Print the grammar of .tts programs."""
    from ttsc.dsl.parser import grammar_text

    text = grammar_text()
    if fmt == "gbnf":
        from ttsc.explorer.gbnf import lark_to_gbnf
        text = lark_to_gbnf(text)
    click.echo(text, nl=not text.endswith("\n"))
