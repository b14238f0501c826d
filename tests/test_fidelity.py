"""Fidelity: strategies written in .tts reproduce the published evaluator exactly.

* Every row of ../shared/reference/autotts_reference.json (5 strategies, 30
  settings, 12 stores, 100 seeds) through the compiled (native) engine:
  bit-exact; every 15th row through the batched numpy engine too.
* A sample of rows through the reference interpreter (it is slow: the whole
  grid takes about an hour; `python -m benchmarks.bench --interpret-seeds 100`
  runs it all).
* Settings and stores the reference file does not cover — other parameters,
  β values whose schedule rounds half to even, another interval length, fewer
  branches than asked for, ties — against the independent plain implementation
  in benchmarks/baseline.py.
"""

from __future__ import annotations

import json

import pytest

from benchmarks import baseline
from tests.conftest import ROOT, SHARED
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import Store, load_store
from ttsc.runtime.synth import generate_store

_stores: dict[str, Store] = {}


def _reference_rows() -> list[dict]:
    path = SHARED / "reference" / "autotts_reference.json"
    return json.loads(path.read_text()) if path.is_file() else []


def _store(shared, key: str) -> Store:
    if key not in _stores:
        _stores[key] = load_store(shared / "replay" / "autotts" / f"{key}.json", name=key)
    return _stores[key]


def _program(method: str):
    src = read_source(ROOT / "strategies" / f"{method}.tts")
    return check(parse_source(src), src)


def _row_id(r: dict) -> str:
    return f"{r['model']}/{r['dataset']}/{r['method']}/" + ",".join(f"{k}={v}" for k, v in r["params"].items())


ROWS = _reference_rows()


def test_reference_file_is_present(shared):
    assert len(ROWS) == 360, "the fidelity contract has 360 rows"


@pytest.mark.parametrize("row", ROWS, ids=_row_id)
def test_compiled_reproduces_reference_row(shared, row):
    checked = _program(row["method"])
    out = run(checked, bind_params(checked, row["params"]), _store(shared, f"{row['model']}/{row['dataset']}"),
              range(100), engine="compiled")
    assert abs(out.accuracy - row["accuracy"]) < 1e-6
    assert abs(out.avg_tokens - row["avg_tokens"]) < 1e-9 * row["avg_tokens"]
    # not just within tolerance: the same floats, operation for operation
    assert (out.accuracy, out.avg_tokens) == (row["accuracy"], row["avg_tokens"])


@pytest.mark.parametrize("row", ROWS[::15], ids=_row_id)
def test_batched_reproduces_reference_row(shared, row):
    checked = _program(row["method"])
    out = run(checked, bind_params(checked, row["params"]), _store(shared, f"{row['model']}/{row['dataset']}"),
              range(100), engine="batched")
    assert (out.accuracy, out.avg_tokens) == (row["accuracy"], row["avg_tokens"])


def _interpreter_sample() -> list[dict]:
    wanted = [
        ("Qwen3-0.6B", "aime24", "sc", None), ("Qwen3-0.6B", "aime24", "asc", None),
        ("Qwen3-0.6B", "aime24", "esc", None), ("Qwen3-4B", "hmmt25", "asc", {"max_samples": 64, "threshold": 0.95}),
        ("Qwen3-1.7B", "aime25", "parallel_probe", {"num_chains": 4, "T": 40, "prune_patience": 7, "warm_up": 15}),
        ("Qwen3-8B", "hmmt25", "parallel_probe", {"num_chains": 8, "T": 40, "prune_patience": 7, "warm_up": 15}),
        ("Qwen3-4B", "aime24", "cmc", {"beta": 0.0}), ("Qwen3-0.6B", "hmmt25", "cmc", {"beta": 0.3}),
    ]
    out = []
    for model, dataset, method, params in wanted:
        out += [r for r in ROWS if (r["model"], r["dataset"], r["method"]) == (model, dataset, method)
                and (params is None or r["params"] == params)]
    return out


@pytest.mark.parametrize("row", _interpreter_sample(), ids=_row_id)
def test_interpreter_reproduces_reference_row(shared, row):
    checked = _program(row["method"])
    out = run(checked, bind_params(checked, row["params"]), _store(shared, f"{row['model']}/{row['dataset']}"),
              range(100), engine="interpret")
    assert (out.accuracy, out.avg_tokens) == (row["accuracy"], row["avg_tokens"])


UNSEEN = [
    ("sc", {"n": 5}), ("sc", {"n": 100}),
    ("asc", {"max_samples": 10, "threshold": 0.9}), ("asc", {"max_samples": 100, "threshold": 0.5}),
    ("esc", {"max_samples": 20, "window_size": 6}), ("esc", {"max_samples": 7, "window_size": 3}),
    ("parallel_probe", {"num_chains": 12, "T": 10, "prune_patience": 3, "warm_up": 5}),
    ("parallel_probe", {"num_chains": 100, "T": 4, "prune_patience": 1, "warm_up": 0}),
    ("cmc", {"beta": 0.25}), ("cmc", {"beta": 0.75}), ("cmc", {"beta": 0.05}),
]


def _unseen_stores(shared) -> list[Store]:
    stores = [_store(shared, "Qwen3-1.7B/aime25")]
    # another interval length and fewer branches than most settings ask for
    few = generate_store(seed=7, questions=12, branches=24, probe_freq=300)
    stores.append(_synthetic(few, "synthetic/24-branches"))
    # many ties: two answers only, short branches
    tied = generate_store(seed=11, questions=12, branches=40, probe_freq=137)
    for q in tied["questions"]:
        for b in q["each_branch"]:
            b[0] = [str(int(a) % 2) if a.isdigit() else "0" for a in b[0]]
            b[2] = str(int(b[2]) % 2) if b[2].isdigit() else "1"
        q["gold_answer"] = "1"
    stores.append(_synthetic(tied, "synthetic/ties"))
    return stores


def _synthetic(data: dict, name: str) -> Store:
    import tempfile
    from pathlib import Path

    from ttsc.runtime.synth import dumps_store

    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "store.json"
        p.write_text(dumps_store(data))
        return load_store(p, name=name)


@pytest.mark.parametrize("engine", ["compiled", "batched"])
@pytest.mark.parametrize("method,params", UNSEEN, ids=[f"{m}-{p}" for m, p in UNSEEN])
def test_unseen_settings_match_the_plain_implementation(shared, method, params, engine):
    checked = _program(method)
    for store in _unseen_stores(shared):
        out = run(checked, bind_params(checked, params), store, range(20), engine=engine)
        acc, tok = baseline.evaluate(method, params, store, range(20))
        assert (out.accuracy, out.avg_tokens) == (acc, tok), store.name
