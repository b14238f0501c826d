"""Differential fuzzing: random unbounded programs on every engine, reporting disagreements.

    python -m benchmarks.fuzz --programs N --seed S [--out failures.txt]

Draws N cases from ``tests/gen_programs.wild_cases`` (programs without
clamping, 64-bit edges, inf and NaN, set-valued `if`, big stores, parameters
off their defaults; sometimes 1,024+ episodes) and runs each on the
interpreter, the batched engine and the native engine. Every disagreement or
crash is printed with its program and parameters; the exit status is 1 if any
was found. CI runs a fixed derandomized sample of the same cases
(tests/test_differential.py); this is the longer random run.
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

from hypothesis import HealthCheck, given, seed, settings

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # tests/ is not installed with the package
    sys.path.insert(0, str(ROOT))

from tests.gen_programs import wild_cases  # noqa: E402
from tests.test_differential import _program, assert_engines_agree_or_refuse  # noqa: E402
from ttsc.errors import TtscError  # noqa: E402
from ttsc.runtime.params import bind_params  # noqa: E402


def fuzz(programs: int, seed_value: int) -> list[str]:
    failures: list[str] = []
    counts = {"ran": 0, "refused": 0}

    @seed(seed_value)
    @settings(max_examples=programs, deadline=None, database=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(case=wild_cases())
    def one(case) -> None:
        text, overrides, store, seeds = case
        try:
            checked = _program(text)
            params = bind_params(checked, overrides)
        except TtscError:
            counts["refused"] += 1
            return
        counts["ran"] += 1
        try:
            assert_engines_agree_or_refuse(checked, params, store, seeds, "")
        except BaseException as exc:  # record and go on: a fuzz run reports every failure, unshrunk
            if isinstance(exc, KeyboardInterrupt):
                raise
            detail = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            failures.append(f"params {overrides}, seeds {len(seeds)}, store of {len(store.questions)} "
                            f"questions\n{text}{detail}\n")

    one()
    print(f"{counts['ran']} programs ran, {counts['refused']} refused by parameter bounds, "
          f"{len(failures)} disagreements or crashes")
    return failures


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--programs", type=int, default=200, help="how many programs to draw")
    ap.add_argument("--seed", type=int, default=0, help="the random seed of the draw")
    ap.add_argument("--out", type=Path, help="also write the failures to this file")
    args = ap.parse_args(argv)
    start = time.perf_counter()
    failures = fuzz(args.programs, args.seed)
    text = "\n".join(f"--- failure {i + 1}\n{f}" for i, f in enumerate(failures))
    print(text)
    if args.out:
        args.out.write_text(text)
    print(f"{time.perf_counter() - start:.0f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
