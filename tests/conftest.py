"""Shared fixtures: the bundled line, free loopback ports and a real simulated line server."""

from __future__ import annotations

import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from connectors.line import LineDefinition, default_line_path, load_line

if TYPE_CHECKING:
    from connectors.simulator.server import SimulatedLine
    from knowledge import KnowledgeBase
    from knowledge.embedding import Embedder

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def free_port() -> int:
    """A port nobody listens on right now, picked by the kernel on loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
