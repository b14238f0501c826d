"""Where the benchmarks find the shared data: $TTSC_SHARED if set (as for the tests), else ../shared."""

from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("TTSC_SHARED") or ROOT.parent / "shared")
STORES = SHARED / "replay" / "autotts"
