"""A plain scalar implementation of the five reference strategies (semantics.md §4-5).

Written straight from the page, one episode at a time, with no tracing and no
engine: it is the speed baseline that compiled strategies are measured against
and an independent check of the reference numbers. Each strategy walks the
seed's shuffled branch list directly and charges tokens by the rules of §3
inline, which is what a hand-written evaluator would do.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from fractions import Fraction
from functools import lru_cache
from math import comb
from operator import attrgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ttsc.runtime.tables import shuffled_order
from ttsc.runtime.store import Answer, Branch, Store, load_store
from benchmarks.shared import SHARED

Outcome = tuple[Answer | None, int]  # (answer, tokens spent)


# --- voting helpers (§4) ---------------------------------------------------

def majority(answers: Iterable[Answer]) -> Answer | None:
    """Most frequent answer; a tie goes to the one that occurs first."""
    counts = Counter(answers)
    # Counter keeps first-occurrence order and max() keeps the first maximum.
    return max(counts, key=counts.__getitem__) if counts else None


def top_two(counts: Iterable[int]) -> tuple[int, int]:
    top1 = top2 = 0
    for c in counts:
        if c > top1:
            top1, top2 = c, top1
        elif c > top2:
            top2 = c
    return top1, top2


@lru_cache(maxsize=None)
def beta_confidence(top1: int, top2: int) -> float:
    """P(p > 0.5) for p ~ Beta(top1+1, top2+1); 0 when top1 == 0.

    For integer a, b: I_x(a, b) = P(Binomial(a+b-1, x) >= a), so
    1 - I_0.5(a, b) = P(Binomial(a+b-1, 1/2) <= a-1), a sum of binomial
    coefficients over 2^(a+b-1), computed exactly and rounded once.
    """
    if top1 == 0:
        return 0.0
    a, b = top1 + 1, top2 + 1
    n = a + b - 1
    return float(Fraction(sum(comb(n, k) for k in range(a)), 1 << n))


# --- strategies (§5) -------------------------------------------------------
# Each takes the branches in the episode's shuffled order and the interval Δ.

def sc(bs: Sequence[Branch], delta: int, n: int) -> Outcome:
    taken = bs[:n]
    return majority(b.final_answer for b in taken), sum(b.total_tokens for b in taken)


def asc(bs: Sequence[Branch], delta: int, max_samples: int, threshold: float) -> Outcome:
    answers: list[Answer] = []
    counts: dict[Answer, int] = {}
    tokens = 0
    for b in bs[:max_samples]:
        tokens += b.total_tokens
        answers.append(b.final_answer)
        counts[b.final_answer] = counts.get(b.final_answer, 0) + 1
        if len(answers) >= 2 and beta_confidence(*top_two(counts.values())) > threshold:
            return majority(answers), tokens
    return majority(answers), tokens


def esc(bs: Sequence[Branch], delta: int, max_samples: int, window_size: int) -> Outcome:
    answers: list[Answer] = []
    tokens = 0
    cursor = 0
    for _ in range(max_samples // window_size):
        window = bs[cursor:cursor + window_size]
        cursor += len(window)
        if not window:
            continue
        tokens += sum(b.total_tokens for b in window)
        finals = [b.final_answer for b in window]
        answers.extend(finals)
        if all(a == finals[0] for a in finals):
            return finals[0], tokens
    return majority(answers), tokens


class _Chain:
    """An opened branch and what it has revealed; opening it costs ``cost``."""

    __slots__ = ("probes", "final", "rest", "seen", "last", "finished", "dropped", "count", "advances", "cost")

    def __init__(self, branch: Branch, delta: int) -> None:
        self.probes = branch.probes
        self.final = branch.final_answer
        self.rest = max(0, branch.total_tokens - delta * len(branch.probes))  # cost of the finishing reveal
        self.dropped = False  # pruned (parallel_probe) or abandoned (cmc)
        self.count = 0  # off (parallel_probe) or disagree (cmc)
        self.advances = 0  # successful advances (cmc's `probes`)
        if branch.probes:
            self.seen, self.last, self.finished, self.cost = 1, branch.probes[0], False, delta
        else:
            self.seen, self.last, self.finished, self.cost = 0, branch.final_answer, True, branch.total_tokens

    def advance(self, delta: int) -> int:
        """Reveal the next interval and return its cost (never called once finished)."""
        if self.seen < len(self.probes):
            self.last = self.probes[self.seen]
            self.seen += 1
            return delta
        self.last = self.final
        self.finished = True
        return self.rest


def parallel_probe(bs: Sequence[Branch], delta: int, num_chains: int, T: int,
                   prune_patience: int, warm_up: int) -> Outcome:
    live = [_Chain(b, delta) for b in bs[:num_chains]]  # the non-pruned chains, in opening order
    tokens = sum(c.cost for c in live)
    if not live:
        return None, tokens
    stable, prev = 0, None
    for r in range(100):
        for c in live:
            if not c.finished:
                tokens += c.advance(delta)
        leader = majority(c.last for c in live)
        if r >= warm_up and len(live) > 1:
            pruned = False
            for c in live:
                if not c.finished:
                    c.count = c.count + 1 if c.last != leader else 0
                    if c.count >= prune_patience:
                        c.dropped = pruned = True
            if pruned:
                live = [c for c in live if not c.dropped]
                if not live:
                    return prev, tokens
                leader = majority(c.last for c in live)
        stable = stable + 1 if leader == prev else 0
        if stable >= T:
            return leader, tokens
        prev = leader
        if all(c.finished for c in live):
            return leader, tokens
    return prev, tokens


def cmc_schedule(beta: float) -> dict[str, Any]:
    b = min(1.0, max(0.0, beta))
    return {
        "n_init": max(2, round(2 + 6 * b)),
        "max_branch_use": min(64, round(4 + 60 * b)),
        "warm_up": max(2, round(2 + 8 * b)),
        "abandon_patience": max(3, round(3 + 9 * b)),
        "T_ema": max(2, round(2 + 6 * b)),
        "ema_alpha": round(0.70 - 0.40 * b, 4),
        "conf_thresh": round(0.85 + 0.12 * b, 4),
        "delta_slack": round(0.04 - 0.03 * b, 4),
        "burst_aligned": max(1, round(1 + 2 * b)),
        "widen_burst": max(1, round(1 + 3 * b)),
        "trend_thresh": round(0.04 - 0.03 * b, 4),
        "min_complete": max(2, round(2 + 3 * b)),
    }


def cmc(bs: Sequence[Branch], delta: int, beta: float) -> Outcome:
    k = cmc_schedule(beta)
    alpha, warm_up, patience = k["ema_alpha"], k["warm_up"], k["abandon_patience"]
    t_ema, burst, min_complete = k["T_ema"], k["burst_aligned"], k["min_complete"]
    conf_thresh, slack, trend_thresh = k["conf_thresh"], k["delta_slack"], k["trend_thresh"]
    widen_from, cap = max(1, warm_up // 2), min(k["max_branch_use"], 64)
    chains: list[_Chain] = []
    running: list[_Chain] = []  # neither abandoned nor finished, in opening order
    completed: list[Answer] = []
    counts: dict[Answer, int] = {}  # of completed, in first-finish order
    winner: Answer | None = None  # the pool, updated whenever a branch finishes
    conf = 0.0
    tokens = 0

    def finish(answer: Answer) -> None:
        nonlocal winner, conf
        completed.append(answer)
        counts[answer] = counts.get(answer, 0) + 1
        winner = max(counts, key=counts.__getitem__)
        conf = beta_confidence(*top_two(counts.values()))

    def spawn() -> bool:
        nonlocal tokens
        if len(chains) >= len(bs):
            return False
        c = _Chain(bs[len(chains)], delta)
        chains.append(c)
        tokens += c.cost
        if c.finished:
            finish(c.last)
        else:
            running.append(c)
        return True

    for _ in range(k["n_init"]):
        if not spawn():
            break
    if not chains:
        return None, tokens
    ema = 0.0
    hist: list[float] = []
    for step in range(500):
        warm = step >= warm_up
        ema = (1 - alpha) * ema + alpha * conf
        hist.append(ema)
        if len(hist) > t_ema:
            hist.pop(0)
        aligned = winner if warm else None  # advances burst only while it exists
        if aligned is not None:
            for c in running:
                c.count = c.count + 1 if c.last != aligned else 0
            candidates = sorted((c for c in running if c.count >= patience), key=attrgetter("count"), reverse=True)
            for c in candidates[:max(0, len(running) - 2)]:
                c.dropped = True
            running = [c for c in running if not c.dropped]
        # sorted(reverse=True) keeps equal keys in their original (opening) order.
        for c in sorted(running, key=attrgetter("advances"), reverse=True):
            for _ in range(burst if aligned is not None and c.last == aligned else 1):
                tokens += c.advance(delta)
                c.advances += 1
                if c.finished:
                    finish(c.last)
                    break
        running = [c for c in running if not c.finished]
        ema = (1 - alpha) * ema + alpha * conf
        hist[-1] = ema
        trend = hist[-1] - hist[0] if len(hist) >= 2 else 0
        if warm and len(completed) >= min_complete and ema >= conf_thresh and trend >= -slack:
            return winner, tokens
        if not running:
            break
        if len(chains) < cap and trend <= trend_thresh and step >= widen_from and ema < conf_thresh:
            for _ in range(k["widen_burst"]):
                if len(chains) >= cap or not spawn():
                    break
    if completed:
        return majority(completed), tokens
    return majority(c.last for c in chains if not c.dropped), tokens


STRATEGIES: dict[str, Callable[..., Outcome]] = {
    "sc": sc, "asc": asc, "esc": esc, "parallel_probe": parallel_probe, "cmc": cmc,
}


# --- evaluation protocol (§2) ----------------------------------------------

def evaluate(method: str, params: dict[str, Any], store: Store,
             seeds: Iterable[int] = range(100)) -> tuple[float, float]:
    """(accuracy %, average tokens per question) over seeds, bit-for-bit as published.

    Per seed: fraction correct = correct / questions and tokens = spent / questions
    (both exact). Across seeds: ``numpy.mean`` (its pairwise summation order is what
    the reference numbers carry), and the accuracy mean is then multiplied by 100.
    """
    strategy = STRATEGIES[method]
    questions = store.questions
    nq = len(questions)
    accs: list[float] = []
    toks: list[float] = []
    for seed in seeds:
        correct = 0
        spent = 0
        for q in questions:
            order = shuffled_order(len(q.branches), seed)
            answer, tokens = strategy([q.branches[i] for i in order], q.probe_freq, **params)
            correct += answer == q.gold
            spent += tokens
        accs.append(correct / nq)
        toks.append(spent / nq)
    return float(np.mean(accs)) * 100, float(np.mean(toks))


def reference_rows(shared: Path) -> list[dict[str, Any]]:
    """The published evaluator's numbers: model, dataset, method, params, accuracy, avg_tokens."""
    return json.loads((shared / "reference" / "autotts_reference.json").read_text(encoding="utf-8"))


def reproduce(shared: Path, rows: Iterable[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], float, float, float]]:
    """Evaluate reference rows on ``shared``'s stores: yields (row, accuracy, avg_tokens, seconds)."""
    stores: dict[str, Store] = {}
    for row in rows:
        name = f"{row['model']}/{row['dataset']}"
        if name not in stores:
            stores[name] = load_store(shared / "replay" / "autotts" / f"{name}.json", name)
        start = time.perf_counter()
        acc, tokens = evaluate(row["method"], row["params"], stores[name])
        yield row, acc, tokens, time.perf_counter() - start


def matches(row: dict[str, Any], accuracy: float, avg_tokens: float) -> bool:
    """The fidelity contract: the published floats exactly, not merely close to them."""
    return (accuracy, avg_tokens) == (row["accuracy"], row["avg_tokens"])


def main() -> None:
    """``python -m benchmarks.baseline [SHARED] [MODEL...]``: reproduce the reference file, timed per method."""
    shared = Path(sys.argv[1] if len(sys.argv) > 1 else SHARED)
    models = set(sys.argv[2:])
    rows = [r for r in reference_rows(shared) if not models or r["model"] in models]
    seconds: dict[str, float] = {}
    bad = 0
    for row, acc, tokens, dt in reproduce(shared, rows):
        seconds[row["method"]] = seconds.get(row["method"], 0.0) + dt
        if not matches(row, acc, tokens):
            bad += 1
            print(f"MISMATCH {row}: got {acc!r}, {tokens!r}")
    print(" ".join(f"{m} {s:.1f}s" for m, s in seconds.items()),
          f"total {sum(seconds.values()):.1f}s for {len(rows)} rows, {bad} mismatches")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
