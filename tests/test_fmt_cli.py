"""`ttsc fmt`: in-place rewrite, --check, --diff, and refusal of files that do not parse."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli

MESSY = "strategy   demo # a demo\nparam n:int=3 in 1..\n  read n   stop majority( completed )\n"
CANONICAL = "strategy demo  # a demo\n\nparam n: int = 3 in 1..\n\nread n\nstop majority(completed)\n"


def fmt(*args: str):
    return CliRunner().invoke(cli, ["fmt", *args], catch_exceptions=False)


@pytest.fixture
def messy(tmp_path: Path) -> Path:
    path = tmp_path / "demo.tts"
    path.write_text(MESSY, encoding="utf-8")
    return path


def test_rewrites_in_place(messy: Path) -> None:
    result = fmt(str(messy))
    assert result.exit_code == 0
    assert messy.read_text(encoding="utf-8") == CANONICAL
    assert f"reformatted {messy}" in result.output
    assert [p.name for p in messy.parent.iterdir()] == ["demo.tts"]  # no temporary file left behind


def test_a_canonical_file_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "ok.tts"
    path.write_text(CANONICAL, encoding="utf-8")
    os.utime(path, ns=(1_000_000_000, 1_000_000_000))
    result = fmt(str(path))
    assert result.exit_code == 0 and f"reformatted {path}" not in result.output
    assert path.stat().st_mtime_ns == 1_000_000_000


def test_check_writes_nothing_and_lists_files_that_would_change(messy: Path, tmp_path: Path) -> None:
    ok = tmp_path / "ok.tts"
    ok.write_text(CANONICAL, encoding="utf-8")
    result = fmt("--check", str(messy), str(ok))
    assert result.exit_code == 1
    assert f"would reformat {messy}" in result.output and f"would reformat {ok}" not in result.output
    assert messy.read_text(encoding="utf-8") == MESSY
    assert fmt("--check", str(ok)).exit_code == 0


def test_diff_prints_the_change_and_writes_nothing(messy: Path) -> None:
    result = fmt("--diff", str(messy))
    assert result.exit_code == 1
    assert "\n-param n:int=3 in 1..\n" in result.stdout and "\n+param n: int = 3 in 1..\n" in result.stdout
    assert f"would reformat {messy}" in result.stderr
    assert messy.read_text(encoding="utf-8") == MESSY


def test_a_file_that_does_not_parse_is_reported_and_left_alone(messy: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.tts"
    broken = "strategy bad\nparam n: int = 3\nread\n"
    bad.write_text(broken, encoding="utf-8")
    result = fmt(str(bad), str(messy))
    assert result.exit_code == 1
    assert f"--> {bad}:3:" in result.stderr and "error[E" in result.stderr
    assert "Traceback" not in result.output
    assert bad.read_text(encoding="utf-8") == broken
    assert messy.read_text(encoding="utf-8") == CANONICAL  # the other file is still formatted


def test_a_missing_file_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    result = fmt(str(tmp_path / "absent.tts"))
    assert result.exit_code == 1
    assert "cannot read file" in result.stderr and "Traceback" not in result.output


def test_permissions_and_symlinks_are_kept(messy: Path, tmp_path: Path) -> None:
    messy.chmod(0o640)
    link = tmp_path / "link.tts"
    link.symlink_to(messy)
    assert fmt(str(link)).exit_code == 0
    assert link.is_symlink() and messy.read_text(encoding="utf-8") == CANONICAL
    assert stat.S_IMODE(messy.stat().st_mode) == 0o640


def test_comments_survive_the_command(tmp_path: Path) -> None:
    path = tmp_path / "c.tts"
    path.write_text("# top\nstrategy c\nrepeat 2 { # loop\n# inside\nread 1\n# before end\n}\n# last\n",
                    encoding="utf-8")
    assert fmt(str(path)).exit_code == 0
    assert path.read_text(encoding="utf-8") == (
        "# top\nstrategy c\n\nrepeat 2 {  # loop\n    # inside\n    read 1\n    # before end\n}\n# last\n")


def test_the_shipped_strategies_and_the_docs_programs_are_formatted() -> None:
    root = Path(__file__).resolve().parents[1]
    files = sorted(root.glob("strategies/*.tts")) + sorted(root.glob("docs/**/*.tts"))
    assert len(files) > 10
    result = fmt("--check", *map(str, files))
    assert result.exit_code == 0, result.output


def test_a_shipped_name_is_checked_but_never_rewritten() -> None:
    """`cmc` names the installed strategy: --check/--diff read it; a plain fmt refuses to rewrite it."""
    from ttsc.cli.loading import shipped_strategy

    installed = shipped_strategy("cmc")
    assert installed is not None
    before = (installed.read_bytes(), installed.stat().st_mtime_ns)
    result = fmt("--check", "cmc")
    assert result.exit_code == 0 and "0 of 1 file would be reformatted" in result.output
    assert "could not" not in result.output
    assert fmt("--diff", "cmc").exit_code == 0
    result = fmt("cmc")
    assert result.exit_code == 1
    assert "`cmc` names a shipped strategy" in result.output and "give the path" in result.output
    assert "1 could not be formatted" in result.output
    assert (installed.read_bytes(), installed.stat().st_mtime_ns) == before


def test_a_file_that_fails_is_not_counted_as_fine(tmp_path: Path, messy: Path) -> None:
    result = fmt("--check", str(tmp_path / "missing.tts"), str(messy))
    assert result.exit_code == 1
    assert "cannot read file" in result.output
    assert "1 of 2 files would be reformatted; 1 could not be formatted" in result.output
