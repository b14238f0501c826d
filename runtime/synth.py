"""Seeded synthetic replay stores, so ttsc runs without any model's data.

The numbers are invented, not from a model, and ``meta`` says so. They imitate
what makes the real stores interesting: questions of varied difficulty (some
where a wrong answer is as common as the right one), branches of varied length
whose early probes wander before settling on the final answer, a few branches
that flip between two answers, and total lengths both a little below Δ·probes
and far beyond Δ·(probes+1). Only ``random.Random`` draws are used (``random``,
``randrange``), whose streams Python keeps stable, so a seed gives the same
store everywhere.

``ttsc synth`` writes one. (The bundled default store is no longer synthetic:
it is collected from a real model, ``runtime/live/bundled.py``.)
"""

from __future__ import annotations

import json
import random
from typing import Any

from ttsc.errors import TtscError

NOTE = "synthetic data, not from a model"


def generate_store(seed: int = 0, questions: int = 20, branches: int = 64, probe_freq: int = 500) -> dict[str, Any]:
    """A store in object form: ``{"meta": {...}, "questions": [...]}``."""
    if min(questions, branches, probe_freq) < 1:
        raise TtscError(f"synthetic store needs questions, branches and probe_freq >= 1, "
                        f"got {questions}, {branches}, {probe_freq}")
    rng = random.Random(seed)
    return {
        "meta": {
            "synthetic": True,
            "generator": "ttsc synth",
            "seed": seed,
            "note": NOTE,
            "params": {"questions": questions, "branches": branches, "probe_freq": probe_freq},
        },
        "questions": [_question(rng, i, branches, probe_freq) for i in range(questions)],
    }


def dumps_store(data: dict[str, Any]) -> str:
    """Compact JSON, one question per line so diffs of a regenerated store stay readable."""
    questions = ",\n".join(json.dumps(q, separators=(",", ":")) for q in data["questions"])
    return f'{{"meta":{json.dumps(data["meta"], separators=(",", ":"))},\n"questions":[\n{questions}\n]}}\n'


def _question(rng: random.Random, index: int, n_branches: int, delta: int) -> dict[str, Any]:
    difficulty = rng.random()
    gold = str(rng.randrange(1000))
    distractors = _distinct_answers(rng, 1 + rng.randrange(4), exclude=gold)
    p_correct = 0.92 - 0.85 * difficulty
    # Each distractor takes a shrinking share of the wrong mass; in a "split"
    # question the first one is exactly as likely as gold, so votes tie often.
    split = rng.random() < 0.15
    weights = [0.55 ** k for k in range(len(distractors))]
    scale = (1 - p_correct) / sum(weights)
    wrong = [w * scale for w in weights]
    if split:
        p_correct = wrong[0] = max(p_correct, wrong[0])
    answers = [gold, *distractors]
    probs = [p_correct, *wrong]
    base_len = 5 + 20 * difficulty  # harder questions think longer
    branches = [_branch(rng, answers, probs, base_len, delta) for _ in range(n_branches)]
    return {
        "question": f"synthetic question {index} (difficulty {difficulty:.2f})",
        "gold_answer": gold,
        "probe_freq": delta,
        "each_branch": branches,
    }


def _branch(rng: random.Random, answers: list[str], probs: list[float], base_len: float, delta: int) -> list[Any]:
    final = "ERR" if rng.random() < 0.03 else _pick(rng, answers, probs)
    stretch = 1.0 if final == answers[0] else 1.4  # wrong branches ramble
    n = max(3, min(40, round(base_len * stretch * (0.5 + rng.random()))))
    settle = round(n * (0.2 + 0.7 * rng.random()))  # probes before this one wander
    if rng.random() < 0.05:
        # An undecided branch: flips between two answers until its last probe.
        other = _pick(rng, answers, probs)
        probes = [final if k % 2 else other for k in range(n - 1)] + [final]
    else:
        probes = [final if k >= settle or rng.random() < k / n else _noise(rng, answers) for k in range(n)]
        if rng.random() < 0.1:  # a late wobble
            probes[n - 1 - rng.randrange(min(3, n))] = _noise(rng, answers)
    roll = rng.random()
    if roll < 0.15:  # stopped a little before the last probe point
        total = delta * n - 1 - rng.randrange(max(1, delta // 2))
    elif roll < 0.55:  # kept writing long after the last probe
        total = delta * (n + 1) + rng.randrange(delta, 20 * delta)
    else:
        total = delta * n + rng.randrange(delta)
    return [probes, total, final]


def _pick(rng: random.Random, items: list[str], probs: list[float]) -> str:
    x = rng.random() * sum(probs)
    for item, p in zip(items, probs):
        x -= p
        if x < 0:
            return item
    return items[-1]


def _noise(rng: random.Random, answers: list[str]) -> str:
    # Early guesses: usually one of the question's answers, sometimes anything.
    return answers[rng.randrange(len(answers))] if rng.random() < 0.7 else str(rng.randrange(1000))


def _distinct_answers(rng: random.Random, k: int, exclude: str) -> list[str]:
    out: list[str] = []
    while len(out) < k:
        a = str(rng.randrange(1000))
        if a != exclude and a not in out:
            out.append(a)
    return out
