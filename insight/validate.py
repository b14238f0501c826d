"""Does a replay estimate transfer? A strategy run live on a sample of a store's questions, against its replay.

The live run is configured the way the store was collected: interval,
branch cap, probe suffix and tokens, prompt template, extractor, grader and
sampling settings come from the store's collect metadata (``meta``, format
``ttsc-collect/1``) unless overridden. Live and replay run the same questions
and seeds, so the comparison is paired over questions (``insight/stats.py``):
each difference is live − replay with a bootstrap interval. Replay's
correctness is the store's own (an answer equal to the gold string), which is
what ``ttsc eval`` reports; live answers are graded by the grader.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from ttsc.compiler.engines import run_env
from ttsc.dsl.checker import CheckedProgram
from ttsc.errors import TtscError
from ttsc.insight import stats
from ttsc.runtime.live.env import Backend, LiveConfig, LiveEnvironment
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.replay import ReplayEnvironment
from ttsc.runtime.store import Store

COLLECT_FORMAT = "ttsc-collect/"  # meta["format"] of a store written by `ttsc collect` ("ttsc-collect/1")

# The live settings a collected store's meta records, with their types (names as LiveConfig's fields).
SETTINGS: dict[str, type] = {"interval": int, "max_branch_tokens": int, "probe_suffix": str, "probe_tokens": int,
                             "template": str, "extractor": str, "grader": str, "temperature": float,
                             "top_p": float}


def collect_meta(store: Store) -> dict[str, Any] | None:
    """The store's collect metadata, or None when it was not written by a collector."""
    fmt = store.meta.get("format")
    return store.meta if isinstance(fmt, str) and fmt.startswith(COLLECT_FORMAT) else None


def live_settings(store: Store, overrides: dict[str, Any], defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """Each of ``SETTINGS``: the override when given (not None), else the store's meta, else ``defaults``.

    The interval falls back to the store's own Δ (``probe_freq``) when every question has the same one.
    """
    meta = collect_meta(store) or {}
    out: dict[str, Any] = {}
    for key, kind in SETTINGS.items():
        if overrides.get(key) is not None:
            out[key] = overrides[key]
        elif key in meta:
            out[key] = _typed(store, key, meta[key], kind)
    deltas = {q.probe_freq for q in store.questions}
    if "interval" not in out and len(deltas) == 1:
        out["interval"] = deltas.pop()
    missing = [k for k in SETTINGS if k not in out]
    if missing and defaults is not None:
        out.update({k: defaults[k] for k in missing})
    elif missing:
        flags = ", ".join("--" + k.replace("_", "-") for k in missing)
        why = ("its collect metadata lacks them" if collect_meta(store) else
               f"it has no collect metadata (meta \"format\": \"{COLLECT_FORMAT}1\")")
        raise TtscError(f"{store.path}: cannot tell how to run it live: {why}; give {flags} "
                        "(or --defaults for ttsc run's defaults)")
    return out


def _typed(store: Store, key: str, value: Any, kind: type) -> Any:
    ok = (isinstance(value, (int, float)) and not isinstance(value, bool)) if kind is float else \
        (type(value) is kind)
    if not ok:
        raise TtscError(f"{store.path}: meta key {key!r} must be {'a number' if kind is float else kind.__name__}, "
                        f"got {value!r}")
    return float(value) if kind is float else value


def sample_questions(n_questions: int, k: int | None, seed: int = 0) -> list[int]:
    """``k`` question indices drawn without replacement (``random.Random(seed)``), in store order; all if k is
    None or at least the store's size."""
    if k is None or k >= n_questions:
        return list(range(n_questions))
    return sorted(random.Random(seed).sample(range(n_questions), k))


def substore(store: Store, indices: Sequence[int]) -> Store:
    return Store(store.name, store.path, tuple(store.questions[i] for i in indices), store.meta)


@dataclass(frozen=True)
class Validation:
    indices: tuple[int, ...]   # the store's questions, in the outcomes' question order
    live: Outcome
    replay: Outcome
    probe_tokens: tuple[int, ...]  # live probe tokens per question, summed over seeds (replay has none)
    comparison: stats.Comparison  # live − replay, paired over questions

    def to_dict(self) -> dict:
        def scores(o: Outcome) -> dict:
            return {"accuracy": o.accuracy, "avg_tokens": o.avg_tokens,
                    "avg_sequential_tokens": o.avg_sequential_tokens}

        n_seeds = len(self.live.seeds)
        per = [{"index": i,
                "live": {"answers": [a for a in self.live.answers[:, j]], "correct": self.live.correct[:, j].tolist(),
                         "tokens": self.live.tokens[:, j].tolist(), "probe_tokens": self.probe_tokens[j]},
                "replay": {"answers": [a for a in self.replay.answers[:, j]],
                           "correct": self.replay.correct[:, j].tolist(), "tokens": self.replay.tokens[:, j].tolist()}}
               for j, i in enumerate(self.indices)]
        return {"questions": len(self.indices), "seeds": list(self.live.seeds),
                "live": {**scores(self.live),
                         "avg_probe_tokens": sum(self.probe_tokens) / (n_seeds * len(self.indices))},
                "replay": scores(self.replay), "difference": self.comparison.to_dict(), "per_question": per}


def validate(checked: CheckedProgram, params: dict, store: Store, indices: Sequence[int], seeds: Sequence[int],
             backend: Backend, config: LiveConfig, grade: Callable[[str | None, str | None], bool],
             engine: str = "batched", capacity: Callable[[int, int], int] | None = None,
             resamples: int = stats.RESAMPLES) -> Validation:
    """Run ``checked`` live on the store's questions ``indices`` (question ids = store indices) and on replay."""
    sub = substore(store, indices)
    env = LiveEnvironment(backend, [q.text for q in sub.questions], [q.gold for q in sub.questions], seeds, config,
                          grade=grade, question_ids=list(indices), capacity=capacity)
    live = run_env(checked, params, env, engine)
    replay = run_env(checked, params, ReplayEnvironment(sub, seeds), engine)
    probe = env.usage.probe.reshape(len(seeds), len(indices)).sum(axis=0)
    return Validation(tuple(indices), live, replay, tuple(int(x) for x in probe),
                      stats.compare(live, replay, resamples=resamples))
