"""Writing generated Python: one emitter for both code generators.

An :class:`Emitter` is a buffer of indented lines. Code that must come before
code already written (allocations at the top of a function, values computed
ahead of a statement) goes into a buffer of its own, and the buffers are joined
in order with :meth:`Emitter.extend` — nothing is spliced in at a saved line.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from typing import Iterator

from ttsc.dsl import ast

_RULE_COMMENT = re.compile(r"^\s*# \S+:(\d+)  ")


class Names:
    """Fresh temporary names, numbered per hint: ``votes_1``, ``votes_2``, ``n_live_1``…"""

    def __init__(self) -> None:
        self.counters: dict[str, int] = {}

    def tmp(self, hint: str) -> str:
        n = self.counters.get(hint, 0) + 1
        self.counters[hint] = n
        return f"{hint}_{n}"


class Emitter:
    def __init__(self, level: int = 0, names: Names | None = None, source: tuple[str, list[str]] | None = None):
        self.lines: list[str] = []
        self.level = level
        self.names = names or Names()
        self.source = source  # (file name, its lines), for rule comments

    def write(self, code: str) -> None:
        self.lines.append("    " * self.level + code if code else "")

    def tmp(self, hint: str) -> str:
        return self.names.tmp(hint)

    @contextmanager
    def indent(self, levels: int = 1) -> Iterator[None]:
        self.level += levels
        try:
            yield
        finally:
            self.level -= levels

    def buffer(self) -> "Emitter":
        """An empty buffer at this indentation, sharing names and source, to be joined in later."""
        return Emitter(self.level, self.names, self.source)

    def extend(self, other: "Emitter") -> None:
        self.lines += other.lines

    def where(self, node: ast.Node) -> str:
        """``file:LINE  text of that line``: what a rule comment says about ``node``."""
        name, lines = self.source
        line = node.span.line
        text = lines[line - 1].strip() if line - 1 < len(lines) else ""
        return f"{name}:{line}  {text}"

    def comment(self, node: ast.Node) -> None:
        """Head the code for ``node`` with ``# file:LINE  rule``; :func:`line_map` reads these back."""
        self.write(f"# {self.where(node)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def line_map(python: str) -> dict[int, int]:
    """Generated line -> .tts line, read back from the `# file:LINE  rule` comment heading each block.

    Reading the comments (rather than keeping a map beside the text) serves modules
    loaded from the disk cache exactly as freshly generated ones.
    """
    out: dict[int, int] = {}
    current = 0
    for i, text in enumerate(python.split("\n"), start=1):
        m = _RULE_COMMENT.match(text)
        if m:
            current = int(m.group(1))
        if current:
            out[i] = current
    return out
