"""GBNF (llama.cpp's grammar format) from grammars/tts.lark, for constrained decoding.

Handles the Lark subset the grammar keeps to (see its header): rules and
terminals with alternatives, groups, ``[optional]``, ``* + ?``, string
literals and simple regex terminals; ``?`` inlining and ``-> alias`` are
dropped (they only shape the tree). Lark ignores whitespace and comments
between tokens; GBNF has no ignore, so an optional ``ws`` is placed between
the items of every rule sequence and inside no terminal.
"""

from __future__ import annotations

import re

from ttsc.errors import TtscError

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"i?)|(?P<re>/(?:[^/\\]|\\.)+/[a-z]*)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)'
                    r'|(?P<op>->|\.\.|[()\[\]|*+?]))')


def _gname(name: str) -> str:
    return ("t-" if name.isupper() else "") + name.strip("_").lower().replace("_", "-")


def _statements(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for raw in text.splitlines():
        line = re.sub(r"^\s*//.*$", "", raw).rstrip()
        if not line or line.lstrip().startswith("%"):
            continue
        m = re.match(r"^[?!]?([A-Za-z_][A-Za-z0-9_]*)(?:\.\d+)?\s*:(.*)$", line)
        if m and not raw[:1].isspace():
            out.append((m.group(1), m.group(2)))
        elif out:
            out[-1] = (out[-1][0], out[-1][1] + " " + line.strip())
    return out


def _tokens(body: str) -> list[tuple[str, str]]:
    out, pos, body = [], 0, body.strip()
    while pos < len(body):
        m = _TOKEN.match(body, pos)
        if not m:
            raise TtscError(f"cannot convert grammar text `{body[pos:pos + 20]}` to GBNF")
        pos = m.end()
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
    return out


def _body(body: str, terminal: bool, name: str = "") -> str:
    """Alternatives of sequences of items, nesting respected; left recursion unrolled into a loop."""
    toks = _tokens(body)
    sep = " " if terminal else " ws "
    pos = 0

    def alts(close: str | None) -> list[list[str]]:
        nonlocal pos
        out, seq = [], []
        while pos < len(toks):
            kind, text = toks[pos]
            pos += 1
            if kind == "op" and text == close:
                break
            if kind == "op" and text == "->":
                pos += 1  # the alias name
            elif kind == "op" and text == "|":
                out.append(seq)
                seq = []
            elif kind == "op" and text in "([":
                inner = alts(")" if text == "(" else "]")
                seq.append("(" + " | ".join(_join(a, sep) for a in inner) + ")" + ("?" if text == "[" else ""))
            elif kind == "op" and text in "*+?":
                if terminal or text == "?":
                    seq[-1] += text
                else:  # repeated items are separated by whitespace too
                    seq[-1] = f"({seq[-1]} ws){text}"
            elif kind == "str":
                seq.append(text[:-1] if text.endswith("i") else text)
            elif kind == "re":
                seq.append(_regex(text))
            else:
                seq.append(_gname(text))
        out.append(seq)
        return out

    top = alts(None)
    me = _gname(name)
    recursive = [a[1:] for a in top if a and a[0] == me]
    if recursive:  # GBNF has no left recursion: A ::= A x | b  becomes  A ::= (b) (ws x)*
        base = [a for a in top if not a or a[0] != me]
        return (f"({' | '.join(_join(a, sep) for a in base)}) "
                f"(ws ({' | '.join(_join(a, sep) for a in recursive)}))*")
    return " | ".join(_join(a, sep) for a in top)


def _join(items: list[str], sep: str) -> str:
    return sep.join(items)


def _literal(c: str) -> str:
    """One character as a GBNF string literal (a quote or backslash escaped)."""
    return '"' + ("\\" + c if c in '"\\' else c) + '"'


def _regex(token: str) -> str:
    """The regex subset: character classes, escapes, groups and quantifiers, as GBNF."""
    pattern = token[1:token.rindex("/")]
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "[":
            j = pattern.index("]", i + 1)
            out.append(pattern[i:j + 1])
            i = j + 1
        elif c == "\\":
            out.append(_literal(pattern[i + 1]) if pattern[i + 1] not in "nt" else '"\\' + pattern[i + 1] + '"')
            i += 2
        elif c in "()*+?":
            out.append(c)
            i += 1
        else:
            out.append(_literal(c))
            i += 1
    text = ""
    for piece in out:
        text += piece if piece in ("*", "+", "?", ")") or text.endswith("(") or not text else " " + piece
    return "(" + text + ")"


def lark_to_gbnf(text: str) -> str:
    lines = ["# GBNF for .tts, generated from grammars/tts.lark by `ttsc grammar --format gbnf`.",
             "root ::= ws start ws"]
    for name, body in _statements(text):
        lines.append(f"{_gname(name)} ::= {_body(body, name.isupper(), name)}")
    lines.append('ws ::= ([ \\t\\r\\n] | "#" [^\\n]*)*')
    return "\n".join(lines) + "\n"
