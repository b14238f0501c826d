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


def _name_tries(gbnf: str) -> dict[str, set[str]]:
    """The words each name rule (``t-name…``, a trie) refuses: a path of literals ending on a node that
    must go on. Read off the GBNF text itself, so the Earley check below tests the real tries."""
    bodies = {l.split(" ::= ")[0]: l.split(" ::= ", 1)[1] for l in gbnf.splitlines() if l.startswith("t-name")}

    def refused(rule: str, prefix: str) -> set[str]:
        body = bodies[rule]
        out = set() if body.endswith(")?") or not prefix else {prefix}
        for c, nxt in re.findall(r'"(\w)" (t-name[\w-]*)', body):
            out |= refused(nxt, prefix + c)
        return out
    return {name: refused(name, "") for name in bodies}


def gbnf_as_lark(gbnf: str) -> Lark:
    """GBNF → Lark EBNF: `::=` → `:`, dashed names → underscored, character classes → regex terminals;
    the name tries become one regex each (an identifier that is not one of the words its trie refuses),
    which keeps Earley fast."""
    tries = _name_tries(gbnf)
    rules = []
    for line in gbnf.splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, body = line.partition(" ::= ")
        if name in tries:
            words = "|".join(sorted(tries[name]))
            body = f"/(?!(?:{words})(?![A-Za-z0-9_]))[A-Za-z_][A-Za-z0-9_]*/"
        else:
            body = re.sub(r'"(?:[^"\\]|\\.)*"|\[((?:[^\]\\]|\\.)*)\]|([a-z][a-z0-9-]*)', _lark_piece, body)
            body = re.sub(r"\{(\d+),(\d+)\}", r" ~ \1..\2", body)  # bounded repetition
        rules.append(f"{name.replace('-', '_')}: {body}")
    return Lark("\n".join(rules), start="root", parser="earley", lexer="dynamic")


def test_name_tries_refuse_exactly_the_keywords():
    from ttsc.dsl.parser import RESERVED
    tries = _name_tries(lark_to_gbnf(grammar_text()))
    assert tries["t-name"] == set(RESERVED)
    assert tries["t-name-not-last"] == set(RESERVED) | {"last"}
    assert {"as", "by", "in", "to", "set", "asc", "desc"} <= tries["t-name-stmt"] - set(RESERVED)


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
    for i in range(6):
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


# ---- soundness: every text the GBNF generates parses ------------------------------------

_GTOK = re.compile(r'\s*(?:("(?:[^"\\]|\\.)*")|(\[(?:[^\]\\]|\\.)*\])|([a-z][a-z0-9-]*)|([()|*+?]|\{\d+,\d+\}))')
_POOL = [chr(c) for c in range(32, 127)] + ["\n", "\t"]


def _gbnf_rules(gbnf: str) -> dict:
    rules = {}
    for line in gbnf.splitlines():
        if " ::= " not in line or line.startswith("#"):
            continue
        name, body = line.split(" ::= ", 1)
        toks = list(_GTOK.finditer(body))
        assert "".join(m.group(0) for m in toks) == body.rstrip(), line  # every character read
        pos = 0

        def alts():
            nonlocal pos
            out, seq = [], []
            while pos < len(toks):
                m = toks[pos]
                pos += 1
                if m.group(4) == ")":
                    break
                if m.group(4) == "|":
                    out.append(seq)
                    seq = []
                elif m.group(4) == "(":
                    seq.append(("alt", alts()))
                elif m.group(4):
                    seq[-1] = ("rep", seq[-1], m.group(4))
                elif m.group(1):
                    seq.append(("lit", m.group(1)[1:-1].encode().decode("unicode_escape")))
                elif m.group(2):
                    cls = re.compile(m.group(2))
                    seq.append(("cls", [c for c in _POOL if cls.fullmatch(c)]))
                else:
                    seq.append(("ref", m.group(3)))
            out.append(seq)
            return out
        rules[name] = ("alt", alts())
    return rules


def _sample(rules: dict, rng: np.random.Generator, budget: int = 300) -> str:
    """A random derivation; past a depth/size budget it takes the shortest way out."""
    out: list[str] = []
    rule_cost = {name: 10**6 for name in rules}

    def mincost(node):
        k = node[0]
        if k in ("lit", "cls"):
            return 1
        if k == "ref":
            return rule_cost[node[1]]
        if k == "rep":
            return 0 if node[2] in "?*" or node[2].startswith("{0,") else mincost(node[1])
        return min(sum(mincost(x) for x in seq) for seq in node[1])
    while True:  # a fixed point: the cheapest way out of every rule
        new = {name: mincost(node) for name, node in rules.items()}
        if new == rule_cost:
            break
        rule_cost = new

    def gen(node, depth):
        k = node[0]
        tight = depth > 12 or len(out) > budget
        if k == "lit":
            out.append(node[1])
        elif k == "cls":
            out.append(str(rng.choice(node[1])))
        elif k == "ref":
            gen(rules[node[1]], depth + 1)
        elif k == "rep":
            lo, hi = {"*": (0, 2), "+": (1, 3), "?": (0, 1)}.get(node[2]) or map(int, node[2][1:-1].split(","))
            n = lo if tight else int(rng.integers(lo, hi + 1))
            for _ in range(n):
                gen(node[1], depth + 1)
        else:
            seqs = node[1]
            if tight:
                seq = min(seqs, key=lambda s: sum(mincost(x) for x in s))
            else:
                seq = seqs[int(rng.integers(len(seqs)))]
            for x in seq:
                gen(x, depth)
    gen(rules["root"], 0)
    return "".join(out)


def test_every_text_the_gbnf_generates_parses():
    """Soundness, what constrained decoding relies on: random derivations of the GBNF all parse
    (keywords never as names, a separator wherever two words would run together, comments end a line)."""
    from ttsc.dsl.parser import parse
    rules = _gbnf_rules(lark_to_gbnf(grammar_text()))
    rng = np.random.default_rng(0)
    for _ in range(150):
        parse(_sample(rules, rng))


def test_gbnf_refuses_what_the_lexer_would_misread(parser):
    for bad in ("strategy x stopx", "strategy x open a as = 1", "strategy x let a = 1 # c stop 2",
                "strategy x stop 1stop 2"):
        with pytest.raises(LarkError):
            parser.parse(bad)
