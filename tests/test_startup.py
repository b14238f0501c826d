"""The CLI starts quickly: heavy libraries load only in the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numba", "matplotlib", "scipy")


def _loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint('loaded:', *(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.rpartition("loaded:")[2].split()


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import ttsc.cli.main") == []


def test_check_loads_no_heavy_library(tmp_path):
    f = tmp_path / "tiny.tts"
    f.write_text("strategy tiny\nparam k: int = 3\nopen k\nstop majority(live)\n")
    code = ("from ttsc.cli.main import cli\n"
            f"try:\n    cli(['check', {str(f)!r}])\nexcept SystemExit as e:\n    assert e.code == 0, e.code")
    assert _loaded_after(code) == []
    code = code.replace("'check'", "'fmt', '--check'")
    assert _loaded_after(code.replace("assert e.code == 0, e.code", "pass")) == []


def test_help_lists_every_command_without_numba():
    code = "from ttsc.cli.main import cli\ntry:\n    cli(['--help'])\nexcept SystemExit:\n    pass"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in ("check", "compare", "compile", "eval", "fmt", "report", "sweep", "synth", "trace"):
        assert f"  {name} " in out
    assert "numba" not in _loaded_after(code)
