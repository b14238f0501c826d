"""`ttsc fmt FILE... [--check] [--diff]`: rewrite programs in the canonical layout.

Files are rewritten in place (a shipped strategy named without a path only with
``--check``/``--diff``: its installed file is not the user's to rewrite), atomically (a temporary file in the same folder,
then a rename), so an interrupted run never leaves half a program. A file that
does not parse is reported with its diagnostics and left untouched; the exit
status is then 1. ``--check`` and ``--diff`` write nothing and exit 1 when any
file would change.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from pathlib import Path

import click

from ttsc.cli.loading import shipped_strategy
from ttsc.dsl.diagnostics import DiagnosticError
from ttsc.dsl.formatter import format_source
from ttsc.dsl.parser import read_source
from ttsc.errors import TtscError


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path``'s content with ``text`` without ever exposing a partial file."""
    target = Path(os.path.realpath(path))  # through a symlink, not over it
    mode = target.stat().st_mode & 0o7777
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@click.command("fmt")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--check", is_flag=True, help="Write nothing; list the files that would change and exit 1 if any.")
@click.option("--diff", "show_diff", is_flag=True, help="Write nothing; print the changes as a unified diff.")
def command(files: tuple[str, ...], check: bool, show_diff: bool) -> None:
    """Format .tts programs in place (4-space indents, canonical spacing; comments kept)."""
    failed: list[str] = []
    changed: list[str] = []
    for path in files:
        shipped = shipped_strategy(path)
        if shipped is not None and not (check or show_diff):
            # the installed copy is the package's, not the user's: never rewrite it in place
            click.echo(f"error: `{path}` names a shipped strategy; fmt rewrites files in place, so give "
                       f"the path of a copy to format (or use --check or --diff)", err=True)
            failed.append(path)
            continue
        try:
            src = read_source(shipped or path)
            new = format_source(src)
        except DiagnosticError as err:
            click.echo(err.render(), err=True)
            failed.append(path)
            continue
        except TtscError as err:
            click.echo(f"error: {err}", err=True)
            failed.append(path)
            continue
        if new == src.text:
            continue
        changed.append(path)
        if show_diff:
            click.echo("\n".join(difflib.unified_diff(
                src.text.splitlines(), new.splitlines(), path, f"{path} (formatted)", lineterm="")))
        if check or show_diff:
            click.echo(f"would reformat {path}", err=show_diff)
            continue
        try:
            write_atomically(Path(path), new)
        except OSError as exc:
            click.echo(f"error: {path}: cannot write: {exc.strerror or exc}", err=True)
            failed.append(path)
            continue
        click.echo(f"reformatted {path}")
    if check or show_diff:
        done = f"{len(changed)} of {len(files)} file{'s' * (len(files) != 1)} would be reformatted"
    else:
        done = f"{len(changed)} of {len(files)} file{'s' * (len(files) != 1)} reformatted"
    if failed:  # a file that could not be read, parsed or written is not a file that was fine
        done += f"; {len(failed)} could not be formatted"
    click.echo(done, err=True)
    raise SystemExit(1 if failed or ((check or show_diff) and changed) else 0)
