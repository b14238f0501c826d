"""Build a live environment that serves a replay store through the scripted backend (tests, conformance)."""

from __future__ import annotations

from typing import Sequence

from ttsc.runtime.live.env import LiveConfig, LiveEnvironment
from ttsc.runtime.live.scripted import backend_for, streams_of_store
from ttsc.runtime.replay import non_answers
from ttsc.runtime.store import Store


def live_over_store(store: Store, seeds: Sequence[int]) -> LiveEnvironment:
    deltas = {q.probe_freq for q in store.questions}
    if len(deltas) != 1:
        raise ValueError("a live run has one interval; this store mixes several probe_freq values")
    backend = backend_for(streams_of_store(store), seeds)
    config = LiveConfig(interval=deltas.pop(), max_branch_tokens=10**12, max_branches=2**20,
                        non_answers=tuple(sorted(non_answers(store))),  # `valid` as on replay
                        logprobs=1 if "confidence" in store.signals else 0)  # the scripts hold the confidences
    return LiveEnvironment(backend, [q.text for q in store.questions], [q.gold for q in store.questions], seeds,
                           config, capacity=backend.capacity)


def live_expressible(store: Store) -> bool:
    """Whether a live generator with a fixed interval can produce every branch of ``store``.

    Live, a branch of ``n`` tokens is probed after every full interval before its
    end, so it has ``n // Δ`` probes. Replay stores may hold shapes no generator
    produces: probes past a branch's length, or a final stretch longer than Δ
    (the published data stops probing early).
    """
    return all(len(b.probes) == b.total_tokens // q.probe_freq for q in store.questions for b in q.branches)
