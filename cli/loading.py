"""Shared by the commands: load a program, bind parameters, load stores."""

from __future__ import annotations

import itertools
from pathlib import Path

from ttsc.dsl.checker import CheckedProgram, check
from ttsc.dsl.parser import parse_source, read_source
from ttsc.errors import TtscError
from ttsc.runtime.params import Value, parse_value
from ttsc.runtime.store import Store, default_store_path, load_store, load_stores


def load_program(path: str | Path) -> CheckedProgram:
    """Parse and check one .tts file; raises DiagnosticError (a TtscError) with every problem."""
    src = read_source(path)
    return check(parse_source(src), src)


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
        raise TtscError(f"{option} {item}: {exc}") from None


def parse_sweeps(items: tuple[str, ...]) -> list[dict[str, Value]]:
    """The cartesian product of every ``--sweep NAME=V1,V2,...``, in the order given."""
    axes: list[tuple[str, list[Value]]] = []
    for item in items:
        name, eq, values = item.partition("=")
        if not eq or not name.strip() or not values.strip():
            raise TtscError(f"--sweep takes NAME=V1,V2,..., got `{item}`")
        axes.append((name.strip(), [_value("--sweep", item, v) for v in values.split(",") if v.strip()]))
    if len({n for n, _ in axes}) != len(axes):
        raise TtscError("each parameter can be swept once")
    return [dict(zip([n for n, _ in axes], combo)) for combo in itertools.product(*[v for _, v in axes])]


def load_envs(paths: tuple[str, ...]) -> list[Store]:
    if not paths:
        return [load_store(default_store_path(), name="synthetic/default")]
    return load_stores(paths)
