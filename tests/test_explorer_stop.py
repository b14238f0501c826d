"""Stopping a search from outside: SIGTERM, Ctrl-C and kill -9 leave no worker behind and lose nothing."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import synthetic_store_path
from ttsc.cli.loading import resolve_strategy
from ttsc.errors import TtscError
from ttsc.explorer import loop
from ttsc.explorer.program import front_end

STORE = str(synthetic_store_path())
CMC = Path(str(resolve_strategy("cmc"))).read_text(encoding="utf-8")
ENV = {**os.environ, "TTSC_THREADS": "1"}

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc")


def _parent_and_state(pid: int) -> tuple[int, str] | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
    return int(fields[1]), fields[0]


def children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            info = _parent_and_state(int(entry.name))
            if info and info[0] == pid:
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    info = _parent_and_state(pid)
    return info is not None and info[1] != "Z"  # a zombie has exited (its new parent may not reap it)


def start(out: Path, *extra: str, **kw) -> subprocess.Popen:
    args = [sys.executable, "-m", "ttsc.cli.main", "explore", "--search", STORE, "--out", str(out), "--seed", "3",
            "--search-seeds", "4", "--workers", "2", "-q", *extra]
    return subprocess.Popen(args, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def wait_for_records(out: Path, n: int, proc: subprocess.Popen) -> list[int]:
    """Wait until the record holds ``n`` candidates; the search's worker processes by then."""
    rec = out / "candidates.jsonl"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and (not rec.exists() or rec.read_text().count("\n") < n):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    workers = children(proc.pid)
    assert len(workers) == 2, workers
    return workers


def gone_soon(pids: list[int], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return not any(alive(p) for p in pids)


def assert_outputs_follow_the_record(out: Path) -> int:
    n = (out / "candidates.jsonl").read_text().count("\n")
    stopped = json.loads((out / "stopped.json").read_text())
    assert stopped["reason"] == "interrupted" and stopped["candidates"] == n
    assert front_end((out / "best.tts").read_text()).valid
    assert isinstance(json.loads((out / "pareto.json").read_text()), list)
    return n


@pytest.mark.parametrize("how", ["SIGTERM", "Ctrl-C"])
def test_a_stopped_search_stops_its_workers_and_resumes(tmp_path, how):
    out = tmp_path / "s"
    proc = start(out, "--budget-candidates", "2000", start_new_session=True)
    workers = wait_for_records(out, 3, proc)
    if how == "SIGTERM":
        proc.send_signal(signal.SIGTERM)
    else:  # a terminal sends Ctrl-C to the whole process group
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == (143 if how == "SIGTERM" else 130), err
    assert "interrupted after" in err and "--resume" in err and "Traceback" not in err
    assert gone_soon(workers), "worker processes outlived the search"
    n = assert_outputs_follow_the_record(out)
    resumed = start(out, "--budget-candidates", str(n + 2), "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err
    assert (out / "candidates.jsonl").read_text().count("\n") == n + 2


@pytest.mark.parametrize("args, message", [
    (["--out", "/proc/no-such-folder/x", "--budget-candidates", "0"], "cannot create the output folder"),
    (["--budget-seconds", "nan"], "--budget-seconds must be a finite number"),
    (["--budget-seconds", "inf"], "--budget-seconds must be a finite number"),
])
def test_unusable_out_or_budget_is_one_error_line(tmp_path, args, message):
    from click.testing import CliRunner

    from ttsc.cli.main import cli
    base = ["explore", "--search", STORE, "--workers", "1", "--search-seeds", "2", "-q"]
    if "--out" not in args:
        base += ["--out", str(tmp_path / "o")]
    res = CliRunner().invoke(cli, base + args)
    assert res.exit_code != 0 and message in res.stderr and "Traceback" not in res.output + res.stderr, res.output


def test_workers_of_a_killed_search_exit_on_their_own(tmp_path):
    out = tmp_path / "k"
    proc = start(out, "--budget-candidates", "2000")
    workers = wait_for_records(out, 2, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert gone_soon(workers), "worker processes outlived a killed search"


def test_more_folds_than_questions_is_refused(tmp_path):
    cfg = loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", seeds=2, grid=(0.0, 1.0), folds=1000)
    with pytest.raises(TtscError, match=r"--folds 1000: every fold needs a question, and the search store .* has "
                                        r"\d+; use at most \d+ folds"):
        loop.search(cfg, tmp_path / "f", loop.evolve_proposer(), budget_candidates=1)


def test_a_seed_whose_knob_changes_nothing_is_warned_about(tmp_path):
    flat = "strategy flat\nparam beta: float = 0.5 in 0.0..1.0\nopen 3\nadvance live by 100\nstop majority(completed)\n"
    said: list[str] = []
    cfg = loop.Config(search=(STORE,), seed_text=flat, seed_name="flat", seeds=2, grid=(0.0, 1.0))
    loop.search(cfg, tmp_path / "w", loop.evolve_proposer(), budget_candidates=0, on_warning=said.append)
    assert said == ["beta changes nothing in the seed strategy flat on the search stores: its frontier is one "
                    "point, so every candidate is scored against that one setting"]
    said.clear()
    cfg = loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", seeds=2, grid=(0.0, 1.0))
    loop.search(cfg, tmp_path / "c", loop.evolve_proposer(), budget_candidates=0, on_warning=said.append)
    assert said == []


def test_a_refused_search_leaves_nothing_to_resume(tmp_path):
    """An unusable seed or setting is refused before the search is recorded: the same --out works once fixed."""
    bad_seed = loop.Config(search=(STORE,), seed_text=CMC.replace("param beta: float", "param beta: int")
                           .replace("= 0.5 in 0.0..1.0", "= 0 in 0..1"), seed_name="cmc_int", seeds=2, grid=(0.0, 1.0))
    many_folds = loop.Config(search=(STORE,), seed_text=CMC, seed_name="cmc", seeds=2, grid=(0.0, 1.0), folds=1000)
    reads = "strategy c\nparam beta: float = 0.5 in 0.0..1.0\nopen 2\nstop if max_of(branches, last_conf) > 0.5 " \
            "then majority(live) else none\n"  # the synthetic store carries no confidence signal
    no_signal = loop.Config(search=(STORE,), seed_text=reads, seed_name="c", seeds=2, grid=(0.0, 1.0))
    for cfg, why in ((bad_seed, "not a valid candidate"), (many_folds, "every fold needs a question"),
                     (no_signal, "cannot be explored on the search stores")):
        with pytest.raises(TtscError, match=why):
            loop.search(cfg, tmp_path / "o", loop.evolve_proposer(), budget_candidates=1)
        assert not (tmp_path / "o" / "run.json").exists(), cfg.seed_name


def test_the_progress_line_fits_80_columns():
    from ttsc.cli.explore_cmd import progress_line

    p = loop.Progress(tried=30640, valid=28431, improved=127, best=-12.34, per_minute=1021.5, new_per_minute=383.2)
    assert len(progress_line(p)) < 80, progress_line(p)
    line = progress_line(loop.Progress(tried=5, valid=4, improved=1, best=0.5, per_minute=3.0, tokens=123456))
    assert line == "tried 5  valid 4  improved 1  best +0.50  3.0/min (0.0 new)  123,456 tok"


def test_a_killed_worker_stops_the_search_with_a_message(tmp_path):
    """The out-of-memory killer takes a worker: one clear error, no traceback, nothing lost, --resume goes on."""
    out = tmp_path / "w"
    proc = start(out, "--budget-candidates", "2000")
    workers = wait_for_records(out, 2, proc)
    os.kill(workers[0], signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 2, err
    assert "an evaluation worker process died" in err and "--resume" in err and "Traceback" not in err, err
    assert gone_soon(workers)
    n = (out / "candidates.jsonl").read_text().count("\n")
    assert json.loads((out / "stopped.json").read_text())["reason"] == "worker-died"
    resumed = start(out, "--budget-candidates", str(n + 1), "--resume")
    _, err = resumed.communicate(timeout=300)
    assert resumed.returncode == 0, err


def test_an_interrupted_held_out_evaluation_is_not_reported_as_a_finished_leg(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from ttsc.cli.main import cli
    from ttsc.explorer import report

    write = report.write_search_outputs
    calls = []

    def interrupted_once(*a, **k):  # Ctrl-C while the finished search's outputs are written
        calls.append(1)
        if len(calls) == 1:
            raise KeyboardInterrupt
        return write(*a, **k)

    held = tmp_path / "held.json"
    held.write_bytes(Path(STORE).read_bytes())
    monkeypatch.setattr(report, "write_search_outputs", interrupted_once)
    out = CliRunner().invoke(cli, ["explore", "--search", STORE, "--holdout", str(held), "--out", str(tmp_path / "h"),
                                   "--budget-candidates", "2", "--workers", "1", "--search-seeds", "2", "-q"])
    assert out.exit_code == 130 and "interrupted after 2 recorded candidates" in out.stderr, out.output
    stopped = json.loads((tmp_path / "h" / "stopped.json").read_text())
    assert stopped["reason"] == "interrupted" and stopped["search_ended_by"] == "budget-candidates"
    assert "held-out" in stopped["during"] and len(calls) == 2  # the outputs were then written after all
    assert front_end((tmp_path / "h" / "best.tts").read_text()).valid and not (tmp_path / "h" / "holdout.md").exists()


def test_without_a_terminal_the_progress_line_is_printed_now_and_then(tmp_path, monkeypatch):
    """Under nohup or in CI there is no live line to redraw: the same line goes to stderr every so often."""
    from click.testing import CliRunner

    from ttsc.cli import explore_cmd
    from ttsc.cli.main import cli

    args = ["explore", "--search", STORE, "--budget-candidates", "3", "--workers", "1", "--search-seeds", "2"]
    monkeypatch.setattr(explore_cmd, "PLAIN_EVERY", 0.0)
    out = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "a")])
    assert out.exit_code == 0, out.output
    lines = [ln for ln in out.stderr.splitlines() if ln.startswith("tried ")]
    assert lines and all("valid" in ln and "/min" in ln for ln in lines)
    quiet = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "b"), "-q"])
    assert quiet.exit_code == 0 and not [ln for ln in quiet.stderr.splitlines() if ln.startswith("tried ")]
