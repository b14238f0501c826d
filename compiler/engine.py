"""The batched engine: run a compiled numpy policy on every (seed, question) of a store in lock-step."""

from __future__ import annotations

import time
from typing import Sequence

import numpy as np

from ttsc.compiler import rt
from ttsc.compiler.compile import compile_program
from ttsc.dsl.checker import CheckedProgram
from ttsc.runtime.batch import ReplayBatch
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.store import Store
from ttsc.runtime.tables import ReplayTables

_tables: dict[int, tuple[Store, ReplayTables]] = {}


def tables_for(store: Store) -> ReplayTables:
    """Padded tables are built once per store object (sweeps reuse them)."""
    hit = _tables.get(id(store))
    if hit is not None and hit[0] is store:
        return hit[1]
    t = ReplayTables.from_store(store)
    if len(_tables) >= 16:
        _tables.pop(next(iter(_tables)))
    _tables[id(store)] = (store, t)
    return t


def run_batched(checked: CheckedProgram, params: dict, store: Store, seeds: Sequence[int]) -> Outcome:
    start = time.perf_counter()
    policy = compile_program(checked)
    seeds = tuple(int(s) for s in seeds)
    env = ReplayBatch(store, seeds, tables_for(store))
    st = policy.run(env, params)
    shape = (len(seeds), env.n_questions)
    rows = np.arange(env.n_episodes)
    answers = np.empty(env.n_episodes, dtype=object)
    answers[:] = env.answer_text(rows, st.answer)
    gold = env.gold()
    correct = (st.answer >= 0) & (st.answer == gold)
    return Outcome(
        seeds=seeds,
        answers=answers.reshape(shape),
        correct=correct.reshape(shape),
        tokens=st.tokens.reshape(shape),
        sequential=st.sequential.reshape(shape),
        rounds=st.rounds.reshape(shape),
        opened=st.opened.reshape(shape),
        pruned=(st.status == rt.STATUS_PRUNED).sum(axis=1).reshape(shape),
        stop_line=st.stop_line.reshape(shape),
        seconds=time.perf_counter() - start,
    )
