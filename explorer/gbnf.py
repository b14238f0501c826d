"""GBNF (llama.cpp's grammar format) from grammars/tts.lark, for constrained decoding.

Handles the Lark subset the grammar keeps to (see its header): rules and
terminals with alternatives, groups, ``[optional]``, ``* + ?``, string
literals and simple regex terminals; ``?`` inlining and ``-> alias`` are
dropped (they only shape the tree). The aim is that **every text the GBNF
generates parses** (the reverse need not hold), so where Lark's lexer decides
more than the grammar says, the GBNF is stricter:

* Lark ignores whitespace and comments between tokens; GBNF has no ignore, so
  a separator goes between the items of every rule sequence: ``ws``
  (optional) in general, ``ws1`` (at least one space or a comment) where the
  left item may end and the right one may start with a word character — else
  ``stop x`` could be written ``stopx``, which lexes as one name. A comment
  ends at a newline.
* A name is never a reserved word (``stop``, ``take``, …: the lexer reads it
  as the keyword). Where the lexer could also take a name for another word
  of the grammar, that word is out too: a name that begins a statement is
  none of the words that may continue the statement before it (``as``,
  ``by``, ``in``, ``asc``, …), and where two alternatives share a prefix and
  one goes on with a word, the other's first name is not that word
  (``take last 3`` against ``take last(x)``). GBNF has no negation, so each
  such name rule is spelt out as a trie over the words it excludes.
* GBNF has no left recursion: ``A ::= A x | b`` becomes ``A ::= b (x)*``, and
  a rule reached only as ``A ::= … | B`` whose every alternative starts with
  ``A`` (the grammar's ``set_op``) is inlined into ``A`` first. Any left
  recursion left over (through nullable prefixes too) is refused here.
"""

from __future__ import annotations

import re

from ttsc.errors import TtscError

_TOKEN = re.compile(r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"i?)|(?P<re>/(?:[^/\\]|\\.)+/[a-z]*)|(?P<name>[A-Za-z_][A-Za-z0-9_.]*)'
                    r'|(?P<op>->|\.\.|[()\[\]|*+?]))')
WORD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_"
NAME_START = WORD[:52] + "_"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

# A tiny tree: ("lit", text) | ("re", gbnf, starts_word, ends_word) | ("ref", name)
#              | ("seq", [node]) | ("alt", [node]) | ("rep", node, "*"|"+"|"?")


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


def _tree(body: str) -> tuple:
    toks, pos = _tokens(body), 0

    def alts(close: str | None) -> tuple:
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
                out.append(("seq", seq))
                seq = []
            elif kind == "op" and text in "([":
                inner = alts(")" if text == "(" else "]")
                seq.append(("rep", inner, "?") if text == "[" else inner)
            elif kind == "op" and text in "*+?":
                seq[-1] = ("rep", seq[-1], text)
            elif kind == "str":
                seq.append(("lit", text[:-1] if text.endswith("i") else text))
            elif kind == "re":
                seq.append(_regex(text))
            else:
                seq.append(("ref", text))
        out.append(("seq", seq))
        return ("alt", out)
    return alts(None)


def _literal(c: str) -> str:
    """One character as a GBNF string literal (a quote or backslash escaped)."""
    return '"' + ("\\" + c if c in '"\\' else c) + '"'


def _may_be_word(piece: str) -> bool:
    if piece.startswith("["):
        return any(re.fullmatch(piece, c) for c in WORD)
    if piece.startswith('"'):
        return piece[-2] in WORD
    return True  # a group: assume it may


def _regex(token: str) -> tuple:
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
    atoms = [p for p in out if p not in ("*", "+", "?")]
    last = atoms[-1] if atoms[-1] != ")" else "("
    return ("re", "(" + text + ")", _may_be_word(atoms[0]), _may_be_word(last))


# ---- properties: nullable, may start / end with a word character ---------------

class _Props:
    def __init__(self, rules: dict[str, tuple]):
        self.rules = rules
        self.null = {n: False for n in rules}
        self.sw = {n: False for n in rules}
        self.ew = {n: False for n in rules}
        changed = True
        while changed:  # a fixed point: every flag only goes from False to True
            changed = False
            for n, node in rules.items():
                new = (self.nullable(node), self.starts(node), self.ends(node))
                if new != (self.null[n], self.sw[n], self.ew[n]):
                    self.null[n], self.sw[n], self.ew[n] = new
                    changed = True

    def nullable(self, node) -> bool:
        k = node[0]
        if k in ("lit", "re"):
            return False
        if k == "ref":
            return self.null[node[1]]
        if k == "seq":
            return all(self.nullable(x) for x in node[1])
        if k == "alt":
            return any(self.nullable(x) for x in node[1])
        return node[2] in "?*" or self.nullable(node[1])

    def _edge(self, node, first: bool) -> bool:
        k = node[0]
        if k == "lit":
            return node[1][1 if first else -2] in WORD
        if k == "re":
            return node[2] if first else node[3]
        if k == "ref":
            return (self.sw if first else self.ew)[node[1]]
        if k == "alt":
            return any(self._edge(x, first) for x in node[1])
        if k == "rep":
            return self._edge(node[1], first)
        for x in (node[1] if first else node[1][::-1]):  # seq
            if self._edge(x, first):
                return True
            if not self.nullable(x):
                return False
        return False

    def starts(self, node) -> bool:
        return self._edge(node, True)

    def ends(self, node) -> bool:
        return self._edge(node, False)


# ---- emission -----------------------------------------------------------------------

def _emit(node, p: _Props, terminal: bool) -> str:
    k = node[0]
    if k == "lit":
        return node[1]
    if k == "re":
        return node[1]
    if k == "ref":
        return _gname(node[1])
    if k == "alt":
        parts = [_emit(x, p, terminal) for x in node[1]]
        return parts[0] if len(parts) == 1 else "(" + " | ".join(parts) + ")"
    if k == "rep":
        return _group(_emit(node[1], p, terminal)) + node[2]
    items, out, prev_ew = node[1], [], None  # seq: a separator before every item but the first
    for x in items:
        if terminal or prev_ew is None:
            out.append(_emit(x, p, terminal) if x[0] != "rep" else _group(_emit(x[1], p, terminal)) + x[2])
        else:
            inner = x[1] if x[0] == "rep" else x
            joins = (prev_ew or (x[0] == "rep" and x[2] in "*+" and p.ends(inner))) and p.starts(inner)
            sep = "ws1" if joins else "ws"
            piece = f"{sep} {_emit(inner, p, terminal)}"
            out.append(f"({piece}){x[2]}" if x[0] == "rep" else piece)
        prev_ew = p.ends(x) if prev_ew is None or not p.nullable(x) else (prev_ew or p.ends(x))
    return " ".join(out) if out else '""'


def _group(text: str) -> str:
    return text if re.fullmatch(r"\(.*\)|[\w-]+|\"(?:[^\"\\]|\\.)*\"|\[[^\]]*\]", text) and _balanced(text) else f"({text})"


def _balanced(text: str) -> bool:
    """``text`` is one parenthesised group (not ``(a) (b)``)."""
    if not text.startswith("("):
        return True
    depth, quoted, i = 0, False, 0
    while i < len(text):
        c = text[i]
        if quoted:
            if c == "\\":
                i += 1
            elif c == '"':
                quoted = False
        elif c == '"':
            quoted = True
        elif c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
            if depth == 0 and i < len(text) - 1:
                return False
        i += 1
    return True


# ---- left recursion ---------------------------------------------------------------------

def _first_ref(seq) -> str | None:
    return seq[1][0][1] if seq[0] == "seq" and seq[1] and seq[1][0][0] == "ref" else None


def _remove_left_recursion(rules: dict[str, tuple]) -> dict[str, tuple]:
    rules = dict(rules)
    for name, node in list(rules.items()):
        alts = []
        for a in node[1]:
            b = a[1][0][1] if a[0] == "seq" and len(a[1]) == 1 and a[1][0][0] == "ref" else None
            if b in rules and b != name and not b.isupper() and all(_first_ref(x) == name for x in rules[b][1]):
                alts += rules[b][1]  # a rule that only extends this one: inline it
            else:
                alts.append(a)
        rec = [("seq", a[1][1:]) for a in alts if _first_ref(a) == name]
        if rec:  # A ::= A x | b  becomes  A ::= (b) (x)*
            base = ("alt", [a for a in alts if _first_ref(a) != name])
            alts = [("seq", [base, ("rep", ("alt", rec), "*")])]
        rules[name] = ("alt", alts)
    used = {"start"} | {r for n in rules for r in _refs(rules[n])}
    return {n: v for n, v in rules.items() if n in used}


def _refs(node) -> set[str]:
    if node[0] == "ref":
        return {node[1]}
    if node[0] in ("seq", "alt"):
        return set().union(*(_refs(x) for x in node[1])) if node[1] else set()
    return _refs(node[1]) if node[0] == "rep" else set()


def _left_refs(node, p: _Props) -> set[str]:
    """Rules that can begin ``node`` (through nullable prefixes too)."""
    k = node[0]
    if k == "ref":
        return {node[1]}
    if k == "alt":
        return set().union(*(_left_refs(x, p) for x in node[1]))
    if k == "rep":
        return _left_refs(node[1], p)
    if k == "seq":
        out: set[str] = set()
        for x in node[1]:
            out |= _left_refs(x, p)
            if not p.nullable(x):
                break
        return out
    return set()


def _check_no_left_recursion(rules: dict[str, tuple], p: _Props) -> None:
    for start in rules:
        seen, todo = set(), [start]
        while todo:
            for r in _left_refs(rules[todo.pop()], p):
                if r == start:
                    raise TtscError(f"cannot convert the grammar to GBNF: rule `{start}` is left-recursive")
                if r in rules and r not in seen:
                    seen.add(r)
                    todo.append(r)


# ---- names that are not keywords ----------------------------------------------------

def _class(chars: str) -> str:
    """A character class of exactly ``chars`` (runs as ranges)."""
    codes, parts, i = sorted(set(map(ord, chars))), [], 0
    while i < len(codes):
        j = i
        while j + 1 < len(codes) and codes[j + 1] == codes[j] + 1:
            j += 1
        parts.append(chr(codes[i]) if i == j else f"{chr(codes[i])}-{chr(codes[j])}")
        i = j + 1
    return "[" + "".join(parts) + "]"


def _name_rules(rule_name: str, keywords: set[str], shared: dict) -> list[str]:
    """``rule_name``: an identifier that is none of ``keywords``, as a trie over them. Trie nodes with
    the same keyword suffixes below them are one rule (``shared``, across calls)."""
    lines = []

    def node(prefix: str) -> str:
        below = frozenset(k[len(prefix):] for k in keywords if k.startswith(prefix))
        key = (below, not prefix)
        if key in shared:
            return shared[key]
        rule = (rule_name if not prefix else f"t-name-{prefix}") if below != {""} else "t-name-rest"
        taken = set(shared.values())
        rule = next(r for r in (rule, *(f"{rule}-{i}" for i in range(2, 99))) if r not in taken)
        shared[key] = rule
        nxt = sorted({w[0] for w in below if w})
        alts = [f'"{c}" {node(prefix + c)}' for c in nxt]
        rest = "".join(c for c in (WORD if prefix else NAME_START) if c not in nxt)
        alts.append(f"{_class(rest)} {_class(WORD)}*")
        body = " | ".join(alts)
        lines.append(f"{rule} ::= " + (f"({body})?" if prefix and "" not in below else body))
        return rule
    top = node("")
    if top != rule_name:  # the same set as an earlier rule
        lines.append(f"{rule_name} ::= {top}")
    return lines[::-1]


STATEMENT_RULE = "stmt"  # its leading name follows a complete statement


def _words(node, rules: dict | None = None, seen: frozenset = frozenset()) -> list[str]:
    """The word literals that may begin ``node`` (through ``rules`` when given; nullable items are
    not looked past: every rule this is used on begins with a token)."""
    k = node[0]
    if k == "lit":
        return [node[1][1:-1]] if _NAME.fullmatch(node[1][1:-1]) else []
    if k == "ref":
        if rules is None or node[1] not in rules or node[1] in seen:
            return []
        return _words(rules[node[1]], rules, seen | {node[1]})
    if k == "alt":
        return [w for x in node[1] for w in _words(x, rules, seen)]
    if k == "rep":
        return _words(node[1], rules, seen)
    return _words(node[1][0], rules, seen) if k == "seq" and node[1] else []


def _names(rules: dict[str, tuple], words: set[str], reserved: set[str]) -> dict[str, set[str]]:
    """Give every name its rule (see the module doc); returns each name rule's excluded words."""
    excluded = {"NAME": set(reserved)}

    def name_rule(out: set[str], key: str = "") -> str:
        key = key or "NAME_NOT_" + "_".join(w.upper() for w in sorted(out - reserved))
        excluded[key] = reserved | out
        return key

    def leftmost(node, ref):
        """``node`` with the refs it may begin with replaced by ``ref(name)``."""
        k = node[0]
        if k == "ref":
            return ref(node[1])
        if k in ("alt",):
            return ("alt", [leftmost(x, ref) for x in node[1]])
        if k == "rep":
            return ("rep", leftmost(node[1], ref), node[2])
        if k == "seq" and node[1]:
            return ("seq", [leftmost(node[1][0], ref)] + node[1][1:])
        return node

    def restricted(name: str, out: frozenset) -> tuple:
        if name == "NAME":
            return ("ref", name_rule(set(out)))
        if name.isupper() or name not in rules:  # other terminals never spell a word
            return ("ref", name)
        new = f"{name}_not_" + "_".join(sorted(out))
        if new not in rules:
            rules[new] = ("alt", [])  # a placeholder while recursing
            rules[new] = leftmost(rules[name], lambda r: restricted(r, out))
        return ("ref", new)

    def shared_prefixes(node):
        k = node[0]
        if k == "alt":
            seqs = [shared_prefixes(x) for x in node[1]]
            fixed = []
            for s in seqs:
                if s[0] == "seq":
                    for j, x in enumerate(s[1]):
                        if x[0] == "ref" and j:
                            clash = {w for o in seqs if o is not s and o[0] == "seq" and o[1][:j] == s[1][:j]
                                     and len(o[1]) > j for w in _words(o[1][j])}
                            if clash:
                                s = ("seq", s[1][:j] + [restricted(x[1], frozenset(clash))] + s[1][j + 1:])
                            break
                fixed.append(s)
            return ("alt", fixed)
        if k == "seq":
            return ("seq", [shared_prefixes(x) for x in node[1]])
        if k == "rep":
            return ("rep", shared_prefixes(node[1]), node[2])
        return node

    for name in list(rules):
        if not name.isupper():
            rules[name] = shared_prefixes(rules[name])
    if STATEMENT_RULE in rules:
        follow = {w for r in list(rules.values()) for w in _follow_words(r, rules)}
        rules[STATEMENT_RULE] = ("alt", [("seq", [("ref", name_rule(follow, "NAME_STMT"))] + a[1][1:])
                                         if a[0] == "seq" and a[1] and a[1][0] == ("ref", "NAME") else a
                                         for a in rules[STATEMENT_RULE][1]])
    for key in excluded:
        rules[key] = ("re", _gname(key), True, True)
    return excluded


def _follow_words(node, rules: dict) -> list[str]:
    """Word literals that may begin an item that is not the first of its sequence (or a repeat)."""
    k = node[0]
    if k == "alt":
        return [w for x in node[1] for w in _follow_words(x, rules)]
    if k == "rep":
        return _follow_words(node[1], rules) + _words(node[1], rules)
    if k == "seq":
        out = [w for x in node[1] for w in _follow_words(x, rules)]
        return out + [w for x in node[1][1:] for w in _words(x, rules)]
    return []


def _parser_limits(rules: dict[str, tuple]) -> None:
    """What dsl/parser.py refuses after the grammar accepted it, kept out of the GBNF too: long
    numbers and strings, a string as a parameter's default, a range bound that is not a number.
    (Its size caps, nesting and program length, are far beyond a completion's max_tokens.)"""
    from ttsc.dsl.parser import MAX_INT_DIGITS, MAX_STRING
    if "INT" in rules:
        rules["INT"] = ("re", f"[0-9]{{1,{MAX_INT_DIGITS}}}", True, True)
    if "FLOAT" in rules:  # below 1e15 and 40 characters: no exponent, 15 + 1 + 20 characters
        rules["FLOAT"] = ("re", f'[0-9]{{1,{MAX_INT_DIGITS}}} "." [0-9]{{1,20}}', True, True)
    if "STRING" in rules:
        rules["STRING"] = ("re", f'"\\"" [^"\\n]{{0,{MAX_STRING}}} "\\""', False, False)
    if "signed" in rules and "range" in rules:
        no_string = [a for a in rules["signed"][1] if ("ref", "constant") not in a[1]]
        constants = [a for a in rules["constant"][1] if ("ref", "STRING") not in a[1]]
        rules["default"] = ("alt", constants + no_string)
        rules["bound"] = ("alt", [("seq", [("ref", "number")])] + no_string)
        swap = {"signed": {"param": "default", "range": "bound"}}

        def sub(node, where):
            if node[0] == "ref":
                return ("ref", swap.get(node[1], {}).get(where, node[1]))
            if node[0] in ("seq", "alt"):
                return (node[0], [sub(x, where) for x in node[1]])
            return ("rep", sub(node[1], where), node[2]) if node[0] == "rep" else node
        rules["range"] = sub(rules["range"], "range")
        rules["decl"] = ("alt", [sub(a, "param") if a[1] and a[1][0] == ("lit", '"param"') else a
                                 for a in rules["decl"][1]])
        if not any("signed" in _refs(r) for r in rules.values()):
            del rules["signed"]


def _factor(node):
    """Left-factor alternatives that begin alike (``A ::= s | s op s`` → ``s (op s)?``): llama.cpp keeps
    one parse stack per live alternative, so shared prefixes multiply its work at every nesting level."""
    k = node[0]
    if k == "rep":
        return ("rep", _factor(node[1]), node[2])
    if k == "seq":
        return ("seq", [_factor(x) for x in node[1]])
    if k != "alt":
        return node
    seqs = [_factor(x) if x[0] == "seq" else ("seq", [_factor(x)]) for x in node[1]]
    groups: list[list] = []
    for sq in seqs:
        head = sq[1][0] if sq[1] else None
        for g in groups:
            if head is not None and g[0][1] and g[0][1][0] == head:
                g.append(sq)
                break
        else:
            groups.append([sq])
    out = []
    for g in groups:
        if len(g) == 1:
            out.append(g[0])
            continue
        rests = [("seq", sq[1][1:]) for sq in g]
        tail = _factor(("alt", [r for r in rests if r[1]]))
        tail = ("rep", tail, "?") if any(not r[1] for r in rests) else tail
        out.append(("seq", [g[0][1][0], tail]))
    return ("alt", out)


def lark_to_gbnf(text: str, comments: bool = True) -> str:
    """The GBNF of ``text``; ``comments=False`` leaves ``#`` comments out (what the llm proposer sends: a
    small model otherwise writes its prose into comments and never reaches the end of a program)."""
    from ttsc.dsl.parser import RESERVED
    words = {m for m in re.findall(r'"([^"\\]*)"', text) if _NAME.fullmatch(m)}
    rules = {name: _tree(body) for name, body in _statements(text)}
    rules = _remove_left_recursion(rules)
    _parser_limits(rules)
    excluded = _names(rules, words, set(RESERVED)) if "NAME" in rules else {}
    rules = {name: node if name.isupper() else _factor(node) for name, node in rules.items()}
    p = _Props(rules)
    _check_no_left_recursion(rules, p)
    lines = ["# GBNF for .tts, generated from grammars/tts.lark by `ttsc grammar --format gbnf`.",
             "root ::= ws start ws"]
    for name, node in rules.items():
        if name in excluded:
            continue
        body = _emit(node, p, name.isupper())
        lines.append(f"{_gname(name)} ::= {body[1:-1] if node[0] == 'alt' and len(node[1]) > 1 and _balanced(body) else body}")
    shared: dict = {}
    for key, out in excluded.items():
        lines += _name_rules(_gname(key), out, shared)
    space = '[ \\t\\r\\n]' + (' | "#" [^\\n]* "\\n"' if comments else "")
    lines.append(f"ws ::= ({space})*")
    lines.append(f"ws1 ::= ({space}) ws")
    return "\n".join(lines) + "\n"
