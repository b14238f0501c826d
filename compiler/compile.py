"""Compile a checked program to a Python module, with caching and a line map.

Compiling is deterministic, so modules are cached by a hash of the program
source and of ttsc's own code (``cache.code_digest``): in memory for this process, and on disk
(``$TTSC_CACHE_DIR``, default ``~/.cache/ttsc``) for the next one. The
generated source is registered in ``linecache`` under a unique name so
tracebacks and ``inspect`` show it, and errors raised while it runs are mapped
back to the ``.tts`` line.
"""

from __future__ import annotations

import hashlib
import linecache
import os
import sys
import traceback
import types
from dataclasses import dataclass

import numpy as np

from ttsc.compiler.codegen import generate
from ttsc.compiler.emit import line_map
from ttsc.dsl.checker import CheckedProgram
from ttsc.cache import cache_dir, code_digest
from ttsc.errors import TtscError

@dataclass(frozen=True)
class CompiledPolicy:
    name: str
    source_name: str
    python: str                 # the generated module's source
    line_map: dict[int, int]    # generated line -> .tts line
    module: types.ModuleType
    digest: str

    def run(self, env, params: dict, trace=None):
        """Run the policy on every episode of ``env``; errors point at the .tts line.

        ``trace``, if given, is called with an ``rt.ActionEvent`` after every action.
        """
        try:
            with np.errstate(all="ignore"):  # inf - inf is NaN by the language's rules, not a warning
                return self.module.run(env, params, trace)
        except TtscError:
            raise
        except Exception as exc:  # a bug in ttsc itself: say where in the program it surfaced
            line = self._tts_line(exc)
            where = f"{self.source_name}:{line}" if line else self.source_name
            raise TtscError(f"{where}: internal error while running the compiled policy: "
                            f"{type(exc).__name__}: {exc}") from exc

    def _tts_line(self, exc: BaseException) -> int | None:
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename == self.module.__file__ and frame.lineno in self.line_map:
                return self.line_map[frame.lineno]
        return None


_memory: dict[str, CompiledPolicy] = {}


def digest_of(checked: CheckedProgram, kind: str) -> str:
    """Cache key of ``checked``'s compiled form of ``kind``: its source and the code that compiles and runs it."""
    h = hashlib.sha256()
    for part in (kind, code_digest(), checked.source.name, checked.source.text):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:20]


def compile_program(checked: CheckedProgram, use_disk_cache: bool = True) -> CompiledPolicy:
    key = digest_of(checked, "batched")
    hit = _memory.get(key)
    if hit is not None:
        return hit
    python = _read_disk(key) if use_disk_cache else None
    if python is None:
        python = generate(checked).source
        if use_disk_cache:
            _write_disk(key, python)
    lines = line_map(python)
    policy = _load(checked, python, lines, key)
    _memory[key] = policy
    return policy


def _load(checked: CheckedProgram, python: str, line_map: dict[int, int], key: str) -> CompiledPolicy:
    filename = f"<ttsc:{checked.name}:{key[:8]}>"
    code = compile(python, filename, "exec")
    module = types.ModuleType(f"ttsc_compiled_{checked.name}_{key[:8]}")
    module.__file__ = filename
    linecache.cache[filename] = (len(python), None, python.splitlines(keepends=True), filename)
    exec(code, module.__dict__)
    return CompiledPolicy(checked.name, checked.source.name, python, line_map, module, key)


def _read_disk(key: str) -> str | None:
    try:
        return (cache_dir() / f"{key}.py").read_text(encoding="utf-8")
    except OSError:
        return None


def _write_disk(key: str, python: str) -> None:
    """Best effort: a read-only or missing cache directory only costs a recompile."""
    try:
        d = cache_dir()
        d.mkdir(parents=True, exist_ok=True)
        tmp = d / f"{key}.{os.getpid()}.tmp"
        tmp.write_text(python, encoding="utf-8")
        tmp.replace(d / f"{key}.py")
    except OSError as exc:
        if os.environ.get("TTSC_DEBUG"):
            print(f"ttsc: compile cache not written ({exc})", file=sys.stderr)
