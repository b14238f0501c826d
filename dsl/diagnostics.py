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

from dataclasses import dataclass, field

from ttsc.dsl.ast import Span
from ttsc.errors import TtscError


@dataclass(frozen=True)
class Source:
    """A program's text and the name to show for it (usually its path)."""

    name: str
    text: str

    def line_text(self, line: int) -> str:
        lines = self.text.split("\n")
        return lines[line - 1] if 1 <= line <= len(lines) else ""

    def span_at(self, offset: int, length: int = 1) -> Span:
        """The span of ``length`` characters starting at character ``offset``."""
        offset = max(0, min(offset, len(self.text)))
        line = self.text.count("\n", 0, offset) + 1
        col = offset - (self.text.rfind("\n", 0, offset) + 1) + 1
        return Span(line=line, col=col, end_line=line, end_col=col + max(1, length), start=offset,
                    end=offset + max(1, length))


@dataclass(frozen=True)
class Diagnostic:
    code: str
    message: str
    span: Span
    help: str | None = None
    severity: str = "error"
    notes: tuple[str, ...] = field(default=())

    def render(self, source: Source) -> str:
        line = self.span.line
        gutter = " " * len(str(line))
        text = source.line_text(line).replace("\t", " ")
        if self.span.end_line == line:
            width = max(1, self.span.end_col - self.span.col)
        else:
            width = max(1, len(text) - self.span.col + 1)
        shown = text[:200]
        width = max(1, min(width, len(shown) - self.span.col + 2))
        out = [
            f"{self.severity}[{self.code}]: {self.message}",
            f"{gutter}--> {source.name}:{line}:{self.span.col}",
            f"{gutter} |",
            f"{line} | {shown}",
            f"{gutter} | {' ' * (self.span.col - 1)}{'^' * width}",
        ]
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
        }


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
