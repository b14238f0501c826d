"""Source text -> :class:`~ttsc.dsl.ast.Program`, or located diagnostics.

Input is screened before Lark sees it (size, encoding, token count, nesting
depth, empty files) and the tree before anything recurses on it (expression
depth), so hostile input meets a clear message instead of a traceback or a
recursion limit. Lark's LALR parser runs with positions on; a transformer turns
its tree into frozen AST nodes and drops every Lark object.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from pathlib import Path

from lark import Lark, Token, Transformer, Tree, v_args
from lark.exceptions import UnexpectedInput, VisitError

from ttsc.dsl import ast
from ttsc.dsl.diagnostics import Diagnostic, DiagnosticError, Source
from ttsc.dsl.syntax_errors import syntax_diagnostic

MAX_SOURCE_BYTES = 256 * 1024
MAX_NESTING = 48
MAX_EXPR_DEPTH = 100  # operators nested in one expression; keeps every recursive pass far from Python's limit
MAX_TOKENS = 20_000
MAX_STRING = 200  # characters of a string literal (an answer written in the program)
MAX_INT_DIGITS = 15  # ints are exact in a float64 up to 2**53; nothing here needs more

# Keywords that start a statement or declaration, or stand inside expressions: never a name.
# The rest (`as`, `by`, `to`, `set`, `in`, `asc`, `desc`, type names) only mean something
# right after another keyword, so they stay usable where a name is wanted (`strategy asc`).
RESERVED = frozenset({"strategy", "param", "var", "branch", "signal", "let", "push", "if", "elif", "else", "then",
                      "repeat", "break", "stop", "open", "read", "advance", "prune", "update", "where", "sorted",
                      "take", "union", "intersect", "minus", "and", "or", "not", "true", "false", "none", "accept"})
# About one match per token (`==` counts twice, a comment once and is skipped): enough for a cap.
_ROUGH_TOKEN = re.compile(r'"[^"\n]*"|#[^\n]*|[A-Za-z0-9_.]+|\S')  # a string is one token, `#` and all
# Grammar rules (aliases) that are one level of expression nesting.
_EXPR_RULES = frozenset({"where", "sorted", "take", "take_last", "union", "intersect", "minus", "ifexp", "or_", "and_", "not_", "compare", "add", "sub",
                         "mul", "div", "floordiv", "mod", "neg", "call"})


@lru_cache(maxsize=1)
def grammar_text() -> str:
    return resources.files("ttsc.grammars").joinpath("tts.lark").read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _lark() -> Lark:
    keyword_types: dict[str, str] = {}

    def reserve_keywords(tok: Token) -> Token:
        # Lark's contextual lexer reads `stop` as a NAME wherever a name fits, so after
        # `let x = 3 +` a following `stop none` parses on as `3 + stop` and the error
        # surfaces tokens later. Keeping reserved words keywords puts it on the keyword.
        kind = keyword_types.get(tok.value)
        return Token.new_borrow_pos(kind, tok.value, tok) if kind else tok

    options = dict(parser="lalr", propagate_positions=True, maybe_placeholders=True,
                   lexer_callbacks={"NAME": reserve_keywords})
    try:  # building the LALR tables costs ~0.4 s per start; a cache keyed by grammar and Lark version avoids it
        lark = Lark(grammar_text(), cache=str(_grammar_cache_path()), **options)
    except Exception:  # an unwritable or corrupt cache only costs the rebuild
        lark = Lark(grammar_text(), **options)
    keyword_types.update({v: t for t, v in _literals(lark).items() if v in RESERVED})
    return lark


def _grammar_cache_path() -> Path:
    import hashlib

    import lark as lark_module

    from ttsc.cache import cache_dir

    key = hashlib.sha256(f"{lark_module.__version__}\0{grammar_text()}".encode()).hexdigest()[:16]
    base = cache_dir()
    base.mkdir(parents=True, exist_ok=True)
    return base / f"tts-grammar-{key}.lark-cache"


def _literals(lark: Lark) -> dict[str, str]:
    """Terminal name -> its literal text, for the terminals that are fixed strings."""
    return {t.name: t.pattern.value for t in lark.terminals if t.pattern.type == "str"}


def read_source(path: str | Path) -> Source:
    """Read a program file, refusing binary, non-UTF-8 or oversized input with a located error."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        src = Source(name, "")
        hint = ("a program is a `.tts` file, or a shipped strategy named without a path "
                "such as `cmc` (the files in `strategies/`)") if isinstance(exc, FileNotFoundError) else None
        raise DiagnosticError(src, [Diagnostic("E0001", f"cannot read file: {exc.strerror or exc}", src.span_at(0),
                                               help=hint)])
    return decode_source(data, name)


def decode_source(data: bytes, name: str) -> Source:
    if len(data) > MAX_SOURCE_BYTES:
        src = Source(name, "")
        raise DiagnosticError(src, [Diagnostic(
            "E0002", f"file is {len(data):,} bytes; programs are limited to {MAX_SOURCE_BYTES:,}",
            src.span_at(0), help="a strategy is a few dozen lines; is this the right file?")])
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode("utf-8")
        src = Source(name, good)
        raise DiagnosticError(src, [Diagnostic(
            "E0001", f"invalid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})",
            src.span_at(len(good)), help=".tts programs are UTF-8 text")])
    text = text.removeprefix("\ufeff")  # a byte-order mark some editors write: not part of the program
    src = Source(name, text)
    nul = text.find("\x00")
    if nul >= 0:
        raise DiagnosticError(src, [Diagnostic("E0001", "binary data (a NUL byte) in program text",
                                               src.span_at(nul), help=".tts programs are UTF-8 text")])
    return src


def parse_file(path: str | Path) -> tuple[ast.Program, Source]:
    src = read_source(path)
    return parse_source(src), src


def parse(text: str, name: str = "<string>") -> ast.Program:
    return parse_source(Source(name, text))


def parse_source(src: Source) -> ast.Program:
    _screen(src)
    try:
        tree = _lark().parse(src.text)
    except UnexpectedInput as exc:
        raise DiagnosticError(src, [syntax_diagnostic(src, exc, _literals(_lark()))]) from None
    _screen_depth(src, tree)
    try:
        return _ToAst(src).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, DiagnosticError):
            raise exc.orig_exc from None
        if isinstance(exc.orig_exc, RecursionError):
            raise _too_deep(src, 0) from None
        raise
    except RecursionError:
        raise _too_deep(src, 0) from None


def _too_deep(src: Source, offset: int) -> DiagnosticError:
    return DiagnosticError(src, [Diagnostic(
        "E0004", "program nests too deeply", src.span_at(offset),
        help=f"keep blocks and parentheses under {MAX_NESTING} levels and expressions short")])


def _screen_depth(src: Source, tree: Tree) -> None:
    """Refuse an expression nested more than MAX_EXPR_DEPTH operators deep, before anything recurses on it.

    `1 + 1 + ... + 1` parses (LALR is iterative) into a left-leaning tree as deep as
    it is long; the transformer, the checker and both engines walk trees recursively.
    """
    stack: list[tuple[Tree | Token, int, Tree | None]] = [(tree, 0, None)]
    while stack:
        node, depth, outer = stack.pop()
        if not isinstance(node, Tree):
            continue
        if node.data in _EXPR_RULES:
            depth += 1
            outer = outer or node
            if depth > MAX_EXPR_DEPTH:
                meta = outer.meta
                raise DiagnosticError(src, [Diagnostic(
                    "E0004", f"expression nests more than {MAX_EXPR_DEPTH} operators deep",
                    src.span_at(meta.start_pos, meta.end_pos - meta.start_pos),
                    help="split it into steps with `let`")])
        stack.extend((child, depth, outer) for child in node.children)


def _screen(src: Source) -> None:
    """Cheap checks that keep pathological input away from the parser."""
    if not src.text.strip() or all(
        not line.strip() or line.lstrip().startswith("#") for line in src.text.split("\n")
    ):
        raise DiagnosticError(src, [Diagnostic(
            "E0003", "empty program", src.span_at(0),
            help="a program starts with `strategy NAME`, then parameters, state and rules")])
    depth = 0
    in_comment = in_string = False
    for i, ch in enumerate(src.text):
        if in_comment:
            in_comment = ch != "\n"
        elif in_string:  # a string literal ends at its closing quote (or, unterminated, at the line's end)
            in_string = ch not in '"\n'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "({":
            depth += 1
            if depth > MAX_NESTING:
                raise _too_deep(src, i)
        elif ch in ")}":
            depth -= 1
    # LALR parsing is linear but slow in pure Python (~50 µs a token); a cap keeps a
    # hostile file from tying up the parser, and every real strategy far below it.
    tokens = 0
    for m in _ROUGH_TOKEN.finditer(src.text):
        if m.group()[0] != "#":
            tokens += 1
            if tokens > MAX_TOKENS:
                raise DiagnosticError(src, [Diagnostic(
                    "E0002", f"program has more than {MAX_TOKENS:,} tokens", src.span_at(m.start(), len(m.group())),
                    help="a strategy is a few dozen lines; is this the right file?")])


def _span(meta) -> ast.Span:
    return ast.Span(line=meta.line, col=meta.column, end_line=meta.end_line, end_col=meta.end_column,
                    start=meta.start_pos, end=meta.end_pos)


def _tok_span(tok: Token) -> ast.Span:
    return ast.Span(line=tok.line, col=tok.column, end_line=tok.end_line, end_col=tok.end_column,
                    start=tok.start_pos, end=tok.end_pos)


@v_args(meta=True)
class _ToAst(Transformer):
    """Lark tree -> AST nodes. One method per grammar alias."""

    def __init__(self, src: Source):
        super().__init__()
        self.src = src

    # -- program and declarations
    def start(self, meta, children):
        name, *items = children
        return ast.Program(span=_span(meta), name=str(name), items=tuple(items))

    def param(self, meta, c):
        name, type_, default, rng = c
        if isinstance(default, ast.Str):  # the grammar shares `constant` with expressions
            raise DiagnosticError(self.src, [Diagnostic(
                "E0101", "a parameter's default cannot be a string", default.span,
                help="parameters are numbers, booleans or `none`; use `let` for a fixed answer: "
                     f"`let {name} = \"{default.value}\"`")])
        low, high = rng if rng else (None, None)
        return ast.Param(span=_span(meta), name=str(name), type=type_, default=default, low=low, high=high)

    def range(self, meta, c):
        # The grammar shares `signed` with defaults, so `in true..none` parses; bounds are numbers.
        for bound in c:
            if bound is not None and not isinstance(bound, (ast.Int, ast.Float)):
                word = self.src.text[bound.span.start:bound.span.end]
                raise DiagnosticError(self.src, [Diagnostic(
                    "E0101", f"unexpected `{word}`", bound.span, help="range bounds are numbers: `in 1..64`")])
        return tuple(c)

    def type(self, meta, c):
        return str(c[0])

    def var(self, meta, c):
        return ast.Var(span=_span(meta), name=str(c[0]), type=c[1], init=c[2])

    def window(self, meta, c):
        return ast.Window(span=_span(meta), name=str(c[0]), capacity=c[1])

    def branch_var(self, meta, c):
        return ast.BranchVar(span=_span(meta), name=str(c[0]), type=c[1], init=c[2])

    def signal(self, meta, c):
        return ast.Signal(span=_span(meta), name=str(c[0]), value=c[1])

    # -- statements
    def branch_history(self, meta, c):
        return ast.BranchHistory(span=_span(meta), name=str(c[0]), capacity=self.int(meta, [c[1]]).value)

    def branch_window(self, meta, c):
        return ast.BranchWindow(span=_span(meta), name=str(c[0]), capacity=self.int(meta, [c[1]]).value)

    def update_push(self, meta, c):
        return ast.UpdatePush(span=_span(meta), set=c[0], value=c[1], window=str(c[2]))

    def let(self, meta, c):
        return ast.Let(span=_span(meta), name=str(c[0]), value=c[1])

    def assign(self, meta, c):
        return ast.Assign(span=_span(meta), name=str(c[0]), value=c[1])

    def push(self, meta, c):
        return ast.Push(span=_span(meta), value=c[0], window=str(c[1]))

    def block(self, meta, c):
        return tuple(c)

    def elif_branch(self, meta, c):
        return ast.IfBranch(span=_span(meta), cond=c[0], body=c[1])

    def else_block(self, meta, c):
        return c[0]

    def if_(self, meta, c):
        cond, body, *elifs, orelse = c
        first = ast.IfBranch(span=_span(meta), cond=cond, body=body)
        return ast.If(span=_span(meta), branches=(first, *elifs), orelse=orelse)

    def repeat(self, meta, c):
        count, var, body = c
        return ast.Repeat(span=_span(meta), count=count, var=str(var) if var else None, body=body)

    def break_(self, meta, c):
        return ast.Break(span=_span(meta))

    def stop(self, meta, c):
        return ast.Stop(span=_span(meta), value=c[0])

    def open(self, meta, c):
        return ast.Open(span=_span(meta), count=c[0], bind=str(c[1]) if c[1] else None)

    def read(self, meta, c):
        return ast.Read(span=_span(meta), count=c[0], bind=str(c[1]) if c[1] else None)

    def advance(self, meta, c):
        return ast.Advance(span=_span(meta), set=c[0], by=c[1])

    def prune(self, meta, c):
        return ast.Prune(span=_span(meta), set=c[0])

    def accept(self, meta, c):
        return ast.Accept(span=_span(meta), set=c[0])

    def update(self, meta, c):
        return ast.Update(span=_span(meta), set=c[0], setters=tuple(c[1:]))

    def setter(self, meta, c):
        return ast.Setter(span=_span(meta), field=str(c[0]), value=c[1])

    # -- expressions
    def where(self, meta, c):
        return ast.Where(span=_span(meta), set=c[0], cond=c[1])

    def sorted(self, meta, c):
        return ast.Sorted(span=_span(meta), set=c[0], key=c[1], descending=bool(c[2]) and str(c[2]) == "desc")

    def take(self, meta, c):
        return ast.Take(span=_span(meta), set=c[0], count=c[1])

    def take_last(self, meta, c):
        return ast.TakeLast(span=_span(meta), set=c[0], count=c[1])

    def _set_op(op):  # noqa: N805 - builds the union/intersect/minus methods below
        def method(self, meta, c):
            return ast.SetOp(span=_span(meta), op=op, set=c[0], other=c[1])
        return method

    union, intersect, minus = _set_op("union"), _set_op("intersect"), _set_op("minus")

    def ifexp(self, meta, c):
        return ast.IfExp(span=_span(meta), cond=c[0], then=c[1], orelse=c[2])

    def _bin(op):  # noqa: N805 - builds the per-operator methods below
        def method(self, meta, c):
            left, *rest = c
            right = rest[-1]
            actual = str(rest[0]) if op is None else op
            return ast.Binary(span=_span(meta), op=actual, left=left, right=right)
        return method

    or_ = _bin("or")
    and_ = _bin("and")
    compare = _bin(None)
    add = _bin("+")
    sub = _bin("-")
    mul = _bin("*")
    div = _bin("/")
    floordiv = _bin("//")
    mod = _bin("%")

    def not_(self, meta, c):
        return ast.Unary(span=_span(meta), op="not", operand=c[0])

    def neg(self, meta, c):
        operand = c[0]
        # `-3` is a literal, so parameters and ranges can be negative and fmt keeps it as written.
        if isinstance(operand, ast.Int):
            return ast.Int(span=_span(meta), value=-operand.value)
        if isinstance(operand, ast.Float):
            return ast.Float(span=_span(meta), value=-operand.value, text="-" + operand.text)
        return ast.Unary(span=_span(meta), op="-", operand=operand)

    def call(self, meta, c):
        func, *args = c
        args = tuple(a for a in args if a is not None)
        return ast.Call(span=_span(meta), func=str(func), func_span=_tok_span(func), args=args)

    def name(self, meta, c):
        return ast.Name(span=_span(meta), id=str(c[0]))

    def int(self, meta, c):
        tok = c[0]
        if len(str(tok).lstrip("0")) > MAX_INT_DIGITS:
            raise DiagnosticError(self.src, [Diagnostic(
                "E0104", f"integer literal with {len(str(tok))} digits is too large", _tok_span(tok),
                help=f"integer literals have at most {MAX_INT_DIGITS} digits")])
        return ast.Int(span=_span(meta), value=int(str(tok)))

    def float(self, meta, c):
        tok = c[0]
        text = str(tok)
        if len(text) > 40 or abs(float(text)) > 1e15:
            raise DiagnosticError(self.src, [Diagnostic(
                "E0104", "number literal is too large", _tok_span(tok),
                help="number literals stay below 1e15 and 40 characters")])
        return ast.Float(span=_span(meta), value=float(text), text=text)

    def true(self, meta, c):
        return ast.Bool(span=_span(meta), value=True)

    def false(self, meta, c):
        return ast.Bool(span=_span(meta), value=False)

    def none(self, meta, c):
        return ast.NoneLit(span=_span(meta))

    def string(self, meta, c):
        tok = c[0]
        text = str(tok)[1:-1]
        if len(text) > MAX_STRING:
            raise DiagnosticError(self.src, [Diagnostic(
                "E0104", "string literal is too long", _tok_span(tok),
                help=f"an answer written in a program has at most {MAX_STRING} characters")])
        return ast.Str(span=_span(meta), value=text)
