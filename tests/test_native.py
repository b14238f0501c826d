"""The native backend: golden kernels, both drivers, Python fallbacks, the kernel cache, the CLI."""

from __future__ import annotations

import re

import numpy as np
import pytest
from click.testing import CliRunner

from tests.conftest import ROOT, check_golden, synthetic_store_path
from tests.test_compiler import STRATEGIES, _checked, _statements
from tests.test_differential import FIELDS, assert_engines_agree, assert_same
from ttsc.cli.main import cli
from ttsc.compiler import native_engine
from ttsc.compiler.native import generate_native
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.parser import parse_source
from ttsc.errors import TtscError
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import load_store

GOLDEN = ROOT / "tests" / "golden" / "native"


def _program(text: str, name: str = "<test>"):
    src = Source(name, text)
    return check(parse_source(src), src)


@pytest.mark.parametrize("name", STRATEGIES)
def test_native_kernel_matches_golden(name, update_goldens):
    check_golden(GOLDEN / f"{name}.py", generate_native(_checked(name)).source, update_goldens,
                 f"native kernel for {name}")


@pytest.mark.parametrize("name", STRATEGIES)
def test_native_kernel_is_deterministic_and_points_at_rules(name):
    a, b = generate_native(_checked(name)), generate_native(_checked(name))
    assert a.source == b.source
    checked = _checked(name)
    # every statement heads a block (declarations that only fix constants are listed with them)
    rule_lines = {s.span.line for s in _statements(checked.program.items)
                  if type(s).__name__ not in ("Param", "Signal", "BranchVar")}
    commented = {int(m.group(1)) for m in re.finditer(r"^\s*# \S+\.tts:(\d+) ", a.source, re.M)}
    assert rule_lines <= commented
    compile(a.source, "<kernel>", "exec")  # valid Python


def test_parameter_fixed_values_are_computed_by_the_interpreter():
    checked = _checked("cmc")
    policy = native_engine.compile_native(checked)
    ki, kf = policy.constants(bind_params(checked, {"beta": 0.25}))
    by_line = {k.where.split("  ")[0].split(":")[-1]: (k.store, k.index) for k in policy.program.constants}
    # n_init = max(2, round(2 + 6 * 0.25)) = round(3.5) = 4 (half to even); ema_alpha = round(0.6, 4)
    store, i = by_line["11"]
    assert (store, ki[i]) == ("KI", 4)
    store, i = by_line["16"]
    assert (store, kf[i]) == ("KF", 0.6)


def test_threaded_and_one_thread_runs_agree_on_a_real_store(shared, monkeypatch):
    """Large runs are cut into blocks run on several threads; the episodes are the same as on one."""
    monkeypatch.setenv("TTSC_THREADS", "3")
    store = load_store(shared / "replay" / "autotts" / "Qwen3-4B" / "aime25.json")
    for name, params in [("cmc", {"beta": 0.6}), ("parallel_probe", {"num_chains": 16, "T": 8, "warm_up": 4,
                                                                     "prune_patience": 3})]:
        checked = _checked(name)
        bound = bind_params(checked, params)
        seeds = range(40)  # 1,200 episodes: above PARALLEL_FROM
        assert len(seeds) * len(store.questions) >= native_engine.PARALLEL_FROM
        parallel = run(checked, bound, store, seeds, engine="compiled")
        monkeypatch.setattr(native_engine, "PARALLEL_FROM", 10 ** 9)
        serial = run(checked, bound, store, seeds, engine="compiled")
        monkeypatch.setattr(native_engine, "PARALLEL_FROM", 1024)
        assert_same(serial, parallel, name, "threaded run")
        assert_same(run(checked, bound, store, seeds, engine="batched"), parallel, name, "compiled")


def test_results_do_not_depend_on_the_thread_count(shared, monkeypatch):
    store = load_store(shared / "replay" / "autotts" / "Qwen3-0.6B" / "hmmt25.json")
    checked = _checked("cmc")
    bound = bind_params(checked, {"beta": 0.8})
    runs = []
    for n in (1, 2, 5):
        monkeypatch.setenv("TTSC_THREADS", str(n))
        runs.append(run(checked, bound, store, range(50), engine="compiled"))
    for other in runs[1:]:
        assert_same(runs[0], other, "threads")


def test_thread_count_setting_is_checked(monkeypatch):
    monkeypatch.setenv("TTSC_THREADS", "many")
    with pytest.raises(TtscError, match="TTSC_THREADS"):
        native_engine.threads()
    monkeypatch.setenv("TTSC_THREADS", "0")
    assert native_engine.threads() == 1


def test_python_fallbacks_round_digits_and_large_beta_confidence():
    """round(x, d) of a run-time value and beta_confidence beyond the table go back to Python's exact ops."""
    checked = _program(
        "strategy fallback\n"
        "var acc: float = 0.0\n"
        "repeat 6 as i {\n"
        "    open 1\n"
        "    advance active by 2\n"
        "    acc = round(acc + confidence(live) / 3.0, 3) + beta_confidence(count(branches) * 400 + i, i)\n"
        "    if round(acc, 1) > 2.5 and count(completed) > 1 { stop majority(completed) }\n"
        "}\n"
        "stop if acc > 1.5 then majority(live) else none\n")
    store = load_store(synthetic_store_path())
    assert_engines_agree(checked, bind_params(checked), store, range(4), "fallbacks")


def test_ints_wrap_and_division_by_zero_is_total():
    checked = _program(
        "strategy arith\n"
        "param big: int = 3037000500\n"
        "var x: int = 0\n"
        "var f: float = 0.0\n"
        "open 2\n"
        "repeat 3 as i {\n"
        "    x = x + big * big * (i + count(branches))\n"
        "    f = f + x / (i - 1) + (i - 1) // 0 + x % 0 + x // (0 - 1) + x % (0 - 1)\n"
        "    f = f + 7.5 // (i - 1.0) + (0.0 - 7.5) % (i + 0.5) + floor(f / 3.0) + ceil(0.0 - f)\n"
        "    advance active\n"
        "}\n"
        "stop if x > 0 and f < 0.0 then majority(branches) else none\n")
    store = load_store(synthetic_store_path())
    assert_engines_agree(checked, bind_params(checked), store, range(3), "arith")


def test_compiled_runs_reuse_the_kernel(tmp_path, monkeypatch):
    monkeypatch.setenv("TTSC_CACHE_DIR", str(tmp_path))
    native_engine._memory.clear()
    checked = _checked("sc")
    first = native_engine.compile_native(checked)
    assert native_engine.compile_native(checked) is first
    files = list((tmp_path / "native").glob("*.py"))
    assert len(files) == 1 and files[0].read_text() == first.program.source
    # another program object with the same source reuses it too
    assert native_engine.compile_native(_checked("sc")) is first


def test_unwritable_cache_is_a_clear_error(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("TTSC_CACHE_DIR", str(blocker))
    native_engine._memory.clear()
    with pytest.raises(TtscError, match="TTSC_CACHE_DIR"):
        native_engine.compile_native(_checked("esc"))
    native_engine._memory.clear()


def test_compile_cli_writes_the_native_kernel(tmp_path):
    out = tmp_path / "cmc_kernel.py"
    result = CliRunner().invoke(cli, ["compile", str(ROOT / "strategies" / "cmc.tts"), "--target", "native",
                                      "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "@njit(cache=True, _nrt=False" in text and "def episode(" in text and "def run(" in text
    assert "rt.drive(episode," in text  # the shared driver runs the episodes without the GIL


def test_outcome_fields_are_complete_and_typed(shared):
    store = load_store(shared / "replay" / "autotts" / "Qwen3-8B" / "aime24.json")
    checked = _checked("parallel_probe")
    out = run(checked, bind_params(checked, {"num_chains": 8}), store, range(2), engine="compiled")
    for f in FIELDS:
        assert getattr(out, f).shape == (2, len(store.questions)), f
    assert out.answers.dtype == object and out.tokens.dtype == np.int64
    assert set(np.unique(out.stop_line)) <= {24, 30, 35, 39, 42}


@pytest.mark.parametrize("engine", ["interpret", "batched", "compiled"])
def test_limits_fixed_by_parameters_are_checked_by_every_engine_even_unbound(engine):
    """`run` with parameters that did not go through bind_params (as the explorer's lifted constants do)
    still refuses a window of 0, instead of one engine dividing by zero and another ignoring it."""
    from ttsc.errors import TtscError

    src = Source("<w>", "strategy w\nparam k: int = 2\nvar h: window(k)\nopen 1\npush 1.0 to h\nstop majority(live)\n")
    checked = check(parse_source(src), src)
    with pytest.raises(TtscError, match="window `h` holds 0 values"):
        run(checked, {"k": 0}, load_store(synthetic_store_path()), range(2), engine)


def test_an_interrupted_run_leaves_no_blocks_running_after_it(monkeypatch):
    """Ctrl-C during a large run: the blocks not started yet are dropped, so a later run (in a daemon, the
    next command) does not queue behind the rest of the interrupted one."""
    import threading
    import time as _time

    from ttsc.compiler import native_engine

    monkeypatch.setattr(native_engine, "threads", lambda: 2)
    calls, lock = [], threading.Lock()

    def kernel(a, b):
        with lock:
            calls.append(a)
            first = len(calls) == 1
        if first:
            raise KeyboardInterrupt
        _time.sleep(0.2)

    with pytest.raises(KeyboardInterrupt):
        native_engine._run_episodes(kernel, (), native_engine.PARALLEL_FROM * 8)
    _time.sleep(1.0)
    assert len(calls) <= 3  # of 8 blocks: the failing one and what the other thread had already begun
    one = []
    monkeypatch.setattr(native_engine, "threads", lambda: 1)
    native_engine._run_episodes(lambda a, b: one.append((a, b)), (), native_engine.PARALLEL_FROM * 2)
    assert one[0][0] == 0 and one[-1][1] == native_engine.PARALLEL_FROM * 2 and len(one) == 4  # blocks in order
    assert all(x[1] == y[0] for x, y in zip(one, one[1:]))
