"""Deserted answers, measured on the explorer's search set only (docs/explorer/mechanisms.md).

For n of a question's branches (the first n of seed s's order, seeds 0..31), read whole, the answer
chosen by: the plain majority; a vote weighting each branch by 1 / its tokens; and that vote less
`lam` times the 1 / tokens of every branch that showed the answer at one of its last 16 probes and
finished with another (a deserter). Four AIME24 stores; no held-out store is read.

    python -m benchmarks.deserted [STORE.json ...]
"""

from __future__ import annotations

import sys

import numpy as np

from benchmarks.shared import STORES
from ttsc.runtime.store import load_store
from ttsc.runtime.tables import shuffled_order

SEEDS = range(32)
SIZES = (8, 16, 32, 64)
LAMS = (0.5, 1.0, 2.0)
HISTORY = 16


def choose(branches, lam: float | None) -> object:
    """None: the plain majority; else the 1/tokens vote less lam per deserter (ties: first seen)."""
    score: dict = {}
    for b in branches:
        score[b.final_answer] = score.get(b.final_answer, 0.0) + (1.0 if lam is None else 1.0 / b.total_tokens)
    if lam:
        for b in branches:
            for a in set(b.probes[-HISTORY:]):
                if a != b.final_answer and a in score:
                    score[a] -= lam / b.total_tokens
    return max(score, key=score.__getitem__)


def main(paths: list[str]) -> None:
    files = paths or [str(STORES / m / "aime24.json") for m in ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")]
    stores = [load_store(p) for p in files]
    rules = [("majority", None), ("1/tokens", 0.0)] + [(f"1/tokens, lam={lam}", lam) for lam in LAMS]
    print(f"{len(stores)} stores, seeds 0..{SEEDS[-1]}: accuracy % of each vote over n whole branches")
    print("| n | " + " | ".join(r for r, _ in rules) + " |")
    print("|---:|" + "---:|" * len(rules))
    for n in SIZES:
        hits = np.zeros(len(rules))
        total = 0
        for store in stores:
            for q in store.questions:
                for seed in SEEDS:
                    taken = [q.branches[i] for i in shuffled_order(len(q.branches), seed)[:n]]
                    hits += [choose(taken, lam) == q.gold for _, lam in rules]
                    total += 1
        print(f"| {n} | " + " | ".join(f"{100 * h / total:.2f}" for h in hits) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
