"""`ttsc collect`: a collected store is exactly the trajectories the backend served, evaluates the same on every
engine, carries per-interval confidence signals, and survives `kill -9` with `--resume`."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner

from tests.live_support import _Quiet, _serve
from ttsc.cli.main import cli
from ttsc.errors import TtscError
from ttsc.runtime.live.collect import Item, Settings, collect, journal_path
from ttsc.runtime.live.env import LiveConfig
from ttsc.runtime.live.scripted import ScriptedBackend, Stream, store_of
from ttsc.runtime.store import load_store

DELTA, CAP, BRANCHES, SEED = 10, 95, 6, 3


def _streams(rng: random.Random, gold: str) -> list[Stream]:
    """Every shape: EOS inside an interval, on a boundary, at once, past the cap; capped without EOS."""
    out = []
    for _ in range(BRANCHES):
        eos = rng.random() < 0.8
        length = rng.choice([0, DELTA, 2 * DELTA, rng.randint(1, 120), rng.randint(1, 60)]) if eos \
            else rng.randint(CAP, 130)
        answers = [gold, str(rng.randint(0, 3)), ""]
        probes = tuple((p, rng.choice(answers)) for p in range(DELTA, 200, DELTA))
        conf = tuple(round(rng.uniform(0.5, 5.0), 3) for _ in range(length))
        out.append(Stream(length, probes, rng.choice(answers[:2]), eos=eos, confidences=conf))
    return out


def _case(n: int = 9, seed: int = 0):
    rng = random.Random(seed)
    return [(f"question {i}?", str(rng.randint(0, 3)), _streams(rng, str(rng.randint(0, 3)))) for i in range(n)]


def _settings(logprobs: int = 0) -> Settings:
    config = LiveConfig(interval=DELTA, max_branch_tokens=CAP, logprobs=logprobs)
    return Settings(model="scripted", backend="scripted", config=config, temperature=0.7, top_p=1.0, seed=SEED,
                    branches=BRANCHES, dataset="<scripted>", grader="exact")


def _collect(qs, out: Path, logprobs: int = 0, batch: int = 4) -> dict:
    backend = ScriptedBackend({(SEED, i): ss for i, (_, _, ss) in enumerate(qs)})
    items = [Item(i, t, g) for i, (t, g, _) in enumerate(qs)]
    collect(backend, items, _settings(logprobs), out, batch_questions=batch, progress=False)
    return json.loads(out.read_text())


def _expected_confidence(s: Stream, n_probes: int, total: int) -> list[float | None]:
    """Interval k: tokens kΔ..(k+1)Δ; then the final stretch, up to the branch's length."""
    bounds = [(k * DELTA, (k + 1) * DELTA) for k in range(n_probes)] + [(n_probes * DELTA, total)]
    return [round(sum(s.confidences[a:b]) / (b - a), 6) if b > a else None for a, b in bounds]


def test_scripted_collection_is_the_streams_store_entry_by_entry(tmp_path) -> None:
    qs = _case()
    data = _collect(qs, tmp_path / "s.json", logprobs=3)
    want = store_of(qs, DELTA, CAP)
    assert len(data["questions"]) == len(qs)
    shapes = set()
    for (text, gold, streams), q, wq in zip(qs, data["questions"], want.questions):
        assert (q["question"], q["gold_answer"], q["probe_freq"]) == (text, gold, DELTA)
        assert len(q["each_branch"]) == BRANCHES
        for s, got, wb in zip(streams, q["each_branch"], wq.branches):
            assert got == [list(wb.probes), wb.total_tokens, wb.final_answer]
            shapes.add((s.eos, s.length <= CAP, s.length % DELTA == 0))
        assert q["signals"]["confidence"] == [_expected_confidence(s, len(b[0]), b[1])
                                              for s, b in zip(streams, q["each_branch"])]
    assert len(shapes) >= 4  # EOS on and off a boundary, capped, capped without EOS
    meta = data["meta"]
    assert meta["format"] == "ttsc-collect/1" and meta["signals"] == ["confidence"] and meta["logprobs"] == 3
    assert (meta["interval"], meta["max_branch_tokens"], meta["branches"], meta["seed"]) == (DELTA, CAP, BRANCHES, SEED)
    assert {"model", "backend", "probe_suffix", "probe_tokens", "template", "extractor", "temperature", "top_p",
            "dataset", "grader", "ttsc_version", "date"} <= set(meta)


def test_without_logprobs_no_signals_and_batching_changes_nothing(tmp_path) -> None:
    qs = _case(5, seed=1)
    one = _collect(qs, tmp_path / "a.json", batch=1)
    many = _collect(qs, tmp_path / "b.json", batch=5)
    assert one["questions"] == many["questions"]
    assert all("signals" not in q for q in one["questions"]) and one["meta"]["signals"] == []


@pytest.mark.parametrize("engine", ["interpret", "batched", "compiled"])
def test_collected_store_evaluates_like_its_trajectories(tmp_path, engine) -> None:
    from ttsc.cli.loading import load_program, resolve_strategy
    from ttsc.compiler.engines import run
    from ttsc.runtime.params import bind_params

    qs = _case(6, seed=2)
    path = tmp_path / "s.json"
    _collect(qs, path, logprobs=2)
    args = ["eval", "parallel_probe", "--env", str(path), "--set", "num_chains=4", "--set", "warm_up=1",
            "--seeds", "5", "--engine", engine, "--format", "json", "--quiet"]
    r = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert r.exit_code == 0, r.output
    row = json.loads(r.stdout)[0]
    checked = load_program(resolve_strategy("parallel_probe"))
    params = bind_params(checked, {"num_chains": 4, "warm_up": 1})
    ref = run(checked, params, store_of(qs, DELTA, CAP), range(5), "interpret")
    assert row["accuracy"] == pytest.approx(100.0 * ref.correct.mean(), abs=0, rel=0)
    assert row["avg_tokens"] == ref.tokens.mean() and row["avg_sequential_tokens"] == ref.sequential.mean()


def test_refuses_to_overwrite_and_resumes_a_complete_store(tmp_path) -> None:
    qs = _case(2)
    path = tmp_path / "s.json"
    _collect(qs, path)
    with pytest.raises(TtscError, match="exists"):
        _collect(qs, path)
    journal_path(path).write_text('{"journal": "ttsc-collect-journal/1", "settings": {}}\n')
    with pytest.raises(TtscError, match="--resume"):
        _collect(qs, path)
    journal_path(path).unlink()


class _FailingBackend(ScriptedBackend):
    """Serves like the scripted backend the questions before ``fail_at``, then fails as an unreachable server."""

    def __init__(self, streams, fail_at: int):
        super().__init__(streams)
        self.fail_at = fail_at

    def generate(self, requests):
        if any(r.question >= self.fail_at for r in requests):
            raise TtscError("server unreachable")
        return super().generate(requests)


def test_a_collection_that_fails_before_any_question_leaves_no_journal(tmp_path) -> None:
    qs = _case(3)
    streams = {(SEED, i): ss for i, (_, _, ss) in enumerate(qs)}
    items = [Item(i, t, g) for i, (t, g, _) in enumerate(qs)]
    out = tmp_path / "s.json"
    with pytest.raises(TtscError, match="unreachable"):
        collect(_FailingBackend(streams, 0), items, _settings(), out, batch_questions=1, progress=False)
    assert list(tmp_path.iterdir()) == []  # neither store nor a header-only journal
    # so a retry with other options is not refused as "branches differ"
    other = replace(_settings(), branches=BRANCHES - 1)
    collect(ScriptedBackend(streams), items, other, out, batch_questions=1, progress=False)
    assert len(load_store(out).questions[0].branches) == BRANCHES - 1

    # a failure after a question was journaled keeps the journal: --resume continues from it
    out2 = tmp_path / "t.json"
    with pytest.raises(TtscError, match="unreachable"):
        collect(_FailingBackend(streams, 1), items, _settings(), out2, batch_questions=1, progress=False)
    lines = journal_path(out2).read_text().splitlines()
    assert len(lines) >= 2 and json.loads(lines[1])["index"] == 0
    collect(ScriptedBackend(streams), items, _settings(), out2, resume=True, batch_questions=1, progress=False)
    assert json.loads(out2.read_text())["questions"] == _collect(qs, tmp_path / "u.json", batch=1)["questions"]


def test_resume_of_a_complete_store_checks_its_options_and_questions(tmp_path) -> None:
    qs = _case(2)
    path = tmp_path / "s.json"
    _collect(qs, path)
    items = [Item(i, t, g) for i, (t, g, _) in enumerate(qs)]
    backend = ScriptedBackend({})  # nothing is collected again
    done = collect(backend, items, _settings(), path, resume=True, progress=False)
    assert done["collected"] == 0 and done["complete"]
    with pytest.raises(TtscError, match=r"logprobs.*differ"):
        collect(backend, items, _settings(logprobs=2), path, resume=True, progress=False)
    with pytest.raises(TtscError, match="questions are not the dataset's"):
        collect(backend, items[:1], _settings(), path, resume=True, progress=False)
    path.write_text("[]")
    with pytest.raises(TtscError, match="not written by `ttsc collect`"):
        collect(backend, items, _settings(), path, resume=True, progress=False)


# -- kill -9 and --resume through the CLI, on an OpenAI-compatible fake ------------------------

class _Seeded(_Quiet):
    """A deterministic model: a request's seed decides whether it ends (and its answer); probes answer by
    prompt length. It returns top log-probabilities when asked, and answers slowly so a run can be killed."""

    delay = 0.05

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prompt, n, seed = body["prompt"], body["max_tokens"], body["seed"]
        time.sleep(self.delay)
        if prompt.endswith("\\boxed{"):
            words, finish = [f"{len(prompt) % 5}}}"], "stop"
        elif seed % 3 == 0:
            k = seed % n
            words, finish = [" w~"] * k + [f" \\boxed{{{seed % 4}}}"], "stop"
        else:
            words, finish = [" w~"] * n, "length"
        choice = {"text": "".join(words), "finish_reason": finish, "index": 0}
        if body.get("logprobs"):
            choice["logprobs"] = {"tokens": words, "top_logprobs": [
                {w: -0.1 * (1 + (seed + i) % 4), "x": -2.0, "y": -3.0, "z": -4.5} for i, w in enumerate(words)]}
        out = {"choices": [choice], "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": len(words)}}
        self._send(200, json.dumps(out).encode())


@pytest.fixture(scope="module")
def seeded():
    srv, url = _serve(_Seeded)
    yield url
    srv.shutdown()


def _dataset(tmp_path: Path, n: int = 8) -> Path:
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"question": f"What is {i} + {i}?", "answer": str(2 * i)}) + "\n"
                            for i in range(n)))
    return path


def _args(url: str, dataset: Path, out: Path) -> list[str]:
    return ["collect", "--backend", "openai", "--model", "fake", "--base-url", url, "--dataset", str(dataset),
            "--branches", "4", "--interval", "4", "--max-branch-tokens", "18", "--logprobs", "3",
            "--batch-questions", "1", "--no-progress", "--out", str(out)]


def test_kill_9_then_resume_gives_the_uninterrupted_store(seeded, tmp_path) -> None:
    data = _dataset(tmp_path)
    whole = tmp_path / "whole.json"
    r = CliRunner().invoke(cli, _args(seeded, data, whole), catch_exceptions=False)
    assert r.exit_code == 0, r.output
    want = json.loads(whole.read_text())
    assert not journal_path(whole).exists()

    out = tmp_path / "killed.json"
    journal = journal_path(out)
    proc = subprocess.Popen([sys.executable, "-m", "ttsc.cli.main", *_args(seeded, data, out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not (journal.exists() and journal.read_text().count("\n") >= 4):  # header + 3 questions
        assert proc.poll() is None and time.monotonic() < deadline, "collection ended before it could be killed"
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # a killed run leaves no store, only its journal
    lines = journal.read_text().splitlines()
    assert 4 <= len(lines) <= 8
    with journal.open("a") as f:
        f.write('{"index": 7, "question": {"quest')  # a torn last line, as a kill mid-write leaves
    r = CliRunner().invoke(cli, _args(seeded, data, out), catch_exceptions=False)
    assert r.exit_code == 2 and "--resume" in r.output
    r = CliRunner().invoke(cli, _args(seeded, data, out) + ["--resume"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    got = json.loads(out.read_text())
    assert got["questions"] == want["questions"]
    assert {k: v for k, v in got["meta"].items() if k != "date"} == {k: v for k, v in want["meta"].items()
                                                                     if k != "date"}
    assert not journal.exists()
    store = load_store(out)
    assert [len(q.branches) for q in store.questions] == [4] * 8
    for q in got["questions"]:
        for b, c in zip(q["each_branch"], q["signals"]["confidence"]):
            assert len(c) == len(b[0]) + 1 and b[1] <= 18
    r = CliRunner().invoke(cli, _args(seeded, data, out) + ["--resume"], catch_exceptions=False)
    assert r.exit_code == 0 and "already complete" in r.output


def test_resume_refuses_other_settings_and_datasets(seeded, tmp_path) -> None:
    data = _dataset(tmp_path, 2)
    out = tmp_path / "s.json"
    journal_path(out).write_text(json.dumps({"journal": "ttsc-collect-journal/1", "settings": {"interval": 99}})
                                 + "\n")
    r = CliRunner().invoke(cli, _args(seeded, data, out) + ["--resume"], catch_exceptions=False)
    assert r.exit_code == 2 and "interval" in r.output and "differ" in r.output


def test_bad_input_is_a_clear_error(seeded, tmp_path) -> None:
    data = tmp_path / "d.jsonl"
    data.write_text('{"question": "no gold"}\n')
    r = CliRunner().invoke(cli, _args(seeded, data, tmp_path / "s.json"), catch_exceptions=False)
    assert r.exit_code == 2 and "no \"answer\"" in r.output
    r = CliRunner().invoke(cli, _args(seeded, tmp_path / "missing.jsonl", tmp_path / "s.json"))
    assert r.exit_code == 2 and "cannot read dataset" in r.output
