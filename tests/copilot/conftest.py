"""Pipeline fixtures: a real database on each backend, people of every role, the real simulator and a client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database
from copilot.pipeline.executor import Executor
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.users import Role, User, add_user
from tests.databases import BACKENDS, database_url
from tests.helpers import eventually

PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the test moves by hand, to expire approvals without waiting five minutes."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store for one test, once on SQLite and once on PostgreSQL: the pipeline must hold on both."""
    with database_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = Database(db_url)
    yield database
    database.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def people(db: Database, clock: FakeClock) -> dict[str, User]:
    roles = {
        "olga": Role.OPERATOR,
        "oleg": Role.OPERATOR,
        "otto": Role.OPERATOR,
        "sam": Role.SUPERVISOR,
        "sue": Role.SUPERVISOR,
        "mia": Role.MAINTENANCE,
        "ada": Role.ADMIN,
    }
    return {name: add_user(db, name, role, PASSWORD, by="test", at=clock()) for name, role in roles.items()}


@pytest.fixture
def service(db: Database, line: LineDefinition, clock: FakeClock) -> ActionService:
    return ActionService(db, line, clock=clock)


@pytest.fixture
async def client(line: LineDefinition, sim: SimulatedLine, people: dict[str, User]) -> AsyncIterator[LineClient]:
    # People first: hashing their passwords blocks the event loop, and readings not taken in meanwhile go stale
    # (the cache judges age by arrival). Starting the client last leaves its readings fresh for the test.
    async with LineClient(line, ConnectionOptions(endpoint=sim.endpoint), publishing_interval_ms=100) as c:
        await c.wait_available(10)
        await eventually(lambda: all(r is not None for r in c.cache.readings().values()), what="first readings")
        yield c


@pytest.fixture
def executor(db: Database, line: LineDefinition, client: LineClient, clock: FakeClock) -> Executor:
    return Executor(db, line, client, clock=clock)


def snapshot_of(client: LineClient) -> LineSnapshot:
    return LineSnapshot(available=client.available, readings=client.cache.readings())
