"""What a strategy did on every episode, and its scores.

Every engine produces an :class:`Outcome`: per-episode arrays shaped
``[seeds, questions]``. Scores are derived from it exactly as the published
evaluator accumulates them — per seed, the mean over questions; then the mean
over seeds — so the floats match its output digit for digit. Statistics,
traces and reports read the same arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
import numpy as np

from ttsc.runtime.store import Store


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
    seconds: float             # running the episodes
    compile_seconds: float = 0.0  # compiling (or loading) the program first, when the engine does

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
