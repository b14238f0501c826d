"""The CLI starts quickly: heavy libraries load only in the commands that use them."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("numba", "matplotlib", "scipy")
# What `check` and `fmt` need is the parser, the checker and click: not arrays, terminal rendering or a
# validating model library (each cost more than parsing and checking a small program).
NOT_FOR_CHECK = HEAVY + ("numpy", "rich")


def _loaded_after(code: str, watched: tuple[str, ...] = HEAVY) -> list[str]:
    probe = f"import sys\n{code}\nprint('loaded:', *(m for m in {watched!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return out.stdout.rpartition("loaded:")[2].split()


def test_importing_the_cli_loads_no_heavy_library():
    assert _loaded_after("import ttsc.cli.main") == []


def _cli(args: list[str], exit_code: int | None) -> str:
    """Code that runs the CLI in-process with ``args`` and checks its exit status (None: any)."""
    check = "pass" if exit_code is None else f"assert e.code == {exit_code}, e.code"
    return f"from ttsc.cli.main import cli\ntry:\n    cli({args!r})\nexcept SystemExit as e:\n    {check}"


def test_check_loads_no_heavy_library(tmp_path):
    f = tmp_path / "tiny.tts"
    f.write_text("strategy tiny\nparam k: int = 3\nopen k\nstop majority(live)\n")
    assert _loaded_after(_cli(["check", str(f)], 0), NOT_FOR_CHECK) == []
    assert _loaded_after(_cli(["fmt", "--check", str(f)], None), NOT_FOR_CHECK) == []


def test_check_of_a_failing_program_loads_no_heavy_library(tmp_path):
    """Rendering diagnostics (spans, suggestions) stays light too."""
    f = tmp_path / "bad.tts"
    f.write_text("strategy bad\nparam k: int = 3\nopen kk\nstop majority(live\n")
    assert _loaded_after(_cli(["check", str(f)], 1), NOT_FOR_CHECK) == []


def test_help_lists_every_command_without_numba():
    code = "from ttsc.cli.main import cli\ntry:\n    cli(['--help'])\nexcept SystemExit:\n    pass"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    for name in ("check", "compare", "compile", "eval", "fmt", "report", "sweep", "synth", "trace"):
        assert f"  {name} " in out
    assert "numba" not in _loaded_after(code)


def test_a_quiet_eval_loads_no_terminal_rendering():
    """With --quiet (or no terminal) there is no progress bar to draw; csv output needs no tables."""
    code = ("from ttsc.cli.main import cli\n"
            "try:\n    cli(['eval', 'sc', '--seeds', '1', '--engine', 'interpret', '--quiet', '--format', 'csv'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code")
    assert _loaded_after(code, ("rich",)) == []


def test_running_a_kernel_does_not_import_blas_bindings():
    """numba's first kernel load would import SciPy's BLAS bindings (~1 s) to learn what no kernel uses;
    they stay unimported, and importing them afterwards still works."""
    code = ("import sys\nfrom ttsc.cli.main import cli\n"
            "try:\n    cli(['eval', 'sc', '--seeds', '2', '--quiet', '--format', 'csv'])\n"
            "except SystemExit as e:\n    assert e.code == 0, e.code\n"
            "print('kernel ran:', 'numba.np.arraymath' in sys.modules)\n"
            "print('blas loaded:', 'scipy.linalg.cython_blas' in sys.modules)\n"
            "import scipy.linalg.cython_blas\nprint('blas importable: True')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "kernel ran: True" in out and "blas loaded: False" in out and "blas importable: True" in out
