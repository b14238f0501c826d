"""Shared test setup: the repository root on sys.path and the ``../shared`` data folder."""

from __future__ import annotations

import functools
import os
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ is not installed with the package; tests import it from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Replay stores and reference numbers live beside the repository, never in it;
# TTSC_SHARED points elsewhere (the same rule as the benchmarks').
from benchmarks.shared import SHARED as _SHARED  # noqa: E402

SHARED = _SHARED.resolve()
# In CI the data is part of the contract: a run without it must fail, not skip.
IN_CI = os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def shared_missing() -> str | None:
    """Why the shared data cannot be used, or None when the stores and reference numbers are there."""
    for need in (SHARED / "replay" / "autotts", SHARED / "reference" / "autotts_reference.json"):
        if not need.exists():
            return f"shared data is absent: {need} does not exist (set TTSC_SHARED to its folder)"
    return None


def pytest_sessionstart(session: pytest.Session) -> None:
    """Under CI, refuse to start without the shared data: hundreds of skips would read as a green run."""
    why = shared_missing()
    if IN_CI and why:
        raise pytest.UsageError(f"CI is set and {why}")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The shared data folder; tests that use it skip where it is absent, and fail under CI."""
    why = shared_missing()
    if why:
        if IN_CI:
            pytest.fail(f"CI is set and {why}", pytrace=False)
        pytest.skip(why)
    return SHARED


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--update-goldens", action="store_true", default=False,
                     help="rewrite golden files (tests/golden/) from the current output instead of comparing")


@pytest.fixture(scope="session")
def update_goldens(request: pytest.FixtureRequest) -> bool:
    """True under ``pytest --update-goldens``: golden tests write their files and pass."""
    return bool(request.config.getoption("--update-goldens"))


def check_golden(path: Path, text: str, update: bool, what: str) -> None:
    """Compare ``text`` with the golden file ``path``, or (under ``--update-goldens``) rewrite it."""
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"missing golden {path}; run pytest --update-goldens"
    assert text == path.read_text(encoding="utf-8"), f"{what} changed; review it and run pytest --update-goldens"


@pytest.fixture(scope="session", autouse=True)
def _private_cache_dir(tmp_path_factory: pytest.TempPathFactory):
    """Compiled modules and the parser tables go to a temporary folder, not the user's ~/.cache."""
    import os

    old = os.environ.get("TTSC_CACHE_DIR")
    os.environ["TTSC_CACHE_DIR"] = str(tmp_path_factory.mktemp("ttsc-cache"))
    yield
    if old is None:
        os.environ.pop("TTSC_CACHE_DIR", None)
    else:
        os.environ["TTSC_CACHE_DIR"] = old


@functools.cache
def synthetic_store_path() -> Path:
    """The synthetic store `ttsc synth` makes by default (20 questions × 64 branches, Δ = 500, seed 0), written
    once per process: the large, varied store the engine and explorer tests run on (the bundled default
    store is a small real collection)."""
    from ttsc.runtime.synth import dumps_store, generate_store

    path = Path(tempfile.mkdtemp(prefix="ttsc-synthetic-")) / "default.json"
    path.write_text(dumps_store(generate_store()), encoding="utf-8")
    return path
