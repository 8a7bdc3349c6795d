"""The floor plan: the shared core imports none of the parts, the parts import the core (and the screens the device
drivers), and only the top floor (`hallctl`) brings several parts together. Every import counts, at the top of a
module or inside a function, and so does a module named to importlib."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package → the packages it may import from (itself included); the standard library and dependencies are free
MAY_IMPORT = {
    "hall": {"hall"},
    "hub": {"hall", "hub"},
    "devices": {"hall", "devices"},
    "kiosk": {"hall", "devices", "kiosk"},
    "display": {"hall", "devices", "display"},
    "web": {"hall", "web"},
    "public": {"hall", "public"},
    "central": {"hall", "central"},
}
OURS = {*MAY_IMPORT, "hallctl"}


def imported(path: Path) -> list[tuple[int, str]]:
    """(line, module) for every import in a file, lazy ones and importlib.import_module("…") included."""
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif (isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            found.append((node.lineno, node.args[0].value))
    return found


def test_the_packages_are_the_ones_the_plan_names():
    packages = {p.parent.name for p in ROOT.glob("*/__init__.py")} - {"tests", "bench"}
    assert packages <= OURS, f"a package the floor plan does not know: {packages - OURS}"
    assert {"hall", "hub", "devices", "kiosk", "display", "hallctl"} <= packages


@pytest.mark.parametrize("package", sorted(MAY_IMPORT))
def test_imports_run_downward(package):
    folder = ROOT / package
    if not folder.exists():
        pytest.skip(f"{package}/ does not exist yet")
    wrong = []
    for path in sorted(folder.rglob("*.py")):
        for line, module in imported(path):
            top = module.split(".")[0]
            if top in OURS and top not in MAY_IMPORT[package]:
                wrong.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    assert not wrong, f"{package}/ may import only {sorted(MAY_IMPORT[package])}:\n" + "\n".join(wrong)


def test_the_check_sees_lazy_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from hub.store import open_db\n    importlib.import_module('display.led')\n")
    assert [m for _, m in imported(module)] == ["hub.store", "display.led"]
