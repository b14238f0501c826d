"""Lexical scopes: a chain of name tables, innermost first (shared by the checker and the code generator)."""

from __future__ import annotations

from typing import Generic, Iterator, TypeVar

V = TypeVar("V")


class Scope(Generic[V]):
    def __init__(self, parent: "Scope[V] | None" = None):
        self.parent = parent
        self.names: dict[str, V] = {}

    def lookup(self, name: str) -> V | None:
        s: Scope[V] | None = self
        while s is not None:
            if name in s.names:
                return s.names[name]
            s = s.parent
        return None

    def visible(self) -> Iterator[str]:
        """Every name visible here, innermost first."""
        s: Scope[V] | None = self
        while s is not None:
            yield from s.names
            s = s.parent
