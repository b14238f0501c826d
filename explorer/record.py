"""The append-only record: one JSON line per candidate, in index order, fsynced.

A kill can leave at most a partial last line; :func:`load` drops it (and cuts
the file back to the last whole line), so a resumed run re-proposes exactly
that candidate: nothing is lost or repeated.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ttsc.errors import TtscError


def load(path: Path) -> list[dict]:
    if not path.exists():
        return []
    data = path.read_bytes()
    end = data.rfind(b"\n") + 1
    if end < len(data):  # a partial line from a kill: cut it off
        with open(path, "r+b") as f:
            f.truncate(end)
    out = []
    for n, line in enumerate(data[:end].splitlines(), 1):
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            raise TtscError(f"{path}:{n}: not a JSON line; the record is damaged") from None
        if out[-1].get("index") != len(out) - 1:
            raise TtscError(f"{path}:{n}: expected candidate {len(out) - 1}, found {out[-1].get('index')}")
    return out


def append(path: Path, rec: dict) -> None:
    line = json.dumps(rec, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())
