"""Where ttsc keeps what it can rebuild, and the keys that say when a cached thing is stale.

``$TTSC_CACHE_DIR`` if set, else ``~/.cache/ttsc``. Deleting it only costs a rebuild.
Compiled modules and kernels are keyed by the program's content *and* by
:func:`code_digest`, the hash of the code that generates and runs them, so an
upgraded or edited ttsc never loads a module an older one produced.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from functools import lru_cache
from pathlib import Path

# The packages whose code decides what a compiled module says and does.
_PRODUCERS = ("ttsc", "ttsc.dsl", "ttsc.runtime", "ttsc.compiler", "ttsc.grammars")


def cache_dir() -> Path:
    base = os.environ.get("TTSC_CACHE_DIR")
    return Path(base) if base else Path.home() / ".cache" / "ttsc"


def producer_files() -> list[Path]:
    """Every source file of the packages that produce and support compiled code, in a fixed order."""
    return source_files(_PRODUCERS)


def source_files(packages: tuple[str, ...], suffixes: tuple[str, ...] = (".py", ".lark")) -> list[Path]:
    """The files with these suffixes in each package's folder (not its subpackages), in a fixed order."""
    files = []
    for package in packages:
        for folder in importlib.util.find_spec(package).submodule_search_locations or ():
            files += sorted(p for p in Path(folder).iterdir() if p.suffix in suffixes and p.is_file())
    return files


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of :func:`producer_files`: names and contents."""
    h = hashlib.sha256()
    for path in producer_files():
        h.update(f"{path.parent.name}/{path.name}\0".encode())
        h.update(path.read_bytes())
    return h.hexdigest()
