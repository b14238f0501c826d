"""Scoring a strategy on a replay store over many seeds.

accuracy = mean over seeds of (correct questions / questions) × 100, and
avg_tokens = mean over seeds of (tokens / questions), exactly as the published
evaluator accumulates them, so the floats match its output digit for digit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Sequence

from ttsc.dsl.checker import CheckedProgram
from ttsc.runtime.episode import ReplayEpisode
from ttsc.runtime.interpreter import EpisodeResult, Interpreter
from ttsc.runtime.store import Store


@dataclass(frozen=True)
class Score:
    accuracy: float
    avg_tokens: float
    avg_sequential_tokens: float
    seconds: float


def aggregate(correct: Sequence[Sequence[bool]], tokens: Sequence[Sequence[int]],
              sequential: Sequence[Sequence[int]]) -> tuple[float, float, float]:
    """Per-seed means (rows are seeds, columns questions), then the mean over seeds."""
    n_seeds = len(correct)
    acc = sum(sum(row) / len(row) for row in correct) / n_seeds * 100
    tok = sum(sum(row) / len(row) for row in tokens) / n_seeds
    seq = sum(sum(row) / len(row) for row in sequential) / n_seeds
    return acc, tok, seq


def run_interpreted(checked: CheckedProgram, params: dict, store: Store, seeds: Iterable[int]) -> Score:
    """Score with the reference interpreter, one episode at a time."""
    start = time.perf_counter()
    interp = Interpreter(checked, params)
    correct, tokens, seq = [], [], []
    for seed in seeds:
        results: list[EpisodeResult] = [interp.run(ReplayEpisode(q, seed)) for q in store.questions]
        correct.append([r.answer is not None and r.answer == q.gold for r, q in zip(results, store.questions)])
        tokens.append([r.tokens for r in results])
        seq.append([r.sequential_tokens for r in results])
    acc, tok, sq = aggregate(correct, tokens, seq)
    return Score(acc, tok, sq, time.perf_counter() - start)
