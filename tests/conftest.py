"""Shared fixtures (the bundled line, loopback ports, a real simulated line) and the test tiers."""

from __future__ import annotations

import multiprocessing.process
import os
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.line import LineDefinition, default_line_path, load_line
from connectors.simulator.thread import free_port as free_port  # one picker of ports for tests, evals and the CLI

if TYPE_CHECKING:
    from connectors.simulator.server import SimulatedLine
    from knowledge import KnowledgeBase
    from knowledge.embedding import Embedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")

# The tiers. A test is in the fast tier (`make check`, `pytest -m fast`) unless it uses one of these fixtures, which
# open a socket or start a server, or runs against PostgreSQL, or is marked `slow`. The guard below fails a fast
# test that opens a socket or starts a process anyway, so a test can never sit in the wrong tier unnoticed.
SERVER_FIXTURES = frozenset(
    {
        "port",
        "sim",
        "line_sim",
        "live",
        "pipeline",
        "client",
        "executor",
        "shared_sim",
        "shared_server",
        "shared_client",
        "own_sim",
        "own_live",
        "console",
        "own_console",
        "console_without_line",
        "demo",
        "browser",
    }
)
# Modules whose tests start processes or servers of their own, without a fixture that says so.
PROCESS_MODULES = frozenset(
    {
        "test_bench_smoke.py",
        "test_cli.py",
        "test_cli_ask.py",
        "test_cli_knowledge.py",
        "test_cli_pipeline.py",
        "test_cli_races.py",
        "test_cli_secure.py",
        "test_people.py",
        "test_safety_suite.py",
        "test_stateful.py",
    }
)


# Fixtures that open no socket but take tens of seconds (the whole plant library ingested): full suite only.
SLOW_FIXTURES = frozenset({"library_kb"})


def in_fast_tier(item: pytest.Item) -> bool:
    fixtures = set(getattr(item, "fixturenames", ()))
    return not (
        fixtures & (SERVER_FIXTURES | SLOW_FIXTURES)
        or "postgresql" in item.nodeid
        or item.get_closest_marker("slow")
        or item.path.name in PROCESS_MODULES
        or "e2e" in item.path.parts
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if in_fast_tier(item):
            item.add_marker(pytest.mark.fast)


class OutsideTheFastTier(RuntimeError):
    """A fast-tier test reached for the network or a process."""


@pytest.fixture(autouse=True)
def fast_tier_guard(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a fast test, opening a socket or starting a process fails the test, in `make check` and `make test` alike."""
    if request.node.get_closest_marker("fast") is None:
        return

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise OutsideTheFastTier(
            f"{request.node.nodeid} is in the fast tier but opened a socket or started a process: "
            "mark it `slow`, or list its module in PROCESS_MODULES in tests/conftest.py"
        )

    for name in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, name, refuse)
    monkeypatch.setattr(subprocess.Popen, "__init__", refuse)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refuse)


@pytest.fixture(scope="session")
def line() -> LineDefinition:
    return load_line(default_line_path())


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
async def sim(line: LineDefinition, port: int) -> AsyncIterator[SimulatedLine]:
    """The simulated bottling line on a loopback port, ten times faster than real time."""
    from connectors.simulator.server import SimulatedLine, SimulatorOptions

    options = SimulatorOptions(port=port, speed=10.0, publish_interval_s=0.2)
    async with SimulatedLine(line, options) as server:
        yield server


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "data"
    monkeypatch.setenv("COPILOT_DATA_DIR", str(path))
    monkeypatch.chdir(tmp_path)  # no copilot.toml from the developer's checkout leaks in
    return path


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real MiniLM model, loaded once for the whole run."""
    from knowledge.embedding import shared_embedder

    return shared_embedder()


@pytest.fixture(scope="session")
def library_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """The plant library ingested once into its own real Chroma folder; tests that only read share it."""
    from knowledge import KnowledgeBase, library_path

    kb = KnowledgeBase(tmp_path_factory.mktemp("library-kb"), embedder=embedder)
    summary = kb.ingest([library_path()], progress=False)
    assert not summary.skipped, summary.skipped
    return kb
