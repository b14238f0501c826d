"""Lark's syntax errors -> readable, located diagnostics (E0101-E0103).

Lark reports the terminal names the parser would have accepted; listed raw they
read like `one of ADVANCE, BRANCH, BREAK, ...`. Here whole families collapse
into words ("a statement", "an expression", "an operator"), literals show as
written, and a few mistakes people actually make (Python code, `x += 1`,
chained comparisons, a misspelt statement keyword) get a specific hint.
"""

from __future__ import annotations

import difflib
import re

from lark import Token
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from ttsc.dsl.builtins import KEYWORDS
from ttsc.dsl.diagnostics import Diagnostic, Source

_STMT_START = {"LET", "PUSH", "IF", "REPEAT", "BREAK", "STOP", "OPEN", "READ", "ADVANCE", "PRUNE", "UPDATE",
               "ACCEPT"}
_DECL_START = {"PARAM", "VAR", "BRANCH", "SIGNAL"}
_EXPR_START = {"NAME", "INT", "FLOAT", "LPAR", "MINUS", "NOT", "IF", "TRUE", "FALSE", "NONE", "STRING"}
_OPERATORS = {"PLUS", "MINUS", "STAR", "SLASH", "__ANON_1", "PERCENT", "COMPARE", "AND", "OR",
              "WHERE", "SORTED", "TAKE"}
# A family is named when its characteristic members are all expected.
_FAMILIES = (
    ("a statement", {"LET", "STOP", "REPEAT"}, _STMT_START | {"NAME"}),  # NAME: an assignment
    ("a declaration", {"PARAM", "VAR"}, _DECL_START),
    ("an expression", {"NAME", "INT", "LPAR"}, _EXPR_START),
    ("an operator", {"PLUS", "STAR"}, _OPERATORS),
)
_CLASSES = {"NAME": "a name", "INT": "an integer", "FLOAT": "a number", "COMPARE": "a comparison",
            "STRING": "a string"}
_STATEMENTS = ("let", "if", "repeat", "stop", "open", "read", "advance", "prune", "update", "push", "break",
               "accept")
_DECLARATIONS = ("param", "var", "branch", "signal")
# Words from other languages and what they are called here.
_ALIASES = {"return": "stop", "while": "repeat", "for": "repeat", "loop": "repeat", "exit": "stop",
            "const": "let", "def": None, "import": None, "class": None}
_PYTHON = ".tts is a rule language, not Python: no imports, defs or classes (see docs/language.md)"
_CHAR_HINTS = {
    '"': 'a string (an answer, e.g. "ERR") ends with `"` on the same line',
    "'": 'answers are written in double quotes: `"ERR"`',
    "!": "write `not x` for negation (`!=` compares)",
    "&": "write `and`",
    "|": "write `or`",
    "[": "there are no lists or indexing; branch sets are queried with `where`, `sorted by` and `take`",
    "]": "there are no lists or indexing; branch sets are queried with `where`, `sorted by` and `take`",
    ";": "statements need no separator",
    ".": "there is no attribute access; `..` appears only in parameter ranges (`in 1..64`)",
}
_TOKEN_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+(?:\.[0-9]+)?|//|==|!=|<=|>=|\.\.|\S")


def syntax_diagnostic(src: Source, exc: UnexpectedInput, literals: dict[str, str]) -> Diagnostic:
    """One diagnostic for Lark's error ``exc``; ``literals`` maps terminal names to their text."""
    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(src, exc.pos_in_stream)
    expected = set(getattr(exc, "accepts", None) or getattr(exc, "expected", None) or ())
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        return _unexpected_end(src, expected, literals)
    assert isinstance(exc, UnexpectedToken)
    return _unexpected_token(src, exc.token, expected, literals)


def describe_expected(names: set[str], literals: dict[str, str]) -> str:
    """``{"RPAR", "WHERE"}`` -> "`)` or `where`"; families of terminals collapse into one word."""
    names = {n for n in names if n not in ("WS", "COMMENT")}
    families = []
    for label, core, members in _FAMILIES:
        if core <= names:
            families.append(label)
            names -= members
    end = ["end of file"] if "$END" in names else []
    names.discard("$END")
    # Punctuation first (usually what was forgotten), then keywords, then classes of tokens.
    singles = sorted(names, key=lambda n: (n in _CLASSES, literals.get(n, n).isalpha(), literals.get(n, n)))
    shown = [_CLASSES.get(n) or f"`{literals.get(n, n.lower())}`" for n in singles] + families + end
    if len(shown) > 6:
        shown = shown[:6] + ["…"]
    if len(shown) <= 1:
        return "".join(shown)
    return ", ".join(shown[:-1]) + " or " + shown[-1]


def _bad_character(src: Source, pos: int) -> Diagnostic:
    ch = src.text[pos] if pos < len(src.text) else ""
    if _looks_like_python(src):
        hint = _PYTHON
    else:
        hint = _CHAR_HINTS.get(ch, "this character has no meaning in a .tts program")
    return Diagnostic("E0102", f"unexpected character {ch!r}", src.span_at(pos), help=hint)


def _unexpected_end(src: Source, expected: set[str], literals: dict[str, str]) -> Diagnostic:
    code = _code_only(src.text)
    end = len(code.rstrip())
    what = describe_expected(expected, literals)
    hint = f"expected {what}" if what else "the program stops in the middle of a rule"
    if expected == {"EQUAL"}:
        words = _tokens_before(code, end)
        if words and _starts_statement(words):
            return _not_a_statement(src, words[-1])
    # Point just past the last token: that is where something is missing; and at the `{` left open.
    unclosed = _unclosed_brace(code)
    if unclosed is not None and "RBRACE" in expected:
        return Diagnostic("E0103", "unexpected end of file: a `{` is never closed", src.span_at(end),
                          help=f"add `}}` to close the block opened on line {src.span_at(unclosed).line}",
                          labels=((src.span_at(unclosed), "this `{` is not closed"),))
    return Diagnostic("E0103", "unexpected end of file", src.span_at(end), help=hint)


def _unclosed_brace(code: str) -> int | None:
    """Offset of the innermost `{` that no `}` closes (comments already blanked)."""
    stack: list[int] = []
    for m in re.finditer(r"[{}]", code):
        if m.group() == "{":
            stack.append(m.start())
        elif stack:
            stack.pop()
    return stack[-1] if stack else None


def _unexpected_token(src: Source, tok: Token, expected: set[str], literals: dict[str, str]) -> Diagnostic:
    start = tok.start_pos or 0
    text = str(tok)
    span = src.span_at(start, max(1, len(text)))
    shown = text if len(text) <= 40 else text[:37] + "…"
    what = describe_expected(expected, literals)
    hint = f"expected {what}" if what else None
    code = _code_only(src.text)
    words = _tokens_before(code, start)
    if tok.type in ("PLUS", "MINUS", "STAR", "SLASH", "PERCENT", "__ANON_1") and src.text[tok.end_pos:][:1] == "=":
        target = words[-1].group() if words else "x"
        return Diagnostic("E0101", f"`{text}=` is not an operator", src.span_at(start, len(text) + 1),
                          help=f"write `{target} = {target} {text} …`")
    if expected == {"EQUAL"} and words and _starts_statement(words):
        return _not_a_statement(src, words[-1])
    if _looks_like_python(src):
        hint = _PYTHON
    elif expected == {"STRATEGY"}:
        hint = "a program starts with `strategy NAME`"
    elif tok.type == "COMPARE" and "COMPARE" not in expected:
        hint = "comparisons do not chain: write `a < b and b < c`"
    elif tok.type == "EQUAL" and "COMPARE" in expected:
        hint = "`=` assigns; to compare, write `==`"
    elif words and words[-1].group() == "strategy" and "NAME" in expected:
        hint = "expected the strategy's name: `strategy NAME`"
    elif tok.type in _STMT_START | _DECL_START and _starts_line(src.text, start) and "NAME" in expected:
        # `let x = 3 +` then `stop ...` on the next line: the earlier statement is the problem.
        hint = f"expected {what}; the statement before `{text}` is unfinished"
    elif text in KEYWORDS and "NAME" in expected and not expected & {"INT", "LET"}:
        hint = f"expected {what}; `{text}` is a keyword, not a name"
    return Diagnostic("E0101", f"unexpected `{shown}`", span, help=hint)


def _not_a_statement(src: Source, word: re.Match) -> Diagnostic:
    """A name at the start of a statement that is not followed by `=`: usually a misspelt keyword."""
    name = word.group()
    span = src.span_at(word.start(), len(name))
    alias = _ALIASES.get(name, "")
    close = difflib.get_close_matches(name, _STATEMENTS + _DECLARATIONS, n=1)
    if alias is None or _looks_like_python(src):
        hint = _PYTHON
    elif alias or close:
        hint = f"did you mean `{alias or close[0]}`?"
    else:
        hint = (f"a statement starts with {', '.join(f'`{s}`' for s in _STATEMENTS)}, "
                f"or assigns a var: `{name} = …`")
    return Diagnostic("E0101", f"`{name}` is not a statement", span, help=hint)


def _starts_line(text: str, offset: int) -> bool:
    return not text[text.rfind("\n", 0, offset) + 1: offset].strip()


def _starts_statement(words: list[re.Match]) -> bool:
    """Is the last word the first token of a statement (not the name after `let`, `set`, ...)?"""
    if not re.fullmatch(r"[A-Za-z_]\w*", words[-1].group()):
        return False
    return len(words) < 2 or words[-2].group() not in ("let", "signal", "set", ",", "strategy")


def _tokens_before(code: str, offset: int, n: int = 2) -> list[re.Match]:
    """The last ``n`` tokens that end at or before ``offset`` (comments already blanked)."""
    # Scan only a bounded window before the error: a statement's first tokens are close by.
    lo = max(0, offset - 400)
    found = [m for m in _TOKEN_RE.finditer(code, lo, offset)]
    return found[-n:]


def _code_only(text: str) -> str:
    """``text`` with comments blanked out, so offsets stay the same."""
    return re.sub(r"#[^\n]*", lambda m: " " * len(m.group()), text)


def _looks_like_python(src: Source) -> bool:
    starts = ("import ", "from ", "def ", "class ", "print(", "__import__", "lambda", "exec(", "eval(")
    return any(line.lstrip().startswith(starts) for line in src.text.split("\n")) or bool(
        re.search(r"(?<![A-Za-z0-9_])__[A-Za-z]", src.text))
