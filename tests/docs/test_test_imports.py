"""The tests stay arranged by area: a test module takes its helpers from tests/support, never
from another test module (nor from a conftest), so moving or splitting one breaks no other."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parents[1]


def _imported(module: ast.Module) -> list[str]:
    """Every module `module` imports from the `tests` package, dotted; a relative import as `.name`."""
    names: list[str] = []
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names if alias.name.split(".")[0] == "tests"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                names.append("." * node.level + (node.module or ""))
            elif node.module == "tests":
                names += [f"tests.{alias.name}" for alias in node.names]
            elif node.module and node.module.split(".")[0] == "tests":
                names.append(node.module)
    return sorted(set(names))


def test_no_test_module_imports_another_test_module() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        for name in _imported(ast.parse(path.read_text(encoding="utf-8"))):
            if name.startswith(".") or not (name == "tests.support" or name.startswith("tests.support.")):
                offenders.append(f"{path.relative_to(TESTS.parent)} imports {name}")
    assert offenders == [], "import helpers from tests.support instead:\n" + "\n".join(offenders)
