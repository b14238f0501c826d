"""docs/language.md stays true to the implementation.

The grammar it prints is the grammar file, every built-in and error code is
documented, every ```tts example is a valid program, the tour's programs are the
shipped strategies, and the worked cost example adds up as the interpreter says.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ttsc.dsl import builtins, parser
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import DiagnosticError, Source
from ttsc.runtime.env import EpisodeView
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.tables import shuffled_order
from ttsc.compiler.interpret import Interpreter
from ttsc.runtime.store import Branch, Question, Store

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "language.md"
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)


@pytest.fixture(scope="module")
def doc() -> str:
    return DOC.read_text(encoding="utf-8")


def blocks(text: str, tag: str) -> list[str]:
    return [body for t, body in FENCE.findall(text) if t == tag]


def strategy_name(program: str) -> str:
    return re.search(r"\bstrategy\s+(\w+)", program).group(1)


def tokens(program: str) -> list[str]:
    """The program's words without comments or layout."""
    return re.sub(r"#[^\n]*", "", program).split()


def test_grammar_block_is_the_grammar_file(doc: str) -> None:
    grammar = (ROOT / "grammars" / "tts.lark").read_text(encoding="utf-8")
    assert blocks(doc, "lark") == [grammar]


def test_every_builtin_is_documented(doc: str) -> None:
    missing = [f"{f}()" for f in builtins.FUNCS if f"`{f}(" not in doc]
    missing += [n for n in [*builtins.SETS, *builtins.FIELDS] if f"`{n}`" not in doc]
    assert not missing, f"undocumented built-ins: {missing}"


def test_every_error_code_is_documented(doc: str) -> None:
    files = [p for folder in ("dsl", "insight", "cli") for p in sorted((ROOT / folder).glob("*.py"))]
    codes = set(re.findall(r"[EW]0\d{3}", "".join(p.read_text(encoding="utf-8") for p in files)))
    assert {"E0101", "E0901", "W0001"} <= codes, "error codes not found where they are raised"
    assert not sorted(c for c in codes if c not in doc), "error codes missing from docs/language.md"
    # The code tables list no code the implementation lacks.
    table = set(re.findall(r"^\| ([EW]0\d{3}) \|", doc, re.M))
    assert table == codes


def test_keywords_and_hidden_names_match_builtins(doc: str) -> None:
    listed = re.search(r"\*\*Keywords:\*\*(.*?)\(`window`", doc, re.S).group(1)
    assert set(re.sub(r"[`.\s]+", " ", listed).split()) == set(builtins.KEYWORDS)
    for name, message in builtins.HIDDEN.items():
        assert f"`{name}`" in doc and message in doc, name


def test_limits_match_the_implementation(doc: str) -> None:
    assert f"{builtins.MAX_REPEAT:,}" in doc and f"from 1 to {builtins.MAX_WINDOW:,}" in doc
    assert f"{parser.MAX_NESTING} " in doc
    assert f"at most {parser.MAX_INT_DIGITS} of them" in doc
    assert f"{parser.MAX_SOURCE_BYTES // 1024} KiB" in doc


def test_every_tts_example_parses_and_checks(doc: str) -> None:
    examples = blocks(doc, "tts")
    assert len(examples) >= 7
    for i, program in enumerate(examples):
        name = f"docs/language.md example {i + 1} ({strategy_name(program)})"
        try:
            check(parser.parse(program, name), Source(name, program))
        except DiagnosticError as err:
            pytest.fail(err.render())


def test_tour_programs_are_the_shipped_strategies(doc: str) -> None:
    shipped = {p.stem: p.read_text(encoding="utf-8") for p in (ROOT / "strategies").glob("*.tts")}
    shown = {strategy_name(b): b for b in blocks(doc, "tts")}
    assert set(shipped) <= set(shown), "the tour must show every shipped strategy"
    for name, text in shipped.items():
        assert tokens(shown[name]) == tokens(text), f"the tour's {name} differs from strategies/{name}.tts"


def test_worked_cost_example(doc: str) -> None:
    """Section 7's example: Δ = 500 and branches A, B, C, D handed out in that order."""
    program = next(b for b in blocks(doc, "tts") if strategy_name(b) == "cost_example")
    checked = check(parser.parse(program), Source("cost_example", program))
    handed_out = [
        Branch(("7", "7", "12", "12"), 2300, "12"),  # A
        Branch(("12",), 600, "12"),  # B
        Branch((), 300, "12"),  # C: no intermediate answers
        Branch(("3",), 4000, "9"),  # D
    ]
    slots: list[Branch | None] = [None] * 4
    for position, branch in zip(shuffled_order(4, 0), handed_out):
        slots[position] = branch
    question = Question("q", "12", 500, tuple(slots))
    round_costs: list[int] = []
    result = Interpreter(checked, {}).run(EpisodeView(ReplayEnvironment(Store("s", "", (question,)), [0]), 0),
                                          on_event=lambda e: round_costs.append(max(e.tokens)))
    assert (result.answer, result.tokens, result.sequential_tokens, result.rounds) == ("12", 6400, 5500, 3)
    assert round_costs == [500, 1000, 4000]
    for figure in ("6400 total tokens", "5500 sequential tokens", "in 3\nrounds"):
        assert figure in doc


def test_every_tts_file_under_docs_checks_and_the_mechanisms_benchmark_names_its_files() -> None:
    from benchmarks import mechanisms
    files = sorted((ROOT / "docs").rglob("*.tts"))
    assert len(files) >= 8
    for path in files:
        src = Source(str(path), path.read_text(encoding="utf-8"))
        check(parser.parse_source(src), src)  # raises DiagnosticError with the located message
    names = {p.stem for p in (ROOT / "docs" / "explorer" / "mechanisms").glob("*.tts")}
    assert names <= set(mechanisms.SETTINGS)  # every program of the page is measured
    for name, grid in mechanisms.SETTINGS.items():  # every swept parameter is one the program declares
        src = Source(name, mechanisms.program_path(name).read_text(encoding="utf-8"))
        declared = {p.name for p in parser.parse_source(src).params}
        assert set(grid) <= declared, name


def test_benchmarks_find_the_shared_data_where_the_tests_do(tmp_path: Path) -> None:
    # One rule for both: $TTSC_SHARED when set, else ../shared.
    import subprocess
    import sys

    code = "from benchmarks import shared; print(shared.SHARED); print(shared.STORES)"
    env = {**os.environ, "TTSC_SHARED": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == [str(tmp_path), str(tmp_path / "replay" / "autotts")]
    env.pop("TTSC_SHARED")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[0] == str(ROOT.parent / "shared")


def test_the_deserted_answers_table_is_what_the_benchmark_prints(shared: Path, capsys) -> None:
    from benchmarks import deserted
    stores = [str(shared / "replay" / "autotts" / m / "aime24.json")
              for m in ("Qwen3-0.6B", "Qwen3-1.7B", "Qwen3-4B", "Qwen3-8B")]
    deserted.main(stores)
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("|")]
    page = (ROOT / "docs" / "explorer" / "mechanisms.md").read_text(encoding="utf-8")
    assert len(printed) == 2 + len(deserted.SIZES)
    for line in printed:
        assert line in page.splitlines(), line


@pytest.mark.parametrize("module", ["bench", "e2e", "timings"])
def test_benchmark_command_lines_parse(module: str) -> None:
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", f"benchmarks.{module}", "--help"], cwd=ROOT, capture_output=True,
                         text=True)
    assert out.returncode == 0 and "--shared" in out.stdout, out.stderr
