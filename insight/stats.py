"""Confidence intervals for scores, by bootstrap over questions.

The unit of resampling is the *question*: a replay store holds a fixed set of
questions, and the seeds only re-draw branch orders for those same questions, so
the uncertainty that matters is which questions were asked. Each bootstrap
resample draws ``Q`` question indices with replacement; its accuracy is the
mean over seeds of the per-seed mean over the resampled questions, which equals
the mean over the resampled questions of each question's accuracy averaged over
seeds. That per-question average is the unit everything here resamples.

Intervals use the percentile method (the empirical ``α/2`` and ``1 − α/2``
quantiles of the resampled statistic, taken as order statistics:
``numpy.quantile(..., method="inverted_cdf")``). Resampling is driven by
``numpy.random.default_rng(seed)`` drawing all indices at once as
``rng.integers(0, Q, size=(resamples, Q))``, so a result is deterministic.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ttsc.errors import TtscError
from ttsc.runtime.outcome import Outcome

RESAMPLES = 2000
LEVEL = 0.95
SEED = 0


@dataclass(frozen=True)
class Interval:
    """A point estimate and its bootstrap percentile interval."""

    estimate: float
    low: float
    high: float
    level: float = LEVEL

    @property
    def width(self) -> float:
        return self.high - self.low

    def excludes_zero(self) -> bool:
        return self.low > 0 or self.high < 0

    def to_dict(self) -> dict[str, float]:
        return {"estimate": self.estimate, "low": self.low, "high": self.high, "level": self.level}


def per_question(table: np.ndarray) -> np.ndarray:
    """Each question's value averaged over seeds: ``[seeds, questions] -> [questions]``."""
    table = np.asarray(table, dtype=np.float64)
    if table.ndim != 2 or table.shape[0] == 0 or table.shape[1] == 0:
        raise TtscError(f"expected a non-empty [seeds, questions] table, got shape {table.shape}")
    return table.mean(axis=0)


def resample_indices(rng: np.random.Generator, questions: int, resamples: int) -> np.ndarray:
    """``[resamples, questions]`` question indices drawn with replacement."""
    if resamples < 1:
        raise TtscError(f"resamples must be at least 1, got {resamples}")
    return rng.integers(0, questions, size=(resamples, questions))


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The ``(α/2, 1 − α/2)`` order-statistic quantiles of ``samples``."""
    if not 0 < level < 1:
        raise TtscError(f"confidence level must be in (0, 1), got {level}")
    tail = round((1 - level) / 2, 12)  # so 0.95 gives exactly 0.025, not 0.025000000000000022
    low, high = np.quantile(samples, [tail, 1 - tail], method="inverted_cdf")
    return float(low), float(high)


def bootstrap(values: np.ndarray, estimate: float | None = None, *, resamples: int = RESAMPLES,
              level: float = LEVEL, seed: int = SEED) -> Interval:
    """Interval for the mean of per-question ``values`` (one number per question)."""
    values = np.asarray(values, dtype=np.float64)
    idx = resample_indices(np.random.default_rng(seed), len(values), resamples)
    low, high = percentile_interval(values[idx].mean(axis=1), level)
    return Interval(float(values.mean()) if estimate is None else estimate, low, high, level)


def accuracy_interval(outcome: Outcome, *, resamples: int = RESAMPLES, level: float = LEVEL,
                      seed: int = SEED) -> Interval:
    """Accuracy (%) with its interval; the estimate is exactly ``outcome.accuracy``."""
    return bootstrap(per_question(outcome.correct) * 100, outcome.accuracy, resamples=resamples, level=level,
                     seed=seed)


def tokens_interval(outcome: Outcome, *, sequential: bool = False, resamples: int = RESAMPLES,
                    level: float = LEVEL, seed: int = SEED) -> Interval:
    """Average (or sequential) tokens per question with its interval."""
    table, estimate = ((outcome.sequential, outcome.avg_sequential_tokens) if sequential
                       else (outcome.tokens, outcome.avg_tokens))
    return bootstrap(per_question(table), estimate, resamples=resamples, level=level, seed=seed)


@dataclass(frozen=True)
class Comparison:
    """Strategy A against strategy B on the same episodes; every difference is A − B."""

    accuracy: Interval      # percentage points
    tokens: Interval        # average tokens per question
    sequential: Interval    # average sequential tokens per question
    better: int             # questions where A's accuracy (averaged over seeds) is higher
    worse: int              # ... lower
    ties: int               # ... equal
    sign_p: float           # two-sided exact sign test over the untied questions
    paired: bool

    def to_dict(self) -> dict:
        return {"accuracy": self.accuracy.to_dict(), "tokens": self.tokens.to_dict(),
                "sequential": self.sequential.to_dict(), "better": self.better, "worse": self.worse,
                "ties": self.ties, "sign_p": self.sign_p, "paired": self.paired}


def compare(a: Outcome, b: Outcome, *, paired: bool = True, resamples: int = RESAMPLES, level: float = LEVEL,
            seed: int = SEED) -> Comparison:
    """Differences A − B with bootstrap intervals over questions.

    Paired (the default, and the right choice for two strategies run on the
    same store and seeds): every resample draws one set of question indices and
    applies it to both, so a question's difficulty cancels out of the
    difference. Unpaired draws A's and B's questions independently.
    """
    if a.correct.shape != b.correct.shape or a.seeds != b.seeds:
        raise TtscError("a paired comparison needs the same episodes: "
                        f"A has seeds×questions {a.correct.shape}, B has {b.correct.shape}"
                        + ("" if a.seeds == b.seeds else " and the seeds differ"))
    rng = np.random.default_rng(seed)
    questions = a.correct.shape[1]
    idx_a = resample_indices(rng, questions, resamples)
    idx_b = idx_a if paired else resample_indices(rng, questions, resamples)

    def diff(table_a: np.ndarray, table_b: np.ndarray, estimate: float, scale: float = 1.0) -> Interval:
        qa, qb = per_question(table_a) * scale, per_question(table_b) * scale
        low, high = percentile_interval(qa[idx_a].mean(axis=1) - qb[idx_b].mean(axis=1), level)
        return Interval(estimate, low, high, level)

    qa, qb = per_question(a.correct), per_question(b.correct)
    better, worse = int(np.sum(qa > qb)), int(np.sum(qa < qb))
    return Comparison(
        accuracy=diff(a.correct, b.correct, a.accuracy - b.accuracy, 100.0),
        tokens=diff(a.tokens, b.tokens, a.avg_tokens - b.avg_tokens),
        sequential=diff(a.sequential, b.sequential, a.avg_sequential_tokens - b.avg_sequential_tokens),
        better=better, worse=worse, ties=questions - better - worse,
        sign_p=sign_test(better, worse), paired=paired)


def sign_test(wins: int, losses: int) -> float:
    """Two-sided exact binomial sign test: P(a split at least this uneven | p = 1/2)."""
    n = wins + losses
    if n == 0:
        return 1.0
    k = min(wins, losses)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)
