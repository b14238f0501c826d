"""Benchmark: the engines against each other and against a plain scalar implementation.

    python -m benchmarks.bench [--shared ../shared] [--interpret-seeds 10] [--batched] [--out bench.json]

1. Compiles every strategy's native kernel (or loads it from the cache) and
   times that apart: it happens once per program per machine.
2. Runs the public reference grid (every row of autotts_reference.json: 5
   strategies, 30 settings, 12 stores, 100 seeds) with the compiled (native)
   engine, checks every number against the reference, and records seconds,
   peak memory (peak RSS of this process) and episodes per second. With
   ``--batched``, the numpy lock-step engine too.
3. Times the reference interpreter on the same grid with the first
   ``--interpret-seeds`` seeds and scales to 100 seeds (episodes are
   independent, so time is linear in seeds).
4. Runs CMC β=0.5, Parallel-Probe (64 chains) and ASC (64, 0.95) on all 12
   stores × 100 seeds with the plain one-episode-at-a-time implementation in
   benchmarks/baseline.py and with the compiled engine on all threads and on
   one (``TTSC_THREADS=1``), in the same process.
5. Times compiling cmc.tts to Python (parse, check, generate, load, no cache)
   and, separately, numba's machine-code compile of its kernel (empty cache).
All figures are ratios measured in one run on one machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import baseline
from benchmarks.shared import SHARED
from ttsc.compiler import native_engine
from ttsc.compiler.compile import compile_program
from ttsc.compiler.native import generate_native
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store

ROOT = Path(__file__).resolve().parents[1]
HEADLINE = [("cmc", {"beta": 0.5}), ("parallel_probe", {"num_chains": 64, "T": 40, "prune_patience": 7,
                                                        "warm_up": 15}),
            ("asc", {"max_samples": 64, "threshold": 0.95})]


def _program(method: str):
    src = read_source(ROOT / "strategies" / f"{method}.tts")
    return check(parse_source(src), src)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _grid(rows, programs, stores, engine: str, seeds: int):
    seconds, episodes = defaultdict(float), defaultdict(int)
    exact = mismatches = 0
    for r in rows:
        c = programs[r["method"]]
        out = run(c, bind_params(c, r["params"]), stores[f"{r['model']}/{r['dataset']}"], range(seeds),
                  engine=engine)
        seconds[r["method"]] += out.seconds
        episodes[r["method"]] += out.correct.size
        if seeds == 100:
            if (out.accuracy, out.avg_tokens) == (r["accuracy"], r["avg_tokens"]):
                exact += 1
            else:
                mismatches += 1
                print(f"MISMATCH ({engine}) {r}: {out.accuracy} {out.avg_tokens}", file=sys.stderr)
    return seconds, episodes, exact, mismatches


_COLD_COMPILE = """
import time, sys
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store
src = read_source(sys.argv[1]); c = check(parse_source(src), src); store = load_store(sys.argv[2])
t = time.perf_counter(); run(c, bind_params(c), store, range(100), engine="compiled")
print(time.perf_counter() - t)
"""


def _cold_kernel_seconds(tts: Path, store: Path) -> float:
    """numba compiling cmc's kernel from nothing (and running it once), in a fresh process and cache."""
    with tempfile.TemporaryDirectory() as d:
        env = dict(os.environ, TTSC_CACHE_DIR=d)
        out = subprocess.run([sys.executable, "-c", _COLD_COMPILE, str(tts), str(store)], env=env,
                             capture_output=True, text=True, check=True)
        return float(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--interpret-seeds", type=int, default=10)
    ap.add_argument("--skip-interpreter", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--batched", action="store_true", help="also time the numpy lock-step engine on the grid")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    rows = json.loads((args.shared / "reference" / "autotts_reference.json").read_text())
    stores = {}
    for r in rows:
        key = f"{r['model']}/{r['dataset']}"
        if key not in stores:
            stores[key] = load_store(args.shared / "replay" / "autotts" / f"{key}.json", name=key)
    programs = {m: _program(m) for m in sorted({r["method"] for r in rows})}
    threads = native_engine.threads()

    # 1. kernels: compiled (or loaded from the cache) once per program
    first = next(iter(stores.values()))
    kernels = {}
    for m, c in programs.items():
        t0 = time.perf_counter()
        run(c, bind_params(c), first, range(1), engine="compiled")
        kernels[m] = time.perf_counter() - t0
    print(f"kernels ready (compiled or loaded from the cache): {sum(kernels.values()):.1f} s", flush=True)

    # 2. compiled engine on the whole grid
    rss_before = _peak_rss_mb()
    compiled, episodes, exact, mismatches = _grid(rows, programs, stores, "compiled", 100)
    peak_rss = _peak_rss_mb()
    print(f"compiled grid: {sum(compiled.values()):.1f} s on {threads} threads, {exact}/{len(rows)} rows "
          f"bit-exact, {mismatches} mismatches, peak RSS {peak_rss:.0f} MB (before: {rss_before:.0f} MB)",
          flush=True)
    batched = {}
    if args.batched:
        batched, _, b_exact, _ = _grid(rows, programs, stores, "batched", 100)
        print(f"batched grid: {sum(batched.values()):.1f} s, {b_exact}/{len(rows)} rows bit-exact", flush=True)

    # 3. interpreter on the same grid, sampled seeds, scaled to 100
    interp = defaultdict(float)
    k = args.interpret_seeds
    if not args.skip_interpreter:
        sampled, _, _, _ = _grid(rows, programs, stores, "interpret", k)
        for m, s in sampled.items():
            interp[m] = s * 100 / k
        print(f"interpreter grid (est. from {k} seeds): {sum(interp.values()):.1f} s", flush=True)

    # 4. plain scalar implementation vs compiled on the headline settings
    plain = {}
    if not args.skip_baseline:
        for method, params in HEADLINE:
            c = programs[method]
            bound = bind_params(c, params)
            t0 = time.perf_counter()
            for store in stores.values():
                baseline.evaluate(method, params, store, range(100))
            t_plain = time.perf_counter() - t0
            t_threads = []
            for n in (threads, 1):
                os.environ["TTSC_THREADS"] = str(n)
                t0 = time.perf_counter()
                for store in stores.values():
                    run(c, bound, store, range(100), engine="compiled")
                t_threads.append(time.perf_counter() - t0)
            os.environ.pop("TTSC_THREADS", None)
            plain[method] = (t_plain, *t_threads)
            print(f"{method} {params}: plain {t_plain:.2f} s, compiled {t_threads[0]:.3f} s "
                  f"({t_plain / t_threads[0]:.1f}x), on one thread {t_threads[1]:.3f} s "
                  f"({t_plain / t_threads[1]:.1f}x)", flush=True)

    # 5. compile time of cmc.tts: to Python (both backends), and numba's machine code from nothing
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        src = read_source(ROOT / "strategies" / "cmc.tts")
        c = check(parse_source(src), src)
        generate_native(c)
        compile_program(c, use_disk_cache=False)
        times.append(time.perf_counter() - t0)
    compile_ms = min(times) * 1000
    cold = _cold_kernel_seconds(ROOT / "strategies" / "cmc.tts", next(iter(
        (args.shared / "replay" / "autotts").glob("*/*.json"))))

    report = {
        "grid_rows": len(rows), "bit_exact_rows": exact, "mismatches": mismatches, "threads": threads,
        "peak_rss_mb": round(peak_rss, 1), "compile_cmc_ms": round(compile_ms, 2),
        "cmc_kernel_cold_s": round(cold, 2), "kernels_ready_s": {m: round(v, 2) for m, v in kernels.items()},
        "interpret_seeds": k,
        "per_strategy": {
            m: {"compiled_s": round(compiled[m], 3),
                "batched_s": round(batched[m], 2) if batched else None,
                "interpreter_s_est": round(interp[m], 2) if interp else None,
                "ratio": round(interp[m] / compiled[m], 1) if interp else None,
                "episodes_per_s_compiled": round(episodes[m] / compiled[m])}
            for m in sorted(compiled)},
        "plain_vs_compiled": {m: {"plain_s": round(a, 2), "compiled_s": round(b, 3), "ratio": round(a / b, 1),
                                  "compiled_one_thread_s": round(c1, 3), "ratio_one_thread": round(a / c1, 1)}
                              for m, (a, b, c1) in plain.items()},
    }
    if interp:
        report["grid_ratio"] = round(sum(interp.values()) / sum(compiled.values()), 1)
    print()
    print(f"{'strategy':<16}{'compiled s':>12}{'batched s':>11}{'interp s (est)':>16}{'ratio':>9}{'episodes/s':>12}")
    for m, d in report["per_strategy"].items():
        print(f"{m:<16}{d['compiled_s']:>12.3f}{(d['batched_s'] or 0):>11.1f}{(d['interpreter_s_est'] or 0):>16.1f}"
              f"{(d['ratio'] or 0):>9.1f}{d['episodes_per_s_compiled']:>12}")
    if interp:
        print(f"{'whole grid':<16}{sum(compiled.values()):>12.3f}{sum(batched.values()):>11.1f}"
              f"{sum(interp.values()):>16.1f}{report['grid_ratio']:>9.1f}")
    print(f"peak RSS {peak_rss:.0f} MB; compile cmc.tts to Python {compile_ms:.1f} ms; numba compiling its kernel "
          f"from nothing {cold:.1f} s (once per machine); {exact}/{len(rows)} grid rows bit-exact")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
