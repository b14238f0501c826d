"""The typed syntax tree of a .tts program.

Frozen dataclasses, each with a ``span`` into the source. No Lark object
survives past the parser. Every node carries a ``kind`` tag, so a tree dumps to
JSON (golden files, tools) and loads back unambiguously. ``_Model`` gives them
the small model API the rest of the code uses (``model_fields``,
``model_copy``, ``model_dump``, ``model_validate``); plain dataclasses keep
`ttsc check` quick to start (a validating model library cost more than
parsing and checking a program).
"""

from __future__ import annotations

import dataclasses
import sys
import types
import typing
from typing import Any, Literal, Union


class _Model:
    """A frozen, keyword-only dataclass (every subclass becomes one) with a pydantic-like API."""

    model_fields: dict[str, dataclasses.Field]  # name -> field (``.default``), in order

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        dataclasses.dataclass(frozen=True, kw_only=True)(cls)  # in place: no slots
        cls.model_fields = {f.name: f for f in dataclasses.fields(cls)}

    def __post_init__(self) -> None:
        for name in self.model_fields:  # sequences are tuples, so every node is hashable
            v = getattr(self, name)
            if isinstance(v, list):
                object.__setattr__(self, name, tuple(v))

    def __iter__(self):
        """(name, value) for each field, in order."""
        return ((name, getattr(self, name)) for name in self.model_fields)

    def model_copy(self, update: dict[str, Any] | None = None):
        return dataclasses.replace(self, **(update or {}))

    def model_dump(self, mode: str = "python") -> dict[str, Any]:
        """Fields as plain data, nodes as dicts; ``mode="json"`` gives lists for tuples."""
        return {name: _dump(getattr(self, name), mode) for name in self.model_fields}

    @classmethod
    def model_validate(cls, data: dict[str, Any]):
        """The node that :meth:`model_dump` gave ``data`` (either mode)."""
        hints = _hints(cls)
        return cls(**{name: _load(hints[name], v) for name, v in data.items()})


def _dump(v: Any, mode: str) -> Any:
    if isinstance(v, _Model):
        return v.model_dump(mode)
    if isinstance(v, (tuple, list)):
        items = [_dump(i, mode) for i in v]
        return items if mode == "json" else tuple(items)
    return v


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls, vars(sys.modules[__name__]))
    return _HINTS[cls]


def _load(hint: Any, v: Any) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Union or origin is types.UnionType:  # Union[A, B] or A | B
        if v is None:
            return None
        if isinstance(v, dict):  # a node: the member whose `kind` it names
            member = next((a for a in args if isinstance(a, type) and issubclass(a, _Model)
                           and ("kind" not in a.model_fields or a.model_fields["kind"].default == v.get("kind"))),
                          None)
            if member is None:
                raise ValueError(f"no node of kind {v.get('kind')!r} fits here")
            return member.model_validate(v)
        if isinstance(v, (list, tuple)):  # the tuple member
            return _load(next(a for a in args if typing.get_origin(a) is tuple), v)
        return v
    if origin is tuple:
        return tuple(_load(args[0], i) for i in v)
    if isinstance(hint, type) and issubclass(hint, _Model):
        return hint.model_validate(v)
    if hint is float and isinstance(v, int) and not isinstance(v, bool):
        return float(v)
    return v


class Span(_Model):
    """Where a node sits in its source: 1-based line/column, 0-based offsets."""

    line: int
    col: int
    end_line: int
    end_col: int
    start: int
    end: int

    @classmethod
    def point(cls, line: int = 1, col: int = 1, offset: int = 0) -> "Span":
        return cls(line=line, col=col, end_line=line, end_col=col + 1, start=offset, end=offset + 1)


class Node(_Model):
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

Expr = Union[Int, Float, Bool, NoneLit, Str, Name, Binary, Unary, IfExp, Call, Where, Sorted, Take, TakeLast, SetOp]


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


Stmt = Union[Let, Assign, Push, If, Repeat, Break, Stop, Open, Read, Advance, Prune, Update, UpdatePush, Accept]


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


Decl = Union[Param, Var, Window, BranchVar, Signal, BranchHistory, BranchWindow]
Item = Union[Param, Var, Window, BranchVar, Signal, BranchHistory, BranchWindow, UpdatePush, Let, Assign, Push, If,
             Repeat, Break, Stop, Open, Read, Advance, Prune, Update, Accept]


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
