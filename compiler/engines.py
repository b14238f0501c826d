"""The engines, behind one entry point: ``run(checked, params, store, seeds, engine)``."""

from __future__ import annotations

import time
from typing import Iterable, Sequence

import numpy as np

from ttsc.compiler.engine import run_batched
from ttsc.compiler.interpret import Interpreter
from ttsc.compiler.native_engine import run_native
from ttsc.dsl.checker import CheckedProgram
from ttsc.runtime.episode import ReplayEpisode
from ttsc.runtime.outcome import Outcome, gold_match
from ttsc.runtime.store import Store

# compiled: the native kernel (numba) over the replay store, every episode in one call;
# batched: the numpy policy in lock-step over the batched environment protocol (what live environments use);
# interpret: the reference interpreter, one episode at a time.
ENGINES = ("compiled", "batched", "interpret")
ENGINE_HELP = ("compiled: native kernels on all CPUs; batched: the numpy lock-step policy (the environment "
               "protocol); interpret: the reference interpreter. Same numbers from each.")


def run_interpreted(checked: CheckedProgram, params: dict, store: Store, seeds: Iterable[int]) -> Outcome:
    """Run with the reference interpreter, one episode at a time."""
    start = time.perf_counter()
    seeds = tuple(int(s) for s in seeds)
    interp = Interpreter(checked, params)
    shape = (len(seeds), len(store.questions))
    answers = np.empty(shape, dtype=object)
    cols = {k: np.zeros(shape, dtype=np.int64) for k in ("tokens", "sequential", "rounds", "opened", "pruned",
                                                         "stop_line")}
    for si, seed in enumerate(seeds):
        for qi, q in enumerate(store.questions):
            r = interp.run(ReplayEpisode(q, seed))
            answers[si, qi] = r.answer
            cols["tokens"][si, qi] = r.tokens
            cols["sequential"][si, qi] = r.sequential_tokens
            cols["rounds"][si, qi] = r.rounds
            cols["opened"][si, qi] = r.opened
            cols["pruned"][si, qi] = r.pruned
            cols["stop_line"][si, qi] = r.stop_line or 0
    return Outcome(seeds=seeds, answers=answers, correct=gold_match(answers, store),
                   seconds=time.perf_counter() - start, **cols)


def run(checked: CheckedProgram, params: dict, store: Store, seeds: Sequence[int], engine: str = "interpret") -> Outcome:
    """Run ``checked`` with ``params`` on every (seed, question) of ``store`` with the chosen engine."""
    if engine == "interpret":
        return run_interpreted(checked, params, store, seeds)
    if engine == "compiled":
        return run_native(checked, params, store, seeds)
    if engine == "batched":
        return run_batched(checked, params, store, seeds)
    raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
