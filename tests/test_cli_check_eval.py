"""`ttsc check`, `ttsc eval` and `ttsc synth` end to end, through the click commands in-process.

Each error path must give a clean message (no traceback) and a non-zero exit,
and must leave the file system as it found it.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from ttsc.cli.loading import load_program
from ttsc.cli.main import cli
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import default_store_path, load_store
from ttsc.runtime.synth import dumps_store, generate_store

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ROOT / "strategies"
FIELDS = {"strategy", "env", "params", "accuracy", "avg_tokens", "avg_sequential_tokens", "seconds",
          "compile_seconds"}


def _runner() -> CliRunner:
    # click < 8.2 mixes stderr into stdout unless told not to; later versions always keep both.
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()


def ttsc(*args: str | Path) -> Result:
    result = _runner().invoke(cli, [str(a) for a in args])
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    return result


def snapshot(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under ``root`` with its size and modification time."""
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(root.rglob("*"))}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# ---- check -------------------------------------------------------------------


def test_check_valid_files() -> None:
    files = sorted(STRATEGIES.glob("*.tts"))
    result = ttsc("check", *files)
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [f"ok: {f}" for f in files]


def test_check_takes_shipped_names_like_eval(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = ttsc("check", "cmc", "sc", "--beta-monotone")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[-1] == "ok: sc" and "ok: cmc" in result.stdout
    result = ttsc("check", "nosuch")  # neither a file nor a shipped name: the located E0001 with its hint
    assert result.exit_code == 1 and "E0001" in result.stderr and "shipped strategy" in result.stderr
    write(tmp_path / "cmc", "strategy mine\nstop gold\n")  # a file of that name is the user's: it wins
    result = ttsc("check", "cmc")
    assert result.exit_code == 1 and "cmc:2:6" in result.stderr


def test_check_mixed_files_reports_each_invalid_one(tmp_path: Path) -> None:
    good = STRATEGIES / "sc.tts"
    bad1 = write(tmp_path / "bad1.tts", "strategy b\nstop gold\n")
    bad2 = write(tmp_path / "bad2.tts", "strategy b\nbreak\nstop 1\n")
    result = ttsc("check", bad1, good, bad2)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [f"ok: {good}"]
    err = result.stderr
    assert err.index(f"{bad1}:2:6") < err.index(f"{bad2}:2:1") < err.index(f"{bad2}:3:6")
    assert f"error: {bad1} was not accepted" in err and f"2 errors: {bad2} was not accepted" in err


def test_check_json_format(tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.tts", "strategy b\nlet x = unknwn\nstop none\n")
    result = ttsc("check", "--format", "json", STRATEGIES / "sc.tts", bad)
    assert result.exit_code == 1
    (entry,) = json.loads(result.stdout)
    assert entry["code"] == "E0201" and entry["file"] == str(bad)
    assert (entry["line"], entry["col"], entry["end_line"], entry["end_col"]) == (2, 9, 2, 15)
    assert entry["source_line"] == "let x = unknwn"
    assert "ok:" not in result.stdout


def test_check_json_all_valid_is_an_empty_list() -> None:
    result = ttsc("check", "--format", "json", STRATEGIES / "asc.tts", STRATEGIES / "esc.tts")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_check_needs_a_file() -> None:
    result = _runner().invoke(cli, ["check"])
    assert result.exit_code == 2 and "Missing argument" in result.output


# ---- eval --------------------------------------------------------------------


def direct(strategy: str, overrides: dict, seeds: int, store_path: Path | None = None) -> dict:
    """The numbers `ttsc eval` should print, computed through the library."""
    checked = load_program(STRATEGIES / f"{strategy}.tts")
    params = bind_params(checked, overrides)
    store = load_store(store_path or default_store_path())
    out = run(checked, params, store, range(seeds))
    return {"params": params, "accuracy": out.accuracy, "avg_tokens": out.avg_tokens,
            "avg_sequential_tokens": out.avg_sequential_tokens}


def eval_json(*args: str | Path) -> list[dict]:
    result = ttsc("eval", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_eval_default_store_table() -> None:
    result = ttsc("eval", STRATEGIES / "cmc.tts", "--seeds", "3")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "cmc"
    assert "bundled/default" in result.stdout and "beta=0.5" in result.stdout
    want = direct("cmc", {}, 3)
    assert f"{want['accuracy']:.2f}" in result.stdout
    assert f"{want['avg_tokens']:,.1f}" in result.stdout


def test_eval_json_fields_and_values() -> None:
    (row,) = eval_json(STRATEGIES / "parallel_probe.tts", "--seeds", "2", "--set", "T=5")
    assert set(row) == FIELDS
    assert row["strategy"] == "parallel_probe" and row["env"] == "bundled/default"
    # Every parameter, defaults included, in declaration order.
    assert list(row["params"].items()) == [("num_chains", 64), ("T", 5), ("prune_patience", 7), ("warm_up", 15)]
    want = direct("parallel_probe", {"T": 5}, 2)
    assert {k: row[k] for k in want} == want
    assert isinstance(row["seconds"], float) and row["seconds"] >= 0


def test_eval_set_changes_the_result() -> None:
    (few,) = eval_json(STRATEGIES / "sc.tts", "--seeds", "2", "--set", "n=1")
    (many,) = eval_json(STRATEGIES / "sc.tts", "--seeds", "2")
    assert few["params"] == {"n": 1} and many["params"] == {"n": 64}
    assert few["avg_tokens"] < many["avg_tokens"]
    assert few == {**few, **direct("sc", {"n": 1}, 2)}


def test_eval_set_float_and_bool_values(tmp_path: Path) -> None:
    prog = write(tmp_path / "p.tts", "strategy p\nparam k: int = 2 in 1..\nparam f: float = 0.5\n"
                                     "param b: bool = false\nread k\nstop majority(completed)\n")
    (row,) = eval_json(prog, "--seeds", "1", "--set", "k=3.0", "--set", "f=1", "--set", "b=TRUE")
    assert row["params"] == {"k": 3, "f": 1.0, "b": True}
    assert type(row["params"]["k"]) is int and type(row["params"]["f"]) is float


def test_eval_sweep_is_the_cartesian_product_in_order() -> None:
    rows = eval_json(STRATEGIES / "esc.tts", "--seeds", "1", "--sweep", "max_samples=16,8",
                     "--sweep", "window_size=2,4,8")
    assert [(r["params"]["max_samples"], r["params"]["window_size"]) for r in rows] == [
        (16, 2), (16, 4), (16, 8), (8, 2), (8, 4), (8, 8)]
    for r in rows[:2]:
        want = direct("esc", r["params"], 1)
        assert {k: r[k] for k in want} == want


def test_eval_sweep_with_set(tmp_path: Path) -> None:
    rows = eval_json(STRATEGIES / "esc.tts", "--seeds", "1", "--set", "window_size=2", "--sweep", "max_samples=4,6")
    assert [r["params"] for r in rows] == [{"max_samples": 4, "window_size": 2}, {"max_samples": 6, "window_size": 2}]


def test_eval_sweep_accepts_the_range_syntax_of_sweep() -> None:
    rows = eval_json(STRATEGIES / "esc.tts", "--seeds", "1", "--sweep", "max_samples=4:10:3")
    assert [r["params"]["max_samples"] for r in rows] == [4, 7, 10]


def test_eval_csv() -> None:
    result = ttsc("eval", STRATEGIES / "sc.tts", "--seeds", "2", "--sweep", "n=1,3", "--format", "csv")
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0] == ["strategy", "env", "params", "accuracy", "avg_tokens", "avg_sequential_tokens", "seconds",
                       "compile_seconds"]
    assert len(rows) == 3
    for row, n in zip(rows[1:], (1, 3)):
        assert row[:2] == ["sc", "bundled/default"]
        assert json.loads(row[2]) == {"n": n}
        want = direct("sc", {"n": n}, 2)
        assert [float(x) for x in row[3:6]] == [want["accuracy"], want["avg_tokens"], want["avg_sequential_tokens"]]


def _tree(root: Path) -> dict[str, Path]:
    """A tiny store tree <model>/<benchmark>.json of synthetic stores."""
    paths = {}
    for i, name in enumerate(["m-small/aime", "m-small/hmmt", "m-big/aime"]):
        data = generate_store(seed=i, questions=3, branches=6, probe_freq=40)
        paths[name] = write(root / f"{name}.json", dumps_store(data))
    return paths


def test_eval_env_directory_tree(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "stores")
    rows = eval_json(STRATEGIES / "sc.tts", "--seeds", "2", "--set", "n=4", "--env", tmp_path / "stores")
    assert [r["env"] for r in rows] == ["m-big/aime", "m-small/aime", "m-small/hmmt"]
    for r in rows:
        want = direct("sc", {"n": 4}, 2, paths[r["env"]])
        assert {k: r[k] for k in want} == want


def test_eval_env_file_and_several_envs(tmp_path: Path) -> None:
    paths = _tree(tmp_path / "stores")
    rows = eval_json(STRATEGIES / "sc.tts", "--seeds", "1", "--env", paths["m-small/hmmt"],
                     "--env", tmp_path / "stores" / "m-big")
    assert [r["env"] for r in rows] == ["m-small/hmmt", "aime"]


def test_eval_env_file_in_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A store named by a bare file name gets its folder's name, not an empty one.
    write(tmp_path / "here" / "store.json", dumps_store(generate_store(questions=2, branches=3)))
    monkeypatch.chdir(tmp_path / "here")
    (row,) = eval_json(STRATEGIES / "sc.tts", "--seeds", "1", "--env", "store.json")
    assert row["env"] == "here/store"


def test_eval_same_store_name_twice_is_refused(tmp_path: Path) -> None:
    a = write(tmp_path / "x" / "s.json", dumps_store(generate_store(questions=2, branches=3)))
    result = ttsc("eval", STRATEGIES / "sc.tts", "--env", a, "--env", a)
    assert result.exit_code != 0 and "also used by" in result.stderr


BAD_STORES = {
    # name: (file text, words the message must contain)
    "invalid-json": ('{"questions": [', ["not valid JSON", "line 1"]),
    "not-utf8": (None, ["not valid UTF-8"]),
    "missing-key": ('[{"question": "q", "probe_freq": 5, "each_branch": [[["1"], 10, "1"]]}]',
                    ["question 0", "missing key 'gold_answer'"]),
    "probe-freq-zero": ('[{"question": "q", "gold_answer": "1", "probe_freq": 0, "each_branch": [[["1"], 10, "1"]]}]',
                        ["question 0", "'probe_freq'", "got 0"]),
    "empty-branches": ('[{"question": "q", "gold_answer": "1", "probe_freq": 5, "each_branch": []}]',
                       ["question 0", "'each_branch'", "no branches"]),
    "bad-branch": ('[{"question": "q", "gold_answer": "1", "probe_freq": 5, "each_branch": [[["1"], 10]]}]',
                   ["question 0", "branch 0", "[probes, total_tokens, final_answer]"]),
    "second-question": ('[{"question": "q", "gold_answer": "1", "probe_freq": 5, "each_branch": [[["1"], 10, "1"]]},'
                        ' {"question": "q", "gold_answer": 1, "probe_freq": 5, "each_branch": [[["1"], 10, "1"]]}]',
                        ["question 1", "'gold_answer'"]),
    "no-questions": ("[]", ["no questions"]),
    "wrong-top-level": ('{"data": []}', ["'questions'"]),
}


@pytest.mark.parametrize("name", BAD_STORES)
def test_eval_malformed_store(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text, words = BAD_STORES[name]
    store = tmp_path / "stores" / "m" / f"{name}.json"
    store.parent.mkdir(parents=True)
    if text is None:
        store.write_bytes(b'[{"question": "caf\xe9"}]')
    else:
        store.write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    for env in (store, tmp_path / "stores"):  # the file itself, and found in a directory
        result = ttsc("eval", STRATEGIES / "sc.tts", "--seeds", "1", "--format", "json", "--env", env)
        assert result.exit_code != 0
        assert result.stdout == ""
        assert str(store) in result.stderr
        for word in words:
            assert word in result.stderr, result.stderr
    assert snapshot(tmp_path) == before


def test_eval_malformed_program(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prog = write(tmp_path / "bad.tts", "strategy b\nstop gold\n")
    monkeypatch.chdir(tmp_path)
    before = snapshot(tmp_path)
    result = ttsc("eval", prog, "--seeds", "1")
    assert result.exit_code != 0 and result.stdout == ""
    assert "error[E0201]: unknown name `gold`" in result.stderr and f"{prog}:2:6" in result.stderr
    assert snapshot(tmp_path) == before


def test_eval_missing_program_and_env(tmp_path: Path) -> None:
    result = ttsc("eval", tmp_path / "nope.tts")
    assert result.exit_code != 0 and "E0001" in result.stderr and "nope.tts" in result.stderr
    # no empty source line with a caret under it for a file that was never read; a hint instead
    assert "1 | \n" not in result.stderr and "^" not in result.stderr and "shipped strategy" in result.stderr
    result = ttsc("eval", STRATEGIES / "sc.tts", "--env", tmp_path / "nope")
    assert result.exit_code != 0 and "does not exist" in result.stderr
    (tmp_path / "empty").mkdir()
    result = ttsc("eval", STRATEGIES / "sc.tts", "--env", tmp_path / "empty")
    assert result.exit_code != 0 and "holds no *.json store" in result.stderr


BAD_SETS = {
    "unknown-parameter": (["--set", "m=3"], ["no parameter `m`", "parameters: n"]),
    "wrong-type": (["--set", "n=abc"], ["--set n=abc", "`abc` is not a number"]),
    "not-an-int": (["--set", "n=1.5"], ["`n`", "is an int", "1.5"]),
    "bool-for-int": (["--set", "n=true"], ["`n`", "is an int; got true"]),
    "int64-float-syntax": (["--set", "n=1e99"], ["`n` = 1e+99", "int64 range", "9223372036854775807"]),
    "int64-above": (["--set", "n=9223372036854775808"], ["`n` = 9223372036854775808", "int64 range"]),
    "int64-below": (["--set", "n=-9223372036854775809"], ["`n` = -9223372036854775809", "int64 range"]),
    "int-past-digit-limit": (["--set", "n=" + "1" * 5000], ["5,000 digits"]),
    "underscore-digits": (["--set", "n=1_000"], ["`1_000` is not a number", "an integer like 8"]),
    "non-ascii-digit": (["--set", "n=\uff11"], ["is not a number", "an integer like 8"]),
    "sweep-int64": (["--sweep", "n=9223372036854775807:9223372036854775808:1"], ["int64 range"]),
    "sweep-empty-value": (["--sweep", "n=1,,2"], ["--sweep n=1,,2", "empty value"]),
    "sweep-trailing-comma": (["--sweep", "n=1,"], ["empty value"]),
    "out-of-range": (["--set", "n=0"], ["`n` = 0", "outside its range 1.."]),
    "no-equals": (["--set", "n"], ["--set takes NAME=VALUE", "`n`"]),
    "no-name": (["--set", "=3"], ["--set takes NAME=VALUE"]),
    "not-finite": (["--set", "n=inf"], ["not a finite number"]),
    "sweep-no-values": (["--sweep", "n="], ["--sweep takes NAME=V1,V2"]),
    "sweep-bad-range": (["--sweep", "n=1:2"], ["a range is start:stop:step"]),
    "sweep-bad-value": (["--sweep", "n=1,x"], ["--sweep n=1,x", "`x`"]),
    "sweep-out-of-range": (["--sweep", "n=1,0"], ["`n` = 0", "outside its range"]),
    "sweep-twice": (["--sweep", "n=1", "--sweep", "n=2"], ["swept once"]),
    "sweep-unknown": (["--sweep", "k=1,2"], ["no parameter `k`"]),
}


@pytest.mark.parametrize("name", BAD_SETS)
def test_eval_bad_parameter_values(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    args, words = BAD_SETS[name]
    monkeypatch.chdir(tmp_path)
    result = ttsc("eval", STRATEGIES / "sc.tts", "--seeds", "1", *args)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1, result.stderr
    for word in words:
        assert word in result.stderr, result.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_int64_limit_is_one_rule_for_every_engine_and_command(tmp_path: Path) -> None:
    """Every command binds parameters through bind_params, so each refuses the same way on each engine."""
    at_limit = "n=9223372036854775807"
    past = "n=9223372036854775808"
    for engine in ("interpret", "batched", "compiled"):
        result = ttsc("eval", STRATEGIES / "sc.tts", "--seeds", "1", "--engine", engine, "--set", past)
        assert result.exit_code != 0 and "int64 range" in result.stderr, (engine, result.stderr)
        assert len(result.stderr.splitlines()) == 1
    (row,) = eval_json(STRATEGIES / "sc.tts", "--seeds", "1", "--engine", "interpret", "--set", at_limit)
    assert row["params"] == {"n": 2**63 - 1}
    for args in (("compare", "sc", "sc", "--seeds", "1", "--set-a", past),
                 ("trace", "sc", "--set", past),
                 ("sweep", "sc", "--seeds", "1", "--out", tmp_path / "out", "--sweep",
                  "n=9223372036854775807:9223372036854775808:1"),
                 ("sweep", "asc", "--seeds", "1", "--out", tmp_path / "out", "--sweep", "max_samples=2",
                  "--set", "threshold=1_0")):
        result = ttsc(*args)
        assert result.exit_code != 0 and result.stderr.startswith("error: "), (args, result.stderr)
        assert "int64 range" in result.stderr or "is not a number" in result.stderr, (args, result.stderr)
    result = ttsc("eval", "asc", "--seeds", "1", "--set", "threshold=" + "1" * 400)
    assert result.exit_code != 0 and "too large for a float" in result.stderr


def test_eval_bad_seeds() -> None:
    result = ttsc("eval", STRATEGIES / "sc.tts", "--seeds", "0")
    assert result.exit_code == 2 and "--seeds" in result.stderr


# ---- synth -------------------------------------------------------------------


def test_synth_writes_a_loadable_store(tmp_path: Path) -> None:
    out = tmp_path / "s.json"
    result = ttsc("synth", out, "--seed", "3", "--questions", "4", "--branches", "5", "--probe-freq", "50")
    assert result.exit_code == 0, result.output
    assert str(out) in result.stdout and "synthetic" in result.stdout
    store = load_store(out)
    assert len(store.questions) == 4 and all(len(q.branches) == 5 for q in store.questions)
    assert {q.probe_freq for q in store.questions} == {50}
    assert store.meta["synthetic"] is True and store.meta["seed"] == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json"]  # no temporary file left behind
    # and a strategy runs on it
    (row,) = eval_json(STRATEGIES / "sc.tts", "--seeds", "1", "--env", out)
    assert row["env"] == f"{tmp_path.name}/s"


def test_synth_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    out = write(tmp_path / "s.json", "precious")
    result = ttsc("synth", out, "--questions", "2", "--branches", "2")
    assert result.exit_code != 0 and "--force" in result.stderr
    assert out.read_text() == "precious"
    result = ttsc("synth", out, "--questions", "2", "--branches", "2", "--force")
    assert result.exit_code == 0
    assert len(load_store(out).questions) == 2


def test_synth_is_deterministic_by_seed(tmp_path: Path) -> None:
    args = ("--questions", "3", "--branches", "4")
    for name, seed in (("a", "1"), ("b", "1"), ("c", "2")):
        assert ttsc("synth", tmp_path / f"{name}.json", "--seed", seed, *args).exit_code == 0
    a, b, c = ((tmp_path / f"{name}.json").read_bytes() for name in "abc")
    assert a == b and a != c
    assert a.decode() == dumps_store(generate_store(seed=1, questions=3, branches=4))


def test_synth_bad_arguments(tmp_path: Path) -> None:
    for args in (["--questions", "0"], ["--branches", "0"], ["--probe-freq", "0"], ["--seed", "x"]):
        result = ttsc("synth", tmp_path / "s.json", *args)
        assert result.exit_code == 2, args
    result = ttsc("synth", tmp_path / "no" / "such" / "dir.json")
    assert result.exit_code != 0 and "cannot write" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_eval_refuses_a_parameter_given_to_both_set_and_sweep():
    from click.testing import CliRunner

    from ttsc.cli.main import cli

    res = CliRunner().invoke(cli, ["eval", "sc", "--set", "n=4", "--sweep", "n=4,8", "--seeds", "1"])
    assert res.exit_code != 0
    assert "`n` is given to both --set and --sweep" in res.output and "Traceback" not in res.output


def test_an_unwritable_kernel_cache_points_to_the_batched_engine(tmp_path, monkeypatch) -> None:
    from ttsc.compiler import native_engine

    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("TTSC_CACHE_DIR", str(tmp_path / "a-file" / "cache"))  # cannot be made a folder
    monkeypatch.setattr(native_engine, "_memory", {})
    monkeypatch.setattr(native_engine, "_ready", set())
    prog = write(tmp_path / "tiny.tts", "strategy tiny_no_cache\nparam k: int = 3\nopen k\nstop majority(live)\n")
    result = ttsc("eval", prog, "--seeds", "1")
    assert result.exit_code != 0 and result.stdout == ""
    assert "cannot write the native kernel" in result.stderr and "--engine batched" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    result = ttsc("eval", prog, "--seeds", "1", "--engine", "batched")  # as the hint says: it runs
    assert result.exit_code == 0, result.stderr


def test_eval_says_when_it_compiles_and_times_compiling_apart(tmp_path, monkeypatch) -> None:
    """The first run of a kernel says "compiling …" and reports its time as compile_seconds, not seconds."""
    from ttsc.compiler import native_engine

    monkeypatch.setenv("TTSC_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setattr(native_engine, "_memory", {})
    monkeypatch.setattr(native_engine, "_ready", set())
    prog = write(tmp_path / "tiny.tts", "strategy tiny_compile_notice\nparam k: int = 3\nopen k\nstop majority(live)\n")
    first = ttsc("eval", prog, "--seeds", "2", "--format", "json")
    assert first.exit_code == 0, first.stderr
    assert first.stderr.count("compiling tiny_compile_notice …") == 1
    (row,) = json.loads(first.stdout)
    assert row["compile_seconds"] > row["seconds"] >= 0  # numba's compile dwarfs 2 seeds of a tiny store

    monkeypatch.setattr(native_engine, "_memory", {})  # a new process: the machine code is on disk now
    monkeypatch.setattr(native_engine, "_ready", set())
    again = ttsc("eval", prog, "--seeds", "2", "--format", "json")
    assert again.exit_code == 0 and "compiling" not in again.stderr
    quiet = ttsc("eval", prog, "--seeds", "2", "--quiet", "--format", "csv")
    assert "compiling" not in quiet.stderr and quiet.stdout.splitlines()[0].endswith(",seconds,compile_seconds")


def test_env_takes_a_quoted_glob_in_eval_sweep_and_compare(tmp_path: Path) -> None:
    # Synthetic stores, so the test needs no shared data; the glob is expanded by ttsc itself, sorted.
    for model, seed in (("m2", 2), ("m1", 1)):
        (tmp_path / model).mkdir()
        (tmp_path / model / "bench.json").write_text(dumps_store(generate_store(seed=seed, questions=4, branches=6)))
    pattern = str(tmp_path / "*" / "bench.json")
    by_glob = eval_json(STRATEGIES / "sc.tts", "--env", pattern, "--set", "n=3", "--seeds", "2")
    by_path = eval_json(STRATEGIES / "sc.tts", "--env", tmp_path / "m1" / "bench.json",
                        "--env", tmp_path / "m2" / "bench.json", "--set", "n=3", "--seeds", "2")
    assert len(by_glob) == 2 and [r["accuracy"] for r in by_glob] == [r["accuracy"] for r in by_path]
    assert [r["avg_tokens"] for r in by_glob] == [r["avg_tokens"] for r in by_path]
    swept = ttsc("sweep", "sc", "--env", pattern, "--sweep", "n=2,3", "--seeds", "2", "--format", "csv")
    assert swept.exit_code == 0, swept.stderr
    assert "m1/bench" in swept.stdout and "m2/bench" in swept.stdout
    compared = ttsc("compare", "sc", "esc", "--env", pattern, "--seeds", "2", "--format", "json")
    assert compared.exit_code == 0, compared.stderr
    for command in ("eval", "sweep", "compare"):
        args = [command, "sc"] + (["esc"] if command == "compare" else []) + ["--env", str(tmp_path / "*" / "x.json")]
        result = ttsc(*args)
        assert result.exit_code == 2 and "no store matches" in result.stderr and "Traceback" not in result.stderr
