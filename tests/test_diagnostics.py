"""Located diagnostics: every error code, with its expected span marked inside the input.

A case is source text in which ⟦…⟧ surrounds each span a diagnostic must point
at (⟦⟧ with nothing inside marks a point, e.g. where a missing token belongs).
The markers are stripped, the text parsed and checked, and the diagnostics must
be exactly the marked ones, in order: same code, same line:col–end_line:end_col.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Diagnostic, DiagnosticError, Source
from ttsc.dsl.parser import MAX_EXPR_DEPTH, MAX_NESTING, decode_source, parse_source

OPEN, CLOSE = "⟦", "⟧"
H = "strategy t\n"


def _runner() -> CliRunner:
    # click < 8.2 mixes stderr into stdout unless told not to; later versions always keep both.
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()  # most cases need only a header before the line under test


@dataclass(frozen=True)
class Case:
    id: str
    codes: tuple[str, ...]
    text: str  # with ⟦…⟧ markers
    help: str | None = None  # a substring of the first diagnostic's help
    message: str | None = None  # a substring of the first diagnostic's message


def C(id: str, codes: str, text: str, help: str | None = None, message: str | None = None) -> Case:  # noqa: N802
    return Case(id, tuple(codes.split()), text, help, message)


def unmark(marked: str) -> tuple[str, list[tuple[int, int]]]:
    """Strip the markers; return the text and the [start, end) offsets they enclosed."""
    text, spans, start = [], [], None
    for ch in marked:
        if ch == OPEN:
            start = len(text)
        elif ch == CLOSE:
            assert start is not None, "⟧ without ⟦"
            spans.append((start, len(text)))
            start = None
        else:
            text.append(ch)
    return "".join(text), spans


def expected_location(src: Source, start: int, end: int) -> tuple[int, int, int, int]:
    """(line, col, end_line, end_col) of a marked range; an empty mark is one character wide."""
    a = src.span_at(start, max(1, end - start))
    if end - start <= 1:
        return a.line, a.col, a.end_line, a.end_col
    b = src.span_at(end)
    return a.line, a.col, b.line, b.col


def test_an_unclosed_brace_is_labelled_where_it_opens():
    src, diags = diagnostics_of(H + "repeat 3 {\n  open 1\n  if true {\n    stop none\n}\n")
    (d,) = diags
    (span, label), = d.labels
    assert (span.line, span.col) == (2, 10) and "not closed" in label
    lines = d.render(src).splitlines()
    assert "2 | repeat 3 {" in lines and "  |          - this `{` is not closed" in lines
    assert d.to_json(src)["labels"] == [{"line": 2, "col": 10, "end_line": 2, "end_col": 11,
                                         "label": "this `{` is not closed"}]


def diagnostics_of(text: str, name: str = "case.tts") -> tuple[Source, list[Diagnostic]]:
    try:
        src = decode_source(text.encode("utf-8"), name)
        check(parse_source(src), src)
    except DiagnosticError as err:
        return err.source, err.diagnostics
    return Source(name, text), []


CASES = [
    # ---- parser: input screening (E0001-E0004)
    C("nul-byte", "E0001", H + "stop ⟦\x00⟧none\n", help="UTF-8"),
    C("empty", "E0003", "⟦⟧", help="strategy NAME"),
    C("blank-lines", "E0003", "⟦ ⟧\n\n\t\n"),
    C("comments-only", "E0003", "⟦#⟧ nothing here\n   # or here\n"),
    C("paren-nesting", "E0004", H + "let x = " + "(" * MAX_NESTING + "⟦(⟧1" + ")" * (MAX_NESTING + 1) + "\n"),
    C("block-nesting", "E0004", H + "if true {\n" * MAX_NESTING + "if true ⟦{⟧\n" + "}\n" * (MAX_NESTING + 1)),
    C("expression-depth", "E0004",
      H + "let x = ⟦" + " + ".join(["1"] * (MAX_EXPR_DEPTH + 2)) + "⟧\nstop none\n", help="`let`",
      message=f"more than {MAX_EXPR_DEPTH}"),
    C("unary-depth", "E0004", H + "let x = ⟦" + "not " * (MAX_EXPR_DEPTH + 1) + "true⟧\nstop none\n"),
    # ---- parser: syntax (E0101-E0104)
    C("no-header", "E0101", "⟦stop⟧ none\n", help="`strategy NAME`"),
    C("header-keyword", "E0101", "strategy ⟦stop⟧\n", help="strategy's name"),
    C("missing-equals", "E0101", H + "let x ⟦3⟧\n", help="expected `=`"),
    C("misspelt-statement", "E0101", H + "repeat 3 { ⟦brek⟧ }\n", help="did you mean `break`?"),
    C("python-while", "E0101", H + "⟦while⟧ true { }\n", help="did you mean `repeat`?"),
    C("return", "E0101", H + "⟦return⟧ majority(completed)\n", help="did you mean `stop`?"),
    C("compound-assign", "E0101", H + "var x: int = 0\nx ⟦+=⟧ 1\n", help="x = x + …"),
    C("chained-compare", "E0101", H + "let x = 1 < 2 ⟦<⟧ 3\n", help="do not chain"),
    C("keyword-as-name", "E0101", H + "let ⟦stop⟧ = 1\n", help="`stop` is a keyword"),
    C("unfinished-line", "E0101", H + "let x = 3 +\n⟦stop⟧ none\n", help="before `stop` is unfinished"),
    C("unfinished-update", "E0101", H + "update active set\n⟦stop⟧ none\n", help="expected a name"),
    C("stray-close", "E0101", H + "stop none ⟦}⟧\n", help="a statement"),
    C("trailing-comma", "E0101", H + "stop majority(completed, ⟦)⟧\n", help="expected an expression"),
    C("bad-type", "E0101", H + "param n: ⟦str⟧ = 1\n", help="`answer`, `bool`, `float` or `int`"),
    C("else-needs-block", "E0101", H + "if true { } else ⟦stop⟧ none\n", help="expected `{`"),
    C("python-def", "E0101", H + "⟦def⟧ f(): pass\n", help="not Python"),
    C("dollar", "E0102", H + "let x = 1 ⟦$⟧ 2\n", help="no meaning"),
    C("string", "E0102", H + "stop ⟦\"⟧abc\n", help="same line"),  # unterminated: a string ends on its line
    C("bang", "E0102", H + "let x = ⟦!⟧true\n", help="`not x`"),
    C("brackets", "E0102", H + "let x = ⟦[⟧1]\n", help="no lists"),
    C("dunder-call", "E0205", H + "stop ⟦__import__⟧(\"os\")\n", help="cannot reach Python"),
    C("eof-after-stop", "E0103", H + "stop⟦⟧\n", help="expected an expression"),
    C("eof-in-block", "E0103", H + "if true { stop none⟦⟧  # no closing brace\n", help="add `}` to close the block"),
    C("eof-nested-blocks", "E0103", H + "repeat 3 {\n  open 1\n  if true {\n    stop none\n}⟦⟧\n",
      help="opened on line 2", message="never closed"),
    C("update-missing-comma", "E0101", H + "branch a: int = 0\nbranch b: int = 0\nupdate live set a = 1⟦ ⟧b = 2\n",
      help="set …, b = …", message="expected `,`"),
    C("misspelt-param", "E0101", H + "⟦parm⟧ k: int = 3\n", help="did you mean `param`?"),
    C("misspelt-signal", "E0101", H + "⟦sigal⟧ s = count(live)\n", help="did you mean `signal`?"),
    C("single-equals-compare", "E0101", H + "if count(completed) ⟦=⟧ 2 { stop none }\n", help="write `==`"),
    C("eof-in-call", "E0103", H + "stop majority(completed⟦⟧", help="`)`"),
    C("huge-int", "E0104", H + "let x = ⟦" + "9" * 16 + "⟧\n", help="at most 15 digits"),
    C("huge-float", "E0104", H + "let x = ⟦1.0e400⟧\n"),
    # ---- checker: names (E0201, E0205, E0209, E0211)
    C("unknown-name", "E0201", H + "param threshold: float = 0.5\nlet x = ⟦threshhold⟧ * 2\n",
      help="did you mean `threshold`?"),
    C("unknown-set", "E0201", H + "stop majority(⟦complete⟧)\n", help="did you mean `completed`?"),
    C("gold", "E0201", H + "stop ⟦gold⟧\n", help="not visible"),
    C("gold-answer", "E0201", H + "stop ⟦gold_answer⟧\n", help="not visible"),
    C("gold-in-votes", "E0201", H + "let v = votes(completed, ⟦gold⟧)\nstop none\n", help="not visible"),
    C("final-answer", "E0201", H + "stop ⟦final_answer⟧\n", help="finishes"),
    C("total-tokens", "E0201", H + "let t = ⟦total_tokens⟧\nstop none\n"),
    C("probes", "E0201", H + "let p = ⟦probes⟧\nstop none\n", help="unrevealed"),
    C("builtins-dunder", "E0201", H + "let x = ⟦__builtins__⟧\nstop none\n", help="cannot reach Python"),
    C("os", "E0201", H + "let x = ⟦os⟧\nstop none\n", help="cannot reach Python"),
    C("function-as-name", "E0201", H + "let x = ⟦majority⟧\nstop none\n", message="call it as `majority(…)`"),
    C("assign-unknown", "E0201", H + "⟦total⟧ = 1\n", help="var total: int = 0"),
    C("update-unknown-field", "E0201", H + "branch off: int = 0\nupdate active set ⟦of⟧ = 1\n",
      help="did you mean `off`?"),
    C("unknown-function", "E0205", H + "stop ⟦Majority⟧(completed)\n", help="did you mean `majority`?"),
    C("python-function", "E0205", H + "stop ⟦print⟧(1)\n", help="cannot reach Python"),
    C("eval-function", "E0205", H + "stop ⟦eval⟧(1)\n", help="cannot reach Python"),
    C("field-outside-branch", "E0209", H + "stop ⟦last⟧\n", help="branch fields are read inside"),
    C("own-field-outside-branch", "E0209", H + "branch off: int = 0\nlet x = ⟦off⟧\nstop none\n"),
    C("redefine-builtin-set", "E0211", H + "let ⟦active⟧ = 1\n", message="built-in"),
    C("redefine-function", "E0211", H + "repeat 3 as ⟦count⟧ { }\n", message="built-in"),
    C("redefine-field", "E0211", H + "branch ⟦depth⟧: int = 0\n", message="built-in"),
    C("declare-gold", "E0211", H + "var ⟦gold⟧: answer = none\n", help="not visible"),
    C("declare-dunder", "E0211", H + "let ⟦__x⟧ = 1\n", message="`__`"),
    C("contextual-keyword", "E0211", H + "let ⟦as⟧ = 1\n", message="keyword"),
    # budget counters are built in: not definable, not assignable
    C("redefine-counter", "E0211", H + "var ⟦spent⟧: int = 0\n", message="built-in"),
    C("assign-counter", "E0206", H + "⟦interval⟧ = 3\n", message="a built-in counter"),
    # string literals: answers written in the program
    C("string-param-default", "E0101", H + 'param p: answer = ⟦"x"⟧\n', help='`let p = "x"`'),
    C("string-single-quotes", "E0102", H + "stop ⟦'⟧ERR'\n", help="double quotes"),
    C("string-too-long", "E0104", H + "stop ⟦\"" + "x" * 201 + "\"⟧\n", message="too long"),
    C("string-not-a-number", "E0203", H + 'open ⟦"3"⟧\n', message="int"),
    C("counter-type", "E0203", H + "stop ⟦spent_sequential⟧\n", message="answer"),
    # ---- checker: definitions (E0202, E0210)
    C("duplicate-param", "E0202", H + "param n: int = 1\nparam ⟦n⟧: int = 2\n", message="`n` is already defined"),
    C("duplicate-let", "E0202", H + "let a = 1\nlet ⟦a⟧ = 2\n"),
    C("duplicate-read-bind", "E0202", H + "open 3 as b\nread 2 as ⟦b⟧\n"),
    C("duplicate-open-bind", "E0202", H + "param b: int = 1\nopen b as ⟦b⟧\n"),
    C("duplicate-loop-var", "E0202", H + "let k = 1\nrepeat 3 as ⟦k⟧ { }\n"),
    C("field-clash", "E0202", H + "branch off: int = 0\nlet ⟦off⟧ = 1\n"),
    C("setter-twice", "E0202", H + "branch off: int = 0\nupdate active set off = 1, ⟦off⟧ = 2\n",
      help="at most once"),
    C("declaration-after-rule", "E0210", H + "open 1\n⟦var x: int = 0⟧\n", help="declare parameters"),
    C("param-after-rule", "E0210", H + "stop none\n⟦param n: int = 1⟧\n"),
    # ---- checker: types (E0203) and arity (E0204)
    C("stop-int", "E0203", H + "stop ⟦1⟧\n", message="must be an answer, got an int"),
    C("answer-eq-int-literal", "E0203", H + "if ⟦majority(live) == 42⟧ { stop none }\n",
      help='write the answer `42` as "42"'),
    C("float-literal-ne-answer", "E0203", H + "if ⟦0.5 != majority(live)⟧ { stop none }\n",
      help='write the answer `0.5` as "0.5"'),
    C("answer-eq-int-expr", "E0203", H + "if ⟦majority(live) == count(live)⟧ { stop none }\n",
      help="compare answers with answers and numbers with numbers"),
    C("add-answer", "E0203", H + "stop ⟦majority(completed) + 1⟧\n", message="got an answer and an int"),
    C("condition-int", "E0203", H + "if ⟦1⟧ { stop none }\n", message="a condition must be a bool"),
    C("var-init-type", "E0203", H + "var x: int = ⟦1.5⟧\n", message="holds an int, got a float"),
    # the `/` hint only where the expression divides; a float parameter is named
    C("repeat-divided", "E0203", H + "repeat ⟦4 / 2⟧ { }\n", help="`/` always gives a float: use `//`"),
    C("advance-by-divided", "E0203", H + "advance active by ⟦2 * (1 / 2)⟧\n", help="`/` always gives a float"),
    C("repeat-float-param", "E0203", H + "param k: float = 2.0\nrepeat ⟦k⟧ { }\n",
      help="make it a whole number with `round(…)` or `floor(…)`, or declare `k` an int"),
    C("advance-by-float", "E0203", H + "advance active by ⟦1.5⟧\n", help="with `round(…)` or `floor(…)`"),
    C("floor-divide-float", "E0203", H + "repeat ⟦5 // 2.0⟧ { }\n", help="with `round(…)` or `floor(…)`"),
    C("assign-type", "E0203", H + "var x: bool = false\nx = ⟦1⟧\n"),
    C("push-not-window", "E0203", H + "var w: int = 0\npush 1 to ⟦w⟧\n", help="window(8)"),
    C("window-as-value", "E0203", H + "var w: window(3)\nlet x = ⟦w⟧\n", message="size(), oldest()"),
    C("window-call-not-window", "E0203", H + "let x = size(⟦completed⟧)\n", message="takes a window"),
    C("compare-answer-int", "E0203", H + "let x = ⟦majority(completed) == 1⟧\n", message="cannot compare"),
    C("order-answers", "E0203", H + "let x = ⟦none < none⟧\n", help="== and !="),
    C("ifexp-branches", "E0203", H + "let x = ⟦if true then 1 else none⟧\n", message="differ"),
    C("sort-by-answer", "E0203", H + "prune active sorted by ⟦last⟧\n", message="cannot sort by"),
    C("where-not-bool", "E0203", H + "prune active where ⟦depth⟧\n", message="a `where` condition"),
    C("take-set", "E0203", H + "prune active take ⟦active⟧\n"),
    C("advance-int", "E0203", H + "advance ⟦3⟧\n", message="the branches to advance"),
    C("param-default-type", "E0203", H + "param n: int = ⟦0.5⟧\n", message="default of `n` is float"),
    C("param-bound-type", "E0203", H + "param n: int = 1 in ⟦0.5⟧..2\n", message="range bound"),
    C("round-decimals", "E0203", H + "param d: int = 2\nlet x = round(1.5, ⟦d⟧)\n", message="integer literal"),
    C("votes-arity", "E0204", H + "let v = ⟦votes(completed)⟧\n", message="takes 2 arguments, got 1"),
    C("round-arity", "E0204", H + "let v = ⟦round(1, 2, 3)⟧\n"),
    C("min-arity", "E0204", H + "let v = ⟦min(1)⟧\n", message="at least 2"),
    C("size-arity", "E0204", H + "var w: window(2)\nlet v = ⟦size(w, w)⟧\n"),
    # ---- checker: assignment, break, parameters, constants (E0206-E0208, E0212)
    C("assign-param", "E0206", H + "param n: int = 1\n⟦n⟧ = 2\n", message="a parameter"),
    C("assign-let", "E0206", H + "let a = 1\n⟦a⟧ = 2\n", message="a constant"),
    C("assign-signal", "E0206", H + "signal s = count(active)\n⟦s⟧ = 2\n", message="a signal"),
    C("assign-loop", "E0206", H + "repeat 2 as k { ⟦k⟧ = 1 }\n", message="a loop counter"),
    C("assign-field", "E0206", H + "branch off: int = 0\n⟦off⟧ = 1\n", message="update SET set off"),
    C("set-builtin-field", "E0206", H + "update active set ⟦depth⟧ = 1\n", message="built-in field"),
    C("break-outside", "E0207", H + "⟦break⟧\n"),
    C("break-in-if", "E0207", H + "if true { ⟦break⟧ }\n"),
    C("answer-param", "E0208", H + "param a: ⟦answer⟧ = none\n", help="int, float or bool"),
    C("bool-range", "E0208", H + "param b: bool = true in ⟦0..1⟧\n", message="takes no range"),
    C("bool-half-range", "E0208", H + "param b: bool = true in ..⟦1⟧\n"),
    C("empty-range", "E0208", H + "param n: int = 5 in ⟦10..1⟧\n", message="empty range"),
    C("default-outside", "E0208", H + "param n: int = ⟦0⟧ in 1..\n", message="outside its range"),
    C("repeat-not-constant", "E0212", H + "repeat ⟦count(active)⟧ { }\n", help="bounded"),
    C("var-init-not-constant", "E0212", H + "var x: int = ⟦count(active)⟧\n"),
    C("window-not-constant", "E0212", H + "var w: window(⟦count(active)⟧)\n"),
    C("loop-var-not-constant", "E0212", H + "repeat 2 as k { repeat ⟦k⟧ { } }\n"),
    # ---- checker: limits known from literals alone (E0220); parameter-dependent ones wait for binding
    C("repeat-literal-over-limit", "E0220", H + "repeat ⟦200000⟧ { }\n", message="`repeat 200,000` exceeds"),
    C("repeat-literal-product", "E0220", H + "repeat ⟦1000 * 1000⟧ { }\n", help="bounded"),
    C("nested-repeat-literal-product", "E0220", H + "repeat 1001 { ⟦repeat 1000⟧ { } }\n",
      message="nested repeats run up to 1,001,000 iterations per episode; the limit is 1,000,000",
      help="enclosing repeats already run 1,001 times"),
    C("nested-repeat-product-through-if", "E0220",
      H + "repeat 10 { if true { repeat 10 { ⟦repeat 100000⟧ { repeat 5 { } } } } }\n", message="10,000,000"),
    C("window-literal-over-limit", "E0220", H + "var w: window(⟦20000⟧)\n", message="20,000 values"),
    C("window-literal-zero", "E0220", H + "var w: window(⟦0⟧)\n"),
    C("open-float-count", "E0203", H + "param n: int = 4\nopen ⟦n / 2⟧\n", help="use `//`"),
    # ---- set algebra and aggregates over a set
    C("union-right-not-set", "E0203", H + "prune active union ⟦3⟧\n", message="the right side of `union`"),
    C("minus-left-not-set", "E0203", H + "prune ⟦1⟧ minus active\n", message="the left side of `minus`"),
    C("intersect-answer", "E0203", H + "let s = completed intersect ⟦majority(live)⟧\n",
      message="the right side of `intersect` must be a branch set, got an answer"),
    C("take-last-count", "E0203", H + "prune active take last ⟦active⟧\n", message="the count of `take last`"),
    C("take-last-per-branch", "E0209", H + "prune active take last ⟦depth⟧\n",
      message="the count of `take last` is evaluated in the episode's scope, never a member's",
      help="`max_of(S, depth)`"),
    # docs/language.md's example: a `take` count inside `update … set` is still in the episode's scope
    C("take-count-in-update", "E0209", H + "branch f: int = 0\nupdate live set f = count(live take ⟦depth⟧)\n",
      message="`depth` is a branch field, and the count of `take` is evaluated in the episode's scope, "
              "never a member's, even inside a per-member context"),

    C("union-is-a-keyword", "E0101", H + "let ⟦union⟧ = 3\n", help="`union` is a keyword"),
    C("distinct-not-set", "E0203", H + "let x = distinct(⟦3⟧)\n", message="an argument of `distinct`"),
    C("sum-of-answer", "E0203", H + "let x = sum_of(completed, ⟦last⟧)\n",
      message="the per-member value of `sum_of` must be a number, got an answer"),
    C("mean-of-bool", "E0203", H + "let x = mean_of(live, ⟦finished⟧)\n", message="got a bool"),
    C("weighted-arity", "E0204", H + "let x = ⟦weighted(completed)⟧\n", message="takes 2 arguments, got 1"),
    C("weighted-unknown-name", "E0201", H + "let x = weighted(completed, ⟦wieght⟧)\n"),
    # ---- per-branch answer histories
    C("history-too-long", "E0208", H + "branch h: history(⟦17⟧)\n", message="from 1 to 16 answers"),
    C("history-empty", "E0208", H + "branch h: history( ⟦0⟧ )\n"),
    C("history-outside-branch", "E0209", H + "branch h: history(2)\nlet x = history_size(⟦h⟧)\n"),
    C("history-as-value", "E0203", H + "branch h: history(2)\nprune active where ⟦h⟧ == none\n",
      message="read it with history_size()"),
    C("history-set", "E0206", H + "branch h: history(2)\nupdate active set ⟦h⟧ = 1\n", message="nothing sets it"),
    C("history-call-window", "E0203", H + "var w: window(2)\nprune active where history_unanimous(⟦w⟧)\n",
      help="branch NAME: history(K)"),
    C("history-arity", "E0204", H + "branch h: history(2)\nprune active where ⟦history_size(h, h)⟧ > 1\n"),
    C("history-votes-arity", "E0204", H + "branch h: history(2)\nprune active where ⟦history_votes(h)⟧ > 1\n",
      message="takes 2 arguments, got 1"),
    C("history-votes-answer", "E0203", H + "branch h: history(2)\nprune active where history_votes(h, ⟦3⟧) > 1\n",
      message="must be an answer", help="history_votes(h, a):"),
    C("history-votes-outside-branch", "E0209", H + "branch h: history(2)\nlet x = history_votes(⟦h⟧, \"a\")\n"),
    C("history-votes-not-a-history", "E0203",
      H + "var w: window(2)\nprune active where history_votes(⟦w⟧, last) > 0\n", help="branch NAME: history(K)"),
    # ---- per-branch windows
    C("branch-window-too-long", "E0208", H + "branch w: window(⟦65⟧)\n", message="from 1 to 64 numbers"),
    C("branch-window-outside-branch", "E0209", H + "branch w: window(2)\nlet x = mean(⟦w⟧)\n"),
    C("branch-window-as-value", "E0203", H + "branch w: window(2)\nprune active where ⟦w⟧ > 1\n",
      message="a branch window"),
    C("branch-window-var-push", "E0203", H + "branch w: window(2)\npush 1 to ⟦w⟧\n", help="update SET push"),
    C("update-push-var-window", "E0203", H + "var w: window(2)\nupdate active push 1 to ⟦w⟧\n",
      help="`push … to`"),
    C("update-push-answer", "E0203", H + "branch w: window(2)\nupdate active push ⟦last⟧ to w\n",
      message="a pushed value must be a number"),
    # ---- several errors in one file: all reported, in source order, no cascades
    C("several", "E0201 E0203 E0207 E0202",
      H + "let y = ⟦foo⟧\nstop ⟦1⟧\n⟦break⟧\nlet ⟦y⟧ = 2\nstop y\n"),
    C("several-same-line", "E0201 E0201", H + "let z = ⟦aa⟧ + ⟦bb⟧\nstop none\n"),
]


def test_case_ids_are_unique() -> None:
    assert len({c.id for c in CASES}) == len(CASES)


def test_every_code_is_covered() -> None:
    codes = {code for c in CASES for code in c.codes}
    assert codes >= {"E0001", "E0003", "E0004", "E0101", "E0102", "E0103", "E0104"} | {
        f"E02{n:02d}" for n in range(1, 13)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_diagnostic_is_located(case: Case) -> None:
    text, marks = unmark(case.text)
    assert len(marks) == len(case.codes), "one ⟦…⟧ per expected diagnostic"
    src, diags = diagnostics_of(text)
    got = [(d.code, d.span.line, d.span.col, d.span.end_line, d.span.end_col) for d in diags]
    want = [(code, *expected_location(src, a, b)) for code, (a, b) in zip(case.codes, marks)]
    assert got == want, "\n\n".join(d.render(src) for d in diags)
    first = diags[0]
    if case.help is not None:
        assert first.help is not None and case.help in first.help, first.help
        if "`/`" in (first.help or ""):
            assert "/" in text[marks[0][0]:marks[0][1]].replace("//", ""), "the `/` hint where nothing is divided"
    if case.message is not None:
        assert case.message in first.message, first.message


def test_limits_and_scopes_accepted_by_check() -> None:
    """The other side of the E0220 product and E0209 take-count cases: what `check` lets through."""
    from ttsc.dsl.parser import parse
    from ttsc.errors import TtscError
    from ttsc.runtime.bounds import check_bounds

    accepted = {"at-the-limit": H + "repeat 1000 { repeat 1000 { } }\nstop none\n",
                "parameter-count": H + "param n: int = 2000\nrepeat n { repeat 1000 { } }\nstop none\n",
                "query-in-take-count": H + "open 4\nprune live take count(active where depth > 2)\nstop none\n"}
    for name, text in accepted.items():
        assert diagnostics_of(text)[1] == [], name
    # a product that depends on a parameter is refused when it is bound, as before
    text = accepted["parameter-count"]
    checked = check(parse(text), Source("p.tts", text))
    check_bounds(checked, {"n": 1000})
    with pytest.raises(TtscError, match="2,000,000 iterations per episode"):
        check_bounds(checked, {"n": 2000})


def test_invalid_utf8_is_located() -> None:
    data = "strategy t\nstop none\n".encode() + b"let x = \xff\n"
    with pytest.raises(DiagnosticError) as info:
        decode_source(data, "bad.tts")
    (d,) = info.value.diagnostics
    assert (d.code, d.span.line, d.span.col) == ("E0001", 3, 9)
    assert "0xff" in d.message


def test_oversized_file() -> None:
    with pytest.raises(DiagnosticError) as info:
        decode_source(b"#" * (256 * 1024 + 1), "big.tts")
    (d,) = info.value.diagnostics
    assert d.code == "E0002" and "262,145 bytes" in d.message


def test_token_cap_points_past_the_limit() -> None:
    text = H + "let x = " + " + ".join(["1"] * 20_000) + "\n"
    src, diags = diagnostics_of(text)
    (d,) = diags
    assert d.code == "E0002" and "tokens" in d.message
    assert d.span.line == 2 and d.span.col > 30_000


def test_reference_strategies_have_no_diagnostics() -> None:
    from pathlib import Path

    for path in sorted((Path(__file__).resolve().parents[1] / "strategies").glob("*.tts")):
        assert diagnostics_of(path.read_text(encoding="utf-8"))[1] == [], path


# ---- the rendered text ------------------------------------------------------


def test_render_format() -> None:
    text = "strategy t\n\n\n\n\n\n\n\nparam threshold: float = 0.5\nlet x = threshhold * 2\n"
    src, (d,) = diagnostics_of(text, "dir/case.tts")
    assert d.render(src) == "\n".join([
        "error[E0201]: unknown name `threshhold`",
        "  --> dir/case.tts:10:9",
        "   |",
        "10 | let x = threshhold * 2",
        "   |         ^^^^^^^^^^",
        "   = help: did you mean `threshold`?",
    ])


def test_render_of_several_and_summary() -> None:
    text = H + "stop 1\nstop 2\n"
    with pytest.raises(DiagnosticError) as info:
        check(parse_source(Source("x.tts", text)), Source("x.tts", text))
    out = info.value.render()
    assert out.count("error[E0203]") == 2
    assert out.index(" --> x.tts:2:6") < out.index(" --> x.tts:3:6")
    assert out.endswith("2 errors: x.tts was not accepted")
    assert str(info.value) == out


def test_render_caret_at_end_of_line_for_missing_token() -> None:
    src, (d,) = diagnostics_of(H + "stop\n")
    lines = d.render(src).split("\n")
    assert lines[3] == "2 | stop"
    assert lines[4] == "  |     ^"


def test_render_multiline_span_underlines_to_end_of_first_line() -> None:
    text = H + "open 1\nvar x: int =\n    1\n"
    src, (d,) = diagnostics_of(text)
    assert d.code == "E0210" and (d.span.line, d.span.end_line) == (3, 4)
    assert d.render(src).split("\n")[4] == "  | " + "^" * len("var x: int =")


def test_render_escapes_control_characters() -> None:
    # A hostile file must not send terminal escape sequences through an error message.
    text = H + "stop \x1b[2J none\n"
    src, (d,) = diagnostics_of(text)
    out = d.render(src)
    assert "\x1b" not in out
    assert d.code == "E0102" and d.span.col == 6
    line, caret = out.split("\n")[3:5]
    assert line == "2 | stop ?[2J none" and caret.index("^") == line.index("?")


def test_render_keeps_long_lines_short_and_caret_aligned() -> None:
    text = H + "let x = near + " + "1 + " * 90 + "far_away\n"
    src, diags = diagnostics_of(text)
    assert [(d.message, d.span.col) for d in diags] == [
        ("unknown name `near`", 9), ("unknown name `far_away`", 9 + len("near + ") + 4 * 90)]
    for diag in diags:
        line, caret = diag.render(src).split("\n")[3:5]
        assert len(line) < 200
        start = caret.index("^")
        name = src.text[diag.span.start:diag.span.end]
        assert line[start:start + len(name)] == name[: len(line) - start]


def test_crlf_line_endings() -> None:
    src, (d,) = diagnostics_of("strategy t\r\nstop 1\r\n")
    assert (d.code, d.span.line, d.span.col) == ("E0203", 2, 6)
    assert "\r" not in d.render(src)
    assert d.to_json(src)["source_line"] == "stop 1"


def test_to_json_fields() -> None:
    src, (d,) = diagnostics_of(H + "stop gold\n", "g.tts")
    assert d.to_json(src) == {
        "severity": "error", "code": "E0201", "message": "unknown name `gold`", "file": "g.tts",
        "line": 2, "col": 6, "end_line": 2, "end_col": 10, "source_line": "stop gold",
        "help": "gold answers are not visible to strategies", "notes": [], "labels": [],
    }


# ---- the same data from `ttsc check --format json` ---------------------------


@pytest.mark.parametrize("case", [c for c in CASES if c.id in (
    "unknown-name", "several", "eof-after-stop", "dollar", "duplicate-read-bind", "empty")], ids=lambda c: c.id)
def test_check_json_matches_diagnostics(case: Case, tmp_path) -> None:
    text, _ = unmark(case.text)
    path = tmp_path / "case.tts"
    path.write_text(text, encoding="utf-8")
    result = _runner().invoke(cli, ["check", "--format", "json", str(path)])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    src, diags = diagnostics_of(text, str(path))
    assert report == [d.to_json(src) for d in diags]
    for entry in report:
        assert set(entry) >= {"code", "message", "file", "line", "col", "end_line", "end_col", "source_line", "help"}
        assert entry["file"] == str(path)
        assert entry["source_line"] == text.split("\n")[entry["line"] - 1]


def test_check_text_matches_render(tmp_path) -> None:
    text = H + "let y = foo\nstop 1\n"
    path = tmp_path / "two.tts"
    path.write_text(text, encoding="utf-8")
    result = _runner().invoke(cli, ["check", str(path)])
    assert result.exit_code == 1
    src, diags = diagnostics_of(text, str(path))
    assert result.stderr.strip() == DiagnosticError(src, diags).render()
    assert result.stdout == ""
    assert re.search(r"^error\[E0201\]: unknown name `foo`$", result.stderr, re.M)


def test_a_leading_byte_order_mark_is_ignored(tmp_path) -> None:
    f = tmp_path / "bom.tts"
    f.write_bytes("\ufeffstrategy bom\nopen 2\nstop majority(completed)\n".encode("utf-8"))
    out = _runner().invoke(cli, ["check", str(f)])
    assert out.exit_code == 0 and out.stderr == "", out.output
    f.write_bytes("\ufeffstrategy bom\nopen 2\nstop nothing\n".encode("utf-8"))
    out = _runner().invoke(cli, ["check", str(f)])
    assert out.exit_code == 1 and f"{f.name}:3:6" in out.stderr  # columns count from after the mark
