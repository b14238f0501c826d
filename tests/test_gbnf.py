"""The GBNF grammar accepts what the language accepts: read back as an Earley grammar, it parses every
shipped strategy and every program the evolve proposer writes, and refuses broken texts."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
import pytest
from click.testing import CliRunner
from lark import Lark
from lark.exceptions import LarkError

from ttsc.cli.main import cli
from ttsc.dsl.parser import grammar_text
from ttsc.explorer.evolve import Evolve
from ttsc.explorer.gbnf import lark_to_gbnf

SHIPPED = {p.name: p.read_text(encoding="utf-8") for p in resources.files("ttsc.strategies").iterdir()
           if p.name.endswith(".tts")}


def _lark_piece(m: re.Match) -> str:
    if m.group(1) is not None:
        return "/[" + m.group(1) + "]/"
    if m.group(2) is not None:
        return m.group(2).replace("-", "_")
    return m.group(0)


def gbnf_as_lark(gbnf: str) -> Lark:
    """GBNF → Lark EBNF: `::=` → `:`, dashed names → underscored, character classes → regex terminals."""
    rules = []
    for line in gbnf.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, body = line.partition(" ::= ")
        body = re.sub(r'"(?:[^"\\]|\\.)*"|\[((?:[^\]\\]|\\.)*)\]|([a-z][a-z0-9-]*)', _lark_piece, body)
        rules.append(f"{name.replace('-', '_')}: {body}")
    return Lark("\n".join(rules), start="root", parser="earley", lexer="dynamic")


@pytest.fixture(scope="module")
def parser() -> Lark:
    return gbnf_as_lark(lark_to_gbnf(grammar_text()))


def test_gbnf_has_no_left_recursion_and_defines_every_rule():
    gbnf = lark_to_gbnf(grammar_text())
    defined = {l.split(" ::= ")[0] for l in gbnf.splitlines() if " ::= " in l}
    for line in gbnf.splitlines():
        if " ::= " not in line:
            continue
        name, body = line.split(" ::= ")
        assert not re.match(rf"\(?{re.escape(name)}\b", body), line
        used = set(re.findall(r'(?<![\"\w\[-])([a-z][a-z0-9-]*)(?![\w\]"])', re.sub(r'"[^"]*"|\[[^\]]*\]', "", body)))
        assert used <= defined, used - defined


@pytest.mark.parametrize("name", sorted(SHIPPED))
def test_gbnf_accepts_the_shipped_strategies(parser, name):
    parser.parse(SHIPPED[name])


def test_gbnf_accepts_evolved_programs_and_refuses_broken_ones(parser):
    ev = Evolve()
    for i in range(15):
        p = ev.propose(np.random.default_rng([7, i]), (-1, SHIPPED["cmc.tts"]), (-1, SHIPPED["esc.tts"]))
        parser.parse(p.text)
    for bad in ("strategy", "strategy x stop", "strategy x open 2 +", "strategy x if a { stop 1"):
        with pytest.raises(LarkError):
            parser.parse(bad)


def test_grammar_command():
    r = CliRunner().invoke(cli, ["grammar", "--format", "gbnf"])
    assert r.exit_code == 0 and r.output.startswith("# GBNF") and "root ::=" in r.output
    r = CliRunner().invoke(cli, ["grammar"])
    text = grammar_text()
    assert r.exit_code == 0 and r.output == text + ("" if text.endswith("\n") else "\n")
