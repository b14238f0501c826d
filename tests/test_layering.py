"""Imports point one way: dsl → runtime → compiler → insight / explorer → cli.

Every `import` in the package is read from the source, lazy ones inside
functions included, so a cycle cannot hide behind a deferred import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Folder → (import name, layer). A module may import from its own layer and the ones below.
LAYERS = {
    "ttsc": ("ttsc", 0),          # version, the error type, cache locations
    "grammars": ("ttsc.grammars", 0),
    "strategies": ("ttsc.strategies", 0),
    "dsl": ("ttsc.dsl", 1),
    "runtime": ("ttsc.runtime", 2),
    "compiler": ("ttsc.compiler", 3),
    "insight": ("ttsc.insight", 4),
    "explorer": ("ttsc.explorer", 4),
    "cli": ("ttsc.cli", 5),
}
ROOT_MODULES = {"ttsc", "ttsc.errors", "ttsc.cache"}


def _layer_of(module: str) -> tuple[str, int] | None:
    if module in ROOT_MODULES:
        return "ttsc", 0
    best = None
    for folder, (name, layer) in LAYERS.items():
        if folder != "ttsc" and (module == name or module.startswith(name + ".")):
            best = (folder, layer)
    return best


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            # `from ttsc import cli` names a package, not a symbol of ttsc/__init__
            if node.module == "ttsc":
                found += [(node.lineno, f"ttsc.{a.name}") for a in node.names]
    return [(line, m) for line, m in found if m == "ttsc" or m.startswith("ttsc.")]


def test_imports_point_down_the_layers():
    wrong = []
    for folder, (_, layer) in LAYERS.items():
        for path in sorted((ROOT / folder).glob("*.py")) if (ROOT / folder).is_dir() else []:
            for line, module in _imports(path):
                target = _layer_of(module)
                if target is not None and target[1] > layer:
                    wrong.append(f"{folder}/{path.name}:{line} imports {module} ({target[0]}, a higher layer)")
    assert not wrong, "imports must point down dsl → runtime → compiler → insight → cli:\n" + "\n".join(wrong)


def test_the_check_sees_lazy_imports(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from ttsc.compiler.engines import run\n")
    assert (2, "ttsc.compiler.engines") in _imports(probe)
    assert _layer_of("ttsc.compiler.engines") == ("compiler", 3)
