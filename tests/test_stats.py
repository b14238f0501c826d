"""Bootstrap intervals over questions and paired comparisons, checked against known cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ttsc.errors import TtscError
from ttsc.insight.stats import (accuracy_interval, bootstrap, compare, percentile_interval, per_question,
                                sign_test, tokens_interval)
from ttsc.runtime.outcome import Outcome


def outcome(correct, tokens=None, sequential=None) -> Outcome:
    correct = np.asarray(correct, dtype=bool)
    shape = correct.shape
    tokens = np.full(shape, 100, dtype=np.int64) if tokens is None else np.asarray(tokens, dtype=np.int64)
    sequential = tokens // 2 if sequential is None else np.asarray(sequential, dtype=np.int64)
    zeros = np.zeros(shape, dtype=np.int64)
    return Outcome(seeds=tuple(range(shape[0])), answers=np.full(shape, None, dtype=object), correct=correct,
                   tokens=tokens, sequential=sequential, rounds=zeros, opened=zeros, pruned=zeros, stop_line=zeros,
                   seconds=0.0)


def test_equal_per_question_accuracy_gives_zero_width() -> None:
    # 4 seeds × 6 questions; each question is right on exactly 3 of the 4 seeds, in different seeds.
    rng = np.random.default_rng(7)
    correct = np.array([rng.permutation([1, 1, 1, 0]) for _ in range(6)]).T
    iv = accuracy_interval(outcome(correct))
    assert iv.estimate == pytest.approx(75.0)
    assert iv.low == pytest.approx(75.0) and iv.high == pytest.approx(75.0) and iv.width == pytest.approx(0.0)


def test_matches_a_plain_loop_with_the_same_rng() -> None:
    rng = np.random.default_rng(3)
    seeds, questions, resamples = 5, 12, 500
    correct = rng.random((seeds, questions)) < np.linspace(0.1, 0.9, questions)
    tokens = rng.integers(1_000, 50_000, size=(seeds, questions))
    out = outcome(correct, tokens)

    # The definition, written out: same draws, per-seed mean over the resampled questions, then mean over seeds.
    draws = np.random.default_rng(11).integers(0, questions, size=(resamples, questions))
    accs, toks = [], []
    for row in draws:
        accs.append(sum(sum(correct[s, q] for q in row) / questions for s in range(seeds)) / seeds * 100)
        toks.append(sum(sum(int(tokens[s, q]) for q in row) / questions for s in range(seeds)) / seeds)

    def order_stat(xs: list[float], p: float) -> float:  # smallest x with empirical CDF >= p
        xs = sorted(xs)
        return xs[math.ceil(p * len(xs)) - 1]

    acc = accuracy_interval(out, resamples=resamples, seed=11)
    tok = tokens_interval(out, resamples=resamples, seed=11)
    assert acc.estimate == out.accuracy and tok.estimate == out.avg_tokens
    assert acc.low == pytest.approx(order_stat(accs, 0.025), abs=1e-9)
    assert acc.high == pytest.approx(order_stat(accs, 0.975), abs=1e-9)
    assert tok.low == pytest.approx(order_stat(toks, 0.025), rel=1e-12)
    assert tok.high == pytest.approx(order_stat(toks, 0.975), rel=1e-12)
    assert acc.low < acc.estimate < acc.high


def test_same_seed_same_interval_and_a_different_seed_differs() -> None:
    rng = np.random.default_rng(0)
    out = outcome(rng.random((3, 30)) < 0.5, tokens=rng.integers(1_000, 90_000, size=(3, 30)))
    assert accuracy_interval(out, seed=1) == accuracy_interval(out, seed=1)
    assert tokens_interval(out, seed=1) == tokens_interval(out, seed=1)
    assert tokens_interval(out, seed=1) != tokens_interval(out, seed=2)


def binom_ppf(p: float, n: int, q: float) -> tuple[int, float]:
    """Smallest k with P(X <= k) >= q for X ~ Binomial(n, p), and that CDF's distance from q at k and k-1."""
    cdf = 0.0
    for k in range(n + 1):
        prev = cdf
        cdf += math.comb(n, k) * p ** k * (1 - p) ** (n - k)
        if cdf >= q:
            return k, min(cdf - q, q - prev)
    raise AssertionError


@pytest.mark.parametrize("questions,right", [(20, 7), (30, 15), (12, 9)])
def test_two_point_distribution_matches_binomial_quantiles(questions: int, right: int) -> None:
    # Every question is either always right or always wrong, so a resample's accuracy is X/Q with
    # X ~ Binomial(Q, right/Q): the percentile interval must land on the binomial quantiles.
    correct = np.zeros((2, questions), dtype=bool)
    correct[:, :right] = True
    resamples = 200_000
    iv = accuracy_interval(outcome(correct), resamples=resamples, seed=5)
    lo_k, lo_margin = binom_ppf(right / questions, questions, 0.025)
    hi_k, hi_margin = binom_ppf(right / questions, questions, 0.975)
    # The empirical CDF is within ~4 standard errors of the exact one; only then is the quantile determined.
    assert min(lo_margin, hi_margin) > 4 * math.sqrt(0.025 * 0.975 / resamples)
    assert iv.low == pytest.approx(lo_k / questions * 100)
    assert iv.high == pytest.approx(hi_k / questions * 100)


def test_percentile_interval_is_order_statistics() -> None:
    samples = np.arange(1, 41, dtype=float)  # 40 samples: the 2.5% point is the 1st, the 97.5% point the 39th
    assert percentile_interval(samples, 0.95) == (1.0, 39.0)
    assert percentile_interval(samples, 0.5) == (10.0, 30.0)
    with pytest.raises(TtscError):
        percentile_interval(samples, 1.5)


def test_bootstrap_estimate_defaults_to_the_mean() -> None:
    iv = bootstrap(np.array([1.0, 2.0, 3.0, 6.0]), resamples=100)
    assert iv.estimate == 3.0 and 1.0 <= iv.low <= iv.high <= 6.0


def test_bad_tables_are_refused() -> None:
    with pytest.raises(TtscError):
        per_question(np.zeros((0, 3)))
    with pytest.raises(TtscError):
        bootstrap(np.array([1.0, 2.0]), resamples=0)


# ---- paired comparison


def test_dominating_strategy_has_a_positive_difference_excluding_zero() -> None:
    rng = np.random.default_rng(2)
    difficulty = np.linspace(0.05, 0.8, 25)
    u = rng.random((10, 25))
    a = outcome(u < difficulty + 0.15, tokens=np.full((10, 25), 900))
    b = outcome(u < difficulty, tokens=np.full((10, 25), 1000))
    c = compare(a, b)
    assert c.accuracy.estimate == pytest.approx(a.accuracy - b.accuracy) and c.accuracy.estimate > 0
    assert c.accuracy.low > 0 and c.accuracy.excludes_zero()
    assert c.tokens.estimate == -100 and c.tokens.low == c.tokens.high == -100
    assert c.worse == 0 and c.better > 0 and c.better + c.ties == 25
    assert c.sign_p < 0.05
    flipped = compare(b, a)
    assert flipped.accuracy.estimate == pytest.approx(-c.accuracy.estimate)
    assert flipped.accuracy.high < 0 and flipped.better == 0 and flipped.worse == c.better


def test_identical_strategies_have_zero_difference_and_zero_width() -> None:
    correct = np.random.default_rng(4).random((6, 20)) < 0.4
    tokens = np.random.default_rng(5).integers(100, 10_000, size=(6, 20))
    c = compare(outcome(correct, tokens), outcome(correct, tokens))
    for iv in (c.accuracy, c.tokens, c.sequential):
        assert iv.estimate == 0 and iv.low == 0 and iv.high == 0
    assert (c.better, c.worse, c.ties, c.sign_p) == (0, 0, 20, 1.0)


def test_pairing_narrows_the_interval_when_results_are_correlated() -> None:
    # Questions range from easy to hopeless; B is A with a few extra misses, so the two move together.
    rng = np.random.default_rng(9)
    u = rng.random((8, 40))
    difficulty = np.linspace(0.02, 0.98, 40)
    a = outcome(u < difficulty)
    b = outcome(u < difficulty - 0.1)
    paired, unpaired = compare(a, b), compare(a, b, paired=False)
    assert paired.accuracy.estimate == unpaired.accuracy.estimate > 0
    assert paired.accuracy.width < unpaired.accuracy.width / 3
    assert paired.accuracy.excludes_zero() and not unpaired.accuracy.excludes_zero()


def test_comparison_needs_the_same_episodes() -> None:
    with pytest.raises(TtscError, match="same episodes"):
        compare(outcome(np.zeros((2, 5))), outcome(np.zeros((3, 5))))


def test_sign_test() -> None:
    assert sign_test(0, 0) == 1.0
    assert sign_test(5, 5) == 1.0
    assert sign_test(10, 0) == pytest.approx(2 / 1024)
    assert sign_test(1, 9) == pytest.approx(2 * 11 / 1024)
