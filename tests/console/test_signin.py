"""Sign-in and the router: nothing before sign-in, one message for a wrong password, the throttle and its lockout,
sign-out, clear start-up errors."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update
from streamlit.testing.v1 import AppTest

from console.navigation import page_specs
from console.signin import WRONG
from copilot.pipeline.db import AuditRow, UserRow
from copilot.pipeline.signin import SignInRefused, clock_time, sign_in
from copilot.pipeline.states import Role
from copilot.pipeline.users import User
from tests.console.conftest import PASSWORD, ROOT, Console, button, read, sidebar_text, text_of


@pytest.mark.parametrize(
    ("role", "titles"),
    [
        (Role.OPERATOR, ["Line", "Alarms", "Co-pilot", "Troubleshooting", "Actions and audit", "Handover"]),
        (
            Role.SUPERVISOR,
            ["Line", "Alarms", "Co-pilot", "Troubleshooting", "Actions and audit", "Shift", "Handover"],
        ),
        (Role.MAINTENANCE, ["Line", "Alarms", "Troubleshooting", "Co-pilot", "Actions and audit"]),
        (Role.ADMIN, ["Line", "Alarms", "Troubleshooting", "Actions and audit", "Server identity"]),
    ],
)
def test_each_role_is_offered_its_pages(role: Role, titles: list[str]) -> None:
    assert [p.title for p in page_specs(User(name="x", role=role, active=True))] == titles


def test_nothing_shows_before_sign_in_and_a_wrong_password_is_one_message(console: Console) -> None:
    app = console.app()
    page = text_of(app)
    assert "Line co-pilot" in page
    assert "Bottling Line 1 · sign in with your plant account" in page
    assert "data-tag=" not in page, "no line data before sign-in"
    assert not app.sidebar.markdown, "no line state and no person before sign-in"
    assert [b.label for b in app.button] == ["Sign in"]

    button(app, "Sign in").click().run()
    assert [e.value for e in app.error] == ["Type your user name and your password."]

    app.text_input[0].input("olga")
    app.text_input[1].input("not the password")
    button(app, "Sign in").click().run()
    assert [e.value for e in app.error] == [
        "Unknown user or wrong password. Check both and try again; ask your supervisor if you have no account."
    ]
    assert "user" not in app.session_state

    app.text_input[0].input("nobody")
    app.text_input[1].input(PASSWORD)
    button(app, "Sign in").click().run()
    assert app.error[0].value.startswith("Unknown user or wrong password."), "an unknown name reads the same"
    assert not app.exception


def test_sign_in_opens_the_line_and_sign_out_closes_everything(console: Console) -> None:
    app = console.app()
    app.text_input[0].input("olga")
    app.text_input[1].input(PASSWORD)
    button(app, "Sign in").click().run()
    assert app.session_state["user"].name == "olga"
    page = text_of(app)
    assert "newest value" in page
    assert 'data-tag="filler.bowl_level"' in page
    side = sidebar_text(app)
    assert "**olga** · operator" in side
    assert "● Line connected" in side
    assert console.sim is not None
    assert console.sim.sim.endpoint in side

    button(app, "Sign out").click().run()
    assert "user" not in app.session_state
    assert "data-tag=" not in text_of(app)
    assert [b.label for b in app.button] == ["Sign in"]
    assert not app.exception


def test_a_person_deactivated_since_sign_in_is_signed_out(console: Console) -> None:
    app = console.app("otto")
    assert "**otto** · operator" in sidebar_text(app)
    with console.ctx.db.session() as s:
        s.execute(update(UserRow).where(UserRow.name == "otto").values(active=False))
    app.run()
    assert "user" not in app.session_state
    assert "otto is no longer an active user: signed out." in read(app.error)
    assert "data-tag=" not in text_of(app)


def test_a_bad_setting_is_a_clear_message_not_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COPILOT_ENDPOINT", "http://plc-line1:4840/")
    from console import services

    services.shutdown()
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
        [error] = read(app.error)
        assert error.startswith("Could not finish opening the console's database: invalid configuration: endpoint")
        assert "COPILOT_ENDPOINT" in error
        assert "Fix that setting (COPILOT_* environment variable or copilot.toml) and restart the console." in error
        assert not app.exception
        assert not app.text_input, "no sign-in form without a working configuration"
    finally:
        services.shutdown()


def test_an_unusable_database_is_a_clear_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the database folder should be", encoding="utf-8")
    monkeypatch.setenv("COPILOT_DATABASE_URL", f"sqlite:///{blocker}/copilot.db")
    from console import services

    services.shutdown()
    try:
        app = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30).run()
        [error] = read(app.error)
        assert f"no database at {blocker}/copilot.db" in error, "a mistyped path is never a new empty database"
        assert "Check that the database (COPILOT_DATABASE_URL, or copilot.db in the data directory)" in error
        assert not app.exception
    finally:
        services.shutdown()


def sign_in_as(app: AppTest, name: str, password: str) -> list[str]:
    """Type a name and a password at the sign-in form and submit; the error messages shown after."""
    app.text_input[0].input(name)
    app.text_input[1].input(password)
    button(app, "Sign in").click().run()
    return [str(e.value) for e in app.error]


def lock_out(console: Console, name: str) -> float:
    """Five failed sign-ins in the last 20 s from elsewhere (another console, the CLI); when the lockout ends."""
    start = time.time() - 20
    for t in (0, 0, 0, 5, 15):
        with contextlib.suppress(SignInRefused):
            sign_in(console.ctx.db, name, "wrong password!", clients=("elsewhere",), now=start + t)
    return start + 15 + 900


def test_failed_sign_ins_wait_then_lock_out_the_same_for_an_unknown_name(console: Console) -> None:
    app = console.app()
    for name in ("olga", "nobody"):
        assert sign_in_as(app, name, "not the password") == [WRONG]
        assert sign_in_as(app, name, "not the password") == [WRONG]
        [third] = sign_in_as(app, name, "not the password")
        assert third.startswith(f"{WRONG}\n\nToo many failed sign-ins; wait 5 s (until "), third
        [waiting] = sign_in_as(app, name, PASSWORD)
        assert waiting.startswith("Too many failed sign-ins; wait "), "even the right password waits"
        assert "user" not in app.session_state

    until = lock_out(console, "oleg")
    assert sign_in_as(app, "oleg", PASSWORD) == [
        f"Too many failed sign-ins; try again at {clock_time(until)} or ask a supervisor to unlock you."
    ]
    assert "user" not in app.session_state
    with console.ctx.db.reader() as s:
        logged = s.execute(select(AuditRow.event, AuditRow.actor).where(AuditRow.event.like("%sign%"))).all()
    assert logged.count(("signin_failed", "olga")) == 3
    assert logged.count(("signin_throttled", "olga")) == 1
    assert logged.count(("signin_throttled", "oleg")) == 1
    assert not app.exception


def test_a_supervisor_clears_a_lockout_and_the_person_signs_in(console: Console) -> None:
    lock_out(console, "olga")
    assert "Sign-in lockouts" not in text_of(console.page("actions", "otto")), "operators do not see the control"

    page = console.page("actions", "sam")
    assert "Sign-in lockouts" in [str(h.value) for h in page.subheader]
    [table] = [d.value for d in page.dataframe if "failed sign-ins" in d.value.columns]
    assert table[["who", "kind", "state", "failed sign-ins"]].to_dict("records") == [
        {"who": "olga", "kind": "person", "state": "locked out", "failed sign-ins": 5}
    ]
    button(page, "Unlock").click().run()
    assert "Cleared: the next sign-in is checked at once." in read(page.success)
    assert "Nobody is locked out or waiting after failed sign-ins." in text_of(page)

    app = console.app()
    assert sign_in_as(app, "olga", PASSWORD) == []
    assert app.session_state["user"].name == "olga"
    with console.ctx.db.reader() as s:
        unlocked = s.execute(select(AuditRow.actor).where(AuditRow.event == "unlocked")).scalars().all()
    assert unlocked == ["sam"]
