"""The plain scalar baseline: voting helpers, and every reference number it must reproduce."""

from __future__ import annotations

from fractions import Fraction
from math import comb, nextafter
from pathlib import Path

import pytest

from benchmarks.baseline import beta_confidence, cmc_schedule, evaluate, majority, matches, reference_rows, reproduce
from tests.conftest import synthetic_store_path
from ttsc.runtime.store import load_store

MODELS = ["Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B"]
DATASETS = ["aime24", "aime25", "hmmt25"]
FULL_MODEL = "Qwen3-8B"  # every row of its stores; the others get a rotating sample


def test_majority_ties_go_to_first_occurrence() -> None:
    assert majority(["b", "a", "a", "b"]) == "b"
    assert majority(["c", "a", "b", "a", "b"]) == "a"
    assert majority([]) is None


def test_beta_confidence_exact_values() -> None:
    assert beta_confidence(0, 0) == beta_confidence(0, 5) == 0.0
    assert beta_confidence(1, 1) == 0.5
    assert beta_confidence(9, 0) == 1 - 2.0 ** -10
    assert beta_confidence(3, 1) == float(Fraction(13, 16))  # P(Bin(5, 1/2) <= 3)


def test_beta_confidence_by_symmetry() -> None:
    # P(p > 1/2) for Beta(a, b) is P(p < 1/2) for Beta(b, a): an independent tail sum.
    for t1 in range(1, 130, 7):
        for t2 in range(0, t1 + 1, 5):
            a, b = t1 + 1, t2 + 1
            n = a + b - 1
            assert beta_confidence(t1, t2) == float(Fraction(sum(comb(n, k) for k in range(b, n + 1)), 2**n))


def test_beta_confidence_agrees_with_scipy() -> None:
    stats = pytest.importorskip("scipy.stats", reason="scipy is not installed (optional, tests only)")
    for t1 in range(1, 130):
        for t2 in range(0, t1 + 1):
            # scipy is off by one ulp in a few dozen cells; the exact value is the contract.
            assert beta_confidence(t1, t2) == pytest.approx(stats.beta.sf(0.5, t1 + 1, t2 + 1), rel=1e-15, abs=1e-300)


def test_cmc_schedule_rounds_half_to_even() -> None:
    k = cmc_schedule(0.75)  # 2 + 6·0.75 = 6.5 → 6
    assert k["n_init"] == 6 and k["T_ema"] == 6
    assert cmc_schedule(2.0) == cmc_schedule(1.0) and cmc_schedule(-1.0) == cmc_schedule(0.0)
    assert cmc_schedule(0.5)["ema_alpha"] == 0.5 and cmc_schedule(0.1)["ema_alpha"] == 0.66


@pytest.mark.parametrize("method,params", [
    ("sc", {"n": 8}), ("asc", {"max_samples": 16, "threshold": 0.95}), ("esc", {"max_samples": 16, "window_size": 8}),
    ("parallel_probe", {"num_chains": 8, "T": 40, "prune_patience": 7, "warm_up": 15}), ("cmc", {"beta": 0.5}),
])
def test_runs_on_the_bundled_store(method: str, params: dict) -> None:
    store = load_store(synthetic_store_path())
    acc, tokens = evaluate(method, params, store, range(5))
    assert 0 <= acc <= 100 and tokens > 0
    assert (acc, tokens) == evaluate(method, params, store, range(5))


def test_reference_covers_exactly_the_known_stores(shared: Path) -> None:
    rows = reference_rows(shared)
    assert {(r["model"], r["dataset"]) for r in rows} == {(m, d) for m in MODELS for d in DATASETS}
    assert len(rows) == 360


def sample(rows: list[dict], offset: int) -> list[dict]:
    """One setting per method, rotating with ``offset`` so the stores together cover many settings."""
    by_method: dict[str, list[dict]] = {}
    for r in rows:
        by_method.setdefault(r["method"], []).append(r)
    return [group[offset % len(group)] for group in by_method.values()]


def test_matching_is_exact() -> None:
    row = {"accuracy": 46.666666666666664, "avg_tokens": 15203.946666666667}
    assert matches(row, 46.666666666666664, 15203.946666666667)
    # one ulp off either number is a mismatch: no tolerance hides a token
    assert not matches(row, nextafter(row["accuracy"], 100), row["avg_tokens"])
    assert not matches(row, row["accuracy"], nextafter(row["avg_tokens"], 0))


@pytest.mark.parametrize("model,dataset", [(m, d) for m in MODELS for d in DATASETS])
def test_reproduces_reference(shared: Path, model: str, dataset: str) -> None:
    rows = [r for r in reference_rows(shared) if r["model"] == model and r["dataset"] == dataset]
    if model != FULL_MODEL:
        rows = sample(rows, 3 * MODELS.index(model) + DATASETS.index(dataset))
    wrong = [(r["method"], r["params"], r["accuracy"], acc, r["avg_tokens"], tokens)
             for r, acc, tokens, _ in reproduce(shared, rows) if not matches(r, acc, tokens)]
    assert not wrong, f"{len(wrong)} of {len(rows)} rows differ (method, params, want/got acc, want/got tokens): {wrong}"
