"""Where ttsc keeps what it can rebuild: compiled modules and the parser tables.

``$TTSC_CACHE_DIR`` if set, else ``~/.cache/ttsc``. Deleting it only costs a rebuild.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    base = os.environ.get("TTSC_CACHE_DIR")
    return Path(base) if base else Path.home() / ".cache" / "ttsc"
