"""`ttsc synth OUT.json`: write a seeded synthetic replay store (clearly labelled synthetic)."""

from __future__ import annotations

from pathlib import Path

import click

from ttsc.cli.loading import write_text_atomically
from ttsc.errors import TtscError
from ttsc.runtime.synth import dumps_store, generate_store


@click.command("synth")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--questions", type=click.IntRange(1, 10_000), default=20, show_default=True)
@click.option("--branches", type=click.IntRange(1, 4096), default=64, show_default=True)
@click.option("--probe-freq", type=click.IntRange(1), default=500, show_default=True)
@click.option("--force", is_flag=True, help="overwrite OUT if it exists")
def command(out: str, seed: int, questions: int, branches: int, probe_freq: int, force: bool) -> None:
    """Generate a synthetic store in the AutoTTS replay format (for demos and tests, not a model's data)."""
    path = Path(out)
    if path.exists() and not force:
        raise TtscError(f"{out} exists; pass --force to overwrite it")
    text = dumps_store(generate_store(seed=seed, questions=questions, branches=branches, probe_freq=probe_freq))
    write_text_atomically(path, text)
    click.echo(f"wrote {out}: {questions} questions × {branches} branches (synthetic, seed {seed})")
