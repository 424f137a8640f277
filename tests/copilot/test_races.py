"""Decision races with real threads and real processes, on SQLite and PostgreSQL: one decision wins, always."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session

from copilot.evaluation.races import run_races
from copilot.pipeline import actions, executor
from copilot.pipeline import db as db_module
from copilot.pipeline.db import ActionRow, default_url
from copilot.pipeline.states import Status


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["threads", "processes"])
def test_racing_decisions_never_write_an_unapproved_change(db_url: str, mode: str) -> None:
    report = run_races(db_url, races=25, mode=mode, workers=3, seed=7)
    assert report.races == 25, report.problems
    assert report.problems == []
    assert report.unapproved_writes == 0
    assert report.double_writes == 0
    assert report.double_decisions == 0
    assert report.value_mismatches == 0
    assert report.errors == 0
    assert report.chain_ok
    # The races were real: people lost to one another, and some changes were written.
    assert report.conflicts > 0
    assert report.writes > 0


@pytest.mark.slow
def test_the_races_catch_the_old_read_then_write_decisions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The pipeline as it was: pysqlite's own transactions (a BEGIN only at the first write, so the status was read
    # outside the transaction that changed it) and unconditional status updates. The judge must see what people saw.
    def legacy_pragmas(_self: object, connection: Any, _record: object) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()

    def blind_move(session: Session, row: ActionRow, _allowed: object, to: Status, **values: Any) -> None:
        session.execute(
            update(ActionRow)
            .where(ActionRow.id == row.id)
            .values(status=to.value, **values)
            .execution_options(synchronize_session=False)
        )
        session.refresh(row)

    monkeypatch.setattr(db_module.Database, "_sqlite_pragmas", legacy_pragmas)
    monkeypatch.setattr(db_module, "_sqlite_begin_immediate", lambda _conn: None)
    monkeypatch.setattr(db_module, "_sqlite_begin_deferred", lambda _conn: None)
    monkeypatch.setattr(actions, "move", blind_move)
    monkeypatch.setattr(executor, "move", blind_move)
    report = run_races(default_url(tmp_path), races=30, mode="threads", workers=3, seed=7)
    assert report.unapproved_writes + report.double_writes + report.double_decisions > 0, report.as_json()
    assert not report.held
