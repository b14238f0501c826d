"""The grammar is unambiguous LALR and stays inside the subset constrained decoders accept."""

from __future__ import annotations

import re

from lark import Lark

from ttsc.dsl.parser import grammar_text


def test_grammar_builds_in_strict_mode():
    # strict: no shift/reduce conflicts and no colliding terminals (needs interegular)
    Lark(grammar_text(), parser="lalr", strict=True)


def test_grammar_stays_in_the_constrained_decoding_subset():
    g = grammar_text()
    body = "\n".join(line.split("//")[0] for line in g.split("\n"))
    assert re.search(r"^start\s*:", body, re.M), "constrained decoders need a `start` rule"
    assert not re.search(r"\(\?[=!<]", body), "no lookarounds"
    assert not re.search(r"^\s*[A-Za-z_]+\.\d+\s*:", body, re.M), "no priorities"
    assert not re.search(r"\{\s*\w+\s*\}", re.sub(r'"[^"]*"', "", body)), "no templates"
    imports = re.findall(r"^%import\s+(\S+)", body, re.M)
    assert all(i.startswith("common.") for i in imports), imports
