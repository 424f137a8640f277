"""The shared store under several processes at once, on SQLite and PostgreSQL: the audit chain stays whole."""

from __future__ import annotations

import json
import multiprocessing
import time
import traceback
from collections.abc import Callable
from multiprocessing.synchronize import Barrier

import pytest
from sqlalchemy import select

from copilot.errors import CopilotError, StoreUnavailable
from copilot.pipeline import audit, signin
from copilot.pipeline.actions import ActionService
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import AuditRow, Database
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Role
from copilot.pipeline.users import User, add_user, get_user
from tests.copilot.conftest import PASSWORD, FakeClock

WRITERS = 4
APPENDS = 40  # per writer; each in its own write transaction, as the pipeline appends


def _append(url: str, writer: int, count: int, start: Barrier, results: multiprocessing.Queue[str]) -> None:
    """One console or CLI process: its own Database on the shared URL, appending as fast as it can."""
    try:
        start.wait(timeout=60)
        db = Database(url)
        for i in range(count):
            with db.session() as s:
                audit.append(s, AuditEvent.PROPOSED, actor=f"writer{writer}", at=time.time(), details={"i": i})
        db.dispose()
        results.put("ok")
    except BaseException:
        start.abort()  # the others stop waiting for a writer that will never come
        results.put(f"writer {writer}: {traceback.format_exc()}")


def _race(url: str, *, writers: int, appends: int) -> list[str]:
    """Start `writers` processes that append at the same moment; return what each reported."""
    # Spawned, not forked: each process imports and connects on its own, as separate programs would.
    ctx = multiprocessing.get_context("spawn")
    start = ctx.Barrier(writers)
    results: multiprocessing.Queue[str] = ctx.Queue()
    procs = [ctx.Process(target=_append, args=(url, w, appends, start, results)) for w in range(writers)]
    for p in procs:
        p.start()
    try:
        reports = [results.get(timeout=120) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    return reports


def _check_chain(url: str, *, writers: int, appends: int) -> None:
    db = Database(url)
    try:
        with db.session() as s:
            report = audit.verify(s)
            rows = list(s.execute(select(AuditRow).order_by(AuditRow.seq)).scalars())
    finally:
        db.dispose()
    assert report.ok, report.problem
    assert [r.seq for r in rows] == list(range(1, writers * appends + 1))
    for w in range(writers):
        mine = [json.loads(r.details)["i"] for r in rows if r.actor == f"writer{w}"]
        assert mine == list(range(appends)), f"writer{w}'s entries are missing or out of order: {mine}"


@pytest.mark.slow
def test_processes_appending_from_an_empty_trail_keep_one_chain(db_url: str) -> None:
    """The first appends are the hard case: on an empty table `SELECT ... FOR UPDATE` has no row to lock."""
    Database(db_url).dispose()  # the tables, so that the race is about the trail and not about creating them
    reports = _race(db_url, writers=WRITERS, appends=APPENDS)
    assert reports == ["ok"] * WRITERS, "\n".join(r for r in reports if r != "ok")
    _check_chain(db_url, writers=WRITERS, appends=APPENDS)


@pytest.mark.slow
def test_processes_opening_a_new_database_at_once_all_start(db_url: str) -> None:
    """Several consoles started together on an empty database: each creates the tables, none may fail."""
    reports = _race(db_url, writers=WRITERS, appends=1)
    assert reports == ["ok"] * WRITERS, "\n".join(r for r in reports if r != "ok")
    _check_chain(db_url, writers=WRITERS, appends=1)


HOSTILE_NAME = "ol\x00ga" + "\ufdfd" * 70  # a NUL, and a character NFKC turns into 18
HOSTILE_TEXT = "stop\x00 the line " * 20


def _outcome(call: Callable[[], object]) -> str:
    try:
        call()
    except StoreUnavailable as err:
        return f"store error: {err}"
    except (CopilotError, ValueError) as err:
        return type(err).__name__
    return "stored"


def test_text_postgresql_cannot_store_is_judged_as_on_sqlite(
    db: Database, service: ActionService, people: dict[str, User], clock: FakeClock
) -> None:
    """SQLite keeps a NUL and an over-long string; PostgreSQL refuses both, and must never be the one to say no."""
    down = LineSnapshot(available=False, readings={})
    sam = people["sam"]
    calls: dict[str, Callable[[], object]] = {
        "proposal": lambda: service.propose(
            "filler.bowl_level_sp\x00" + "x" * 300,
            55.0,
            requester=people["olga"],
            reason=HOSTILE_TEXT,
            snapshot=down,
            evidence=[{"manual": HOSTILE_TEXT}],
            requested="5\x005" * 40,
        ),
        "kill switch": lambda: service.set_writes(False, by=sam, reason=HOSTILE_TEXT),
        "new person": lambda: add_user(db, HOSTILE_NAME, Role.OPERATOR, PASSWORD, by="test", at=clock()),
        "person looked up": lambda: get_user(db, HOSTILE_NAME),
        "sign-in": lambda: signin.sign_in(db, HOSTILE_NAME, PASSWORD, clients=("c\x00" * 200,), now=clock()),
    }
    outcomes = {what: _outcome(call) for what, call in calls.items()}
    assert not {what: o for what, o in outcomes.items() if o.startswith("store error")}
    with db.reader() as s:
        assert audit.verify(s).ok
