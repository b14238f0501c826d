"""Benchmark: compiled engine vs reference interpreter vs a plain scalar implementation.

    python -m benchmarks.bench [--shared ../shared] [--interpret-seeds 10] [--out bench.json]

1. Runs the public reference grid (every row of autotts_reference.json: 5
   strategies, 30 settings, 12 stores, 100 seeds) with the compiled engine,
   checks every number against the reference, and records seconds, peak
   memory (peak RSS of this process, measured before anything else runs) and
   episodes per second.
2. Times the reference interpreter on the same grid with the first
   ``--interpret-seeds`` seeds and scales to 100 seeds (episodes are
   independent, so time is linear in seeds; ``--interpret-seeds 100`` measures
   it whole, which takes about an hour on 2 cores).
3. Runs CMC β=0.5, Parallel-Probe (64 chains) and ASC (64, 0.95) on all 12
   stores × 100 seeds with the plain one-episode-at-a-time implementation in
   benchmarks/baseline.py and with the compiled engine, in the same process.
4. Times compiling cmc.tts (parse + check + generate + load, no cache).
All figures are ratios measured in one run on one machine.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections import defaultdict
from pathlib import Path

from benchmarks import baseline
from ttsc.compiler.codegen import generate
from ttsc.compiler.compile import compile_program
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.runtime.evaluate import run
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


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared")
    ap.add_argument("--interpret-seeds", type=int, default=10)
    ap.add_argument("--skip-interpreter", action="store_true")
    ap.add_argument("--skip-baseline", action="store_true")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)

    rows = json.loads((args.shared / "reference" / "autotts_reference.json").read_text())
    stores = {}
    for r in rows:
        key = f"{r['model']}/{r['dataset']}"
        if key not in stores:
            stores[key] = load_store(args.shared / "replay" / "autotts" / f"{key}.json", name=key)
    programs = {m: _program(m) for m in sorted({r["method"] for r in rows})}
    rss_before = _peak_rss_mb()

    # 1. compiled engine on the whole grid
    compiled = defaultdict(float)
    episodes = defaultdict(int)
    exact = mismatches = 0
    for r in rows:
        c = programs[r["method"]]
        out = run(c, bind_params(c, r["params"]), stores[f"{r['model']}/{r['dataset']}"], range(100),
                  engine="compiled")
        compiled[r["method"]] += out.seconds
        episodes[r["method"]] += out.correct.size
        if out.accuracy == r["accuracy"] and out.avg_tokens == r["avg_tokens"]:
            exact += 1
        elif abs(out.accuracy - r["accuracy"]) >= 1e-6 or abs(out.avg_tokens - r["avg_tokens"]) > 1e-9 * r["avg_tokens"]:
            mismatches += 1
            print(f"MISMATCH {r}: {out.accuracy} {out.avg_tokens}", file=sys.stderr)
    peak_rss = _peak_rss_mb()
    print(f"compiled grid: {sum(compiled.values()):.1f} s, {exact}/{len(rows)} rows bit-exact, "
          f"{mismatches} mismatches, peak RSS {peak_rss:.0f} MB (before the grid: {rss_before:.0f} MB)", flush=True)

    # 2. interpreter on the same grid, sampled seeds, scaled to 100
    interp = defaultdict(float)
    k = args.interpret_seeds
    if not args.skip_interpreter:
        for r in rows:
            c = programs[r["method"]]
            out = run(c, bind_params(c, r["params"]), stores[f"{r['model']}/{r['dataset']}"], range(k),
                      engine="interpret")
            interp[r["method"]] += out.seconds * 100 / k
        print(f"interpreter grid (est. from {k} seeds): {sum(interp.values()):.1f} s", flush=True)

    # 3. plain scalar implementation vs compiled on the headline settings
    plain = {}
    if not args.skip_baseline:
        for method, params in HEADLINE:
            c = programs[method]
            t0 = time.perf_counter()
            for store in stores.values():
                baseline.evaluate(method, params, store, range(100))
            t_plain = time.perf_counter() - t0
            t0 = time.perf_counter()
            for store in stores.values():
                run(c, bind_params(c, params), store, range(100), engine="compiled")
            t_comp = time.perf_counter() - t0
            plain[method] = (t_plain, t_comp)
            print(f"{method} {params}: plain {t_plain:.1f} s, compiled {t_comp:.2f} s, "
                  f"ratio {t_plain / t_comp:.1f}x", flush=True)

    # 4. compile time of cmc.tts
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        src = read_source(ROOT / "strategies" / "cmc.tts")
        c = check(parse_source(src), src)
        generate(c)
        compile_program(c, use_disk_cache=False)
        times.append(time.perf_counter() - t0)
    compile_ms = min(times) * 1000

    report = {
        "grid_rows": len(rows), "bit_exact_rows": exact, "mismatches": mismatches,
        "peak_rss_mb": round(peak_rss, 1), "compile_cmc_ms": round(compile_ms, 2),
        "interpret_seeds": k,
        "per_strategy": {
            m: {"compiled_s": round(compiled[m], 3),
                "interpreter_s_est": round(interp[m], 2) if interp else None,
                "ratio": round(interp[m] / compiled[m], 1) if interp else None,
                "episodes_per_s_compiled": round(episodes[m] / compiled[m])}
            for m in sorted(compiled)},
        "plain_vs_compiled": {m: {"plain_s": round(a, 2), "compiled_s": round(b, 3), "ratio": round(a / b, 1)}
                              for m, (a, b) in plain.items()},
    }
    if interp:
        report["grid_ratio"] = round(sum(interp.values()) / sum(compiled.values()), 1)
    print()
    print(f"{'strategy':<16}{'compiled s':>12}{'interp s (est)':>16}{'ratio':>8}{'episodes/s':>12}")
    for m, d in report["per_strategy"].items():
        print(f"{m:<16}{d['compiled_s']:>12.2f}{(d['interpreter_s_est'] or 0):>16.1f}"
              f"{(d['ratio'] or 0):>8.1f}{d['episodes_per_s_compiled']:>12}")
    if interp:
        print(f"{'whole grid':<16}{sum(compiled.values()):>12.2f}{sum(interp.values()):>16.1f}"
              f"{report['grid_ratio']:>8.1f}")
    print(f"peak RSS {peak_rss:.0f} MB; compile cmc.tts {compile_ms:.1f} ms; "
          f"{exact}/{len(rows)} grid rows bit-exact")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return report


if __name__ == "__main__":
    main()
