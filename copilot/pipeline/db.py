"""The action pipeline's tables (users, actions, approvals, audit, switches); SQLite or PostgreSQL.

Every change is made in a write session, and write sessions are serialised by the database itself: SQLite's
`BEGIN IMMEDIATE` takes the one write lock before the first read, PostgreSQL's transaction-scoped advisory lock
does the same across connections and processes. A decision therefore reads and writes one consistent state,
and the audit chain's next link cannot be taken twice. Readers (`reader()`) never wait for writers.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

from sqlalchemy import (
    Boolean,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker

from copilot.errors import StoreUnavailable


class Base(DeclarativeBase):
    pass


class UserRow(Base):
    __tablename__ = "users"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[float] = mapped_column(Float)


class ActionRow(Base):
    """A proposal and everything that happened to it; the id is the executor's idempotency key."""

    __tablename__ = "actions"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128), index=True)
    old_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    new_value: Mapped[float] = mapped_column(Float)
    unit: Mapped[str] = mapped_column(String(32), default="")
    reason: Mapped[str] = mapped_column(Text)
    evidence: Mapped[str] = mapped_column(Text, default="[]")  # JSON: citations and readings
    requested_by: Mapped[str] = mapped_column(String(64), index=True)
    via_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), index=True)
    # What the person or agent asked for, exactly as given: a refused NaN or 1e309 is shown as asked, not as 0.
    requested: Mapped[str] = mapped_column(String(64), default="")
    repeats: Mapped[int] = mapped_column(Integer, default=0)  # identical refused proposals folded into this row
    refusals: Mapped[str] = mapped_column(Text, default="[]")  # JSON list of reasons
    approvals_needed: Mapped[int] = mapped_column(Integer, default=1)
    supervisor_needed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, index=True)
    expires_at: Mapped[float] = mapped_column(Float)
    write_started_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    read_back: Mapped[float | None] = mapped_column(Float, nullable=True)
    result: Mapped[str] = mapped_column(Text, default="")  # server status or why it failed


class ApprovalRow(Base):
    """One person's decision, bound to the exact change it approves."""

    __tablename__ = "approvals"
    # One decision per person per action, held by the database whatever the code above it does.
    __table_args__ = (UniqueConstraint("action_id", "user", name="one_decision_per_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action_id: Mapped[str] = mapped_column(ForeignKey("actions.id"), index=True)
    user: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    decision: Mapped[str] = mapped_column(String(8))  # approve, reject or withdraw
    reason: Mapped[str] = mapped_column(Text, default="")
    tag: Mapped[str] = mapped_column(String(128))
    old_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    new_value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[float] = mapped_column(Float)
    expires_at: Mapped[float] = mapped_column(Float)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class AuditRow(Base):
    """Append-only, hash-chained: each entry's hash covers its fields and the previous entry's hash."""

    __tablename__ = "audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[float] = mapped_column(Float)
    event: Mapped[str] = mapped_column(String(24))
    actor: Mapped[str] = mapped_column(String(64))
    action_id: Mapped[str] = mapped_column(String(36), default="")
    tag: Mapped[str] = mapped_column(String(128), default="")
    old_value: Mapped[str] = mapped_column(String(64), default="")
    new_value: Mapped[str] = mapped_column(String(64), default="")
    details: Mapped[str] = mapped_column(Text, default="{}")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class SwitchRow(Base):
    """Plant-wide switches such as the write kill switch; one row per switch."""

    __tablename__ = "switches"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(64), default="")
    at: Mapped[float] = mapped_column(Float)


class SignInThrottleRow(Base):
    """Failed sign-ins of one person (by name skeleton) or one client, and the wait or lockout they earned."""

    __tablename__ = "signin_throttle"

    kind: Mapped[str] = mapped_column(String(8), primary_key=True)  # person or client
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    shown: Mapped[str] = mapped_column(String(64), default="")  # the name or client as last typed, for people
    failures: Mapped[int] = mapped_column(Integer, default=0)  # in the window that began at window_start
    window_start: Mapped[float] = mapped_column(Float, default=0.0)
    last_failure_at: Mapped[float] = mapped_column(Float, default=0.0)
    until: Mapped[float] = mapped_column(Float, default=0.0)  # no password is checked before this time
    locked: Mapped[bool] = mapped_column(Boolean, default=False)  # `until` is a lockout, not a short wait
    refused: Mapped[int] = mapped_column(Integer, default=0)  # attempts turned away unchecked


class AlarmRow(Base):
    """One alarm as the journal knows it now (see alarm_states.AlarmStatus); one row per alarm code."""

    __tablename__ = "alarms"

    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    tag: Mapped[str] = mapped_column(String(128))
    priority: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")
    active: Mapped[bool] = mapped_column(Boolean, default=False)
    acked: Mapped[bool] = mapped_column(Boolean, default=True)
    occurrence: Mapped[int] = mapped_column(Integer, default=0)
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    changed_at: Mapped[float] = mapped_column(Float, default=0.0)
    shelved_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    shelved_by: Mapped[str] = mapped_column(String(64), default="")
    shelve_reason: Mapped[str] = mapped_column(Text, default="")
    out_of_service: Mapped[bool] = mapped_column(Boolean, default=False)
    service_by: Mapped[str] = mapped_column(String(64), default="")
    service_reason: Mapped[str] = mapped_column(Text, default="")


class AlarmJournalRow(Base):
    """Every move of every alarm, in order: the line's (activated, returned) and people's (acknowledged, shelved)."""

    __tablename__ = "alarm_journal"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    code: Mapped[str] = mapped_column(String(64), index=True)
    tag: Mapped[str] = mapped_column(String(128))
    priority: Mapped[str] = mapped_column(String(16))
    event: Mapped[str] = mapped_column(String(24))
    state: Mapped[str] = mapped_column(String(32))  # the alarm's state after the move
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str] = mapped_column(Text, default="")
    value: Mapped[float | None] = mapped_column(Float, nullable=True)
    occurrence: Mapped[int] = mapped_column(Integer, default=0)


class ProductionSampleRow(Base):
    """The line's production counters at one moment (see line.production), kept for the shift record."""

    __tablename__ = "production_samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    good: Mapped[float] = mapped_column(Float)
    rejected: Mapped[float] = mapped_column(Float)
    energy_kwh: Mapped[float | None] = mapped_column(Float, nullable=True)
    running: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class DiagnosisRow(Base):
    """The headline of one answer of the co-pilot: who asked what, and the cause it gave (for the handover)."""

    __tablename__ = "diagnoses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[float] = mapped_column(Float, index=True)
    person: Mapped[str] = mapped_column(String(64))
    question: Mapped[str] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(Text, default="")
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    abstained: Mapped[bool] = mapped_column(Boolean, default=False)


class HandoverRow(Base):
    """A shift's handover as the outgoing person signed it, and the incoming person's signature of that text."""

    __tablename__ = "handovers"

    shift: Mapped[str] = mapped_column(String(32), primary_key=True)
    content: Mapped[str] = mapped_column(Text)  # JSON: the items and figures as signed
    digest: Mapped[str] = mapped_column(String(64))
    outgoing_by: Mapped[str] = mapped_column(String(64))
    outgoing_at: Mapped[float] = mapped_column(Float)
    incoming_by: Mapped[str] = mapped_column(String(64), default="")
    incoming_at: Mapped[float | None] = mapped_column(Float, nullable=True)


# The key of PostgreSQL's advisory lock that serialises write sessions (any constant shared by all processes).
_WRITE_LOCK_KEY = 0x1C0B11_07
_REQUIRED_TABLES = ("actions", "approvals", "audit", "users")


class Database:
    """An engine and its sessions.

    `session()` is a write transaction: it commits on success, rolls back on any error, and holds the database's
    write lock from its first statement. `reader()` is a read-only snapshot that never blocks a writer.
    With `create=False` the database must already hold the pipeline's tables: a mistyped path or an empty file
    is an error that says so, never a new empty database whose audit chain "verifies" with 0 entries.
    """

    def __init__(self, url: str, *, create: bool = True, busy_timeout_s: float = 10.0) -> None:
        self.url = url
        self._busy_timeout_ms = int(busy_timeout_s * 1000)
        self._local = threading.local()
        try:
            parsed = make_url(url)
        except ArgumentError as err:
            raise StoreUnavailable(f"COPILOT_DATABASE_URL {_redact(url)!r} is not a database URL: {err}") from err
        self.dialect = parsed.get_backend_name()
        sqlite_file = _sqlite_file(parsed.database) if self.dialect == "sqlite" else None
        if sqlite_file is not None:
            _check_sqlite_file(sqlite_file, create=create)
        try:
            if sqlite_file is not None and create and not sqlite_file.exists():
                _create_sqlite(sqlite_file)
            if self.dialect == "postgresql":
                # The write lock protects a check and its change under READ COMMITTED (each statement sees what
                # committed before it): pinned, whatever the server's default. Readers get one snapshot each.
                self._write_engine: Engine = create_engine(url, isolation_level="READ COMMITTED")
                self.engine: Engine = create_engine(url, isolation_level="REPEATABLE READ")
            else:
                self.engine = create_engine(url)
                # Writers get their own engine: on SQLite its transactions begin IMMEDIATE, readers' stay deferred.
                self._write_engine = create_engine(url) if self.dialect == "sqlite" else self.engine
            if self.dialect == "sqlite":
                event.listen(self.engine, "connect", self._sqlite_pragmas)
                event.listen(self._write_engine, "connect", self._sqlite_pragmas)
                event.listen(self.engine, "begin", _sqlite_begin_deferred)
                event.listen(self._write_engine, "begin", _sqlite_begin_immediate)
            if not create:
                missing = [t for t in _REQUIRED_TABLES if not inspect(self.engine).has_table(t)]
                if missing:
                    raise StoreUnavailable(
                        f"{_redact(url)} holds no co-pilot database (no {', '.join(missing)} table); check "
                        "COPILOT_DATABASE_URL, or create it with `copilot users add NAME --role admin`"
                    )
            if _outdated(self.engine):
                # Under the write lock: consoles started together must not race to create or update the store.
                with self._write_engine.begin() as conn:
                    self._lock(conn)
                    Base.metadata.create_all(conn)  # new tables only; existing ones are left alone
                    _add_missing_columns(conn)
        except SQLAlchemyError as err:
            raise StoreUnavailable(f"cannot open the database {_redact(url)}: {_reason(err)}") from err
        if sqlite_file is not None:
            _private(sqlite_file)
        self._sessions = sessionmaker(self._write_engine, expire_on_commit=False)
        self._readers = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A write transaction holding the write lock; nesting one inside another in one thread is a bug."""
        if getattr(self._local, "writing", False):
            # The inner session would wait forever for the lock the outer one holds.
            raise RuntimeError("a write session was opened inside another write session of the same database")
        self._local.writing = True
        session = self._sessions()
        try:
            # Begins now (BEGIN IMMEDIATE on SQLite, the advisory lock on PostgreSQL): held from the start.
            self._lock(session.connection())
            yield session
            session.commit()
        except SQLAlchemyError as err:
            session.rollback()
            raise StoreUnavailable(f"database error on {_redact(self.url)}: {_reason(err)}") from err
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            self._local.writing = False

    @contextmanager
    def reader(self) -> Iterator[Session]:
        """A read-only session: what the console and `list`/`show` commands need, without the write lock."""
        session = self._readers()
        try:
            # Closing (not rolling back) ends the snapshot and leaves the rows read loaded for the caller.
            yield session
        except SQLAlchemyError as err:
            session.rollback()
            raise StoreUnavailable(f"database error on {_redact(self.url)}: {_reason(err)}") from err
        finally:
            session.close()

    def _lock(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            # A writer that cannot get the lock gives up like SQLite's busy timeout instead of waiting for ever.
            conn.execute(text(f"SET LOCAL lock_timeout = '{self._busy_timeout_ms}ms'"))
            hold_write_lock(conn)

    def dispose(self) -> None:
        self.engine.dispose()
        self._write_engine.dispose()

    def _sqlite_pragmas(self, connection: object, _record: object) -> None:
        cursor = connection.cursor()  # type: ignore[attr-defined]
        # WAL lets the console read while the CLI writes; a busy timeout waits for a writer instead of failing.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # pysqlite would BEGIN on its own (deferred, only at the first write); we begin ourselves, see below.
        connection.isolation_level = None  # type: ignore[attr-defined]


def hold_write_lock(conn: Connection | Session) -> None:
    """Take PostgreSQL's write lock in this transaction (again is harmless); SQLite's is taken at BEGIN."""
    bind = conn.get_bind() if isinstance(conn, Session) else conn
    if bind.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _WRITE_LOCK_KEY})


# Columns added after a release, with the SQL that adds them to a store made before: (table, column, type, default).
_ADDED_COLUMNS = (
    ("actions", "requested", "VARCHAR(64)", "''"),
    ("actions", "repeats", "INTEGER", "0"),
)


def _outdated(engine: Engine) -> bool:
    """True when a table or an added column is missing: only then does opening the store need the write lock."""
    found = inspect(engine)
    if any(not found.has_table(t.name) for t in Base.metadata.sorted_tables):
        return True
    present = {c["name"] for c in found.get_columns("actions")}
    return any(column not in present for _table, column, _kind, _default in _ADDED_COLUMNS)


def _add_missing_columns(conn: Connection) -> None:
    """Bring a store made by an earlier version up to date; nothing in it is changed or lost."""
    present = {c["name"] for c in inspect(conn).get_columns("actions")}
    for table, column, kind, default in _ADDED_COLUMNS:
        if column not in present:
            conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {kind} NOT NULL DEFAULT {default}"))


def _reason(err: SQLAlchemyError) -> str:
    """The driver's own message without the SQL and its parameters (they may carry reasons or hashes)."""
    lock_timeout = getattr(getattr(err, "orig", None), "sqlstate", None) == "55P03"
    if lock_timeout or (isinstance(err, OperationalError) and "locked" in str(err.orig)):
        return "the database is locked by another process for too long; try again, and check for a stuck process"
    orig = getattr(err, "orig", None)
    return str(orig).strip().splitlines()[0] if orig is not None and str(orig).strip() else type(err).__name__


def _sqlite_file(database: str | None) -> Path | None:
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def _check_sqlite_file(path: Path, *, create: bool) -> None:
    if path.is_dir():
        raise StoreUnavailable(f"{path} is a folder, not a database file; check COPILOT_DATABASE_URL")
    if path.exists():
        if path.stat().st_size == 0:
            # SQLite would take an empty file as an empty database, and verify an audit trail of 0 entries.
            raise StoreUnavailable(
                f"{path} is an empty file, not a co-pilot database; restore it from a backup or remove it"
            )
        return
    if not create:
        raise StoreUnavailable(
            f"no database at {path}; check COPILOT_DATABASE_URL and COPILOT_DATA_DIR, "
            "or create it with `copilot users add NAME --role admin`"
        )
    if not path.parent.is_dir():
        raise StoreUnavailable(f"the folder {path.parent} does not exist; check COPILOT_DATABASE_URL")


def _create_sqlite(path: Path) -> None:
    """A new database file, complete before anyone can see it: built aside, then linked into place in one step.

    Another process starting at the same moment sees no file or a whole database, never an empty file (which
    is refused). Private from its first byte: SQLite gives its WAL and shared-memory files the same permissions.
    """
    aside = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.new")
    os.close(os.open(aside, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    try:
        with closing(sqlite3.connect(aside)) as raw:
            raw.execute("PRAGMA journal_mode=WAL")  # kept in the file: every later connection opens it in WAL
        engine = create_engine(f"sqlite:///{aside}")
        with engine.begin() as conn:
            Base.metadata.create_all(conn)
        engine.dispose()  # the last connection closes: the WAL is folded into the file and removed
        try:
            os.link(aside, path)
        except FileExistsError:
            pass  # another process made it first; theirs is as good as ours
    finally:
        for leftover in (aside, aside.with_name(aside.name + "-wal"), aside.with_name(aside.name + "-shm")):
            leftover.unlink(missing_ok=True)


def _private(path: Path) -> None:
    """Only the co-pilot's own account may read people, hashes and the audit trail."""
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if candidate.exists():
                candidate.chmod(0o600)
        except OSError:
            pass  # a file owned by another account: leave it, the owner's permissions stand


def _sqlite_begin_deferred(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN")


def _sqlite_begin_immediate(conn: Connection) -> None:
    # The write lock before the first read: a check and the change it guards see the same state.
    conn.exec_driver_sql("BEGIN IMMEDIATE")


def _redact(url: str) -> str:
    """A database URL without its password, fit for an error message."""
    if "@" not in url or "://" not in url:
        return url
    scheme, rest = url.split("://", 1)
    creds, host = rest.rsplit("@", 1)
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}"


def default_url(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'copilot.db'}"


__all__ = [
    "ActionRow",
    "AlarmJournalRow",
    "AlarmRow",
    "ApprovalRow",
    "AuditRow",
    "Database",
    "DiagnosisRow",
    "HandoverRow",
    "ProductionSampleRow",
    "SwitchRow",
    "UserRow",
    "default_url",
    "select",
]
