"""Time limits the tests do not assert: each measured against its target.

    python -m benchmarks.timings [--shared ../shared]

Wall-clock limits depend on the machine and its load, so they are measured
here rather than asserted in tests (the tests check the same operations'
results). Each line prints the measured seconds, the limit, and their ratio;
the exit status is 1 when any measurement is over its limit.

* `ttsc check` on a four-line file, the whole process (parser tables cached by an untimed first run) — 0.5 s
* compiling cmc.tts to a Python policy (parse, check, generate, load; no cache) — 5 s
* loading the 12 published replay stores — 5 s, and again from the store cache — 1 s
* refusing each hostile input of tests/test_hostile_input.py — 10 s each
* `var w: window(10000)`, `repeat 100000 { push 1 to w; if mean(w) … }` on five questions, native
  engine, kernel compiled beforehand — 5 s (a `mean` that summed the window took ~120 s)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the hostile cases live with their test
    sys.path.insert(0, str(ROOT))

from ttsc.compiler import compile as compile_mod  # noqa: E402
from ttsc.dsl.checker import check  # noqa: E402
from ttsc.dsl.diagnostics import Source  # noqa: E402
from ttsc.dsl.parser import parse_source, read_source  # noqa: E402
from ttsc.runtime.store import load_stores  # noqa: E402
from benchmarks.shared import SHARED  # noqa: E402


def _seconds(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def check_process() -> Callable[[], object]:
    """`ttsc check` on a small file as a user runs it: a new process, from launch to exit."""
    import subprocess

    folder = Path(tempfile.mkdtemp())
    tiny = folder / "tiny.tts"
    tiny.write_text("strategy tiny\n\nparam k: int = 3\n\nopen k\nstop majority(live)\n", encoding="utf-8")
    script = Path(sys.executable).with_name("ttsc")  # the console script a user runs
    command = [str(script)] if script.exists() else [sys.executable, "-m", "ttsc.cli.main"]

    def work() -> None:
        subprocess.run([*command, "check", str(tiny)], check=True, stdout=subprocess.DEVNULL)

    work()  # the parser's tables are cached after the first run
    return work


def compile_cmc() -> None:
    compile_mod._memory.clear()  # time the whole compile, not a hit in the in-process cache
    src = read_source(ROOT / "strategies" / "cmc.tts")
    compile_mod.compile_program(check(parse_source(src), src), use_disk_cache=False)


def load_published(shared: Path, cache: bool) -> None:
    """The 12 stores parsed and validated (into an empty cache), or read back from the store cache."""
    import os

    with tempfile.TemporaryDirectory() as empty:
        old = os.environ.get("TTSC_CACHE_DIR")
        if not cache:
            os.environ["TTSC_CACHE_DIR"] = empty
        try:
            stores = load_stores([shared / "replay" / "autotts"])
        finally:
            if old is None:
                os.environ.pop("TTSC_CACHE_DIR", None)
            else:
                os.environ["TTSC_CACHE_DIR"] = old
    assert len(stores) == 12, f"expected 12 stores under {shared}, found {len(stores)}"


def refuse_hostile(name: str, text: str, code: str, line: int | None, col: int | None) -> None:
    from tests.test_hostile_input import assert_refused

    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"{name}.tts"
        path.write_text(text, encoding="utf-8")
        assert_refused(path, code, line, col)


def large_window() -> Callable[[], object]:
    """The fuzzer's window program on five questions; compiles its kernel first (not timed)."""
    from tests.test_resources import window_program
    from ttsc.compiler.engines import run
    from ttsc.runtime.params import bind_params
    from ttsc.runtime.store import Store, default_store_path, load_store

    full = load_store(default_store_path())
    store = Store(full.name, full.path, full.questions[:5])
    src = Source("<window>", window_program(10_000, 100_000))
    checked = check(parse_source(src), src)
    params = bind_params(checked, {})
    run(checked, params, Store(full.name, full.path, full.questions[:1]), range(1), "compiled")
    return lambda: run(checked, params, store, range(1), "compiled")


def measurements(shared: Path) -> list[tuple[str, float, Callable[[], object]]]:
    """(what, limit in seconds, the work) for every timed claim."""
    from tests.test_hostile_input import TEXT_CASES

    out: list[tuple[str, float, Callable[[], object]]] = [("ttsc check on a 4-line file (process)", 0.5,
                                                            check_process()),
                                                           ("compile cmc.tts (no cache)", 5.0, compile_cmc)]
    if (shared / "replay" / "autotts").is_dir():
        out.append(("load the 12 published stores (no cache)", 5.0, lambda: load_published(shared, False)))
        load_published(shared, True)  # fills the cache
        out.append(("load the 12 published stores (cached)", 1.0, lambda: load_published(shared, True)))
    else:
        print(f"(no stores at {shared / 'replay' / 'autotts'}: store loading not timed)")
    out.append(("window(10000) program, 100,000 means (native)", 5.0, large_window()))
    out += [(f"refuse hostile input {name!r}", 10.0, lambda n=name, c=case: refuse_hostile(n, *c))
            for name, case in TEXT_CASES.items()]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    args = ap.parse_args(argv)
    over = 0
    for what, limit, work in measurements(args.shared):
        seconds = _seconds(work)
        over += seconds > limit
        print(f"{what:<48} {seconds:8.3f} s  limit {limit:4.1f} s  {seconds / limit:6.1%} of it"
              f"{'  OVER' if seconds > limit else ''}", flush=True)
    print(f"{over} over the limit" if over else "all within their limits")
    return 1 if over else 0


if __name__ == "__main__":
    sys.exit(main())
