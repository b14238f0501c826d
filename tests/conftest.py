"""Shared test setup: the repository root on sys.path and the ``../shared`` data folder."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# benchmarks/ is not installed with the package; tests import it from the checkout.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Replay stores and reference numbers live beside the repository, never in it.
SHARED = ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared() -> Path:
    """The ``../shared`` folder; tests that use it skip where it is absent (CI has it)."""
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent (looked for {SHARED})")
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
