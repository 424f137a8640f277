"""The house rules of ARCHITECTURE.md: imports point down, and each third-party library enters in one package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# Which of our packages each package may import.
ALLOWED_OURS = {
    "connectors": {"connectors"},
    "knowledge": {"knowledge"},
    "copilot": {"copilot", "connectors", "knowledge"},
    "console": {"console", "copilot", "connectors", "knowledge"},
    "app": {"console", "copilot", "connectors", "knowledge"},
    "evals": {"evals", "copilot", "connectors", "knowledge"},
}
# Where each foreign library may be imported (the one place its errors are translated).
LIBRARY_HOME = {
    # evals measures a bare asyncua subscription beside ours, so it needs the library itself.
    "asyncua": {"connectors", "evals"},
    "chromadb": {"knowledge"},
    "sentence_transformers": {"knowledge"},
    "langgraph": {"copilot"},
    "langchain": {"copilot"},
    "langchain_core": {"copilot"},
    "langchain_openai": {"copilot"},
    "openai": {"copilot"},
    "streamlit": {"app", "console"},
    "plotly": {"console"},
}
OURS = {"connectors", "knowledge", "copilot", "console", "evals", "app", "tests"}


def imported_roots(source: str) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            roots.add(node.module.split(".")[0])
    return roots


def violations(package: str, source: str) -> list[str]:
    found = []
    for root in imported_roots(source):
        if root in OURS and root not in ALLOWED_OURS[package] and root != "tests":
            found.append(f"{package} imports {root}")
        if root in LIBRARY_HOME and package not in LIBRARY_HOME[root]:
            found.append(f"{package} imports {root}, which belongs in {sorted(LIBRARY_HOME[root])}")
    return found


def our_modules() -> list[tuple[str, Path]]:
    modules = [("app", ROOT / "app.py")] if (ROOT / "app.py").exists() else []
    for package in ALLOWED_OURS:
        folder = ROOT / package
        if folder.is_dir():
            modules.extend((package, path) for path in sorted(folder.rglob("*.py")))
    return modules


def test_the_checker_sees_a_wrong_import() -> None:
    # Guard the guard: these must be caught, or the real scan below proves nothing.
    assert violations("connectors", "from copilot.settings import Settings") == ["connectors imports copilot"]
    assert violations("knowledge", "import connectors.line") == ["knowledge imports connectors"]
    assert violations("copilot", "import asyncua") == [
        "copilot imports asyncua, which belongs in ['connectors', 'evals']"
    ]
    assert violations("connectors", "from knowledge import store") == ["connectors imports knowledge"]
    assert violations("copilot", "from connectors.line import Tag") == []


def test_modules_exist_to_check() -> None:
    packages = {package for package, _ in our_modules()}
    assert {"connectors", "knowledge", "copilot"} <= packages


@pytest.mark.parametrize(("package", "path"), our_modules(), ids=lambda v: str(v))
def test_imports_point_down(package: str, path: Path) -> None:
    assert violations(package, path.read_text(encoding="utf-8")) == []
