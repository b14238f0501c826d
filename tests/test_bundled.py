"""The bundled default store is a real collection: `python -m ttsc.runtime.live.bundled`'s output, whole and
consistent with the settings its meta records."""

from __future__ import annotations

import json
import os

from ttsc.cli.loading import load_envs
from ttsc.runtime.live import bundled
from ttsc.runtime.live.env import DEFAULT_SUFFIX
from ttsc.runtime.store import default_store_path, load_store


def _raw() -> dict:
    return json.loads(default_store_path().read_text(encoding="utf-8"))


def test_meta_says_how_it_was_collected() -> None:
    meta = _raw()["meta"]
    assert meta["format"] == "ttsc-collect/1" and "synthetic" not in meta
    assert meta["model"].startswith(bundled.MODEL) and meta["backend"] == "openai"
    assert (meta["template"], meta["probe_suffix"], meta["probe_tokens"], meta["extractor"]) == \
        (bundled.TEMPLATE, DEFAULT_SUFFIX, bundled.PROBE_TOKENS, "boxed")
    assert (meta["interval"], meta["max_branch_tokens"], meta["logprobs"], meta["seed"]) == \
        (bundled.INTERVAL, bundled.MAX_BRANCH_TOKENS, bundled.LOGPROBS, bundled.SEED)
    assert meta["branches"] == bundled.BRANCHES and meta["signals"] == ["confidence"]


def test_questions_are_the_generators() -> None:
    store = load_store(default_store_path())
    want = bundled.problems(bundled.QUESTIONS, bundled.SEED)
    assert [(q.text, q.gold) for q in store.questions] == [(p["question"], p["answer"]) for p in want]
    assert store.name == "bundled/default" and store.meta["format"] == "ttsc-collect/1"
    # the same name however the file is given: its path, a relative path, or no --env at all
    assert load_store(os.path.relpath(default_store_path())).name == "bundled/default"
    assert load_envs(())[0].name == "bundled/default"


def test_every_branch_is_a_live_trajectory() -> None:
    """Probed after each full interval before its end; at most the cap; a confidence per revealed stretch."""
    raw = _raw()
    d, cap = raw["meta"]["interval"], raw["meta"]["max_branch_tokens"]
    for q in raw["questions"]:
        assert q["probe_freq"] == d and len(q["each_branch"]) == raw["meta"]["branches"]
        for (probes, total, final), conf in zip(q["each_branch"], q["signals"]["confidence"]):
            assert 0 <= total <= cap and isinstance(final, str)
            capped = total == cap
            assert len(probes) == (-(-total // d) - 1 if capped else total // d)
            assert len(conf) == len(probes) + 1
            assert all(c > 0 for c in conf[:-1]) and (conf[-1] is None) == (total == d * len(probes))


def test_generator_is_deterministic() -> None:
    assert bundled.problems(30, 0) == bundled.problems(30, 0) != bundled.problems(30, 1)
    for p in bundled.problems(200, 3):
        assert int(p["answer"]) >= 0 and p["question"].endswith("?")
