"""Warnings: W0001, a program that can run past its end without `stop`; W0002, a statement that never runs.
`check` reports them and still accepts the program."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.parser import parse

H = "strategy w\nparam n: int = 3\n"

CERTAIN = {
    "stop": "open 2\nstop majority(completed)\n",
    "if-else": "open 2\nif count(completed) > 0 { stop majority(completed) } else { stop none }\n",
    "elif-else": "if n > 2 { stop none } elif n > 1 { stop none } else { stop none }\n",
    "repeat-literal": "open 2\nrepeat 3 {\n    advance live\n    stop majority(live)\n}\n",
    "nested-break-is-inner": "repeat 2 {\n    repeat 3 { break }\n    stop none\n}\n",
    "stop-then-more": "stop none\nopen 2\n",
}

POSSIBLE = {  # name -> line of the last rule (where the warning points)
    "nothing": ("open 2\nadvance live\n", 4),
    "if-without-else": ("open 2\nif count(completed) > 0 {\n    stop majority(completed)\n}\n", 4),
    "one-branch-falls-through": ("if n > 2 { stop none } else { open 1 }\n", 3),
    "repeat-may-break": ("repeat 3 {\n    if n > 2 { break }\n    stop none\n}\n", 3),
    "repeat-count-from-parameter": ("repeat n { stop none }\n", 3),
    "repeat-zero": ("repeat 0 { stop none }\n", 3),
    "declarations-only": ("var x: int = 0\n", 1),
}


def _warnings(text: str):
    return check(parse(text), Source("w.tts", text)).warnings


@pytest.mark.parametrize("name", sorted(CERTAIN))
def test_no_warning_when_every_path_stops(name: str) -> None:
    assert [w.code for w in _warnings(H + CERTAIN[name])] == (["W0002"] if name == "stop-then-more" else [])


@pytest.mark.parametrize("name", sorted(POSSIBLE))
def test_warning_points_at_the_last_rule(name: str) -> None:
    body, line = POSSIBLE[name]
    (w,) = _warnings(H + body)
    assert (w.code, w.severity, w.span.line) == ("W0001", "warning", line)


def test_shipped_strategies_have_no_warning() -> None:
    for path in sorted((Path(__file__).resolve().parents[1] / "strategies").glob("*.tts")):
        text = path.read_text(encoding="utf-8")
        assert _warnings(text) == [], path


def test_check_reports_the_warning_and_accepts_the_program(tmp_path: Path) -> None:
    f = tmp_path / "nostop.tts"
    f.write_text(H + "open 2\nadvance live\n")
    runner = CliRunner()
    text = runner.invoke(cli, ["check", str(f)])
    assert text.exit_code == 0
    assert "warning[W0001]" in text.stderr and f"{f.name}:4:1" in text.stderr and "= help:" in text.stderr
    assert f"ok: {f}" in text.stdout
    out = runner.invoke(cli, ["check", str(f), "--format", "json"])
    assert out.exit_code == 0
    (d,) = json.loads(out.stdout)
    assert (d["severity"], d["code"], d["line"]) == ("warning", "W0001", 4)


def test_eval_warns_and_still_runs(tmp_path: Path) -> None:
    f = tmp_path / "nostop.tts"
    f.write_text(H + "open 2\nadvance live\n")
    out = CliRunner().invoke(cli, ["eval", str(f), "--seeds", "2", "--engine", "interpret", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert "warning[W0001]" in out.stderr
    (row,) = json.loads(out.stdout)
    assert row["accuracy"] == 0.0



UNREACHABLE = {  # name -> (body, the line W0002 points at)
    "after-stop": ("stop none\nopen 2\n", 4),
    "after-break": ("repeat 3 {\n    break\n    open 1\n}\nstop none\n", 5),
    "after-if-that-always-leaves": ("repeat 3 {\n    if n > 1 { break } else { stop none }\n    open 1\n}\n"
                                    "stop none\n", 5),
    "after-certain-repeat": ("repeat 2 { stop none }\nopen 1\nstop none\n", 4),
}


@pytest.mark.parametrize("name", sorted(UNREACHABLE))
def test_a_statement_that_never_runs_is_warned_about(name: str) -> None:
    body, line = UNREACHABLE[name]
    (w,) = [w for w in _warnings(H + body) if w.code == "W0002"]
    assert (w.severity, w.span.line, w.message) == ("warning", line, "this statement never runs")
    ((span, label),) = w.labels  # the statement that always ends the episode or leaves the loop
    assert span.line == line - 1 and label.startswith("this always ") and label.split("always ")[1] in w.help


def test_reachable_statements_are_not_warned_about() -> None:
    for body in ("repeat 3 {\n    if n > 1 { break }\n    open 1\n}\nstop none\n",
                 "if n > 1 { stop none }\nopen 1\nstop none\n",
                 "repeat n { stop none }\nopen 1\nstop none\n"):
        assert [w.code for w in _warnings(H + body)] == [], body
