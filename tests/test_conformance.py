"""The conformance corpus: every engine, on every environment, gives the hand-computed outcomes.

Each ``tests/conformance/NAME.tts`` has a ``NAME.expect.json`` naming a small
hand-made store, the seeds, the parameters and, for every (seed, question)
episode, the outcome worked out by hand from docs/language.md (the program's
header comment shows the arithmetic). A new engine or environment must pass
the whole corpus. Where the store holds shapes no fixed-interval generator
produces, the expectation also has a ``live`` variant: the same program on the
store reshaped into generatable branches, with its own hand-computed outcomes
(its ``why`` shows the arithmetic); the live environment runs that one, every
other environment both. See tests/conformance/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import pytest

from tests.test_env import scripted_from
from ttsc.compiler.engines import run, run_env
from ttsc.dsl.checker import check
from ttsc.dsl.diagnostics import Source
from ttsc.dsl.parser import parse_source
from ttsc.runtime.live.testing import live_expressible, live_over_store
from ttsc.runtime.outcome import Outcome
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import Store, load_store

CORPUS = Path(__file__).resolve().parent / "conformance"
ENGINES = ("interpret", "batched", "compiled")

# Outcome array -> key in an expected episode.
FIELDS = {"answers": "answer", "correct": "correct", "tokens": "tokens", "sequential": "sequential",
          "rounds": "rounds", "opened": "opened", "pruned": "pruned", "stop_line": "stop_line"}
EPISODE_KEYS = {"seed", "question", *FIELDS.values()}

# An environment builds, from a store and seeds, a runner: (checked, params, engine) -> Outcome.
Runner = Callable[..., Outcome]


def _replay(store: Store, seeds: Sequence[int]) -> Runner:
    """The replay store itself: every engine replays it directly."""
    return lambda checked, params, engine: run(checked, params, store, seeds, engine)


def _scripted(store: Store, seeds: Sequence[int]) -> Runner:
    """The same trajectories served by the scripted stand-in for a live environment."""
    return lambda checked, params, engine: run_env(checked, params, scripted_from(store, seeds), engine)


def _live(store: Store, seeds: Sequence[int]) -> Runner:
    """The live environment, generating the store's branches as token streams (the scripted backend)."""
    return lambda checked, params, engine: run_env(checked, params, live_over_store(store, seeds), engine)


ENVIRONMENTS: dict[str, Callable[[Store, Sequence[int]], Runner]] = {
    "replay": _replay,
    "scripted": _scripted,
    "live": _live,
}
# The native engine is the replay fast path: it refuses any other environment (tests/test_env.py).
UNSUPPORTED = {("compiled", "scripted"), ("compiled", "live")}

# (case, engine) -> reason, for an engine known to disagree with the documented semantics.
# Each entry is strict: it fails the suite once the engine is fixed, so it cannot go stale.
XFAIL: dict[tuple[str, str], str] = {}

LIVE = "live"  # the generatable variant of a case, in its expectation under this key


# Cases that read an environment signal (runtime/env.py `signals`) the live environment does not provide yet:
# it refuses them before running. Strict, like XFAIL: once it provides the signal they must pass.


def _cases() -> list[str]:
    return sorted(p.name.removesuffix(".tts") for p in CORPUS.glob("*.tts"))


def _load(name: str, variant: str | None = None):
    """The checked program, its expectation (a variant's store and episodes, the case's seeds and params) and store."""
    src = Source(f"{name}.tts", (CORPUS / f"{name}.tts").read_text(encoding="utf-8"))
    checked = check(parse_source(src), src)
    spec = json.loads((CORPUS / f"{name}.expect.json").read_text(encoding="utf-8"))
    if variant is not None:
        spec = {**spec, **spec[variant]}
    store = load_store(CORPUS / spec["store"])
    return checked, spec, store


def _variants(name: str) -> list[str | None]:
    spec = json.loads((CORPUS / f"{name}.expect.json").read_text(encoding="utf-8"))
    return [None, LIVE] if LIVE in spec else [None]


def test_corpus_is_complete():
    """Every program has its expectations and every expectation its program; every store is used."""
    programs = {p.name.removesuffix(".tts") for p in CORPUS.glob("*.tts")}
    expects = {p.name.removesuffix(".expect.json") for p in CORPUS.glob("*.expect.json")}
    assert programs == expects, f"unpaired: {sorted(programs ^ expects)}"
    assert 15 <= len(programs), f"the corpus shrank to {len(programs)} programs"
    used = {_load(n, v)[1]["store"] for n in expects for v in _variants(n)}
    stores = {f"stores/{p.name}" for p in (CORPUS / "stores").glob("*.json")}
    assert stores == used, f"stores without a program: {sorted(stores - used)}"


@pytest.mark.parametrize("name,variant", [(n, v) for n in _cases() for v in _variants(n)])
def test_expectations_cover_every_episode(name, variant):
    """An expectation lists each (seed, question) exactly once, with every field: nothing goes unchecked."""
    _, spec, store = _load(name, variant)
    if variant is not None:
        assert set(spec[variant]) == {"store", "why", "episodes"}, f"{name}: its {variant} variant has other keys"
    wanted = [(s, q) for s in spec["seeds"] for q in range(len(store.questions))]
    got = [(e["seed"], e["question"]) for e in spec["episodes"]]
    assert sorted(got) == sorted(wanted), f"{name}: episodes {got}, want one per seed x question {wanted}"
    for e in spec["episodes"]:
        assert set(e) == EPISODE_KEYS, f"{name}: episode {e} has keys {sorted(set(e))}, want {sorted(EPISODE_KEYS)}"
        assert e["correct"] == (e["answer"] is not None and e["answer"] == store.questions[e["question"]].gold), \
            f"{name}: episode {e}: `correct` contradicts the store's gold answer"


def _runs(name: str, variant: str | None, env: str) -> bool:
    """The live environment runs a case's live variant where it has one; the other environments run every store."""
    return env != "live" or variant == LIVE or LIVE not in _variants(name)


def _param(name: str, variant: str | None, engine: str, env: str):
    reason = XFAIL.get((name, engine))
    marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
    return pytest.param(name, variant, engine, env, id=f"{name}{'.' + variant if variant else ''}-{engine}-{env}",
                        marks=marks)


@pytest.mark.parametrize("name,variant,engine,env", [
    _param(n, variant, e, v) for n in _cases() for variant in _variants(n) for e in ENGINES for v in ENVIRONMENTS
    if (e, v) not in UNSUPPORTED and _runs(n, variant, v)])
def test_conformance(name, variant, engine, env):
    checked, spec, store = _load(name, variant)
    seeds = spec["seeds"]
    outcome = ENVIRONMENTS[env](store, seeds)(checked, bind_params(checked, spec["params"]), engine)
    problems = []
    for e in spec["episodes"]:
        si, qi = seeds.index(e["seed"]), e["question"]
        for field, key in FIELDS.items():
            got = getattr(outcome, field)[si, qi]
            got = None if got is None else got.item() if hasattr(got, "item") else got
            if got != e[key]:
                problems.append(f"  seed {e['seed']} question {qi}: {key} = {got!r}, expected {e[key]!r}")
    assert not problems, (f"{name}.tts on {env} ({spec['store']}) with the {engine} engine differs from the "
                          f"hand-computed outcome (see the program's header comment, or the variant's `why`):\n"
                          + "\n".join(problems))


@pytest.mark.parametrize("name", _cases())
def test_every_case_runs_live(name):
    """A live variant reshapes a store no fixed-interval generator produces into one a generator does.

    (A case without one runs live on its own store: where that store is not generatable, its program
    never reaches the odd branches, or the live run fails it.)"""
    stores = {v: _load(name, v)[2] for v in _variants(name)}
    if LIVE in stores:
        assert not live_expressible(stores[None]), f"{name}: its store is generatable; it needs no live variant"
        assert live_expressible(stores[LIVE]), f"{name}: its live variant's store is not generatable"
