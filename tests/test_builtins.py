"""The table of built-ins is the one place a built-in function is defined.

Registering a function in ``dsl/builtins.FUNCS`` alone makes it type-check and
run on all three engines; the expression evaluator below the runtime is the
interpreter's own, so values fixed by the parameters bind the same everywhere.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import synthetic_store_path
from ttsc.dsl import ast, builtins
from ttsc.dsl.builtins import Func, T, fixed
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import DiagnosticError, Source
from ttsc.dsl.evaluate import evaluate
from ttsc.dsl.parser import parse_source
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store
from tests.test_differential import assert_engines_agree

ROOT = Path(__file__).resolve().parents[1]

SIGN = Func("sign", ("num",), "-1, 0 or 1: the sign of x", fixed(T.INT),
            interpret=lambda x: (x > 0) - (x < 0),
            batched="np.sign({0}).astype(np.int64)", batched_uniform="((({0}) > 0) - (({0}) < 0))",
            native="(1 if {0} > 0 else (-1 if {0} < 0 else 0))")

PROGRAM = """strategy signs
param p: int = -3
branch s: int = 0
var acc: int = sign(p)
let k = sign(p * 2) + 1
open 4
repeat 3 as i {
    advance active
    update live set s = sign(tokens - 300 * depth) + sign(p)
    acc = acc + sign(count(completed) - 2) + sign(i - 1) + k
}
stop if acc + sign(0.0 - 1.5) > 0 then majority(live) else majority(live where s >= 0)
"""


def _checked(text: str):
    src = Source("<test>", text)
    return check(parse_source(src), src)


def test_a_builtin_registered_only_in_the_table_runs_on_every_engine(monkeypatch):
    with pytest.raises(DiagnosticError, match="unknown function `sign`"):
        _checked(PROGRAM)
    monkeypatch.setitem(builtins.FUNCS, "sign", SIGN)
    checked = _checked(PROGRAM)
    knob = next(i for i in checked.program.items if isinstance(i, ast.Let) and i.name == "k")
    assert checked.type_of(knob.value) is T.INT and "k" in checked.knobs  # fixed by the parameters
    store = load_store(synthetic_store_path())
    for p in (-3, 0, 5):
        assert_engines_agree(checked, bind_params(checked, {"p": p}), store, range(3), f"sign p={p}")


def test_set_and_window_functions_are_never_fixed_by_the_parameters():
    assert all(f.constant == (not {"set", "window", "history"} & set(f.params) and not f.environment)
               for f in builtins.FUNCS.values())
    assert not builtins.FUNCS["count"].constant and builtins.FUNCS["round"].constant
    assert not builtins.FUNCS["valid"].constant  # the environment decides, per episode


def test_the_evaluator_wraps_ints_at_64_bits_and_floors_like_the_engines():
    checked = _checked("strategy wrap\nparam big: int = 3037000500\nlet sq = big * big\n"
                       "let f = floor(0.0 - 2.5)\nlet r = round(2.5)\nstop none\n")
    lets = {i.name: i.value for i in checked.program.items if isinstance(i, ast.Let)}
    env = {"big": 3037000500}
    assert evaluate(lets["sq"], env, checked.type_of) == 3037000500 ** 2 - 2 ** 64  # wrapped around
    assert evaluate(lets["f"], env, checked.type_of) == -3
    assert evaluate(lets["r"], env, checked.type_of) == 2


def test_the_runtime_does_not_reach_up_into_the_compiler():
    for path in sorted((ROOT / "runtime").glob("*.py")) + sorted((ROOT / "dsl").glob("*.py")):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"ttsc\.compiler|ttsc\.insight", text), path.name
