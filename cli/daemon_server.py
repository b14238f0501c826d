"""The server half of `ttsc daemon`: one warm process that runs `eval`, `sweep`, `compare` and `trace`.

A fresh `ttsc eval` process spends longer importing numpy and numba and loading its kernel than the
kernels take to run; this process pays that once. It runs one command at a time, in its main thread,
exactly as `ttsc` would run it: the client's argv, working directory, environment, umask and standard
streams (received as file descriptors) are installed for the command and taken down after it. What it
keeps between commands is what any process may cache — kernels keyed by the program's text, store tables
keyed by the file's bytes — so a command's output and exit status are the same as without the daemon.

A listener thread answers every connection at once. It refuses a command (the client then runs it in its
own process) while another runs, or when the client's priority or CPU affinity differ from the daemon's;
the main thread refuses one when ttsc's own code changed since the daemon started, and exits then, after
``--idle`` seconds without a command, on ``ttsc daemon stop`` and on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import queue
import signal
import socket
import sys
import threading
import time
import traceback
import warnings

from ttsc.cache import source_files
from ttsc.cli import daemon_client as wire


_PACKAGES = ("ttsc", "ttsc.cli", "ttsc.dsl", "ttsc.compiler", "ttsc.runtime", "ttsc.runtime.live", "ttsc.grammars",
             "ttsc.strategies", "ttsc.insight", "ttsc.explorer")


def code_stamp() -> tuple:
    """Every source file of the installed ttsc, with its size and modification time."""
    return tuple((str(p), st.st_size, st.st_mtime_ns)
                 for p in source_files(_PACKAGES, (".py", ".lark", ".tts")) for st in (p.stat(),))


def _warm() -> None:
    """Import what every served command needs, so the first one does not pay for it."""
    import importlib

    for module in ("ttsc.cli.main", "ttsc.compiler.engines", "ttsc.compiler.native_engine",
                   "ttsc.runtime.store_cache", *(f"ttsc.cli.{name}_cmd" for name in wire.SERVED)):
        importlib.import_module(module)
    from ttsc.compiler.native_engine import _no_blas_probe

    with _no_blas_probe():  # as a kernel's first load would: numba without SciPy's BLAS
        importlib.import_module("numba")


class Server:
    """A listener thread answers every connection at once: ``status`` and ``stop``, and a command either
    handed to the main thread (which runs one at a time) or, while one runs, refused as busy, so the
    client runs it in its own process, side by side, as it would without a daemon."""

    def __init__(self, path: str, idle: float):
        self.path, self.idle = path, idle
        self.stamp = code_stamp()
        self.started, self.served = time.time(), 0
        self.last_command = time.monotonic()
        self.listener: socket.socket | None = None
        self._lock = threading.Lock()
        self._commands: queue.Queue = queue.Queue()
        self._busy_since: float | None = None  # while a command is handed over or running
        self._running: object | None = None  # a token of the command running now
        self._interrupt_sent = False
        self.stopping = False

    def bind(self) -> None:
        folder = os.path.dirname(self.path)
        os.makedirs(folder, mode=0o700, exist_ok=True)
        if not wire.private_dir(folder):
            raise SystemExit(f"error: {folder} must be a folder of yours that only you can enter (mode 700)")
        if wire.connect(self.path) is not None:
            raise SystemExit(f"error: a ttsc daemon already listens on {self.path}")
        try:
            os.unlink(self.path)  # a socket left by a daemon that was killed
        except FileNotFoundError:
            pass
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(self.path)
        self.listener.listen(16)

    def serve(self) -> None:
        """Run the commands the listener hands over until stopped, stale or idle."""
        assert self.listener is not None
        threading.Thread(target=self._listen, args=(self.listener,), daemon=True).start()
        try:
            while not self.stopping:
                left = None
                if self.idle:  # time since the last command: a status request does not keep it alive
                    left = self.last_command + self.idle - time.monotonic()
                    if left <= 0:
                        return
                try:
                    conn, message, fds = self._commands.get(timeout=left)
                except queue.Empty:
                    return
                except KeyboardInterrupt:
                    if self._stray_interrupt():
                        continue
                    return
                try:
                    with conn:
                        try:
                            self._command(conn, message, fds)
                        finally:  # wakes the command's watcher thread, blocked reading this connection
                            with contextlib.suppress(OSError):
                                conn.shutdown(socket.SHUT_RDWR)
                except KeyboardInterrupt:  # the client's Ctrl-C arriving as the command ended
                    if not self._stray_interrupt():
                        return
                except Exception:  # a client that went away mid-request: it never stops the daemon
                    pass
                finally:
                    with self._lock:
                        self._busy_since = None
        finally:
            self.close()

    def close(self) -> None:
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def _stray_interrupt(self) -> bool:
        with self._lock:
            stray, self._interrupt_sent = self._interrupt_sent, False
        return stray

    # ---- the listener thread ----------------------------------------------------------------------

    def _listen(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:  # closed: the daemon is stopping
                return
            try:
                self._dispatch(conn)
            except Exception:  # a client that went away mid-request
                conn.close()

    def _dispatch(self, conn: socket.socket) -> None:
        conn.settimeout(30)
        message, fds = wire.receive(conn, max_fds=3)
        conn.settimeout(None)
        control = None if message is None else message.get("control")
        if message is None or control is not None or len(fds) != 3:
            for fd in fds:
                os.close(fd)
            with conn:
                if control is not None:
                    self._control(conn, control)
                elif message is not None:
                    wire.send(conn, {"refused": "the client's standard streams did not arrive"})
            return
        why = _differs(message)
        with self._lock:
            if why is None and (self._busy_since is not None or self.stopping):
                why = "busy"  # the client runs it in its own process, beside the running one
            if why is None:
                self._busy_since = time.monotonic()
                self._commands.put((conn, message, fds))
                return
        for fd in fds:
            os.close(fd)
        with conn:
            wire.send(conn, {"refused": why})

    def _control(self, conn: socket.socket, control: str) -> None:
        if control == "status":
            with self._lock:
                busy = None if self._busy_since is None else time.monotonic() - self._busy_since
            wire.send(conn, {"pid": os.getpid(), "started": self.started, "served": self.served,
                             "socket": self.path, "idle": self.idle, "busy": busy,
                             "stale": code_stamp() != self.stamp})
        elif control == "stop":
            wire.send(conn, {"stopped": os.getpid()})
            os.kill(os.getpid(), signal.SIGTERM)  # as SIGTERM: ends a running command (exit 143) and the daemon
        else:
            wire.send(conn, {"error": f"unknown control request {control!r}"})

    # ---- the main thread --------------------------------------------------------------------------

    def _command(self, conn: socket.socket, message: dict, fds: list[int]) -> None:
        try:
            if code_stamp() != self.stamp:  # ttsc was edited or reinstalled: this process runs old code
                wire.send(conn, {"refused": "stale"})
                self.stopping = True
                return
            try:
                os.chdir(message["cwd"])
            except OSError as exc:
                wire.send(conn, {"refused": f"cannot enter {message['cwd']}: {exc.strerror}"})
                return
            wire.send(conn, {"accepted": True})
            code = self._run(conn, message, fds)
        finally:
            for fd in fds:
                os.close(fd)
            os.chdir("/")  # holds no client's folder between commands
        self.served += 1
        self.last_command = time.monotonic()
        wire.send(conn, {"exit": code})

    def _run(self, conn: socket.socket, message: dict, fds: list[int]) -> int:
        """Run the command with the client's streams, environment and argv; its exit status."""
        from ttsc.cli.main import cli

        saved_fds = [os.dup(n) for n in (0, 1, 2)]
        saved_streams = sys.stdin, sys.stdout, sys.stderr
        saved_env = dict(os.environ)
        saved_umask = os.umask(int(message.get("umask", 0o022)))  # files the command writes: the client's mode
        for fd, n in zip(fds, (0, 1, 2)):
            os.dup2(fd, n)
        os.environ.clear()
        os.environ.update(message["env"])
        sys.stdin, sys.stdout, sys.stderr = (_stream(n, enc) for n, enc in zip((0, 1, 2), message["encodings"]))
        with self._lock:
            token = self._running = object()
            self._interrupt_sent = False
        watcher = threading.Thread(target=self._watch, args=(conn, token), daemon=True)
        watcher.start()
        try:
            with warnings.catch_warnings():  # a fresh warnings registry: each command warns as if it were alone
                try:
                    cli.main(args=message["argv"], prog_name="ttsc", standalone_mode=True)
                    code = 0
                except SystemExit as exc:
                    code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
                    if exc.code is not None and not isinstance(exc.code, int):
                        print(exc.code, file=sys.stderr)
                except KeyboardInterrupt:
                    print("interrupted", file=sys.stderr)
                    code = 130
                except Terminated:
                    print("interrupted: the ttsc daemon was stopped", file=sys.stderr)
                    code, self.stopping = 143, True
                except BaseException:  # what a Python traceback would have shown in the client's process
                    traceback.print_exc()
                    code = 1
        finally:
            with self._lock:
                self._running = None
            while True:  # idempotent, so a Ctrl-C that arrives as the command ends cannot leave it half done
                try:
                    for stream in (sys.stdout, sys.stderr):
                        with contextlib.suppress(OSError, ValueError):
                            stream.flush()
                    sys.stdin, sys.stdout, sys.stderr = saved_streams
                    for fd, n in zip(saved_fds, (0, 1, 2)):
                        os.dup2(fd, n)
                    os.environ.clear()
                    os.environ.update(saved_env)
                    os.umask(saved_umask)
                    break
                except KeyboardInterrupt:
                    continue
            for fd in saved_fds:
                os.close(fd)
        return code

    def _watch(self, conn: socket.socket, token: object) -> None:
        """Interrupt the command ``token`` when its client sends a Ctrl-C or goes away."""
        try:
            gone = not conn.recv(1)
        except OSError:
            gone = True
        with self._lock:
            if self._running is token:
                if gone:  # killed: what the command would still print has no process to belong to
                    null = os.open(os.devnull, os.O_WRONLY)
                    for n in (1, 2):
                        os.dup2(null, n)
                    os.close(null)
                self._interrupt_sent = True
                import _thread

                _thread.interrupt_main()


def _differs(message: dict) -> str | None:
    """Why the client's process must run the command itself: a scheduling priority or a CPU set unlike the
    daemon's (it cannot take them on for one command); None when the daemon may."""
    if message.get("nice") is not None and message["nice"] != os.getpriority(os.PRIO_PROCESS, 0):
        return "another scheduling priority (nice)"
    if message.get("cpus") is not None and hasattr(os, "sched_getaffinity") \
            and sorted(message["cpus"]) != sorted(os.sched_getaffinity(0)):
        return "another CPU affinity"
    return None


def _stream(fd: int, encoding: list) -> io.TextIOWrapper:
    enc, errors = encoding if encoding else (None, None)
    mode = "r" if fd == 0 else "w"
    try:
        tty = os.isatty(fd)
    except OSError:
        tty = False
    return open(fd, mode, encoding=enc or "utf-8", errors=errors or ("backslashreplace" if fd == 2 else "strict"),
                closefd=False, buffering=1 if tty or fd == 2 else -1)


class Terminated(BaseException):
    """SIGTERM: unwinds a running command (its client sees exit 143) and serve(), which removes the socket."""


def _terminate(*_) -> None:
    raise Terminated


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="ttsc daemon (server)")
    ap.add_argument("--socket", required=True)
    ap.add_argument("--idle", type=float, default=3600.0)
    args = ap.parse_args(argv)
    server = Server(args.socket, args.idle)
    server.bind()
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    # A shell starts a background job with SIGINT ignored, and interrupt_main() does nothing then: a client's
    # Ctrl-C, or its death, must interrupt the command however the daemon was started.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import faulthandler

    faulthandler.register(signal.SIGUSR1, file=sys.__stderr__, all_threads=True)  # `kill -USR1`: stacks to the log
    _warm()
    print(f"ready {os.getpid()}", flush=True)
    try:
        server.serve()
    except Terminated:
        pass
    with contextlib.suppress(OSError):  # a clean exit leaves nothing behind (a crash leaves its log)
        os.unlink(wire.log_path(args.socket))


if __name__ == "__main__":
    main()
