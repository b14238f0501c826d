"""Canonical layout of a .tts program (`ttsc fmt`).

The layout is a function of the syntax tree and the comments only, never of how
the source was laid out, which makes formatting idempotent:

* 4-space indents, one statement per line, `{` on the statement's line, `}` alone
  (`} elif … {` and `} else {` share the closing line);
* a blank line after `strategy NAME` and wherever the kind of top-level item
  changes (parameters, state, signals, rules); blank lines the author left
  between statements are kept (several collapse into one), except at the start
  or end of a block;
* parentheses only where precedence needs them (grammars/tts.lark, loosest
  first: `where`/`sorted by`/`take`, `if … then … else`, `or`, `and`, `not`,
  comparisons, `+ -`, `* / // %`, unary `-`); numbers print as written;
* a statement longer than WIDTH columns breaks before `where`, `sorted by`,
  `take`, `and`/`or`, `by` or a setter, onto continuation lines indented one
  level more (two for a line that opens a block). Whitespace is insignificant in
  the language, so any break between tokens is safe.

Comments are the one thing the grammar drops (`%ignore COMMENT`), so they are
collected from the text and woven back by source offset: a comment alone on its
line goes above the line that follows it (at that line's indent), a comment
after code goes at the end of the output line that holds that code, with
trailing comments of neighbouring lines aligned. ``format_source`` re-parses its
output and refuses (raises) rather than return text whose tree or comments
differ from the input's: formatting must never lose a user's work.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any, Iterator

from ttsc.dsl import ast
from ttsc.dsl.diagnostics import Diagnostic, DiagnosticError, Source
from ttsc.errors import TtscError

WIDTH = 100
INDENT = 4

# ---- comments and other trivia ---------------------------------------------


@dataclass(frozen=True)
class Comment:
    start: int  # offset of `#`
    end: int
    text: str  # from `#`, trailing whitespace removed
    own_line: bool  # only whitespace precedes it on its line


@dataclass(frozen=True)
class Comments:
    """What the parser throws away but a formatter needs: comments, block braces, blank lines."""

    text: str
    comments: tuple[Comment, ...]
    blocks: tuple[tuple[int, int], ...]  # offsets of each block's `{` and `}`, in order of `{`

    @classmethod
    def scan(cls, text: str) -> "Comments":
        # Outside string literals (one line each), every `#` starts a comment and every brace is a block's.
        comments: list[Comment] = []
        blocks: list[list[int]] = []
        stack: list[int] = []
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            if ch == "#":
                j = text.find("\n", i)
                j = n if j < 0 else j
                line_start = text.rfind("\n", 0, i) + 1
                own = not text[line_start:i].strip()
                comments.append(Comment(i, j, text[i:j].rstrip(), own))
                i = j
                continue
            if ch == '"':  # a string literal: skip to its closing quote on the same line
                j = text.find('"', i + 1)
                if j >= 0 and "\n" not in text[i:j]:
                    i = j + 1
                    continue
            if ch == "{":
                stack.append(len(blocks))
                blocks.append([i, -1])
            elif ch == "}" and stack:
                blocks[stack.pop()][1] = i
            i += 1
        return cls(text, tuple(comments), tuple((a, b) for a, b in blocks))


# ---- expressions ------------------------------------------------------------

# Binding strength, loosest first, as in grammars/tts.lark.
QUERY, IFEXP, OR, AND, NOT, COMPARE, SUM, PRODUCT, UNARY, ATOM = range(10)
_BINARY = {"or": OR, "and": AND, "+": SUM, "-": SUM, "*": PRODUCT, "/": PRODUCT, "//": PRODUCT, "%": PRODUCT}
_COMPARE = ("==", "!=", "<", "<=", ">", ">=")


def format_expr(e: Any, need: int = QUERY) -> str:
    """``e`` as text, parenthesized if it binds looser than ``need``."""
    text, level = _expr(e)
    return f"({text})" if level < need else text


def _expr(e: Any) -> tuple[str, int]:
    if isinstance(e, ast.Int):
        return str(e.value), UNARY if e.value < 0 else ATOM
    if isinstance(e, ast.Float):
        return e.text, UNARY if e.text.startswith("-") else ATOM
    if isinstance(e, ast.Bool):
        return ("true" if e.value else "false"), ATOM
    if isinstance(e, ast.NoneLit):
        return "none", ATOM
    if isinstance(e, ast.Str):
        return f'"{e.value}"', ATOM
    if isinstance(e, ast.Name):
        return e.id, ATOM
    if isinstance(e, ast.Call):
        return f"{e.func}({', '.join(format_expr(a) for a in e.args)})", ATOM
    if isinstance(e, ast.Unary):
        if e.op == "not":
            return f"not {format_expr(e.operand, NOT)}", NOT
        inner = format_expr(e.operand, UNARY)
        return f"-({inner})" if inner.startswith("-") else f"-{inner}", UNARY
    if isinstance(e, ast.Binary):
        if e.op in _COMPARE:  # non-associative: both sides one level tighter
            return f"{format_expr(e.left, SUM)} {e.op} {format_expr(e.right, SUM)}", COMPARE
        level = _BINARY[e.op]  # left-associative: the right side needs parentheses at equal strength
        return f"{format_expr(e.left, level)} {e.op} {format_expr(e.right, level + 1)}", level
    if isinstance(e, ast.IfExp):
        return (f"if {format_expr(e.cond)} then {format_expr(e.then)} else {format_expr(e.orelse, IFEXP)}",
                IFEXP)
    if isinstance(e, ast.SET_QUERIES):
        return format_expr(e.set) + " " + _query_tail(e), QUERY
    raise TypeError(f"cannot format {type(e).__name__}")  # a new node type must be taught here


def _query_tail(e: Any) -> str:
    if isinstance(e, ast.Where):
        return f"where {format_expr(e.cond, IFEXP)}"
    if isinstance(e, ast.Sorted):
        return f"sorted by {format_expr(e.key, IFEXP)}" + (" desc" if e.descending else "")
    if isinstance(e, ast.TakeLast):
        return f"take last {format_expr(e.count, IFEXP)}"
    if isinstance(e, ast.SetOp):
        return f"{e.op} {format_expr(e.other, IFEXP)}"
    return f"take {format_expr(e.count, IFEXP)}"


@dataclass(frozen=True)
class _Piece:
    """An unbreakable run of text; a long statement may break between pieces.

    A piece that holds one expression (``node``, printed at strength ``need``
    between ``pre`` and ``post``) can be split further when it is too long for
    any line by itself.
    """

    text: str
    pos: int  # source offset of one of its own tokens, for placing comments
    node: Any = None
    need: int = QUERY
    pre: str = ""
    post: str = ""


def _whole(e: Any, need: int, pre: str = "", post: str = "") -> _Piece:
    return _Piece(pre + format_expr(e, need) + post, e.span.start, e, need, pre, post)


def _pieces(e: Any, need: int = QUERY) -> list[_Piece]:
    """``e`` split where a long line may break: before each query operator, or each `and`/`or`."""
    text, level = _expr(e)
    if level < need:
        return [_whole(e, need)]
    if level == QUERY:
        return _pieces(e.set) + [_Piece(_query_tail(e), _query_operand(e).span.start)]
    if level in (OR, AND):
        return _chain(e, level)
    return [_whole(e, need)]


def _chain(e: Any, level: int) -> list[_Piece]:
    """A left-associative chain of one strength, broken before each operator."""
    operands = []
    while isinstance(e, ast.Binary) and e.op not in _COMPARE and _BINARY.get(e.op) == level:
        operands.append((e.op, e.right))
        e = e.left
    return [_whole(e, level)] + [_whole(x, level + 1, f"{op} ") for op, x in reversed(operands)]


def _split(p: _Piece) -> list[_Piece]:
    """Finer pieces for a piece too long for a line: inside calls, around operators, `then`/`else`."""
    e, need = p.node, p.need
    if e is None:
        return [p]
    text, level = _expr(e)
    if level < need:
        parts = _wrapped(_split(_whole(e, level)), "(", ")")
    elif level == QUERY or level in (OR, AND):
        parts = _pieces(e, need)
    elif isinstance(e, ast.Binary) and e.op in _COMPARE:
        parts = [_whole(e.left, SUM), _whole(e.right, SUM, f"{e.op} ")]
    elif isinstance(e, ast.Binary):
        parts = _chain(e, level)
    elif isinstance(e, ast.Call) and e.args:
        last = len(e.args) - 1
        parts = [_whole(a, QUERY, f"{e.func}(" if k == 0 else "", ")" if k == last else ",")
                 for k, a in enumerate(e.args)]
    elif isinstance(e, ast.IfExp):
        parts = [_whole(e.cond, QUERY, "if "), _whole(e.then, QUERY, "then "), _whole(e.orelse, IFEXP, "else ")]
    else:
        return [p]
    if len(parts) == 1:  # one argument, say: split inside it
        inner = _split(parts[0])
        if len(inner) == 1:
            return [p]
        parts = inner
    parts = _wrapped(parts, p.pre, p.post)
    return [replace(parts[0], pos=min(p.pos, parts[0].pos))] + parts[1:]  # keeps the statement's own offset


def _wrapped(parts: list[_Piece], pre: str, post: str) -> list[_Piece]:
    """``pre`` before the first piece and ``post`` after the last, kept when those are split again."""
    first = parts[0]
    parts = [replace(first, text=pre + first.text, pre=pre + first.pre)] + parts[1:]
    last = parts[-1]
    return parts[:-1] + [replace(last, text=last.text + post, post=last.post + post)]


def _query_operand(e: Any) -> Any:
    if isinstance(e, ast.SetOp):
        return e.other
    return e.cond if isinstance(e, ast.Where) else e.key if isinstance(e, ast.Sorted) else e.count


def _prefixed(prefix: str, pieces: list[_Piece], pos: int) -> list[_Piece]:
    first = pieces[0]
    return [replace(first, text=prefix + first.text, pos=pos, pre=prefix + first.pre)] + pieces[1:]


def _fitting(pieces: list[_Piece], room: int) -> list[_Piece]:
    """Split every piece longer than ``room`` until it fits or cannot be split."""
    out: list[_Piece] = []
    for p in pieces:
        finer = _split(p) if len(p.text) > room else [p]
        out += [p] if len(finer) == 1 else _fitting(finer, room)
    return out


# ---- lines ------------------------------------------------------------------


@dataclass
class _Line:
    col: int
    text: str
    pos: int  # source offset the line stands for; comments before it go above it
    end: int  # source offset where its code ends
    comment_col: int  # indent of own-line comments placed above it
    blank_before: bool = True  # may keep a blank line the author left above it
    blank_after: bool = True  # may keep a blank line the author left below it
    group: str | None = None  # kind of top-level item it starts
    trailing: str | None = None


_GROUPS = {ast.Param: "param", ast.Var: "state", ast.Window: "state", ast.BranchVar: "state", ast.Signal: "signal",
           ast.BranchHistory: "state", ast.BranchWindow: "state"}


class _Layout:
    """Turns a program into lines, each tied to the source offset it came from."""

    def __init__(self, comments: Comments | None):
        self.lines: list[_Line] = []
        self._item_start = 0  # index of the first line of the item laid out last
        self._blocks: Iterator[tuple[int, int]] | None = iter(comments.blocks) if comments else None

    def program(self, p: ast.Program) -> list[_Line]:
        self.lines.append(_Line(0, f"strategy {p.name}", p.span.start, p.span.start + len("strategy"), 0,
                                group="header"))
        for item in p.items:
            self.item(item, 0)
            self.lines[self._item_start].group = _GROUPS.get(type(item), "rule")
        return self.lines

    # -- emitting
    def emit(self, col: int, pieces: list[_Piece], end: int, suffix: str = "", opens: bool = False,
             closes: bool = False) -> None:
        """Lay ``pieces`` out from column ``col``, greedily filling lines up to WIDTH."""
        cont = col + (2 if opens else 1) * INDENT
        pieces = _fitting(pieces, WIDTH - cont - len(suffix))
        rows: list[list[_Piece]] = [[pieces[0]]]
        width = col + len(pieces[0].text)
        for k, piece in enumerate(pieces[1:], start=1):
            tail = len(suffix) if k == len(pieces) - 1 else 0
            if width + 1 + len(piece.text) + tail <= WIDTH:
                rows[-1].append(piece)
                width += 1 + len(piece.text)
            else:
                rows.append([piece])
                width = cont + len(piece.text)
        self._item_start = len(self.lines)
        for r, row in enumerate(rows):
            last = r == len(rows) - 1
            c = col if r == 0 else cont
            self.lines.append(_Line(
                col=c, text=" ".join(p.text for p in row) + (suffix if last else ""), pos=row[0].pos,
                end=end if last else rows[r + 1][0].pos,
                comment_col=c + (INDENT if closes and r == 0 else 0),
                blank_before=r == 0 and not closes, blank_after=last and not opens))

    def _block(self) -> tuple[int, int]:
        return next(self._blocks) if self._blocks is not None else (-1, -1)

    def body(self, stmts, col: int) -> None:
        for s in stmts:
            self.item(s, col)

    # -- items
    def item(self, s: Any, col: int) -> None:
        method = getattr(self, "i_" + type(s).__name__, None)
        if method is None:
            raise TypeError(f"cannot format {type(s).__name__}")  # a new node type must be taught here
        method(s, col)

    def simple(self, s: Any, col: int, prefix: str, e: Any, suffix: str = "") -> None:
        self.emit(col, _prefixed(prefix, _pieces(e), s.span.start), s.span.end, suffix)

    def i_Param(self, s: ast.Param, col: int) -> None:
        text = f"param {s.name}: {s.type} = {format_expr(s.default)}"
        if s.low is not None or s.high is not None:
            low = "" if s.low is None else format_expr(s.low)
            high = "" if s.high is None else format_expr(s.high)
            text += f" in {low}..{high}"
        self.emit(col, [_Piece(text, s.span.start)], s.span.end)

    def i_Var(self, s: ast.Var, col: int) -> None:
        self.simple(s, col, f"var {s.name}: {s.type} = ", s.init)

    def i_Window(self, s: ast.Window, col: int) -> None:
        self.emit(col, [_Piece(f"var {s.name}: window({format_expr(s.capacity)})", s.span.start)], s.span.end)

    def i_BranchVar(self, s: ast.BranchVar, col: int) -> None:
        self.simple(s, col, f"branch {s.name}: {s.type} = ", s.init)

    def i_BranchHistory(self, s: ast.BranchHistory, col: int) -> None:
        self.emit(col, [_Piece(f"branch {s.name}: history({s.capacity})", s.span.start)], s.span.end)

    def i_BranchWindow(self, s: ast.BranchWindow, col: int) -> None:
        self.emit(col, [_Piece(f"branch {s.name}: window({s.capacity})", s.span.start)], s.span.end)

    def i_UpdatePush(self, s: ast.UpdatePush, col: int) -> None:
        pieces = _prefixed("update ", _pieces(s.set), s.span.start)
        self.emit(col, pieces + [_Piece(f"push {format_expr(s.value)} to {s.window}", s.value.span.start)],
                  s.span.end)

    def i_Signal(self, s: ast.Signal, col: int) -> None:
        self.simple(s, col, f"signal {s.name} = ", s.value)

    def i_Let(self, s: ast.Let, col: int) -> None:
        self.simple(s, col, f"let {s.name} = ", s.value)

    def i_Assign(self, s: ast.Assign, col: int) -> None:
        self.simple(s, col, f"{s.name} = ", s.value)

    def i_Push(self, s: ast.Push, col: int) -> None:
        pieces = _prefixed("push ", _pieces(s.value), s.span.start)
        # A piece's position must be one of its own tokens (here the window's name), or a
        # comment between two pieces would move from one line to the other on a second run.
        self.emit(col, pieces + [_Piece(f"to {s.window}", s.span.end - len(s.window))], s.span.end)

    def i_Stop(self, s: ast.Stop, col: int) -> None:
        self.simple(s, col, "stop ", s.value)

    def i_Break(self, s: ast.Break, col: int) -> None:
        self.emit(col, [_Piece("break", s.span.start)], s.span.end)

    def i_Open(self, s: ast.Open, col: int) -> None:
        self.simple(s, col, "open ", s.count, f" as {s.bind}" if s.bind else "")

    def i_Read(self, s: ast.Read, col: int) -> None:
        self.simple(s, col, "read ", s.count, f" as {s.bind}" if s.bind else "")

    def i_Prune(self, s: ast.Prune, col: int) -> None:
        self.simple(s, col, "prune ", s.set)

    def i_Accept(self, s: ast.Accept, col: int) -> None:
        self.simple(s, col, "accept ", s.set)

    def i_Advance(self, s: ast.Advance, col: int) -> None:
        pieces = _prefixed("advance ", _pieces(s.set), s.span.start)
        if s.by is not None:
            pieces += _prefixed("by ", _pieces(s.by), s.by.span.start)
        self.emit(col, pieces, s.span.end)

    def i_Update(self, s: ast.Update, col: int) -> None:
        pieces = _prefixed("update ", _pieces(s.set), s.span.start)
        for k, st in enumerate(s.setters):
            sep = "," if k < len(s.setters) - 1 else ""
            pieces.append(_Piece(("set " if k == 0 else "") + f"{st.field} = {format_expr(st.value)}{sep}",
                                 st.span.start))
        self.emit(col, pieces, s.span.end)

    def i_Repeat(self, s: ast.Repeat, col: int) -> None:
        _, close = self._block()
        suffix = (f" as {s.var}" if s.var else "") + " {"
        self.emit(col, _prefixed("repeat ", _pieces(s.count), s.span.start), s.span.end, suffix, opens=True)
        start = self._item_start
        self.body(s.body, col + INDENT)
        self.emit(col, [_Piece("}", close)], close + 1, closes=True)
        self._item_start = start

    def i_If(self, s: ast.If, col: int) -> None:
        start, close = None, -1
        for k, br in enumerate(s.branches):
            _, next_close = self._block()
            if k == 0:
                self.emit(col, _prefixed("if ", _pieces(br.cond), s.span.start), s.span.end, " {", opens=True)
                start = self._item_start
            else:
                self.emit(col, _prefixed("} elif ", _pieces(br.cond), close), close + 1, " {", opens=True,
                          closes=True)
            self.body(br.body, col + INDENT)
            close = next_close
        if s.orelse is not None:
            _, next_close = self._block()
            self.emit(col, [_Piece("} else {", close)], close + 1, opens=True, closes=True)
            self.body(s.orelse, col + INDENT)
            close = next_close
        self.emit(col, [_Piece("}", close)], close + 1, closes=True)
        self._item_start = start


# ---- weaving comments back ----------------------------------------------------

_BLANK_LINE = re.compile(r"\n[ \t\r\f\v]*\n")


@dataclass
class _Entry:
    col: int
    text: str
    pos: int
    end: int
    blank_before: bool
    blank_after: bool
    trailing: str | None = None
    blank: bool = False  # a blank line precedes it in the output


def _weave(lines: list[_Line], comments: Comments | None) -> str:
    text = comments.text if comments else ""
    own = [c for c in comments.comments if c.own_line] if comments else []
    starts = [line.pos for line in lines]
    for c in comments.comments if comments else ():
        if c.own_line:
            continue
        k = bisect.bisect_right(starts, c.start) - 1
        if k >= 0 and lines[k].trailing is None:
            lines[k].trailing = c.text
        else:  # a second comment for the same output line goes on its own line below it
            own.append(c)
    own.sort(key=lambda c: c.start)

    def has_blank(a: int, b: int) -> bool:
        return a < b and _BLANK_LINE.search(text, a, b) is not None

    entries: list[_Entry] = []
    nxt = 0
    last_group = None
    end = _Line(0, "", len(text) + 1, len(text) + 1, 0)  # comments left at the end of the file go above it
    for line in lines + [end]:
        run: list[_Entry] = []
        while nxt < len(own) and own[nxt].start < line.pos:
            c = own[nxt]
            run.append(_Entry(line.comment_col, c.text, c.start, c.end, True, True))
            nxt += 1
        if line is not end:
            run.append(_Entry(line.col, line.text, line.pos, line.end, line.blank_before, line.blank_after,
                              line.trailing))
        prev = entries[-1] if entries else None
        for e in run:
            e.blank = bool(prev and prev.blank_after and e.blank_before and has_blank(prev.end, e.pos))
            prev = e
        # A new kind of top-level item starts after a blank line, above its own comments,
        # unless the author already left one somewhere in between.
        if line.group is not None:
            if last_group is not None and line.group != last_group and not any(e.blank for e in run):
                run[0].blank = True
            last_group = line.group
        entries.extend(run)
    if entries:
        entries[0].blank = False
    _align_trailing(entries)
    out: list[str] = []
    for e in entries:
        if e.blank:
            out.append("")
        out.append(" " * e.col + e.text + (e.trailing or ""))
    return "\n".join(out) + "\n"


def _align_trailing(entries: list[_Entry]) -> None:
    """Trailing comments on neighbouring lines of one indent share a column, two past the longest line."""
    k = 0
    while k < len(entries):
        if entries[k].trailing is None:
            k += 1
            continue
        j = k + 1
        while (j < len(entries) and entries[j].trailing is not None and not entries[j].blank
               and entries[j].col == entries[k].col):
            j += 1
        width = max(entries[i].col + len(entries[i].text) for i in range(k, j)) + 2
        for i in range(k, j):
            e = entries[i]
            e.trailing = " " * (width - e.col - len(e.text)) + e.trailing
        k = j


# ---- entry points -------------------------------------------------------------


def format_program(program: ast.Program, comments: Comments | None = None) -> str:
    """The canonical text of ``program``; ``comments`` (from the text it was parsed from) are kept."""
    if comments is not None and len(comments.blocks) != _count_blocks(program.items):
        raise ValueError("comments were scanned from a different text than the program was parsed from")
    return _weave(_Layout(comments).program(program), comments)


def format_source(src: Source) -> str:
    """Parse ``src`` and return its canonical text; raises DiagnosticError if it does not parse.

    The result is parsed again and compared with the input (tree and comments);
    a formatter bug raises TtscError instead of returning text that would lose work.
    """
    from ttsc.dsl.parser import parse_source

    program = parse_source(src)
    comments = Comments.scan(src.text)
    try:
        out = format_program(program, comments)
    except RecursionError:
        raise DiagnosticError(src, [Diagnostic("E0004", "program nests too deeply to format", program.span,
                                               help="split long expressions with `let`")]) from None
    try:
        again = parse_source(Source(src.name, out))
    except DiagnosticError as err:
        raise TtscError(f"{src.name}: internal formatter error, the output does not parse "
                        f"(file left as it was):\n{err.render()}") from None
    if strip_spans(again) != strip_spans(program):
        raise TtscError(f"{src.name}: internal formatter error, the output means something else "
                        "(file left as it was)")
    if Counter(c.text for c in Comments.scan(out).comments) != Counter(c.text for c in comments.comments):
        raise TtscError(f"{src.name}: internal formatter error, comments would change (file left as it was)")
    return out


def strip_spans(node: Any) -> Any:
    """A node as plain data without positions: two trees are the same program iff these are equal."""
    if isinstance(node, ast.Node):
        node = node.model_dump()
    if isinstance(node, dict):
        return {k: strip_spans(v) for k, v in node.items() if k not in ("span", "func_span")}
    if isinstance(node, (list, tuple)):
        return [strip_spans(v) for v in node]
    return node


def _count_blocks(stmts) -> int:
    n = 0
    for s in stmts:
        if isinstance(s, ast.If):
            n += sum(1 + _count_blocks(b.body) for b in s.branches)
            if s.orelse is not None:
                n += 1 + _count_blocks(s.orelse)
        elif isinstance(s, ast.Repeat):
            n += 1 + _count_blocks(s.body)
    return n
