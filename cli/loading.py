"""Shared by the commands: load a program, bind parameters, load stores."""

from __future__ import annotations

import contextlib
import itertools
import math
from importlib import resources
from pathlib import Path

import click

from ttsc.dsl.checker import CheckedProgram, check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.runtime.params import Value, parse_value
from ttsc.runtime.store import Store, default_store_path, load_store, load_stores


def load_program(path: str | Path, warn: bool = True) -> CheckedProgram:
    """Parse and check one .tts file; raises DiagnosticError (a TtscError) with every problem. Its
    warnings go to stderr unless ``warn`` is false (the caller reports them)."""
    src = read_source(path)
    checked = check(parse_source(src), src)
    if warn:
        for w in checked.warnings:
            click.echo(w.render(src) + "\n", err=True)
    return checked


def parse_sets(items: tuple[str, ...]) -> dict[str, Value]:
    out: dict[str, Value] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not name.strip():
            raise TtscError(f"--set takes NAME=VALUE, got `{item}`")
        out[name.strip()] = _value("--set", item, value)
    return out


def _value(option: str, item: str, text: str) -> Value:
    """parse_value, with the option and argument named in its error."""
    try:
        return parse_value(text)
    except TtscError as exc:
        shown = item if len(item) <= 60 else f"{item[:40]}…"
        raise TtscError(f"{option} {shown}: {exc}") from None


MAX_VALUES = 10_000  # per --sweep: a typo like 0:1:1e-9 should fail, not run for a week


def parse_sweeps(items: tuple[str, ...]) -> list[dict[str, Value]]:
    """The cartesian product of every ``--sweep NAME=SPEC`` (see :func:`parse_spec`), in the order given."""
    axes: list[tuple[str, list[Value]]] = []
    for item in items:
        name, eq, values = item.partition("=")
        if not eq or not name.strip() or not values.strip():
            raise TtscError(f"--sweep takes NAME=V1,V2,... or NAME=START:STOP:STEP, got `{item}`")
        axes.append((name.strip(), parse_spec(name.strip(), values)))
    if len({n for n, _ in axes}) != len(axes):
        raise TtscError("each parameter can be swept once")
    return [dict(zip([n for n, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]


def parse_spec(name: str, spec: str) -> list[Value]:
    """``2,4,8`` → [2, 4, 8]; ``0:1:0.25`` → [0.0, 0.25, 0.5, 0.75, 1.0] (stop included when reached)."""
    spec = spec.strip()
    if ":" not in spec:
        texts = spec.split(",")
        if not all(v.strip() for v in texts):
            raise TtscError(f"--sweep {name}={spec}: an empty value between commas")
        return [_value("--sweep", f"{name}={spec}", v) for v in texts]
    parts = spec.split(":")
    if len(parts) != 3 or not all(p.strip() for p in parts):
        raise TtscError(f"--sweep {name}={spec}: a range is start:stop:step, e.g. 0:1:0.1")
    start, stop, step = (_value("--sweep", f"{name}={spec}", p) for p in parts)
    if any(isinstance(v, bool) for v in (start, stop, step)):
        raise TtscError(f"--sweep {name}={spec}: a range needs numbers")
    if step <= 0:
        raise TtscError(f"--sweep {name}={spec}: the step must be positive")
    if stop < start:
        raise TtscError(f"--sweep {name}={spec}: stop is below start")
    count = math.floor((stop - start) / step) + 1
    if start + count * step <= stop + 1e-9:  # (stop - start) / step fell just short of a whole number
        count += 1
    if count > MAX_VALUES:
        raise TtscError(f"--sweep {name}={spec} gives {count:,} values; at most {MAX_VALUES:,}")
    ints = isinstance(start, int) and isinstance(step, int)
    return [start + i * step if ints else round(start + i * step, 10) for i in range(count)]


def expand_store_paths(param, values: tuple[str, ...], files_only: bool = False) -> tuple[str, ...]:
    """A click callback: each value a path or a glob pattern, expanded here (sorted) so that it can be quoted
    and so that it works where no shell expands it."""
    import glob

    out = []
    for v in values:
        hits = [v] if Path(v).exists() or not glob.has_magic(v) else sorted(glob.glob(v))
        if not hits:
            raise click.BadParameter(f"no store matches {v!r}", param=param)
        for h in hits:
            if not Path(h).exists():
                raise click.BadParameter(f"{h!r} does not exist", param=param)
            if files_only and not Path(h).is_file():
                raise click.BadParameter(f"{h!r} is not a store file", param=param)
        out.extend(hits)
    return tuple(out)


def load_envs(paths: tuple[str, ...]) -> list[Store]:
    if not paths:
        return [load_store(default_store_path())]
    return load_stores(paths)


def progress_bar(quiet: bool):
    """A rich progress bar on stderr; silent with --quiet or when stderr is not a terminal (then rich,
    a tenth of a second to import, is not loaded)."""
    import sys

    if quiet or sys.stderr is None or not sys.stderr.isatty():  # None: started with stderr closed
        return _NoProgress()
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(stderr=True), transient=True)


class _NoProgress:
    """What the commands call on a progress bar, doing nothing."""

    def __enter__(self) -> "_NoProgress":
        return self

    def __exit__(self, *exc) -> None:
        pass

    def add_task(self, description: str, total: int | None = None) -> int:
        return 0

    def update(self, task: int, **fields) -> None:
        pass

    def advance(self, task: int, advance: float = 1) -> None:
        pass


@contextlib.contextmanager
def compile_notices(engine: str, quiet: bool):
    """While running: say "compiling <strategy> …" on stderr before a native kernel is built (seconds)."""
    if engine != "compiled" or quiet:
        yield
        return
    import click

    from ttsc.compiler import native_engine

    before = native_engine.compile_notice
    native_engine.compile_notice = lambda name: click.echo(f"compiling {name} …", err=True)
    try:
        yield
    finally:
        native_engine.compile_notice = before


def _is_path(arg: str) -> bool:
    """An existing file, a ``.tts`` name or one with a ``/``: a path, never a shipped strategy's name."""
    return Path(arg).exists() or arg.endswith(".tts") or "/" in arg


def shipped_strategy(arg: str) -> Path | None:
    """The installed file of the shipped strategy ``arg`` names (``cmc`` → strategies/cmc.tts); None when
    ``arg`` is a path or names none."""
    if _is_path(arg):
        return None
    shipped = resources.files("ttsc.strategies") / f"{arg}.tts"
    return Path(str(shipped)) if shipped.is_file() else None


def resolve_strategy(arg: str) -> str | Path:
    """A path as given, or the name of a shipped strategy (``cmc`` → strategies/cmc.tts)."""
    if _is_path(arg):
        return arg
    shipped = shipped_strategy(arg)
    if shipped is not None:
        return shipped
    names = sorted(p.name[:-4] for p in resources.files("ttsc.strategies").iterdir() if p.name.endswith(".tts"))
    raise TtscError(f"`{arg}` is neither a file nor a shipped strategy ({', '.join(names)})")


def write_text_atomically(path: str | Path, text: str) -> None:
    """Write through a temporary file and a rename, so a failure never leaves half a file."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise TtscError(f"cannot write {path}: {exc.strerror or exc}") from None
