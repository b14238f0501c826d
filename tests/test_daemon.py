"""`ttsc daemon`: a served command prints, and exits, exactly as it does in its own process.

Every test runs the installed `ttsc` script as a user would, with and without a daemon, and compares
stdout, stderr and the exit status (the `seconds` columns, wall-clock time, are masked).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT

SCRIPT = Path(sys.executable).with_name("ttsc")
pytestmark = pytest.mark.skipif(not SCRIPT.exists(), reason="needs the installed `ttsc` script (pip install -e .)")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "TTSC_DAEMON"}
    return {**env, **extra}


def ttsc(*args: str, env: dict | None = None, cwd: Path | None = None, daemon: bool = True,
         stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    env = dict(env or _env())
    if not daemon:
        env["TTSC_DAEMON"] = "0"
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, env=env, cwd=cwd, input=stdin,
                          timeout=timeout)


def served() -> int:
    out = ttsc("daemon", "status")
    assert out.returncode == 0, out.stdout + out.stderr
    return int(re.search(r"(\d+) commands served", out.stdout).group(1))


def _masked(text: str) -> str:
    """Wall-clock seconds differ from run to run: mask them in csv, json and table output."""
    text = re.sub(r'"(seconds|compile_seconds)": [0-9.e-]+', r'"\1": S', text)
    text = re.sub(r",[0-9.]+,[0-9.]+$", ",S,S", text, flags=re.M)  # csv: the last two columns
    text = re.sub(r"│ +[0-9.]+ +│ +[0-9.]+$", "│ S │ S", text, flags=re.M)  # table: the last two columns
    return re.sub(r"\d+\.\d\ds", "Ss", text)


@pytest.fixture(scope="module")
def daemon():
    # started as a shell starts a background job, with SIGINT ignored: Ctrl-C must reach commands even so
    start = subprocess.run([str(SCRIPT), "daemon", "start", "--idle", "600"], capture_output=True, text=True,
                           env=_env(), timeout=120, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    assert start.returncode == 0, start.stdout + start.stderr
    assert "ttsc daemon started" in start.stdout
    yield
    stop = ttsc("daemon", "stop")
    assert stop.returncode == 0 and "stopped" in stop.stdout, stop.stdout + stop.stderr
    assert ttsc("daemon", "status").returncode == 1


BAD = "strategy bad\nparam k: int = 3\nopen kk\nstop majority(live)\n"


def _cases(tmp: Path) -> list[tuple[str, ...]]:
    (tmp / "bad.tts").write_text(BAD, encoding="utf-8")
    (tmp / "warn.tts").write_text("strategy warn\nopen 4\nread 1\n", encoding="utf-8")
    return [
        ("eval", "sc", "--seeds", "5", "--format", "json", "--quiet"),
        ("eval", "cmc", "--seeds", "7", "--sweep", "beta=0:1:0.5", "--format", "csv"),
        ("eval", "cmc", "--seeds", "3"),  # a table, no terminal: no progress bar
        ("eval", "bad.tts"),  # a located error, exit 1
        ("eval", "warn.tts", "--seeds", "2", "--format", "csv", "-q"),  # a warning on stderr, then results
        ("eval", "sc", "--set", "n=oops"),
        ("eval", "nosuch"),
        ("eval", "sc", "--bogus"),  # click's usage error, exit 2
        ("eval", "--help"),
        ("sweep", "cmc", "--seeds", "4", "--sweep", "beta=0.2,0.6", "--format", "csv"),
        ("compare", "cmc", "sc", "--seeds", "6"),
        ("trace", "cmc", "--seed", "1", "--question", "0"),
    ]


def test_served_commands_print_and_exit_as_in_their_own_process(daemon, tmp_path):
    before = served()
    cases = _cases(tmp_path)
    for args in cases:
        ttsc(*args, cwd=tmp_path, daemon=False)  # compiles the kernel the first time (`compiling …`)
        alone = ttsc(*args, cwd=tmp_path, daemon=False)
        there = ttsc(*args, cwd=tmp_path)
        assert there.returncode == alone.returncode, (args, there.stderr, alone.stderr)
        assert _masked(there.stdout) == _masked(alone.stdout), args
        assert _masked(there.stderr) == _masked(alone.stderr), args
    assert served() == before + len(cases)  # every one ran in the daemon
    assert "error[E0201]: unknown name `kk`" in ttsc("eval", "bad.tts", cwd=tmp_path).stderr


def test_messages_queued_back_to_back_are_read_one_at_a_time():
    """A command that ends at once sends its exit status right behind `accepted`: reading the first
    message must leave the second for the next read (the client waited forever when it did not)."""
    import socket

    from ttsc.cli import daemon_client as wire

    a, b = socket.socketpair()
    with a, b:
        wire.send(a, {"accepted": True}, [1])
        wire.send(a, {"exit": 2})
        first, fds = wire.receive(b, max_fds=3)
        assert first == {"accepted": True} and len(fds) == 1
        os.close(fds[0])
        assert wire.receive(b) == ({"exit": 2}, [])
        a.close()
        assert wire.receive(b) == (None, [])


def test_commands_that_end_at_once_are_answered(daemon):
    for _ in range(25):
        assert ttsc("eval", "sc", "--bogus", timeout=30).returncode == 2


def test_the_client_environment_and_working_directory_reach_the_command(daemon, tmp_path):
    bad = ttsc("eval", "sc", "--seeds", "2000", "-q", env=_env(TTSC_THREADS="x"))
    assert bad.returncode == 2 and "TTSC_THREADS must be a whole number, not `x`" in bad.stderr
    ok = ttsc("eval", "sc", "--seeds", "2000", "-q", "--format", "csv", env=_env(TTSC_THREADS="1"))
    assert ok.returncode == 0  # the daemon's own environment is back: the next command is not refused
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "mine.tts").write_text("strategy mine\nopen 2\nstop majority(live)\n", encoding="utf-8")
    out = ttsc("eval", "mine.tts", "--seeds", "1", "--format", "csv", "-q", cwd=sub)
    assert out.returncode == 0 and out.stdout.splitlines()[1].startswith("mine,bundled/default,")
    traces = ttsc("eval", "sc", "--seeds", "1", "-q", "--traces", "tr", cwd=sub)
    assert traces.returncode == 0 and list((sub / "tr").glob("*.jsonl"))  # written where the client is


def test_output_to_a_file_and_a_closed_stdin(daemon, tmp_path):
    out_file = tmp_path / "out.json"
    with open(out_file, "w") as f:
        r = subprocess.run([str(SCRIPT), "eval", "sc", "--seeds", "3", "--format", "json", "-q"], stdout=f,
                           stdin=subprocess.DEVNULL, env=_env(), timeout=120)
    assert r.returncode == 0
    rows = json.loads(out_file.read_text())
    assert rows[0]["strategy"] == "sc" and rows[0]["env"] == "bundled/default"


def _slow_eval() -> tuple[int, subprocess.Popen]:
    """Start a command that runs for many seconds (the interpreter over many seeds) once the daemon is idle,
    and wait until the daemon runs it; the count of commands served before it, and its client."""
    _until(lambda: "running a command" not in ttsc("daemon", "status").stdout, "the daemon stayed busy")
    before = served()
    proc = subprocess.Popen([str(SCRIPT), "eval", "sc", "--engine", "interpret", "--seeds", "100000", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_env())
    _wait_until_running()
    return before, proc


def _until(ready, what: str) -> None:
    deadline = time.monotonic() + 120
    while not ready():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _wait_until_running(env: dict | None = None) -> None:
    _until(lambda: "running a command" in ttsc("daemon", "status", env=env).stdout, "the daemon never took it")


def test_ctrl_c_interrupts_the_served_command_and_the_daemon_goes_on(daemon):
    before, proc = _slow_eval()
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "interrupted" in err
    assert served() == before + 1
    assert ttsc("eval", "sc", "--seeds", "2", "-q").returncode == 0


def test_a_killed_client_stops_its_command_not_the_daemon(daemon):
    before, proc = _slow_eval()
    proc.kill()
    proc.wait(timeout=30)
    _until(lambda: served() == before + 1, "the command was left running")  # interrupted, not left running
    assert ttsc("eval", "sc", "--seeds", "2", "-q").returncode == 0


def test_a_command_while_one_runs_runs_beside_it_in_its_own_process(daemon):
    before, proc = _slow_eval()
    status = ttsc("daemon", "status", timeout=60)  # answered while it runs, saying what it does
    assert status.returncode == 0 and "running a command for" in status.stdout
    quick = ttsc("eval", "sc", "--seeds", "2", "--format", "csv", "-q", timeout=60)
    assert quick.returncode == 0 and quick.stdout.startswith("strategy,env,")
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=60)
    assert served() == before + 1  # only the slow one ran in the daemon


def test_settings_of_the_client_process(daemon, tmp_path):
    """Files are written with the client's umask; a client with another priority runs in its own process;
    a closed stdout is not replaced by the daemon's socket; TTSC_DAEMON=false keeps the command here."""
    before = served()
    r = subprocess.run([str(SCRIPT), "eval", "sc", "--seeds", "2", "-q", "--traces", "tr"], cwd=tmp_path,
                       env=_env(), capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.umask(0o077))
    assert r.returncode == 0, r.stderr
    files = list((tmp_path / "tr").glob("*.jsonl"))
    assert files and all(f.stat().st_mode & 0o777 == 0o600 for f in files)
    assert (tmp_path / "tr").stat().st_mode & 0o777 == 0o700
    assert served() == before + 1
    niced = subprocess.run([str(SCRIPT), "eval", "sc", "--seeds", "2", "-q", "--format", "csv"], env=_env(),
                           capture_output=True, text=True, timeout=120, preexec_fn=lambda: os.nice(3))
    assert niced.returncode == 0 and niced.stdout.startswith("strategy,env,")
    closed = subprocess.run(["bash", "-c", f"'{SCRIPT}' eval sc --seeds 2 -q >&-"], env=_env(),
                            capture_output=True, text=True, timeout=120)
    assert closed.returncode != 130 and "interrupted" not in closed.stderr
    alone = subprocess.run(["bash", "-c", f"'{SCRIPT}' eval sc --seeds 2 -q >&-"], capture_output=True, text=True,
                           env=_env(TTSC_DAEMON="0"), timeout=120)
    assert (closed.returncode, closed.stderr) == (alone.returncode, alone.stderr)
    assert ttsc("eval", "sc", "--seeds", "2", "-q", env=_env(TTSC_DAEMON="false")).returncode == 0
    assert served() == before + 1


def test_descriptors_and_streams_of_the_client_process(daemon, tmp_path):
    """`<(…)` names a descriptor only the client has: such a command runs in its own process. A closed
    stderr and a full disk behave as without the daemon: results, or one clear error."""
    before = served()
    default = ROOT / "runtime" / "data" / "default.json"
    for closed_or_full in ("2>&-", ">/dev/full"):
        runs = [subprocess.run(["bash", "-c", f"'{SCRIPT}' eval sc --seeds 2 {closed_or_full}"], capture_output=True,
                               text=True, timeout=120, env=_env(**extra)) for extra in ({}, {"TTSC_DAEMON": "0"})]
        assert [(r.returncode, r.stderr) for r in runs][0] == [(r.returncode, r.stderr) for r in runs][1]
        assert "Traceback" not in runs[0].stderr
        if closed_or_full == ">/dev/full":
            assert runs[0].returncode == 1 and "error: cannot write the output: No space left" in runs[0].stderr
        else:
            assert runs[0].returncode == 0
    assert served() == before + 1  # with stderr closed the client keeps the command (fd 2 would be the socket)
    sub = subprocess.run(["bash", "-c", f"'{SCRIPT}' eval sc --seeds 2 -q --format csv --env <(cat '{default}')"],
                         capture_output=True, text=True, timeout=120, env=_env())
    assert sub.returncode == 0 and sub.stdout.splitlines()[1].startswith("sc,fd/"), sub.stderr
    assert served() == before + 1


def test_a_second_start_says_one_is_running(daemon):
    again = ttsc("daemon", "start")
    assert again.returncode == 0 and "already running" in again.stdout


def test_commands_it_does_not_serve_run_in_their_own_process(daemon, tmp_path):
    (tmp_path / "bad.tts").write_text(BAD, encoding="utf-8")
    before = served()
    for args in (("check", "bad.tts"), ("fmt", "--check", "bad.tts"), ("--help",), ("--version",)):
        alone = ttsc(*args, cwd=tmp_path, daemon=False)
        there = ttsc(*args, cwd=tmp_path)
        assert (there.returncode, there.stdout, there.stderr) == (alone.returncode, alone.stdout, alone.stderr)
    assert served() == before


# ---- lifecycle: each test below starts its own daemon in its own cache folder --------------------------

def _own(tmp_path: Path, **extra: str) -> dict[str, str]:
    return _env(TTSC_CACHE_DIR=str(tmp_path / "cache"), **extra)


def _status(env) -> subprocess.CompletedProcess:
    return ttsc("daemon", "status", env=env)


def test_stale_code_is_refused_and_the_command_runs_in_its_own_process(tmp_path):
    env = _own(tmp_path)
    assert ttsc("daemon", "start", env=env).returncode == 0
    module = ROOT / "cli" / "check_cmd.py"
    st = module.stat()
    try:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))  # as an edit or reinstall would
        assert "runs older code" in _status(env).stdout
        out = ttsc("eval", "sc", "--seeds", "2", "--format", "csv", "-q", env=env)
        assert out.returncode == 0 and out.stdout.startswith("strategy,env,")
        assert "note: the ttsc daemon stopped: ttsc's code changed" in out.stderr
        _until(lambda: _status(env).returncode != 0, "the daemon with old code did not stop itself")
        assert "no ttsc daemon is running" in _status(env).stdout
        assert ttsc("daemon", "start", env=env).returncode == 0  # one with the code as it is now
    finally:
        os.utime(module, ns=(st.st_atime_ns, st.st_mtime_ns))
    again = ttsc("daemon", "start", env=env)  # replaces the one whose code is now older than the installed
    assert again.returncode == 0 and "stopped the ttsc daemon running older code" in again.stdout
    assert "ttsc daemon started" in again.stdout and "older code" not in _status(env).stdout
    assert ttsc("daemon", "stop", env=env).returncode == 0


def test_stop_ends_a_running_command_as_sigterm_would(tmp_path):
    env = _own(tmp_path)
    assert ttsc("daemon", "start", env=env).returncode == 0
    proc = subprocess.Popen([str(SCRIPT), "eval", "sc", "--engine", "interpret", "--seeds", "100000", "-q"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    _wait_until_running(env)
    stop = ttsc("daemon", "stop", env=env, timeout=60)
    assert stop.returncode == 0 and "ttsc daemon stopped" in stop.stdout
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and "interrupted: the ttsc daemon was stopped" in err
    assert _status(env).returncode == 1


def test_sigterm_and_idle_stop_the_daemon_and_remove_its_socket(tmp_path):
    env = _own(tmp_path)
    assert ttsc("daemon", "start", "--idle", "0", env=env).returncode == 0
    pid = int(re.search(r"pid (\d+)", _status(env).stdout).group(1))
    sock = re.search(r"socket (\S+)", _status(env).stdout).group(1)
    assert Path(sock).exists()
    os.kill(pid, signal.SIGTERM)
    _until(lambda: not Path(sock).exists(), "SIGTERM left the socket")
    assert _status(env).returncode == 1
    assert ttsc("daemon", "start", "--idle", "1", env=env).returncode == 0
    _until(lambda: _status(env).returncode != 0, "the idle daemon did not exit")
    assert not Path(sock).exists()
    assert ttsc("daemon", "stop", env=env).stdout.strip() == "no ttsc daemon is running"


def test_a_socket_folder_others_can_enter_is_never_used(tmp_path):
    tmpdir = tmp_path / "tmp"
    folder = tmpdir / f"ttsc-{os.getuid()}"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    env = _own(tmp_path, TMPDIR=str(tmpdir))
    start = ttsc("daemon", "start", env=env)
    assert start.returncode == 2 and "only you can enter" in start.stderr and "Traceback" not in start.stderr
    out = ttsc("eval", "sc", "--seeds", "2", "--format", "csv", "-q", env=env)  # runs in its own process
    assert out.returncode == 0 and out.stdout.startswith("strategy,env,")
