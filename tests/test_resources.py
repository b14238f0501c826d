"""Work and memory are bounded by the size of the input, not by products of its extremes."""

from __future__ import annotations

import difflib
import tracemalloc

import numpy as np
import pytest

from tests.conftest import synthetic_store_path
from ttsc.compiler.engines import run, run_env
from ttsc.compiler.interpret import _Window
from ttsc.dsl import checker as checker_mod
from ttsc.dsl import ops
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import DiagnosticError, Source
from ttsc.dsl.parser import parse_source
from ttsc.runtime.params import bind_params
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.store import Branch, Question, Store, load_store


def _program(text: str):
    src = Source("<test>", text)
    return check(parse_source(src), src)


# ---- replay memory -------------------------------------------------------------------------------


def test_replay_memory_follows_the_store_not_branches_times_the_longest_branch():
    """Regression: 4,097 branches, one with 150,000 probes, made `batched` allocate 2.5 GB for `read 1`."""
    branches = (Branch(tuple("ab"[i % 2] for i in range(150_000)), 10**7, "a"),) + tuple(
        Branch(("b",), 100, "b") for _ in range(4_096))
    store = Store("big", "big", (Question("q", "a", 10, branches),))
    checked = _program("strategy r\nread 1\nopen 2\nadvance active by 3\nstop majority(completed)\n")
    tracemalloc.start()
    try:
        out = run_env(checked, bind_params(checked, {}), ReplayEnvironment(store, range(20)), "batched")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 40 * 2**20, f"peak {peak / 2**20:.0f} MiB"  # the padded [Q, B, I] table alone is 2.3 GiB
    want = run(checked, bind_params(checked, {}), store, range(20), "interpret")
    assert (out.answers == want.answers).all() and (out.tokens == want.tokens).all()


# ---- name suggestions ----------------------------------------------------------------------------


def test_name_suggestions_are_bounded(monkeypatch):
    """Regression: 1,000 lets and 1,000 misspelt names took 33 s: every error compared with every name."""
    compared = []
    real = difflib.get_close_matches
    monkeypatch.setattr(difflib, "get_close_matches",
                        lambda word, pool, n=3: compared.append(len(pool)) or real(word, pool, n=n))
    lines = ["strategy big", "param k: int = 3", *(f"let value_{i} = {i}" for i in range(1000)),
             *(f"let other_{i} = valeu_{i} + 1" for i in range(1000)), "open k", "stop majority(live)"]
    with pytest.raises(DiagnosticError) as err:
        _program("\n".join(lines) + "\n")
    diags = [d for d in err.value.diagnostics if d.code == "E0201"]
    assert len(diags) == 1000
    assert sum(compared) <= checker_mod.SUGGESTION_BUDGET
    assert diags[0].help == "did you mean `value_0`?"  # the first ones still get their suggestion
    assert diags[-1].help == "names must be declared before they are used"


# ---- windows -------------------------------------------------------------------------------------


def _sequential_mean(values) -> float:
    total = 0.0
    for v in values:
        total += v
    return total / len(values) if values else 0.0


@pytest.mark.parametrize("values", [
    [1.0] * 50,
    [2.0**39, -(2.0**39), 2.0**39, 3.0, -0.0, 7.0] * 9,
    [0.1, 1.0, 2.0, 1e300, -1e300, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0],  # not whole, then whole again
    [float("nan"), 1.0, 2.0, 3.0, 4.0, 5.0],
    [2.0**60, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # too large to keep as a sum: summed one at a time
])
def test_window_mean_is_the_oldest_first_sum_bit_for_bit(values):
    w = _Window(5)
    for i, v in enumerate(values):
        w.push(v)
        got, want = ops.mean(w), _sequential_mean(list(w))
        assert got == want or (np.isnan(got) and np.isnan(want)), (i, list(w))
        assert str(got) == str(want)  # the sign of zero too


def test_window_engines_agree_and_mean_is_constant_time():
    """Regression: `repeat 100000 { push 1 to w; if mean(w) > 2.0 … }` on window(10000) ran for minutes."""
    store = load_store(synthetic_store_path())
    text = ("strategy win\nparam n: int = 3000\nvar w: window(1000)\nvar v: window(7)\nvar hits: int = 0\n"
            "open 1\nrepeat n {\n  push 1 to w\n  push hits * 0.1 to v\n  if mean(w) > 0.5 and mean(v) < 3.0 {\n"
            "    hits = hits + 1\n  }\n}\nadvance active by hits // 10\nstop majority(live)\n")
    checked = _program(text)
    params = bind_params(checked, {})
    a = run(checked, params, store, range(2), "interpret")
    b = run(checked, params, store, range(2), "batched")
    assert (a.tokens == b.tokens).all() and (a.answers == b.answers).all()


def window_program(capacity: int, pushes: int) -> str:
    """The fuzzer's window program: many pushes of whole numbers, each followed by a mean."""
    return (f"strategy win\nvar w: window({capacity})\nvar hits: int = 0\nopen 1\nrepeat {pushes} {{\n"
            "  push 1 to w\n  if mean(w) > 2.0 {\n    hits = hits + 1\n  }\n  if mean(w) < 1.0 {\n"
            "    hits = hits + 2\n  }\n}\nadvance active by hits + 1\nstop majority(live)\n")


def test_large_window_program_agrees_on_every_engine():
    """Regression: `var w: window(10000)`, `repeat 100000 { push 1 to w; if mean(w) > 2.0 … }` summed the
    whole window at every `mean` on the native engine (~120 s); every engine keeps the exact sum now."""
    from tests.test_differential import assert_engines_agree

    full = load_store(synthetic_store_path())
    store = Store(full.name, full.path, full.questions[:5])
    checked = _program(window_program(10_000, 20_000))
    assert_engines_agree(checked, bind_params(checked, {}), store, range(1), "window(10000)")


def test_window_mean_is_exact_on_every_engine():
    """Every engine's `mean` is the oldest-first float sum bit for bit, whatever the window held before:
    large, fractional, infinite and NaN values come and go, and whole numbers are summed exactly again.
    The program keeps the window's last five values itself and stops at the first `mean` that differs
    from their oldest-first sum."""
    from tests.test_differential import assert_engines_agree

    values = (["549755813888.0", "0.0 - 549755813888.0", "549755813888.0", "3.0", "-0.0", "7.0"] * 2
              + ["0.1", "1.0", "2.0", "huge", "0.0 - huge", "5.0", "6.0", "7.0", "8.0", "9.0", "huge * huge - huge * huge",
                 "1.0", "2.0", "3.0", "4.0", "5.0", "huge * huge", "1.0", "0.0 - huge * huge", "2.0", "3.0", "4.0",
                 "5.0", "6.0", "1073741824.0 * 1073741824.0", "1.0", "1.0", "1.0", "1.0", "1.0",
                 "1099511627776.0", "1.0", "1.0", "1.0", "1.0", "1.0", "0.5", "0.25", "3.0", "0.1", "0.2", "0.7"])
    lines = ["strategy exact", "var w: window(5)", "var huge: float = 100000000000000.0", "var n: int = 0",
             *(f"var v{k}: float = 0.0" for k in range(1, 6)), "var s: float = 0.0", "var x: float = 0.0",
             "repeat 21 {\n  huge = huge * 100000000000000.0\n}"]  # 1e294: huge * huge is inf
    for v in values:
        lines += [f"x = {v}", "v1 = v2", "v2 = v3", "v3 = v4", "v4 = v5", "v5 = x", "n = min(n + 1, 5)",
                  "push x to w", "s = 0.0",
                  *(f"if n >= {6 - k} {{\n  s = s + v{k}\n}}" for k in range(1, 6)),
                  "if not (mean(w) == s / n or (mean(w) != mean(w) and s != s)) {\n  stop none\n}"]
    lines += ["open 1", "stop majority(live)"]
    text = "\n".join(lines) + "\n"
    checked = _program(text)
    store = load_store(synthetic_store_path())
    params = bind_params(checked, {})
    out = run(checked, params, store, range(1), "interpret")
    assert (out.stop_line == len(text.splitlines())).all()  # every mean was exact: the last line stopped it
    assert_engines_agree(checked, params, store, range(1), "exact means")
