"""The live environment: the environment protocol over a generation backend.

Semantics, matching replay (``../shared/docs/semantics.md`` §3, ``runtime/reveal.py``):

* An interval is Δ (``interval``) generated tokens. ``open`` generates a
  branch's first interval, ``advance`` by k generates up to k·Δ more; a
  branch *finishes* when generation ends (EOS) or it reaches
  ``max_branch_tokens``. ``read`` (``whole``) generates the branch to its end.
* The cost of a reveal is the reasoning tokens it generated (as the backend's
  usage reports them), so a trajectory written as a replay store (its answer
  after each full interval as probes, its length as ``total_tokens``) gives the
  same costs through ``runtime/reveal.py``: intervals cost Δ, the last stretch
  the remainder, a whole read the full length.
* Intervals revealed by an ``advance`` that ends inside its k·Δ tokens:
  ``max(1, ceil(n / Δ))`` for ``n`` tokens generated.
* The answer of an unfinished branch is *probed*: the branch text plus an
  answer-eliciting suffix, a few greedy tokens, read by the extractor. A
  finished branch's answer is the extractor on its own text, probed only when
  its text holds none. Probe tokens are real cost but are counted apart
  (``probe_tokens``), so ``tokens`` and sequential tokens follow replay's
  definition. An answer the extractor cannot find is the empty string.

Each action is one batched backend call for the generation of every branch it
moves (all rows at once), then one for the probes it needs.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol, Sequence

import numpy as np

from ttsc.errors import TtscError
from ttsc.runtime.env import DEFAULT_NON_ANSWERS, NO_ANSWER, AnswerBook, Moved, Taken
from ttsc.runtime.live.extract import Extractor

DEFAULT_SUFFIX = "\n</think>\n\nThe final answer is \\boxed{"
DEFAULT_TEMPLATE = "{question}\nPlease reason step by step, and put your final answer within \\boxed{}.\n"


@dataclass(frozen=True)
class Request:
    """One generation: the prompt, the branch text so far (and its token ids where the backend keeps them)."""

    question: int            # global question id (servers and seeds are derived from it)
    seed: int                # the run's seed for this episode
    slot: int                # branch slot in its episode
    interval: int            # index of the first interval this request generates (probes: intervals so far)
    prompt: str              # the formatted question
    text: str                # generated text so far
    ids: tuple[int, ...] | None
    suffix: str              # "" to continue the branch; the probe suffix for a probe
    max_tokens: int
    probe: bool              # greedy answer elicitation, not reasoning
    logprobs: int = 0        # top-k log-probabilities to ask for (0 = none)

    def sample_seed(self) -> int:
        """A seed per (run seed, question, branch, interval): a continuation gets a fresh, reproducible stream."""
        x = ((self.seed * 1_000_003 + self.question) * 1_000_033 + self.slot) * 1_000_037 + self.interval
        return (x * 2654435761 + (1 if self.probe else 0)) % (2**31 - 1)


@dataclass(frozen=True)
class Completion:
    text: str
    ids: tuple[int, ...] | None  # the generated token ids, where the backend gives them
    tokens: int                  # generated tokens, as the backend's usage reports them
    ended: bool                  # generation ended by itself (EOS), not at max_tokens
    prompt_tokens: int = 0
    token_confidences: tuple[float, ...] | None = None  # DeepConf confidence per generated token, if asked


def token_confidence(top_logprobs, k: int) -> float:
    """DeepConf's token confidence: minus the mean of the token's top-``k`` log-probabilities.

    Servers may list the sampled token beside the top ``k``; only the ``k`` largest count.
    """
    top = sorted((float(x) for x in top_logprobs), reverse=True)[:k]
    if not top:
        raise ValueError("no log-probabilities for a generated token")
    return -sum(top) / len(top)


class Backend(Protocol):
    name: str

    def generate(self, requests: list[Request]) -> list[Completion]:
        """Every request at once; completions in the order asked."""
        ...


@dataclass
class Branch:
    text: str = ""
    ids: tuple[int, ...] | None = ()
    tokens: int = 0
    intervals: int = 0
    finished: bool = False
    answer: int = NO_ANSWER
    confidences: tuple[float, ...] | None = ()  # per generated token; None once a completion had none
    last_conf: float = float("nan")  # the `confidence` signal: of the last interval (stretch) revealed


@dataclass
class Usage:
    """What the backend reported, per episode row."""

    reasoning: np.ndarray
    probe: np.ndarray
    prompt: np.ndarray
    calls: int = 0
    requests: int = 0
    backend_seconds: float = 0.0


@dataclass(frozen=True)
class LiveConfig:
    interval: int = 500
    max_branch_tokens: int = 32768
    max_branches: int = 64
    probe_suffix: str = DEFAULT_SUFFIX
    probe_tokens: int = 16
    template: str = DEFAULT_TEMPLATE
    extractor: str = "boxed"
    non_answers: tuple[str, ...] = DEFAULT_NON_ANSWERS
    logprobs: int = 0  # top-k log-probabilities per reasoning token (0 = none): token confidences

    def __post_init__(self):
        if self.interval < 1 or self.max_branch_tokens < 1 or self.max_branches < 1 or self.probe_tokens < 1:
            raise TtscError("--interval, --max-branch-tokens, --max-branches and --probe-tokens must be positive")
        if self.logprobs < 0:
            raise TtscError("--logprobs must be 0 (none) or a positive number of top log-probabilities")
        if "{question}" not in self.template:
            raise TtscError("the prompt template must contain {question}")


class LiveEnvironment:
    """Episodes (row = seed_index * n_questions + question) generated live by ``backend``."""

    def __init__(self, backend: Backend, questions: Sequence[str], golds: Sequence[str | None],
                 seeds: Sequence[int], config: LiveConfig = LiveConfig(),
                 grade: Callable[[str | None, str | None], bool] | None = None,
                 question_ids: Sequence[int] | None = None,
                 capacity: Callable[[int, int], int] | None = None):
        self.backend = backend
        self.config = config
        self.questions = list(questions)
        self.golds = list(golds)
        self.qids = list(question_ids) if question_ids is not None else list(range(len(self.questions)))
        self.seeds = tuple(int(s) for s in seeds)
        self.n_questions = len(self.questions)
        self.n_episodes = len(self.seeds) * self.n_questions
        self.extract = Extractor(config.extractor)
        self._grade = grade or (lambda a, g: a is not None and a == g)
        self._prompts = [config.template.replace("{question}", q) for q in self.questions]
        # branches an episode may open: the configured bound, or fewer where the backend has fewer (scripts)
        self._cap = [min(config.max_branches, capacity(self.seeds[r // self.n_questions],
                                                       self.qids[r % self.n_questions]))
                     if capacity else config.max_branches for r in range(self.n_episodes)]
        self.max_branches = max(self._cap, default=0)
        self.branches: list[list[Branch]] = [[] for _ in range(self.n_episodes)]
        self.answers = AnswerBook(self.n_episodes)
        z = lambda: np.zeros(self.n_episodes, dtype=np.int64)  # noqa: E731
        self.usage = Usage(z(), z(), z())
        # the `confidence` signal, when generation asks for log-probabilities (a backend that then returns
        # none is an error, not a silent NaN)
        self.signals = frozenset({"confidence"}) if config.logprobs > 0 else frozenset()

    # -- the protocol ---------------------------------------------------------------------------

    def take(self, rows: np.ndarray, want: np.ndarray, whole: bool) -> Taken:
        pairs = []
        for row, n in zip(rows.tolist(), want.tolist()):
            have = self.branches[row]
            for _ in range(max(0, min(n, self._cap[row] - len(have)))):
                have.append(Branch())
                pairs.append((row, len(have) - 1))
        steps = [None if whole else 1] * len(pairs)
        answer, cost, finished, _, conf = self._move(pairs, steps)
        cols = np.array([p[0] for p in pairs], dtype=np.int64), np.array([p[1] for p in pairs], dtype=np.int64)
        return Taken(cols[0], cols[1], answer, cost, finished, conf)

    def advance(self, rows: np.ndarray, slots: np.ndarray, steps: np.ndarray) -> Moved:
        return Moved(*self._move(list(zip(rows.tolist(), slots.tolist())), steps.tolist()))

    def answer_text(self, rows: np.ndarray, answers: np.ndarray) -> list[str | None]:
        return self.answers.texts(rows, answers)

    def grade(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        texts = self.answer_text(rows, answers)
        golds = [self.golds[r % self.n_questions] for r in rows.tolist()]
        return np.array([bool(self._grade(a or None, g)) for a, g in zip(texts, golds)], dtype=bool)

    def accept(self, rows: np.ndarray, slots: np.ndarray) -> None:
        """Stop generating these branches: their latest answer stands as their final one."""
        for row, slot in zip(rows.tolist(), slots.tolist()):
            if not 0 <= slot < len(self.branches[row]):
                raise IndexError(f"episode {row} has no opened branch in slot {slot}")
            self.branches[row][slot].finished = True

    def interval(self, rows: np.ndarray) -> np.ndarray:
        return np.full(len(rows), self.config.interval, dtype=np.int64)

    def answer_ids(self, rows: np.ndarray, texts: list[str]) -> np.ndarray:
        return self.answers.ids(rows, texts)

    def token_confidences(self, row: int, slot: int) -> tuple[float, ...] | None:
        """The DeepConf confidence of each token branch ``slot`` of episode ``row`` generated so far
        (None where the backend returned no log-probabilities)."""
        return self.branches[row][slot].confidences

    def valid(self, rows: np.ndarray, answers: np.ndarray) -> np.ndarray:
        """A real answer: not none, and not one of the non-answers (by default `ERR` and "", what the
        extractor gives when it finds no answer)."""
        texts = self.answer_text(np.asarray(rows, dtype=np.int64), np.asarray(answers, dtype=np.int64))
        return np.array([t is not None and t not in self.config.non_answers for t in texts], dtype=bool)

    # -- generation -----------------------------------------------------------------------------

    def _move(self, pairs: list[tuple[int, int]], steps: list[int | None]):
        """Generate ``steps`` intervals (None: to the end) of each branch, then probe those that need it."""
        n = len(pairs)
        answer = np.full(n, NO_ANSWER, dtype=np.int64)
        conf = np.full(n, np.nan)
        cost = np.zeros(n, dtype=np.int64)
        revealed = np.zeros(n, dtype=np.int64)
        d, cap = self.config.interval, self.config.max_branch_tokens
        todo, reqs = [], []
        for i, ((row, slot), k) in enumerate(zip(pairs, steps)):
            b = self.branches[row][slot]
            if b.finished or (k is not None and k <= 0):  # nothing to reveal: the latest answer stands
                answer[i], conf[i] = b.answer, b.last_conf
                continue
            budget = cap - b.tokens if k is None else min(k * d, cap - b.tokens)
            todo.append(i)
            reqs.append(self._request(row, slot, b, b.intervals, "", budget, probe=False))
        outs = self._generate(reqs)
        probes = []
        for i, req, out in zip(todo, reqs, outs):
            row, slot = pairs[i]
            b = self.branches[row][slot]
            b.text += out.text
            b.ids = None if b.ids is None or out.ids is None else b.ids + tuple(out.ids)
            b.confidences = self._confidences(b.confidences, req, out)
            b.tokens += out.tokens
            cost[i] = out.tokens
            self.usage.reasoning[row] += out.tokens
            self.usage.prompt[row] += out.prompt_tokens
            if out.ended or b.tokens >= cap or steps[i] is None:
                b.finished = True
                revealed[i] = max(1, -(-out.tokens // d))
                # the final stretch: what this move generated after the last interval it revealed in full
                b.last_conf = conf[i] = _mean_tail(b.confidences, out.tokens - (int(revealed[i]) - 1) * d)
                found = self.extract(b.text)
                if found is not None:
                    b.answer = answer[i] = self.answers.intern(row, found)
                    continue
            else:
                revealed[i] = steps[i]
                b.last_conf = conf[i] = _mean_tail(b.confidences, min(d, out.tokens))  # the last full interval
            b.intervals += int(revealed[i])
            probes.append(i)
        preqs = []
        for i in probes:
            row, slot = pairs[i]
            b = self.branches[row][slot]
            preqs.append(self._request(row, slot, b, b.intervals, self.config.probe_suffix,
                                       self.config.probe_tokens, probe=True))
        for i, out in zip(probes, self._generate(preqs)):
            row, slot = pairs[i]
            self.usage.probe[row] += out.tokens
            self.usage.prompt[row] += out.prompt_tokens
            b = self.branches[row][slot]
            b.answer = answer[i] = self.answers.intern(row, self.extract(self.config.probe_suffix + out.text) or "")
        finished = np.array([self.branches[r][s].finished for r, s in pairs], dtype=bool)
        if any(k is None for k in steps):
            revealed[:] = 1  # a whole read counts as one reveal
        return answer, cost, finished, revealed, (conf if self.signals else None)

    def _request(self, row: int, slot: int, b: Branch, interval: int, suffix: str, max_tokens: int,
                 probe: bool) -> Request:
        q = row % self.n_questions
        return Request(self.qids[q], self.seeds[row // self.n_questions], slot, interval, self._prompts[q],
                       b.text, b.ids, suffix, max_tokens, probe, 0 if probe else self.config.logprobs)

    def _confidences(self, have: tuple[float, ...] | None, req: Request, out: Completion):
        if out.token_confidences is None and req.logprobs > 0 and out.tokens > 0:
            raise TtscError(f"backend {self.backend.name}: question {req.question}, branch {req.slot}: no "
                            f"log-probabilities returned although {req.logprobs} were asked for")
        if have is None or out.token_confidences is None:
            return None
        if len(out.token_confidences) != out.tokens:
            raise TtscError(f"backend {self.backend.name}: question {req.question}, branch {req.slot}: "
                            f"{len(out.token_confidences)} token confidences for {out.tokens} tokens")
        return have + tuple(out.token_confidences)

    def _generate(self, reqs: list[Request]) -> list[Completion]:
        if not reqs:
            return []
        t0 = time.perf_counter()
        outs = self.backend.generate(reqs)
        self.usage.backend_seconds += time.perf_counter() - t0
        self.usage.calls += 1
        self.usage.requests += len(reqs)
        if len(outs) != len(reqs):
            raise TtscError(f"backend {self.backend.name} answered {len(outs)} of {len(reqs)} requests")
        return outs



def stretch_confidence(tokens: Sequence[float]) -> float | None:
    """The `confidence` signal of a stretch of tokens: the mean of their token confidences, rounded
    to 6 decimals as stores keep it (so a live run and a replay of what it generated read the same
    value); None for no tokens. One definition for the live environment and ``ttsc collect``."""
    return round(math.fsum(tokens) / len(tokens), 6) if len(tokens) else None


def _mean_tail(confidences: tuple[float, ...] | None, n: int) -> float:
    """The confidence of the last ``n`` tokens (NaN for none, or without log-probabilities)."""
    c = stretch_confidence(confidences[-n:]) if confidences is not None and n > 0 else None
    return float("nan") if c is None else c
