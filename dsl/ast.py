"""The typed syntax tree of a .tts program.

Frozen pydantic models, each with a ``span`` into the source. No Lark object
survives past the parser. Every node carries a ``kind`` tag, so a tree dumps to
JSON (golden files, tools) and loads back unambiguously.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field


class Span(BaseModel):
    """Where a node sits in its source: 1-based line/column, 0-based offsets."""

    model_config = ConfigDict(frozen=True)

    line: int
    col: int
    end_line: int
    end_col: int
    start: int
    end: int

    @classmethod
    def point(cls, line: int = 1, col: int = 1, offset: int = 0) -> "Span":
        return cls(line=line, col=col, end_line=line, end_col=col + 1, start=offset, end=offset + 1)


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, defer_build=True)

    span: Span


# ---- expressions -----------------------------------------------------------


class Int(Node):
    kind: Literal["int"] = "int"
    value: int


class Float(Node):
    kind: Literal["float"] = "float"
    value: float
    text: str  # the literal as written, so formatting never changes a number


class Bool(Node):
    kind: Literal["bool"] = "bool"
    value: bool


class NoneLit(Node):
    kind: Literal["none"] = "none"


class Str(Node):
    """A string literal: an answer written in the program (``"ERR"``), compared with branches' answers."""

    kind: Literal["str"] = "str"
    value: str


class Name(Node):
    kind: Literal["name"] = "name"
    id: str


BinOp = Literal["+", "-", "*", "/", "//", "%", "==", "!=", "<", "<=", ">", ">=", "and", "or"]


class Binary(Node):
    kind: Literal["binary"] = "binary"
    op: BinOp
    left: Expr
    right: Expr


class Unary(Node):
    kind: Literal["unary"] = "unary"
    op: Literal["-", "not"]
    operand: Expr


class IfExp(Node):
    kind: Literal["ifexp"] = "ifexp"
    cond: Expr
    then: Expr
    orelse: Expr


class Call(Node):
    kind: Literal["call"] = "call"
    func: str
    func_span: Span
    args: tuple[Expr, ...]


class Where(Node):
    """``SET where COND``: the members of SET for which COND (in branch scope) holds."""

    kind: Literal["where"] = "where"
    set: Expr
    cond: Expr


class Sorted(Node):
    """``SET sorted by KEY [asc|desc]``: a stable sort of SET by KEY (in branch scope)."""

    kind: Literal["sorted"] = "sorted"
    set: Expr
    key: Expr
    descending: bool


class Take(Node):
    """``SET take N``: the first N members of SET in its order."""

    kind: Literal["take"] = "take"
    set: Expr
    count: Expr


class TakeLast(Node):
    """``SET take last N``: the last N members of SET, kept in SET's order."""

    kind: Literal["take_last"] = "take_last"
    set: Expr
    count: Expr


class SetOp(Node):
    """``SET union OTHER`` / ``intersect`` / ``minus``: the members of SET (in its order) that are also /
    not in OTHER; a union appends OTHER's members not in SET, in OTHER's order."""

    kind: Literal["set_op"] = "set_op"
    op: Literal["union", "intersect", "minus"]
    set: Expr
    other: Expr


# Set-valued expressions built from other sets, each reading its operand `set` first.
SET_QUERIES = (Where, Sorted, Take, TakeLast, SetOp)

Expr = Annotated[
    Union[Int, Float, Bool, NoneLit, Str, Name, Binary, Unary, IfExp, Call, Where, Sorted, Take, TakeLast, SetOp],
    Field(discriminator="kind"),
]


# ---- statements ------------------------------------------------------------


class Let(Node):
    kind: Literal["let"] = "let"
    name: str
    value: Expr


class Assign(Node):
    kind: Literal["assign"] = "assign"
    name: str
    value: Expr


class Push(Node):
    kind: Literal["push"] = "push"
    value: Expr
    window: str


class IfBranch(Node):
    kind: Literal["if_branch"] = "if_branch"
    cond: Expr
    body: tuple[Stmt, ...]


class If(Node):
    kind: Literal["if"] = "if"
    branches: tuple[IfBranch, ...]  # `if` then each `elif`, in order
    orelse: tuple[Stmt, ...] | None


class Repeat(Node):
    kind: Literal["repeat"] = "repeat"
    count: Expr
    var: str | None
    body: tuple[Stmt, ...]


class Break(Node):
    kind: Literal["break"] = "break"


class Stop(Node):
    kind: Literal["stop"] = "stop"
    value: Expr


class Open(Node):
    """``open N [as NAME]``: start up to N new branches, revealing one interval each."""

    kind: Literal["open"] = "open"
    count: Expr
    bind: str | None


class Read(Node):
    """``read N [as NAME]``: take up to N new branches whole."""

    kind: Literal["read"] = "read"
    count: Expr
    bind: str | None


class Advance(Node):
    """``advance SET [by N]``: reveal up to N more intervals of each active member."""

    kind: Literal["advance"] = "advance"
    set: Expr
    by: Expr | None


class Prune(Node):
    kind: Literal["prune"] = "prune"
    set: Expr


class Accept(Node):
    """``accept S``: each active member stops generating; its current `last` is its final answer."""

    kind: Literal["accept"] = "accept"
    set: Expr


class Setter(Node):
    kind: Literal["setter"] = "setter"
    field: str
    value: Expr


class Update(Node):
    """``update SET set f = e, ...``: a simultaneous per-branch assignment."""

    kind: Literal["update"] = "update"
    set: Expr
    setters: tuple[Setter, ...]


class UpdatePush(Node):
    """``update SET push EXPR to NAME``: each member pushes its own value of EXPR to its window NAME."""

    kind: Literal["update_push"] = "update_push"
    set: Expr
    value: Expr
    window: str


Stmt = Annotated[
    Union[Let, Assign, Push, If, Repeat, Break, Stop, Open, Read, Advance, Prune, Update, UpdatePush, Accept],
    Field(discriminator="kind"),
]


# ---- declarations ----------------------------------------------------------

TypeName = Literal["int", "float", "bool", "answer"]


class Param(Node):
    kind: Literal["param"] = "param"
    name: str
    type: TypeName
    default: Int | Float | Bool | NoneLit
    low: Int | Float | None
    high: Int | Float | None


class Var(Node):
    kind: Literal["var"] = "var"
    name: str
    type: TypeName
    init: Expr


class Window(Node):
    """``var NAME: window(N)``: the last N values pushed (floats), oldest first."""

    kind: Literal["window"] = "window"
    name: str
    capacity: Expr


class BranchVar(Node):
    kind: Literal["branch_var"] = "branch_var"
    name: str
    type: TypeName
    init: Expr


class BranchHistory(Node):
    """``branch NAME: history(K)``: each branch's last K revealed answers, oldest first, recorded at each reveal."""

    kind: Literal["branch_history"] = "branch_history"
    name: str
    capacity: int


class BranchWindow(Node):
    """``branch NAME: window(K)``: each branch's last K numbers pushed to it, oldest first."""

    kind: Literal["branch_window"] = "branch_window"
    name: str
    capacity: int


class Signal(Node):
    """``signal NAME = EXPR``: a derived value, recomputed each time it is read."""

    kind: Literal["signal"] = "signal"
    name: str
    value: Expr


Decl = Annotated[Union[Param, Var, Window, BranchVar, Signal, BranchHistory, BranchWindow],
                 Field(discriminator="kind")]
Item = Annotated[
    Union[Param, Var, Window, BranchVar, Signal, BranchHistory, BranchWindow, UpdatePush, Let, Assign, Push, If, Repeat,
          Break, Stop, Open, Read, Advance, Prune, Update, Accept],
    Field(discriminator="kind"),
]


class Program(Node):
    """A whole strategy: its name and its top-level items in source order."""

    kind: Literal["program"] = "program"
    name: str
    items: tuple[Item, ...]

    @property
    def params(self) -> tuple[Param, ...]:
        return tuple(i for i in self.items if isinstance(i, Param))


DECL_TYPES = (Param, Var, Window, BranchVar, Signal, BranchHistory, BranchWindow)
ACTION_TYPES = (Open, Read, Advance, Prune, Accept)

for _model in (Binary, Unary, IfExp, Call, Where, Sorted, Take, TakeLast, SetOp, IfBranch, If, Repeat, Let, Assign,
               Push, Stop, Open, Read, Advance, Prune, Accept, Setter, Update, UpdatePush, Var, Window, BranchVar,
               Signal, BranchHistory, BranchWindow, Program):
    _model.model_rebuild(force=False)
