"""Reproducers of disagreements and crashes found by fuzzing, each run on all three engines.

Every program here once crashed an engine or made two engines disagree; each
must now check, run, and give the same per-episode numbers everywhere. INT_MIN
is written `1073741824 * 1073741824 * 8` (2**63 wraps to -2**63), since an
integer literal has at most 15 digits.
"""

from __future__ import annotations

import json

import pytest

from tests.test_differential import _program, assert_engines_agree, tiny_store
from tests.conftest import synthetic_store_path
from ttsc.compiler.engines import run
from ttsc.compiler.native_engine import PARALLEL_FROM
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store

INT_MIN = "(1073741824 * 1073741824 * 8)"
INF = "let big = 1.0e15 * 1.0e15 * 1.0e15 * 1.0e15 * 1.0e15\nlet inf = big * big * big * big * big\n"  # 1e375


REPRODUCERS = {
    # a set-valued `if` passes the checker; every engine must run it
    "if_set_in_majority": "open 3\nstop majority(if true then branches else live)",
    "if_set_in_majority_false": "open 3\nadvance active\nstop majority(if false then branches else completed)",
    "if_set_take": "var c: bool = true\nopen 3\nadvance (if c then branches else live) take 1\n"
                   "stop majority(branches)",
    "if_set_by_branch_cond": "open 4\nadvance active by count(if finished then branches else completed)\n"
                             "advance active by count(if finished then branches else completed)\n"
                             "stop majority(live)",
    "if_set_per_episode_cond": "open 4\nadvance active\n"
                               "prune (if count(completed) > 0 then active else branches) take 1\n"
                               "stop majority(if count(live) > 2 then live sorted by depth desc else completed)",
    # NaN: min/max/clamp keep Python's left-to-right comparisons
    "nan_min_max_clamp": INF +
                         "let nan = inf - inf\n"
                         "open 2\n"
                         "let a = min(nan, 1.0) let b = min(1.0, nan) let c = max(nan, 2.0) let d = max(2.0, nan)\n"
                         "let e = clamp(nan, 0.0, 1.0) let f = clamp(0.5, nan, 1.0) let g = clamp(0.5, 0.0, nan)\n"
                         "let x = min(nan, count(live)) let y = max(count(live), nan)\n"
                         "stop if a != a and b == 1.0 and c != c and d == 2.0 and e != e and f == 0.5 "
                         "and g == 0.5 and x != x and y == 2 then majority(live) else none",
    "nan_per_branch_min": INF +
                          "branch z: float = 0.0\nopen 4\nadvance active\n"
                          "update branches set z = if depth > 1 then inf - inf else 1.0 * index\n"
                          "advance active by if min(z, 1.0) != min(z, 1.0) then 2 else 1\n"
                          "advance active by if max(0.5, z) == 0.5 then 1 else 0\n"
                          "stop majority(completed)",
    # sorting by NaN keys: NaN sorts after every number ascending, before them descending
    "nan_sort_keys": INF +
                     "open 5\n"
                     "advance (branches sorted by if index % 2 == 0 then inf - inf else 1.0 * index) take 2\n"
                     "advance (branches sorted by if index % 2 == 1 then inf - inf else -inf desc) take 2\n"
                     "stop majority(completed sorted by if index == 0 then inf - inf else 0.0 * index)",
    # negating a descending key must not wrap INT_MIN to itself
    "int_min_sort_desc": f"open 4\n"
                         f"advance (branches sorted by if index == 2 then {INT_MIN} else index desc) take 1\n"
                         f"advance (branches sorted by if index == 1 then {INT_MIN} else 0 - index desc) take 2\n"
                         f"stop majority(branches sorted by tokens desc)",
    # INT_MIN folded from the parameters: abs and unary minus wrap
    "abs_int_min_open": f"open abs({INT_MIN})\nstop majority(branches)",
    "neg_int_min_take": f"open 5\nadvance (branches take -{INT_MIN}) take 3\nstop majority(branches)",
    "abs_int_min_take": f"open 5\nadvance branches take abs({INT_MIN})\nstop majority(completed)",
    "abs_int_min_repeat": f"repeat abs({INT_MIN}) {{\nopen 1\n}}\nopen 2\nstop majority(branches)",
    "advance_by_wrapped_max": f"open 3\nadvance active by {INT_MIN} - 1\nstop majority(completed)",
    "advance_by_int_max_per_branch": f"open 3\nadvance active by if index == 1 then {INT_MIN} - 1 else 1\n"
                                     f"stop majority(completed)",
    # the last k of a set no longer numbers its members from 0: a set taken from it must rank them anew
    "take_last_nested": "read 3\nlet a = unanimous((completed take last 1) take last 0)\n"
                        "let b = count((branches take last 2) take last 1)\n"
                        "let c = count((branches sorted by index desc take last 2) take 1 where index == 1)\n"
                        "let d = count((completed take last 2) take last 3)\n"
                        "stop if a then \"a\" else if b != 1 then \"b\" else if c != 1 then \"c\" "
                        "else if d != 2 then \"d\" else majority((completed take last 2) take last 1)",
}
# int vs float comparison is exact, as Python compares
REPRODUCERS["int_float_exact"] = (
    "let a = 1073741824 * 8388608 + 1\nlet f = 1073741824.0 * 8388608.0\nopen 2\n"
    "let r = if a == f then 1 else if a < f then 2 else if a > f then 3 else 4\n"
    "let big = 1073741824 * 1073741824 * 4 - 1 + 1073741824 * 1073741824 * 4\n"  # INT_MAX
    "let g = 1073741824.0 * 1073741824.0 * 8.0\n"  # 2**63, above every int
    "let s = if big < g and big != g and not big >= g and -big - 1 == -g and -big > -g then 1 else 0\n"
    "let t = if count(live) * 1073741824 * 4194304 + 1 > 1073741824.0 * 8388608.0 then 1 else 0\n"
    "stop if r == 3 and s == 1 and t == 0 then majority(live) else none")
REPRODUCERS["int_float_exact_per_episode"] = (
    "var a: int = 1073741824 * 8388608 + 1\nvar f: float = 1073741824.0 * 8388608.0\nbranch k: int = 0\n"
    "open 2\nupdate branches set k = 1073741824 * 8388608 + index\n"
    "advance active by if k > 1073741824.0 * 8388608.0 then 2 else 1\n"
    "stop if a == f or not a > f then none else majority(live)")


@pytest.mark.parametrize("name", sorted(REPRODUCERS))
def test_reproducer_agrees_on_every_engine(name):
    text = f"strategy {name}\n{REPRODUCERS[name]}\n"
    checked = _program(text, f"{name}.tts")
    params = bind_params(checked)
    assert_engines_agree(checked, params, tiny_store(), range(3), name)
    assert_engines_agree(checked, params, load_store(synthetic_store_path()), range(2), name)


@pytest.mark.parametrize("name", ["if_set_by_branch_cond", "nan_sort_keys", "int_float_exact_per_episode",
                                  "advance_by_int_max_per_branch"])
def test_reproducer_agrees_on_the_threaded_native_path(name, monkeypatch):
    """1,026 episodes: the native engine splits them over threads (from 1,024 episodes on)."""
    monkeypatch.setenv("TTSC_THREADS", "3")
    checked = _program(f"strategy {name}\n{REPRODUCERS[name]}\n", f"{name}.tts")
    store = tiny_store()
    seeds = range(-(-1026 // len(store.questions)))
    assert len(seeds) * len(store.questions) >= PARALLEL_FROM
    assert_engines_agree(checked, bind_params(checked), store, seeds, name)


# int `+ - *` and unary minus wrap on values known only while the episode runs (the compiled engine once
# let LLVM assume they never overflow, so `s * s < 0` was false and `c - s > 0` became `c > s`), and
# floor/ceil clamp beyond the int64 range (the compiled engine once overflowed before clamping)
WRAPPING = {
    "wrap_add_sub_mul": "read 1\nlet I62 = 1073741824 * 1073741824 * 4\nlet s = spent\n"
                        "let imax = I62 + (I62 - 1) + s * 0\n"
                        "stop if not (imax + s < 0) then \"add\" else if not ((0 - imax - 1) - s > 0) then \"sub\" "
                        "else if not (s * I62 * 4 == 0) then \"mul-const\" else if not (s * s < 0) then \"mul\" "
                        "else if not (-(0 - imax - 1 + s * 0) < 0) then \"neg\" "
                        "else if not (sum_of(branches, tokens * tokens) < 0) then \"sum\" else \"allwrap\"",
    "wrap_squares": "read 1\nlet sq = spent * spent\nlet big = spent * 9007\nlet bb = big * big\n"
                    "stop if sq < 0 then (if bb < 0 then \"sq<0 bb<0\" else \"sq<0 bb>=0\") "
                    "else (if bb < 0 then \"sq>=0 bb<0\" else \"sq>=0 bb>=0\")",
    "floor_ceil_clamp": "read 1\nlet f = spent * 1.0e15 * 1.0e15\n"
                        "stop if floor(f) < 0 then \"floor<0\" else if ceil(f) < 0 then \"ceil<0\" "
                        "else if floor(0.0 - f) > 0 or ceil(0.0 - f) > 0 then \"neg>0\" else \"clamped\"",
}


@pytest.mark.parametrize("name", sorted(WRAPPING))
def test_int_arithmetic_wraps_and_floor_clamps_on_every_engine(name, tmp_path):
    # branch lengths whose squares (and products) overflow int64 into both signs
    path = tmp_path / "s.json"
    path.write_text(json.dumps([{"question": "q", "gold_answer": "t", "probe_freq": 500,
                                 "each_branch": [[[], n, "A"]]} for n in (3037000500, 714992848993, 7)]))
    checked = _program(f"strategy {name}\n{WRAPPING[name]}\n", f"{name}.tts")
    store = load_store(path)
    assert_engines_agree(checked, bind_params(checked), store, range(1), name)
    want = run(checked, bind_params(checked), store, range(1), "interpret").answers[0].tolist()
    assert want == {"wrap_add_sub_mul": ["allwrap", "mul", "mul"],
                    "wrap_squares": ["sq<0 bb<0", "sq>=0 bb<0", "sq>=0 bb>=0"],
                    "floor_ceil_clamp": ["clamped", "clamped", "clamped"]}[name]
