"""The β-monotonicity check of derived knobs, and `ttsc check --beta-monotone`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse
from ttsc.errors import TtscError
from ttsc.insight.monotone import NoBetaError, check_beta_monotone

ROOT = Path(__file__).resolve().parents[1]

# round(40 (β − ½)²) falls from 10 to 0 and climbs back: it holds 0 while 40 (β − ½)² <= ½.
VALLEY = """strategy valley
param beta: float = 0.5 in 0.0..1.0
let k = round(4 * (beta - 0.5) * (beta - 0.5) * 10)
let n = max(2, round(2 + 6 * beta))
read n + k
stop majority(completed)
"""
EDGE = math.sqrt(0.5 / 40)


def program(text: str, name: str = "t.tts"):
    from ttsc.dsl.diagnostics import Source

    return check(parse(text, name), Source(name, text))


def cmc():
    from ttsc.cli.loading import load_program

    return load_program(ROOT / "strategies" / "cmc.tts")


def test_cmc_schedule_is_monotone() -> None:
    report = check_beta_monotone(cmc())
    assert report.ok and not report.diagnostics()
    knobs = {k.name: k for k in report.knobs}
    assert list(knobs) == cmc().knobs and len(knobs) == 13
    assert all(k.direction in ("non-decreasing", "non-increasing") and not k.flips for k in knobs.values())
    assert knobs["n_init"].direction == "non-decreasing" and (knobs["n_init"].first, knobs["n_init"].last) == (2, 8)
    assert knobs["max_branch_use"].last == 64
    assert knobs["ema_alpha"].direction == "non-increasing" and knobs["ema_alpha"].first == 0.7
    lines = (ROOT / "strategies" / "cmc.tts").read_text().split("\n")
    line = next(i for i, t in enumerate(lines, 1) if t.startswith("let n_init"))
    assert knobs["n_init"].location.endswith(f"cmc.tts:{line}:1")
    assert report.switch_points > 0 and "dense grid of 10,001 points" in report.render()


def test_valley_is_reported_with_the_interval_where_it_turns() -> None:
    report = check_beta_monotone(program(VALLEY))
    assert not report.ok
    k, n = report.knobs
    assert (k.name, k.direction, k.location, k.first, k.last) == ("k", "non-monotone", "t.tts:3:1", 10, 10)
    assert n.direction == "non-decreasing"
    (flip,) = k.flips
    assert (flip.before, flip.after, flip.value) == ("decreasing", "increasing", 0)
    # The switch points put the ends on round()'s exact steps, far finer than the grid's 1e-4.
    assert flip.low == pytest.approx(0.5 - EDGE, abs=1e-12) and flip.high == pytest.approx(0.5 + EDGE, abs=1e-12)
    (diag,) = report.diagnostics()
    assert diag.code == "E0901" and diag.span.line == 3 and "`k`" in diag.message
    assert "[0.388197, 0.611803]" in diag.notes[0]


def test_switch_points_make_a_coarse_grid_exact() -> None:
    coarse = check_beta_monotone(program(VALLEY), grid=11).knobs[0].flips[0]
    assert coarse.low == pytest.approx(0.5 - EDGE, abs=1e-12) and coarse.high == pytest.approx(0.5 + EDGE, abs=1e-12)


def test_every_flip_is_reported() -> None:
    zigzag = VALLEY.replace("round(4 * (beta - 0.5) * (beta - 0.5) * 10)",
                            "if beta < 0.3 then beta else if beta < 0.6 then 1.0 - beta else beta").replace("n + k", "n")
    k = check_beta_monotone(program(zigzag)).knobs[0]
    assert k.direction == "non-monotone"
    assert [(f.before, f.after) for f in k.flips] == [("increasing", "decreasing"), ("decreasing", "increasing")]
    assert k.flips[0].low == pytest.approx(0.3, abs=1e-4) and k.flips[1].low == pytest.approx(0.6, abs=1e-4)


def test_other_parameters_keep_defaults_unless_overridden() -> None:
    text = """strategy scaled
param beta: float = 0.5 in 0.0..1.0
param scale: float = -1.0
let m = beta * scale
let c = scale * 2
read 1
stop majority(completed)
"""
    assert [k.direction for k in check_beta_monotone(program(text)).knobs] == ["non-increasing", "constant"]
    assert check_beta_monotone(program(text), {"scale": 2.0}).knobs[0].direction == "non-decreasing"


def test_no_beta_and_a_non_float_beta_are_clear() -> None:
    sc = program("strategy plain\nparam n: int = 4 in 1..\nread n\nstop majority(completed)\n")
    with pytest.raises(NoBetaError, match="plain declares no `beta` parameter"):
        check_beta_monotone(sc)
    with pytest.raises(TtscError, match="needs a float"):
        check_beta_monotone(program("strategy b\nparam beta: int = 1\nread beta\nstop majority(completed)\n"))


def test_check_command_runs_the_checker(tmp_path: Path) -> None:
    bad = tmp_path / "valley.tts"
    bad.write_text(VALLEY, encoding="utf-8")
    runner = CliRunner()
    ok = runner.invoke(cli, ["check", "--beta-monotone", str(ROOT / "strategies" / "cmc.tts"),
                             str(ROOT / "strategies" / "sc.tts")])
    assert ok.exit_code == 0, ok.output
    assert "every knob is monotone" in ok.stdout and "sc declares no `beta` parameter" in ok.stderr
    res = runner.invoke(cli, ["check", "--beta-monotone", str(bad)])
    assert res.exit_code == 1 and "ok:" not in res.stdout  # no `ok:` for a file that then fails
    assert "error[E0901]: knob `k` is not monotone in β" in res.stderr and "valley.tts:3:1" in res.stderr
    js = runner.invoke(cli, ["check", "--beta-monotone", "--format", "json", str(bad)])
    assert js.exit_code == 1 and [d["code"] for d in json.loads(js.stdout)] == ["E0901"]
    # Without the flag the program is fine: monotonicity is opt-in.
    assert runner.invoke(cli, ["check", str(bad)]).exit_code == 0
