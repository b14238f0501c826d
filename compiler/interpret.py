"""The reference interpreter: one episode at a time, straight from the AST.

This is the executable specification of the language. It favours being
obviously right over being fast; the vectorized compiler must agree with it
exactly. ``docs/language.md`` describes the same rules in prose.

Cost model. Every action statement (`open`, `read`, `advance`) is one *round*:
the branches it touches generate at the same time, so the round's sequential
cost is the largest number of tokens any one branch generated in it (a branch
advanced by several intervals generates them one after another). Sequential
tokens are the sum of round costs; total tokens are the sum of all reveals.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from ttsc.dsl import ast, ops
from ttsc.dsl.builtins import COUNTERS, FIELDS, MAX_REPEAT
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.dsl.evaluate import Evaluator
from ttsc.dsl.ops import small_whole
from ttsc.runtime.env import EpisodeView


@dataclass
class BranchState:
    index: int  # the branch's slot: its position in opening order
    last: str | None
    finished: bool
    depth: int
    tokens: int
    vars: dict[str, Any]
    pruned: bool = False
    last_conf: float = float("nan")  # the `confidence` signal of the last interval revealed


@dataclass
class EpisodeResult:
    answer: str | None
    tokens: int
    sequential_tokens: int
    rounds: int
    stop_reason: str  # "stop" (a stop rule fired) or "end" (the program ran out)
    stop_line: int | None
    opened: int
    pruned: int


@dataclass
class TraceEvent:
    """One action's effect, for execution traces."""

    round: int
    line: int
    action: str
    branches: list[int]
    answers: list[str | None]
    tokens: list[int]
    finished: list[bool]
    tokens_so_far: int


class _Stop(Exception):
    def __init__(self, answer, line):
        self.answer = answer
        self.line = line


class _Break(Exception):
    pass


@dataclass
class _Frame:
    values: dict[str, Any] = field(default_factory=dict)
    parent: "_Frame | None" = None

    def lookup(self, name: str):
        f = self
        while f is not None:
            if name in f.values:
                return f.values, True
            f = f.parent
        return None, False


class _Window(deque):
    """A window's values, oldest first; while all are small whole numbers it also keeps their exact sum,
    so ``mean`` is O(1) (ops.WHOLE_MAX says why that sum is the oldest-first float sum)."""

    def __init__(self, capacity: int):
        super().__init__(maxlen=capacity)
        self.whole = 0  # sum of the small whole values held
        self.others = 0  # how many values held are not small whole numbers

    def push(self, v: float) -> None:
        if not self.maxlen:
            return
        if len(self) == self.maxlen:
            self._count(self[0], -1)
        self.append(v)
        self._count(v, 1)

    def _count(self, v: float, sign: int) -> None:
        if small_whole(v):
            self.whole += sign * int(v)
        else:
            self.others += sign

    @property
    def exact_total(self) -> float | None:
        return float(self.whole) if self.others == 0 else None


class Interpreter(Evaluator):
    """Runs a checked program on one episode at a time."""

    def __init__(self, checked: CheckedProgram, params: dict[str, Any]):
        super().__init__(checked.type_of)
        self.checked = checked
        self.params = dict(params)
        self.signals = {i.name: i for i in checked.program.items if isinstance(i, ast.Signal)}
        self.fields = set(FIELDS) | set(checked.branch_vars)
        self.var_types = {i.name: i.type for i in checked.program.items if isinstance(i, ast.Var)}
        self.histories = {i.name: i.capacity for i in checked.program.items if isinstance(i, ast.BranchHistory)}
        self.branch_windows = {i.name: i.capacity for i in checked.program.items if isinstance(i, ast.BranchWindow)}

    # ---- episode driver
    def run(self, episode: EpisodeView, on_event: Callable[[TraceEvent], None] | None = None) -> EpisodeResult:
        """Run the program on one episode: one environment call per action (a round), never per branch."""
        self.env = episode
        self.on_event = on_event
        self.branches: list[BranchState] = []
        self.completed: list[int] = []
        self.tokens = 0
        self.seq = 0
        self.rounds = 0
        self.windows: dict[str, _Window] = {}
        self.globals = _Frame(dict(self.params))
        # A signal's value until the state next changes: a signal read inside a `where` is read once per
        # member, and one that reads other signals would otherwise be recomputed over and over.
        self.signal_values: dict[str, Any] = {}
        answer, reason, line = None, "end", None
        try:
            for item in self.checked.program.items:
                self.item(item, self.globals)
        except _Stop as s:
            answer, reason, line = s.answer, "stop", s.line
        return EpisodeResult(answer=answer, tokens=self.tokens, sequential_tokens=self.seq, rounds=self.rounds,
                             stop_reason=reason, stop_line=line, opened=len(self.branches),
                             pruned=sum(b.pruned for b in self.branches))

    def item(self, item, frame: _Frame) -> None:
        self.signal_values.clear()
        if isinstance(item, ast.Param) or isinstance(item, ast.Signal):
            return
        if isinstance(item, ast.Var):
            frame.values[item.name] = self._as_type(self.eval(item.init, frame), item.type)
        elif isinstance(item, ast.Window):
            self.windows[item.name] = _Window(self.eval(item.capacity, frame))
        elif isinstance(item, (ast.BranchVar, ast.BranchHistory, ast.BranchWindow)):
            pass  # initialised when each branch opens
        else:
            self.stmt(item, frame)

    # ---- statements
    def block(self, body, frame: _Frame) -> None:
        inner = _Frame(parent=frame)
        for s in body:
            self.stmt(s, inner)

    def stmt(self, s, frame: _Frame) -> None:
        # Every statement evaluates its operands before its effects, so signals read while one runs see
        # one state; `open`/`read` also clear them per branch, as each new branch's fields start.
        self.signal_values.clear()
        getattr(self, "s_" + type(s).__name__)(s, frame)

    def s_Let(self, s: ast.Let, frame):
        frame.values[s.name] = self.eval(s.value, frame)

    def s_Assign(self, s: ast.Assign, frame):
        values, _ = frame.lookup(s.name)
        values[s.name] = self._as_type(self.eval(s.value, frame), self.var_types[s.name])

    def s_Push(self, s: ast.Push, frame):
        self.windows[s.window].push(float(self.eval(s.value, frame)))

    def s_If(self, s: ast.If, frame):
        for br in s.branches:
            if self.eval(br.cond, frame):
                self.block(br.body, frame)
                return
        if s.orelse is not None:
            self.block(s.orelse, frame)

    def s_Repeat(self, s: ast.Repeat, frame):
        n = self.eval(s.count, frame)
        if n > MAX_REPEAT:
            raise TtscError(f"{self.checked.source.name}:{s.span.line}: `repeat {n}` exceeds the limit of "
                            f"{MAX_REPEAT:,} iterations")
        for i in range(max(0, n)):
            inner = _Frame(parent=frame)
            if s.var is not None:
                inner.values[s.var] = i
            try:
                self.block(s.body, inner)
            except _Break:
                break

    def s_Break(self, s, frame):
        raise _Break()

    def s_Stop(self, s: ast.Stop, frame):
        raise _Stop(self.eval(s.value, frame), s.span.line)

    def s_Open(self, s: ast.Open, frame):
        self._take(s, frame, False, "open")

    def s_Read(self, s: ast.Read, frame):
        self._take(s, frame, True, "read")

    def _take(self, s, frame, whole: bool, action: str) -> None:
        got: list[int] = []
        for r in self.env.take(self.eval(s.count, frame), whole):
            b = BranchState(index=len(self.branches), last=r.answer, finished=r.finished, depth=1, tokens=r.tokens,
                            vars={}, last_conf=r.confidence)
            assert b.index == r.slot, "environments hand out slots in opening order"
            self.branches.append(b)
            self.signal_values.clear()
            for name, decl in self.checked.branch_vars.items():
                b.vars[name] = self._as_type(self.eval(decl.init, self.globals), decl.type)
                self.signal_values.clear()
            self._start_histories(b)
            if r.finished:
                self.completed.append(b.index)
            got.append(b.index)
        if s.bind is not None:
            frame.values[s.bind] = tuple(got)
        self._round(s, action, got, [self.branches[i].tokens for i in got])

    def s_Advance(self, s: ast.Advance, frame):
        members = self.eval(s.set, frame)
        # Operands first, effects after: every branch's count is read before any branch moves.
        counts = [self.eval(s.by, frame, self.branches[i]) if s.by is not None else 1 for i in members]
        moving = [(i, n) for i, n in zip(members, counts)
                  if n > 0 and not self.branches[i].finished and not self.branches[i].pruned]
        reveals = self.env.advance([i for i, _ in moving], [n for _, n in moving])
        for r in reveals:  # in set order: branches that finish join `completed` in that order
            b = self.branches[r.slot]
            b.depth += r.steps
            b.last = r.answer
            b.last_conf = r.confidence
            b.tokens += r.tokens
            self._record(b)
            if r.finished:
                b.finished = True
                self.completed.append(b.index)
        self._round(s, "advance", [r.slot for r in reveals], [r.tokens for r in reveals])

    def s_Prune(self, s: ast.Prune, frame):
        pruned = [i for i in self.eval(s.set, frame) if not self.branches[i].finished and not self.branches[i].pruned]
        for i in pruned:
            self.branches[i].pruned = True
        if self.on_event is not None and pruned:
            self.on_event(TraceEvent(self.rounds, s.span.line, "prune", pruned, [self.branches[i].last for i in pruned],
                                     [0] * len(pruned), [False] * len(pruned), self.tokens))

    def s_Accept(self, s: ast.Accept, frame):
        """The active members finish now, in set order, with their current `last`; nothing is generated."""
        accepted = [i for i in self.eval(s.set, frame) if not self.branches[i].finished and not self.branches[i].pruned]
        self.env.accept(accepted)
        for i in accepted:
            self.branches[i].finished = True
            self.completed.append(i)
        if self.on_event is not None and accepted:
            self.on_event(TraceEvent(self.rounds, s.span.line, "accept", accepted,
                                     [self.branches[i].last for i in accepted], [0] * len(accepted),
                                     [True] * len(accepted), self.tokens))

    def s_Update(self, s: ast.Update, frame):
        members = self.eval(s.set, frame)
        new = [[self.eval(st.value, frame, self.branches[i]) for st in s.setters] for i in members]
        for i, values in zip(members, new):
            b = self.branches[i]
            for st, v in zip(s.setters, values):
                b.vars[st.field] = self._as_type(v, self.checked.branch_vars[st.field].type)

    def s_UpdatePush(self, s: ast.UpdatePush, frame):
        members = self.eval(s.set, frame)
        values = [float(self.eval(s.value, frame, self.branches[i])) for i in members]  # every value first
        for i, v in zip(members, values):
            self.branches[i].vars[s.window].append(v)

    def _round(self, s, action: str, members: list[int], spent: list[int]) -> None:
        total = sum(spent)
        self.tokens += total
        if members:
            self.seq += max(spent)
            self.rounds += 1
        if self.on_event is not None:
            bs = [self.branches[i] for i in members]
            self.on_event(TraceEvent(self.rounds, s.span.line, action, list(members), [b.last for b in bs],
                                     list(spent), [b.finished for b in bs], self.tokens))

    # ---- expressions: the scalar semantics are the Evaluator's; episode state is read here
    def e_Name(self, e: ast.Name, frame, branch):
        name = e.id
        if branch is not None and name in self.fields:
            return self._field(branch, name)
        values, found = frame.lookup(name)
        if found:
            return values[name]
        if name in self.signals:
            if name not in self.signal_values:
                self.signal_values[name] = self.eval(self.signals[name].value, self.globals)
            return self.signal_values[name]
        if name in COUNTERS:
            return self._counter(name)
        return self._set(name)

    def _counter(self, name: str) -> int:
        if name == "spent":
            return self.tokens
        if name == "spent_sequential":
            return self.seq
        return self.env.interval  # "interval"


    def _field(self, b: BranchState, name: str):
        if name in b.vars:
            return b.vars[name]
        return getattr(b, name)

    def _set(self, name: str) -> tuple[int, ...]:
        bs = self.branches
        if name == "branches":
            return tuple(range(len(bs)))
        if name == "live":
            return tuple(b.index for b in bs if not b.pruned)
        if name == "active":
            return tuple(b.index for b in bs if not b.pruned and not b.finished)
        if name == "completed":
            return tuple(self.completed)
        raise KeyError(name)  # pragma: no cover - the checker resolved every name

    def answers_of(self, e, frame, branch):
        return [self.branches[i].last for i in self.eval(e, frame, branch)]

    def member_values(self, s, e, frame, branch):
        return [self.eval(e, frame, self.branches[i]) for i in self.eval(s, frame, branch)]

    def _start_histories(self, b: BranchState) -> None:
        for name, k in self.branch_windows.items():
            b.vars[name] = deque(maxlen=k)
        for name, k in self.histories.items():
            b.vars[name] = deque(maxlen=k)
        self._record(b)

    def _record(self, b: BranchState) -> None:
        """Each reveal adds the answer it showed to the branch's histories (the oldest falls out)."""
        for name in self.histories:
            b.vars[name].append(b.last)

    def history_values(self, name: str, branch):
        return branch.vars[name]

    def window_values(self, name: str, branch=None):
        if name in self.branch_windows:  # the member in scope's own window
            return branch.vars[name]
        return self.windows[name]

    def episode(self, e):
        return self.env

    def e_Where(self, e: ast.Where, frame, branch):
        return tuple(i for i in self.eval(e.set, frame, branch) if self.eval(e.cond, frame, self.branches[i]))

    def e_Sorted(self, e: ast.Sorted, frame, branch):
        members = self.eval(e.set, frame, branch)
        keys = {i: ops.sort_key(self.eval(e.key, frame, self.branches[i])) for i in members}
        return tuple(sorted(members, key=keys.__getitem__, reverse=e.descending))  # stable either way

    def e_Take(self, e: ast.Take, frame, branch):
        members = self.eval(e.set, frame, branch)
        return members[: max(0, self.eval(e.count, frame))]  # counts are per episode, never per branch

    def e_TakeLast(self, e: ast.TakeLast, frame, branch):
        members = self.eval(e.set, frame, branch)
        k = self.eval(e.count, frame)  # per episode, as for `take`
        return members[max(0, len(members) - k):] if k > 0 else ()

    def e_SetOp(self, e: ast.SetOp, frame, branch):
        left = self.eval(e.set, frame, branch)
        right = self.eval(e.other, frame, branch)
        if e.op == "union":  # the left side's order, then the right side's new members in its order
            seen = set(left)
            return left + tuple(i for i in right if i not in seen)
        keep = set(right)
        want = e.op == "intersect"
        return tuple(i for i in left if (i in keep) == want)

    @staticmethod
    def _as_type(v, type_name: str):
        return float(v) if type_name == "float" else v
