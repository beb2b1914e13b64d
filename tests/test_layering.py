"""The layers import only downward: common < sim < perception < control < drivestack.

An ``ast`` walk over every module of the packages (imports inside functions included): a module
may import from its own layer or a lower one, never a higher one; ``common`` imports none of them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RANK = {"common": 0, "sim": 1, "perception": 2, "control": 3, "drivestack": 4}


def imported_packages(tree: ast.AST, module_package: str) -> list[tuple[int, str]]:
    """(line, top-level package) for each import in ``tree``; relative imports stay in ``module_package``."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name.split(".")[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            out.append((node.lineno, module_package if node.level else (node.module or "").split(".")[0]))
    return out


def upward_imports(root: Path = ROOT) -> list[str]:
    bad = []
    for package, rank in RANK.items():
        for path in sorted((root / package).rglob("*.py")):
            for line, target in imported_packages(ast.parse(path.read_text(), str(path)), package):
                if RANK.get(target, -1) > rank:
                    bad.append(f"{path.relative_to(root)}:{line} imports {target}")
    return bad


def test_no_layer_imports_a_higher_one():
    assert upward_imports() == []


@pytest.mark.parametrize("source, package, expected", [
    ("import control.features", "perception", ["control"]),
    ("from drivestack.cli import main", "sim", ["drivestack"]),
    ("def f():\n    from control import policies", "sim", ["control"]),  # an import inside a function counts
    ("from .geometry import fit_lane", "perception", ["perception"]),
])
def test_the_walk_sees_each_kind_of_import(source, package, expected):
    assert [p for _, p in imported_packages(ast.parse(source), package)] == expected


def test_the_walk_flags_an_upward_import(tmp_path):
    for package in RANK:
        (tmp_path / package).mkdir()
    (tmp_path / "sim" / "bad.py").write_text("from perception.types import Frame\n")
    (tmp_path / "common" / "fine.py").write_text("import numpy\n")
    assert upward_imports(tmp_path) == ["sim/bad.py:1 imports perception"]
