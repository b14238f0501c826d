"""Replay stores: pre-collected trajectories that a replay episode hands out.

A store file is either the published AutoTTS form (a JSON list of question
objects) or an object ``{"meta": {...}, "questions": [...]}`` holding the same
question objects (synthetic stores use it to say what they are). Loading
validates every field, because a strategy evaluated on a silently malformed
store produces plausible but wrong numbers; every failure is a ``StoreError``
naming the file, the question index and the key.
"""

from __future__ import annotations

import json
import math
import os
import re
from itertools import chain
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Iterable

from ttsc.errors import StoreError

Answer = str

# Bounds that keep every episode's token sums inside 64-bit integers in every engine:
# at most MAX_BRANCHES branches, each charging at most about 2 × MAX_TOKENS.
MAX_TOKENS = 10**12         # total_tokens of one branch, and probe_freq × its number of probes
MAX_PROBE_FREQ = 10**9      # Δ
MAX_BRANCHES = 2**20        # per question
# A confidence is a mean of negated log-probabilities: 0 or more. Servers write a log-probability
# they cannot represent as a large negative number (-9999), so real values stay far below this.
MAX_CONFIDENCE = 1e6
# The signals a store may carry under a question's "signals" key (docs/replay.md).
SIGNALS = ("confidence",)


@dataclass(frozen=True, slots=True)
class Branch:
    """One trajectory: answers after each Δ tokens, full length, final answer."""

    probes: tuple[Answer, ...]
    total_tokens: int
    final_answer: Answer
    # The `confidence` signal: len(probes) + 1 values, interval k's (the one whose reveal shows
    # probes[k]), then the final stretch's; NaN where unknown. None: the store carries none.
    confidence: tuple[float, ...] | None = None


@dataclass(frozen=True, slots=True)
class Question:
    text: str
    gold: Answer
    probe_freq: int  # Δ: tokens per interval
    branches: tuple[Branch, ...]

    @property
    def signals(self) -> frozenset[str]:
        """The signals every branch of this question carries."""
        return frozenset({"confidence"}) if all(b.confidence is not None for b in self.branches) else frozenset()


@dataclass(frozen=True)
class Store:
    name: str
    path: str
    questions: tuple[Question, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def signals(self) -> frozenset[str]:
        """The signals the store provides: those every question carries (so a program reading one never
        meets a question without it)."""
        return frozenset.intersection(*(q.signals for q in self.questions)) if self.questions else frozenset()


BUNDLED_NAME = "bundled/default"  # the bundled store's name, whichever way it is given


def default_store_path() -> Path:
    """The bundled store (``ttsc.runtime/data/default.json``): collected from SmolLM2-135M by ``ttsc collect``."""
    return Path(str(resources.files("ttsc.runtime").joinpath("data").joinpath("default.json")))


def load_store(path: str | os.PathLike[str], name: str | None = None) -> Store:
    """Load and validate one store file; ``name`` defaults to ``<parent>/<stem>`` (``bundled/default`` for the
    bundled store).

    The result has its replay tables; both come from the cache when it holds the same bytes
    (``runtime/store_cache.py``).
    """
    from ttsc.runtime import store_cache  # numpy: only commands that load stores pay for it

    p = Path(path)
    where = str(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise StoreError(f"{where}: cannot read store: {e.strerror or e}") from None
    name = name or (BUNDLED_NAME if _is_bundled(p) else f"{p.absolute().parent.name}/{p.stem}")
    key = store_cache.key(raw)
    hit = store_cache.cached(key, name, where)
    return hit if hit is not None else store_cache.tabled(parse_store(raw, where, name), key)


def _is_bundled(p: Path) -> bool:
    try:
        return p.resolve() == default_store_path().resolve()
    except OSError:
        return False


def parse_store(raw: bytes, where: str, name: str) -> Store:
    """A store file's bytes, parsed and validated (no cache, no tables)."""
    try:
        text = raw.decode("utf-8").removeprefix("\ufeff")  # a byte-order mark some editors write: not JSON
        data = json.loads(text, object_pairs_hook=_unique_keys)
    except UnicodeDecodeError as e:
        raise StoreError(f"{where}: not valid UTF-8 (byte {e.start})") from None
    except json.JSONDecodeError as e:
        raise StoreError(f"{where}: not valid JSON: {e.msg} at line {e.lineno} column {e.colno}") from None
    except RecursionError:
        raise StoreError(f"{where}: JSON nested too deeply to be a store") from None
    except _DuplicateKey as e:
        raise StoreError(f"{where}: not valid JSON: duplicate key {e.key!r} in the object at "
                         f"{_duplicate_position(text)}") from None
    except ValueError:  # int() refuses a number of more than sys.get_int_max_str_digits() digits
        raise StoreError(f"{where}: not valid JSON: a number with too many digits at "
                         f"{_long_number_position(text)}") from None

    if _SURROGATE_ESCAPE.search(text):  # rare: only then look at every string
        _refuse_lone_surrogates(data, where)
    meta: dict[str, Any] = {}
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"meta", "questions"})
        if "questions" not in data or unknown:
            raise StoreError(
                f"{where}: a store object must have keys 'questions' and optionally 'meta'"
                + (f", got unexpected {unknown}" if unknown else "")
            )
        meta = data.get("meta", {})
        if not isinstance(meta, dict):
            raise StoreError(f"{where}: key 'meta' must be an object, got {_kind(meta)}")
        data = data["questions"]
    if not isinstance(data, list):
        raise StoreError(f"{where}: a store must be a JSON list of questions (or an object with 'questions'), got {_kind(data)}")
    if not data:
        raise StoreError(f"{where}: store has no questions")
    questions = tuple(_question(q, f"{where}: question {i}") for i, q in enumerate(data))
    return Store(name=name, path=where, questions=questions, meta=meta)


# JSON may escape half of a UTF-16 pair on its own ("\ud800"); such a string is no text and cannot be
# written out as UTF-8 (traces, reports), so a store holding one is refused where it holds it.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _refuse_lone_surrogates(node: Any, where: str, path: str = "") -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        here = (f"{path}: key {k!r}" if isinstance(k, str) else
                f"{path}: question {k}" if not path or path == ": key 'questions'" else f"{path}: item {k}")
        for text, what in ((k, "a key"), (v, "a string")):
            if isinstance(text, str):
                try:
                    text.encode("utf-8")
                except UnicodeEncodeError as e:
                    raise StoreError(f"{where}{here}: {what} holds a lone surrogate ({text[e.start]!r}, half of "
                                     "a UTF-16 pair), which is not text") from None
        _refuse_lone_surrogates(v, where, here)


def load_stores(paths: Iterable[str | os.PathLike[str]]) -> list[Store]:
    """Load files and directories (searched recursively for ``*.json``, sorted).

    A store found under a directory is named by its path relative to that
    directory without ``.json`` (``Qwen3-8B/aime25``), prefixed with the directory's
    own name when several directories are given; a file given directly is named
    ``<parent dir>/<stem>``.
    """
    stores: list[Store] = []
    paths = list(paths)
    # With several folders, each store's name starts with its folder's, so `Qwen3-8B` and
    # `Qwen3-4B` given side by side give `Qwen3-8B/aime24` and `Qwen3-4B/aime24`.
    several = sum(Path(a).is_dir() for a in paths) > 1
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files = sorted((f for f in p.rglob("*.json") if f.is_file()), key=lambda f: f.relative_to(p).parts)
            if not files:
                raise StoreError(f"{arg}: directory holds no *.json store")
            prefix = f"{p.absolute().name}/" if several else ""
            stores.extend(load_store(f, prefix + f.relative_to(p).with_suffix("").as_posix()) for f in files)
        elif p.exists():
            stores.append(load_store(p))
        else:
            raise StoreError(f"{arg}: no such file or directory")
    seen: dict[str, str] = {}
    for s in stores:
        if s.name in seen:
            raise StoreError(f"{s.path}: store name {s.name!r} is also used by {seen[s.name]}")
        seen[s.name] = s.path
    return stores


def _question(q: Any, where: str) -> Question:
    if not isinstance(q, dict):
        raise StoreError(f"{where}: must be an object, got {_kind(q)}")
    for key in ("question", "gold_answer", "probe_freq", "each_branch"):
        if key not in q:
            raise StoreError(f"{where}: missing key {key!r}")
    text, gold, freq, raw_branches = q["question"], q["gold_answer"], q["probe_freq"], q["each_branch"]
    if not isinstance(text, str):
        raise StoreError(f"{where}: key 'question' must be a string, got {_kind(text)}")
    if not isinstance(gold, str):
        raise StoreError(f"{where}: key 'gold_answer' must be a string, got {_kind(gold)}")
    if not _is_int(freq) or freq <= 0:
        raise StoreError(f"{where}: key 'probe_freq' must be a positive integer, got {freq!r}")
    if freq > MAX_PROBE_FREQ:
        raise StoreError(f"{where}: key 'probe_freq' is {freq:,}; an interval holds at most {MAX_PROBE_FREQ:,} tokens")
    if not isinstance(raw_branches, list):
        raise StoreError(f"{where}: key 'each_branch' must be a list of branches, got {_kind(raw_branches)}")
    if not raw_branches:
        raise StoreError(f"{where}: key 'each_branch' holds no branches")
    if len(raw_branches) > MAX_BRANCHES:
        raise StoreError(f"{where}: key 'each_branch' holds {len(raw_branches):,} branches; "
                         f"a question holds at most {MAX_BRANCHES:,}")
    branches = _well_formed(raw_branches, freq)
    if branches is None:  # something is wrong: the careful path finds the first problem and names it
        branches = tuple(_branch(b, freq, f"{where}: key 'each_branch': branch {j}")
                         for j, b in enumerate(raw_branches))
    if "signals" in q:  # only stores that carry signals pay for reading them
        branches = _with_signals(q["signals"], branches, f"{where}: key 'signals'")
    return Question(text=text, gold=gold, probe_freq=freq, branches=branches)


def _with_signals(signals: Any, branches: tuple[Branch, ...], where: str) -> tuple[Branch, ...]:
    """The branches with their signals: ``{"confidence": [[c_0, …, c_P], …]}``, one list per branch."""
    if not isinstance(signals, dict):
        raise StoreError(f"{where}: must be an object, got {_kind(signals)}")
    unknown = sorted(set(signals) - set(SIGNALS))
    if unknown:
        raise StoreError(f"{where}: unknown signal {unknown[0]!r}; a store may carry {', '.join(map(repr, SIGNALS))}")
    if "confidence" not in signals:
        return branches
    where = f"{where}: key 'confidence'"
    lists = signals["confidence"]
    if not isinstance(lists, list):
        raise StoreError(f"{where}: must be a list with one list per branch, got {_kind(lists)}")
    if len(lists) != len(branches):
        raise StoreError(f"{where}: holds {len(lists):,} lists for {len(branches):,} branches; "
                         "it must hold one per branch, in the order of 'each_branch'")
    return tuple(Branch(b.probes, b.total_tokens, b.final_answer,
                        _confidences(c, len(b.probes), f"{where}: branch {j}"))
                 for j, (b, c) in enumerate(zip(branches, lists)))


_NUMBERS = {int, float}


def _confidences(c: Any, n_probes: int, where: str) -> tuple[float, ...]:
    """One branch's confidences as floats (null: NaN), after checking their number, types and range."""
    if type(c) is not list:
        raise StoreError(f"{where}: must be a list of {n_probes + 1} confidences (one per probe, then the "
                         f"final stretch), got {_kind(c)}")
    if len(c) != n_probes + 1:
        raise StoreError(f"{where}: holds {len(c):,} confidences for a branch with {n_probes:,} probes; it must "
                         f"hold {n_probes + 1:,} (one per probe, then the final stretch)")
    known = [x for x in c if x is not None]
    if not _NUMBERS.issuperset(map(type, known)) or not all(0 <= x <= MAX_CONFIDENCE for x in known):  # NaN too
        k, x = next((k, x) for k, x in enumerate(c) if x is not None and (
            type(x) not in _NUMBERS or not 0 <= x <= MAX_CONFIDENCE))
        if type(x) not in _NUMBERS:
            raise StoreError(f"{where}: confidence {k} must be a number or null, got {_kind(x)}")
        raise StoreError(f"{where}: confidence {k} is {x!r}; a confidence is a number from 0 to {MAX_CONFIDENCE:g}")
    return tuple(math.nan if x is None else float(x) for x in c)


def _well_formed(raw_branches: list, freq: int) -> tuple[Branch, ...] | None:
    """The branches when every one passes :func:`_branch`'s checks, else None; a fast path for valid stores.

    Accepts only what ``_branch`` accepts (its checks, stated with exact types), with
    the per-probe type test done once per question in C.
    """
    most_probes = MAX_TOKENS // freq  # freq × probes ≤ MAX_TOKENS
    out = []
    for b in raw_branches:
        if type(b) is not list or len(b) != 3:
            return None
        probes, total, final = b
        if (type(probes) is not list or type(total) is not int or type(final) is not str
                or not 0 <= total <= MAX_TOKENS or len(probes) > most_probes):
            return None
        out.append(Branch(tuple(probes), total, final))
    if not {str}.issuperset(map(type, chain.from_iterable(b.probes for b in out))):
        return None
    return tuple(out)


def _branch(b: Any, freq: int, where: str) -> Branch:
    if not isinstance(b, list):
        raise StoreError(f"{where}: must be a list [probes, total_tokens, final_answer], got {_kind(b)}")
    if len(b) != 3:
        raise StoreError(f"{where}: must be a list of 3 items [probes, total_tokens, final_answer], "
                         f"got a list of {len(b)}")
    probes, total, final = b
    if not isinstance(probes, list) or not all(type(a) is str for a in probes):
        raise StoreError(f"{where}: probes must be a list of strings, got {_describe_probes(probes)}")
    if not _is_int(total) or total < 0:
        raise StoreError(f"{where}: total_tokens must be a non-negative integer, got {total!r}")
    if total > MAX_TOKENS:
        raise StoreError(f"{where}: total_tokens is {total:,}; a branch holds at most {MAX_TOKENS:,} tokens")
    if freq * len(probes) > MAX_TOKENS:
        raise StoreError(f"{where}: {len(probes):,} probes every {freq:,} tokens span {freq * len(probes):,} "
                         f"tokens; a branch holds at most {MAX_TOKENS:,}")
    if not isinstance(final, str):
        raise StoreError(f"{where}: final_answer must be a string, got {_kind(final)}")
    return Branch(tuple(probes), total, final)


def _is_int(x: Any) -> bool:
    # JSON true/false load as bool, a subclass of int; a count is never a bool.
    return isinstance(x, int) and not isinstance(x, bool)


def _describe_probes(probes: Any) -> str:
    if not isinstance(probes, list):
        return _kind(probes)
    k = next(i for i, a in enumerate(probes) if type(a) is not str)
    return f"{_kind(probes[k])} at probe {k}"


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        self.key = key


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """json's object hook refusing a key given twice (json itself keeps the last one silently)."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        raise _DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _duplicate_position(text: str) -> str:
    """Where the first object with a repeated key opens: parsed again, only on that error, by json's
    pure-Python scanner, which (unlike the C one) lets us see each object's offset."""
    import json.decoder
    import json.scanner

    def parse_object(s_and_end, *args):
        try:
            return json.decoder.JSONObject(s_and_end, *args)
        except _DuplicateKey as e:
            raise _DuplicateAt(s_and_end[1] - 1) from e

    decoder = json.JSONDecoder(object_pairs_hook=_unique_keys)
    decoder.parse_object = parse_object
    decoder.scan_once = json.scanner.py_make_scanner(decoder)
    try:
        decoder.decode(text)
    except _DuplicateAt as e:
        return _line_col(text, e.offset)
    except (RecursionError, ValueError):
        pass
    return "an unknown position"


class _DuplicateAt(Exception):
    def __init__(self, offset: int) -> None:
        self.offset = offset


def _long_number_position(text: str) -> str:
    import re
    import sys

    m = re.search(r"[0-9]{%d,}" % (sys.get_int_max_str_digits() + 1), text)
    return _line_col(text, m.start()) if m else "an unknown position"


def _line_col(text: str, offset: int) -> str:
    line = text.count("\n", 0, offset) + 1
    return f"line {line} column {offset - (text.rfind(chr(10), 0, offset) + 1) + 1}"


def _kind(x: Any) -> str:
    if x is None:
        return "null"  # nothing more to show
    names = {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "an integer",
             float: "a number"}
    text = repr(x)
    return f"{names.get(type(x), type(x).__name__)} {text if len(text) <= 40 else text[:37] + '...'}"
