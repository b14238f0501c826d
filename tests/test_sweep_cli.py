"""`ttsc sweep`: sweep specifications, which strategies a sweep applies to, outputs, warnings, errors."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttsc.cli.loading import load_program
from ttsc.cli.main import cli
from ttsc.cli.sweep_cmd import parse_spec, resolve_strategy, settings
from ttsc.errors import TtscError
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store
from ttsc.runtime.synth import dumps_store, generate_store

ROOT = Path(__file__).resolve().parents[1]


# ---- sweep specifications


def test_lists_and_ranges() -> None:
    assert parse_spec("n", "2,4,8") == [2, 4, 8]
    assert parse_spec("t", "0.5, 0.9") == [0.5, 0.9]
    betas = parse_spec("beta", "0:1:0.1")
    assert len(betas) == 11 and betas[3] == 0.3 and betas[7] == 0.7 and betas[-1] == 1.0
    assert all(isinstance(b, float) for b in betas)
    assert parse_spec("n", "2:10:2") == [2, 4, 6, 8, 10] and all(isinstance(v, int) for v in parse_spec("n", "2:10:2"))
    assert parse_spec("n", "1:2:0.5") == [1.0, 1.5, 2.0]
    assert parse_spec("x", "0:1:0.3") == [0.0, 0.3, 0.6, 0.9]  # 1.2 overshoots: stop excluded
    assert parse_spec("x", "0:0.3:0.1") == [0.0, 0.1, 0.2, 0.3]  # 0.30000000000000004 counts as landing on 0.3
    assert parse_spec("x", "5:5:1") == [5]


@pytest.mark.parametrize("spec,message", [("0:1", "start:stop:step"), ("0:1:0", "positive"), ("1:0:0.1", "below"),
                                          ("0:1:1e-9", "at most"), ("a:b:c", "not a number"), (",", "empty value"),
                                          ("0.1,,0.2", "empty value"), ("1_0,2", "not a number"),
                                          ("true:2:1", "numbers")])
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(TtscError, match=message):
        parse_spec("x", spec)


def test_a_sweep_applies_where_the_parameter_exists() -> None:
    asc, esc, cmc = (load_program(ROOT / "strategies" / f"{s}.tts") for s in ("asc", "esc", "cmc"))
    axes = [("max_samples", [2, 4]), ("esc.max_samples", [16, 32]), ("beta", [0.0, 1.0])]
    assert [s["max_samples"] for s in settings(asc, axes, {})] == [2, 4]
    assert [s["max_samples"] for s in settings(esc, axes, {})] == [16, 32]  # scoped wins over plain
    assert [s["beta"] for s in settings(cmc, axes, {"threshold": 0.5})] == [0.0, 1.0]
    assert [s["threshold"] for s in settings(asc, axes, {"threshold": 0.5})] == [0.5, 0.5]
    assert len(settings(cmc, [], {})) == 1  # nothing swept: the defaults, once


def test_strategy_names_resolve_to_the_shipped_files() -> None:
    assert Path(resolve_strategy("cmc")).read_text() == (ROOT / "strategies" / "cmc.tts").read_text()
    with pytest.raises(TtscError, match="neither a file nor a shipped strategy.*cmc"):
        resolve_strategy("nosuch")


# ---- the command


@pytest.fixture(scope="module")
def stores(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("stores") / "synth"
    folder.mkdir()
    paths = []
    for i, name in enumerate(("a", "b")):
        p = folder / f"{name}.json"
        p.write_text(dumps_store(generate_store(seed=i, questions=6, branches=16)), encoding="utf-8")
        paths.append(p)
    return paths


def sweep(*args: str):
    return CliRunner().invoke(cli, ["sweep", *args])


def test_sweep_writes_the_frontier(stores: list[Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = [a for p in stores for a in ("--env", str(p))]
    res = sweep("cmc", "asc", *env, "--sweep", "beta=0:1:0.5", "--sweep", "max_samples=2,8", "--seeds", "2",
                "--engine", "interpret", "--out", str(out), "--format", "json", "--resamples", "200")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert len(rows) == (3 + 2) * 2 + (3 + 2)  # per store, then the average over the two
    assert [r["env"] for r in rows].count("average") == 5
    assert {r["strategy"] for r in rows} == {"cmc", "asc"}
    assert [r["params"]["beta"] for r in rows if r["strategy"] == "cmc" and r["env"] == "synth/a"] == [0.0, 0.5, 1.0]
    # A row is what evaluating that setting directly gives.
    cmc = load_program(ROOT / "strategies" / "cmc.tts")
    direct = run(cmc, bind_params(cmc, {"beta": 0.5}), load_store(stores[0], name="synth/a"), range(2))
    row = next(r for r in rows if r["strategy"] == "cmc" and r["env"] == "synth/a" and r["params"]["beta"] == 0.5)
    assert (row["accuracy"], row["avg_tokens"]) == (direct.accuracy, direct.avg_tokens)
    assert row["acc_ci_low"] <= row["accuracy"] <= row["acc_ci_high"]
    assert any(r["pareto"] for r in rows if r["env"] == "synth/a")

    names = sorted(p.name for p in out.iterdir())
    assert names == ["frontier.csv", "frontier.json", "frontier.png", "frontier.svg", "frontier_sequential.png",
                     "frontier_sequential.svg"]
    assert json.loads((out / "frontier.json").read_text()) == rows
    with open(out / "frontier.csv", newline="") as f:
        assert len(list(csv.DictReader(f))) == len(rows)
    assert (out / "frontier.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in (out / "frontier_sequential.svg").read_text()
    # Not a terminal: no progress bar; the list of files written goes to stderr.
    assert res.stderr.startswith("wrote ") and "━" not in res.stderr


def test_table_is_the_default_and_quiet_is_quiet(stores: list[Path], tmp_path: Path) -> None:
    res = sweep("asc", "--env", str(stores[0]), "--sweep", "max_samples=1,4", "--seeds", "1", "--engine",
                "interpret", "--out", str(tmp_path), "--no-plot", "--quiet")
    assert res.exit_code == 0, res.output
    assert "accuracy %" in res.stdout and "max_samples=4" in res.stdout and "synth/a" in res.stdout
    assert res.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frontier.csv", "frontier.json"]


def test_a_sweep_nobody_has_is_an_error(tmp_path: Path) -> None:
    res = sweep("asc", "esc", "--sweep", "beta=0,1", "--out", str(tmp_path))
    assert res.exit_code == 2 and "no strategy has a parameter `beta`" in res.stderr and "Traceback" not in res.output
    res = sweep("asc", "--sweep", "esc.max_samples=2", "--out", str(tmp_path))
    assert res.exit_code == 2 and "no strategy `esc`" in res.stderr
    res = sweep("asc", "--sweep", "asc.beta=2", "--out", str(tmp_path))
    assert res.exit_code == 2 and "asc has no parameter `beta`" in res.stderr
    res = sweep("asc", "--set", "window_size=2", "--out", str(tmp_path))
    assert res.exit_code == 2 and "--set window_size" in res.stderr
    res = sweep("asc", "asc", "--out", str(tmp_path))
    assert res.exit_code == 2 and "once" in res.stderr
    assert not any(tmp_path.iterdir())


def test_warns_when_tokens_fall_as_beta_rises(stores: list[Path], tmp_path: Path) -> None:
    falling = tmp_path / "falling.tts"
    falling.write_text("strategy falling\nparam beta: float = 0.5 in 0.0..1.0\n"
                       "read max(1, round(8 - 7 * beta))\nstop majority(completed)\n", encoding="utf-8")
    rising = tmp_path / "rising.tts"
    rising.write_text(falling.read_text().replace("falling", "rising").replace("8 - 7 * beta", "1 + 7 * beta"),
                      encoding="utf-8")
    res = sweep(str(falling), str(rising), "--env", str(stores[0]), "--sweep", "beta=0:1:0.5", "--seeds", "1",
                "--engine", "interpret", "--out", str(tmp_path / "o"), "--no-plot", "-q")
    assert res.exit_code == 0, res.output
    warnings = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "falling on synth/a: average tokens fall as beta rises" in warnings[0]
    assert "at beta=0 →" in warnings[0] and "(and 1 more drop)" in warnings[0]
