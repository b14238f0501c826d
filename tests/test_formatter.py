"""The canonical formatter: round trips, idempotence, precedence, comments, layout.

Also checks the program generator itself (tests/gen_programs.py): everything it
yields is accepted by the checker and runs on tiny stores without a Python error.
"""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.gen_programs import ALPHABET, layouts, program_trees, programs, tiny_stores
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import DiagnosticError, Source
from ttsc.dsl.formatter import WIDTH, Comments, format_program, format_source, strip_spans
from ttsc.dsl.parser import parse
from ttsc.runtime.env import EpisodeView
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.compiler.interpret import Interpreter
from ttsc.runtime.params import bind_params

STRATEGIES = sorted((Path(__file__).resolve().parents[1] / "strategies").glob("*.tts"))
FAST = dict(deadline=None, derandomize=True, database=None, suppress_health_check=[HealthCheck.too_slow])


def fmt(text: str) -> str:
    return format_source(Source("t.tts", text))


def same_program(a: str, b: str) -> bool:
    return strip_spans(parse(a)) == strip_spans(parse(b))


def comment_texts(text: str) -> Counter:
    return Counter(c.text for c in Comments.scan(text).comments)


# ---- the reference strategies ---------------------------------------------------

@pytest.mark.parametrize("path", STRATEGIES, ids=lambda p: p.stem)
def test_reference_strategies_are_canonical(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    out = fmt(text)
    assert out == text, f"run `ttsc fmt {path.name}`"
    assert same_program(out, text)


def test_all_five_strategies_are_covered() -> None:
    assert {p.stem for p in STRATEGIES} >= {"sc", "asc", "esc", "parallel_probe", "cmc"}


def test_a_strategy_laid_out_badly_comes_back_canonical() -> None:
    path = next(p for p in STRATEGIES if p.stem == "cmc")
    text = path.read_text(encoding="utf-8")
    squashed = " ".join(line.split("#")[0] for line in text.splitlines())  # one line, no comments
    out = fmt(squashed)
    assert same_program(out, text)
    assert [line.split("#")[0].rstrip() for line in text.splitlines() if not line.startswith("#")] == \
        [line for line in out.splitlines()]


# ---- generated programs ---------------------------------------------------------

@settings(max_examples=300, **FAST)
@given(program_trees())
def test_generated_programs_round_trip(tree) -> None:
    text = format_program(tree)
    parsed = parse(text, "gen.tts")
    assert strip_spans(parsed) == strip_spans(tree)
    check(parsed, Source("gen.tts", text))  # the generator only makes valid programs
    assert format_program(parsed, Comments.scan(text)) == text  # idempotent


@settings(max_examples=50, **FAST)
@given(st.data())
def test_any_layout_formats_to_the_same_text(data) -> None:
    tree = data.draw(program_trees())
    raw, _ = data.draw(layouts(tree, comments=False, blank_lines=False))
    assert strip_spans(parse(raw)) == strip_spans(tree)
    assert fmt(raw) == format_program(tree)


@settings(max_examples=50, **FAST)
@given(st.data())
def test_comments_survive_any_layout(data) -> None:
    tree = data.draw(program_trees())
    raw, notes = data.draw(layouts(tree))
    out = fmt(raw)
    assert comment_texts(out) == Counter(notes)
    assert strip_spans(parse(out)) == strip_spans(tree)
    assert fmt(out) == out


# ---- precedence: parentheses only where needed -----------------------------------

@pytest.mark.parametrize("expr, canonical", [
    ("(a + b) * c", "(a + b) * c"),
    ("a + (b * c)", "a + b * c"),
    ("(a - b) - c", "a - b - c"),
    ("a - (b - c)", "a - (b - c)"),
    ("a / (b * c)", "a / (b * c)"),
    ("a // (b // c)", "a // (b // c)"),
    ("(a % b) % c", "a % b % c"),
    ("(a < b) == c", "(a < b) == c"),
    ("a == (b < c)", "a == (b < c)"),
    ("not (a and b)", "not (a and b)"),
    ("(not a) and b", "not a and b"),
    ("not (a == b)", "not a == b"),
    ("(a or b) and c", "(a or b) and c"),
    ("a or (b and c)", "a or b and c"),
    ("a and (b and c)", "a and (b and c)"),
    ("-(a + b)", "-(a + b)"),
    ("- -a", "-(-a)"),
    ("-(-3)", "3"),
    ("a - -3", "a - -3"),
    ("(-3) * a", "-3 * a"),
    ("-(2.50)", "-2.50"),
    ("(if a then b else c) + 1", "(if a then b else c) + 1"),
    ("if a then b else (if c then d else e)", "if a then b else if c then d else e"),
    ("if (if a then b else c) then d else e", "if if a then b else c then d else e"),
    ("if a then (s where x) else t", "if a then s where x else t"),
    ("if a then s else (t where x)", "if a then s else (t where x)"),
    ("(if a then s else t) where x", "if a then s else t where x"),
    ("(s where a) sorted by (b) asc", "s where a sorted by b"),
    ("s where (t where x take 2) == u", "s where (t where x take 2) == u"),
    ("f((a where b), (c))", "f(a where b, c)"),
    ("s take (if a then 1 else 2)", "s take if a then 1 else 2"),
    ("1.50e2 + 007", "1.50e2 + 7"),
])
def test_minimal_parentheses(expr: str, canonical: str) -> None:
    out = fmt(f"strategy x\nlet y = {expr}\n")
    assert out == f"strategy x\n\nlet y = {canonical}\n"
    assert same_program(out, f"strategy x\nlet y = {expr}\n")


def test_declarations_print_as_written() -> None:
    src = "strategy x param a:int=-3 in -5..5 param f : float = 0.50 in ..1.0 param g: bool = true in .. " \
          "param h: float = 2 in 1.. var s: answer = none var w: window(3) branch b: int = a signal z = count(live)"
    assert fmt(src) == (
        "strategy x\n\n"
        "param a: int = -3 in -5..5\nparam f: float = 0.50 in ..1.0\nparam g: bool = true\nparam h: float = 2 in 1..\n\n"
        "var s: answer = none\nvar w: window(3)\nbranch b: int = a\n\n"
        "signal z = count(live)\n")


def test_statements_and_blocks() -> None:
    src = """strategy x var v: int = 0 var w: window(2) branch b: int = 0
    open 2 as g read 1 if v > 0 { v = 1 } elif v < 0 { break } else { stop none }
    repeat 3 as i { push v to w advance active sorted by depth desc by 2 prune live take 1 }
    update active set b = b + 1, b = 2 stop majority(completed)"""
    assert fmt(src) == """strategy x

var v: int = 0
var w: window(2)
branch b: int = 0

open 2 as g
read 1
if v > 0 {
    v = 1
} elif v < 0 {
    break
} else {
    stop none
}
repeat 3 as i {
    push v to w
    advance active sorted by depth desc by 2
    prune live take 1
}
update active set b = b + 1, b = 2
stop majority(completed)
"""


def test_long_statements_wrap_at_query_and_boolean_operators() -> None:
    long_cond = " and ".join(f"count(active) > {n}" for n in range(12))
    src = f"strategy x\nrepeat 2 {{ if {long_cond} {{ prune active where depth > 1 and tokens > 2 " \
          f"sorted by tokens desc take count(live) - 1 sorted by index take 2 where last != none }} }}"
    out = fmt(src)
    lines = out.splitlines()
    assert all(len(line) <= WIDTH for line in lines)
    assert lines[3].startswith("    if count(active) > 0 and") and lines[4].startswith(" " * 12 + "and ")
    assert any(line.startswith(" " * 12 + ("take", "sorted", "where")[k]) for line in lines for k in range(3))
    assert same_program(out, src) and fmt(out) == out


# ---- comments ------------------------------------------------------------------

def test_comments_in_every_position() -> None:
    src = """# file header
strategy x   # after the name
# about the parameter
param n: int = 3 in 1..   # its range

open n   # first round
repeat n {   # each round
    # before a statement
    advance active
    if count(active) == 0 {
        # inside a nested block, before its end
    } else {   # the else
        break  # leave
        # after break
    }
    # before the closing brace
}
# before the last statement
stop majority(completed)
# end of file 1

# end of file 2
"""
    out = fmt(src)
    assert out == """# file header
strategy x  # after the name

# about the parameter
param n: int = 3 in 1..  # its range

open n      # first round
repeat n {  # each round
    # before a statement
    advance active
    if count(active) == 0 {
        # inside a nested block, before its end
    } else {  # the else
        break  # leave
        # after break
    }
    # before the closing brace
}
# before the last statement
stop majority(completed)
# end of file 1

# end of file 2
"""
    assert fmt(out) == out


def test_own_line_comments_take_the_indent_of_what_follows() -> None:
    src = "strategy x\nrepeat 2 {\n# a\nif true {\n        # b\nbreak\n# c\n}\n  # d\n}\n"
    assert fmt(src) == ("strategy x\n\nrepeat 2 {\n    # a\n    if true {\n        # b\n        break\n"
                        "        # c\n    }\n    # d\n}\n")


def test_comments_inside_a_statement_are_kept() -> None:
    src = """strategy x
prune active   # the set
    where depth > 2   # a condition
    # a whole line in the middle
    take 1
stop none
"""
    out = fmt(src)
    assert comment_texts(out) == comment_texts(src)
    assert same_program(out, src) and fmt(out) == out


def test_a_comment_between_wrapped_pieces_stays_on_its_line() -> None:
    value = "clamp(count(branches) + count(live) + count(active) + count(completed), -1000, 1000)"
    src = f"strategy x\nvar w: window(2)\npush {value} / 10000   # why\n  to w\n"
    out = fmt(src)
    assert out.endswith(f"push {value} / 10000  # why\n    to w\n")
    assert fmt(out) == out


def test_comments_that_look_like_code() -> None:
    src = "strategy x # { ( } ) # ##\nstop none # }}}\n#{\n"
    out = fmt(src)
    assert out == "strategy x  # { ( } ) # ##\n\nstop none  # }}}\n#{\n"


def test_trailing_comments_of_neighbouring_lines_align() -> None:
    src = "strategy x\nvar a: int = 0 # one\nvar long_name: int = 0 # two\nbranch b: int = 0 # three\n\nvar c: int = 1 # four\n"
    out = fmt(src).splitlines()
    cols = [line.index("#") for line in out if "#" in line]
    assert cols[0] == cols[1] == cols[2] == len("var long_name: int = 0") + 2
    assert cols[3] == len("var c: int = 1") + 2


def test_crlf_and_tabs() -> None:
    src = "strategy x\r\n\tparam n: int = 1 # one\r\n\r\n\tread n\r\n"
    assert fmt(src) == "strategy x\n\nparam n: int = 1  # one\n\nread n\n"


# ---- blank lines ---------------------------------------------------------------

def test_blank_lines_kept_collapsed_and_dropped_at_block_edges() -> None:
    src = "strategy x\nparam n: int = 1\nread 1\n\n\n\nread 2\nrepeat 2 {\n\n  read 3\n\n  read 4\n\n}\nstop none\n"
    assert fmt(src) == ("strategy x\n\nparam n: int = 1\n\nread 1\n\nread 2\nrepeat 2 {\n    read 3\n\n"
                        "    read 4\n}\nstop none\n")


def test_a_blank_line_separates_kinds_of_items_above_their_comments() -> None:
    src = "strategy x\nparam n: int = 1\n# state\nvar v: int = 0\n# rules\nread n\n"
    assert fmt(src) == "strategy x\n\nparam n: int = 1\n\n# state\nvar v: int = 0\n\n# rules\nread n\n"


# ---- refusals and helpers ------------------------------------------------------

def test_a_program_that_does_not_parse_is_refused() -> None:
    with pytest.raises(DiagnosticError) as err:
        fmt("strategy x\nread\n")
    assert "t.tts:" in err.value.render()


def test_format_program_refuses_comments_from_another_text() -> None:
    program = parse("strategy x\nrepeat 2 { read 1 }\n")
    with pytest.raises(ValueError):
        format_program(program, Comments.scan("strategy x\nread 1\n"))


def test_strip_spans_ignores_positions_only() -> None:
    assert strip_spans(parse("strategy x read 1")) == strip_spans(parse("strategy  x\n\n read  1 # c"))
    assert strip_spans(parse("strategy x read 1")) != strip_spans(parse("strategy x read 2"))
    assert strip_spans(parse("strategy x let y = 1.50")) != strip_spans(parse("strategy x let y = 1.5"))


# ---- the generator: valid programs that run ---------------------------------------

@settings(max_examples=60, **FAST)
@given(programs(), tiny_stores())
def test_generated_programs_run_on_tiny_stores(text: str, store) -> None:
    checked = check(parse(text, "gen.tts"), Source("gen.tts", text))
    interp = Interpreter(checked, bind_params(checked))
    env = ReplayEnvironment(store, (0, 3))
    written = set(re.findall(r'"([^"\n]*)"', text))  # answers the program itself writes
    for row in range(env.n_episodes):
        q = store.questions[row % len(store.questions)]
        seen = {a for b in q.branches for a in (*b.probes, b.final_answer)} | written
        spent: list[int] = []
        r = interp.run(EpisodeView(env, row), on_event=lambda e: spent.extend(e.tokens))
        assert r.tokens == sum(spent)  # every reveal charged once, to its round and the result
        assert 0 <= r.sequential_tokens <= r.tokens
        assert 0 <= r.pruned <= r.opened <= len(q.branches)
        assert r.answer is None or r.answer in seen
        assert (r.stop_reason == "stop") == (r.stop_line is not None)


@settings(max_examples=60, **FAST)
@given(tiny_stores())
def test_tiny_stores_are_small_and_valid(store) -> None:
    assert 1 <= len(store.questions) <= 4
    for q in store.questions:
        assert 1 <= len(q.branches) <= 12 and 1 <= q.probe_freq <= 600
        for b in q.branches:
            assert len(b.probes) <= 6 and b.total_tokens >= 0
            assert set(b.probes) | {b.final_answer} <= set(ALPHABET)


def test_long_calls_and_arithmetic_wrap_inside_the_width() -> None:
    """A hand-wrapped call used to be joined into one 190-column line."""
    call = ("clamp(round(12.0 * beta * beta + 3.0 * beta + 7.0), round(2.0 + beta),\n"
            "      max(40, round(100.0 * beta)), )").replace(", )", ")")
    sums = " + ".join(f"round({k}.0 * beta)" for k in range(1, 14))
    src = (f"strategy x\nparam beta: float = 0.5\nlet a = {call}\nlet b = {sums}\n"
           f"stop if a > b then majority(completed where depth > 2 and tokens > 1000 sorted by tokens desc "
           f"take 3) else majority(live)\n")
    out = format_source(Source("x.tts", src))
    lines = out.splitlines()
    assert all(len(line) <= WIDTH for line in lines), [line for line in lines if len(line) > WIDTH]
    assert "let a = clamp(round(12.0 * beta * beta + 3.0 * beta + 7.0), round(2.0 + beta)," in lines
    assert "    max(40, round(100.0 * beta)))" in lines
    assert any(line.startswith("    then majority(") for line in lines)
    assert format_source(Source("x.tts", out)) == out  # idempotent


def test_a_long_single_argument_call_wraps_inside_its_argument() -> None:
    terms = " + ".join(f"a * {10 * k}" for k in range(1, 14))
    out = format_source(Source("x.tts", f"strategy x\nlet a = 1\nlet k = round({terms})\nstop none\n"))
    assert all(len(line) <= WIDTH for line in out.splitlines())
    assert "let k = round(a * 10 + a * 20" in out and format_source(Source("x.tts", out)) == out
