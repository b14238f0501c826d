"""The batched engine: run a compiled numpy policy on every episode of an environment in lock-step."""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from ttsc.compiler import rt
from ttsc.compiler.compile import compile_program
from ttsc.dsl.checker import CheckedProgram
from ttsc.runtime.env import Environment
from ttsc.runtime.outcome import Outcome


def run_batched(checked: CheckedProgram, params: dict, env: Environment,
                trace: Callable[[rt.ActionEvent], None] | None = None) -> Outcome:
    begin = time.perf_counter()
    policy = compile_program(checked)
    start = time.perf_counter()
    st = policy.run(env, params, trace)
    shape = (len(env.seeds), env.n_questions)
    rows = np.arange(env.n_episodes)
    answers = np.empty(env.n_episodes, dtype=object)
    answers[:] = env.answer_text(rows, st.answer)
    return Outcome(
        seeds=tuple(env.seeds),
        answers=answers.reshape(shape),
        correct=np.asarray(env.grade(rows, st.answer), dtype=bool).reshape(shape),
        tokens=st.tokens.reshape(shape),
        sequential=st.sequential.reshape(shape),
        rounds=st.rounds.reshape(shape),
        opened=st.opened.reshape(shape),
        pruned=(st.status == rt.STATUS_PRUNED).sum(axis=1).reshape(shape),
        stop_line=st.stop_line.reshape(shape),
        seconds=time.perf_counter() - start,
        compile_seconds=start - begin,
    )
