"""Does ignoring non-answers help a Dynasor-style controller? (docs/language.md, "Answer validity")

Runs ``benchmarks/dynasor.tts`` on every store given (default: the 12 published
stores under ../shared/replay/autotts) with seeds 0..99, with and without the
validity filter, and prints accuracy and average tokens per configuration:
per store, and the mean over stores.

    python -m benchmarks.dynasor_validity [STORE.json ...]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ttsc.compiler.engines import run
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store
from benchmarks.shared import STORES

HERE = Path(__file__).resolve().parent
SHARED = STORES
VARIANTS = {"plain": {}, "valid": {"skip_invalid": True}, "valid+No": {"skip_invalid": True, "skip_no": True}}


def main(paths: list[str]) -> None:
    src = read_source(HERE / "dynasor.tts")
    checked = check(parse_source(src), src)
    stores = [load_store(p) for p in (paths or sorted(str(p) for p in SHARED.glob("*/*.json")))]
    seeds = range(100)
    rows = []
    for n, k in ((16, 2), (16, 3), (16, 4), (32, 3)):
        for name, extra in VARIANTS.items():
            params = bind_params(checked, {"n": n, "k": k, **extra})
            acc, tok = [], []
            for store in stores:
                o = run(checked, params, store, seeds, "compiled")
                acc.append(100 * o.correct.mean())
                tok.append(o.tokens.mean())
            rows.append((n, k, name, np.mean(acc), np.mean(tok), acc))
            print(f"n={n:2d} k={k} {name:9s} accuracy {np.mean(acc):6.2f}  avg tokens {np.mean(tok):9.0f}  "
                  f"per store: {' '.join(f'{a:5.1f}' for a in acc)}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
