"""Facts about statements and expressions that the checker and both code generators share.

* constness: is an expression fixed by the parameters?
* reads and writes: what state an expression depends on and a statement changes;
* halting: can a statement end the episode (or leave its loop)?
"""

from __future__ import annotations

from typing import Callable, Iterator

from ttsc.dsl import ast
from ttsc.dsl.builtins import COUNTERS, FIELDS, FUNCS, SETS

# What state can be read and changed, as names: "branches" (branch sets and built-in fields),
# "fields" (`branch` variables), "var NAME" (episode state), "window NAME".
State = frozenset[str]


def children(e: ast.Node) -> Iterator[ast.Node]:
    for name in type(e).model_fields:
        v = getattr(e, name)
        if isinstance(v, ast.Node):
            yield v
        elif isinstance(v, tuple):
            yield from (i for i in v if isinstance(i, ast.Node))


def is_constant(e: ast.Node, constant_name: Callable[[str], bool]) -> bool:
    """True when ``e`` depends only on literals and the names ``constant_name`` accepts."""
    if isinstance(e, ast.Name):
        return constant_name(e.id)
    if isinstance(e, ast.SET_QUERIES):
        return False
    if isinstance(e, ast.Str):  # an answer: the environment interns it per episode
        return False
    if isinstance(e, ast.Call) and e.func in FUNCS and not FUNCS[e.func].constant:
        return False
    return all(is_constant(c, constant_name) for c in children(e))


def free_names(e: ast.Node) -> list[str]:
    """Every name ``e`` mentions (functions excluded), outermost first."""
    out: list[str] = []
    stack = [e]
    while stack:
        x = stack.pop()
        if isinstance(x, ast.Name):
            out.append(x.id)
        else:
            stack.extend(children(x))
    return out


def reads(e: ast.Node, program: ast.Program) -> State:
    """What the value of ``e`` depends on, through the signals it names too.

    Only program-level names count: state declared inside a block is a `let` or a loop
    counter, which no statement changes.
    """
    decls = {i.name: i for i in program.items if isinstance(i, ast.DECL_TYPES)}
    out: set[str] = set()
    seen: set[str] = set()

    def visit(x: ast.Node) -> None:
        for name in free_names(x):
            d = decls.get(name)
            if name in SETS or name in FIELDS or name in COUNTERS:
                out.add("branches")  # the counters change exactly when an action changes the branches
            elif isinstance(d, ast.BranchVar):
                out.add("fields")
            elif isinstance(d, ast.BranchHistory):  # recorded by every reveal
                out.add("branches")
            elif isinstance(d, ast.BranchWindow):
                out.add("fields")
            elif isinstance(d, ast.Var):
                out.add(f"var {name}")
            elif isinstance(d, ast.Window):
                out.add(f"window {name}")
            elif isinstance(d, ast.Signal) and name not in seen:
                seen.add(name)
                visit(d.value)

    visit(e)
    return frozenset(out)


def writes(s: ast.Node) -> State:
    """What running statement ``s`` itself changes (nested blocks report their own)."""
    if isinstance(s, (ast.Open, ast.Read, ast.Advance, ast.Prune, ast.Accept)):
        return frozenset({"branches", "fields"})
    if isinstance(s, (ast.Update, ast.UpdatePush)):
        return frozenset({"fields"})
    if isinstance(s, ast.Assign):
        return frozenset({f"var {s.name}"})
    if isinstance(s, ast.Push):
        return frozenset({f"window {s.window}"})
    return frozenset()


def reads_one_branch(e: ast.Node) -> bool:
    """Does ``e`` read no branch set? Then in branch scope it reads only the member in scope (and
    values computed before the statement), so members may be evaluated one after another."""
    if isinstance(e, ast.SET_QUERIES):
        return False
    if isinstance(e, ast.Call) and e.func in FUNCS and "set" in FUNCS[e.func].params:
        return False
    if isinstance(e, ast.Name) and e.id in COUNTERS:  # `spent` grows as the members before it move
        return False
    return all(reads_one_branch(c) for c in children(e))


def blocks(s: ast.Node) -> list[tuple]:
    """The statement lists directly inside ``s``: an `if`'s branches (and `else`), a `repeat`'s body."""
    if isinstance(s, ast.If):
        return [br.body for br in s.branches] + ([s.orelse] if s.orelse is not None else [])
    if isinstance(s, ast.Repeat):
        return [s.body]
    return []


def halts(s: ast.Node, breaks: bool = True) -> bool:
    """Can running ``s`` stop an episode (or, with ``breaks``, leave the enclosing loop)?"""
    if isinstance(s, ast.Stop) or (breaks and isinstance(s, ast.Break)):
        return True
    if isinstance(s, ast.If):
        return any(halts(x, breaks) for body in blocks(s) for x in body)
    if isinstance(s, ast.Repeat):  # a `break` inside ends only that loop
        return any(halts(x, breaks=False) for x in s.body)
    return False


def always_stops(body) -> bool:
    """Does running the statements ``body`` certainly end the episode (by `stop`), whatever the values?

    Conservative: a `repeat` counts only when its count is a positive literal and its body, with no
    `break` of its own, certainly stops; an `if` only with an `else` and every branch certainly stopping.
    """
    for s in body:
        if isinstance(s, ast.Stop):
            return True
        if isinstance(s, ast.If) and s.orelse is not None and all(always_stops(b) for b in blocks(s)):
            return True
        if isinstance(s, ast.Repeat) and isinstance(s.count, ast.Int) and s.count.value > 0:
            if always_stops(s.body) and not any(_leaves(x) for x in s.body):
                return True
    return False


def _leaves(s: ast.Node) -> bool:
    """Can ``s`` leave the loop it is in (a `break` not inside a nested `repeat`)?"""
    if isinstance(s, ast.Break):
        return True
    return isinstance(s, ast.If) and any(_leaves(x) for body in blocks(s) for x in body)


def always_leaves(s: ast.Node) -> bool:
    """Does ``s`` certainly end the episode or leave its loop: `break`, or an `if` with an `else` each of
    whose branches holds a statement that does (or certainly stops)?"""
    if isinstance(s, ast.Break):
        return True
    if isinstance(s, ast.If) and s.orelse is not None:
        return all(any(always_leaves(x) or always_stops([x]) for x in body) for body in blocks(s))
    return False
