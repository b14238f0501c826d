"""`ttsc compare A B`: paired differences on the same episodes, per store and pooled."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.compiler.engines import run
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.insight import stats
from ttsc.runtime.params import bind_params
from ttsc.runtime.synth import dumps_store, generate_store
from ttsc.runtime.store import load_store

ROOT = Path(__file__).resolve().parents[1]


def _checked(name):
    src = read_source(ROOT / "strategies" / f"{name}.tts")
    return check(parse_source(src), src)


def _stores(tmp_path):
    paths = []
    for seed in (1, 2):
        p = tmp_path / "m" / f"b{seed}.json"
        p.parent.mkdir(exist_ok=True)
        p.write_text(dumps_store(generate_store(questions=6, branches=12, seed=seed)))
        paths.append(p)
    return paths


def test_compare_matches_the_statistics_of_both_outcomes(tmp_path):
    paths = _stores(tmp_path)
    res = CliRunner().invoke(cli, ["compare", "cmc", "asc", "--env", str(tmp_path / "m"), "--seeds", "3",
                                   "--set-a", "beta=0.3", "--set-b", "max_samples=8", "--resamples", "200",
                                   "--format", "json", "-q"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["a"] == {"strategy": "cmc", "params": {"beta": 0.3}}
    assert out["b"]["params"]["max_samples"] == 8
    assert [r["env"] for r in out["rows"]] == ["b1", "b2", "all stores"]
    cmc, asc = _checked("cmc"), _checked("asc")
    store = load_store(paths[0], "b1")
    a = run(cmc, bind_params(cmc, {"beta": 0.3}), store, range(3), "compiled")
    b = run(asc, bind_params(asc, {"max_samples": 8}), store, range(3), "compiled")
    want = stats.compare(a, b, resamples=200).to_dict()
    row = out["rows"][0]
    assert {k: row[k] for k in want} == want
    assert (row["a_accuracy"], row["b_tokens"]) == (a.accuracy, b.avg_tokens)
    pooled = out["rows"][2]
    assert pooled["better"] + pooled["worse"] + pooled["ties"] == 12  # every question of both stores


def test_compare_table_and_errors(tmp_path):
    res = CliRunner().invoke(cli, ["compare", "sc", "asc", "--seeds", "2", "--resamples", "50", "-q"])
    assert res.exit_code == 0, res.output
    assert "A = sc [n=" in res.stdout and "Δ accuracy pts" in res.stdout and "bundled/default" in res.stdout
    bad = CliRunner().invoke(cli, ["compare", "sc", "asc", "--set-a", "beta=1"])
    assert bad.exit_code == 2 and "no parameter `beta`" in bad.output and "Traceback" not in bad.output


def test_the_table_never_prints_a_negative_zero():
    from ttsc.cli.compare_cmd import _table

    d = {"estimate": -0.3, "low": -0.004, "high": 0.2}
    rows = [{"env": "e", "a_accuracy": 1.0, "b_accuracy": 1.0, "accuracy": d, "tokens": d, "sequential":
             {"estimate": -1200.4, "low": -0.4, "high": 3.0}, "better": 0, "worse": 0, "ties": 1, "sign_p": 1.0}]
    head = {"a": {"strategy": "a", "params": {}}, "b": {"strategy": "b", "params": {}}, "seeds": 1,
            "resamples": 10, "level": 0.95}
    text = _table(head, rows)
    import re
    assert not re.search(r"-0(?:\.0+)?(?![\d.])", text), text  # -0.30 is fine, -0 and -0.00 are not
    assert "-0.30 [+0.00, +0.20]" in text and "+0 [+0, +0]" in text and "-1,200 [+0, +3]" in text
