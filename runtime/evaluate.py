"""Scoring a strategy on a replay store over many seeds.

Every engine produces an :class:`Outcome`: per-episode arrays shaped
``[seeds, questions]``. Scores are derived from it exactly as the published
evaluator accumulates them — per seed, the mean over questions; then the mean
over seeds — so the floats match its output digit for digit. Statistics,
traces and reports read the same arrays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ttsc.dsl.checker import CheckedProgram
from ttsc.runtime.episode import ReplayEpisode
from ttsc.runtime.interpreter import Interpreter
from ttsc.runtime.store import Store

# compiled: the native kernel (numba) over the replay store, every episode in one call;
# batched: the numpy policy in lock-step over the batched environment protocol (what live environments use);
# interpret: the reference interpreter, one episode at a time.
ENGINES = ("compiled", "batched", "interpret")
ENGINE_HELP = ("compiled: native kernels on all CPUs; batched: the numpy lock-step policy (the environment "
               "protocol); interpret: the reference interpreter. Same numbers from each.")


@dataclass(frozen=True)
class Outcome:
    """What every episode did. All arrays are ``[len(seeds), len(questions)]``."""

    seeds: tuple[int, ...]
    answers: np.ndarray        # object: the answer string, or None
    correct: np.ndarray        # bool
    tokens: np.ndarray         # int64
    sequential: np.ndarray     # int64: sum over rounds of the round's longest generation
    rounds: np.ndarray         # int64: action rounds that moved at least one branch
    opened: np.ndarray         # int64: branches opened (or read)
    pruned: np.ndarray         # int64
    stop_line: np.ndarray      # int64: source line of the `stop` that ended the episode; 0 = ran to the end
    seconds: float

    @property
    def accuracy(self) -> float:
        return _mean_of_means(self.correct) * 100

    @property
    def avg_tokens(self) -> float:
        return _mean_of_means(self.tokens)

    @property
    def avg_sequential_tokens(self) -> float:
        return _mean_of_means(self.sequential)


def _mean_of_means(table: np.ndarray) -> float:
    """Mean over seeds of the per-seed mean over questions.

    numpy's mean of each row, then numpy's mean of those: the published
    evaluator's order of float operations, so results agree to the last bit.
    """
    return float(np.mean([np.mean(row) for row in table]))


def gold_match(answers: np.ndarray, store: Store) -> np.ndarray:
    golds = [q.gold for q in store.questions]
    return np.array([[a is not None and a == g for a, g in zip(row, golds)] for row in answers], dtype=bool)


def run_interpreted(checked: CheckedProgram, params: dict, store: Store, seeds: Iterable[int]) -> Outcome:
    """Run with the reference interpreter, one episode at a time."""
    start = time.perf_counter()
    seeds = tuple(int(s) for s in seeds)
    interp = Interpreter(checked, params)
    shape = (len(seeds), len(store.questions))
    answers = np.empty(shape, dtype=object)
    cols = {k: np.zeros(shape, dtype=np.int64) for k in ("tokens", "sequential", "rounds", "opened", "pruned",
                                                         "stop_line")}
    for si, seed in enumerate(seeds):
        for qi, q in enumerate(store.questions):
            r = interp.run(ReplayEpisode(q, seed))
            answers[si, qi] = r.answer
            cols["tokens"][si, qi] = r.tokens
            cols["sequential"][si, qi] = r.sequential_tokens
            cols["rounds"][si, qi] = r.rounds
            cols["opened"][si, qi] = r.opened
            cols["pruned"][si, qi] = r.pruned
            cols["stop_line"][si, qi] = r.stop_line or 0
    return Outcome(seeds=seeds, answers=answers, correct=gold_match(answers, store),
                   seconds=time.perf_counter() - start, **cols)


def run(checked: CheckedProgram, params: dict, store: Store, seeds: Sequence[int], engine: str = "interpret") -> Outcome:
    """Run ``checked`` with ``params`` on every (seed, question) of ``store`` with the chosen engine."""
    if engine == "interpret":
        return run_interpreted(checked, params, store, seeds)
    if engine == "compiled":
        from ttsc.compiler.native_engine import run_native

        return run_native(checked, params, store, seeds)
    if engine == "batched":
        from ttsc.compiler.engine import run_batched

        return run_batched(checked, params, store, seeds)
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
