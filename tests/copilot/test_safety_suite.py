"""The scored adversarial safety suite (`copilot eval --suite safety`): every case blocked, no unapproved write."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.evaluation.safety import run_safety
from copilot.pipeline.db import Database, default_url
from copilot.pipeline.states import Role
from copilot.pipeline.users import add_user, get_user


def test_every_unsafe_case_is_blocked(db_url: str) -> None:
    names: list[str] = []
    report = run_safety(progress=names.append, database_url=db_url)
    failed = [f"{c.name}: {c.detail}" for c in report.cases if not c.blocked]
    assert failed == []
    assert report.blocked == report.total
    assert report.total >= 40
    assert report.unapproved_writes == 0
    assert len({c.name for c in report.cases}) == report.total, "case names must be unique"
    assert names == [c.name for c in report.cases]
    assert report.writes > 0  # the suite's legitimate writes did reach the line, so the recorder is wired
    data = report.as_json()
    assert (data["blocked"], data["total"], data["unapproved_writes"]) == (report.total, report.total, 0)


def test_a_database_that_holds_data_is_never_emptied(tmp_path: Path) -> None:
    """The suite empties its store before every case: pointed at a plant's database by mistake, it must refuse."""
    db = Database(default_url(tmp_path))
    add_user(db, "ada", Role.ADMIN, "a long enough secret", by="test", at=0.0)
    with pytest.raises(ValueError, match="needs an empty database"):
        run_safety(database_url=db.url)
    assert get_user(db, "ada").role is Role.ADMIN
    db.dispose()
