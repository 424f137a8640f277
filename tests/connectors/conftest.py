"""Connector fixtures: one simulated line for the package's tests that only read it (the root `sim` is per test)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from connectors.line import LineDefinition
from connectors.simulator.server import SimulatedLine, SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from tests.helpers import left_as_found


@pytest.fixture(scope="package")
def shared_sim(line: LineDefinition) -> Iterator[SimulatorThread]:
    """The line the root `sim` fixture serves, on its own thread, started once: a server takes seconds to start."""
    with SimulatorThread(line, SimulatorOptions(port=free_port(), speed=10.0, publish_interval_s=0.2)) as sim:
        yield sim


@pytest.fixture
def shared_server(shared_sim: SimulatorThread) -> Iterator[SimulatedLine]:
    """The shared line's server, for a test that leaves it as it found it (one that changed it fails: use `sim`)."""
    with left_as_found(shared_sim.sim):
        yield shared_sim.sim
