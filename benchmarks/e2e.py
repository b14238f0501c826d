"""What a user waits for: whole `ttsc` processes against the plain scalar implementation.

    python -m benchmarks.e2e [--shared ../shared] [--skip-baseline | --baseline-seconds S] [--repeat 3]

Three `ttsc eval` calls (CMC β=0.5, Parallel-Probe with 64 chains, ASC (64, 0.95))
on the 12 published stores with 100 seeds, each a separate process started the
way a user starts it, timed wall-clock from launch to exit; the kernels are
compiled and the stores' tables cached (both on disk, as any later run finds
them) by a first, untimed round. The three calls are timed twice: each process
on its own (``TTSC_DAEMON=0``), and handed to a running ``ttsc daemon`` (started,
and its kernels loaded by one untimed round, before the timed ones; stopped at
the end). Against them: the same work by
``benchmarks/baseline.py`` (one episode at a time in plain Python, stores loaded
once per call), in this process. Also times the commands that should answer at
once: ``ttsc --help`` and ``ttsc check`` / ``ttsc fmt --check`` on a four-line
file (target: under 0.5 s for ``check``).

Prints one line per measurement and the end-to-end ratio; wall-clock figures
depend on the machine and its load, so nothing here is asserted by the tests.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.shared import SHARED

ROOT = Path(__file__).resolve().parents[1]
CALLS = [("cmc", {"beta": 0.5}),
         ("parallel_probe", {"num_chains": 64, "T": 40, "prune_patience": 7, "warm_up": 15}),
         ("asc", {"max_samples": 64, "threshold": 0.95})]
TINY = "strategy tiny\n\nparam k: int = 3\n\nopen k\nstop majority(live)\n"  # formatted


# Python as a user's shell starts it: writing bytecode caches (an installed package ships them; an editable
# one writes them on its first import). Some environments set PYTHONDONTWRITEBYTECODE, which would make
# every process recompile ttsc's modules from source (about 0.2 s each).
_USER_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _ttsc(*args: str, daemon: bool = False) -> float:
    """Seconds from launching ``ttsc ARGS`` to its exit; without ``daemon``, in a process of its own even when
    a daemon runs."""
    command = _command()
    start = time.perf_counter()
    env = _USER_ENV if daemon else {**_USER_ENV, "TTSC_DAEMON": "0"}
    r = subprocess.run([*command, *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    if r.returncode not in (0, 1):  # 1: fmt --check saying what it would change
        raise SystemExit(f"ttsc {' '.join(args)} failed (exit {r.returncode}):\n{r.stderr}")
    return time.perf_counter() - start


def _command() -> list[str]:
    script = Path(sys.executable).with_name("ttsc")  # the console script a user runs
    return [str(script)] if script.exists() else [sys.executable, "-m", "ttsc.cli.entry"]


def _eval_args(method: str, params: dict, stores: Path) -> list[str]:
    sets = [x for k, v in params.items() for x in ("--set", f"{k}={v}")]
    return ["eval", method, "--env", str(stores), *sets, "--seeds", "100", "--quiet", "--format", "csv"]


def baseline_seconds(stores: Path) -> float:
    """The same three calls with benchmarks/baseline.py, parsing each store file once per call as a plain
    implementation would (no store cache)."""
    from benchmarks import baseline
    from ttsc.runtime.store import parse_store

    start = time.perf_counter()
    for method, params in CALLS:
        for path in sorted(stores.rglob("*.json")):
            store = parse_store(path.read_bytes(), str(path), path.relative_to(stores).with_suffix("").as_posix())
            baseline.evaluate(method, params, store, range(100))
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--baseline-seconds", type=float, help="reuse a baseline time measured before")
    ap.add_argument("--repeat", type=int, default=3, help="timed rounds of the three calls; the best is kept")
    args = ap.parse_args(argv)
    stores = args.shared / "replay" / "autotts"

    with tempfile.TemporaryDirectory() as d:
        tiny = Path(d) / "tiny.tts"
        tiny.write_text(TINY, encoding="utf-8")
        _ttsc("check", str(tiny))  # untimed: writes the bytecode caches a later process reads
        for name, cmd in (("ttsc --help", ["--help"]), ("ttsc check (4 lines)", ["check", str(tiny)]),
                          ("ttsc fmt --check (4 lines)", ["fmt", "--check", str(tiny)])):
            print(f"{name:32s} {min(_ttsc(*cmd) for _ in range(3)):7.2f} s")

    for method, params in CALLS:  # compile (or load) every kernel once, untimed
        _ttsc(*_eval_args(method, params, stores))
    totals = {"own process": _three_calls(stores, args.repeat, daemon=False)}
    ours = subprocess.run([*_command(), "daemon", "status"], env=_USER_ENV, capture_output=True).returncode != 0
    _ttsc("daemon", "start", daemon=True)  # a daemon already running is used (one with older code refuses)
    try:
        for method, params in CALLS:  # the daemon loads every kernel once, untimed
            _ttsc(*_eval_args(method, params, stores), daemon=True)
        totals["daemon"] = _three_calls(stores, args.repeat, daemon=True)
    finally:
        if ours:
            _ttsc("daemon", "stop", daemon=True)
    if args.skip_baseline:
        return
    base = args.baseline_seconds if args.baseline_seconds is not None else baseline_seconds(stores)
    print(f"{'plain scalar baseline':32s} {base:7.2f} s")
    for how, total in totals.items():
        print(f"end to end ({how}): {base / total:.1f}x")


def _three_calls(stores: Path, repeat: int, daemon: bool) -> float:
    """The best of ``repeat`` rounds of the three calls, each a process of its own; printed per call."""
    rounds = [[_ttsc(*_eval_args(method, params, stores), daemon=daemon) for method, params in CALLS]
              for _ in range(repeat)]
    best = min(rounds, key=sum)
    how = "with the daemon" if daemon else "each in its own process"
    for (method, _), s in zip(CALLS, best):
        print(f"ttsc eval {method:22s} {s:7.2f} s ({how})")
    total = sum(best)
    print(f"{'three ttsc eval processes':32s} {total:7.2f} s (best of {repeat}, {how})")
    return total


if __name__ == "__main__":
    main()
