"""Table 1 of the paper: its cells, reproducing them, and judging each result.

A cell is one (model, benchmark, method) with two printed numbers: accuracy
with one decimal and kilotokens printed as ``int(avg_tokens) / 1000`` with one
decimal (semantics.md §6). A cell is reproduced when both strings equal what
the paper prints. In six cells the paper itself disagrees with the published
code; the code's own output (``autotts_reference.json``) tells which, so those
cells are found by comparison, not listed by hand, and there the code's
numbers are what ttsc must give.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from ttsc.dsl.checker import CheckedProgram, check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.compiler.engines import run
from ttsc.runtime.params import bind_params
from ttsc.runtime.store import Store, load_store

SEARCH_SET = "aime24"  # the benchmark the strategies were tuned on; the others are held out

MATCH, PAPER_DIFFERS, MISMATCH = "match", "paper_differs", "mismatch"


def format_accuracy(accuracy: float) -> str:
    return f"{accuracy:.1f}"


def format_kilotokens(avg_tokens: float) -> str:
    """The paper's rule: truncate to whole tokens, then /1000 printed with .1f (406250 → "406.2")."""
    return f"{int(avg_tokens) / 1000:.1f}"


@dataclass(frozen=True)
class Cell:
    """One cell of the paper's table, as printed."""

    model: str
    dataset: str
    label: str
    method: str
    params: dict[str, Any]
    accuracy: float
    kilotokens: float

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.model, self.dataset, self.method, canonical_params(self.params)

    @property
    def printed(self) -> tuple[str, str]:
        return format_accuracy(self.accuracy), f"{self.kilotokens:.1f}"

    @property
    def name(self) -> str:
        return f"{self.model} {self.dataset} {self.label}"


@dataclass(frozen=True)
class Measured:
    """A strategy's score on one store, at full precision."""

    accuracy: float
    avg_tokens: float
    avg_sequential_tokens: float | None = None
    seconds: float | None = None

    @property
    def printed(self) -> tuple[str, str]:
        return format_accuracy(self.accuracy), format_kilotokens(self.avg_tokens)


@dataclass(frozen=True)
class CellResult:
    """A paper cell, what ttsc measured, and what the published code gave (when known)."""

    cell: Cell
    ours: Measured
    code: Measured | None = None

    @property
    def paper_differs_from_code(self) -> bool:
        return self.code is not None and self.code.printed != self.cell.printed

    @property
    def status(self) -> str:
        # Where the paper disagrees with its own code, the code's numbers are the contract.
        target = self.code.printed if self.paper_differs_from_code else self.cell.printed
        if self.ours.printed != target:
            return MISMATCH
        return PAPER_DIFFERS if self.paper_differs_from_code else MATCH


@dataclass(frozen=True)
class Summary:
    reproduced: int       # cells where the paper matches its code and ttsc matches both
    expected: int         # cells where the paper matches its code
    paper_differs: int    # cells where the paper differs from its code (marked †)
    code_reproduced: int  # of those, where ttsc gives the code's numbers
    mismatches: tuple[CellResult, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def line(self) -> str:
        text = f"{self.reproduced}/{self.expected} cells reproduced"
        if self.paper_differs:
            text += (f"; {self.paper_differs} cells differ in the paper itself (marked †), where ttsc gives "
                     f"the published code's numbers in {self.code_reproduced}/{self.paper_differs}")
        if self.mismatches:
            text += f"; {len(self.mismatches)} UNEXPECTED MISMATCH{'ES' if len(self.mismatches) > 1 else ''}"
        return text


def summarize(results: Sequence[CellResult]) -> Summary:
    differs = [r for r in results if r.paper_differs_from_code]
    return Summary(
        reproduced=sum(r.status == MATCH for r in results),
        expected=len(results) - len(differs),
        paper_differs=len(differs),
        code_reproduced=sum(r.status == PAPER_DIFFERS for r in results),
        mismatches=tuple(r for r in results if r.status == MISMATCH),
    )


def canonical_params(params: dict[str, Any]) -> str:
    """A key that equates 1 and 1.0, so the paper's and the code's settings line up."""
    norm = {k: (float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else v) for k, v in params.items()}
    return json.dumps(norm, sort_keys=True)


# ---- inputs

def _read_json(path: Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as e:
        raise TtscError(f"{path}: cannot read {what}: {e.strerror or e}") from None
    except json.JSONDecodeError as e:
        raise TtscError(f"{path}: {what} is not valid JSON: {e.msg} at line {e.lineno}") from None


def load_cells(path: str | os.PathLike[str]) -> list[Cell]:
    """The paper's table (``paper_table1.json``: ``{"rows": [...]}``), in its order."""
    data = _read_json(Path(path), "the paper's table")
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list) or not rows:
        raise TtscError(f"{path}: expected an object with a non-empty list 'rows'")
    cells = []
    for i, r in enumerate(rows):
        try:
            cells.append(Cell(model=str(r["model"]), dataset=str(r["dataset"]), label=str(r["label"]),
                              method=str(r["method"]), params=dict(r["params"]), accuracy=float(r["accuracy"]),
                              kilotokens=float(r["kilotokens"])))
        except (KeyError, TypeError, ValueError) as e:
            raise TtscError(f"{path}: row {i}: needs model, dataset, label, method, params, accuracy, "
                            f"kilotokens ({type(e).__name__}: {e})") from None
    return cells


def load_code_reference(path: str | os.PathLike[str]) -> dict[tuple[str, str, str, str], Measured]:
    """The published code's numbers (``autotts_reference.json``), keyed like :attr:`Cell.key`."""
    data = _read_json(Path(path), "the reference numbers")
    if not isinstance(data, list):
        raise TtscError(f"{path}: expected a JSON list of reference rows")
    out = {}
    for i, r in enumerate(data):
        try:
            key = (r["model"], r["dataset"], r["method"], canonical_params(r["params"]))
            out[key] = Measured(accuracy=float(r["accuracy"]), avg_tokens=float(r["avg_tokens"]))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise TtscError(f"{path}: row {i}: needs model, dataset, method, params, accuracy, avg_tokens "
                            f"({type(e).__name__}: {e})") from None
    return out


def select(cells: Sequence[Cell], only: Iterable[str] = ()) -> list[Cell]:
    """Cells whose model, dataset, method or label matches every ``only`` term (case-insensitive).

    A term may list alternatives with commas: ``--only sc,asc --only Qwen3-8B``.
    """
    chosen = list(cells)
    for term in only:
        alts = {a.strip().lower() for a in term.split(",") if a.strip()}
        chosen = [c for c in chosen if alts & {c.model.lower(), c.dataset.lower(), c.method.lower(), c.label.lower()}]
    if not chosen:
        raise TtscError(f"no Table 1 cell matches {' and '.join(repr(t) for t in only)}")
    return chosen


# ---- running

def store_path(stores_dir: str | os.PathLike[str], cell: Cell) -> Path:
    return Path(stores_dir) / cell.model / f"{cell.dataset}.json"


@lru_cache(maxsize=None)
def _program(method: str) -> CheckedProgram:
    path = resources.files("ttsc.strategies").joinpath(f"{method}.tts")
    if not path.is_file():
        raise TtscError(f"no reference strategy `{method}` (looked for strategies/{method}.tts)")
    src = read_source(str(path))
    return check(parse_source(src), src)


@lru_cache(maxsize=4)  # one worker handles a few stores in turn; cells arrive grouped by store
def _store(path: str) -> Store:
    return load_store(path)


def measure(cell: Cell, store: Store, seeds: int, engine: str) -> Measured:
    checked = _program(cell.method)
    out = run(checked, bind_params(checked, cell.params), store, range(seeds), engine=engine)
    return Measured(out.accuracy, out.avg_tokens, out.avg_sequential_tokens, out.seconds)


def _measure_job(job: tuple[Cell, str, int, str]) -> Measured:
    cell, path, seeds, engine = job
    return measure(cell, _store(path), seeds, engine)


def reproduce(cells: Sequence[Cell], stores_dir: str | os.PathLike[str], *, seeds: int = 100,
              engine: str = "interpret", code: dict | None = None, jobs: int = 1,
              progress: Callable[[CellResult], None] | None = None) -> list[CellResult]:
    """Run every cell's strategy on its store; results in the order of ``cells``.

    ``jobs`` > 1 runs cells in that many processes (each cell is independent).
    """
    paths = [store_path(stores_dir, c) for c in cells]
    missing = sorted({str(p) for p in paths if not p.is_file()})
    if missing:
        raise TtscError(f"missing replay store{'s' if len(missing) > 1 else ''}: {', '.join(missing)}")
    for c in cells:
        _program(c.method)  # fail on an unknown method before any long run
    code = code or {}
    jobs_in = [(c, str(p), seeds, engine) for c, p in zip(cells, paths)]
    results: list[CellResult] = []

    def done(cell: Cell, m: Measured) -> None:
        r = CellResult(cell, m, code.get(cell.key))
        results.append(r)
        if progress is not None:
            progress(r)

    if jobs <= 1:
        for job in jobs_in:
            done(job[0], _measure_job(job))
        return results
    # spawn, not fork: a fresh interpreter per worker shares no threads or locks with this process
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
        for job, m in zip(jobs_in, pool.map(_measure_job, jobs_in)):
            done(job[0], m)
    return results
