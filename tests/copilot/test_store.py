"""The store under bad input: a mistyped path, an empty file, a locked database, private files; odd values."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from sqlalchemy import inspect as sqlite_inspect

from connectors.client import LineClient
from connectors.line import LineDefinition
from copilot.errors import StoreUnavailable
from copilot.pipeline import policy
from copilot.pipeline.actions import ActionService
from copilot.pipeline.db import Database, default_url
from copilot.pipeline.states import Status
from copilot.pipeline.users import User
from tests.copilot.conftest import snapshot_of

TAG = "filler.bowl_level_sp"


def test_a_mistyped_path_is_an_error_not_a_new_database(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match=r"no database at .*copilto\.db.*COPILOT_DATABASE_URL"):
        Database(f"sqlite:///{tmp_path / 'copilto.db'}", create=False)
    assert not (tmp_path / "copilto.db").exists()


def test_an_empty_file_is_not_taken_for_an_empty_database(tmp_path: Path) -> None:
    empty = tmp_path / "copilot.db"
    empty.write_bytes(b"")
    for create in (False, True):
        with pytest.raises(StoreUnavailable, match="empty file"):
            Database(f"sqlite:///{empty}", create=create)


def test_another_sqlite_file_is_not_taken_for_ours(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with pytest.raises(StoreUnavailable, match="holds no co-pilot database"):
        Database(f"sqlite:///{other}", create=False)


def test_the_database_and_its_journal_are_private(tmp_path: Path) -> None:
    Database(default_url(tmp_path)).dispose()  # created, as by the first `users add`
    db = Database(default_url(tmp_path), create=False)
    try:
        with db.session():
            pass
        files = [p for p in tmp_path.iterdir() if p.name.startswith("copilot.db")]
        assert files
        for path in files:
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, (path.name, oct(path.stat().st_mode))
    finally:
        db.dispose()


def test_a_locked_database_says_so_without_sql(tmp_path: Path) -> None:
    Database(default_url(tmp_path)).dispose()
    path = tmp_path / "copilot.db"
    holder = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    db = Database(default_url(tmp_path), create=False, busy_timeout_s=0.1)
    try:
        with pytest.raises(StoreUnavailable) as caught, db.session():
            pass
        message = str(caught.value)
        assert "locked by another process" in message
        assert "SELECT" not in message
        assert "[parameters" not in message
    finally:
        holder.rollback()
        holder.close()
        db.dispose()


@pytest.mark.parametrize("text", ["5_1", "0x10", "nan", "inf", "1,5", "", "5.1.2", "--3"])
def test_typed_values_are_read_strictly(text: str) -> None:
    with pytest.raises(ValueError, match="not a number"):
        policy.parse_value(text)


@pytest.mark.parametrize(("text", "number"), [("51", 51.0), ("5.1", 5.1), ("-0.5", -0.5), (".5", 0.5), ("1e2", 100.0)])
def test_numbers_as_people_write_them(text: str, number: float) -> None:
    assert policy.parse_value(text) == number


@pytest.mark.parametrize("asked", ["nan", "inf", "1e309"])
async def test_a_refused_odd_value_is_shown_as_asked(
    service: ActionService, shared_client: LineClient, people: dict[str, User], asked: str, line: LineDefinition
) -> None:
    value = float(asked)
    action = service.propose(
        TAG, value, requester=people["olga"], reason="odd", snapshot=snapshot_of(shared_client), requested=asked
    )
    assert action.status is Status.REFUSED
    assert action.target_text == asked
    assert service.get(action.id).target_text == asked
    assert any("not a finite number" in r for r in action.refusals)


async def test_identical_refused_proposals_fold_into_one(
    service: ActionService, shared_client: LineClient, people: dict[str, User], line: LineDefinition
) -> None:
    first = service.propose(TAG, 999.0, requester=people["olga"], reason="too far", snapshot=snapshot_of(shared_client))
    again = [
        service.propose(TAG, 999.0, requester=people["olga"], reason="too far", snapshot=snapshot_of(shared_client))
        for _ in range(3)
    ]
    assert first.status is Status.REFUSED
    assert {a.id for a in again} == {first.id}
    assert service.get(first.id).repeats == 3
    refused = service.list_actions(status=Status.REFUSED)
    assert [a.id for a in refused] == [first.id]
    # Another person, or another value, is a new row: only true repeats fold.
    other = service.propose(TAG, 999.0, requester=people["otto"], reason="too far", snapshot=snapshot_of(shared_client))
    assert other.id != first.id


def test_the_data_directory_is_private_even_when_it_was_not(tmp_path: Path) -> None:
    from copilot.settings import load_settings

    fresh = load_settings(data_dir=tmp_path / "new" / "data").ensure_data_dir()
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700
    old = tmp_path / "old"
    old.mkdir(mode=0o755)
    old.chmod(0o755)  # as an earlier version left it
    assert stat.S_IMODE(load_settings(data_dir=old).ensure_data_dir().stat().st_mode) == 0o700


def test_a_store_from_the_earlier_version_is_brought_up_to_date(tmp_path: Path) -> None:
    Database(default_url(tmp_path)).dispose()
    with sqlite3.connect(tmp_path / "copilot.db") as conn:  # as the version before the hardening left it
        conn.execute("ALTER TABLE actions DROP COLUMN requested")
        conn.execute("ALTER TABLE actions DROP COLUMN repeats")
        conn.execute("DROP TABLE signin_throttle")
        conn.execute(
            "INSERT INTO actions (id, tag, new_value, unit, reason, evidence, requested_by, via_agent, status, "
            "refusals, approvals_needed, supervisor_needed, created_at, expires_at, result) VALUES "
            "('0123456789', 'filler.bowl_level_sp', 52, '%', 'kept', '[]', 'olga', 0, 'refused', '[]', 1, 0, 1, 2, '')"
        )
    db = Database(default_url(tmp_path), create=False)
    try:
        with db.reader() as s:
            columns = {c["name"] for c in sqlite_inspect(s.connection()).get_columns("actions")}
            assert {"requested", "repeats"} <= columns
            assert sqlite_inspect(s.connection()).has_table("signin_throttle")
        from connectors.line import default_line_path, load_line
        from copilot.pipeline.actions import ActionService

        kept = ActionService(db, load_line(default_line_path())).get("0123456789")
        assert kept.reason == "kept"
        assert kept.repeats == 0
    finally:
        db.dispose()
