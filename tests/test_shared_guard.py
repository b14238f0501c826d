"""Without the shared data a run skips locally but fails under CI (CI=true), never passing quietly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

TINY = '''
def test_needs_data(shared):
    assert (shared / "replay" / "autotts").is_dir()
'''


def _pytest(tmp_path: Path, shared: Path, ci: str | None) -> subprocess.CompletedProcess:
    """Run pytest on a one-test file with this suite's conftest as a plugin, the data looked for at ``shared``."""
    test = tmp_path / "test_tiny.py"
    test.write_text(TINY)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["TTSC_SHARED"] = str(shared)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider",
                           "-p", "tests.conftest", str(test)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def _fake_shared(root: Path) -> Path:
    (root / "replay" / "autotts").mkdir(parents=True)
    (root / "reference").mkdir()
    (root / "reference" / "autotts_reference.json").write_text("[]")
    return root


def test_missing_data_fails_under_ci(tmp_path: Path) -> None:
    res = _pytest(tmp_path, tmp_path / "missing", ci="true")
    assert res.returncode != 0, res.stdout + res.stderr
    assert "CI is set and shared data is absent" in res.stdout + res.stderr
    assert "passed" not in res.stdout


def test_missing_reference_file_fails_under_ci(tmp_path: Path) -> None:
    data = _fake_shared(tmp_path / "partial")
    (data / "reference" / "autotts_reference.json").unlink()
    res = _pytest(tmp_path, data, ci="true")
    assert res.returncode != 0 and "autotts_reference.json does not exist" in res.stdout + res.stderr


def test_missing_data_skips_outside_ci(tmp_path: Path) -> None:
    res = _pytest(tmp_path, tmp_path / "missing", ci=None)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "1 skipped" in res.stdout and "shared data is absent" in res.stdout


@pytest.mark.parametrize("ci", ["true", None])
def test_data_found_through_ttsc_shared(tmp_path: Path, ci: str | None) -> None:
    res = _pytest(tmp_path, _fake_shared(tmp_path / "elsewhere"), ci=ci)
    assert res.returncode == 0 and "1 passed" in res.stdout, res.stdout + res.stderr


@pytest.mark.parametrize("ci,rc,says", [("true", 1, "ERROR: CI is set"), (None, 99, "WARNING")])
def test_ci_script_checks_the_data_first(tmp_path: Path, ci: str | None, rc: int, says: str) -> None:
    # A copy of .ci/run in a scratch checkout, with a python3 that stops the run where installing begins.
    (tmp_path / "repo" / ".ci").mkdir(parents=True)
    (tmp_path / "repo" / ".ci" / "run").write_text((ROOT / ".ci" / "run").read_text())
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python3").write_text("#!/bin/sh\nexit 99\n")
    (tmp_path / "bin" / "python3").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PATH=f"{tmp_path / 'bin'}:{os.environ['PATH']}", TTSC_SHARED=str(tmp_path / "missing"))
    if ci is not None:
        env["CI"] = ci
    res = subprocess.run(["bash", str(tmp_path / "repo" / ".ci" / "run")], env=env, capture_output=True, text=True,
                         timeout=60)
    assert res.returncode == rc and says in res.stderr, res.stderr
