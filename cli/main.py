"""The `ttsc` command: a click group; each subcommand lives in its own module.

Every command turns :class:`~ttsc.errors.TtscError` into a clean message and a
non-zero exit; no Python traceback reaches a user for bad input.
"""

from __future__ import annotations

import contextlib
import errno
import importlib
import pkgutil
import sys

import click

import ttsc.cli
from ttsc import __version__
from ttsc.errors import TtscError


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}


class _Group(click.Group):
    """Subcommands load on first use: `ttsc check` never imports numba or numpy's engines."""

    def list_commands(self, ctx) -> list[str]:
        return sorted(_COMMANDS)

    def get_command(self, ctx, name: str):
        module = _COMMANDS.get(name)
        return None if module is None else importlib.import_module(f"ttsc.cli.{module}").command

    def invoke(self, ctx):
        for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show `Δ` or `│` gets `?`, not a traceback
            if getattr(stream, "errors", None) == "strict" and hasattr(stream, "reconfigure"):
                stream.reconfigure(errors="replace")
        try:
            return super().invoke(ctx)
        except TtscError as exc:
            click.echo(f"error: {exc}" if not str(exc).startswith(("error", "warning")) else str(exc), err=True)
            ctx.exit(2)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            ctx.exit(130)
        except OSError as exc:  # writing the output failed (a full disk, /dev/full): say so, no traceback
            if exc.errno not in _OUTPUT_ERRNOS:
                raise
            with contextlib.suppress(OSError):
                click.echo(f"error: cannot write the output: {exc.strerror}", err=True)
            ctx.exit(1)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="ttsc")
def cli() -> None:
    """ttsc: compile and evaluate test-time-scaling strategies written in .tts."""


# Each `<name>_cmd` module in this package defines one subcommand `<name>` as `command` (`_` spelled `-`).
_COMMANDS = {m.name[:-4].replace("_", "-"): m.name for m in pkgutil.iter_modules(ttsc.cli.__path__)
             if m.name.endswith("_cmd")}


def main() -> None:
    cli(prog_name="ttsc")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
