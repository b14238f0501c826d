"""Store files parsed, validated and turned into tables once, and kept on disk by their content.

A store file's JSON parse, its validation and its tables cost seconds for the
published stores, in every process. The first load writes the tables, with the
strings they refer to, to ``cache_dir()/stores/<key>.bin``; a later load of the
same bytes reads them back in milliseconds. The key is the SHA-256 of the file's
bytes and of the code that reads and tabulates stores (``store.py``,
``tables.py``, this file), so an edited store or an upgraded loader never meets a
stale entry. The cache is only an optimisation: an unreadable or corrupt entry is
rebuilt, an unwritable folder is skipped, and entries are written to a temporary
file first and renamed into place, so concurrent processes never see half of one.

A store loaded either way is a :class:`TabledStore`: its tables are ready, and
its ``questions`` (branches as Python tuples, which only the interpreter and the
tracer read) are rebuilt from the tables on first use — the same values the
file holds.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from ttsc.cache import cache_dir
from ttsc.runtime.store import Branch, Question, Store
from ttsc.runtime.tables import ReplayTables

_MAGIC = b"ttsc store tables 1\n"
_ARRAYS = ("probe_flat", "probe_start", "n_probes", "total_tokens", "final_ids", "n_branches", "probe_freq",
           "gold_ids")
_SIGNAL_ARRAYS = ("conf_flat", "conf_start")  # present when the store carries the `confidence` signal


class TabledStore(Store):
    """A store with its :class:`ReplayTables`; ``questions`` are built from them when first read."""

    def __init__(self, name: str, path: str, meta: dict[str, Any], tables: ReplayTables, texts: list[str],
                 questions: tuple[Question, ...] | None = None):
        for key, value in (("name", name), ("path", path), ("meta", meta), ("tables", tables), ("_texts", texts),
                           ("_questions", questions)):
            object.__setattr__(self, key, value)  # a frozen dataclass

    @property
    def questions(self) -> tuple[Question, ...]:
        if self._questions is None:
            object.__setattr__(self, "_questions", _questions(self.tables, self._texts))
        return self._questions

    @property
    def signals(self) -> frozenset[str]:  # from the tables: reading it does not rebuild the questions
        return frozenset({"confidence"}) if self.tables.conf_flat is not None else frozenset()

    def __eq__(self, other: object) -> bool:  # equal to a plain Store with the same contents
        if not isinstance(other, Store):
            return NotImplemented
        return ((self.name, self.path, self.questions, self.meta)
                == (other.name, other.path, other.questions, other.meta))


def _questions(t: ReplayTables, texts: list[str]) -> tuple[Question, ...]:
    """The questions the tables were built from: each branch's probes are its ids looked up in the vocabulary."""
    out = []
    for q, vocab in enumerate(t.vocab):
        k = int(t.n_branches[q])
        lengths = t.n_probes[q, :k].tolist()
        start = int(t.probe_start[q, 0]) if k else 0
        answers = [vocab[i] for i in t.probe_flat[start:start + sum(lengths)].tolist()]
        conf = ([tuple(t.conf_flat[s:s + n + 1].tolist()) for s, n in zip(t.conf_start[q, :k].tolist(), lengths)]
                if t.conf_flat is not None else [None] * k)
        branches, at = [], 0
        for n, total, final, c in zip(lengths, t.total_tokens[q, :k].tolist(), t.final_ids[q, :k].tolist(), conf):
            branches.append(Branch(tuple(answers[at:at + n]), total, vocab[final], c))
            at += n
        out.append(Question(text=texts[q], gold=t.golds[q], probe_freq=int(t.probe_freq[q]),
                            branches=tuple(branches)))
    return tuple(out)


def tabled(store: Store, key: str) -> TabledStore:
    """``store``, just parsed from the file whose :func:`key` is ``key``, with its tables; written to the
    cache for the next load."""
    tables = ReplayTables.from_store(store)
    texts = [q.text for q in store.questions]
    partial = tables.conf_flat is None and any(b.confidence is not None for q in store.questions for b in q.branches)
    if not partial:  # confidences on only some questions are not in the tables: such a store is not cached
        _save(key, tables, texts, store.meta)
    out = TabledStore(store.name, store.path, store.meta, tables, texts, store.questions)
    if not partial:
        remember(key, out)
    return out


# The stores this process loaded last, by (key, name, path): loading the same bytes again returns the same
# object, whose per-store data the engines keep (a `ttsc daemon` serves every command from one process).
_recent: dict[tuple[str, str, str], TabledStore] = {}
RECENT = 32


def cached(key: str, name: str, path: str) -> TabledStore | None:
    """The store whose file has :func:`key` ``key``, from memory or the cache; None when neither has it."""
    hit = _recent.pop((key, name, path), None)
    if hit is None:
        hit = read_entry(key, name, path)
    if hit is not None:
        remember(key, hit)
    return hit


def remember(key: str, store: TabledStore) -> None:
    _recent[(key, store.name, store.path)] = store  # the most recent last
    while len(_recent) > RECENT:
        _recent.pop(next(iter(_recent)))


def forget() -> None:
    """Drop the stores held in memory (the next loads read the cache folder)."""
    _recent.clear()


def read_entry(key: str, name: str, path: str) -> TabledStore | None:
    """The cache folder's entry for ``key``; None when it holds no readable one."""
    try:
        with open(_entry(key), "rb") as f:
            data = bytearray(os.fstat(f.fileno()).st_size)  # writable: numba compiles read-only arrays apart
            if f.readinto(data) != len(data) or not data.startswith(_MAGIC):
                return None
        size = int.from_bytes(data[len(_MAGIC):len(_MAGIC) + 8], "little")
        body = len(_MAGIC) + 8 + size
        head = json.loads(data[len(_MAGIC) + 8:body].decode("utf-8"))
        arrays = {}
        for k in _ARRAYS + tuple(a for a in _SIGNAL_ARRAYS if a in head["arrays"]):
            dtype, shape, offset = head["arrays"][k]
            count = math.prod(shape)
            if body + offset + count * np.dtype(dtype).itemsize > len(data):
                return None
            arrays[k] = np.frombuffer(data, dtype=dtype, count=count, offset=body + offset).reshape(shape)
        tables = ReplayTables(vocab=head["vocab"], golds=head["golds"], **arrays)
        return TabledStore(name, path, head["meta"], tables, head["texts"])
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):  # unreadable or corrupt: rebuilt
        return None


def _save(key: str, t: ReplayTables, texts: list[str], meta: dict[str, Any]) -> None:
    """One file: a magic line, the length of a JSON head (strings, and each array's dtype, shape and
    offset), the head, then the arrays' bytes, each 8-byte aligned."""
    chunks, places, offset = [], {}, 0
    for k in _ARRAYS + tuple(a for a in _SIGNAL_ARRAYS if getattr(t, a) is not None):
        a = np.ascontiguousarray(getattr(t, k))
        places[k] = (a.dtype.str, list(a.shape), offset)
        pad = -a.nbytes % 8
        chunks += [a.tobytes(), bytes(pad)]
        offset += a.nbytes + pad
    head = json.dumps({"arrays": places, "vocab": t.vocab, "golds": t.golds, "texts": texts, "meta": meta})
    head_bytes = head.encode("utf-8")
    head_bytes += b" " * (-(len(_MAGIC) + 8 + len(head_bytes)) % 8)  # the arrays start 8-byte aligned
    path = _entry(key)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "wb") as f:
            f.write(_MAGIC + len(head_bytes).to_bytes(8, "little") + head_bytes)
            f.writelines(chunks)
        os.replace(tmp, path)  # atomic: a reader sees no entry or a whole one
    except OSError:  # a read-only or full cache folder: the next load parses the file again
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _entry(key: str) -> Path:
    return cache_dir() / "stores" / f"{key}.bin"


def key(raw: bytes) -> str:
    """The cache key of a store file's bytes."""
    h = hashlib.sha256(_code_digest().encode())
    h.update(raw)
    return h.hexdigest()


@lru_cache(maxsize=1)
def _code_digest() -> str:
    """The code that decides what a store's entry holds."""
    h = hashlib.sha256()
    for module in ("store.py", "tables.py", "store_cache.py"):
        h.update((Path(__file__).parent / module).read_bytes())
    return h.hexdigest()
