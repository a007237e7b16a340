"""The house's floors, checked from the real import statements of every module under app/.

A package imports only packages on floors below its own, never one above, so there is no import
loop between packages. The ground floor (config, keys, codec, backoff, the redis-server launcher) imports
nothing of the app but the root package's name and version. Imports under ``if TYPE_CHECKING:``
do not run and do not count. docs/architecture.md draws the same map.
"""

from __future__ import annotations

import ast
import sys
from collections import defaultdict
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[1] / "app"

# Bottom to top; a unit is a package under app/ or a top-level module.
FLOORS: list[set[str]] = [
    {"config", "keys", "codec", "backoff", "redis_server"},
    {"telemetry"},
    {"models"},
    {"risk", "orders"},
    {"state"},
    {"bus"},
    {"exchange"},
    {"execution"},
    {"runtime"},
    {"api"},
    {"cli"},
    {"__main__"},
]
GROUND = FLOORS[0]
FLOOR_OF = {unit: level for level, units in enumerate(FLOORS) for unit in units}


def unit_of(module: str) -> str:
    """``app.state.gate`` -> ``state``; ``app`` itself (name and version) -> ``""``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_imports(path: Path) -> set[str]:
    """Every ``app…`` module the file imports when it runs, at any depth (functions included)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking(child):
                for other in child.orelse:
                    visit(other)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names if a.name == "app" or a.name.startswith("app."))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.split(".")[: len(package.split(".")) - child.level + 1]
                    target = ".".join(base + ([child.module] if child.module else []))
                else:
                    target = child.module or ""
                if target == "app" or target.startswith("app."):
                    found.add(target)
                    if target == "app":  # ``from app import cli`` names a package, not an attribute
                        found.update(f"app.{a.name}" for a in child.names if (APP / a.name).is_dir())
            visit(child)

    visit(ast.parse(path.read_text(), str(path)))
    return found


def edges() -> dict[str, set[tuple[str, str]]]:
    """unit -> {(imported unit, importing module)} for imports that cross units."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for path in sorted(APP.rglob("*.py")):
        source = module_name(path)
        for target in runtime_imports(path):
            if unit_of(target) not in ("", unit_of(source)):
                out[unit_of(source)].add((unit_of(target), source))
    return out


def test_every_unit_has_a_floor() -> None:
    units = {p.stem for p in APP.glob("*.py")} | {p.name for p in APP.iterdir() if (p / "__init__.py").exists()}
    units.discard("__init__")
    assert units - FLOOR_OF.keys() == set(), "place new packages on a floor in FLOORS and docs/architecture.md"


def test_no_package_imports_one_above_or_beside_it() -> None:
    wrong = sorted(f"{module} (floor {FLOOR_OF[unit]}) imports {target} (floor {FLOOR_OF[target]})"
                   for unit, targets in edges().items() for target, module in targets
                   if FLOOR_OF[target] >= FLOOR_OF[unit])
    assert wrong == []


def test_ground_floor_imports_nothing_of_the_app() -> None:
    wrong = sorted(f"{module} imports {target}" for unit in GROUND for target, module in edges().get(unit, ()))
    assert wrong == []


def test_no_import_loop_between_packages() -> None:
    graph = {unit: {target for target, _ in targets} for unit, targets in edges().items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    assert sorted(unit for unit in graph if reaches(unit, unit, {unit})) == []


@pytest.mark.parametrize("source, expected", [
    ("from app.keys import Keys\n", {"app.keys"}),
    ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from app.config import Settings\n", set()),
    ("def f():\n    from app.exchange.paper import PaperExchange\n", {"app.exchange.paper"}),
    ("from app import cli\n", {"app", "app.cli"}),
    ("from .delivery import Delivery\n", {"app.bus.delivery"}),
])
def test_imports_are_read_as_python_runs_them(tmp_path: Path, source: str, expected: set[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake_app = tmp_path / "app"
    (fake_app / "bus").mkdir(parents=True)
    (fake_app / "cli").mkdir()
    (fake_app / "cli" / "__init__.py").write_text("")
    module = fake_app / "bus" / "consumer.py"
    module.write_text(source)
    monkeypatch.setattr(sys.modules[__name__], "APP", fake_app)
    assert runtime_imports(module) == expected
