"""cmc_revote against CMC on the held-out stores (docs/explorer/cmc_revote_holdout.md).

Each β of cmc_revote against CMC's cheapest β (on a 0.02 grid) spending at least as many tokens, paired
over the same episodes: the held-out report's own matching (explorer/report.py). Reads the eight
AIME25 and HMMT25 stores, seeds 0..99.

    python -m benchmarks.revote_holdout
"""

from __future__ import annotations

from benchmarks.shared import STORES
from ttsc.cli.loading import load_program, resolve_strategy
from ttsc.compiler.engines import run
from ttsc.explorer import report
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_stores

MODELS = ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")


def main() -> None:
    stores = load_stores([str(STORES / m / f"{b}.json") for b in ("aime25", "hmmt25") for m in MODELS])

    def sweep(name: str, grid) -> dict:
        c = load_program(resolve_strategy(name), warn=False)
        return {b: [run(c, bind_params(c, {"beta": b}), s, range(100), "compiled") for s in stores] for b in grid}
    mine = sweep("cmc_revote", report.HOLDOUT_GRID)
    ref = report._reference(sweep("cmc", sorted(set(report.MATCH_GRID) | set(report.HOLDOUT_GRID))))
    print("\n".join(report._table(report._matched(mine, ref), "cmc")))


if __name__ == "__main__":
    main()
