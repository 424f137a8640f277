"""The house rules of docs/architecture.md: imports point down, rooms keep to their floor, libraries enter once."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

# The rooms of the house, and which rooms each may import.
ROOMS = ("connectors", "knowledge", "copilot", "pipeline", "agent", "services", "cli", "evaluation")
ALLOWED_OURS = {
    "connectors": {"connectors"},
    "knowledge": {"knowledge"},
    # copilot's shared leaves: errors, settings, the plain-text rules.
    "copilot": {"copilot", "connectors"},
    # The safety heart never imports the agent, the services, the CLI or the evaluations.
    "pipeline": {"copilot", "pipeline", "connectors"},
    "agent": {"copilot", "agent", "pipeline", "connectors", "knowledge"},
    "services": {"copilot", "services", "agent", "pipeline", "connectors", "knowledge"},
    "cli": {"copilot", "cli", "services", "pipeline", "evaluation", "connectors", "knowledge"},
    "evaluation": {"copilot", "evaluation", "services", "agent", "pipeline", "connectors", "knowledge"},
    "console": {"console", "copilot", "services", "agent", "pipeline", "connectors", "knowledge"},
    "app": {"console", "copilot", "services", "agent", "pipeline", "connectors", "knowledge"},
    "evals": {"evals", "copilot", "services", "agent", "pipeline", "evaluation", "connectors", "knowledge"},
}
# The agent reaches the line only through its tools and the pipeline: the line's data types, never a client.
AGENT_NEVER = ("connectors.client", "connectors.live_line", "connectors.session", "connectors.simulator")
# The modules that move alarms (acknowledge, shelve, out of service): the co-pilot never acknowledges, shelves or
# suppresses an alarm, so no agent module can reach them, even as `from copilot.pipeline import alarms`.
ALARM_MOVERS = ("copilot.pipeline.alarms", "copilot.pipeline.alarm_states", "copilot.services.alarm_ops")
# Where each foreign library may be imported (the one place its errors are translated).
LIBRARY_HOME = {
    # evals measures a bare asyncua subscription beside ours, so it needs the library itself.
    "asyncua": {"connectors", "evals"},
    "chromadb": {"knowledge"},
    "sentence_transformers": {"knowledge"},
    "langgraph": {"agent"},
    "langchain": {"agent"},
    "langchain_core": {"agent"},
    "langchain_openai": {"agent"},
    "openai": {"agent"},
    "streamlit": {"app", "console"},
    "plotly": {"console"},
}
OURS = {"connectors", "knowledge", "copilot", "console", "evals", "app", "tests"}
# The console and evals use each package's public surface (its __all__), or a service or evaluation module whole.
SURFACES = {"connectors", "knowledge", "copilot.pipeline", "copilot.agent"}
# Benchmarks that measure a package's insides by design, and the insides they measure.
MEASURES_INSIDES = {
    "bench_subscription.py": {
        "connectors.cache",
        "connectors.client",
        "connectors.line",
        "connectors.session",
        "connectors.simulator.thread",
    },
    "bench_knowledge.py": {"knowledge.embedding", "knowledge.ingest"},
    "demo_runner.py": {"connectors.simulator.thread"},
    "bench_model.py": {"connectors.simulator.thread"},  # a free port for the model server
}


def room_of(module: str) -> str:
    """`copilot.pipeline.db` lives in the room `pipeline`; `copilot.settings` in `copilot`; `console.x` in `console`."""
    parts = module.split(".")
    if parts[0] == "copilot" and len(parts) > 1 and parts[1] in ROOMS:
        return parts[1]
    if parts[0] == "copilot" and len(parts) > 1 and parts[1] == "__main__":
        return "cli"
    return parts[0]


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            # `from copilot import pipeline` imports the room itself.
            modules.update(f"{node.module}.{alias.name}" for alias in node.names if node.module == "copilot")
    return modules


def named_imports(source: str) -> set[str]:
    """`from a.b import c` as `a.b.c`: a submodule imported by name from its package."""
    return {
        f"{node.module}.{alias.name}"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0
        for alias in node.names
    }


def violations(room: str, source: str, *, file: str = "") -> list[str]:
    found = []
    if room == "agent":
        for module in sorted(imported_modules(source) | named_imports(source)):
            if module.startswith(ALARM_MOVERS):
                found.append(f"agent imports {module}: the co-pilot never moves an alarm")
    for module in sorted(imported_modules(source)):
        root = module.split(".")[0]
        target = room_of(module)
        if root in OURS and root != "tests" and target not in ALLOWED_OURS[room]:
            found.append(f"{room} imports {module}")
        if room == "agent" and module.startswith(AGENT_NEVER):
            found.append(f"agent imports {module}: the agent reaches the line only through its tools")
        if root in LIBRARY_HOME and room not in LIBRARY_HOME[root]:
            found.append(f"{room} imports {root}, which belongs in {sorted(LIBRARY_HOME[root])}")
        if room in {"console", "app", "evals"} and module not in MEASURES_INSIDES.get(file, set()):
            surface = next((s for s in SURFACES if module.startswith(s + ".")), None)
            if surface is not None:
                found.append(f"{room} imports {module}: use the surface of {surface}")
    return found


def our_modules() -> list[tuple[str, Path]]:
    modules = [("app", ROOT / "app.py")] if (ROOT / "app.py").exists() else []
    for package in ("connectors", "knowledge", "copilot", "console", "evals"):
        for path in sorted((ROOT / package).rglob("*.py")):
            dotted = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules.append((room_of(dotted), path))
    return modules


def test_the_checker_sees_a_wrong_import() -> None:
    # Guard the guard: these must be caught, or the real scan below proves nothing.
    assert violations("connectors", "from copilot.settings import Settings") == ["connectors imports copilot.settings"]
    assert violations("knowledge", "import connectors.line") == ["knowledge imports connectors.line"]
    assert violations("pipeline", "import asyncua") == [
        "pipeline imports asyncua, which belongs in ['connectors', 'evals']"
    ]
    assert violations("pipeline", "from copilot.agent import CoPilot") == ["pipeline imports copilot.agent"]
    assert violations("pipeline", "from copilot import agent") == ["pipeline imports copilot.agent"]
    assert violations("pipeline", "from copilot.services import line_ops") == ["pipeline imports copilot.services"]
    assert violations("agent", "from copilot.services import ask_ops") == ["agent imports copilot.services"]
    assert violations("agent", "from connectors.live_line import LiveLine") == [
        "agent imports connectors.live_line: the agent reaches the line only through its tools"
    ]
    assert violations("services", "from copilot.cli import app") == ["services imports copilot.cli"]
    assert violations("console", "from copilot.pipeline.db import Database") == [
        "console imports copilot.pipeline.db: use the surface of copilot.pipeline"
    ]
    assert violations("console", "import langgraph") == ["console imports langgraph, which belongs in ['agent']"]
    assert violations("connectors", "from knowledge import store") == ["connectors imports knowledge"]
    assert violations("agent", "from copilot.pipeline import alarms") == [
        "agent imports copilot.pipeline.alarms: the co-pilot never moves an alarm"
    ]
    assert "agent imports copilot.services.alarm_ops: the co-pilot never moves an alarm" in violations(
        "agent", "from copilot.services.alarm_ops import acknowledge"
    )
    assert violations("agent", "from connectors.line import Tag") == []
    assert violations("console", "from copilot.pipeline import Database") == []


def test_every_room_is_a_package_with_a_short_surface() -> None:
    for room in ("pipeline", "agent", "agent/offline", "services", "cli", "evaluation"):
        init = ROOT / "copilot" / room / "__init__.py"
        assert init.is_file(), f"copilot/{room} is not a package"
    for package in ("copilot", "connectors", "knowledge", "copilot/pipeline", "copilot/agent", "copilot/services"):
        tree = ast.parse((ROOT / package / "__init__.py").read_text(encoding="utf-8"))
        names = [
            node
            for node in tree.body
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets)
        ]
        assert names, f"{package} declares no __all__"
        surface = ast.literal_eval(names[0].value)
        assert 0 < len(surface) <= 25, f"{package}'s surface has {len(surface)} names"


def test_modules_exist_to_check() -> None:
    rooms = {room for room, _ in our_modules()}
    assert {"connectors", "knowledge", "copilot", "pipeline", "agent", "services", "cli", "evaluation"} <= rooms
    assert len([p for p in (ROOT / "copilot").glob("*.py") if p.name != "__init__.py"]) <= 5, "copilot/ is flat again"


@pytest.mark.parametrize(("room", "path"), our_modules(), ids=lambda v: str(v))
def test_imports_point_down(room: str, path: Path) -> None:
    assert violations(room, path.read_text(encoding="utf-8"), file=path.name) == []
