"""Static checks: names, types, arity, parameter values, boundedness.

The checker walks the whole program and collects *every* diagnostic before
refusing it. A program it accepts is safe to run: each name resolves, each
expression has one type, every `repeat` count is a constant of the parameters
(so each episode is bounded), and nothing hidden (gold answers, unrevealed
intervals) can be named at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ttsc.dsl import analysis, ast
from ttsc.dsl.builtins import (COUNTERS, FIELD_SIGNALS, FIELDS, FUNCS, HIDDEN, KEYWORDS, MAX_BRANCH_WINDOW,
                               MAX_HISTORY, MAX_REPEAT, MAX_TOTAL_ITERATIONS, MAX_WINDOW, NUMERIC, SETS, T)
from ttsc.dsl.scope import Scope
from ttsc.dsl.diagnostics import Diagnostic, DiagnosticError, Source


@dataclass(frozen=True)
class Symbol:
    name: str
    kind: str  # param | knob | let | var | window | branch_var | signal | set | loop | bound | field
    type: T | None  # None: its definition had an error (already reported)
    node: ast.Node | None = None
    constant: bool = False  # value fixed by the parameters alone


@dataclass
class CheckedProgram:
    """A program that passed every check, with what later stages need to know."""

    program: ast.Program
    source: Source
    types: dict[int, T] = field(default_factory=dict)      # id(expr node) -> type
    params: dict[str, ast.Param] = field(default_factory=dict)
    branch_vars: dict[str, ast.BranchVar] = field(default_factory=dict)
    knobs: list[str] = field(default_factory=list)          # top-level constant lets, in order
    constant_lets: set[int] = field(default_factory=set)    # id() of every `let` fixed by the parameters
    signals: dict[str, str] = field(default_factory=dict)   # environment signal read -> the field that reads it
    warnings: list[Diagnostic] = field(default_factory=list)  # legal but probably not meant (W codes)

    @property
    def name(self) -> str:
        return self.program.name

    def type_of(self, node: ast.Node) -> T:
        return self.types[id(node)]


def check(program: ast.Program, source: Source) -> CheckedProgram:
    """Check ``program``; raise :class:`DiagnosticError` with every problem found."""
    checker = _Checker(program, source)
    try:
        checker.run()
    except RecursionError:
        raise DiagnosticError(source, [Diagnostic("E0004", "program nests too deeply", program.span,
                                                  help="split long expressions with `let`")]) from None
    if checker.diags:
        raise DiagnosticError(source, checker.diags)
    checker.result.warnings.extend(_warnings(program))
    return checker.result


def _warnings(program: ast.Program) -> list[Diagnostic]:
    rules = [s for s in program.items if not isinstance(s, ast.DECL_TYPES)]
    out = _unreachable(rules)
    if not analysis.always_stops(rules):
        where = rules[-1].span if rules else program.span
        out.append(Diagnostic("W0001", "the program can run past its last statement without a `stop`", where,
                              help="end it with a `stop`, e.g. `stop majority(completed)`: an episode that runs "
                                   "past the end has no answer and is scored wrong",
                              severity="warning"))
    return out


def _unreachable(body) -> list[Diagnostic]:
    """W0002: the first statement of each statement list that comes after one that certainly stops or
    leaves the loop (`stop`, `break`, or an `if`/`else` all of whose branches do)."""
    out: list[Diagnostic] = []
    for i, s in enumerate(body):
        for inner in analysis.blocks(s):
            out += _unreachable(inner)
        if (analysis.always_stops([s]) or analysis.always_leaves(s)) and i + 1 < len(body):
            nxt = body[i + 1]
            ends = ("ends the episode" if analysis.always_stops([s]) else "leaves the loop"
                    if isinstance(s, ast.Break) else "ends the episode or leaves the loop")
            out.append(Diagnostic("W0002", "this statement never runs", nxt.span,
                                  help=f"the statement before it always {ends}: remove this one, or make that "
                                       "one conditional", severity="warning",
                                  labels=((_first_line(s.span), f"this always {ends}"),)))
            break
    return out


class _Checker:
    def __init__(self, program: ast.Program, source: Source):
        self.program = program
        self.source = source
        self.diags: list[Diagnostic] = []
        self.result = CheckedProgram(program=program, source=source)
        self.globals = Scope()
        for name, doc in SETS.items():
            self.globals.names[name] = Symbol(name, "set", T.SET)
        for name in COUNTERS:
            self.globals.names[name] = Symbol(name, "counter", T.INT)
        self.fields: dict[str, Symbol] = {n: Symbol(n, "field", t) for n, (t, _) in FIELDS.items()}
        self.loop_depth = 0
        # The product of the enclosing `repeat` counts while every one is written with literals alone
        # (None once one depends on parameters: that product is checked when they are bound).
        self.literal_iterations: int | None = 1
        self.in_body = False
        # What is being checked in the episode's scope where a reader might expect a member's (the count
        # of `take`): named by E0209, so a field read there says why no member is in scope.
        self.episode_only: str | None = None
        self.divisions: list[ast.Span] = []  # every `/` checked: the float hint names it only where one is
        self.suggest_budget = SUGGESTION_BUDGET

    # -- reporting
    def error(self, code: str, message: str, span: ast.Span, help: str | None = None,
              notes: tuple[str, ...] = ()) -> None:
        self.diags.append(Diagnostic(code, message, span, help, notes=notes))

    def name_span(self, name: str, within: ast.Span, after: int | None = None) -> ast.Span:
        """The span of ``name`` inside a statement (searched from ``after``), else the statement's."""
        found = self.source.word_span(name, within.start if after is None else after, within.end)
        return found or within

    # -- entry
    def run(self) -> None:
        scope = self.globals
        for item in self.program.items:
            if isinstance(item, ast.DECL_TYPES):
                if self.in_body:
                    self.error("E0210", f"declaration of `{item.name}` after the first rule", item.span,
                               help="declare parameters, state and signals before the rules that use them")
                self.decl(item, scope)
            else:
                if not isinstance(item, ast.Let):
                    self.in_body = True
                self.stmt(item, scope, top=True)

    # -- names
    def declare(self, scope: Scope, sym: Symbol, span: ast.Span) -> None:
        name = sym.name
        if name in KEYWORDS:
            self.error("E0211", f"`{name}` is a keyword", span)
            return
        if name in FUNCS or name in SETS or name in FIELDS or name in COUNTERS:
            self.error("E0211", f"`{name}` is a built-in name and cannot be redefined", span,
                       help="pick another name")
            return
        if name in HIDDEN:
            self.error("E0211", f"`{name}` is reserved", span, help=HIDDEN[name])
            return
        if name.startswith("__"):
            self.error("E0211", f"names may not start with `__`: `{name}`", span)
            return
        clash = scope.lookup(name) or self.fields.get(name)
        if clash is not None:
            first = clash.node.span if clash.node is not None else None
            self.error("E0202", f"`{name}` is already defined", span,
                       help="every name in a program is defined once",
                       notes=(f"first defined at line {first.line}",) if first else ())
            return
        if sym.kind in ("branch_var", "history", "branch_window"):
            self.fields[name] = sym
        else:
            scope.names[name] = sym

    def resolve(self, node: ast.Name, scope: Scope, branch: bool) -> Symbol | None:
        name = node.id
        if branch and name in self.fields:
            return self.fields[name]
        sym = scope.lookup(name)
        if sym is not None:
            return sym
        if name in self.fields and self.episode_only is not None:
            self.error("E0209", f"`{name}` is a branch field, and {self.episode_only} is evaluated in the "
                                "episode's scope, never a member's, even inside a per-member context", node.span,
                       help="the count is one number for the whole set; read the field through an aggregate "
                            f"over a set, e.g. `max_of(S, {name})`")
            return None
        if name in self.fields:
            self.error("E0209", f"`{name}` is a branch field, and there is no branch here", node.span,
                       help="branch fields are read inside `where`, `sorted by`, `advance … by`, `update … set` "
                            "and the per-member value of `sum_of(S, …)`-style aggregates")
            return None
        if name in HIDDEN:
            self.error("E0201", f"unknown name `{name}`", node.span, help=HIDDEN[name])
        elif name.startswith("__") or name in ("import", "eval", "exec", "open_file", "os", "sys"):
            self.error("E0201", f"unknown name `{name}`", node.span,
                       help="programs cannot reach Python or the system; only the language's names exist")
        elif name in FUNCS:
            self.error("E0201", f"`{name}` is a function; call it as `{name}(…)`", node.span)
        else:
            self.error("E0201", f"unknown name `{name}`", node.span, help=self._suggest(name, scope, branch))
        return None

    def _suggest(self, name: str, scope: Scope, branch: bool) -> str | None:
        import difflib

        pool: set[str] = set(FUNCS) | set(SETS) | set(COUNTERS)
        pool |= set(scope.visible())
        if branch:
            pool |= set(self.fields)
        close = difflib.get_close_matches(name, sorted(pool), n=1) if self._afford(len(pool)) else []
        return f"did you mean `{close[0]}`?" if close else "names must be declared before they are used"

    def _afford(self, comparisons: int) -> bool:
        """Spend from the program's budget of name comparisons; once spent, errors come without a suggestion."""
        if comparisons > self.suggest_budget:
            self.suggest_budget = 0
            return False
        self.suggest_budget -= comparisons
        return True

    def _suggest_field(self, name: str) -> str:
        import difflib

        own = sorted(n for n, s in self.fields.items() if s.kind == "branch_var")
        close = difflib.get_close_matches(name, own, n=1) if self._afford(len(own)) else []
        return f"did you mean `{close[0]}`?" if close else f"declare it: `branch {name}: int = 0`"

    # -- declarations
    def decl(self, d, scope: Scope) -> None:
        if isinstance(d, ast.Param):
            self.param(d, scope)
        elif isinstance(d, ast.Var):
            t = _TYPES[d.type]
            self.expect_constant(d.init, scope, f"the initial value of `{d.name}`")
            self.expect_assignable(t, self.expr(d.init, scope), d.init.span, f"`{d.name}`")
            self.declare(scope, Symbol(d.name, "var", t, d), self.name_span(d.name, d.span))
        elif isinstance(d, ast.Window):
            self.expect(T.INT, self.expr(d.capacity, scope), d.capacity.span, "a window's capacity")
            self.expect_constant(d.capacity, scope, "a window's capacity")
            self.within(d.capacity, 1, MAX_WINDOW, "a window holds {n:,} values; the limit is 1 to {hi:,}")
            self.declare(scope, Symbol(d.name, "window", T.WINDOW, d), self.name_span(d.name, d.span))
        elif isinstance(d, ast.BranchVar):
            t = _TYPES[d.type]
            self.expect_constant(d.init, scope, f"the initial value of `{d.name}`")
            self.expect_assignable(t, self.expr(d.init, scope), d.init.span, f"`{d.name}`")
            self.declare(scope, Symbol(d.name, "branch_var", t, d), self.name_span(d.name, d.span))
            self.result.branch_vars[d.name] = d
        elif isinstance(d, ast.BranchHistory):
            self.branch_history(d, scope)
        elif isinstance(d, ast.BranchWindow):
            self.branch_window(d, scope)
        elif isinstance(d, ast.Signal):
            # Declared even when its expression is wrong (type None), so its uses are not reported again.
            t = self.expr(d.value, scope)
            self.declare(scope, Symbol(d.name, "signal", t, d), self.name_span(d.name, d.span))
        else:  # pragma: no cover - the grammar has no other declarations
            raise TypeError(f"unknown declaration {type(d).__name__}")

    def branch_history(self, d: ast.BranchHistory, scope: Scope) -> None:
        if not 1 <= d.capacity <= MAX_HISTORY:
            self.error("E0208", f"a history holds from 1 to {MAX_HISTORY} answers, got {d.capacity}",
                       self._capacity_span(d), help="keep a short history; count longer runs with a `branch` variable")
        self.declare(scope, Symbol(d.name, "history", T.HISTORY, d), self.name_span(d.name, d.span))

    def branch_window(self, d: ast.BranchWindow, scope: Scope) -> None:
        if not 1 <= d.capacity <= MAX_BRANCH_WINDOW:
            self.error("E0208", f"a branch window holds from 1 to {MAX_BRANCH_WINDOW} numbers, got {d.capacity}",
                       self._capacity_span(d), help="every branch carries one; keep it short")
        self.declare(scope, Symbol(d.name, "branch_window", T.WINDOW, d), self.name_span(d.name, d.span))

    def _capacity_span(self, d) -> ast.Span:
        """The span of the integer literal K in `branch NAME: history(K)` / `window(K)`."""
        text = self.source.text[d.span.start:d.span.end]
        open_paren = d.span.start + text.rfind("(") + 1
        digits = self.source.text[open_paren:d.span.end].split(")")[0].strip()
        return self.source.span_at(self.source.text.index(digits, open_paren), len(digits))

    def param(self, p: ast.Param, scope: Scope) -> None:
        t = _TYPES[p.type]
        if t is T.ANSWER:
            type_span = self.name_span(p.type, p.span, after=self.name_span(p.name, p.span).end)
            self.error("E0208", f"parameter `{p.name}` cannot be an answer", type_span,
                       help="parameters are int, float or bool")
            return
        dt = _literal_type(p.default)
        if not _assignable(t, dt):
            self.error("E0203", f"default of `{p.name}` is {dt}, expected {t}", p.default.span)
        bounds = [b for b in (p.low, p.high) if b is not None]
        rng = _cover(bounds[0].span, bounds[-1].span) if bounds else None
        if rng is not None and t is T.BOOL:
            self.error("E0208", "a bool parameter takes no range", rng, help="drop the `in …` part")
            bounds = []
        for bound in bounds:
            if not _assignable(t, _literal_type(bound)):
                self.error("E0203", f"range bound of `{p.name}` is {_literal_type(bound)}, expected {t}", bound.span)
        if t is not T.BOOL and p.low is not None and p.high is not None and p.low.value > p.high.value:
            self.error("E0208", f"empty range for `{p.name}`: {p.low.value} > {p.high.value}", rng)
        elif t is not T.BOOL and isinstance(p.default, (ast.Int, ast.Float)):
            if (p.low is not None and p.default.value < p.low.value) or (
                    p.high is not None and p.default.value > p.high.value):
                self.error("E0208", f"default {p.default.value} of `{p.name}` is outside its range", p.default.span)
        self.declare(scope, Symbol(p.name, "param", t, p, constant=True), self.name_span(p.name, p.span))
        self.result.params[p.name] = p

    # -- statements
    def block(self, body, scope: Scope) -> None:
        inner = Scope(scope)
        for s in body:
            self.stmt(s, inner, top=False)

    def stmt(self, s, scope: Scope, top: bool) -> None:
        method = getattr(self, "stmt_" + type(s).__name__, None)
        if method is None:  # pragma: no cover - every statement class has a method
            raise TypeError(f"unknown statement {type(s).__name__}")
        method(s, scope, top)

    def stmt_Let(self, s: ast.Let, scope, top) -> None:
        # Declared even when its expression is wrong (type None), so its uses are not reported again.
        t = self.expr(s.value, scope)
        constant = t is not None and self.is_constant(s.value, scope)
        if constant:
            self.result.constant_lets.add(id(s))
        sym = Symbol(s.name, "knob" if (top and constant) else "let", t, s, constant=constant)
        self.declare(scope, sym, self.name_span(s.name, s.span))
        if top and constant and not self.in_body:
            self.result.knobs.append(s.name)

    def stmt_Assign(self, s: ast.Assign, scope, top) -> None:
        t = self.expr(s.value, scope)
        sym = scope.lookup(s.name)
        target = self.name_span(s.name, s.span)
        text = self.source.text
        before = text[text.rfind("\n", 0, s.span.start) + 1: s.span.start]
        if re.search(r"\bupdate\b.*\bset\b", before):
            # `update S set a = 1 b = 2` parses as an update, then an assignment on the same line.
            gap = len(text[:s.span.start].rstrip())
            self.error("E0101", "expected `,` between the fields an `update` sets", self.source.span_at(gap),
                       help=f"write `update … set …, {s.name} = …`")
            return
        if sym is None:
            if s.name in self.fields:
                self.error("E0206", f"`{s.name}` is a branch field; set it with `update SET set {s.name} = …`",
                           target)
            else:
                self.error("E0201", f"unknown name `{s.name}`", target,
                           help=f"declare it first: `var {s.name}: int = 0`")
            return
        if sym.kind != "var":
            what = {"param": "a parameter", "knob": "a constant", "let": "a `let` value", "signal": "a signal",
                    "set": "a built-in set", "loop": "a loop counter", "bound": "a branch set",
                    "window": "a window (use `push … to`)", "counter": "a built-in counter"}[sym.kind]
            self.error("E0206", f"cannot assign to `{s.name}`: it is {what}", target,
                       help="only `var` state can be assigned")
            return
        self.expect_assignable(sym.type, t, s.value.span, f"`{s.name}`")

    def stmt_Push(self, s: ast.Push, scope, top) -> None:
        t = self.expr(s.value, scope)
        self.expect_numeric(t, s.value.span, "a pushed value")
        sym = scope.lookup(s.window)
        if sym is None or sym.kind != "window":
            branch_window = (f := self.fields.get(s.window)) is not None and f.kind == "branch_window"
            self.error("E0203", f"`{s.window}` is not a window", self.name_span(s.window, s.span, s.value.span.end),
                       help=f"each branch has its own `{s.window}`: `update SET push … to {s.window}`"
                       if branch_window else f"declare it: `var {s.window}: window(8)`")

    def stmt_UpdatePush(self, s: ast.UpdatePush, scope, top) -> None:
        self.expect(T.SET, self.expr(s.set, scope), s.set.span, "the branches to update")
        self.expect_numeric(self.expr(s.value, scope, branch=True), s.value.span, "a pushed value")
        sym = self.fields.get(s.window)
        if sym is None or sym.kind != "branch_window":
            self.error("E0203", f"`{s.window}` is not a branch window",
                       self.name_span(s.window, s.span, s.value.span.end),
                       help=f"declare it: `branch {s.window}: window(8)`" if scope.lookup(s.window) is None
                       or scope.lookup(s.window).kind != "window" else "push to a `var` window with `push … to`")

    def stmt_If(self, s: ast.If, scope, top) -> None:
        for br in s.branches:
            self.expect(T.BOOL, self.expr(br.cond, scope), br.cond.span, "a condition")
            self.block(br.body, scope)
        if s.orelse is not None:
            self.block(s.orelse, scope)

    def stmt_Repeat(self, s: ast.Repeat, scope, top) -> None:
        self.expect(T.INT, self.expr(s.count, scope), s.count.span, "a repeat count")
        self.expect_constant(s.count, scope, "a repeat count",
                             why="so every episode is bounded, a loop's length is fixed by the parameters")
        n = self.within(s.count, None, MAX_REPEAT, "`repeat {n:,}` exceeds the limit of {hi:,} iterations")
        outer = self.literal_iterations
        total = None if outer is None or n is None or n > MAX_REPEAT else outer * max(n, 1)  # as bounds.py counts
        if total is not None and total > MAX_TOTAL_ITERATIONS:
            self.error("E0220", f"nested repeats run up to {total:,} iterations per episode; "
                                f"the limit is {MAX_TOTAL_ITERATIONS:,}", _cover(s.span, s.count.span),
                       help=f"the enclosing repeats already run {outer:,} times; the limits keep every episode "
                            "bounded, see \"Limits\" in docs/language.md")
            total = None  # reported once, not again for each repeat nested deeper
        inner = Scope(scope)
        if s.var is not None:
            self.declare(inner, Symbol(s.var, "loop", T.INT, s), self.name_span(s.var, s.span, s.count.span.end))
        self.loop_depth += 1
        self.literal_iterations = total
        self.block(s.body, inner)
        self.literal_iterations = outer
        self.loop_depth -= 1

    def stmt_Break(self, s: ast.Break, scope, top) -> None:
        if self.loop_depth == 0:
            self.error("E0207", "`break` outside a `repeat`", s.span)

    def stmt_Stop(self, s: ast.Stop, scope, top) -> None:
        self.expect(T.ANSWER, self.expr(s.value, scope), s.value.span, "the answer of `stop`")

    def _open_like(self, s, scope) -> None:
        self.expect(T.INT, self.expr(s.count, scope), s.count.span, "a number of branches")
        if s.bind is not None:
            self.declare(scope, Symbol(s.bind, "bound", T.SET, s), self.name_span(s.bind, s.span, s.count.span.end))

    def stmt_Open(self, s: ast.Open, scope, top) -> None:
        self._open_like(s, scope)

    stmt_Read = stmt_Open  # `read` takes the same operands

    def stmt_Advance(self, s: ast.Advance, scope, top) -> None:
        self.expect(T.SET, self.expr(s.set, scope), s.set.span, "the branches to advance")
        if s.by is not None:
            self.expect(T.INT, self.expr(s.by, scope, branch=True), s.by.span, "a number of intervals")

    def stmt_Prune(self, s: ast.Prune, scope, top) -> None:
        self.expect(T.SET, self.expr(s.set, scope), s.set.span, "the branches to prune")

    def stmt_Accept(self, s: ast.Accept, scope, top) -> None:
        self.expect(T.SET, self.expr(s.set, scope), s.set.span, "the branches to accept")

    def stmt_Update(self, s: ast.Update, scope, top) -> None:
        self.expect(T.SET, self.expr(s.set, scope), s.set.span, "the branches to update")
        seen: set[str] = set()
        for st in s.setters:
            t = self.expr(st.value, scope, branch=True)
            field_span = self.name_span(st.field, st.span)
            sym = self.fields.get(st.field)
            if sym is None or sym.kind != "branch_var":
                if sym is not None and sym.kind == "history":
                    self.error("E0206", f"`{st.field}` is a history: each reveal records it, nothing sets it",
                               field_span, help="only `branch` fields can be set")
                elif st.field in FIELDS:
                    self.error("E0206", f"`{st.field}` is a built-in field and cannot be set", field_span,
                               help="only `branch` fields can be set")
                else:
                    self.error("E0201", f"unknown branch field `{st.field}`", field_span,
                               help=self._suggest_field(st.field))
                continue
            if st.field in seen:
                self.error("E0202", f"`{st.field}` is set twice", field_span,
                           help="each field is set at most once per `update`")
            seen.add(st.field)
            self.expect_assignable(sym.type, t, st.value.span, f"`{st.field}`")

    # -- expressions
    def expr(self, e, scope: Scope, branch: bool = False) -> T | None:
        method = getattr(self, "expr_" + type(e).__name__, None)
        if method is None:  # pragma: no cover
            raise TypeError(f"unknown expression {type(e).__name__}")
        t = method(e, scope, branch)
        if t is not None:
            self.result.types[id(e)] = t
        return t

    def expr_Int(self, e, scope, branch):
        return T.INT

    def expr_Float(self, e, scope, branch):
        return T.FLOAT

    def expr_Bool(self, e, scope, branch):
        return T.BOOL

    def expr_Str(self, e, scope, branch):
        return T.ANSWER

    def expr_NoneLit(self, e, scope, branch):
        return T.ANSWER

    def expr_Name(self, e: ast.Name, scope, branch):
        sym = self.resolve(e, scope, branch)
        if sym is None:
            return None
        if sym.kind == "window":
            self.error("E0203", f"`{e.id}` is a window; read it with size(), oldest(), newest() or mean()", e.span)
            return None
        if sym.kind == "branch_window":
            self.error("E0203", f"`{e.id}` is a branch window; read it with size(), oldest(), newest() or mean()",
                       e.span)
            return None
        if sym.kind == "history":
            self.error("E0203", f"`{e.id}` is a history; read it with history_size(), history_majority(), "
                                "history_unanimous() or history_votes()", e.span)
            return None
        if sym.kind == "field" and e.id in FIELD_SIGNALS:  # the environment must provide it (runtime/env.py)
            self.result.signals.setdefault(FIELD_SIGNALS[e.id], e.id)
        return sym.type

    def expr_Unary(self, e: ast.Unary, scope, branch):
        t = self.expr(e.operand, scope, branch)
        if e.op == "not":
            self.expect(T.BOOL, t, e.operand.span, "the operand of `not`")
            return T.BOOL
        self.expect_numeric(t, e.operand.span, "the operand of `-`")
        return t if t in NUMERIC else None

    def expr_Binary(self, e: ast.Binary, scope, branch):
        lt = self.expr(e.left, scope, branch)
        rt = self.expr(e.right, scope, branch)
        op = e.op
        if op in ("and", "or"):
            self.expect(T.BOOL, lt, e.left.span, f"an operand of `{op}`")
            self.expect(T.BOOL, rt, e.right.span, f"an operand of `{op}`")
            return T.BOOL
        if lt is None or rt is None:
            return T.BOOL if op in ("==", "!=", "<", "<=", ">", ">=") else None
        if op in ("==", "!="):
            if not (lt == rt or (lt in NUMERIC and rt in NUMERIC)) or lt in (T.SET, T.WINDOW):
                self.error("E0203", f"cannot compare {_article(lt)} with {_article(rt)}", e.span,
                           help=_answer_literal_hint(e, lt, rt)
                           or "compare answers with answers and numbers with numbers")
            return T.BOOL
        if op in ("<", "<=", ">", ">="):
            if lt not in NUMERIC or rt not in NUMERIC:
                self.error("E0203", f"`{op}` needs numbers, got {_article(lt)} and {_article(rt)}", e.span,
                           help="answers can only be compared with == and !=")
            return T.BOOL
        ok = lt in NUMERIC and rt in NUMERIC
        if not ok:
            self.error("E0203", f"`{op}` needs numbers, got {_article(lt)} and {_article(rt)}", e.span)
            return None
        if op == "/":
            self.divisions.append(e.span)
            return T.FLOAT
        return T.INT if (lt is T.INT and rt is T.INT) else T.FLOAT

    def expr_IfExp(self, e: ast.IfExp, scope, branch):
        self.expect(T.BOOL, self.expr(e.cond, scope, branch), e.cond.span, "a condition")
        a = self.expr(e.then, scope, branch)
        b = self.expr(e.orelse, scope, branch)
        if a is None or b is None:
            return None
        if a == b:
            return a
        if a in NUMERIC and b in NUMERIC:
            return T.FLOAT
        self.error("E0203", f"the two sides of `if … then … else` differ: {a} and {b}", e.span)
        return None

    def expr_Call(self, e: ast.Call, scope, branch):
        f = FUNCS.get(e.func)
        if f is not None and "window" in f.params:
            return self._window_call(e, f, scope, branch)
        if f is not None and "history" in f.params:
            return self._history_call(e, f, scope, branch)
        argtypes = [self.expr(a, scope, branch or _per_member(f, i)) for i, a in enumerate(e.args)]
        if f is None:
            hint = HIDDEN.get(e.func)
            if hint is None and (e.func.startswith("__") or e.func in ("eval", "exec", "import", "print", "getattr")):
                hint = "programs cannot reach Python or the system; only the language's functions exist"
            if hint is None:
                import difflib
                close = difflib.get_close_matches(e.func, sorted(FUNCS), n=1)
                hint = f"did you mean `{close[0]}`?" if close else "see docs/language.md for the built-in functions"
            self.error("E0205", f"unknown function `{e.func}`", e.func_span, help=hint)
            return None
        n = len(e.args)
        lo, hi = len(f.params) - f.optional, len(f.params)
        if f.variadic:
            if n < 2:
                self.error("E0204", f"`{f.name}` takes at least 2 arguments, got {n}", e.span)
                return None
        elif not lo <= n <= hi:
            takes = f"{lo} or {hi} arguments" if hi == lo + 1 else f"{hi} argument{'s' * (hi != 1)}"
            self.error("E0204", f"`{f.name}` takes {takes}, got {n}", e.span, help=f"{f.name}: {f.doc}")
            return None
        kinds = f.params if not f.variadic else ("num",) * n
        for arg, t, kind in zip(e.args, argtypes, kinds):
            what = f"an argument of `{f.name}`"
            if kind == "num":
                self.expect_numeric(t, arg.span, what)
            elif kind == "each":
                self.expect_numeric(t, arg.span, f"the per-member value of `{f.name}`")
            elif kind == "digits":
                self.expect(T.INT, t, arg.span, "the number of decimals")
                if not isinstance(arg, ast.Int):
                    self.error("E0203", "the number of decimals must be an integer literal", arg.span)
            else:
                self.expect({"set": T.SET, "int": T.INT, "answer": T.ANSWER}[kind], t, arg.span, what)
        return f.result(argtypes)

    def _window_call(self, e: ast.Call, f, scope, branch: bool = False) -> T:
        arg = e.args[0] if len(e.args) == 1 else None
        if isinstance(arg, ast.Name) and scope.lookup(arg.id) is None and \
                (s := self.fields.get(arg.id)) is not None and s.kind == "branch_window":
            if not branch:  # the member in scope's own window
                self.resolve(arg, scope, branch)  # reports E0209: no branch here
            return f.result([T.WINDOW])
        if len(e.args) != 1:
            self.error("E0204", f"`{f.name}` takes 1 argument, got {len(e.args)}", e.span, help=f"{f.name}: {f.doc}")
        elif not (isinstance(e.args[0], ast.Name) and (s := scope.lookup(e.args[0].id)) and s.kind == "window"):
            self.error("E0203", f"`{f.name}` takes a window", e.args[0].span,
                       help="declare one with `var NAME: window(N)`")
        return f.result([T.WINDOW])

    def _history_call(self, e: ast.Call, f, scope, branch: bool) -> T:
        """A history is read as the member in scope's own: its name is an argument, in branch scope only.
        Any further arguments (an answer) are ordinary expressions, in the same scope."""
        arg = e.args[0] if len(e.args) == len(f.params) else None
        if arg is None:
            n = len(f.params)
            self.error("E0204", f"`{f.name}` takes {n} argument{'s' * (n != 1)}, got {len(e.args)}", e.span,
                       help=f"{f.name}: {f.doc}")
        elif not (isinstance(arg, ast.Name) and (s := self.fields.get(arg.id)) and s.kind == "history"):
            self.error("E0203", f"`{f.name}` takes a history", arg.span,
                       help="declare one with `branch NAME: history(K)`")
        elif not branch:
            self.resolve(arg, scope, branch)  # reports E0209: no branch here
        for a, kind in zip(e.args[1:], f.params[1:]):
            self.expect({"answer": T.ANSWER, "int": T.INT}[kind], self.expr(a, scope, branch), a.span,
                        f"an argument of `{f.name}`",
                        help=f"{f.name}({', '.join(['h'] + ['a' if k == 'answer' else 'n' for k in f.params[1:]])}): "
                             f"{f.doc}; an answer is e.g. `last`, `majority(completed)` or \"42\""
                        if kind == "answer" else None)
        return f.result([T.HISTORY])

    def expr_Where(self, e: ast.Where, scope, branch):
        self.expect(T.SET, self.expr(e.set, scope, branch), e.set.span, "the left side of `where`")
        self.expect(T.BOOL, self.expr(e.cond, scope, branch=True), e.cond.span, "a `where` condition")
        return T.SET

    def expr_Sorted(self, e: ast.Sorted, scope, branch):
        self.expect(T.SET, self.expr(e.set, scope, branch), e.set.span, "the left side of `sorted by`")
        kt = self.expr(e.key, scope, branch=True)
        if kt is not None and kt not in (T.INT, T.FLOAT, T.BOOL):
            self.error("E0203", f"cannot sort by {kt}", e.key.span, help="sort keys are numbers or bools")
        return T.SET

    def expr_Take(self, e: ast.Take, scope, branch):
        self.expect(T.SET, self.expr(e.set, scope, branch), e.set.span, "the left side of `take`")
        self.expect(T.INT, self.episode_expr(e.count, scope, "the count of `take`"), e.count.span,
                    "the count of `take`")
        return T.SET

    def expr_TakeLast(self, e: ast.TakeLast, scope, branch):
        self.expect(T.SET, self.expr(e.set, scope, branch), e.set.span, "the left side of `take last`")
        self.expect(T.INT, self.episode_expr(e.count, scope, "the count of `take last`"), e.count.span,
                    "the count of `take last`")
        return T.SET

    def episode_expr(self, e, scope, what: str) -> T | None:
        """``e`` in the episode's scope whatever encloses it: a count per member would make a different set
        for every member in scope, so such counts are per episode (a query inside ``e`` has its own members)."""
        outer, self.episode_only = self.episode_only, what
        try:
            return self.expr(e, scope, False)
        finally:
            self.episode_only = outer

    def expr_SetOp(self, e: ast.SetOp, scope, branch):
        self.expect(T.SET, self.expr(e.set, scope, branch), e.set.span, f"the left side of `{e.op}`")
        self.expect(T.SET, self.expr(e.other, scope, branch), e.other.span, f"the right side of `{e.op}`")
        return T.SET

    # -- type helpers
    def expect(self, want: T, got: T | None, span: ast.Span, what: str, help: str | None = None) -> None:
        if got is None or got == want:
            return
        if (want, got) == (T.INT, T.FLOAT):
            divides = any(span.start <= d.start and d.end <= span.end for d in self.divisions)
            help = ("`/` always gives a float: use `//` to divide whole numbers, or `round(…)`" if divides else
                    "make it a whole number with `round(…)` or `floor(…)`" + self._int_param_hint(span))
        self.error("E0203", f"{what} must be {_article(want)}, got {_article(got)}", span, help=help)

    def _int_param_hint(self, span: ast.Span) -> str:
        """``, or declare `k` an int`` when the expression reads a float parameter `k`."""
        text = self.source.text[span.start:span.end]
        floats = [p.name for p in self.result.params.values()
                  if p.type == "float" and re.search(rf"\b{re.escape(p.name)}\b", text)]
        return f", or declare `{floats[0]}` an int" if floats else ""

    def expect_numeric(self, got: T | None, span: ast.Span, what: str) -> None:
        if got is not None and got not in NUMERIC:
            self.error("E0203", f"{what} must be a number, got {_article(got)}", span)

    def expect_assignable(self, want: T, got: T | None, span: ast.Span, what: str) -> None:
        if got is not None and not _assignable(want, got):
            self.error("E0203", f"{what} holds {_article(want)}, got {_article(got)}", span)

    def within(self, e, lo: int | None, hi: int, message: str) -> int | None:
        """E0220 when ``e`` is written with literals alone and its value is outside lo..hi: known now, not
        only when parameters are bound (which checks every count and capacity, runtime/bounds.py).
        Returns that value, or None when it is not known before binding."""
        if not analysis.is_constant(e, lambda name: False) or self.result.types.get(id(e)) is not T.INT:
            return None
        from ttsc.dsl.evaluate import evaluate
        from ttsc.errors import TtscError

        try:
            n = evaluate(e, {}, self.result.type_of)
        except TtscError:
            return None  # e.g. a division by zero: reported where it is evaluated
        if n > hi or (lo is not None and n < lo):
            self.error("E0220", message.format(n=n, hi=hi), e.span,
                       help="the limits keep every episode bounded; see \"Limits\" in docs/language.md")
        return n

    def is_constant(self, e, scope: Scope) -> bool:
        """True when ``e`` depends only on literals, parameters and constants."""
        return analysis.is_constant(e, lambda name: (sym := scope.lookup(name)) is not None and sym.constant)

    def expect_constant(self, e, scope: Scope, what: str, why: str | None = None) -> None:
        if not self.is_constant(e, scope):
            self.error("E0212", f"{what} must be fixed by the parameters", e.span,
                       help=why or "use literals, parameters and `let` constants computed from them")


# "did you mean …?" compares an unknown name with every visible one; a program gets this many
# comparisons in all (about a second), so checking stays linear in its size however many names are wrong.
SUGGESTION_BUDGET = 50_000

_TYPES = {"int": T.INT, "float": T.FLOAT, "bool": T.BOOL, "answer": T.ANSWER}


def _first_line(span: ast.Span) -> ast.Span:
    """A statement's span cut to its first line (a secondary label marks one line)."""
    if span.end_line == span.line:
        return span
    return span.model_copy(update={"end_line": span.line, "end_col": span.col + 1, "end": span.start + 1})


def _answer_literal_hint(e: ast.Binary, lt: T, rt: T) -> str | None:
    """`last == 42`: an answer compared with a number literal means the answer written as a string."""
    for answer_side, number, t in ((lt, e.right, rt), (rt, e.left, lt)):
        if answer_side is T.ANSWER and t in NUMERIC and isinstance(number, (ast.Int, ast.Float)):
            text = str(number.value) if isinstance(number, ast.Int) else number.text
            return f'answers are strings: write the answer `{text}` as "{text}"'
    return None


def _cover(first: ast.Span, last: ast.Span) -> ast.Span:
    """The span from the start of ``first`` to the end of ``last``."""
    return first.model_copy(update={"end_line": last.end_line, "end_col": last.end_col, "end": last.end})


def _literal_type(node) -> T:
    return {ast.Int: T.INT, ast.Float: T.FLOAT, ast.Bool: T.BOOL, ast.NoneLit: T.ANSWER}[type(node)]


def _assignable(want: T, got: T) -> bool:
    return want == got or (want is T.FLOAT and got is T.INT)


def _per_member(f, i: int) -> bool:
    """Is argument ``i`` of ``f`` evaluated for each member of a set (in branch scope)?"""
    return f is not None and not f.variadic and i < len(f.params) and f.params[i] == "each"


def _article(t: T) -> str:
    return {T.INT: "an int", T.FLOAT: "a float", T.BOOL: "a bool", T.ANSWER: "an answer", T.SET: "a branch set",
            T.WINDOW: "a window", T.HISTORY: "a history"}[t]
