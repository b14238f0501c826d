"""`ttsc validate-store`: a strategy run live on a store's questions against its replay estimate.

Served by the scripted backend whose trajectories ARE the store, live and replay agree episode by episode,
so every paired difference is exactly 0."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT
from ttsc.cli import run_cmd
from ttsc.cli.main import cli
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.insight.validate import live_settings, sample_questions, validate
from ttsc.runtime.live.env import LiveConfig
from ttsc.runtime.live.grade import grader
from ttsc.runtime.live.scripted import Stream, backend_for, store_of, streams_of_store
from ttsc.runtime.live.testing import live_expressible
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store

DELTA, CAP = 10, 95
FIELDS = ("answers", "correct", "tokens", "sequential", "rounds", "opened", "pruned", "stop_line")
META = {"format": "ttsc-collect/1", "model": "scripted-model", "backend": "scripted", "interval": DELTA,
        "max_branch_tokens": CAP, "probe_suffix": "\nThe answer is \\boxed{", "probe_tokens": 2,
        "template": "Q: {question}\nA:", "extractor": "boxed", "temperature": 0.7, "top_p": 1.0, "seed": 0,
        "branches": 12, "logprobs": 0, "signals": [], "dataset": "scripted.jsonl", "grader": "exact",
        "ttsc_version": "0.1.0", "date": "2026-11-30T17:00:00Z"}


def _write_store(path, meta: dict | None, n_questions: int = 10, seed: int = 3):
    """A store of generated trajectories (EOS inside an interval, on a boundary, at once; capped), as a file."""
    rng = random.Random(seed)
    qs = []
    for i in range(n_questions):
        gold = str(rng.randint(0, 3))
        streams = []
        for _ in range(12):
            length = rng.choice([0, DELTA, 2 * DELTA, rng.randint(1, 120), rng.randint(1, 60)])
            answers = [gold, str(rng.randint(0, 3))]
            probes = tuple((p, rng.choice(answers)) for p in range(DELTA, 200, DELTA))
            streams.append(Stream(length, probes, rng.choice(answers)))
        qs.append((f"q{i}", gold, streams))
    store = store_of(qs, DELTA, CAP)
    questions = [{"question": q.text, "gold_answer": q.gold, "probe_freq": q.probe_freq,
                  "each_branch": [[list(b.probes), b.total_tokens, b.final_answer] for b in q.branches]}
                 for q in store.questions]
    path.write_text(json.dumps(questions if meta is None else {"meta": meta, "questions": questions}))
    return load_store(path)


def _program(name: str):
    src = read_source(ROOT / "strategies" / f"{name}.tts")
    return check(parse_source(src), src)


@pytest.mark.parametrize("engine", ["interpret", "batched"])
@pytest.mark.parametrize("name,sets", [("parallel_probe", {"num_chains": 4, "warm_up": 0, "prune_patience": 2}),
                                       ("sc", {"n": 5}), ("cmc", {"beta": 0.5})])
def test_live_on_the_stores_own_trajectories_agrees_exactly(tmp_path, name, sets, engine) -> None:
    store = _write_store(tmp_path / "s.json", META)
    assert live_expressible(store)
    seeds = (0, 1)
    checked = _program(name)
    s = live_settings(store, {})
    assert (s["interval"], s["max_branch_tokens"], s["grader"]) == (DELTA, CAP, "exact")
    backend = backend_for(streams_of_store(store), seeds)
    indices = sample_questions(len(store.questions), 8, seed=1)
    assert len(indices) == 8 and indices == sorted(set(indices))
    v = validate(checked, bind_params(checked, sets), store, indices, seeds, backend,
                 LiveConfig(interval=s["interval"], max_branch_tokens=s["max_branch_tokens"], max_branches=64),
                 grader("exact"), engine, capacity=backend.capacity)
    for f in FIELDS:
        assert np.array_equal(getattr(v.live, f), getattr(v.replay, f)), f
    assert 0 < v.replay.correct.sum() < v.replay.correct.size
    for d in (v.comparison.accuracy, v.comparison.tokens, v.comparison.sequential):
        assert (d.estimate, d.low, d.high) == (0.0, 0.0, 0.0)
    assert v.comparison.ties == 8 and sum(v.probe_tokens) > 0


def _scripted_cli(monkeypatch, store, seeds):
    backend = backend_for(streams_of_store(store), seeds)
    monkeypatch.setattr(run_cmd, "_backend", lambda *a: backend)
    return backend


def test_cli_reads_the_stores_meta_and_reports_a_zero_difference(tmp_path, monkeypatch) -> None:
    path = tmp_path / "s.json"
    store = _write_store(path, META)
    backend = _scripted_cli(monkeypatch, store, (0, 1, 2))
    r = CliRunner().invoke(cli, ["validate-store", str(path), "--strategy", "parallel_probe", "--set", "num_chains=4",
                                 "--backend", "openai", "--model", "m", "--base-url", "http://x", "--questions", "7",
                                 "--seeds", "3", "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["settings"] == {k: META[k] for k in out["settings"]} and out["store_model"] == "scripted-model"
    assert [q["index"] for q in out["per_question"]] == sample_questions(10, 7, 0) and out["seeds"] == [0, 1, 2]
    assert out["live"]["accuracy"] == out["replay"]["accuracy"] and out["live"]["avg_tokens"] == out["replay"][
        "avg_tokens"]
    assert out["difference"]["accuracy"]["low"] == out["difference"]["tokens"]["high"] == 0.0
    for q in out["per_question"]:
        assert q["live"]["answers"] == q["replay"]["answers"] and q["live"]["tokens"] == q["replay"]["tokens"]
    # the live run used the store's settings: its probe suffix, and at most its branch count per question
    probes = [rq for b in backend.batches for rq in b if rq.probe]
    assert probes and all(rq.suffix == META["probe_suffix"] and rq.max_tokens == 2 for rq in probes)
    assert all(rq.prompt.startswith("Q: q") for b in backend.batches for rq in b)


def test_cli_table(tmp_path, monkeypatch) -> None:
    path = tmp_path / "s.json"
    _scripted_cli(monkeypatch, _write_store(path, META), (0,))
    r = CliRunner().invoke(cli, ["validate-store", str(path), "--strategy", "sc", "--backend", "openai",
                                 "--model", "m", "--questions", "4"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    for text in ("collected from scripted-model", "4 of 10 questions", "accuracy %", "live − replay",
                 "+0.00 [+0.00, +0.00]", "probe tokens"):
        assert text in r.output, text


def test_a_store_without_collect_metadata_needs_the_settings(tmp_path, monkeypatch) -> None:
    path = tmp_path / "plain.json"
    store = _write_store(path, None)
    args = ["validate-store", str(path), "--strategy", "sc", "--backend", "openai", "--model", "m"]
    r = CliRunner().invoke(cli, args)
    assert r.exit_code == 2 and "no collect metadata" in r.output
    for flag in ("--max-branch-tokens", "--probe-suffix", "--probe-tokens", "--template", "--extractor", "--grader",
                 "--temperature", "--top-p"):
        assert flag in r.output, flag
    assert "--interval" not in r.output  # the store's own Δ
    _scripted_cli(monkeypatch, store, (0,))
    r = CliRunner().invoke(cli, [*args, "--max-branch-tokens", str(CAP), "--grader", "exact", "--defaults",
                                 "--format", "json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["settings"]["max_branch_tokens"] == CAP and out["settings"]["probe_tokens"] == 16
    assert out["difference"]["accuracy"]["estimate"] == 0.0


def test_bad_meta_is_named(tmp_path) -> None:
    path = tmp_path / "bad.json"
    _write_store(path, {**META, "probe_tokens": "two"})
    r = CliRunner().invoke(cli, ["validate-store", str(path), "--strategy", "sc", "--backend", "openai",
                                 "--model", "m"])
    assert r.exit_code == 2 and "'probe_tokens'" in r.output and "'two'" in r.output
