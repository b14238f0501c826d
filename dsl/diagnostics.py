"""Located, rustc-style diagnostics.

    error[E0201]: unknown name `gold`
     --> strategies/x.tts:4:10
      |
    4 | stop gold
      |      ^^^^
      = help: gold answers are not visible to strategies

The same data is available as JSON (``Diagnostic.to_json``) for tools.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

from ttsc.dsl.ast import Span
from ttsc.errors import TtscError

SHOWN_WIDTH = 160  # longest part of a source line a diagnostic prints
_WORD = re.compile(r"#[^\n]*|[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Source:
    """A program's text and the name to show for it (usually its path)."""

    name: str
    text: str

    @cached_property
    def _lines(self) -> list[str]:
        # Split once: a file with thousands of diagnostics renders each one's line.
        return self.text.split("\n")

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) without its line ending ("" past the end)."""
        lines = self._lines
        return lines[line - 1].removesuffix("\r") if 1 <= line <= len(lines) else ""

    def span_at(self, offset: int, length: int = 1) -> Span:
        """The span of ``length`` characters starting at character ``offset``."""
        offset = max(0, min(offset, len(self.text)))
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Span(line=line, col=col, end_line=line, end_col=col + max(1, length), start=offset,
                    end=offset + max(1, length))

    def word_span(self, word: str, start: int, end: int | None = None) -> Span | None:
        """The first ``word`` standing as a whole token in ``text[start:end]``, outside comments.

        The AST keeps one span per statement; this finds the name inside it
        (`let NAME`, `open N as NAME`) so a diagnostic can point at the name.
        """
        for m in _WORD.finditer(self.text, start, len(self.text) if end is None else end):
            if m.group() == word:
                return self.span_at(m.start(), len(word))
        return None


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    help: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = field(default=())
    # Secondary places, rustc-style: drawn with `-` and their own label (e.g. the `{` never closed).
    labels: tuple[tuple[Span, str], ...] = field(default=())

    def render(self, source: Source) -> str:
        line = self.span.line
        gutter = " " * len(max([str(line)] + [str(s.line) for s, _ in self.labels], key=len))
        text = _printable(source.line_text(line))
        if self.span.end_line == line:
            width = max(1, self.span.end_col - self.span.col)
        else:
            width = max(1, len(text) - self.span.col + 1)
        shown, col = _window(text, self.span.col)
        # The caret may sit one past the end of the line (a missing token), never further.
        width = max(1, min(width, len(shown) - col + 2))
        out = [
            f"{self.severity}[{self.code}]: {self.message}",
            f"{gutter}--> {source.name}:{line}:{self.span.col}",
        ]
        if not source.text:  # nothing to show (an unreadable or empty file): no blank line with a caret
            out += [f"{gutter} = note: {n}" for n in self.notes]
            out += [f"{gutter} = help: {self.help}"] if self.help else []
            return "\n".join(out)
        out.append(f"{gutter} |")
        for span, label in sorted(self.labels, key=lambda lab: lab[0].start):
            if span.line < line:
                out += _marked(source, span, "-", label, gutter)
                out += [f"{gutter} |"] if span.line < line - 1 else []
        out += [f"{line:>{len(gutter)}} | {shown}", f"{gutter} | {' ' * (col - 1)}{'^' * width}"]
        for span, label in sorted(self.labels, key=lambda lab: lab[0].start):
            if span.line >= line:
                out += [f"{gutter} |"] + _marked(source, span, "-", label, gutter)
        out += [f"{gutter} = note: {n}" for n in self.notes]
        if self.help:
            out.append(f"{gutter} = help: {self.help}")
        return "\n".join(out)

    def to_json(self, source: Source) -> dict:
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "file": source.name,
            "line": self.span.line,
            "col": self.span.col,
            "end_line": self.span.end_line,
            "end_col": self.span.end_col,
            "source_line": source.line_text(self.span.line),
            "help": self.help,
            "notes": list(self.notes),
            "labels": [{"line": sp.line, "col": sp.col, "end_line": sp.end_line, "end_col": sp.end_col,
                        "label": text} for sp, text in self.labels],
        }


def _marked(source: Source, span: Span, mark: str, label: str, gutter: str) -> list[str]:
    """A source line with ``mark`` under ``span`` and ``label`` after it."""
    shown, col = _window(_printable(source.line_text(span.line)), span.col)
    width = max(1, min(span.end_col - span.col if span.end_line == span.line else 1, len(shown) - col + 2))
    return [f"{span.line:>{len(gutter)}} | {shown}", f"{gutter} | {' ' * (col - 1)}{mark * width} {label}"]


def _printable(text: str) -> str:
    """Tabs as one space and control characters as `?`, one for one, so columns still line up
    and a hostile file cannot send terminal escape sequences through an error message."""
    return "".join(" " if ch == "\t" else "?" if (ch < " " or "\x7f" <= ch < "\xa0") else ch for ch in text)


def _window(text: str, col: int) -> tuple[str, int]:
    """At most SHOWN_WIDTH characters of ``text`` around column ``col``, and ``col`` within them."""
    if len(text) <= SHOWN_WIDTH:
        return text, col
    start = max(0, min(col - 1 - SHOWN_WIDTH // 3, len(text) - SHOWN_WIDTH))
    shown = text[start:start + SHOWN_WIDTH]
    if start > 0:
        shown, col = "…" + shown[1:], col - start
    if start + SHOWN_WIDTH < len(text):
        shown = shown[:-1] + "…"
    return shown, col


class DiagnosticError(TtscError):
    """A program was refused; carries every diagnostic found, in source order."""

    def __init__(self, source: Source, diagnostics: list[Diagnostic]):
        self.source = source
        self.diagnostics = sorted(diagnostics, key=lambda d: (d.span.start, d.code))
        super().__init__(self.render())

    def render(self) -> str:
        body = "\n\n".join(d.render(self.source) for d in self.diagnostics)
        n = len(self.diagnostics)
        return f"{body}\n\n{'error' if n == 1 else f'{n} errors'}: {self.source.name} was not accepted"

    def to_json(self) -> list[dict]:
        return [d.to_json(self.source) for d in self.diagnostics]
