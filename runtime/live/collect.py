"""Collecting a replay store from a live backend (``ttsc collect``).

Every question gets ``branches`` independent trajectories, generated and
probed by the live environment exactly as a live strategy sees them: one
``take`` of all branches (the first interval of each, then its probe), then
``advance`` by one interval of every unfinished branch until all have ended.
Each reveal that leaves a branch unfinished is a probe answer (interval k's
reveal gives ``probes[k]``); the reveal that ends it gives ``final_answer``,
and its reasoning tokens sum to ``total_tokens``. Replaying the store
therefore charges what the live run charged (``runtime/reveal.py``).

With ``logprobs`` > 0 each question also carries ``signals.confidence``: per
branch, the mean DeepConf token confidence of each revealed stretch (the Δ
tokens of each probe's interval, then the final stretch; ``null`` when a
stretch has no tokens).

Crash safety: each question is appended to ``OUT.journal`` (flushed and
fsynced) as soon as all its branches have ended; the store is written only at
the end, through a temporary file and ``os.replace``, and the journal removed
after. ``resume`` keeps the journal's questions and collects the rest; a torn
last line (a run killed mid-write) is dropped. ``OUT`` is thus either absent
or a complete store.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ttsc import __version__
from ttsc.errors import TtscError
from ttsc.runtime.live.env import Backend, LiveConfig, LiveEnvironment, stretch_confidence

FORMAT = "ttsc-collect/1"
JOURNAL = "ttsc-collect-journal/1"


@dataclass(frozen=True)
class Item:
    index: int      # position in the dataset
    question: str
    gold: str


@dataclass(frozen=True)
class Settings:
    """What a collection is: the meta block of its store, less the date."""

    model: str
    backend: str
    config: LiveConfig
    temperature: float
    top_p: float
    seed: int
    branches: int
    dataset: str
    grader: str = "math"

    def __post_init__(self):
        if self.branches < 1:
            raise TtscError("--branches must be positive")

    def meta(self) -> dict[str, Any]:
        c = self.config
        return {"format": FORMAT, "model": self.model, "backend": self.backend, "interval": c.interval,
                "max_branch_tokens": c.max_branch_tokens, "probe_suffix": c.probe_suffix,
                "probe_tokens": c.probe_tokens, "template": c.template, "extractor": c.extractor,
                "temperature": self.temperature, "top_p": self.top_p, "seed": self.seed,
                "branches": self.branches, "logprobs": c.logprobs,
                "signals": ["confidence"] if c.logprobs else [], "dataset": self.dataset, "grader": self.grader,
                "ttsc_version": __version__}


# -- one group of questions -------------------------------------------------------------------

def collect_group(backend: Backend, items: Sequence[Item], settings: Settings,
                  done: Callable[[int, dict], None], tokens: Callable[[int], None] = lambda n: None) -> None:
    """Collect ``items`` in the same backend calls; ``done(index, question object)`` as each question ends.

    ``tokens(n)`` reports the tokens (reasoning and probe) each environment call generated.
    """
    config = replace(settings.config, max_branches=settings.branches)
    env = LiveEnvironment(backend, [it.question for it in items], [it.gold for it in items], (settings.seed,),
                          config, question_ids=[it.index for it in items])
    n, k = len(items), settings.branches
    answers = [[[] for _ in range(k)] for _ in range(n)]  # per question, branch: each reveal's answer text
    costs = [[[] for _ in range(k)] for _ in range(n)]    # and its reasoning tokens
    open_rows = set(range(n))
    spent = 0

    def record(rows: np.ndarray, slots: np.ndarray, answer: np.ndarray, cost: np.ndarray) -> None:
        nonlocal spent
        texts = env.answer_text(rows, answer)
        for r, s, t, c in zip(rows.tolist(), slots.tolist(), texts, cost.tolist()):
            answers[r][s].append(t or "")
            costs[r][s].append(c)
        used = int(env.usage.reasoning.sum() + env.usage.probe.sum())
        tokens(used - spent)
        spent = used
        for r in sorted(open_rows):
            if all(b.finished for b in env.branches[r]):
                open_rows.discard(r)
                done(items[r].index, _question(env, r, items[r], answers[r], costs[r]))

    taken = env.take(np.arange(n, dtype=np.int64), np.full(n, k, dtype=np.int64), whole=False)
    if np.bincount(taken.rows, minlength=n).tolist() != [k] * n:
        raise TtscError(f"backend {backend.name} opened {len(taken.rows)} of {n * k} branches")
    record(taken.rows, taken.slots, taken.answer, taken.cost)
    while open_rows:
        pairs = [(r, s) for r in sorted(open_rows) for s, b in enumerate(env.branches[r]) if not b.finished]
        rows = np.array([p[0] for p in pairs], dtype=np.int64)
        slots = np.array([p[1] for p in pairs], dtype=np.int64)
        moved = env.advance(rows, slots, np.ones(len(pairs), dtype=np.int64))
        record(rows, slots, moved.answer, moved.cost)


def _question(env: LiveEnvironment, row: int, item: Item, answers: list[list[str]], costs: list[list[int]]) -> dict:
    q: dict[str, Any] = {"question": item.question, "gold_answer": item.gold, "probe_freq": env.config.interval,
                         "each_branch": [[a[:-1], sum(c), a[-1]] for a, c in zip(answers, costs)]}
    if env.config.logprobs:
        q["signals"] = {"confidence": [_stretches(env.token_confidences(row, s), c) for s, c in enumerate(costs)]}
    return q


def _stretches(confidences: Sequence[float] | None, costs: list[int]) -> list[float | None]:
    """Mean token confidence of each revealed stretch (the tokens each reveal generated); None if empty."""
    if confidences is None:
        raise TtscError("the backend returned no log-probabilities although they were asked for")
    out, start = [], 0
    for c in costs:
        out.append(stretch_confidence(confidences[start:start + c]))
        start += c
    return out


# -- a whole collection: journal, resume, atomic store ----------------------------------------

def journal_path(out: Path) -> Path:
    return out.with_name(out.name + ".journal")


def collect(backend: Backend, items: Sequence[Item], settings: Settings, out: str | os.PathLike[str], *,
            resume: bool = False, batch_questions: int = 8, progress: bool = True) -> dict[str, Any]:
    """Collect every item into the store ``out``; returns a summary (questions, tokens, seconds)."""
    out = Path(out)
    journal = journal_path(out)
    if not items:
        raise TtscError("no questions to collect")
    if journal.exists() and not resume:
        raise TtscError(f"{journal} holds an interrupted collection: pass --resume to continue it "
                        f"(or delete it to start over)")
    if out.exists() and not journal.exists():
        if resume:  # already complete: nothing to collect, if it is the collection these options ask for
            _same_finished_store(out, settings, items)
            return {"questions": len(items), "collected": 0, "tokens": 0, "seconds": 0.0, "complete": True}
        raise TtscError(f"{out} exists; choose another --out or delete it")
    header, done = _read_journal(journal, settings, items) if journal.exists() else (None, {})
    if header is None:
        header = {"journal": JOURNAL, "settings": settings.meta(),
                  "date": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        _append(journal, header, create=True)
    todo = [it for it in items if it.index not in done]
    start, generated = time.perf_counter(), 0
    bar = _Progress(len(items), len(done)) if progress else None

    def finished(index: int, question: dict) -> None:
        _append(journal, {"index": index, "question": question})
        done[index] = question
        if bar:
            bar.question()

    def count(n: int) -> None:
        nonlocal generated
        generated += n
        if bar:
            bar.tokens(n)

    try:
        for g in range(0, len(todo), batch_questions):
            collect_group(backend, todo[g:g + batch_questions], settings, finished, count)
    except BaseException:
        if not done:  # a journal of only its header saves no work, yet would refuse a retry with other options
            journal.unlink(missing_ok=True)
        raise
    finally:
        if bar:
            bar.close()
    meta = {**settings.meta(), "date": header["date"]}
    write_store(out, meta, [done[it.index] for it in items])
    journal.unlink()
    return {"questions": len(items), "collected": len(todo), "tokens": generated,
            "seconds": time.perf_counter() - start, "complete": True}


def dumps_store(meta: dict, questions: list[dict]) -> str:
    """One question per line, so a regenerated store diffs readably."""
    body = ",\n".join(json.dumps(q, ensure_ascii=False, separators=(",", ":")) for q in questions)
    return f'{{"meta":{json.dumps(meta, ensure_ascii=False, separators=(",", ":"))},\n"questions":[\n{body}\n]}}\n'


def write_store(out: Path, meta: dict, questions: list[dict]) -> None:
    """Write through a temporary file, fsync, then ``os.replace``: ``out`` is never half written."""
    tmp = out.with_name(f".{out.name}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f:
            f.write(dumps_store(meta, questions))
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, out)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise TtscError(f"cannot write {out}: {e.strerror or e}") from None


def _append(path: Path, record: dict, create: bool = False) -> None:
    try:
        with path.open("x" if create else "a", encoding="utf-8") as f:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
            f.flush()
            os.fsync(f.fileno())
    except OSError as e:
        raise TtscError(f"cannot write {path}: {e.strerror or e}") from None


def _read_journal(path: Path, settings: Settings, items: Sequence[Item]) -> tuple[dict | None, dict[int, dict]]:
    """The journal's header and finished questions; a torn last line is cut off first."""
    raw = path.read_bytes()
    keep = raw[:raw.rfind(b"\n") + 1]
    if len(keep) != len(raw):
        with path.open("r+b") as f:
            f.truncate(len(keep))
    lines = keep.decode("utf-8").splitlines()
    if not lines:
        path.unlink()
        return None, {}
    try:
        header = json.loads(lines[0])
        records = [json.loads(line) for line in lines[1:]]
    except json.JSONDecodeError as e:
        raise TtscError(f"{path}: not a collection journal ({e.msg}); cannot resume from it") from None
    if not isinstance(header, dict) or header.get("journal") != JOURNAL:
        raise TtscError(f"{path}: not a collection journal; cannot resume from it")
    _same_settings(path, settings, header.get("settings", {}))
    by_index = {it.index: it for it in items}
    done = {}
    for n, rec in enumerate(records, 2):
        it = by_index.get(rec.get("index"))
        q = rec.get("question") or {}
        if it is None or q.get("question") != it.question or q.get("gold_answer") != it.gold:
            raise TtscError(f"{path}:{n}: question {rec.get('index')} is not the dataset's; "
                            f"resume with the same --dataset")
        done[it.index] = q
    return header, done


def _same_settings(path: Path, settings: Settings, have: dict) -> None:
    """Refuse to continue a collection made with other settings (the version of ttsc aside)."""
    want = settings.meta()
    have = have if isinstance(have, dict) else {}
    changed = sorted(k for k in set(want) | set(have)
                     if k not in ("ttsc_version", "date") and want.get(k) != have.get(k))
    if changed:
        raise TtscError(f"{path}: collected with other settings ({', '.join(changed)} differ); "
                        f"resume with the same options, or start a new --out")


def _same_finished_store(out: Path, settings: Settings, items: Sequence[Item]) -> None:
    """``--resume`` of a collection that already finished: its store must hold what these options ask for."""
    try:
        data = json.loads(out.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TtscError(f"{out} exists but is not a collected store ({e}); choose another --out") from None
    if not isinstance(data, dict) or not isinstance(data.get("meta"), dict):
        raise TtscError(f"{out} exists but was not written by `ttsc collect` (no meta); choose another --out")
    _same_settings(out, settings, data["meta"])
    questions = data.get("questions")
    if not isinstance(questions, list) or [q.get("question") if isinstance(q, dict) else None
                                           for q in questions] != [it.question for it in items]:
        raise TtscError(f"{out}: its questions are not the dataset's; resume with the same --dataset "
                        f"(and --questions), or start a new --out")


class _Progress:
    """A rich progress bar on stderr: questions done, tokens/s, time left."""

    def __init__(self, total: int, done: int):
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)
        self._p = Progress(TextColumn("collect"), BarColumn(), MofNCompleteColumn(), TextColumn("questions"),
                           TextColumn("{task.fields[rate]} tokens/s"), TimeElapsedColumn(),
                           TextColumn("ETA"), TimeRemainingColumn(), console=Console(stderr=True))
        self._task = self._p.add_task("collect", total=total, completed=done, rate="-")
        self._start, self._tokens = time.perf_counter(), 0
        self._p.start()

    def question(self) -> None:
        self._p.advance(self._task)

    def tokens(self, n: int) -> None:
        self._tokens += n
        rate = self._tokens / max(1e-9, time.perf_counter() - self._start)
        self._p.update(self._task, rate=f"{rate:,.1f}")

    def close(self) -> None:
        self._p.stop()
