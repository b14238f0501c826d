"""Budget counters, answer validity and `accept`: what the conformance corpus does not pin down.

The environments' side of the protocol (Δ, non-answers, accepted branches), the
formatter on the new syntax, traces of `accept` from every engine, and
per-episode agreement of a Dynasor-style controller on a published store.
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.test_differential import assert_engines_agree
from tests.test_env import scripted_from
from ttsc.compiler.engines import run_env
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.formatter import format_source, strip_spans
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.runtime.params import bind_params
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.scripted import ScriptedEnvironment
from ttsc.runtime.store import Store, load_store

CONFORMANCE = ROOT / "tests" / "conformance" / "stores"


def _program(text: str):
    src = Source("<t>", text)
    return check(parse_source(src), src)


@pytest.fixture(scope="module")
def query() -> Store:
    return load_store(CONFORMANCE / "query.json")


def test_environments_report_the_interval(query) -> None:
    rows = np.arange(2)
    assert ReplayEnvironment(query, (0, 1)).interval(rows).tolist() == [10, 10]
    assert scripted_from(query, (0, 1)).interval(rows).tolist() == [10, 10]


@pytest.mark.parametrize("engine", ["interpret", "batched"])
def test_a_script_without_intervals_refuses_to_say_interval(query, engine) -> None:
    base = scripted_from(query, (0,))
    fresh = lambda: ScriptedEnvironment(base.episodes, base.golds, base.seeds)  # noqa: E731 - no intervals
    checked = _program("strategy t\nopen 1\nstop if interval > 0 then majority(live) else none\n")
    with pytest.raises(TtscError, match="no `intervals`"):
        run_env(checked, {}, fresh(), engine)
    # a program that does not read it runs
    assert run_env(_program("strategy t\nopen 1\nstop majority(live)\n"), {}, fresh(), engine).answers[0, 0] == "a"


def test_accepted_branches_generate_nothing_more(query) -> None:
    env = scripted_from(query, (0,))
    rows = np.array([0])
    env.take(rows, np.array([1]), False)
    env.accept(rows, np.array([0]))
    with pytest.raises(ValueError, match="accepted"):
        env.advance(rows, np.array([0]), np.array([1]))
    with pytest.raises(IndexError):
        env.accept(rows, np.array([3]))  # never opened
    replay = ReplayEnvironment(query, (0,))
    replay.take(rows, np.array([2]), False)
    replay.accept(rows, np.array([1]))
    assert replay.accepted[0, :3].tolist() == [False, True, False]


def test_store_non_answers_must_be_strings(query) -> None:
    bad = Store(name="bad", path="bad.json", questions=query.questions, meta={"non_answers": "ERR"})
    with pytest.raises(TtscError, match="meta.non_answers"):
        ReplayEnvironment(bad, (0,))


def test_replay_non_answers_default_and_written_answers(query) -> None:
    env = ReplayEnvironment(query, (0,))  # no meta.non_answers: "ERR" and ""
    rows = np.zeros(4, dtype=np.int64)
    ids = env.answer_ids(rows[:1], ["a", "ERR", "", "zz"])[0]
    assert ids[0] >= 0 and ids[1:].min() >= len(env.tables.vocab[0])  # "a" is a branch's; the rest are new
    assert env.valid(rows, ids).tolist() == [True, False, False, True]
    assert env.answer_text(rows, ids) == ["a", "ERR", "", "zz"]
    assert env.answer_ids(rows[:1], ["zz"])[0, 0] == ids[3]  # interned once


def test_new_syntax_formats_and_round_trips() -> None:
    text = ('strategy t\nparam k: int = 2\nlet bad = "ERR"\nopen 3\n'
            'accept  active where (valid(last)and last!="\\frac{1}{2}") sorted by depth desc\n'
            'if spent>interval*k or spent_sequential==0 { stop "" }\nstop majority(completed)\n')
    src = Source("t.tts", text)
    out = format_source(src)
    assert 'accept active where valid(last) and last != "\\frac{1}{2}" sorted by depth desc' in out
    assert 'if spent > interval * k or spent_sequential == 0 {\n    stop ""\n}' in out
    again = Source("t.tts", out)
    assert strip_spans(parse_source(again)) == strip_spans(parse_source(src))
    assert format_source(again) == out


def test_strings_hold_no_comments_or_blocks() -> None:
    text = 'strategy t\nopen 1\nif majority(live) == "#{" {  # a comment\n  stop "}#"\n}\n'
    out = format_source(Source("t.tts", text))
    assert out == 'strategy t\n\nopen 1\nif majority(live) == "#{" {  # a comment\n    stop "}#"\n}\n'


def test_valid_is_not_fixed_by_the_parameters() -> None:
    src = Source("t.tts", "strategy t\nrepeat if valid(none) then 1 else 2 { open 1 }\n")
    from ttsc.dsl.diagnostics import DiagnosticError
    with pytest.raises(DiagnosticError, match="fixed by the parameters"):
        check(parse_source(src), src)


def test_accept_traces_agree(query) -> None:
    checked = _program("strategy t\nopen 4\nprune branches where index == 1\naccept active sorted by index desc\n"
                       "accept active\nstop majority(completed)\n")
    logs = {}
    for engine in ("interpret", "batched"):
        events: dict[int, list] = {}
        run_env(checked, {}, scripted_from(query, (0, 1)), engine,
                trace=lambda row, ev: events.setdefault(row, []).append(ev))
        logs[engine] = events
    assert logs["interpret"] == logs["batched"]
    accepts = [ev for ev in logs["batched"][0] if ev.action == "accept"]
    assert len(accepts) == 1 and accepts[0].branches == [2, 0] and accepts[0].tokens == [0, 0]


@pytest.mark.parametrize("extra", [{}, {"skip_invalid": True}, {"skip_invalid": True, "skip_no": True}])
def test_dynasor_controller_agrees_on_a_published_store(shared, extra) -> None:
    checked = _program(read_source(ROOT / "benchmarks" / "dynasor.tts").text)
    store = load_store(shared / "replay" / "autotts" / "Qwen3-0.6B" / "aime25.json")
    assert_engines_agree(checked, bind_params(checked, {"n": 8, "k": 3, **extra}), store, range(2), str(extra))


def test_brackets_and_hashes_in_strings_are_text() -> None:
    deep = "(" * 60
    checked = _program(f'strategy t\nopen 1\nif majority(live) == "{deep}#" {{ stop "#)" }}\nstop "x"\n')
    assert checked.program.items[1].branches[0].cond.right.value == deep + "#"
