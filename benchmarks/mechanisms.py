"""Mechanisms beyond CMC, measured on the explorer's search set only (docs/explorer/mechanisms.md).

Runs each program of ``docs/explorer/mechanisms/`` (and the shipped ``cmc_revote``) at a few
settings on the four AIME24 stores (seeds 0..31, as the explorer scores) and prints, per setting,
the mean accuracy and tokens over the stores beside CMC's step envelope at that cost: CMC's best
mean accuracy over β on a 0.02 grid among the settings that spend no more. No held-out store is read.

    python -m benchmarks.mechanisms [STORE.json ...]
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np

from ttsc.cli.loading import load_program
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store
from benchmarks.shared import STORES

HERE = Path(__file__).resolve().parent
FOLDER = HERE.parent / "docs" / "explorer" / "mechanisms"
STRATEGIES = HERE.parent / "strategies"
SHARED = STORES
SEEDS = range(32)
BETAS = (0.2, 0.5, 0.8, 1.0)
SETTINGS = {  # program: the grid of its own parameters (beta, where it has one, is swept over BETAS)
    "race": {"k": (8, 16, 32, 64), "m": (3, 5, 8)},
    "cmc_giveup": {"giveup_n": (6, 10), "giveup_r": (30, 40)},
    "cmc_length_prune": {"lp": (1.3, 1.7, 2.5), "lpn": (3,)},
    "cmc_length_vote": {"square": (False, True)},
    "cmc_probe_votes": {"w": (0.25,)},
    "weighted_sc": {"n": (16, 64), "power": (0, 1, 2)},
    "search5_stretched": {"stretch": (1.0, 2.5)},
    "search6_stretched": {"stretch": (1.0, 2.5)},
    "cmc_revote": {"lam": (0.5, 1.0, 2.0)},  # shipped: strategies/cmc_revote.tts
}


def program_path(name: str) -> Path:
    """A mechanism's program: docs/explorer/mechanisms/NAME.tts, else the shipped strategies/NAME.tts."""
    own = FOLDER / f"{name}.tts"
    return own if own.exists() else STRATEGIES / f"{name}.tts"


def mean_run(checked, params: dict, stores) -> tuple[float, float]:
    bound = bind_params(checked, params)
    outs = [run(checked, bound, st, SEEDS, engine="compiled") for st in stores]
    return float(np.mean([o.accuracy for o in outs])), float(np.mean([o.avg_tokens for o in outs]))


def main(paths: list[str]) -> None:
    files = paths or [str(SHARED / m / "aime24.json") for m in ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")]
    stores = [load_store(p) for p in files]
    cmc = load_program(STRATEGIES / "cmc.tts", warn=False)
    curve = [mean_run(cmc, {"beta": round(b, 2)}, stores) for b in np.arange(0, 1.0001, 0.02)]

    def envelope(tokens: float) -> float:
        return max((a for a, t in curve if t <= tokens), default=float("nan"))

    print(f"search set: {len(stores)} stores, seeds 0..{SEEDS[-1]}; CMC at beta = 1: "
          f"{curve[-1][0]:.2f}% / {curve[-1][1] / 1000:.0f}k")
    print("| program | setting | accuracy | tokens | CMC's envelope there | gain |")
    print("|---|---|---:|---:|---:|---:|")
    for name, grid in SETTINGS.items():
        checked = load_program(program_path(name), warn=False)
        has_beta = any(p.name == "beta" for p in checked.program.params)
        keys = list(grid)
        for values in itertools.product(*(grid[k] for k in keys), *([BETAS] if has_beta else [])):
            params = dict(zip(keys + (["beta"] if has_beta else []), values))
            acc, tok = mean_run(checked, params, stores)
            env = envelope(tok)
            setting = ", ".join(f"{k}={v}" for k, v in params.items())
            print(f"| {name} | {setting} | {acc:.2f} | {tok / 1000:.0f}k | {env:.2f} | {acc - env:+.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
