"""Frontiers: Pareto marks, the average over stores, CSV/JSON output."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from ttsc.errors import TtscError
from ttsc.insight.frontier import AVERAGE, COLUMNS, Point, frontier, pareto_mask, point, write_csv, write_json
from ttsc.runtime.outcome import Outcome


def test_pareto_mask_keeps_the_undominated_points() -> None:
    #            0     1     2     3     4     5
    accuracy = [50.0, 60.0, 55.0, 70.0, 65.0, 70.0]
    tokens = [100.0, 200.0, 300.0, 400.0, 500.0, 450.0]
    # 2 is beaten by 1 (more accurate and cheaper); 4 by 3; 5 equals 3 in accuracy but costs more.
    assert pareto_mask(accuracy, tokens) == [True, True, False, True, False, False]


def test_pareto_ties_are_deterministic() -> None:
    # Exact duplicates: only the first in input order is marked; same cost, lower accuracy is dominated.
    assert pareto_mask([60.0, 60.0, 50.0], [100.0, 100.0, 100.0]) == [True, False, False]
    assert pareto_mask([50.0, 60.0, 60.0], [100.0, 100.0, 100.0]) == [False, True, False]
    # Same accuracy, cheaper later: the cheaper one wins whatever the order.
    assert pareto_mask([60.0, 60.0], [200.0, 100.0]) == [False, True]
    assert pareto_mask([], []) == []


def pt(strategy, env, params, acc, tokens, seq=None, per_question=None) -> Point:
    return Point(strategy, env, params, acc, tokens, tokens / 4 if seq is None else seq, None, per_question)


def test_frontier_marks_per_store_and_averages_over_stores() -> None:
    points = [
        pt("sc", "m/a", {"n": 8}, 40.0, 1000.0, seq=100.0),
        pt("sc", "m/a", {"n": 16}, 50.0, 2000.0, seq=150.0),
        pt("cmc", "m/a", {"beta": 0.5}, 48.0, 900.0, seq=300.0),
        pt("sc", "m/b", {"n": 8}, 20.0, 3000.0, seq=300.0),
        pt("sc", "m/b", {"n": 16}, 30.0, 6000.0, seq=300.0),
        pt("cmc", "m/b", {"beta": 0.5}, 35.0, 2500.0, seq=900.0),
        pt("cmc", "m/a", {"beta": 1.0}, 55.0, 5000.0),  # only on one store: no average
    ]
    rows = frontier(points)
    by = {(r.env, r.strategy, json.dumps(r.params)): r for r in rows}
    assert [r.env for r in rows] == ["m/a"] * 4 + ["m/b"] * 3 + [AVERAGE] * 3
    a = lambda s, p, env="m/a": by[(env, s, json.dumps(p))]  # noqa: E731
    assert not a("sc", {"n": 8}).pareto  # cmc β=0.5 is cheaper and more accurate
    assert a("sc", {"n": 8}).pareto_sequential  # ... but not on sequential tokens
    assert a("sc", {"n": 16}).pareto and a("cmc", {"beta": 0.5}).pareto and a("cmc", {"beta": 1.0}).pareto
    assert a("sc", {"n": 16}).pareto_sequential and not a("cmc", {"beta": 0.5}).pareto_sequential
    avg = a("sc", {"n": 16}, AVERAGE)
    assert (avg.accuracy, avg.avg_tokens, avg.avg_sequential_tokens) == (40.0, 4000.0, 225.0)
    assert a("cmc", {"beta": 0.5}, AVERAGE).accuracy == pytest.approx(41.5)
    assert (AVERAGE, "cmc", json.dumps({"beta": 1.0})) not in by
    assert a("cmc", {"beta": 0.5}, AVERAGE).pareto and not a("sc", {"n": 8}, AVERAGE).pareto


def test_one_store_has_no_average() -> None:
    rows = frontier([pt("sc", "m/a", {"n": 8}, 40.0, 1000.0)])
    assert [r.env for r in rows] == ["m/a"] and rows[0].pareto and rows[0].pareto_sequential


def test_duplicates_and_reserved_names_are_refused() -> None:
    with pytest.raises(TtscError, match="twice"):
        frontier([pt("sc", "m/a", {"n": 8}, 40.0, 1.0), pt("sc", "m/a", {"n": 8}, 41.0, 1.0)])
    with pytest.raises(TtscError, match="average"):
        frontier([pt("sc", AVERAGE, {"n": 8}, 40.0, 1.0)])


def outcome(correct: np.ndarray, tokens: int) -> Outcome:
    shape = correct.shape
    z = np.zeros(shape, dtype=np.int64)
    return Outcome(tuple(range(shape[0])), np.full(shape, None, dtype=object), correct.astype(bool),
                   np.full(shape, tokens, dtype=np.int64), np.full(shape, tokens // 2, dtype=np.int64), z, z, z, z, 0.0)


def test_points_from_outcomes_carry_intervals_and_the_average_gets_a_stratified_one() -> None:
    rng = np.random.default_rng(1)
    a = point("sc", "m/a", {"n": 8}, outcome(rng.random((4, 30)) < 0.6, 1000))
    b = point("sc", "m/b", {"n": 8}, outcome(rng.random((4, 30)) < 0.3, 3000))
    assert a.acc_ci[0] < a.accuracy < a.acc_ci[1]
    avg = frontier([a, b])[-1]
    assert avg.env == AVERAGE and avg.accuracy == pytest.approx((a.accuracy + b.accuracy) / 2)
    lo, hi = avg.acc_ci
    assert lo < avg.accuracy < hi
    # Averaging two independent stores shrinks the spread relative to the stores' own intervals.
    assert hi - lo < max(a.acc_ci[1] - a.acc_ci[0], b.acc_ci[1] - b.acc_ci[0])


def test_csv_and_json_hold_every_column(tmp_path: Path) -> None:
    rows = frontier([pt("cmc", "m/a", {"beta": 0.3}, 40.0, 1000.5), pt("asc", "m/a", {"max_samples": 4}, 30.0, 2e3)])
    rows[0] = Point(**{**rows[0].__dict__, "acc_ci": (35.0, 45.0)})
    write_csv(rows, tmp_path / "f.csv")
    write_json(rows, tmp_path / "f.json")
    with open(tmp_path / "f.csv", newline="") as f:
        got = list(csv.DictReader(f))
    assert tuple(got[0]) == COLUMNS
    assert got[0]["params"] == '{"beta": 0.3}' and float(got[0]["avg_tokens"]) == 1000.5
    assert (got[0]["acc_ci_low"], got[0]["acc_ci_high"]) == ("35.0", "45.0")
    assert got[1]["acc_ci_low"] == "" and got[1]["pareto"] == "false" and got[0]["pareto"] == "true"
    js = json.loads((tmp_path / "f.json").read_text())
    assert [tuple(r) for r in js] == [COLUMNS] * 2
    assert js[0]["params"] == {"beta": 0.3} and js[0]["acc_ci_low"] == 35.0 and js[1]["acc_ci_low"] is None


# ---- figures


def test_plot_writes_png_and_svg_with_panels_labels_and_hidden_points(tmp_path: Path) -> None:
    import struct

    from ttsc.insight.plot import plot_frontier

    points = []
    for env, shift in (("m/a", 0.0), ("m/b", 5.0)):
        points += [pt("cmc", env, {"beta": b}, 40 + 10 * b + shift, 1e5 * (1 + 4 * b)) for b in (0.0, 0.5, 1.0)]
        points += [pt("esc", env, {"max_samples": n}, 30 + n / 4 + shift, 2e4 * n if n > 4 else 0.0) for n in (4, 16)]
    rows = frontier(points)
    png, svg = plot_frontier(rows, tmp_path / "fig", title="demo title")
    assert (png.name, svg.name) == ("fig.png", "fig.svg")
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert width >= 2 * 4.4 * 150 and height >= 2 * 3.9 * 150  # 3 panels in a 2×2 grid, at least 150 dpi
    text = svg.read_text()
    for label in ("demo title", "m/a", "m/b", "average over stores", "cmc (β 0–1)", "esc (max_samples 4–16)",
                  "Pareto-optimal", "95% CI", "not shown (0 tokens): esc max_samples=4", "100k"):
        assert label in text, label
    _, seq_svg = plot_frontier(rows, tmp_path / "seq", x="sequential", ci=False)
    seq = seq_svg.read_text()
    assert "sequential tokens" in seq and "95% CI" not in seq


def test_plot_refuses_bad_requests(tmp_path: Path) -> None:
    from ttsc.insight.plot import plot_frontier

    with pytest.raises(TtscError, match="nothing to plot"):
        plot_frontier([], tmp_path / "x")
    with pytest.raises(TtscError, match="unknown x axis"):
        plot_frontier([pt("sc", "m/a", {"n": 8}, 40.0, 1000.0)], tmp_path / "x", x="latency")
