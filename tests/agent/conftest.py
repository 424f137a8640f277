"""Agent fixtures: a simulated line on its own thread, a live connection to it, people and a scratch pipeline.

`line_sim` and `live` are one line for the whole package, for tests that leave it as they found it (a guard fails a
test that injected a fault, wrote a setpoint or stopped it); `own_sim` and `own_live` are a line of the test's own.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import pytest

from connectors.line import LineDefinition
from connectors.live_line import LiveLine
from connectors.security import ClientSecurity
from connectors.session import ConnectionOptions
from connectors.simulator.faults import fault
from connectors.simulator.server import SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from copilot.agent import CoPilot
from copilot.agent.offline.observe import BAND_MARGIN
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database
from copilot.pipeline.states import Role
from copilot.pipeline.users import User, add_user
from copilot.settings import Settings, load_settings
from knowledge import KnowledgeBase
from tests.helpers import left_as_found, wait_until

# A measurement whose noise makes every publish a new sample: its history shows how much of the line has been seen.
NOISY_TAG = "filler.bowl_level"
HEALTHY_SAMPLES = 3


@dataclass(frozen=True, kw_only=True)
class Pipeline:
    db: Database
    service: ActionService
    operator: User
    supervisor: User


def _simulator(line: LineDefinition, port: int) -> SimulatorThread:
    """The bottling line at ten times real time, served from a thread so synchronous agent calls run beside it."""
    return SimulatorThread(line, SimulatorOptions(port=port, speed=10.0, publish_interval_s=0.5))


def _watch(line: LineDefinition, sim: SimulatorThread) -> LiveLine:
    return LiveLine(line, ConnectionOptions(endpoint=sim.sim.endpoint, security=ClientSecurity()))


def _healthy_before(watched: LiveLine) -> None:
    """Wait for a few healthy samples, so trends and frozen values have a before."""
    watched.wait_ready(15.0)
    wait_until(
        lambda: len(watched.cache.history(NOISY_TAG)) >= HEALTHY_SAMPLES, timeout_s=30, what="a few healthy samples"
    )


@pytest.fixture(scope="package")
def _shared_sim(line: LineDefinition) -> Iterator[SimulatorThread]:
    with _simulator(line, free_port()) as sim:
        yield sim


@pytest.fixture(scope="package")
def _shared_live(line: LineDefinition, _shared_sim: SimulatorThread) -> Iterator[LiveLine]:
    with _watch(line, _shared_sim) as watched:
        _healthy_before(watched)
        yield watched


@pytest.fixture
def line_sim(_shared_sim: SimulatorThread) -> Iterator[SimulatorThread]:
    """The package's line, for a test that only reads it (one that changed it fails: use `own_sim`)."""
    with left_as_found(_shared_sim.sim):
        yield _shared_sim


@pytest.fixture
def live(_shared_live: LiveLine, line_sim: SimulatorThread) -> LiveLine:
    """The package's live connection to the shared line."""
    wait_until(lambda: _shared_live.available, timeout_s=30, what="the shared line (did a test stop it? use own_sim)")
    return _shared_live


@pytest.fixture
def own_sim(line: LineDefinition, port: int) -> Iterator[SimulatorThread]:
    """A line of the test's own, for tests that inject faults, write setpoints or stop the server."""
    with _simulator(line, port) as sim:
        yield sim


@pytest.fixture
def own_live(line: LineDefinition, own_sim: SimulatorThread) -> Iterator[LiveLine]:
    with _watch(line, own_sim) as watched:
        _healthy_before(watched)
        yield watched


def fault_shows(live: LiveLine, name: str) -> bool:
    """Every tag of the fault's signature is where the offline diagnosis takes it as evidence: a flag on, a value
    beyond its normal band (by the diagnosis's margin) the way the fault moves it. Tags without a band (counters)
    and frozen values are judged over time, not from one reading, so they are left out."""
    readings = live.cache.readings()
    for symptom in fault(name).signature:
        tag = live.line.tag(symptom.tag)
        reading = readings[symptom.tag]
        if reading is None or not reading.usable:
            return False
        value = reading.value
        if symptom.direction in ("on", "off"):
            if value is not (symptom.direction == "on"):
                return False
        elif symptom.direction in ("up", "down") and tag.normal is not None and not isinstance(value, bool):
            if not isinstance(value, int | float):
                return False
            margin = BAND_MARGIN * (tag.normal.high - tag.normal.low)
            beyond = value > tag.normal.high + margin if symptom.direction == "up" else value < tag.normal.low - margin
            if not beyond:
                return False
    return True


def develop(sim: SimulatorThread, live: LiveLine, name: str) -> LiveLine:
    """Inject a fault and wait until its signature shows on the live line (at ten times real time, seconds)."""
    sim.call(partial(sim.sim.inject, name))
    wait_until(lambda: fault_shows(live, name), timeout_s=60, what=f"{name} to show on the line")
    return live


@pytest.fixture
def agent_settings(tmp_path: Path) -> Settings:
    return load_settings(data_dir=tmp_path / "agent-data")


PEOPLE = {"olga": (Role.OPERATOR, "operator-password-1"), "sam": (Role.SUPERVISOR, "supervisor-password-1")}


@pytest.fixture(scope="session")
def _people_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, User]]:
    """A database holding the operator and the supervisor, made once: argon2 hashing is slow on purpose."""
    path = tmp_path_factory.mktemp("agent-people") / "copilot.db"
    db = Database(f"sqlite:///{path}")
    now = time.time()
    people = {name: add_user(db, name, role, password, by="test", at=now) for name, (role, password) in PEOPLE.items()}
    db.dispose()
    return path, people


@pytest.fixture
def pipeline(agent_settings: Settings, line: LineDefinition, _people_db: tuple[Path, dict[str, User]]) -> Pipeline:
    template, people = _people_db
    agent_settings.ensure_data_dir()
    shutil.copyfile(template, agent_settings.data_dir / "copilot.db")  # the people and nothing else
    db = Database(agent_settings.database())
    return Pipeline(db=db, service=ActionService(db, line), operator=people["olga"], supervisor=people["sam"])


@pytest.fixture
def own_copilot(
    agent_settings: Settings, own_live: LiveLine, library_kb: KnowledgeBase, pipeline: Pipeline
) -> Iterator[CoPilot]:
    """The co-pilot on a line of the test's own, to break."""
    agent = CoPilot(agent_settings, line_view=own_live, library=library_kb, actions=pipeline.service)
    yield agent
    agent.close()
