"""Scoring a candidate: its frontier over the budget knob on the search stores, against the seed's.

Each valid candidate runs at every β of a fixed grid on every search store
(native kernel of its shape, the same seeds for everyone: comparisons are
paired). Its frontier is the *step envelope* ``f(t)`` = the best accuracy
among its settings costing at most ``t`` average tokens per question (0 below
its cheapest setting). The score is the mean of ``f_candidate − f_seed`` over
``log t`` across the seed's own token span ``[lo, hi]`` (the cheapest and
dearest β of the seed on the grid), in accuracy points:

* a step envelope never credits accuracy a candidate did not reach at that
  cost (no interpolation between settings);
* the span is the seed's whole range, so stopping earlier than the seed is not
  rewarded: the candidate's best accuracy is compared against the seed's
  dearest, most accurate setting at the top of the range;
* log tokens weigh the cheap and the dear half of the range alike.

Guards against overfitting 120 questions: the same gain is computed on every
store separately (each store = one model, its own span) and a candidate is
eligible as *best* only when it wins on most stores; the fitness subtracts a
size penalty per AST node beyond the seed's.

Options (``ttsc explore --score gamma --gamma G``, ``--folds K``):

* ``gamma``: the paper's utility, accuracy − γ·cost, with cost in thousands of
  tokens per question: the gain is the candidate's best utility over its
  settings minus the seed's (per store likewise). One γ picks one operating
  point, so the area score stays the default.
* folds: every store's questions are split into K disjoint folds (question
  ``i`` in fold ``i mod K``); the same gain is computed on each fold (stores
  averaged fold by fold, against the seed on the same questions), and a best
  candidate must win on most folds too (see ``loop.eligible``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ttsc.compiler.engines import run
from ttsc.explorer.program import KNOB, Shape, shape_program
from ttsc.runtime.env import require_signals
from ttsc.runtime.params import bind_params
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.store import Store

SIZE_PENALTY = 0.01   # points per AST node beyond the seed's
SEGMENTS = 4          # budget niches of the archive (equal parts of log-token span)


@dataclass(frozen=True)
class Setting:
    accuracy: float    # percent, exactly Outcome.accuracy
    avg_tokens: float  # exactly Outcome.avg_tokens


def check_signals(name: str, shape: Shape, stores: Sequence[Store]) -> None:
    """Refuse a program that reads a signal a search store lacks, naming it ``name`` (the candidate's or
    seed's own name: the run would name the lifted shape program, which nobody wrote)."""
    checked = shape_program(shape)
    for store in stores:
        require_signals(name, checked.signals, ReplayEnvironment(store, (0,)))


def evaluate(shape: Shape, stores: Sequence[Store], seeds: Sequence[int], grid: Sequence[float],
             folds: dict | None = None) -> dict[str, list[Setting]]:
    """Per store, one Setting per β of ``grid``: the exact scores ``ttsc eval`` reports. With a dict as
    ``folds`` = {"k": K, "settings": {}}, also fills ``folds["settings"]`` with each store's settings on
    each question fold (:func:`fold_of`), keyed ``"store#f"``."""
    checked = shape_program(shape)
    out: dict[str, list[Setting]] = {}
    for store in stores:
        row = []
        for beta in grid:
            # bind_params: the program's own parameters besides the knob keep their defaults
            o = run(checked, bind_params(checked, {**shape.values, KNOB: float(beta)}), store, seeds,
                    engine="compiled")
            row.append(Setting(o.accuracy, o.avg_tokens))
            if folds:
                for f, qs in enumerate(fold_of(o.correct.shape[1], folds["k"])):
                    folds["settings"].setdefault(f"{store.name}#{f}", []).append(
                        Setting(_mean_of_means(o.correct[:, qs]) * 100, _mean_of_means(o.tokens[:, qs])))
        out[store.name] = row
    return out


def fold_of(n_questions: int, k: int) -> list[np.ndarray]:
    """K disjoint question folds covering all questions: question ``i`` is in fold ``i mod k``."""
    return [np.arange(f, n_questions, k) for f in range(k)]


def fold_frontiers(fold_settings: dict[str, list[Setting]], k: int) -> list[list[Setting]]:
    """Per fold, the frontier averaged over stores (as :func:`average` does over whole stores)."""
    return [average({name: row for name, row in fold_settings.items() if name.rsplit("#", 1)[1] == str(f)})
            for f in range(k)]


def _mean_of_means(table: np.ndarray) -> float:
    from ttsc.runtime.outcome import _mean_of_means as mm
    return mm(table)


COST_UNIT = 1000.0  # γ is in accuracy points per thousand tokens per question


def utility(points: Sequence[Setting], gamma: float) -> float:
    """The paper's accuracy − γ·cost at the candidate's best setting."""
    return max(p.accuracy - gamma * p.avg_tokens / COST_UNIT for p in points)


def average(per_store: dict[str, list[Setting]]) -> list[Setting]:
    """The frontier averaged over stores, β by β (every store has equally many questions here)."""
    rows = list(per_store.values())
    return [Setting(float(np.mean([r[i].accuracy for r in rows])), float(np.mean([r[i].avg_tokens for r in rows])))
            for i in range(len(rows[0]))]


def envelope_mean(points: Sequence[Setting], lo: float, hi: float, a: float | None = None,
                  b: float | None = None) -> float:
    """Mean over log t in [a, b] (default [lo, hi]) of the step envelope of ``points``."""
    a, b = (lo if a is None else a), (hi if b is None else b)
    la, lb = math.log(a), math.log(b)
    if lb <= la:
        return 0.0
    pts = sorted((p.avg_tokens, p.accuracy) for p in points)
    cuts = sorted({la, lb, *(math.log(t) for t, _ in pts if a < t < b and t > 0)})
    total = 0.0
    for x0, x1 in zip(cuts, cuts[1:]):
        t = math.exp(x0)
        best = max((acc for tok, acc in pts if tok <= t * (1 + 1e-12)), default=0.0)
        total += best * (x1 - x0)
    return total / (lb - la)


def span(points: Sequence[Setting]) -> tuple[float, float]:
    toks = [p.avg_tokens for p in points]
    return min(toks), max(toks)


@dataclass(frozen=True)
class Score:
    gain: float                  # points over the seed on the averaged frontier (the headline)
    per_store: dict[str, float]  # the same gain per store
    segments: list[float]        # gain in each budget niche of the averaged span
    wins: int                    # stores with a positive gain
    fitness: float               # gain − size penalty
    folds: list[float] | None = None  # the gain on each question fold (with --folds)

    def to_json(self) -> dict:
        out = {"gain": self.gain, "per_store": self.per_store, "segments": self.segments, "wins": self.wins,
               "fitness": self.fitness}
        if self.folds is not None:
            out["folds"] = self.folds
        return out


def gain_of(cand: Sequence[Setting], seed: Sequence[Setting], mode: str = "area", gamma: float = 0.0) -> float:
    """One frontier against the seed's: area over the seed's span, or the utility difference."""
    if mode == "gamma":
        return utility(cand, gamma) - utility(seed, gamma)
    lo, hi = span(seed)
    return envelope_mean(cand, lo, hi) - envelope_mean(seed, lo, hi)


def score(cand: dict[str, list[Setting]], seed: dict[str, list[Setting]], size: int, seed_size: int,
          mode: str = "area", gamma: float = 0.0, cand_folds: dict | None = None, seed_folds: dict | None = None,
          k: int = 0, size_penalty: float = SIZE_PENALTY) -> Score:
    ca, sa = average(cand), average(seed)
    lo, hi = span(sa)
    gain = gain_of(ca, sa, mode, gamma)
    per_store = {name: gain_of(cand[name], seed[name], mode, gamma) for name in seed}
    edges = [math.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * k / SEGMENTS) for k in range(SEGMENTS + 1)]
    segments = [envelope_mean(ca, lo, hi, x, y) - envelope_mean(sa, lo, hi, x, y) for x, y in zip(edges, edges[1:])]
    wins = sum(g > 0 for g in per_store.values())
    fitness = gain - size_penalty * max(0, size - seed_size)
    folds = None
    if k:
        folds = [gain_of(c, s_, mode, gamma) for c, s_ in zip(fold_frontiers(cand_folds, k), fold_frontiers(seed_folds, k))]
    return Score(gain, per_store, segments, wins, fitness, folds)


def settings_to_json(per_store: dict[str, list[Setting]]) -> dict:
    return {k: [[s.accuracy, s.avg_tokens] for s in v] for k, v in per_store.items()}


def settings_from_json(data: dict) -> dict[str, list[Setting]]:
    return {k: [Setting(a, t) for a, t in v] for k, v in data.items()}
