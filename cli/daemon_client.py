"""The client half of `ttsc daemon`: hand one command to a running daemon, or say that none will take it.

Only the standard library is imported here: a command the daemon serves must not pay for numpy, numba
or click in its own process, which is the point of the daemon. The protocol, over a Unix socket that
only the user can reach:

1. the client sends one length-prefixed JSON request (``argv``, ``cwd``, ``env``, the streams'
   encodings) and its standard input, output and error as file descriptors (``SCM_RIGHTS``);
2. the daemon answers ``accepted`` once it commits to running the command, or ``refused`` (stale code,
   a cwd it cannot enter, ...) before it has touched the streams, so the client runs the command
   itself and nothing is printed twice;
3. the command writes straight to the client's terminal, pipe or file; then the daemon sends the exit
   status. A byte from the client (its Ctrl-C) or the client's disappearance interrupts the command.
"""

from __future__ import annotations

import array
import hashlib
import json
import os
import socket
import struct
import sys

from ttsc.cli.entry import SERVED

_HEADER = struct.Struct("!I")


def daemon_dir() -> str:
    """``$TMPDIR/ttsc-<uid>`` (``/tmp`` without TMPDIR), like tmux's: short enough for a socket path."""
    return os.path.join(os.environ.get("TMPDIR") or "/tmp", f"ttsc-{os.getuid()}")


def socket_path() -> str:
    """One daemon per installation (interpreter and ttsc's code) and cache folder."""
    cache = os.environ.get("TTSC_CACHE_DIR") or os.path.join(os.path.expanduser("~"), ".cache", "ttsc")
    here = os.path.dirname(os.path.abspath(__file__))
    tag = hashlib.sha256(f"{sys.prefix}\0{here}\0{os.path.abspath(cache)}".encode()).hexdigest()[:16]
    return os.path.join(daemon_dir(), f"{tag}.sock")


def log_path(socket: str) -> str:
    """Where the daemon listening on ``socket`` writes what it prints (kept until it exits cleanly)."""
    return os.path.splitext(socket)[0] + ".log"


def private_dir(path: str) -> bool:
    """True if ``path`` is a folder of ours that nobody else can enter (the socket's folder must be)."""
    try:
        st = os.lstat(path)
    except OSError:
        return False
    import stat

    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.getuid() and not st.st_mode & 0o077


def connect(path: str | None = None) -> socket.socket | None:
    path = path or socket_path()
    if not private_dir(os.path.dirname(path)) or not os.path.exists(path):
        return None
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        return None
    return s


def send(conn: socket.socket, message: dict, fds: list[int] | None = None) -> None:
    data = json.dumps(message).encode()
    payload = [_HEADER.pack(len(data)) + data]
    if fds:
        conn.sendmsg(payload, [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
    else:
        conn.sendall(payload[0])


def receive(conn: socket.socket, max_fds: int = 0) -> tuple[dict | None, list[int]]:
    """One message (None when the peer closed first) and the descriptors that came with it. Reads exactly
    its bytes: the next message may already be waiting behind it."""
    fds: list[int] = []
    header = _read(conn, _HEADER.size, fds, max_fds)
    body = _read(conn, _HEADER.unpack(header)[0], fds, 0) if header is not None else None
    if body is None:
        for fd in fds:
            os.close(fd)
        return None, []
    return json.loads(body), fds


def _read(conn: socket.socket, size: int, fds: list[int], max_fds: int) -> bytes | None:
    buf = b""
    while len(buf) < size:
        if max_fds and not buf:  # the descriptors travel with the message's first byte
            chunk, ancdata, _, _ = conn.recvmsg(size, socket.CMSG_SPACE(max_fds * array.array("i").itemsize))
            for level, kind, data in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    got = array.array("i")
                    got.frombytes(data[:len(data) - len(data) % got.itemsize])
                    fds += list(got)
        else:
            chunk = conn.recv(size - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def request(control: str, path: str | None = None) -> dict | None:
    """A control request (``status``, ``stop``) and its answer; None when no daemon answers."""
    conn = connect(path)
    if conn is None:
        return None
    with conn:
        try:
            send(conn, {"control": control})
            answer, _ = receive(conn)
        except OSError:
            return None
    return answer


def run(argv: list[str]) -> int | None:
    """Run ``ttsc ARGV`` in the daemon and return its exit status; None if no daemon took it (nothing has
    been printed then, so the caller runs the command itself)."""
    try:
        for fd in (0, 1, 2):  # a closed one would be taken by the socket below, and sent as the stream
            os.fstat(fd)
    except OSError:
        return None
    conn = connect()
    if conn is None:
        return None
    with conn:
        try:
            umask = os.umask(0o022)
            os.umask(umask)
            message = {"argv": argv, "cwd": os.getcwd(), "env": dict(os.environ), "umask": umask,
                       "nice": os.getpriority(os.PRIO_PROCESS, 0),
                       "cpus": sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
                       "encodings": [_encoding(s) for s in (sys.stdin, sys.stdout, sys.stderr)]}
            send(conn, message, [0, 1, 2])
            answer, _ = receive(conn)
        except (OSError, ValueError):  # no daemon after all, a closed standard stream, a deleted cwd
            return None
        except KeyboardInterrupt:  # before the daemon answered: it stops the command when we are gone
            sys.stderr.write("interrupted\n")
            return 130
        if answer is None or "accepted" not in answer:
            if answer is not None and answer.get("refused") == "stale":
                sys.stderr.write("note: the ttsc daemon stopped: ttsc's code changed since it started "
                                 "(`ttsc daemon start` starts one with the new code)\n")
            return None
        return _wait(conn)


def _wait(conn: socket.socket) -> int:
    interrupted = False
    while True:
        try:
            answer, _ = receive(conn)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting (the daemon stops the command when we are gone)
                return 130
            interrupted = True
            try:
                conn.sendall(b"\x03")
            except OSError:
                pass
            continue
        except OSError:
            answer = None
        if answer is None:
            sys.stderr.write("error: the ttsc daemon stopped while running the command\n")
            return 1
        return int(answer["exit"])


def _encoding(stream) -> list[str | None]:
    return [getattr(stream, "encoding", None), getattr(stream, "errors", None)]
