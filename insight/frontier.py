"""Accuracy–cost frontiers: scored settings, Pareto marks, stores averaged, CSV and JSON.

A :class:`Point` is one (strategy, store, parameter setting) with its scores.
:func:`frontier` marks, within each store and within the average over stores,
the settings no other setting beats on both axes — higher accuracy and fewer
tokens (total tokens for ``pareto``, sequential tokens for
``pareto_sequential``).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterable, Sequence, TextIO

import numpy as np

from ttsc.errors import TtscError
from ttsc.insight import stats
from ttsc.runtime.outcome import Outcome

AVERAGE = "average"  # the env name of the averaged-over-stores rows

COLUMNS = ("strategy", "env", "params", "accuracy", "acc_ci_low", "acc_ci_high", "avg_tokens",
           "avg_sequential_tokens", "pareto", "pareto_sequential")


@dataclass(frozen=True)
class Point:
    strategy: str
    env: str
    params: dict
    accuracy: float                       # percent
    avg_tokens: float
    avg_sequential_tokens: float
    acc_ci: tuple[float, float] | None = None
    # Each question's accuracy (%) averaged over seeds: lets the average over stores get its own interval.
    per_question: np.ndarray | None = None
    pareto: bool = False
    pareto_sequential: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return self.strategy, json.dumps(self.params, sort_keys=True)

    def row(self) -> dict:
        lo, hi = self.acc_ci if self.acc_ci is not None else (None, None)
        return {"strategy": self.strategy, "env": self.env, "params": dict(self.params), "accuracy": self.accuracy,
                "acc_ci_low": lo, "acc_ci_high": hi, "avg_tokens": self.avg_tokens,
                "avg_sequential_tokens": self.avg_sequential_tokens, "pareto": self.pareto,
                "pareto_sequential": self.pareto_sequential}


def point(strategy: str, env: str, params: dict, outcome: Outcome, *, resamples: int = stats.RESAMPLES,
          level: float = stats.LEVEL, seed: int = stats.SEED) -> Point:
    """Score one evaluated setting, with a bootstrap interval over questions for its accuracy."""
    ci = stats.accuracy_interval(outcome, resamples=resamples, level=level, seed=seed)
    return Point(strategy, env, dict(params), outcome.accuracy, outcome.avg_tokens, outcome.avg_sequential_tokens,
                 (ci.low, ci.high), stats.per_question(outcome.correct) * 100)


def pareto_mask(accuracy: Sequence[float], cost: Sequence[float]) -> list[bool]:
    """True for each point that no other point matches or beats on both axes with one strictly better.

    Among exact duplicates only the first (in input order) is marked, so the
    marks never depend on anything but the input.
    """
    order = sorted(range(len(accuracy)), key=lambda i: (cost[i], -accuracy[i], i))
    mask = [False] * len(accuracy)
    best = -np.inf
    for i in order:
        if accuracy[i] > best:  # cheaper-or-equal points seen so far are all less accurate
            mask[i] = True
            best = accuracy[i]
    return mask


def mark_pareto(points: Sequence[Point]) -> list[Point]:
    acc = [p.accuracy for p in points]
    on_total = pareto_mask(acc, [p.avg_tokens for p in points])
    on_seq = pareto_mask(acc, [p.avg_sequential_tokens for p in points])
    return [replace(p, pareto=t, pareto_sequential=s) for p, t, s in zip(points, on_total, on_seq)]


def average(points: Sequence[Point], *, resamples: int = stats.RESAMPLES, level: float = stats.LEVEL,
            seed: int = stats.SEED) -> list[Point]:
    """One point per (strategy, params) present in every store: the mean of the per-store scores.

    Its interval resamples each store's questions independently (a stratified
    bootstrap) and averages the per-store resampled accuracies; it is omitted
    when a point carries no per-question data.
    """
    envs = list(dict.fromkeys(p.env for p in points))
    groups: dict[tuple[str, str], list[Point]] = {}
    for p in points:
        groups.setdefault(p.key, []).append(p)
    out = []
    for group in groups.values():
        if sorted(p.env for p in group) != sorted(envs):
            continue  # not measured on every store: an average would mix different questions
        group.sort(key=lambda p: envs.index(p.env))
        ci = None
        if all(p.per_question is not None for p in group):
            rng = np.random.default_rng(seed)
            means = np.mean([p.per_question[stats.resample_indices(rng, len(p.per_question), resamples)].mean(axis=1)
                             for p in group], axis=0)
            ci = stats.percentile_interval(means, level)
        out.append(Point(group[0].strategy, AVERAGE, dict(group[0].params),
                         float(np.mean([p.accuracy for p in group])), float(np.mean([p.avg_tokens for p in group])),
                         float(np.mean([p.avg_sequential_tokens for p in group])), ci))
    return out


def frontier(points: Iterable[Point], *, resamples: int = stats.RESAMPLES, level: float = stats.LEVEL,
             seed: int = stats.SEED) -> list[Point]:
    """Per-store points with Pareto marks, then (with several stores) the averaged points with theirs."""
    points = list(points)
    seen: set[tuple[str, str, str]] = set()
    for p in points:
        if (p.env, *p.key) in seen:
            raise TtscError(f"{p.strategy} {p.params} appears twice for {p.env}")
        if p.env == AVERAGE:
            raise TtscError(f"a store cannot be named `{AVERAGE}`: that name is kept for the average over stores")
        seen.add((p.env, *p.key))
    envs = list(dict.fromkeys(p.env for p in points))
    out: list[Point] = []
    for env in envs:
        out += mark_pareto([p for p in points if p.env == env])
    if len(envs) > 1:
        out += mark_pareto(average(points, resamples=resamples, level=level, seed=seed))
    return out


def swept(points: Sequence[Point]) -> list[str]:
    """The parameters that take more than one value among ``points``, in declaration order."""
    names = list(dict.fromkeys(k for p in points for k in p.params))
    return [k for k in names if len({repr(p.params.get(k)) for p in points}) > 1]


def write_csv(points: Sequence[Point], path: str | Path) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        write_csv_to(points, f)


def write_csv_to(points: Sequence[Point], f: TextIO) -> None:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(COLUMNS)
    for p in points:
        r = p.row()
        w.writerow([_cell(r[c]) if c != "params" else json.dumps(r[c]) for c in COLUMNS])


def write_json(points: Sequence[Point], path: str | Path) -> None:
    Path(path).write_text(json.dumps([p.row() for p in points], indent=2) + "\n", encoding="utf-8")


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v) if isinstance(v, float) else str(v)
