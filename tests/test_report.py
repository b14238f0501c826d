"""The Table 1 report: number formatting, judging cells, the layout, and real cells reproduced."""

from __future__ import annotations

import json
import shutil

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.insight import report as rep
from ttsc.insight import table1
from ttsc.insight.table1 import MATCH, MISMATCH, PAPER_DIFFERS, Cell, CellResult, Measured
from ttsc.runtime.store import default_store_path

INFO = rep.ReportInfo(seeds=100, engine="interpret", stores="stores")


def test_kilotokens_are_printed_as_the_paper_prints_them() -> None:
    assert table1.format_kilotokens(406250.492) == "406.2"  # 406.25 is exact: ties go to even
    assert table1.format_kilotokens(406750.0) == "406.8"
    assert table1.format_kilotokens(1008649.99) == "1008.6"  # truncated to whole tokens first
    assert table1.format_kilotokens(999.9) == "1.0"
    assert table1.format_accuracy(76.66666666666666) == "76.7" and table1.format_accuracy(21.35) == "21.4"


def _cell(dataset="aime25", label="ASC", method="asc", acc=76.7, kt=406.2, model="M") -> Cell:
    return Cell(model, dataset, label, method, {}, acc, kt)


def test_cells_are_judged_against_the_paper_or_its_code() -> None:
    same = CellResult(_cell(), Measured(76.66, 406250.4), Measured(76.66, 406250.9))
    assert same.status == MATCH and not same.paper_differs_from_code
    no_code = CellResult(_cell(), Measured(76.66, 406250.4))
    assert no_code.status == MATCH
    # the paper prints something its own code does not give; ttsc gives the code's numbers
    differs = CellResult(_cell(acc=80.1, kt=175.7), Measured(80.0, 214_200.0), Measured(80.04, 214_249.0))
    assert differs.paper_differs_from_code and differs.status == PAPER_DIFFERS
    # ... but not where ttsc gives neither the paper's nor the code's numbers
    assert CellResult(_cell(acc=80.1, kt=175.7), Measured(80.0, 214_350.0), Measured(80.0, 214_249.0)).status \
        == MISMATCH
    assert CellResult(_cell(), Measured(76.66, 406350.0), Measured(76.66, 406250.0)).status == MISMATCH
    assert CellResult(_cell(), Measured(76.76, 406250.0)).status == MISMATCH


def test_summary_is_counted() -> None:
    results = [CellResult(_cell(model=f"M{i}"), Measured(76.7, 406_200.0), Measured(76.7, 406_200.0))
               for i in range(4)]
    results.append(CellResult(_cell(acc=80.1, kt=175.7), Measured(80.0, 214_200.0), Measured(80.0, 214_200.0)))
    s = table1.summarize(results)
    assert (s.reproduced, s.expected, s.paper_differs, s.code_reproduced, s.ok) == (4, 4, 1, 1, True)
    assert s.line().startswith("4/4 cells reproduced; 1 cells differ in the paper itself (marked †)")
    results.append(CellResult(_cell(model="M9"), Measured(70.0, 406_200.0), Measured(76.7, 406_200.0)))
    s = table1.summarize(results)
    assert (s.reproduced, s.expected, len(s.mismatches)) == (4, 5, 1)
    assert s.line().startswith("4/5 cells reproduced") and "1 UNEXPECTED MISMATCH" in s.line()


def _model_block(model: str, asc_status: str) -> list[CellResult]:
    """SC@64 and ASC on three benchmarks; held-out SC tokens 1000k and 2000k, ASC 300k and 600k."""
    sc = {"aime24": (80.0, 900_000.0), "aime25": (70.0, 1_000_000.0), "hmmt25": (50.0, 2_000_000.0)}
    asc = {"aime24": (79.0, 200_000.0), "aime25": (69.0, 300_000.0), "hmmt25": (49.0, 600_000.0)}
    out = []
    for d, (a, t) in sc.items():
        m = Measured(a, t)
        out.append(CellResult(Cell(model, d, "SC@64", "sc", {"n": 64}, a, t / 1000), m, m))
    for d, (a, t) in asc.items():
        m = Measured(a, t)
        paper = (a, t / 1000)
        if asc_status == "dagger" and d == "aime24":
            paper = (a + 1.0, 175.7)
        if asc_status == "mismatch" and d == "hmmt25":
            return out + [CellResult(Cell(model, d, "ASC", "asc", {}, a, t / 1000), Measured(a + 0.5, t), m)]
        out.append(CellResult(Cell(model, d, "ASC", "asc", {}, *paper), m, m))
    return out


def test_markdown_layout_dagger_and_savings() -> None:
    results = _model_block("Qwen3-X", "dagger")
    md = rep.render_markdown(results, INFO)
    assert "**5/5 cells reproduced; 1 cells differ in the paper itself (marked †)" in md
    lines = md.splitlines()
    assert "| Method | AIME24 (search) | AIME25 (held out) | HMMT25 (held out) | Held-out avg | " \
           "Tokens saved vs SC@64 |" in lines
    assert "| SC@64 | 80.0 / 900.0 | 70.0 / 1000.0 | 50.0 / 2000.0 | 60.0 / 1500.0 | — |" in lines
    # (300k + 600k) / 2 = 450k against 1500k: 70% saved; the search-set cell carries the dagger and the paper's number
    assert "| ASC | 79.0 / 200.0 † (paper 80.0 / 175.7) | 69.0 / 300.0 | 49.0 / 600.0 | 59.0 / 450.0 | 70.0% |" \
        in lines
    assert "| Qwen3-X AIME24 ASC | 80.0 / 175.7 | 79.0 / 200.0 | 79.0 / 200.0 |" in lines
    assert "UNEXPECTED" not in md


def test_unexpected_mismatch_is_loud_and_missing_cells_show_a_dash() -> None:
    results = _model_block("Qwen3-Y", "mismatch")
    md = rep.render_markdown(results, INFO)
    assert md.index("✗ UNEXPECTED MISMATCHES (1)") < md.index("### Qwen3-Y")
    assert "- Qwen3-Y hmmt25 ASC: ttsc 49.5 / 600.0, paper 49.0 / 600.0, published code 49.0 / 600.0" in md
    assert "| ASC | 79.0 / 200.0 | 69.0 / 300.0 | **49.5 / 600.0** ✗ (paper 49.0 / 600.0) |" in md
    assert "1 UNEXPECTED MISMATCH" in md


def test_savings_need_the_baseline_and_every_held_out_cell() -> None:
    results = [r for r in _model_block("Qwen3-Z", "ok") if not (r.cell.method == "sc" and r.cell.dataset == "hmmt25")]
    (block,) = rep.blocks(results)
    sc_row, asc_row = block.rows
    assert rep.held_out_average(sc_row, block) is None and rep.savings_vs_sc(asc_row, block) is None
    assert rep.held_out_average(asc_row, block) == (59.0, 450_000.0)
    assert rep.display_label("CMC(0.5)") == "CMC β=0.5" and rep.format_savings(-3.14) == "-3.1%"


def test_html_is_self_contained() -> None:
    page = rep.render_html(_model_block("Qwen3-X", "dagger"), INFO, [rep.Figure("a plot", b"\x89PNG fake")])
    assert page.startswith("<!doctype html>") and "<style>" in page
    assert "data:image/png;base64,iVBORyBmYWtl" in page
    assert "http://" not in page and "https://" not in page and "<script" not in page and "<link" not in page
    assert '<td class="search dagger">79.0†<span class="paper">paper 80.0</span></td>' in page
    assert "<td>70.0%</td>" in page


def test_select_cells(shared) -> None:
    cells = table1.load_cells(shared / "reference" / "paper_table1.json")
    assert len(cells) == 72
    chosen = table1.select(cells, ["Qwen3-8B", "sc,esc"])
    assert [(c.dataset, c.method) for c in chosen] == [(d, m) for m in ("sc", "esc") for d in ("aime24", "aime25",
                                                                                                 "hmmt25")]
    from ttsc.errors import TtscError

    with pytest.raises(TtscError, match="no Table 1 cell"):
        table1.select(cells, ["nope"])


# ---- real cells

def _reproduce(shared, only, engine="interpret"):
    cells = table1.select(table1.load_cells(shared / "reference" / "paper_table1.json"), only)
    code = table1.load_code_reference(shared / "reference" / "autotts_reference.json")
    return table1.reproduce(cells, shared / "replay" / "autotts", seeds=100, engine=engine, code=code)


def test_a_few_cells_with_the_interpreter(shared) -> None:
    results = _reproduce(shared, ["Qwen3-8B", "aime25", "sc,asc,esc"])  # the fast ones
    results += _reproduce(shared, ["Qwen3-4B", "aime24", "asc"])  # a cell the paper misprints
    assert [r.status for r in results] == [MATCH, MATCH, MATCH, PAPER_DIFFERS]
    assert results[1].ours.printed == ("76.7", "406.2")
    assert results[3].ours.printed == results[3].code.printed == ("80.0", "214.2")
    assert results[3].cell.printed == ("80.1", "175.7")


def test_every_sc_asc_esc_cell_with_the_compiled_engine(shared) -> None:
    results = _reproduce(shared, ["sc,asc,esc"], engine="compiled")
    s = table1.summarize(results)
    assert len(results) == 36 and s.ok, [rep.mismatch_text(r) for r in s.mismatches]
    assert (s.reproduced, s.expected, s.paper_differs) == (33, 33, 3)  # Qwen3-4B ASC differs in the paper


def test_report_command(tmp_path, shared) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["report", "--stores", str(shared / "replay" / "autotts"),
                                   "--paper", str(shared / "reference" / "paper_table1.json"),
                                   "--reference", str(shared / "reference" / "autotts_reference.json"),
                                   "--only", "Qwen3-8B", "--only", "aime25", "--only", "sc,esc",
                                   "--engine", "interpret", "--jobs", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "**2/2 cells reproduced.**" in res.output
    assert "76.7 / 793.1" in res.output  # the ESC cell, as the paper prints it
    assert "Table 1" not in res.stderr  # no progress bar when stderr is not a terminal
    assert (out / "report.md").read_text() in res.output
    assert "<table>" in (out / "report.html").read_text()


def test_report_command_fails_on_a_mismatch(tmp_path) -> None:
    stores = tmp_path / "stores" / "M"
    stores.mkdir(parents=True)
    shutil.copy(default_store_path(), stores / "d.json")
    paper = tmp_path / "paper.json"
    paper.write_text(json.dumps({"rows": [{"model": "M", "dataset": "d", "label": "SC@4", "method": "sc",
                                           "params": {"n": 4}, "accuracy": 101.0, "kilotokens": 1.0}]}))
    res = CliRunner().invoke(cli, ["report", "--stores", str(tmp_path / "stores"), "--paper", str(paper),
                                   "--engine", "interpret", "--quiet"])
    assert res.exit_code == 1
    assert "0/1 cells reproduced; 1 UNEXPECTED MISMATCH" in res.output and "M d SC@4: ttsc" in res.output


def test_report_command_bad_input(tmp_path) -> None:
    paper = tmp_path / "paper.json"
    paper.write_text('{"rows": [{"model": "M"}]}')
    res = CliRunner().invoke(cli, ["report", "--stores", str(tmp_path), "--paper", str(paper)])
    assert res.exit_code == 2 and "row 0" in res.output and "Traceback" not in res.output
