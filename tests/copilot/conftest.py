"""Pipeline fixtures: a real database on each backend, people of every role, the real simulator and a client.

A test's store starts as a copy of a template holding the people (argon2 hashing is slow on purpose): a copied
SQLite file, or a PostgreSQL database created from a template database. `client` watches a line of the test's own,
for tests that write, execute or stop it; `shared_client` watches one line for the package's tests that only read.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine, SimulatorOptions
from connectors.simulator.thread import SimulatorThread, free_port
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database, default_url
from copilot.pipeline.executor import Executor
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role
from copilot.pipeline.users import User, add_user
from tests.databases import BACKENDS, database_url, postgres_database
from tests.helpers import eventually, left_as_found

PASSWORD = "correct horse battery"


class FakeClock:
    """A clock the test moves by hand, to expire approvals without waiting five minutes."""

    def __init__(self, start: float = 1_900_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


ROLES = {
    "olga": Role.OPERATOR,
    "oleg": Role.OPERATOR,
    "otto": Role.OPERATOR,
    "sam": Role.SUPERVISOR,
    "sue": Role.SUPERVISOR,
    "mia": Role.MAINTENANCE,
    "ada": Role.ADMIN,
}


def _add_people(url: str) -> None:
    db = Database(url)
    start = FakeClock()()  # the moment a test's clock starts at, as if the people were added by the test
    for name, role in ROLES.items():
        add_user(db, name, role, PASSWORD, by="test", at=start)
    db.dispose()  # nobody may stay connected to a template


@pytest.fixture(scope="session")
def _people_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite store holding the people, made once per test process."""
    folder = tmp_path_factory.mktemp("people")
    _add_people(default_url(folder))
    return folder / "copilot.db"


@pytest.fixture(scope="session")
def _people_postgres() -> Iterator[str]:
    """The name of a PostgreSQL database holding the people, made once per test process, for others to copy."""
    with postgres_database() as url:
        _add_people(url)
        name = make_url(url).database
        assert name is not None
        yield name


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh store for one test, once on SQLite and once on PostgreSQL: the pipeline must hold on both.

    For a test that uses `people` the store holds them from the start, copied from a template."""
    if "people" not in request.fixturenames:
        with database_url(request.param, tmp_path) as url:
            yield url
    elif request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("_people_sqlite"), tmp_path / "copilot.db")
        yield default_url(tmp_path)
    else:
        with postgres_database(template=request.getfixturevalue("_people_postgres")) as url:
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
def people(db: Database) -> dict[str, User]:
    """A person of every role, with PASSWORD; already in `db` (see `db_url`)."""
    return {name: User(name=name, role=role, active=True) for name, role in ROLES.items()}


@pytest.fixture
def service(db: Database, line: LineDefinition, clock: FakeClock) -> ActionService:
    return ActionService(db, line, clock=clock)


async def _connected(line: LineDefinition, endpoint: str) -> AsyncIterator[LineClient]:
    async with LineClient(line, ConnectionOptions(endpoint=endpoint), publishing_interval_ms=100) as c:
        await c.wait_available(10)
        await eventually(lambda: all(r is not None for r in c.cache.readings().values()), what="first readings")
        yield c


@pytest.fixture
async def client(line: LineDefinition, sim: SimulatedLine, people: dict[str, User]) -> AsyncIterator[LineClient]:
    """A client of the test's own line. The people come first, so the readings are fresh when the test starts."""
    async for c in _connected(line, sim.endpoint):
        yield c


@pytest.fixture(scope="package")
def shared_sim(line: LineDefinition) -> Iterator[SimulatorThread]:
    """One simulated line for the package's tests that leave it as they found it (no writes, no faults, no stop)."""
    with SimulatorThread(line, SimulatorOptions(port=free_port(), speed=10.0, publish_interval_s=0.2)) as sim:
        yield sim


@pytest.fixture
async def shared_client(
    line: LineDefinition, shared_sim: SimulatorThread, people: dict[str, User]
) -> AsyncIterator[LineClient]:
    """A client of the shared line, for a test that only reads it (one that changed it fails: use `client`)."""
    with left_as_found(shared_sim.sim):
        async for c in _connected(line, shared_sim.sim.endpoint):
            yield c


@pytest.fixture
def executor(db: Database, line: LineDefinition, client: LineClient, clock: FakeClock) -> Executor:
    return Executor(db, line, client, clock=clock)


def snapshot_of(client: LineClient) -> LineSnapshot:
    return LineSnapshot(available=client.available, readings=client.cache.readings())
