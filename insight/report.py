"""The Table 1 report: Markdown for the terminal and a self-contained HTML page.

Layout follows the paper: one block of rows per model (SC@64, ASC, ESC,
Parallel-Probe, CMC β=0.5, CMC β=1.0), a column per benchmark (AIME24 was the
search set; the others are held out), the held-out average, and the held-out
tokens saved against SC@64. Every number is ttsc's own; a cell where the paper
prints something else shows the paper's number beside it and a mark: † where
the paper differs from its own published code (ttsc gives the code's number),
✗ for a mismatch nobody expected.
"""

from __future__ import annotations

import base64
import html
import re
from dataclasses import dataclass, field
from statistics import fmean
from typing import Sequence

from ttsc.errors import TtscError
from ttsc.insight.table1 import (MISMATCH, PAPER_DIFFERS, SEARCH_SET, CellResult, Summary, format_accuracy,
                                 format_kilotokens, summarize)

DAGGER, CROSS = "†", "✗"


@dataclass(frozen=True)
class Figure:
    """A picture to embed in the HTML report (PNG bytes, inlined as base64)."""

    caption: str
    png: bytes


@dataclass(frozen=True)
class ReportInfo:
    seeds: int
    engine: str
    stores: str
    seconds: float | None = None
    notes: tuple[str, ...] = ()  # e.g. why the HTML has no plots


@dataclass
class Row:
    label: str
    cells: dict[str, CellResult] = field(default_factory=dict)  # dataset -> result


@dataclass
class ModelBlock:
    model: str
    datasets: list[str]
    rows: list[Row]

    @property
    def held_out(self) -> list[str]:
        return [d for d in self.datasets if d != SEARCH_SET]


def display_label(label: str) -> str:
    """``CMC(0.5)`` → ``CMC β=0.5``; other labels as the paper prints them."""
    m = re.fullmatch(r"CMC\((.+)\)", label)
    return f"CMC β={m.group(1)}" if m else label


def display_dataset(name: str) -> str:
    return name.upper()


def blocks(results: Sequence[CellResult]) -> list[ModelBlock]:
    """Results grouped per model, rows and columns in the order the paper lists them."""
    out: dict[str, ModelBlock] = {}
    for r in results:
        c = r.cell
        b = out.setdefault(c.model, ModelBlock(c.model, [], []))
        if c.dataset not in b.datasets:
            b.datasets.append(c.dataset)
        row = next((x for x in b.rows if x.label == c.label), None)
        if row is None:
            row = Row(c.label)
            b.rows.append(row)
        row.cells[c.dataset] = r
    for b in out.values():  # the search set first, as in the paper
        b.datasets.sort(key=lambda d: d != SEARCH_SET)
    return list(out.values())


def held_out_average(row: Row, block: ModelBlock) -> tuple[float, float] | None:
    """Mean accuracy and mean tokens over the held-out benchmarks (None unless all were run)."""
    cells = [row.cells.get(d) for d in block.held_out]
    if not cells or any(c is None for c in cells):
        return None
    return fmean(c.ours.accuracy for c in cells), fmean(c.ours.avg_tokens for c in cells)


def savings_vs_sc(row: Row, block: ModelBlock) -> float | None:
    """Percent of held-out tokens saved against SC@64 (negative: it spends more)."""
    base = next((x for x in block.rows if all(c.cell.method == "sc" for c in x.cells.values())), None)
    if base is None or base is row:
        return None
    mine, theirs = held_out_average(row, block), held_out_average(base, block)
    if mine is None or theirs is None or theirs[1] == 0:
        return None
    return 100.0 * (1.0 - mine[1] / theirs[1])


def format_savings(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:.1f}%"


# ---- one cell's text

@dataclass(frozen=True)
class CellText:
    accuracy: str
    kilotokens: str
    paper: tuple[str | None, str | None]  # the paper's number where it differs from ours
    mark: str  # "", DAGGER or CROSS


def cell_text(r: CellResult) -> CellText:
    ours, paper = r.ours.printed, r.cell.printed
    mark = {PAPER_DIFFERS: DAGGER, MISMATCH: CROSS}.get(r.status, "")
    shown = tuple(p if p != o else None for o, p in zip(ours, paper))
    return CellText(ours[0], ours[1], shown, mark)  # type: ignore[arg-type]


def _md_cell(r: CellResult | None) -> str:
    if r is None:
        return "—"
    t = cell_text(r)
    text = f"{t.accuracy} / {t.kilotokens}"
    if t.mark == CROSS:
        text = f"**{text}** {CROSS}"
    elif t.mark:
        text += f" {t.mark}"
    if any(t.paper):
        text += f" (paper {r.cell.printed[0]} / {r.cell.printed[1]})"
    return text


# ---- Markdown

def render_markdown(results: Sequence[CellResult], info: ReportInfo) -> str:
    s = summarize(results)
    lines = ["# Table 1, reproduced", ""]
    lines += _mismatch_lines(s, "## ")
    lines += [f"**{s.line()}.**", "",
              f"Each cell is accuracy % / kilotokens per question (`int(avg_tokens) / 1000`), averaged over "
              f"{info.seeds} seeds; engine `{info.engine}`; stores `{info.stores}`"
              + (f"; {info.seconds:.0f} s." if info.seconds is not None else "."),
              f"{display_dataset(SEARCH_SET)} was the search set; the other benchmarks are held out."
              + (f" {DAGGER}: the paper prints a different number than its own published code gives; ttsc gives "
                 f"the code's number and the paper's is shown beside it." if s.paper_differs else ""), ""]
    for b in blocks(results):
        heads = ["Method"] + [f"{display_dataset(d)} ({'search' if d == SEARCH_SET else 'held out'})"
                              for d in b.datasets] + ["Held-out avg", "Tokens saved vs SC@64"]
        lines += [f"### {b.model}", "", "| " + " | ".join(heads) + " |",
                  "|---|" + "|".join("--:" for _ in heads[1:]) + "|"]
        for row in b.rows:
            avg = held_out_average(row, b)
            avg_text = "—" if avg is None else f"{format_accuracy(avg[0])} / {format_kilotokens(avg[1])}"
            cells = [display_label(row.label)] + [_md_cell(row.cells.get(d)) for d in b.datasets]
            lines.append("| " + " | ".join(cells + [avg_text, format_savings(savings_vs_sc(row, b))]) + " |")
        lines.append("")
    differs = [r for r in results if r.paper_differs_from_code]
    if differs:
        lines += [f"### {DAGGER} Cells where the paper differs from its published code", "",
                  "| Cell | Paper | Published code | ttsc |", "|---|--:|--:|--:|"]
        for r in differs:
            lines.append(f"| {r.cell.model} {display_dataset(r.cell.dataset)} {display_label(r.cell.label)} | "
                         f"{' / '.join(r.cell.printed)} | {' / '.join(r.code.printed)} | "
                         f"{' / '.join(r.ours.printed)} |")
        lines.append("")
    lines += [f"- {n}" for n in info.notes]
    return "\n".join(lines).rstrip() + "\n"


def _mismatch_lines(s: Summary, heading: str) -> list[str]:
    if s.ok:
        return []
    out = [f"{heading}{CROSS} UNEXPECTED MISMATCHES ({len(s.mismatches)})", ""]
    out += [f"- {mismatch_text(r)}" for r in s.mismatches]
    return out + [""]


def mismatch_text(r: CellResult) -> str:
    text = f"{r.cell.name}: ttsc {' / '.join(r.ours.printed)}, paper {' / '.join(r.cell.printed)}"
    if r.code is not None:
        text += f", published code {' / '.join(r.code.printed)}"
    return text


# ---- HTML

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:1100px;
color:#1d1d1f;padding:0 1rem}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem}
.summary{padding:.6rem .9rem;border-radius:6px;background:#eef7ee;border:1px solid #9c9}
.summary.bad{background:#fdecec;border-color:#d66}
table{border-collapse:collapse;margin:.8rem 0 1.4rem;width:100%}
th,td{padding:.28rem .55rem;border-bottom:1px solid #e3e3e6;text-align:right;white-space:nowrap}
th{background:#f6f6f8;font-weight:600}th.l,td.l{text-align:left}
tr.model td{background:#fafafa;font-weight:600;text-align:left;border-top:2px solid #bbb}
td.search{background:#fbfbf4}
.paper{display:block;font-size:.78rem;color:#777}
td.dagger{color:#7a4b00}td.cross{color:#b00020;font-weight:700}
.note{color:#555;font-size:.9rem}figure{margin:1rem 0}figure img{max-width:100%}
figcaption{color:#555;font-size:.85rem}
"""


def render_html(results: Sequence[CellResult], info: ReportInfo, figures: Sequence[Figure] = ()) -> str:
    """One self-contained page: inline CSS, figures inlined as base64 PNG, no external requests."""
    s = summarize(results)
    e = html.escape
    out = ["<!doctype html>", '<html lang="en"><head><meta charset="utf-8">',
           "<title>ttsc — Table 1, reproduced</title>", f"<style>{_CSS}</style></head><body>",
           "<h1>Table 1, reproduced</h1>",
           f'<p class="summary{"" if s.ok else " bad"}"><strong>{e(s.line())}.</strong></p>']
    if not s.ok:
        out.append(f"<h2>{CROSS} Unexpected mismatches</h2><ul>"
                   + "".join(f"<li>{e(mismatch_text(r))}</li>" for r in s.mismatches) + "</ul>")
    out.append(f'<p class="note">Accuracy % and kilotokens per question (<code>int(avg_tokens) / 1000</code>), '
               f"averaged over {info.seeds} seeds; engine <code>{e(info.engine)}</code>; stores "
               f"<code>{e(info.stores)}</code>{'' if info.seconds is None else f'; {info.seconds:.0f} s'}. "
               f"{e(display_dataset(SEARCH_SET))} was the search set; the other benchmarks are held out."
               + (f" {DAGGER}: the paper prints a different number than its own published code gives; ttsc gives "
                  f"the code's number, the paper's is shown below it." if s.paper_differs else "") + "</p>")
    for b in blocks(results):
        out.append(_html_table(b))
    differs = [r for r in results if r.paper_differs_from_code]
    if differs:
        out.append(f"<h2>{DAGGER} Cells where the paper differs from its published code</h2><table>"
                   '<tr><th class="l">Cell</th><th>Paper</th><th>Published code</th><th>ttsc</th></tr>')
        for r in differs:
            out.append(f'<tr><td class="l">{e(r.cell.model)} {e(display_dataset(r.cell.dataset))} '
                       f"{e(display_label(r.cell.label))}</td><td>{' / '.join(r.cell.printed)}</td>"
                       f"<td>{' / '.join(r.code.printed)}</td><td>{' / '.join(r.ours.printed)}</td></tr>")
        out.append("</table>")
    for f in figures:
        data = base64.b64encode(f.png).decode("ascii")
        out.append(f'<figure><img alt="{e(f.caption)}" src="data:image/png;base64,{data}">'
                   f"<figcaption>{e(f.caption)}</figcaption></figure>")
    out += [f'<p class="note">{e(n)}</p>' for n in info.notes]
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _html_table(b: ModelBlock) -> str:
    e = html.escape
    top = ['<th class="l" rowspan="2">Method</th>']
    top += [f'<th colspan="2">{e(display_dataset(d))}<br><small>{"search set" if d == SEARCH_SET else "held out"}'
            f"</small></th>" for d in b.datasets]
    top += ['<th colspan="2">Held-out avg</th>', '<th rowspan="2">Tokens saved<br>vs SC@64</th>']
    sub = "".join("<th>Acc %</th><th>kTok</th>" for _ in range(len(b.datasets) + 1))
    n_cols = 2 + 2 * len(b.datasets) + 2
    rows = [f'<tr class="model"><td colspan="{n_cols}">{e(b.model)}</td></tr>']
    for row in b.rows:
        tds = [f'<td class="l">{e(display_label(row.label))}</td>']
        for d in b.datasets:
            tds += _html_cells(row.cells.get(d), d == SEARCH_SET)
        avg = held_out_average(row, b)
        tds += ["<td>—</td><td>—</td>"] if avg is None else \
            [f"<td>{format_accuracy(avg[0])}</td><td>{format_kilotokens(avg[1])}</td>"]
        tds.append(f"<td>{format_savings(savings_vs_sc(row, b))}</td>")
        rows.append("<tr>" + "".join(tds) + "</tr>")
    return f"<table><tr>{''.join(top)}</tr><tr>{sub}</tr>{''.join(rows)}</table>"


def _html_cells(r: CellResult | None, search: bool) -> list[str]:
    klass = ["search"] if search else []
    if r is None:
        return [f'<td class="{" ".join(klass)}">—</td>'] * 2
    t = cell_text(r)
    if t.mark:
        klass.append("dagger" if t.mark == DAGGER else "cross")
    attr = f' class="{" ".join(klass)}"' if klass else ""
    out = []
    for ours, paper in zip((t.accuracy, t.kilotokens), t.paper):
        extra = f'<span class="paper">paper {paper}</span>' if paper is not None else ""
        out.append(f"<td{attr}>{ours}{t.mark if paper is not None or t.mark == CROSS else ''}{extra}</td>")
    return out


# ---- figures

def frontier_figures(results: Sequence[CellResult], dpi: int = 110) -> tuple[list[Figure], str | None]:
    """Accuracy-vs-tokens plots, one figure per model, drawn by ``ttsc.insight.plot``.

    Returns the figures and, when there are none, a note saying why (the report states it).
    CMC's two settings share one curve, so the figure shows how β trades tokens for accuracy.
    """
    from ttsc.insight.frontier import Point, frontier
    from ttsc.insight.plot import plot_frontier  # matplotlib loads only when a report draws
    import tempfile
    from pathlib import Path

    figures = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for b in blocks(results):
                points = [Point("CMC" if r.cell.method == "cmc" else display_label(r.cell.label),
                                f"{b.model}/{r.cell.dataset}", dict(r.cell.params), r.ours.accuracy,
                                r.ours.avg_tokens, r.ours.avg_sequential_tokens or 0.0)
                          for row in b.rows for r in row.cells.values()]
                stem = Path(tmp) / b.model
                plot_frontier(frontier(points), stem, title=f"{b.model}: accuracy vs. tokens", dpi=dpi)
                figures.append(Figure(f"{b.model}: accuracy against average tokens per question (ttsc's numbers); "
                                      "Pareto-optimal methods have a black edge.", stem.with_suffix(".png").read_bytes()))
    except TtscError as e:
        return [], f"No frontier plots: {e}"
    return figures, None
