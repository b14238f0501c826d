"""`ttsc daemon start|stop|status`: a warm process that runs `eval`, `sweep`, `compare` and `trace`.

Each of those commands, run as its own process, pays about half a second to import numpy and numba and
load its kernel before any episode runs, and parses its stores' cached tables again. A daemon pays that
once: while it runs, the `ttsc` script hands those commands to it over a Unix socket only the user can
reach, with the caller's arguments, working directory, environment and terminal, and prints exactly what
the command would print on its own. See ``cli/daemon_server.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import click

from ttsc.cli import daemon_client as wire
from ttsc.errors import TtscError


@click.group("daemon")
def command() -> None:
    """Keep a warm process for `eval`, `sweep`, `compare` and `trace` (start, stop, status)."""


@command.command("start")
@click.option("--idle", type=click.FloatRange(min=0), default=3600.0, show_default=True,
              help="exit after this many seconds without a command (0: never)")
def start(idle: float) -> None:
    """Start the daemon in the background (it stops itself when ttsc's code changes)."""
    path = wire.socket_path()
    running = wire.request("status", path)
    if running is not None and not running.get("stale"):
        click.echo(f"a ttsc daemon is already running (pid {running['pid']})")
        return
    if running is not None:  # it runs older code: it would only refuse every command and stop
        _stop(running["pid"])
        click.echo(f"stopped the ttsc daemon running older code (pid {running['pid']})")
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o700, exist_ok=True)
    except OSError as exc:
        raise TtscError(f"cannot create {folder}: {exc.strerror or exc}") from None
    if not wire.private_dir(folder):
        raise TtscError(f"{folder} must be a folder of yours that only you can enter (chmod 700 {folder}); "
                        "set TMPDIR to put the daemon's socket elsewhere")
    log = wire.log_path(path)
    with open(log, "wb") as out:
        # -P: no working folder on the import path (the daemon enters each client's)
        proc = subprocess.Popen([sys.executable, "-P", "-m", "ttsc.cli.daemon_server", "--socket", path,
                                 "--idle", repr(idle)], stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                start_new_session=True, cwd="/")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            with open(log, encoding="utf-8", errors="replace") as f:
                raise TtscError(f"the ttsc daemon did not start:\n{f.read().strip()}")
        with open(log, encoding="utf-8", errors="replace") as f:
            if f.read().startswith("ready"):
                click.echo(f"ttsc daemon started (pid {proc.pid}); `ttsc eval`, `sweep`, `compare` and `trace` "
                           "now run in it; `ttsc daemon stop` ends it")
                return
        time.sleep(0.05)
    proc.terminate()
    raise TtscError("the ttsc daemon did not start within 120 s")


@command.command("stop")
def stop() -> None:
    """Stop the daemon; a command it is running ends as on SIGTERM (its client exits with status 143)."""
    answer = wire.request("stop")
    if answer is None:
        click.echo("no ttsc daemon is running")
        return
    _wait_gone(answer["stopped"])
    click.echo(f"ttsc daemon stopped (pid {answer['stopped']})")


def _stop(pid: int) -> None:
    wire.request("stop")
    _wait_gone(pid)


def _wait_gone(pid: int) -> None:
    path = wire.socket_path()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and os.path.exists(path) and _alive(pid):  # it removes its socket
        time.sleep(0.02)


@command.command("status")
def status() -> None:
    """Say whether a daemon is running; exit 1 if none."""
    answer = wire.request("status")
    if answer is None:
        click.echo("no ttsc daemon is running")
        raise SystemExit(1)
    up = time.time() - answer["started"]
    idle = f"exits after {answer['idle']:g} s without a command" if answer["idle"] else "never exits on its own"
    busy = "" if answer.get("busy") is None else f"; running a command for {answer['busy']:.0f} s"
    if answer.get("stale"):
        busy += "; it runs older code than is installed now and stops at the next command"
    click.echo(f"ttsc daemon running: pid {answer['pid']}, up {up:.0f} s, {answer['served']} commands served"
               f"{busy}; {idle}; socket {answer['socket']}")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
