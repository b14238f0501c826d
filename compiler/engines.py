"""The engines, behind one entry point: ``run_env(checked, params, env, engine)`` on any environment.

``run(checked, params, store, seeds, engine)`` is the same on the replay
environment of a store. Every engine grades answers with ``env.grade`` and can
report each action to a ``trace`` hook, called as ``trace(row, TraceEvent)``.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from ttsc.compiler import rt
from ttsc.compiler.engine import run_batched
from ttsc.compiler.interpret import Interpreter, TraceEvent
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.runtime.bounds import check_bounds
from ttsc.runtime.env import Environment, EpisodeView, require_signals
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.store import Store

# compiled: the native kernel (numba) over the replay store, every episode in one call;
# batched: the numpy policy in lock-step over the environment protocol (what live environments use);
# interpret: the reference interpreter, one episode at a time.
ENGINES = ("compiled", "batched", "interpret")
ENGINE_HELP = ("compiled: native kernels on all CPUs; batched: the numpy lock-step policy (the environment "
               "protocol); interpret: the reference interpreter. Same numbers from each.")

Trace = Callable[[int, TraceEvent], None]


def run_interpreted(checked: CheckedProgram, params: dict, env: Environment, trace: Trace | None = None) -> Outcome:
    """Run with the reference interpreter, one episode at a time."""
    start = time.perf_counter()
    interp = Interpreter(checked, params)
    shape = (len(env.seeds), env.n_questions)
    answers = np.empty(env.n_episodes, dtype=object)
    ids = np.empty(env.n_episodes, dtype=np.int64)
    cols = {k: np.zeros(env.n_episodes, dtype=np.int64) for k in ("tokens", "sequential", "rounds", "opened",
                                                                  "pruned", "stop_line")}
    for row in range(env.n_episodes):
        view = EpisodeView(env, row)
        r = interp.run(view, None if trace is None else lambda ev, row=row: trace(row, ev))
        answers[row] = r.answer
        ids[row] = view.answer_id(r.answer)
        cols["tokens"][row] = r.tokens
        cols["sequential"][row] = r.sequential_tokens
        cols["rounds"][row] = r.rounds
        cols["opened"][row] = r.opened
        cols["pruned"][row] = r.pruned
        cols["stop_line"][row] = r.stop_line or 0
    correct = np.asarray(env.grade(np.arange(env.n_episodes), ids), dtype=bool)
    return Outcome(seeds=tuple(env.seeds), answers=answers.reshape(shape), correct=correct.reshape(shape),
                   seconds=time.perf_counter() - start, **{k: v.reshape(shape) for k, v in cols.items()})


def episode_events(env: Environment, trace: Trace) -> Callable[[rt.ActionEvent], None]:
    """Turn the batched engine's per-action events into the interpreter's per-episode ``TraceEvent``s."""
    def on_action(ev: rt.ActionEvent) -> None:
        texts = env.answer_text(ev.branch_rows, ev.answers)
        bounds = np.searchsorted(ev.branch_rows, ev.rows), np.searchsorted(ev.branch_rows, ev.rows, side="right")
        for i, (row, a, b) in enumerate(zip(ev.rows.tolist(), *(x.tolist() for x in bounds))):
            trace(row, TraceEvent(int(ev.rounds[i]), ev.line, ev.action, ev.slots[a:b].tolist(), texts[a:b],
                                  ev.costs[a:b].tolist(), ev.finished[a:b].tolist(), int(ev.tokens[i])))
    return on_action


def run_env(checked: CheckedProgram, params: dict, env: Environment, engine: str = "interpret",
            trace: Trace | None = None) -> Outcome:
    """Run ``checked`` with ``params`` on every episode of ``env`` with the chosen engine."""
    require_signals(checked.name, checked.signals, env)
    # the limits fixed by parameter values (window capacities, repeat counts), also for parameters not
    # bound by bind_params (the explorer's lifted constants): every engine refuses the same settings
    check_bounds(checked, params)
    if engine == "interpret":
        return run_interpreted(checked, params, env, trace)
    if engine == "batched":
        return run_batched(checked, params, env, None if trace is None else episode_events(env, trace))
    if engine == "compiled":
        if not isinstance(env, ReplayEnvironment):
            raise TtscError(f"the compiled engine runs on replay stores only, not on {type(env).__name__}; "
                            "use the batched engine (or interpret) for other environments")
        if trace is not None:
            raise TtscError("the compiled engine does not record traces; use the batched engine or interpret")
        from ttsc.compiler.native_engine import run_native  # numba loads only when a kernel runs

        return run_native(checked, params, env)
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")


def run(checked: CheckedProgram, params: dict, store: Store, seeds: Sequence[int], engine: str = "interpret") -> Outcome:
    """Run ``checked`` with ``params`` on every (seed, question) of ``store`` with the chosen engine."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return run_env(checked, params, ReplayEnvironment(store, seeds), engine)
