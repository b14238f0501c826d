"""Golden syntax trees: each reference strategy and each feature program, dumped as JSON.

A change to the grammar, the transformer or a span shows up here as a diff.
`pytest --update-goldens` rewrites tests/golden/ast/ from the current parser;
review the diff before committing it.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ttsc.dsl import ast
from ttsc.dsl.checker import check
from ttsc.dsl.parser import parse_file

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).parent / "golden"
PROGRAMS = sorted((ROOT / "strategies").glob("*.tts")) + sorted((GOLDEN / "programs").glob("*.tts"))


def _dump(program: ast.Program) -> str:
    return json.dumps(program.model_dump(mode="json"), indent=1) + "\n"


def test_programs_have_distinct_golden_names() -> None:
    stems = [p.stem for p in PROGRAMS]
    assert len(stems) == len(set(stems)), stems
    assert {"sc", "asc", "esc", "parallel_probe", "cmc"} <= set(stems)
    assert len(stems) >= 9


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_ast_matches_golden(path: Path, update_goldens: bool) -> None:
    program, src = parse_file(path)
    check(program, src)  # every golden program is a valid one
    golden = GOLDEN / "ast" / f"{path.stem}.json"
    if update_goldens:
        golden.write_text(_dump(program), encoding="utf-8")
        return
    assert golden.is_file(), f"no golden file {golden}; run `pytest --update-goldens` and review it"
    assert program.model_dump(mode="json") == json.loads(golden.read_text(encoding="utf-8")), (
        f"{path.name} parses differently from {golden.name}; if the change is intended "
        "(even a moved comment shifts later offsets), run `pytest --update-goldens` and review the diff")


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.stem)
def test_golden_loads_back_to_the_same_tree(path: Path) -> None:
    # The `kind` tags make a dump unambiguous: JSON -> AST gives back the parsed tree.
    golden = GOLDEN / "ast" / f"{path.stem}.json"
    if not golden.is_file():
        pytest.skip("golden file not written yet")
    program, _ = parse_file(path)
    assert ast.Program.model_validate(json.loads(golden.read_text(encoding="utf-8"))) == program


def test_no_stale_golden_files() -> None:
    stems = {p.stem for p in PROGRAMS}
    stale = sorted(g.name for g in (GOLDEN / "ast").glob("*.json") if g.stem not in stems)
    assert not stale, f"golden files without a program: {stale}"


def _kinds(node: object) -> set[str]:
    """Every `kind` tag in a dumped tree."""
    found: set[str] = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if "kind" in n:
                found.add(n["kind"])
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)
    return found


def test_feature_programs_cover_every_node_kind() -> None:
    """The feature programs exercise every statement, declaration and expression node."""
    all_kinds = set()
    for model in (ast.Int, ast.Float, ast.Bool, ast.NoneLit, ast.Name, ast.Binary, ast.Unary, ast.IfExp, ast.Call,
                  ast.Where, ast.Sorted, ast.Take, ast.Let, ast.Assign, ast.Push, ast.IfBranch, ast.If, ast.Repeat,
                  ast.Break, ast.Stop, ast.Open, ast.Read, ast.Advance, ast.Prune, ast.Setter, ast.Update,
                  ast.Param, ast.Var, ast.Window, ast.BranchVar, ast.Signal, ast.Program):
        all_kinds.add(model.model_fields["kind"].default)
    seen: set[str] = set()
    ops: set[str] = set()
    for path in sorted((GOLDEN / "programs").glob("*.tts")):
        dumped = parse_file(path)[0].model_dump(mode="json")
        seen |= _kinds(dumped)
        ops |= {n["op"] for n in _walk(dumped) if n.get("kind") in ("binary", "unary")}
    assert all_kinds - seen == set()
    assert ops == {"+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or", "not"}


def _walk(node: object):
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            yield n
            stack.extend(n.values())
        elif isinstance(n, list):
            stack.extend(n)


def test_spans_point_at_the_source_text() -> None:
    """Spans are 1-based line:col with 0-based offsets into the same text."""
    path = GOLDEN / "programs" / "layout.tts"
    program, src = parse_file(path)
    for node in _walk(program.model_dump(mode="json")):
        span = node.get("span")
        if not span:
            continue
        assert src.span_at(span["start"]).line == span["line"]
        assert src.span_at(span["start"]).col == span["col"]
        assert src.span_at(span["end"]).line == span["end_line"]
        assert src.span_at(span["end"]).col == span["end_col"]
    # A statement spread over lines spans all of them.
    advance = next(i for i in program.items if isinstance(i, ast.Advance))
    assert src.text[advance.span.start:advance.span.end].split() == [
        "advance", "active", "sorted", "by", "depth", "desc", "by", "if", "last", "==", "majority(live)", "then",
        "2", "else", "1"]
    assert (advance.span.line, advance.span.end_line) == (9, 13)
