"""Execution traces: every decision of one episode, with the values that drove it.

A trace comes from the reference interpreter (the specification), run on one
episode of any environment (``runtime/env.py``). Its
``on_event`` callback fires after each action (open, read, advance, prune)
while the interpreter's state is live, so the recorder evaluates every declared
``signal``, every episode ``var`` and ``window``, and the touched branches'
``branch`` variables right there: the state each next decision reads. The final
summary says which ``stop`` ended the episode, with what answer, and whether it
was right. On disk a trace is JSONL: one object per event, then the summary.
"""

from __future__ import annotations

import json
import math
import os
from collections import deque
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import IO, Any

from ttsc.dsl import ast
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.runtime.env import Environment, EpisodeView, require_signals
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.compiler.interpret import Interpreter, TraceEvent
from ttsc.runtime.store import Question, Store


@dataclass
class TraceStep:
    """One action and the state right after it."""

    index: int                 # 0, 1, ... in execution order
    round: int                 # action rounds so far (a prune belongs to the round before it)
    line: int                  # source line of the statement
    statement: str             # that line's text
    action: str                # open | read | advance | prune
    branches: list[int]        # touched branches, by opening index
    answers: list[str | None]  # each one's latest revealed answer
    tokens: list[int]          # tokens each one generated in this action
    finished: list[bool]
    tokens_so_far: int
    signals: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)          # episode vars and windows
    fields: dict[str, list[Any]] = field(default_factory=dict)  # branch vars of the touched branches
    # each touched branch's `last_conf` (None: unknown), for a program that reads the confidence signal
    confidences: list[float | None] = field(default_factory=list)


@dataclass
class TraceSummary:
    """How the episode ended."""

    strategy: str
    env: str
    params: dict[str, Any]
    question: int
    seed: int
    probe_freq: int
    gold: str
    answer: str | None
    correct: bool
    tokens: int
    sequential_tokens: int
    rounds: int
    opened: int
    pruned: int
    stop_reason: str           # "stop": a stop statement fired; "end": the program ran out
    stop_line: int | None
    stop_statement: str | None
    knobs: dict[str, Any] = field(default_factory=dict)
    signals: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass
class Trace:
    steps: list[TraceStep]
    summary: TraceSummary

    def records(self) -> list[dict[str, Any]]:
        return [{"type": "event", **asdict(s)} for s in self.steps] + [{"type": "summary", **asdict(self.summary)}]

    @classmethod
    def from_records(cls, records: list[dict[str, Any]], where: str = "<trace>") -> "Trace":
        steps, summary = [], None
        for i, rec in enumerate(records):
            kind = rec.get("type") if isinstance(rec, dict) else None
            if summary is not None or kind not in ("event", "summary"):
                raise TtscError(f"{where}: record {i + 1}: expected events followed by one summary")
            try:
                if kind == "event":
                    steps.append(_build(TraceStep, rec))
                else:
                    summary = _build(TraceSummary, rec)
            except TypeError as e:
                raise TtscError(f"{where}: record {i + 1}: {e}") from None
        if summary is None:
            raise TtscError(f"{where}: no summary record")
        return cls(steps, summary)


def _build(cls, rec: dict[str, Any]):
    names = {f.name for f in fields(cls)}
    return cls(**{k: v for k, v in rec.items() if k in names})


def _jsonable(v: Any) -> Any:
    if isinstance(v, (tuple, list, deque)):  # a window is a deque
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


def _known(x: float) -> float | None:
    return None if math.isnan(x) else x


class _Recorder:
    """Wraps an interpreter run; snapshots signals and vars at every event."""

    def __init__(self, checked: CheckedProgram, params: dict[str, Any]):
        self.checked = checked
        self.interp = Interpreter(checked, params)
        items = checked.program.items
        self.signals = [i for i in items if isinstance(i, ast.Signal)]
        self.vars = [i.name for i in items if isinstance(i, (ast.Var, ast.Window))]
        self.steps: list[TraceStep] = []
        self.confidence = "confidence" in checked.signals

    def on_event(self, ev: TraceEvent) -> None:
        it = self.interp
        fields_ = {name: [_jsonable(it.branches[i].vars.get(name)) for i in ev.branches]
                   for name in self.checked.branch_vars}
        self.steps.append(TraceStep(
            index=len(self.steps), round=ev.round, line=ev.line, statement=self._line(ev.line), action=ev.action,
            branches=list(ev.branches), answers=list(ev.answers), tokens=list(ev.tokens),
            finished=list(ev.finished), tokens_so_far=ev.tokens_so_far, signals=self.signal_values(),
            vars=self.var_values(), fields=fields_,
            confidences=[_known(it.branches[i].last_conf) for i in ev.branches] if self.confidence else []))

    def signal_values(self) -> dict[str, Any]:
        it = self.interp
        it.signal_values.clear()  # an event comes after its action's effects: signals read the new state
        return {s.name: _jsonable(it.eval(s.value, it.globals)) for s in self.signals}

    def var_values(self) -> dict[str, Any]:
        it = self.interp
        out: dict[str, Any] = {}
        for name in self.vars:  # a var declared further down does not exist yet
            if name in it.globals.values:
                out[name] = _jsonable(it.globals.values[name])
            elif name in it.windows:
                out[name] = _jsonable(it.windows[name])
        return out

    def _line(self, line: int | None) -> str:
        return self.checked.source.line_text(line).strip() if line else ""


def record(checked: CheckedProgram, params: dict[str, Any], question: Question, seed: int, *,
           question_index: int = 0, env: str = "", path: str = "") -> Trace:
    """Run one replay episode (``question`` under ``seed``) with the reference interpreter and record it.

    ``env`` and ``path`` are the store's name and file, for the summary and for errors."""
    replay = ReplayEnvironment(Store(env, path, (question,)), [seed])
    return record_episode(checked, params, replay, 0, env_name=env, question_index=question_index,
                          gold=question.gold, probe_freq=question.probe_freq)


def record_episode(checked: CheckedProgram, params: dict[str, Any], environment: Environment, row: int, *,
                   env_name: str = "", question_index: int | None = None, gold: str = "",
                   probe_freq: int = 0) -> Trace:
    """Run episode ``row`` of any environment with the reference interpreter and record every decision.

    Only the environment grades; ``gold`` and ``probe_freq`` are shown in the summary when known.
    """
    require_signals(checked.name, checked.signals, environment)
    rec = _Recorder(checked, params)
    view = EpisodeView(environment, row)
    r = rec.interp.run(view, on_event=rec.on_event)
    it = rec.interp
    nq = environment.n_questions
    summary = TraceSummary(
        strategy=checked.name, env=env_name, params=dict(params),
        question=row % nq if question_index is None else question_index, seed=int(environment.seeds[row // nq]),
        probe_freq=probe_freq, gold=gold, answer=r.answer, correct=view.correct(r.answer), tokens=r.tokens,
        sequential_tokens=r.sequential_tokens, rounds=r.rounds, opened=r.opened, pruned=r.pruned,
        stop_reason=r.stop_reason, stop_line=r.stop_line,
        stop_statement=rec._line(r.stop_line) if r.stop_line else None,
        knobs={k: _jsonable(it.globals.values[k]) for k in checked.knobs if k in it.globals.values},
        signals=rec.signal_values(), vars=rec.var_values())
    return Trace(rec.steps, summary)


# ---- JSONL

def write_jsonl(trace: Trace, dest: str | os.PathLike[str] | IO[str]) -> None:
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in trace.records())
    if hasattr(dest, "write"):
        dest.write(text)
        return
    try:
        Path(dest).write_text(text, encoding="utf-8")
    except OSError as e:
        raise TtscError(f"{dest}: cannot write the trace: {e.strerror or e}") from None


def read_jsonl(path: str | os.PathLike[str]) -> Trace:
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise TtscError(f"{path}: cannot read the trace: {e.strerror or e}") from None
    records = []
    for n, line in enumerate(lines, 1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise TtscError(f"{path}:{n}: not valid JSON: {e.msg}") from None
    return Trace.from_records(records, str(path))


# ---- per-episode summaries of a whole evaluation (`ttsc eval --traces DIR`)

EPISODE_FIELDS = ("strategy", "env", "params", "seed", "question", "answer", "correct", "tokens",
                  "sequential_tokens", "rounds", "opened", "pruned", "stop_line", "stop_reason")


def episode_file_name(strategy: str, env: str, params: dict[str, Any]) -> str:
    """A safe, deterministic file name: ``cmc__Qwen3-8B_aime25__beta=0.5.jsonl``."""
    ps = ",".join(f"{k}={v}" for k, v in params.items()) or "defaults"
    return "__".join(_safe(p) for p in (strategy, env, ps)) + ".jsonl"


def _safe(text: str) -> str:
    return "".join(c if c.isascii() and (c.isalnum() or c in "._=,+-") else "_" for c in text)


def episode_records(strategy: str, env: str, params: dict[str, Any], outcome) -> list[dict[str, Any]]:
    """One compact record per episode of an ``Outcome``, seed by seed, question by question."""
    out = []
    for si, seed in enumerate(outcome.seeds):
        for qi in range(outcome.answers.shape[1]):
            line = int(outcome.stop_line[si, qi])
            out.append({"strategy": strategy, "env": env, "params": dict(params), "seed": int(seed), "question": qi,
                        "answer": outcome.answers[si, qi], "correct": bool(outcome.correct[si, qi]),
                        "tokens": int(outcome.tokens[si, qi]), "sequential_tokens": int(outcome.sequential[si, qi]),
                        "rounds": int(outcome.rounds[si, qi]), "opened": int(outcome.opened[si, qi]),
                        "pruned": int(outcome.pruned[si, qi]), "stop_line": line or None,
                        "stop_reason": "stop" if line else "end"})
    return out


def write_episode_summaries(directory: str | os.PathLike[str], strategy: str, env: str, params: dict[str, Any],
                            outcome) -> Path:
    """Write one JSONL line per episode into ``directory``; returns the file written."""
    path = Path(directory) / episode_file_name(strategy, env, params)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="utf-8") as f:
            for rec in episode_records(strategy, env, params, outcome):
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    except OSError as e:
        raise TtscError(f"{directory}: cannot write episode summaries: {e.strerror or e}") from None
    return path
