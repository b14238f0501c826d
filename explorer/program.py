"""Candidates as programs: the front end, a duplicate key, and constants lifted into parameters.

A candidate is a text. It is parsed and checked exactly like ``ttsc check``
would; a refused text keeps its diagnostics and is never run. Two texts are
the same candidate when their span-free ASTs are equal (the strategy name
aside). Running lifts every numeric literal into a parameter of a *shape*
program: candidates that differ only in constants share one shape, hence one
native kernel, and each literal's value becomes a run-time input. The shape's
numbers are exact: a literal and a parameter holding the same value are the
same value in every engine (a test compares against the unlifted program).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterator

from ttsc.dsl import ast
from ttsc.dsl.checker import CheckedProgram, check
from ttsc.dsl.diagnostics import DiagnosticError, Source
from ttsc.dsl.formatter import format_program, strip_spans
from ttsc.dsl.parser import parse_source
from ttsc.errors import TtscError

KNOB = "beta"          # the budget knob every candidate sweeps
LIFT_PREFIX = "lift_"  # names of lifted constants; candidates may not use it
SHAPE_NAME = "shape"

Path = tuple[tuple[str, int | None], ...]


@dataclass(frozen=True)
class FrontEnd:
    """A candidate text through the front end: the checked program, or the diagnostics that refused it."""

    text: str
    checked: CheckedProgram | None
    diagnostics: list[dict]

    @property
    def valid(self) -> bool:
        return self.checked is not None


def front_end(text: str, name: str = "<candidate>", explorer_rules: bool = True) -> FrontEnd:
    src = Source(name, text)
    try:
        program = parse_source(src)
        checked = check(program, src)
    except DiagnosticError as err:
        return FrontEnd(text, None, err.to_json())
    except TtscError as err:  # refused for another located reason (too deep, too large)
        return FrontEnd(text, None, [{"message": str(err)}])
    problems = _explorer_rules(checked) if explorer_rules else []
    if problems:
        return FrontEnd(text, None, [{"code": "X0001", "message": m} for m in problems])
    return FrontEnd(text, checked, [])


def _explorer_rules(checked: CheckedProgram) -> list[str]:
    """What the explorer needs beyond a valid program: a float budget knob, no reserved names."""
    out = []
    knob = checked.params.get(KNOB)
    if knob is None or knob.type != "float":
        out.append(f"a candidate needs a float parameter `{KNOB}` (its budget knob, swept by the explorer)")
    for path, node, _parent in walk(checked.program):
        name = getattr(node, "name", None) or getattr(node, "id", None)
        if isinstance(name, str) and name.startswith(LIFT_PREFIX):
            out.append(f"names starting with `{LIFT_PREFIX}` are reserved (`{name}`)")
            break
    return out


def key_of(program: ast.Program) -> str:
    """The duplicate key: a hash of the span-free AST, with the strategy name left out."""
    data = strip_spans(program)
    data.pop("name", None)
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:24]


def canonical(program: ast.Program) -> str:
    return format_program(program)


# ---- generic tree access ------------------------------------------------------

def walk(node: Any, path: Path = (), parent: tuple | None = None) -> Iterator[tuple[Path, Any, tuple | None]]:
    """Every node below ``node`` (itself first) with its path and (parent node, field, index)."""
    yield path, node, parent
    for name in type(node).model_fields:
        if name in ("span", "func_span"):
            continue
        v = getattr(node, name)
        if isinstance(v, ast.Node):
            yield from walk(v, path + ((name, None),), (node, name, None))
        elif isinstance(v, tuple):
            for i, x in enumerate(v):
                if isinstance(x, ast.Node):
                    yield from walk(x, path + ((name, i),), (node, name, i))


def get_at(node: Any, path: Path) -> Any:
    for name, i in path:
        node = getattr(node, name) if i is None else getattr(node, name)[i]
    return node


def replace_at(node: Any, path: Path, new: Any) -> Any:
    if not path:
        return new
    (name, i), rest = path[0], path[1:]
    v = getattr(node, name)
    if i is None:
        return node.model_copy(update={name: replace_at(v, rest, new)})
    items = list(v)
    items[i] = replace_at(v[i], rest, new)
    return node.model_copy(update={name: tuple(items)})


def liftable(node: Any, parent: tuple | None) -> bool:
    """A numeric literal that may become a parameter: not a declaration's default or range, not round's digits."""
    if not isinstance(node, (ast.Int, ast.Float)) or parent is None:
        return False
    owner, field, index = parent
    if isinstance(owner, ast.Param):
        return False
    if isinstance(owner, ast.Call) and owner.func == "round" and field == "args" and index == 1:
        return False
    return True


# ---- lifting --------------------------------------------------------------------

_P = ast.Span.point()


@dataclass(frozen=True)
class Shape:
    """A program with its literals as parameters: ``text`` keys the kernel, ``values`` feed it."""

    text: str
    values: dict[str, int | float]


def lift(program: ast.Program) -> Shape:
    literals = [(p, n) for p, n, parent in walk(program) if liftable(n, parent)]
    values: dict[str, int | float] = {}
    decls = []
    for i, (path, node) in enumerate(literals):
        name = f"{LIFT_PREFIX}{i}"
        program = replace_at(program, path, ast.Name(span=_P, id=name))
        values[name] = node.value
        is_int = isinstance(node, ast.Int)
        default = ast.Int(span=_P, value=0) if is_int else ast.Float(span=_P, value=0.0, text="0.0")
        decls.append(ast.Param(span=_P, name=name, type="int" if is_int else "float", default=default,
                               low=None, high=None))
    program = program.model_copy(update={"name": SHAPE_NAME, "items": tuple(decls) + program.items})
    return Shape(format_program(program), values)


_shapes: dict[str, CheckedProgram] = {}


def shape_program(shape: Shape) -> CheckedProgram:
    """The checked shape program (memoized: one check, one kernel per shape)."""
    hit = _shapes.get(shape.text)
    if hit is None:
        fe = front_end(shape.text, "<shape>", explorer_rules=False)
        if not fe.valid:  # a lifted valid program is valid; anything else is a bug here
            raise TtscError("internal explorer error: a lifted program was refused:\n"
                            + "\n".join(d.get("message", "") for d in fe.diagnostics))
        hit = _shapes[shape.text] = fe.checked
    return hit
