"""Agent fixtures: a simulated line on its own thread, a live connection to it, people and a scratch pipeline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.line import LineDefinition
from connectors.live_line import LiveLine
from connectors.security import ClientSecurity
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database
from copilot.pipeline.users import Role, User, add_user
from copilot.settings import Settings, load_settings


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    db: Database
    service: ActionService
    operator: User
    supervisor: User


@pytest.fixture
def line_sim(line: LineDefinition) -> Iterator[SimulatorThread]:
    """The bottling line at ten times real time, served from a thread so synchronous agent calls run beside it."""
    with SimulatorThread(line, SimulatorOptions(port=free_port(), speed=10.0, publish_interval_s=0.5)) as sim:
        yield sim


@pytest.fixture
def live(line: LineDefinition, line_sim: SimulatorThread) -> Iterator[LiveLine]:
    with LiveLine(line, ConnectionOptions(endpoint=line_sim.sim.endpoint, security=ClientSecurity())) as watched:
        watched.wait_ready(15.0)
        time.sleep(1.5)  # a few healthy samples, so trends and frozen values have a before
        yield watched


@pytest.fixture
def agent_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "agent-data")


@pytest.fixture
def pipeline(agent_settings: Settings, line: LineDefinition) -> Pipeline:
    db = Database(agent_settings.database())
    now = time.time()
    return Pipeline(
        db=db,
        service=ActionService(db, line),
        operator=add_user(db, "olga", Role.OPERATOR, "operator-password-1", by="test", at=now),
        supervisor=add_user(db, "sam", Role.SUPERVISOR, "supervisor-password-1", by="test", at=now),
    )
