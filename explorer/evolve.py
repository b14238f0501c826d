"""The `evolve` proposer: typed AST mutations and crossover, no LLM.

Every operator edits the parsed AST of a parent and hands back formatted text,
which then goes through the normal front end like any candidate. Swaps stay
within one type, read off the built-ins table (dsl/builtins.py): a set for a
set, a function for another with the same argument kinds and result, so most
children check. Parents come from the archive (see :func:`parents`), never
from anything but search-set records.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from importlib import resources
from typing import Any, Sequence

import numpy as np

from ttsc.dsl import ast
from ttsc.dsl.builtins import FIELDS, FUNCS, SETS, T
from ttsc.dsl.parser import parse
from ttsc.explorer.program import KNOB, Path, canonical, get_at, liftable, replace_at, walk

_P = ast.Span.point()
COMPARE = ("<", "<=", ">", ">=")
ORDERED_FIELDS = tuple(k for k, (t, _) in FIELDS.items() if t is T.INT)


def _func_groups() -> list[tuple[str, ...]]:
    """Built-ins interchangeable in place: same argument kinds, same kind of result."""
    groups: dict[tuple, list[str]] = {}
    for f in FUNCS.values():
        probe = [T.INT] * max(len(f.params), 2)
        groups.setdefault((f.params, f.variadic, f.optional, f.result(probe)), []).append(f.name)
    return [tuple(g) for g in groups.values() if len(g) > 1]


FUNC_GROUPS = _func_groups()


@dataclass(frozen=True)
class Proposal:
    text: str
    parents: tuple[int, ...]  # record indices (-1: the seed strategy)
    mutation: str


def _float(v: float) -> ast.Float:
    v = round(float(v), 4)
    text = f"{abs(v):.4f}".rstrip("0")
    text = text + "0" if text.endswith(".") else text
    node = ast.Float(span=_P, value=float(text), text=text)
    return node if v >= 0 else ast.Unary(span=_P, op="-", operand=node)


def _int(v: int) -> Any:
    node = ast.Int(span=_P, value=abs(int(v)))
    return node if v >= 0 else ast.Unary(span=_P, op="-", operand=node)


def _blocks(program: ast.Program) -> list[tuple[Path, str]]:
    """Every statement list: (path of its owner, field name)."""
    out = [((), "items")]
    for path, node, _ in walk(program):
        if isinstance(node, (ast.Repeat, ast.IfBranch)):
            out.append((path, "body"))
        elif isinstance(node, ast.If) and node.orelse:
            out.append((path, "orelse"))
    return out


def _set_block(program: ast.Program, owner: Path, field: str, stmts: tuple) -> ast.Program:
    node = get_at(program, owner)
    return replace_at(program, owner, node.model_copy(update={field: tuple(stmts)}))


def _statements(program: ast.Program) -> list[Any]:
    out = []
    for owner, field in _blocks(program):
        out += [s for s in getattr(get_at(program, owner), field) if not isinstance(s, ast.DECL_TYPES)]
    return out


# Stop rules the evolve proposer may add to a loop (constants are then tuned like any other): stop when
# the finished branches agree, by a margin, or on one answer, counting real answers only or all.
STOP_RULES = """strategy stop_rules
if count(completed where valid(last)) >= 3 and distinct(completed where valid(last)) == 1 {
    stop majority(completed where valid(last))
}
if count(completed) >= 4 and top1(completed) - top2(completed) >= round(3 + 3 * beta) {
    stop majority(completed)
}
if top1(completed where valid(last)) - top2(completed where valid(last)) >= round(2 + 4 * beta) {
    stop majority(completed where valid(last))
}
if count(completed) >= round(4 + 8 * beta) and unanimous(completed) {
    stop majority(completed)
}
if count(completed where valid(last)) >= 2 and distinct(live where valid(last)) == 1 {
    stop majority(live where valid(last))
}
if count(completed) >= round(6 + 10 * beta) and confidence(completed where valid(last)) >= 0.9 + 0.09 * beta {
    stop majority(completed where valid(last))
}
"""


REVOTE_NAMES = ("h", "w1", "w2", "s1", "s2", "pick")  # cmc_revote's history and re-vote signals
REVOTE_LAMS = ("0.5", "1.0", "2.0")
DECLS = (ast.Param, ast.Var, ast.Window, ast.BranchVar, ast.Signal, ast.BranchHistory, ast.BranchWindow, ast.Let)

# Weights the evolve proposer may give a vote (`majority(S)` -> `weighted(S, W)`): shorter chains first (by
# reveals or by tokens, absolute or against the set's shortest), a real answer over a non-answer.
VOTE_WEIGHTS = ("1.0 / depth", "1.0 / (1 + tokens)", "1.0 / (1 + depth - min_of(S, depth))",
                "if valid(last) then 1.0 else 0.01", "1.0 / (depth * depth)")


class Evolve:
    """Mutation operators with weights; ``propose`` applies one (or crossover) to a parent."""

    name = "evolve"
    OPERATORS = (("perturb_constant", 5), ("perturb_schedule", 4), ("lift_to_knob", 1), ("swap_comparison", 1),
                 ("swap_set", 1), ("swap_function", 1), ("swap_sort", 1), ("delete_statement", 1),
                 ("insert_fragment", 1), ("replace_fragment", 1), ("crossover", 1), ("filter_valid", 1),
                 ("insert_stop_rule", 1), ("swap_action", 1), ("weight_vote", 1), ("revote", 1))

    CONSTANT_OPERATORS = ("perturb_constant", "perturb_schedule")  # keep the shape: no new kernel

    def __init__(self, fragments: Sequence[str] | None = None, structural_weight: float = 1.0):
        self.structural_weight = structural_weight
        if fragments is None:
            fragments = [p.read_text(encoding="utf-8") for p in resources.files("ttsc.strategies").iterdir()
                         if p.name.endswith(".tts")]
        self.fragments = [s for text in sorted(fragments) for s in _statements(parse(text))]
        self.stop_rules = [s for s in parse(STOP_RULES).items if isinstance(s, ast.If)]

    def propose(self, rng: np.random.Generator, parent: tuple[int, str], other: tuple[int, str]) -> Proposal:
        names = [n for n, _ in self.OPERATORS]
        weights = np.array([w if n in self.CONSTANT_OPERATORS else w * self.structural_weight
                            for n, w in self.OPERATORS], dtype=float)
        op = names[int(rng.choice(len(names), p=weights / weights.sum()))]
        program = parse(parent[1])
        if op == "crossover":
            child, what = self.crossover(rng, program, parse(other[1]))
            return Proposal(canonical(child), (parent[0], other[0]), what)
        child, what = getattr(self, op)(rng, program)
        return Proposal(canonical(child), (parent[0],), what)

    # ---- constants

    def _literals(self, program, only_lets: bool = False):
        out = []
        for path, node, parent in walk(program):
            if liftable(node, parent) and (not only_lets or (path and path[0][0] == "items"
                                                              and isinstance(program.items[path[0][1]], ast.Let))):
                out.append((path, node))
        return out

    def perturb_constant(self, rng, program, only_lets: bool = False):
        lits = self._literals(program, only_lets) or self._literals(program)
        if not lits:
            return program, "perturb_constant (no constants)"
        path, node = lits[int(rng.integers(len(lits)))]
        if isinstance(node, ast.Int):
            v = node.value + int(rng.choice([-2, -1, 1, 2])) * max(1, round(abs(node.value) * 0.1))
            v = max(v, 0) if node.value >= 0 else v
            new = _int(v)
        else:
            v = node.value * math.exp(rng.normal(0, 0.3)) if abs(node.value) >= 0.05 else node.value + rng.normal(0, 0.03)
            new = _float(v)
        where = _describe(program, path)
        return replace_at(program, path, new), f"perturb_constant {where}: {_lit(node)} -> {_lit(new)}"

    def perturb_schedule(self, rng, program):
        """One to three constants of the top-level schedule (`let`s) at once."""
        whats = []
        for _ in range(int(rng.integers(1, 4))):
            program, what = self.perturb_constant(rng, program, only_lets=True)
            whats.append(what.removeprefix("perturb_constant "))
        return program, "perturb_schedule " + "; ".join(whats)

    def lift_to_knob(self, rng, program):
        lits = [(p, n) for p, n in self._literals(program) if n.value != 0]
        if not lits:
            return program, "lift_to_knob (no constants)"
        path, node = lits[int(rng.integers(len(lits)))]
        slope = _float(node.value * rng.uniform(-0.8, 0.8))
        scaled = ast.Binary(span=_P, op="*", left=slope, right=ast.Name(span=_P, id=KNOB))
        expr = ast.Binary(span=_P, op="+", left=node, right=scaled)
        if isinstance(node, ast.Int):
            expr = ast.Call(span=_P, func="round", func_span=_P, args=(expr,))
        return replace_at(program, path, expr), f"lift_to_knob {_describe(program, path)}: {_lit(node)} -> {_lit(node)} + {_lit(slope)}*{KNOB}"

    # ---- swaps

    def _pick(self, rng, program, pred):
        hits = [(p, n, parent) for p, n, parent in walk(program) if pred(n, parent)]
        return hits[int(rng.integers(len(hits)))] if hits else None

    def swap_comparison(self, rng, program):
        hit = self._pick(rng, program, lambda n, _: isinstance(n, ast.Binary) and n.op in COMPARE + ("and", "or"))
        if hit is None:
            return program, "swap_comparison (none)"
        path, node, _ = hit
        pool = [o for o in (COMPARE if node.op in COMPARE else ("and", "or")) if o != node.op]
        op = pool[int(rng.integers(len(pool)))]
        return replace_at(program, path, node.model_copy(update={"op": op})), \
            f"swap_comparison {_describe(program, path)}: {node.op} -> {op}"

    def swap_set(self, rng, program):
        hit = self._pick(rng, program, lambda n, _: isinstance(n, ast.Name) and n.id in SETS)
        if hit is None:
            return program, "swap_set (none)"
        path, node, _ = hit
        pool = [s for s in SETS if s != node.id]
        new = pool[int(rng.integers(len(pool)))]
        return replace_at(program, path, node.model_copy(update={"id": new})), \
            f"swap_set {_describe(program, path)}: {node.id} -> {new}"

    def swap_function(self, rng, program):
        swappable = {f for g in FUNC_GROUPS for f in g}
        hit = self._pick(rng, program, lambda n, _: isinstance(n, ast.Call) and n.func in swappable)
        if hit is None:
            return program, "swap_function (none)"
        path, node, _ = hit
        pool = [f for g in FUNC_GROUPS if node.func in g for f in g if f != node.func]
        new = pool[int(rng.integers(len(pool)))]
        return replace_at(program, path, node.model_copy(update={"func": new})), \
            f"swap_function {_describe(program, path)}: {node.func} -> {new}"

    def swap_sort(self, rng, program):
        hit = self._pick(rng, program, lambda n, _: isinstance(n, ast.Sorted))
        if hit is None:
            return program, "swap_sort (none)"
        path, node, _ = hit
        if isinstance(node.key, ast.Name) and node.key.id in ORDERED_FIELDS and rng.random() < 0.5:
            pool = [f for f in ORDERED_FIELDS if f != node.key.id]
            new = pool[int(rng.integers(len(pool)))]
            return replace_at(program, path, node.model_copy(update={"key": node.key.model_copy(update={"id": new})})), \
                f"swap_sort {_describe(program, path)}: by {node.key.id} -> by {new}"
        return replace_at(program, path, node.model_copy(update={"descending": not node.descending})), \
            f"swap_sort {_describe(program, path)}: {'desc -> asc' if node.descending else 'asc -> desc'}"

    # ---- statements

    def _statement_slot(self, rng, program, allow_end: bool):
        blocks = _blocks(program)
        owner, field = blocks[int(rng.integers(len(blocks)))]
        stmts = getattr(get_at(program, owner), field)
        first = sum(isinstance(s, ast.DECL_TYPES) for s in stmts) if field == "items" else 0
        last = len(stmts) + (1 if allow_end else 0)
        return owner, field, stmts, (int(rng.integers(first, last)) if last > first else None)

    def delete_statement(self, rng, program):
        owner, field, stmts, i = self._statement_slot(rng, program, allow_end=False)
        if i is None or len(stmts) < 2:
            return program, "delete_statement (none)"
        line = stmts[i].span.line
        return _set_block(program, owner, field, stmts[:i] + stmts[i + 1:]), f"delete_statement at line {line}"

    def insert_fragment(self, rng, program):
        frag = self.fragments[int(rng.integers(len(self.fragments)))]
        owner, field, stmts, i = self._statement_slot(rng, program, allow_end=True)
        if i is None:
            return program, "insert_fragment (none)"
        return _set_block(program, owner, field, stmts[:i] + (frag,) + stmts[i:]), \
            f"insert_fragment `{_head(frag)}` before statement {i} of a {field}"

    def replace_fragment(self, rng, program):
        frag = self.fragments[int(rng.integers(len(self.fragments)))]
        owner, field, stmts, i = self._statement_slot(rng, program, allow_end=False)
        if i is None:
            return program, "replace_fragment (none)"
        return _set_block(program, owner, field, stmts[:i] + (frag,) + stmts[i + 1:]), \
            f"replace_fragment line {stmts[i].span.line} with `{_head(frag)}`"

    def filter_valid(self, rng, program):
        """A vote or count over a set counts only members holding a real answer: ``S`` -> ``S where
        valid(last)`` (probes that read "ERR" or nothing stop voting and stop counting as agreement)."""
        hit = self._pick(rng, program, lambda n, parent: isinstance(n, ast.Name) and n.id in SETS
                         and parent is not None and isinstance(parent[0], ast.Call) and parent[0].func != "valid")
        if hit is None:
            return program, "filter_valid (none)"
        path, node, _ = hit
        cond = ast.Call(span=_P, func="valid", func_span=_P, args=(ast.Name(span=_P, id="last"),))
        return replace_at(program, path, ast.Where(span=_P, set=node, cond=cond)), \
            f"filter_valid {_describe(program, path)}: {node.id} -> {node.id} where valid(last)"

    def insert_stop_rule(self, rng, program):
        """An early-stop rule (agreement, margin or distinct answers among the finished) inside a loop."""
        loops = [(p, n) for p, n, _ in walk(program) if isinstance(n, ast.Repeat)]
        if not loops:
            return program, "insert_stop_rule (no loop)"
        path, loop = loops[int(rng.integers(len(loops)))]
        rule = self.stop_rules[int(rng.integers(len(self.stop_rules)))]
        i = int(rng.integers(len(loop.body) + 1))
        return _set_block(program, path, "body", loop.body[:i] + (rule,) + loop.body[i:]), \
            f"insert_stop_rule `{_head(rule)}` before statement {i} of a repeat"

    def swap_action(self, rng, program):
        """`prune S` <-> `accept S`: stop spending on the same branches, dropping their answers or keeping them
        (an accepted branch's current answer becomes final and votes)."""
        hit = self._pick(rng, program, lambda n, _: isinstance(n, (ast.Prune, ast.Accept)))
        if hit is None:
            return program, "swap_action (none)"
        path, node, _ = hit
        new = (ast.Accept if isinstance(node, ast.Prune) else ast.Prune)(span=node.span, set=node.set)
        return replace_at(program, path, new), f"swap_action at line {node.span.line}: {node.kind} -> {new.kind}"

    def weight_vote(self, rng, program):
        """`majority(S)` -> `weighted(S, W)` with a weight of VOTE_WEIGHTS (``S`` in it is the vote's set), or a
        weighted vote back to the plain majority."""
        hit = self._pick(rng, program, lambda n, _: isinstance(n, ast.Call) and n.func in ("majority", "weighted")
                         and len(n.args) >= 1)
        if hit is None:
            return program, "weight_vote (none)"
        path, node, _ = hit
        if node.func == "weighted":
            new = node.model_copy(update={"func": "majority", "args": node.args[:1]})
            return replace_at(program, path, new), f"weight_vote {_describe(program, path)}: weighted -> majority"
        from ttsc.dsl.formatter import format_expr
        members = format_expr(node.args[0])
        weight = VOTE_WEIGHTS[int(rng.integers(len(VOTE_WEIGHTS)))]
        text = f"strategy w\nstop weighted({members}, {weight.replace('min_of(S,', f'min_of({members},')})\n"
        call = parse(text).items[0].value
        return replace_at(program, path, call), f"weight_vote {_describe(program, path)}: majority -> weighted by {weight}"

    def revote(self, rng, program):
        """A plain vote over a built-in set, ``majority(S)``, becomes the re-vote of cmc_revote.tts (its
        answer the better of S's two strongest by 1/tokens, net of the branches that held it and left it),
        with LAM of REVOTE_LAMS; the history and signals it reads are declared before the first statement
        (or before the declaration that votes)."""
        hit = self._pick(rng, program, lambda n, _: isinstance(n, ast.Call) and n.func == "majority"
                         and len(n.args) == 1 and isinstance(n.args[0], ast.Name) and n.args[0].id in SETS)
        if hit is None:
            return program, "revote (none)"
        path, node, _ = hit
        taken = {getattr(n, "name", None) for _, n, _ in walk(program)} | \
            {getattr(n, "id", None) for _, n, _ in walk(program)}
        k = next(i for i in range(1, 10_000) if not {f"rv{i}_{s}" for s in REVOTE_NAMES} & taken)
        lam = REVOTE_LAMS[int(rng.integers(len(REVOTE_LAMS)))]
        decls = _revote_decls(f"rv{k}_", node.args[0].id, lam)
        first = next((i for i, it in enumerate(program.items) if not isinstance(it, DECLS)), len(program.items))
        first = min(first, path[0][1])  # before the item that votes, which may be a declaration itself
        program = replace_at(program, path, ast.Name(span=_P, id=f"rv{k}_pick"))
        items = program.items[:first] + decls + program.items[first:]
        return program.model_copy(update={"items": items}), \
            f"revote {_describe(program, path)}: majority({node.args[0].id}) -> re-vote, lam {lam}"

    def crossover(self, rng, a, b):
        """Top-level items: uniform choice where both parents line up by kind, else one cut point."""
        ia, ib = a.items, b.items
        if len(ia) == len(ib) and all(type(x) is type(y) for x, y in zip(ia, ib)):
            take = rng.random(len(ia)) < 0.5
            items = tuple(y if t else x for x, y, t in zip(ia, ib, take))
            return a.model_copy(update={"items": items}), f"crossover uniform ({int(take.sum())} of {len(ia)} items)"
        cut = int(rng.integers(1, max(2, min(len(ia), len(ib)))))
        return a.model_copy(update={"items": ia[:cut] + ib[cut:]}), f"crossover one-point at item {cut}"


def _revote_decls(prefix: str, members: str, lam: str) -> tuple:
    """cmc_revote.tts's history and re-vote signals (the one source of the rule), their names prefixed,
    voting over the set ``members`` instead of `completed`, with the literal ``lam`` for its parameter."""
    text = (resources.files("ttsc.strategies") / "cmc_revote.tts").read_text(encoding="utf-8")
    items = [it for it in parse(text).items
             if isinstance(it, (ast.BranchHistory, ast.Signal)) and it.name in REVOTE_NAMES]
    out = []
    for item in items:
        item = item.model_copy(update={"name": prefix + item.name})
        for path, node, _ in list(walk(item)):  # leaves only: each replacement keeps every other path
            if isinstance(node, ast.Name) and node.id in REVOTE_NAMES:
                item = replace_at(item, path, node.model_copy(update={"id": prefix + node.id}))
            elif isinstance(node, ast.Name) and node.id == "lam":
                item = replace_at(item, path, ast.Float(span=_P, value=float(lam), text=lam))
            elif isinstance(node, ast.Name) and node.id == "completed":
                item = replace_at(item, path, node.model_copy(update={"id": members}))
        out.append(item)
    return tuple(out)


def _lit(node) -> str:
    if isinstance(node, ast.Unary):
        return "-" + _lit(node.operand)
    return node.text if isinstance(node, ast.Float) else str(node.value)


def _describe(program, path) -> str:
    top = program.items[path[0][1]] if path and path[0][0] == "items" else None
    name = getattr(top, "name", None)
    return f"in `{name}`" if name else f"at line {get_at(program, path).span.line}"


def _head(stmt) -> str:
    from ttsc.dsl.formatter import format_program
    text = format_program(ast.Program(span=_P, name="x", items=(stmt,))).split("\n")
    body = [l for l in text if l.strip() and not l.startswith("strategy")]
    return body[0].strip()[:60] if body else stmt.kind
