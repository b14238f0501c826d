"""Hostile input to `ttsc check`: each gets a located message and exit 1, never a traceback.

Files are written to tmp_path and checked through the click command in-process
(the same code path as the installed `ttsc`, without a process start per case).
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from ttsc.cli.main import cli
from ttsc.dsl.checker import check
from ttsc.dsl.parser import MAX_EXPR_DEPTH, MAX_NESTING, decode_source, parse_source

H = "strategy t\n"


def _runner() -> CliRunner:
    # click < 8.2 mixes stderr into stdout unless told not to; later versions always keep both.
    try:
        return CliRunner(mix_stderr=False)
    except TypeError:
        return CliRunner()
LOCATION = re.compile(r"^\s*--> (?P<file>.+):(?P<line>\d+):(?P<col>\d+)$", re.M)


def ttsc_check(path: Path, *args: str) -> tuple[int, str]:
    result = _runner().invoke(cli, ["check", *args, str(path)])
    # A bug escaping as an exception would land in result.exception, not the output.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def assert_refused(path: Path, code: str, line: int | None = None, col: int | None = None) -> str:
    rc, out = ttsc_check(path)
    assert rc == 1, out
    assert "Traceback" not in out
    assert f"error[{code}]" in out, out[:2000]
    where = LOCATION.search(out)
    assert where is not None and where["file"] == str(path), out[:2000]
    if line is not None:
        assert int(where["line"]) == line, out[:2000]
    if col is not None:
        assert int(where["col"]) == col, out[:2000]
    assert out.rstrip().endswith(f"{path} was not accepted")
    return out


TEXT_CASES = {
    # name: (file text, code, line, col)
    "empty": ("", "E0003", 1, 1),
    "whitespace": ("  \n\t\n   \n", "E0003", 1, 1),
    "comments-only": ("# just a comment\n\n   # another\n", "E0003", 1, 1),
    "python": ('import os\nos.system("rm -rf /")\n', "E0101", 1, 1),
    "python-after-header": (H + 'import os\nos.system("rm -rf /")\n', "E0101", 2, 1),
    "dunder-import": (H + 'stop __import__("os")\n', "E0205", 2, 6),
    "dunder-import-name": (H + "stop __import__\n", "E0201", 2, 6),
    "dunder-builtins": (H + "let x = __builtins__\nstop none\n", "E0201", 2, 9),
    "dunder-declared": (H + "var __class__: int = 0\nstop none\n", "E0211", 2, 5),
    "gold-answer": (H + "stop gold_answer\n", "E0201", 2, 6),
    "gold": (H + "stop gold\n", "E0201", 2, 6),
    "gold-vote": (H + "stop if votes(completed, gold) > 0 then none else none\n", "E0201", 2, 26),
    "gold-call": (H + "stop gold(completed)\n", "E0205", 2, 6),
    "final-answer": (H + "stop majority(live where final_answer != none)\n", "E0201", 2, 26),
    "total-tokens": (H + "prune active where total_tokens > 5000\n", "E0201", 2, 20),
    "probes": (H + "let p = probes\nstop none\n", "E0201", 2, 9),
    "unterminated-string": (H + 'stop "abc', "E0102", 2, 6),
    "long-literal": (H + "let x = " + "7" * 5000 + "\nstop none\n", "E0104", 2, 9),
    "long-float": (H + "let x = 1." + "5" * 5000 + "\nstop none\n", "E0104", 2, 9),
    "paren-nesting": (H + "let x = " + "(" * 10_000 + "1" + ")" * 10_000 + "\n", "E0004", 2, 9 + MAX_NESTING),
    "if-nesting": (H + "if true {\n" * 10_000 + "stop none\n" + "}\n" * 10_000, "E0004", 2 + MAX_NESTING, 9),
    "unbalanced-close": (H + ")" * 10_000 + "\n", "E0101", 2, 1),
    "long-chain": (H + "let x = " + " + ".join(["1"] * 20_000) + "\nstop none\n", "E0002", 2, None),
    "deep-chain": (H + "let x = " + " + ".join(["1"] * 5_000) + "\nstop none\n", "E0004", 2, 9),
    "deep-unary": (H + "let x = " + "-" * 5_000 + "1\nstop none\n", "E0004", 2, 9),
    "deep-not": (H + "let x = " + "not " * 5_000 + "true\nstop none\n", "E0004", 2, 9),
    "deep-ifexp": (H + "let x = " + "if true then 1 else " * 2_000 + "0\nstop none\n", "E0004", 2, 9),
    "deep-where": (H + "prune active" + " where true" * 2_000 + "\n", "E0004", 2, 7),
    "many-statements": (H + "stop none\n" * 10_000, "E0002", None, None),
    "keyword-soup": (H + "if if if repeat stop stop\n", "E0101", 2, 10),
    "escape-sequences": (H + "stop \x1b]0;owned\x07none\n", "E0102", 2, 6),
}


@pytest.mark.parametrize("name", TEXT_CASES)
def test_hostile_text(name: str, tmp_path: Path) -> None:
    text, code, line, col = TEXT_CASES[name]
    path = tmp_path / f"{name}.tts"
    path.write_text(text, encoding="utf-8")
    out = assert_refused(path, code, line, col)  # how fast: python -m benchmarks.timings
    assert "\x1b" not in out and "\x07" not in out


def test_nesting_at_the_limit_is_accepted() -> None:
    # The limits refuse only what is past them: the deepest allowed program checks and is valid.
    text = (H + "if true {\n" * (MAX_NESTING - 1) + "let y = " + " + ".join(["1"] * (MAX_EXPR_DEPTH + 1))
            + "\nstop none\n" + "}\n" * (MAX_NESTING - 1) + "stop none\n")
    src = decode_source(text.encode(), "deep.tts")
    check(parse_source(src), src)


def test_binary_input(tmp_path: Path) -> None:
    rng = random.Random(7)
    for i in range(5):
        data = bytes(rng.randrange(256) for _ in range(4096)) + b"\x00\x00"
        path = tmp_path / f"random{i}.tts"
        path.write_bytes(data)
        assert_refused(path, "E0001")


def test_nul_in_valid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "nul.tts"
    path.write_bytes(b"strategy t\nstop\x00none\n")
    assert_refused(path, "E0001", 2, 5)


def test_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.tts"
    path.write_bytes("strategy t\n# caf\u00e9\nstop none\n".encode("latin-1"))
    out = assert_refused(path, "E0001", 2, 6)
    assert "0xe9" in out


def test_utf8_bom_and_unicode_names(tmp_path: Path) -> None:
    bom = tmp_path / "bom.tts"
    bom.write_bytes(b"\xef\xbb\xbfstrategy t\nstop none\n")
    assert ttsc_check(bom) == (0, f"ok: {bom}\n")  # a leading byte-order mark is not part of the program
    bom.write_bytes(b"strategy t\n\xef\xbb\xbfstop none\n")  # elsewhere it is a stray character
    assert_refused(bom, "E0102", 2, 1)
    greek = tmp_path / "greek.tts"
    greek.write_text(H + "let \u03b2 = 1\nstop none\n", encoding="utf-8")
    assert_refused(greek, "E0102", 2, 5)


def test_multi_megabyte_file(tmp_path: Path) -> None:
    path = tmp_path / "big.tts"
    path.write_text(H + "# padding\n" * 300_000 + "stop none\n", encoding="utf-8")
    out = assert_refused(path, "E0002", 1, 1)
    assert "bytes" in out


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "folder.tts"
    folder.mkdir()
    out = assert_refused(folder, "E0001", 1, 1)
    assert "cannot read" in out


def test_missing_file(tmp_path: Path) -> None:
    out = assert_refused(tmp_path / "nope.tts", "E0001", 1, 1)
    assert "No such file" in out


def test_mixed_hostile_and_valid_files(tmp_path: Path) -> None:
    good = tmp_path / "good.tts"
    good.write_text(H + "read 4\nstop majority(completed)\n", encoding="utf-8")
    bad = tmp_path / "bad.tts"
    bad.write_bytes(b"\xff\xfe\x00")
    result = _runner().invoke(cli, ["check", str(good), str(bad), str(tmp_path / "missing.tts")])
    assert result.exit_code == 1
    assert f"ok: {good}" in result.stdout
    assert result.stderr.count("error[E0001]") == 2
    assert "Traceback" not in result.output


def test_mutated_strategies_never_crash() -> None:
    """Seeded token-level mutations of the reference strategies: refused with diagnostics or accepted,
    never an exception of another kind."""
    from ttsc.dsl.diagnostics import DiagnosticError

    root = Path(__file__).resolve().parents[1]
    sources = [p.read_text(encoding="utf-8") for p in sorted((root / "strategies").glob("*.tts"))]
    token = re.compile(r"#[^\n]*|[A-Za-z_]\w*|\d+(?:\.\d+)?|//|==|!=|<=|>=|\.\.|\S")
    vocab = sorted({t for s in sources for t in token.findall(s) if not t.startswith("#")}) + [
        '"', "$", "gold", "__x", "99999999999999999", "1.5", "-", "in", "..", "true", "none"]
    rng = random.Random(2024)
    outcomes = {"accepted": 0, "refused": 0}
    for _ in range(300):
        toks = [t for t in token.findall(rng.choice(sources)) if not t.startswith("#")]
        for _ in range(rng.randint(1, 3)):
            k = rng.randrange(len(toks))
            roll = rng.random()
            if roll < 0.35:
                del toks[k]
            elif roll < 0.7:
                toks.insert(k, rng.choice(vocab))
            else:
                toks[k] = rng.choice(vocab)
        src = decode_source(" ".join(toks).encode(), "mutant.tts")
        try:
            check(parse_source(src), src)
            outcomes["accepted"] += 1
        except DiagnosticError as err:
            assert err.diagnostics and all(d.span.line >= 1 and d.span.col >= 1 for d in err.diagnostics)
            err.render()
            outcomes["refused"] += 1
    assert outcomes["refused"] > 200
