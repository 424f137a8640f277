"""Test databases on both backends: a SQLite file in a folder, or a fresh PostgreSQL database dropped after use.

The PostgreSQL server is the one the machine starts for every session and for CI (127.0.0.1:5432, trust auth);
`COPILOT_TEST_POSTGRES_URL` points the tests at another one, given as a URL to a database where the user may run
CREATE DATABASE. A server that cannot be reached fails the test with how to start it: a run that skipped
PostgreSQL must never pass as one that checked it.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import SQLAlchemyError

from copilot.pipeline.db import default_url

BACKENDS = ["sqlite", "postgresql"]
ADMIN_URL = os.environ.get("COPILOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PREFIX = "copilot_test_"
START_HINT = (
    "start it with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
    "or set COPILOT_TEST_POSTGRES_URL to a server where this user may create databases"
)


class PostgresServer:
    """Creates and drops whole databases through one autocommit connection pool to the admin database."""

    def __init__(self, admin_url: str) -> None:
        self.admin_url: URL = make_url(admin_url)
        # CREATE and DROP DATABASE refuse to run inside a transaction block.
        self.engine: Engine = create_engine(
            self.admin_url, isolation_level="AUTOCOMMIT", pool_size=1, connect_args={"connect_timeout": 5}
        )

    def url(self, name: str) -> str:
        return self.admin_url.set(database=name).render_as_string(hide_password=False)

    def create(self, *, template: str = "template0") -> str:
        """A new empty database (or a copy of `template`, which nobody may be connected to); its URL."""
        name = f"{PREFIX}{secrets.token_hex(6)}"
        with self.engine.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
        return self.url(name)

    def drop(self, url: str) -> None:
        """Drop a database made by `create`, ending the connections the code under test left open."""
        name = make_url(url).database
        assert name is not None
        assert name.startswith(PREFIX), f"refusing to drop {name}: not a test database"
        with self.engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@cache
def _server() -> PostgresServer:
    try:
        server = PostgresServer(ADMIN_URL)
        with server.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except ModuleNotFoundError as err:
        raise RuntimeError(f"the PostgreSQL driver is missing ({err}): install the project with `make`") from err
    except SQLAlchemyError as err:
        first = str(getattr(err, "orig", None) or err).strip().splitlines()[0]  # the driver's words, no SQL
        where = make_url(ADMIN_URL).render_as_string()  # the password, if any, hidden
        raise RuntimeError(f"PostgreSQL is not reachable at {where}: {first}") from err
    return server


def postgres() -> PostgresServer:
    """The test server; fails the calling test (never skips it) when it is down."""
    try:
        return _server()
    except RuntimeError as err:
        problem = str(err)
    _server.cache_clear()  # it may be started while the run goes on
    pytest.fail(f"{problem}; {START_HINT}", pytrace=False)


@contextmanager
def postgres_database(*, template: str = "template0") -> Iterator[str]:
    """The URL of a fresh database for one test, dropped afterwards whatever happened."""
    server = postgres()
    url = server.create(template=template)
    try:
        yield url
    finally:
        server.drop(url)


@contextmanager
def database_url(backend: str, folder: Path) -> Iterator[str]:
    """A fresh, empty store on `backend`: a SQLite file in `folder`, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield default_url(folder)
    elif backend == "postgresql":
        with postgres_database() as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}")
