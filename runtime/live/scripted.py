"""A deterministic backend serving fixed token streams, and the replay store those streams amount to.

A :class:`Stream` is one branch as a model would generate it: ``length``
tokens (the last one carries ``\\boxed{final}`` when the stream ends by EOS)
and the answer the model gives when probed at each position (``probes``:
(position, answer) pairs; a probe gets the answer of the latest position at or
before it); ``confidences``, where given, is the DeepConf confidence of each
token, returned when a request asks for log-probabilities. Like llama.cpp's server, a request that stops at ``max_tokens``
reports ``length`` even if EOS comes next; the next request then ends at once
with no tokens.

``store_question`` writes the same streams as a replay-store question, so the
live environment over this backend and the replay environment over the store
can be compared episode by episode (tests/test_live.py).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from typing import Sequence

from ttsc.errors import TtscError
from ttsc.runtime.live.env import Completion, Request
from ttsc.runtime.store import Branch, Question, Store
from ttsc.runtime.tables import shuffled_order

PROBE_TOKENS = 2  # what the scripted model spends on answering one probe


@dataclass(frozen=True)
class Stream:
    length: int
    probes: tuple[tuple[int, str], ...]  # (position, answer), positions increasing
    final: str
    eos: bool = True
    confidences: tuple[float, ...] | None = None  # one per token (at least ``length``), or none scripted

    def token(self, i: int) -> str:
        return f" \\boxed{{{self.final}}}" if self.eos and i == self.length - 1 else f" t{i}"

    def probe(self, position: int) -> str:
        if self.eos and position >= self.length:  # probed after its end, the model repeats its final answer
            return self.final
        k = bisect.bisect_right([p for p, _ in self.probes], position)
        return self.probes[k - 1][1] if k else ""


class ScriptedBackend:
    """Serves ``streams[(seed, question)][slot]``; records every batch it was asked."""

    name = "scripted"

    def __init__(self, streams: dict[tuple[int, int], Sequence[Stream]]):
        self.streams = {k: list(v) for k, v in streams.items()}
        self.batches: list[list[Request]] = []

    def capacity(self, seed: int, question: int) -> int:
        return len(self.streams.get((seed, question), ()))

    def generate(self, requests: list[Request]) -> list[Completion]:
        self.batches.append(list(requests))
        return [self._one(r) for r in requests]

    def _one(self, r: Request) -> Completion:
        s = self.streams[r.seed, r.question][r.slot]
        pos = len(r.ids or ())
        if r.probe:
            return Completion(s.probe(pos) + "}", None, PROBE_TOKENS, True)
        n = min(r.max_tokens, s.length - pos)
        if n < r.max_tokens and not s.eos:
            raise TtscError(f"scripted stream (seed {r.seed}, question {r.question}, slot {r.slot}) ends without "
                            f"EOS after {s.length} tokens; asked for {r.max_tokens} more at {pos}")
        conf = s.confidences[pos:pos + n] if r.logprobs and s.confidences is not None else None
        if conf is not None and len(conf) != n:
            raise TtscError(f"scripted stream (seed {r.seed}, question {r.question}, slot {r.slot}) scripts "
                            f"{len(s.confidences)} token confidences for {pos + n} tokens")
        return Completion("".join(s.token(i) for i in range(pos, pos + n)), tuple(range(pos, pos + n)), n,
                          ended=n < r.max_tokens, token_confidences=conf)


def store_branch(s: Stream, delta: int, max_branch_tokens: int) -> Branch:
    """The replay branch a live run observes on ``s``: its answer after each interval that does not end it."""
    total = min(s.length, max_branch_tokens) if s.eos else max_branch_tokens
    if s.eos and s.length < max_branch_tokens:
        k = s.length // delta  # a stream ending on a boundary reports `length`, then ends with no tokens
    else:
        k = -(-total // delta) - 1  # truncated: the interval reaching the cap ends it
    final = s.final if s.eos and s.length <= max_branch_tokens else s.probe(total)
    return Branch(tuple(s.probe(delta * (j + 1)) for j in range(k)), total, final)


def store_of(questions: Sequence[tuple[str, str, Sequence[Stream]]], delta: int, max_branch_tokens: int) -> Store:
    """A replay store holding ``(text, gold, streams)`` questions."""
    qs = tuple(Question(text, gold, delta, tuple(store_branch(s, delta, max_branch_tokens) for s in streams))
               for text, gold, streams in questions)
    return Store("scripted", "<scripted>", qs)


def backend_for(questions: Sequence[Sequence[Stream]], seeds: Sequence[int]) -> ScriptedBackend:
    """Each seed hands out a question's streams in the replay order (``shuffled_order``)."""
    return ScriptedBackend({(seed, q): [streams[i] for i in shuffled_order(len(streams), seed)]
                            for seed in seeds for q, streams in enumerate(questions)})


def streams_of_store(store: Store) -> list[list[Stream]]:
    """A store's branches as streams, each answer probed at the end of its interval.

    A published branch may hold probes past its ``total_tokens``; its stream is
    then long enough to reach them, so only a whole read of it costs more live
    (its stream length) than replay charges (``total_tokens``).
    """
    out = []
    for q in store.questions:
        d = q.probe_freq
        out.append([Stream(n := max(b.total_tokens, d * len(b.probes)),
                           tuple((d * (j + 1), a) for j, a in enumerate(b.probes)), b.final_answer,
                           confidences=None if b.confidence is None else _token_confidences(b.confidence, d, n))
                    for b in q.branches])
    return out


def _token_confidences(stretches: Sequence[float], delta: int, length: int) -> tuple[float, ...]:
    """Token confidences whose stretches (each interval, then the rest) have the store's confidences:
    every token of a stretch carries its stretch's value (``stretch_confidence`` gives it back exactly)."""
    probes = len(stretches) - 1
    return tuple(stretches[min(i // delta, probes)] for i in range(length))
