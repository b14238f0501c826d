"""The on-disk cache of parsed stores: the same store as parsing the file, never stale, never required."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ttsc.compiler.engines import run
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.parser import parse_source
from ttsc.runtime import store_cache
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store, parse_store
from ttsc.runtime.tables import ReplayTables

STORE = [
    {"question": "q0", "gold_answer": "2", "probe_freq": 500,
     "each_branch": [[["3", "2", "ERR"], 1800, "2"], [[], 80, "ERR"], [["7"], 900, "7"]]},
    {"question": "q1 ünïcode \ud83d\ude00", "gold_answer": "never given", "probe_freq": 7,
     "each_branch": [[["a", "b"], 20, "a"], [["b"], 14, "b"]]},
]


def _write(path: Path, questions: list, meta: dict | None = None) -> Path:
    data = questions if meta is None else {"meta": meta, "questions": questions}
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def _entry(path: Path) -> Path:
    return store_cache._entry(store_cache.key(path.read_bytes()))


def _assert_same_tables(a: ReplayTables, b: ReplayTables) -> None:
    for name in ("probe_flat", "probe_start", "n_probes", "total_tokens", "final_ids", "n_branches", "probe_freq",
                 "gold_ids"):
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and np.array_equal(x, y), name
    assert a.vocab == b.vocab and a.golds == b.golds


def test_a_cached_store_is_the_parsed_store(tmp_path):
    path = _write(tmp_path / "s.json", STORE, meta={"non_answers": ["ERR"], "x": 1.5})
    first = load_store(path)
    assert _entry(path).is_file()
    again = load_store(path, name="other/name")
    assert again._questions is None  # from the cache: questions not built yet
    fresh = parse_store(path.read_bytes(), str(path), "other/name")
    assert again.name == "other/name" and again.path == str(path) and again.meta == fresh.meta
    assert again.questions == fresh.questions and again == fresh and first.questions == fresh.questions
    _assert_same_tables(again.tables, ReplayTables.from_store(fresh))
    assert again.tables.probe_flat.flags.writeable  # numba compiles read-only arrays as another type


def test_engines_give_the_same_episodes_on_a_cached_store(tmp_path):
    path = _write(tmp_path / "s.json", STORE)
    src = Source("<t>", "strategy t\nopen 2\nadvance active by 1\nstop majority(live)\n")
    checked = check(parse_source(src), src)
    params = bind_params(checked, {})
    fresh = parse_store(path.read_bytes(), str(path), "s")
    load_store(path)
    hit = load_store(path)
    for engine in ("interpret", "batched", "compiled"):
        a, b = run(checked, params, fresh, range(5), engine), run(checked, params, hit, range(5), engine)
        for f in ("answers", "correct", "tokens", "sequential", "rounds", "opened", "pruned", "stop_line"):
            assert np.array_equal(getattr(a, f), getattr(b, f)), (engine, f)


def test_a_changed_file_never_meets_a_stale_entry(tmp_path):
    path = _write(tmp_path / "s.json", STORE)
    assert load_store(path).questions[0].branches[0].total_tokens == 1800
    stat = path.stat()
    changed = path.read_text(encoding="utf-8").replace("1800", "1700")  # same size
    path.write_text(changed, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same modification time
    assert path.stat().st_size == stat.st_size
    reloaded = load_store(path)
    assert reloaded.questions[0].branches[0].total_tokens == 1700
    assert reloaded.tables.total_tokens[0, 0] == 1700


def test_an_unwritable_cache_folder_only_costs_the_parse(tmp_path, monkeypatch):
    blocker = tmp_path / "a-file"
    blocker.write_text("", encoding="utf-8")
    monkeypatch.setenv("TTSC_CACHE_DIR", str(blocker / "cache"))  # a folder inside a file cannot be made
    path = _write(tmp_path / "s.json", STORE)
    for _ in range(2):
        store = load_store(path)
        assert store == parse_store(path.read_bytes(), str(path), store.name)


@pytest.mark.parametrize("damage", [b"", b"garbage", None])
def test_a_damaged_entry_is_rebuilt(tmp_path, damage):
    path = _write(tmp_path / "s.json", STORE)
    load_store(path)
    entry = _entry(path)
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) - 9] if damage is None else damage)  # cut short, emptied, replaced
    assert store_cache.read_entry(store_cache.key(path.read_bytes()), "s", str(path)) is None
    store_cache.forget()  # this process holds the store in memory: load from the folder again
    assert load_store(path) == parse_store(path.read_bytes(), str(path), load_store(path).name)
    assert entry.read_bytes() == data  # written again whole


def test_concurrent_loads_agree_and_leave_one_whole_entry(tmp_path):
    path = _write(tmp_path / "s.json", STORE * 200)
    code = ("import sys\nfrom ttsc.runtime.store import load_store\n"
            "s = load_store(sys.argv[1])\nprint(len(s.questions), int(s.tables.total_tokens.sum()))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True)
             for _ in range(6)]
    outs = {p.communicate()[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    assert outs == {f"400 {200 * (1800 + 80 + 900 + 20 + 14)}"}
    folder = _entry(path).parent
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []
    hit = store_cache.read_entry(store_cache.key(path.read_bytes()), "s", str(path))
    assert hit is not None and hit == parse_store(path.read_bytes(), str(path), "s")


def test_a_store_loaded_again_is_the_same_object_until_its_file_changes(tmp_path):
    """Kept in memory by content (a daemon serves every command from one process): the engines reuse
    their per-store data, and a changed file is read again."""
    path = _write(tmp_path / "s.json", STORE)
    first = load_store(path)
    assert load_store(path) is first
    assert load_store(path, name="other") is not first  # another name: another store object
    assert load_store(f"{tmp_path}/./s.json") is not first  # named by another path: so is its `path`
    changed = json.loads(path.read_text())
    changed[0]["gold_answer"] = "changed"
    _write(path, changed)
    again = load_store(path)
    assert again is not first and again.questions[0].gold == "changed"
    for i in range(store_cache.RECENT + 5):  # bounded: the oldest go first
        load_store(_write(tmp_path / f"s{i}.json", STORE))
    assert len(store_cache._recent) == store_cache.RECENT and load_store(path) is not again
