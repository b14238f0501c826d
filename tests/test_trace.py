"""Execution traces: a hand-computed episode, JSONL, the pictures, agreement with the engines, `eval --traces`."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.dsl.diagnostics import Source
from ttsc.errors import TtscError
from ttsc.insight import render_trace
from ttsc.insight.trace import EPISODE_FIELDS, Trace, episode_file_name, read_jsonl, record, write_jsonl
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import Branch, Question, Store, default_store_path, load_store

from conftest import ROOT

# A Parallel-Probe in miniature: a leader by vote, a per-branch disagreement
# counter, pruning, an episode var and a window.
PROBE = """\
strategy probe

param n: int = 3 in 1..
param patience: int = 2 in 1..

branch off: int = 0
var stable: int = 0
var hist: window(3)

signal leader = majority(live)

open n
repeat 6 as r {
    advance active
    update active set off = if last == leader then 0 else off + 1
    prune active where off >= patience
    stable = if count(active) > 0 then stable + 1 else stable
    push stable to hist
    if count(active) == 0 {
        stop leader
    }
}
stop leader
"""

DELTA = 10
STORE_BRANCHES = (
    Branch(("4", "4"), 30, "4"),
    Branch(("7", "7", "7", "7"), 45, "7"),
    Branch(("4", "4", "4"), 33, "4"),
    Branch((), 6, "9"),  # no probes: finished the moment it is opened
)
QUESTION = Question("hand-made", "7", DELTA, STORE_BRANCHES)
SEED = 2


def _program(text: str = PROBE, name: str = "probe.tts"):
    src = Source(name, text)
    return check(parse_source(src), src)


@pytest.fixture(scope="module")
def trace() -> Trace:
    checked = _program()
    return record(checked, bind_params(checked, {}), QUESTION, SEED, env="hand/made")


def test_hand_computed_episode(trace: Trace) -> None:
    order = list(range(4))
    random.Random(SEED).shuffle(order)
    assert order == [1, 2, 3, 0]  # b0 = the 7s, b1 = the 4s, b2 = the probe-less 9; the 4th is never opened
    s = trace.steps
    assert [x.action for x in s] == ["open", "advance", "advance", "prune", "advance", "advance"]
    assert [x.round for x in s] == [1, 2, 3, 3, 4, 5]
    assert [x.line for x in s] == [12, 14, 14, 16, 14, 14]
    assert s[0].statement == "open n" and s[3].statement == "prune active where off >= patience"
    # open 3: two first intervals (Δ each) and one whole probe-less branch
    assert (s[0].branches, s[0].answers, s[0].tokens, s[0].finished) == \
        ([0, 1, 2], ["7", "4", "9"], [10, 10, 6], [False, False, True])
    # a three-way tie: majority goes to the first occurrence, "7"
    assert all(x.signals == {"leader": "7"} for x in s)
    assert (s[1].branches, s[1].answers, s[1].tokens) == ([0, 1], ["7", "4"], [10, 10])
    assert (s[2].branches, s[2].answers, s[2].tokens) == ([0, 1], ["7", "4"], [10, 10])
    # b1 disagreed with the leader twice in a row: pruned, for free
    assert (s[3].branches, s[3].answers, s[3].tokens, s[3].fields) == ([1], ["4"], [0], {"off": [2]})
    assert (s[4].branches, s[4].tokens, s[4].finished) == ([0], [10], [False])
    # b0's fifth reveal is its final answer: 45 - 4·Δ = 5 tokens
    assert (s[5].branches, s[5].answers, s[5].tokens, s[5].finished) == ([0], ["7"], [5], [True])
    assert [x.tokens_so_far for x in s] == [26, 46, 66, 66, 76, 81]
    # vars are read right after each action, before the statements that follow it
    assert [x.vars["stable"] for x in s] == [0, 0, 1, 1, 2, 3]
    assert [x.vars["hist"] for x in s] == [[], [], [1.0], [1.0], [1.0, 2.0], [1.0, 2.0, 3.0]]
    assert s[2].fields == {"off": [0, 1]}

    m = trace.summary
    assert (m.answer, m.gold, m.correct) == ("7", "7", True)
    assert (m.tokens, m.sequential_tokens, m.rounds, m.opened, m.pruned) == (81, 10 + 10 + 10 + 10 + 5, 5, 3, 1)
    assert (m.stop_reason, m.stop_line, m.stop_statement) == ("stop", 20, "stop leader")
    assert m.vars == {"stable": 3, "hist": [2.0, 3.0, 3.0]}
    assert (m.params, m.seed, m.env, m.probe_freq) == ({"n": 3, "patience": 2}, SEED, "hand/made", DELTA)


def test_jsonl_round_trip(trace: Trace, tmp_path) -> None:
    path = tmp_path / "t.jsonl"
    write_jsonl(trace, path)
    lines = path.read_text().splitlines()
    assert len(lines) == len(trace.steps) + 1
    assert [json.loads(x)["type"] for x in lines] == ["event"] * len(trace.steps) + ["summary"]
    assert read_jsonl(path) == trace


def test_jsonl_rejects_malformed(tmp_path) -> None:
    from ttsc.errors import TtscError

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"type": "event", "index": 0}\n')
    with pytest.raises(TtscError, match="record 1"):
        read_jsonl(bad)
    bad.write_text("not json\n")
    with pytest.raises(TtscError, match="not valid JSON"):
        read_jsonl(bad)


def test_width_by_depth_picture(trace: Trace) -> None:
    rows = render_trace.picture(trace).splitlines()
    assert rows[0] == "width × depth: 3 branches × 5 rounds"
    assert "b0    o---*  7" in rows
    assert "b1    o-x    pruned at 4" in rows
    assert "b2    *      9" in rows
    assert rows[-2].startswith("answer 7 (correct; gold 7) · stopped by line 20: `stop leader` · 81 tokens")


def test_idle_and_burst_glyphs() -> None:
    text = """strategy s
open 2
advance branches by 2
open 1
advance branches
stop majority(branches)
"""
    q = Question("q", "a", DELTA, tuple(Branch(("a",) * 5, 60, "a") for _ in range(3)))
    checked = _program(text, "s.tts")
    t = record(checked, {}, q, 0)
    rows = render_trace.picture(t).splitlines()
    assert "b0    o=.-  left at a" in rows and "b1    o=.-  left at a" in rows and "b2      o-  left at a" in rows
    # long episodes wrap into bands of rounds; each band has its own ruler, the notes end the last one
    banded = render_trace.picture(t, band=3).splitlines()
    assert [r for r in banded if r.startswith("round")] == ["round 1", "round 4"]
    assert "b0    o=." in banded and "b0    -  left at a" in banded


def test_timeline_lists_every_action(trace: Trace) -> None:
    text = render_trace.render_text(trace, width=140)
    assert text.startswith("probe [n=3 patience=2] on hand/made · question 0 · seed 2 · Δ=10")
    body = [line.split() for line in text.splitlines()]
    assert ["0", "1", "12", "open", "b0-b2", "b0:7", "b1:4", "b2:9*", "26", "26", "leader=7", "|", "stable=0",
            "hist=[]"] in body
    assert ["3", "3", "16", "prune", "b1", "b1:4", "0", "66", "off=[2]", "|", "leader=7", "|", "stable=1",
            "hist=[1]"] in body
    assert "at the end: leader=7 | stable=3 hist=[2, 3, 3]" in text


def test_steps_that_touch_nothing_fold_into_one_row() -> None:
    """An empty set advanced round after round is one row (its index range and count), not one per round."""
    text = "strategy s\nopen 2\nrepeat 6 {\n    advance active\n}\nstop majority(completed)\n"
    q = Question("q", "a", DELTA, (Branch(("a",), 12, "a"), Branch(("a",), 15, "a")))
    t = record(_program(text, "s.tts"), {}, q, 0)
    assert [s.action for s in t.steps] == ["open"] + ["advance"] * 6  # the trace itself keeps every step
    body = [line.split() for line in render_trace.render_text(t, width=140).splitlines()]
    assert ["1", "2", "4", "advance", "b0-b1", "b0:a*", "b1:a*", "7", "27"] in body
    assert ["2–6", "2", "4", "advance", "×5", "nothing", "0", "27"] in body
    assert not any(row[:1] == ["3"] for row in body)


def test_accepted_branches_are_shown_as_accepted() -> None:
    text = ("strategy s\nbranch h: history(2)\nopen 2\nadvance active\n"
            "accept active where history_unanimous(h)\nstop majority(completed)\n")
    q = Question("q", "a", DELTA, (Branch(("a", "a", "a"), 40, "a"), Branch(("a", "b", "b"), 40, "b")))
    t = record(_program(text, "s.tts"), {}, q, 0)
    pic = render_trace.picture(t).splitlines()
    assert "b0    oa  accepted at a" in pic and "b1    o-  left at b" in pic
    assert any("a accepted (finished early" in line for line in pic)
    assert pic[-1].endswith("opened 2, pruned 0, accepted 1")
    plain = render_trace.picture(record(_program(PROBE), bind_params(_program(PROBE), {}), QUESTION, SEED))
    assert "accepted" not in plain  # a trace without `accept` reads as before


def test_store_text_with_control_characters_stays_on_its_line() -> None:
    """Answers are store text: a newline or a terminal escape in one is shown escaped, never acted on."""
    text = "strategy s\nvar x: int = 0\nread 2\nx = 1\nstop majority(completed)\n"
    q = Question("q", "x\ny", DELTA, (Branch((), 5, "a\nb"), Branch((), 6, "\x1b[31mR\tT")))
    t = record(_program(text, "s.tts"), {}, q, 0)
    out = render_trace.render_text(t, width=140)
    assert "\x1b" not in out and "\t" not in out
    assert "a\\nb" in out and "\\x1b[31mR\\tT" in out and "(wrong; gold x\\ny)" in out
    assert "at the end: x=1" in out.splitlines()  # no empty signals part before a `|`
    assert out.startswith("s on store · question 0")  # no parameters: no empty `[]`
    assert not any(line.rstrip().endswith("|") or " |  " in line for line in out.splitlines()[3:])


def test_formatting_helpers() -> None:
    assert render_trace.fmt_branches([0, 1, 2, 5, 7, 8]) == "b0-b2 b5 b7-b8"
    assert render_trace.fmt_value(0.123456) == "0.1235" and render_trace.fmt_value(None) == "none"


# ---- the trace agrees with the engines

def _strategy(name: str):
    src = read_source(ROOT / "strategies" / f"{name}.tts")
    return check(parse_source(src), src)


# record() runs the reference interpreter itself: the trace is checked against the other engines.
@pytest.mark.parametrize("engine", ["compiled", "batched"])
@pytest.mark.parametrize("name,params", [("sc", {"n": 16}), ("asc", {}), ("esc", {}),
                                         ("parallel_probe", {"num_chains": 16, "T": 5, "warm_up": 3,
                                                             "prune_patience": 2}),
                                         ("cmc", {"beta": 0.5}), ("cmc", {"beta": 1.0})])
def test_trace_agrees_with_engine(name, params, engine, shared) -> None:
    store = load_store(shared / "replay" / "autotts" / "Qwen3-8B" / "aime25.json")
    checked = _strategy(name)
    bound = bind_params(checked, params)
    for qi, seed in ((0, 0), (7, 3), (21, 11)):
        one = Store("one", "", (store.questions[qi],))
        out = run(checked, bound, one, [seed], engine=engine)
        t = record(checked, bound, store.questions[qi], seed, question_index=qi)
        m = t.summary
        assert (m.answer, m.tokens, m.sequential_tokens) == \
            (out.answers[0, 0], out.tokens[0, 0], out.sequential[0, 0]), (qi, seed)
        assert (m.rounds, m.opened, m.pruned, m.stop_line or 0, m.correct) == \
            (out.rounds[0, 0], out.opened[0, 0], out.pruned[0, 0], out.stop_line[0, 0], out.correct[0, 0])
        if t.steps:  # the last event's running total is the episode's total
            assert t.steps[-1].tokens_so_far == m.tokens


def test_trace_command(tmp_path) -> None:
    path = tmp_path / "t.jsonl"
    res = CliRunner().invoke(cli, ["trace", str(ROOT / "strategies" / "parallel_probe.tts"), "--question", "1",
                                   "--seed", "4", "--set", "num_chains=8", "--jsonl", str(path), "--width", "150"])
    assert res.exit_code == 0, res.output
    t = read_jsonl(path)
    assert t.summary.params["num_chains"] == 8 and t.summary.question == 1 and t.summary.seed == 4
    assert "width × depth: 8 branches" in res.output and render_trace.outcome_line(t) in res.output
    assert "b7 " in res.output and "b8 " not in res.output


def test_trace_command_bad_question() -> None:
    res = CliRunner().invoke(cli, ["trace", str(ROOT / "strategies" / "sc.tts"), "--question", "999"])
    assert res.exit_code == 2 and "out of range" in res.output and "Traceback" not in res.output


def test_trace_command_takes_a_folder_and_picks_a_store(tmp_path) -> None:
    import shutil
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        shutil.copy(default_store_path(), tmp_path / sub / "s.json")
    sc = str(ROOT / "strategies" / "sc.tts")
    res = CliRunner().invoke(cli, ["trace", sc, "--env", str(tmp_path / "a"), "--jsonl", "-"])
    assert res.exit_code == 0, res.output  # a folder of one store: that store
    assert read_jsonl_text(res.output).summary.env == "s"
    res = CliRunner().invoke(cli, ["trace", sc, "--env", str(tmp_path)])
    assert res.exit_code == 2 and "pick one with --store (a/s, b/s)" in res.output and "Traceback" not in res.output
    (tmp_path / "c").mkdir()
    shutil.copy(default_store_path(), tmp_path / "c" / "t.json")
    res = CliRunner().invoke(cli, ["trace", sc, "--env", str(tmp_path), "--store", "s"])
    assert res.exit_code == 2 and "names several of the stores in --env (a/s, b/s); give one" in res.output
    res = CliRunner().invoke(cli, ["trace", sc, "--env", str(tmp_path), "--store", "u"])
    assert res.exit_code == 2 and "names none of the stores in --env (a/s, b/s, c/t)" in res.output
    res = CliRunner().invoke(cli, ["trace", sc, "--env", str(tmp_path), "--store", "b/s", "--jsonl", "-"])
    assert res.exit_code == 0, res.output
    assert read_jsonl_text(res.output).summary.env == "b/s"


def read_jsonl_text(text: str) -> Trace:
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        (Path(d) / "t.jsonl").write_text(text, encoding="utf-8")
        return read_jsonl(Path(d) / "t.jsonl")


# ---- `ttsc eval --traces DIR`

def test_eval_traces_writes_one_line_per_episode(tmp_path) -> None:
    res = CliRunner().invoke(cli, ["eval", str(ROOT / "strategies" / "esc.tts"), "--sweep", "window_size=4,8",
                                   "--seeds", "3", "--traces", str(tmp_path), "--format", "json"])
    assert res.exit_code == 0, res.output
    store = load_store(default_store_path(), name="bundled/default")
    checked = _strategy("esc")
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == sorted(episode_file_name("esc", "bundled/default", bind_params(checked, {"window_size": w}))
                           for w in (4, 8))
    assert files[0] == "esc__bundled_default__max_samples=64,window_size=4.jsonl"
    params = bind_params(checked, {"window_size": 8})
    out = run(checked, params, store, range(3))
    lines = [json.loads(x) for x in (tmp_path / episode_file_name("esc", "bundled/default", params))
             .read_text().splitlines()]
    assert len(lines) == 3 * len(store.questions)
    assert all(tuple(x) == EPISODE_FIELDS for x in lines)
    for x in lines:
        si, qi = x["seed"], x["question"]
        assert (x["env"], x["params"]) == ("bundled/default", params)
        assert (x["answer"], x["correct"], x["tokens"], x["sequential_tokens"], x["rounds"], x["opened"]) == \
            (out.answers[si, qi], out.correct[si, qi], out.tokens[si, qi], out.sequential[si, qi],
             out.rounds[si, qi], out.opened[si, qi])
        assert x["stop_reason"] == ("stop" if x["stop_line"] else "end")
    assert sum(x["correct"] for x in lines) / len(lines) * 100 == pytest.approx(out.accuracy)


def test_episode_file_names_are_safe() -> None:
    name = episode_file_name("cmc", "Qwen3-8B/aime25", {"beta": 0.5})
    assert name == "cmc__Qwen3-8B_aime25__beta=0.5.jsonl"
    assert "/" not in episode_file_name("s", "../x y/z", {"a": 1}) and \
        episode_file_name("s", "../x y/z", {"a": 1}) == "s__.._x_y_z__a=1.jsonl"


def test_trace_names_the_store_without_a_signal_like_eval(tmp_path) -> None:
    store = tmp_path / "plain.json"
    store.write_text(json.dumps([{"question": "1+1?", "gold_answer": "2", "probe_freq": 10,
                                  "each_branch": [[["2"], 15, "2"], [[], 5, "3"]]}]))
    prog = tmp_path / "lc.tts"
    prog.write_text("strategy lc\nopen 2\nadvance active\nstop majority(active where last_conf > 0.5)\n")
    said = []
    for args in (["trace", str(prog), "--env", str(store)], ["eval", str(prog), "--env", str(store), "--seeds", "1"]):
        res = CliRunner().invoke(cli, args)
        assert res.exit_code == 2 and "Traceback" not in res.output, res.output
        said.append(res.output)
    assert said[0] == said[1] and f"but the store {store} does not provide it" in said[0]
    # an in-memory store has a name only: that names it, not the environment's class
    checked = _program("strategy lc\nopen 2\nadvance active\nstop majority(active where last_conf > 0.5)\n")
    with pytest.raises(TtscError, match="but the store mem/q does not provide it"):
        record(checked, {}, load_store(store).questions[0], 0, env="mem/q")


@pytest.mark.parametrize("command", [["trace", "cmc", "--question", "0"], ["compare", "cmc", "sc", "--seeds", "2"],
                                     ["eval", "cmc", "--seeds", "2"]])
def test_a_terminal_without_unicode_gets_question_marks_not_a_traceback(command):
    import os
    import subprocess
    import sys

    env = {**os.environ, "PYTHONIOENCODING": "latin-1", "TTSC_DAEMON": "0"}  # (click makes "ascii" UTF-8)
    r = subprocess.run([sys.executable, "-m", "ttsc.cli.main", *command], capture_output=True, env=env, timeout=300)
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode(errors="replace")
    assert command[0] != "trace" or b"?=16" in r.stdout  # the trace's `Δ=16`


def test_signals_that_read_signals_show_the_state_after_each_action() -> None:
    """The interpreter keeps a signal's value until the state changes; a trace step, taken after its action,
    shows every signal (those read through another signal too) on the new state."""
    text = ("strategy nested\nsignal done = count(completed)\nsignal twice = done + done\n"
            "signal lead = votes(branches, majority(branches)) + twice\n"
            "open 3\nrepeat 8 {\n    advance active by if twice >= 0 then 1 else 2\n"  # read before the effects
            "    if count(active) == 0 {\n        break\n    }\n}\n"
            "stop majority(completed)\n")
    checked = _program(text, "nested.tts")
    trace = record(checked, bind_params(checked, {}), QUESTION, SEED, env="hand/made")
    assert len(trace.steps) >= 3
    finished: set[int] = set()
    for step in trace.steps:
        finished |= {b for b, f in zip(step.branches, step.finished) if f}
        assert step.signals["done"] == len(finished)
        assert step.signals["twice"] == 2 * len(finished)
    # and the episode itself is what the compiled engine computes
    store = Store("hand/made", "", (QUESTION,))
    a = run(checked, {}, store, [SEED], "interpret")
    b = run(checked, {}, store, [SEED], "compiled")
    assert (a.tokens == b.tokens).all() and (a.correct == b.correct).all()
