"""Production code never imports test code (nor the libraries only the tests install)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TEST_ONLY = {"factory", "faker", "pytest", "conftest", "playwright", "schemathesis", "hypothesis"}


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_production_module_imports_a_test_module_or_a_test_only_library():
    offenders = []
    production = [
        path
        for path in ROOT.glob("*/**/*.py")
        if path.relative_to(ROOT).parts[0] not in {".venv", ".data", "bench", ".ci"}
        and "tests" not in path.relative_to(ROOT).parts
    ]
    assert any(p.name == "seed.py" for p in production)  # the scan covers management commands
    for path in production:
        for name in _imports(path):
            if ".tests" in f".{name}" or name.split(".")[0] in TEST_ONLY:
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def test_production_requirements_do_not_install_test_libraries():
    base = (ROOT / "requirements" / "base.txt").read_text().lower()
    assert "factory-boy" not in base and "faker" not in base
