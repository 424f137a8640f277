"""People and sign-in: look-alike names, the password policy, an admin's authority, and the throttle, on real
databases (SQLite and PostgreSQL) with real processes racing."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from copilot.errors import NotAllowed
from copilot.evaluation.people_cases import people_cases
from copilot.pipeline import audit
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import AuditRow, Database, SignInThrottleRow, UserRow, default_url
from copilot.pipeline.signin import (
    CLIENT,
    PERSON,
    Limits,
    SignInRefused,
    Throttle,
    lockouts,
    person_key,
    refusal_text,
    sign_in,
    unlock,
    unlock_person,
)
from copilot.pipeline.users import (
    MIN_PASSWORD,
    Role,
    User,
    add_user,
    authenticate,
    change_role,
    check_new_name,
    deactivate,
    enroll,
    get_user,
    password_problem,
    skeleton,
)
from tests.copilot.conftest import PASSWORD
from tests.copilot.signin_racers import attempt, race

START = 1_900_000_000.0
ROOT = Path(__file__).resolve().parents[2]
# argon2 at its default cost takes a third of a second here; people whose password a test checks dozens of times
# get a hash of the lowest cost instead. The check is the same argon2 verify: its cost is read from the hash.
_CHEAP = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
GENEROUS = Throttle(
    person=Limits(free=10_000, first_wait_s=1, max_wait_s=1, lock_after=10_000, lockout_s=1, window_s=3600),
    client=Limits(free=10_000, first_wait_s=1, max_wait_s=1, lock_after=10_000, lockout_s=1, window_s=3600),
)


def cheap_person(db: Database, name: str, role: Role, password: str = PASSWORD) -> User:
    with db.session() as s:
        s.add(UserRow(name=name, role=role.value, password_hash=_CHEAP.hash(password), active=True, created_at=START))
    return User(name=name, role=role, active=True)


def refused(action: Any) -> str:
    with pytest.raises(NotAllowed) as caught:
        action()
    return str(caught.value)


def events(db: Database, *wanted: AuditEvent) -> list[audit.AuditEntry]:
    with db.reader() as s:
        return [e for e in audit.entries(s) if e.event in {w.value for w in wanted}]


# ---- names ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "existing"),
    [
        ("\N{CYRILLIC SMALL LETTER O}lga", "olga"),
        ("\uff53\uff41\uff4d", "sam"),  # full-width
        ("\U0001d42c\U0001d41a\U0001d426", "sam"),  # mathematical bold
        ("SAM", "sam"),
        ("0lga", "olga"),
        ("I1l", "lil"),
        ("rnia", "mia"),
        ("mla", "mia"),
        ("o.lga", "olga"),
        ("o_l-ga", "olga"),
        ("\u00f3lga", "olga"),  # an accent
        ("o\u200blga", "olga"),  # a zero-width space
        ("\N{GREEK CAPITAL LETTER OMICRON}LGA", "olga"),
        ("\N{CYRILLIC CAPITAL LETTER ES}\N{CYRILLIC CAPITAL LETTER A}M", "cam"),
        ("vvill", "will"),
        ("5am", "sam"),
    ],
)
def test_look_alikes_share_a_skeleton(typed: str, existing: str) -> None:
    assert skeleton(typed) == skeleton(existing)


@pytest.mark.parametrize(("one", "other"), [("olga", "oleg"), ("sam", "sue"), ("otto", "olga"), ("ada", "mia")])
def test_different_names_keep_different_skeletons(one: str, other: str) -> None:
    assert skeleton(one) != skeleton(other)


def test_new_names_are_canonical_ascii_and_never_pass_for_an_existing_one() -> None:
    assert check_new_name("Olga.K", ["sam"]) == "olga.k"
    assert check_new_name("\uff4f\uff54\uff54\uff4f", ["sam"]) == "otto", "full-width folds to ASCII by NFKC"
    assert "exists already" in refused(lambda: check_new_name("sam", ["sam"]))
    for bad in ("", "-rf", "x'; DROP TABLE users;--", "j\u00fcrgen", "a" * 65, "two words", "\u202eevil"):
        assert "use 1 to 64 characters: ASCII letters" in refused(lambda b=bad: check_new_name(b, []))


def test_olga_and_sam_look_alikes_are_refused_naming_the_existing_person(tmp_path: Path) -> None:
    db = Database(default_url(tmp_path))
    for name, role in (("olga", Role.OPERATOR), ("sam", Role.SUPERVISOR)):
        cheap_person(db, name, role)
    cyrillic = refused(lambda: add_user(db, "\u043elga", Role.SUPERVISOR, PASSWORD, by="test", at=START))
    assert cyrillic == (
        "the name '\u043elga' (written '\\u043elga') looks like the existing person 'olga': "
        "pick a name nobody can mistake for theirs"
    )
    wide = refused(lambda: add_user(db, "\uff53\uff41\uff4d", Role.SUPERVISOR, PASSWORD, by="test", at=START))
    assert "looks like the existing person 'sam'" in wide
    assert "(written '\\uff53\\uff41\\uff4d')" in wide, "the message shows what was really typed"
    with db.reader() as s:
        assert s.execute(select(UserRow.name).order_by(UserRow.name)).scalars().all() == ["olga", "sam"]
    db.dispose()


def test_a_name_is_signed_in_whatever_its_case_or_width(tmp_path: Path) -> None:
    db = Database(default_url(tmp_path))
    cheap_person(db, "olga", Role.OPERATOR)
    assert authenticate(db, "OLGA", PASSWORD).name == "olga"
    assert authenticate(db, "\uff4f\uff4c\uff47\uff41", PASSWORD).name == "olga"
    assert "unknown user" in refused(lambda: authenticate(db, "\u043elga", PASSWORD)), "a look-alike is not olga"
    db.dispose()


# ---- passwords ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("short", f"at least {MIN_PASSWORD} characters"),
        ("elevenchars", f"at least {MIN_PASSWORD} characters"),
        ("aaaaaaaaaaaaaaaa", "different characters"),
        ("abababababababab", "different characters"),
        ("123456789012345", "only digits"),
        ("olga1234567890", "your name"),
        ("OLGA-2024-olga!", "your name"),
        ("Password2024!!", "too common"),
        ("P@ssw0rd123456", "too common"),
        ("passwordpassword", "too common"),
        ("qwertyuiop1234", "too common"),
        ("Correcthorsebatterystaple", "too common"),
        ("abcdefghijklmnop", "run of keys"),
        ("asdfghjklzxcv", "run of keys"),
        ("x" * 1025, "at most 1024"),
    ],
)
def test_weak_passwords_are_refused_with_the_reason(password: str, why: str) -> None:
    problem = password_problem("olga", password)
    assert problem is not None
    assert why in problem


@pytest.mark.parametrize(
    "password",
    [
        PASSWORD,  # the pipeline tests' people
        "console-test-password",  # the console tests'
        "operator-password-1",  # the agent tests'
        "supervisor-password-1",
        "evaluation-only-password",  # the fault evaluation's
        "a long enough secret",  # the CLI tests'
        "olga and her bicycle",
    ],
)
def test_the_passwords_our_callers_use_meet_the_policy(password: str) -> None:
    assert password_problem("olga", password) is None


def test_the_demo_and_safety_suite_generators_meet_the_policy() -> None:
    # The demo's token_urlsafe(9) and the safety suite's token_urlsafe(12), for every name they use.
    names = ("olga", "otto", "oleg", "sam", "sue", "mia", "ada")
    bad = [
        (n, p)
        for n in names
        for size in (9, 12)
        for _ in range(300)
        if password_problem(n, p := secrets.token_urlsafe(size))
    ]
    assert bad == []


def test_the_readme_states_the_policy_and_the_limits() -> None:
    readme = (ROOT / "docs" / "action-pipeline.md").read_text(encoding="utf-8")
    section = readme.split("## People and sign-in", 1)[1].split("\n## ", 1)[0]
    assert f"at least {MIN_PASSWORD} characters" in section
    for figure in ("15 minutes", "COPILOT_NEW_PASSWORD", "copilot users unlock", "look-alike"):
        assert figure in section


# ---- authority ------------------------------------------------------------------------------------------------


def test_only_the_first_admin_of_an_empty_database_is_added_without_an_admin(db: Database) -> None:
    assert "needs an admin's sign-in" in refused(
        lambda: enroll(db, "olga", Role.OPERATOR, PASSWORD, admin=None, at=START)
    )
    ada = enroll(db, "ada", Role.ADMIN, PASSWORD, admin=None, at=START)
    assert ada == User(name="ada", role=Role.ADMIN, active=True)
    assert "needs an admin's sign-in" in refused(lambda: enroll(db, "eve", Role.ADMIN, PASSWORD, admin=None, at=START))
    olga = enroll(db, "olga", Role.OPERATOR, PASSWORD, admin=ada, at=START)
    assert "needs an admin; olga is operator" in refused(
        lambda: enroll(db, "eve", Role.SUPERVISOR, PASSWORD, admin=olga, at=START)
    )
    forged = User(name="olga", role=Role.ADMIN, active=True)
    assert "olga is not an active admin" in refused(
        lambda: enroll(db, "eve", Role.SUPERVISOR, PASSWORD, admin=forged, at=START)
    )
    added = events(db, AuditEvent.USER_ADDED)
    assert [(e.actor, e.details["user"]) for e in added] == [("first-admin", "ada"), ("ada", "olga")]


def test_roles_and_deactivation_need_an_admin_and_the_last_admin_stays(db: Database) -> None:
    ada = cheap_person(db, "ada", Role.ADMIN)
    olga = cheap_person(db, "olga", Role.OPERATOR)
    sam = cheap_person(db, "sam", Role.SUPERVISOR)
    assert "needs an admin; sam is supervisor" in refused(
        lambda: change_role(db, "sam", Role.ADMIN, admin=sam, at=START)
    )
    assert "needs an admin" in refused(lambda: deactivate(db, "olga", admin=olga, at=START))
    assert "ada is the last active admin" in refused(lambda: change_role(db, "ada", Role.OPERATOR, admin=ada, at=START))
    assert "ada is the last active admin" in refused(lambda: deactivate(db, "ada", admin=ada, at=START))

    sam = change_role(db, "SAM", Role.ADMIN, admin=ada, at=START)
    assert sam == User(name="sam", role=Role.ADMIN, active=True)
    assert deactivate(db, "ada", admin=sam, at=START).active is False, "no longer the last admin"
    assert "sam is the last active admin" in refused(lambda: deactivate(db, "sam", admin=sam, at=START))
    assert "ada is not an active admin" in refused(
        lambda: change_role(db, "olga", Role.SUPERVISOR, admin=ada, at=START)
    )
    assert deactivate(db, "olga", admin=sam, at=START).active is False
    assert "unknown user or wrong password" in refused(lambda: authenticate(db, "olga", PASSWORD))
    assert "no active user" in refused(lambda: get_user(db, "olga"))

    changed = events(db, AuditEvent.ROLE_CHANGED, AuditEvent.USER_DEACTIVATED)
    assert [(e.event, e.actor, e.details["user"]) for e in changed] == [
        ("role_changed", "ada", "sam"),
        ("user_deactivated", "sam", "ada"),
        ("user_deactivated", "sam", "olga"),
    ]
    assert changed[0].details == {"user": "sam", "from": "supervisor", "to": "admin"}


# ---- the throttle ---------------------------------------------------------------------------------------------


def test_waits_then_a_lockout_and_the_figures_per_person(db: Database) -> None:
    """An attacker who retries the moment the throttle allows: how many passwords are checked per minute and hour."""
    cheap_person(db, "olga", Role.OPERATOR)
    now, checked, outcomes = START, list[float](), list[str]()
    while now < START + 3600:
        try:
            sign_in(db, "olga", "not the password", clients=(f"c{len(checked)}",), now=now)
        except SignInRefused as err:
            if err.checked:
                checked.append(now)
                outcomes.append(str(err))
            now = max(now, err.until) if err.until else now
    first_minute = sum(t < START + 60 for t in checked)
    per_hour = len(checked)
    print(f"\nsign-in figures: {first_minute} passwords checked in the first minute, {per_hour} per hour per person")
    assert (first_minute, per_hour) == (5, 20)
    assert [t - START for t in checked[:6]] == [0, 0, 0, 5, 15, 915], "3 at once, waits of 5 and 10 s, 15 min lock"
    assert outcomes[0] == "unknown user or wrong password"
    assert outcomes[2] == "unknown user or wrong password; " + refusal_text(until=START + 5, locked=False, now=START)
    assert outcomes[4].endswith("or ask a supervisor to unlock you")


def test_a_locked_person_reads_when_to_come_back_and_the_right_password_waits_too(db: Database) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    tries = [attempt(db, "olga", "wrong password!", START + i) for i in (0, 0, 0, 5, 15)]
    assert tries == ["wrong", "wrong", "wrong+wait", "wrong+wait", "wrong+locked"]
    with pytest.raises(SignInRefused) as caught:
        sign_in(db, "olga", PASSWORD, clients=("another tablet",), now=START + 20)
    until = START + 15 + 900
    assert str(caught.value) == refusal_text(until=until, locked=True, now=START + 20)
    assert str(caught.value).startswith("too many failed sign-ins; try again at ")
    assert caught.value.checked is False
    assert attempt(db, "OLGA", PASSWORD, START + 30) == "locked", "every spelling of the name is the same person"
    assert attempt(db, "olga", PASSWORD, until) == "ok", "the lockout ends by itself"
    assert attempt(db, "olga", "wrong password!", until + 1) == "wrong", "and the count starts again"


def test_an_unknown_name_is_throttled_exactly_as_a_known_one(db: Database) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    times = (0, 0, 0, 1, 5, 6, 15, 16)
    known = [attempt(db, "olga", "wrong password!", START + t, client="a") for t in times]
    unknown = [attempt(db, "nobody", "wrong password!", START + t, client="b") for t in times]
    assert known == unknown == ["wrong", "wrong", "wrong+wait", "wait", "wrong+wait", "wait", "wrong+locked", "locked"]


def test_a_right_password_resets_the_person_and_refunds_only_its_own_charge_to_the_client(db: Database) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    assert [attempt(db, "olga", "wrong password!", START) for _ in range(2)] == ["wrong", "wrong"]
    assert attempt(db, "nobody", "wrong password!", START) == "wrong"
    assert attempt(db, "olga", PASSWORD, START) == "ok"
    with db.reader() as s:
        rows = {(r.kind, r.key): r.failures for r in s.execute(select(SignInThrottleRow)).scalars()}
    assert rows == {(PERSON, "olga"): 0, (PERSON, person_key("nobody")): 1, (CLIENT, "test"): 3}


def test_people_signing_in_at_once_from_one_client_wait_for_nobody(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One shell account for several people, or consoles behind one proxy: otto's attempt reads its clock, then waits
    # for the write lock while olga's is charged, so otto's `now` is the earlier one. Nobody failed: nobody waits.
    cheap_person(db, "olga", Role.OPERATOR)
    cheap_person(db, "otto", Role.OPERATOR)
    checked = authenticate
    during: list[str] = []

    def olga_checked_while_otto_signs_in(db_: Database, name: str, password: str) -> User:
        if name == "olga":
            during.append(attempt(db, "otto", PASSWORD, START - 0.01, client="shared"))
        return checked(db_, name, password)

    monkeypatch.setattr("copilot.pipeline.signin.authenticate", olga_checked_while_otto_signs_in)
    assert attempt(db, "olga", PASSWORD, START, client="shared") == "ok"
    assert during == ["ok"]


def test_one_client_spraying_names_is_slowed_and_locked_but_not_others(db: Database) -> None:
    tight = Throttle(client=Limits(free=2, first_wait_s=5, max_wait_s=60, lock_after=4, lockout_s=900, window_s=900))
    cheap_person(db, "a1", Role.OPERATOR)
    sprayed = [
        attempt(db, f"name{i}", "wrong password!", START + i * 10, client="kiosk", throttle=tight) for i in range(5)
    ]
    assert sprayed == ["wrong", "wrong", "wrong+wait", "wrong+locked", "locked"]
    assert attempt(db, "a1", PASSWORD, START + 60, client="kiosk", throttle=tight) == "locked"
    assert attempt(db, "a1", PASSWORD, START + 60, client="desk", throttle=tight) == "ok", "another client signs in"


def test_a_supervisor_unlocks_a_person_and_an_operator_cannot(db: Database) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    otto = cheap_person(db, "otto", Role.OPERATOR)
    sam = cheap_person(db, "sam", Role.SUPERVISOR)
    for t in (0, 0, 0, 5, 15):
        attempt(db, "olga", "wrong password!", START + t)
    [held] = lockouts(db, now=START + 20)  # the client "test" has 5 failures, within its free ones
    assert (held.kind, held.key, held.shown, held.locked, held.failures) == (PERSON, "olga", "olga", True, 5)
    assert "needs a supervisor or an admin; otto is operator" in refused(
        lambda: unlock_person(db, "olga", by=otto, now=START + 20)
    )
    assert unlock_person(db, "\N{CYRILLIC SMALL LETTER O}lga", by=sam, now=START + 20) is True
    assert unlock_person(db, "olga", by=sam, now=START + 21) is False, "nothing left to clear"
    assert attempt(db, "olga", PASSWORD, START + 22, client="desk") == "ok"
    assert unlock(db, CLIENT, "test", by=sam, now=START + 22) is False, "the client had no wait running"
    [cleared] = events(db, AuditEvent.UNLOCKED)
    assert (cleared.actor, cleared.details["person"], cleared.details["locked"]) == ("sam", "olga", True)


def test_every_attempt_is_audited_and_no_password_is(db: Database) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    secret_wrong = "wrong-but-secret-Zq7"
    outcomes = [attempt(db, "olga", secret_wrong, START + t) for t in (0, 0, 0, 1, 5, 15, 16)]
    outcomes.append(attempt(db, "olga", PASSWORD, START + 915))
    assert outcomes == ["wrong", "wrong", "wrong+wait", "wait", "wrong+wait", "wrong+locked", "locked", "ok"]
    logged = events(
        db, AuditEvent.SIGNIN_OK, AuditEvent.SIGNIN_FAILED, AuditEvent.SIGNIN_THROTTLED, AuditEvent.LOCKED_OUT
    )
    assert [e.event for e in logged] == [
        "signin_failed", "signin_failed", "signin_failed", "signin_throttled", "signin_failed",
        "signin_failed", "locked_out", "signin_throttled", "signin_ok",
    ]  # fmt: skip
    assert logged[-1].actor == "olga"
    with db.reader() as s:
        dump = audit.to_csv(audit.entries(s))
        assert audit.verify(s).ok
    assert secret_wrong not in dump
    assert PASSWORD not in dump


# ---- racing processes -----------------------------------------------------------------------------------------


def test_racing_processes_count_every_failure(db: Database, db_url: str) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    outcomes = race(db_url, "olga", processes=6, tries=5, at=START, throttle=GENEROUS)
    assert outcomes == ["wrong"] * 30
    with db.reader() as s:
        counted = s.execute(select(SignInThrottleRow.failures).where(SignInThrottleRow.kind == PERSON)).scalar_one()
        failed = s.execute(select(func.count()).where(AuditRow.event == "signin_failed")).scalar_one()
        assert audit.verify(s).ok
    assert (counted, failed) == (30, 30)


def test_racing_processes_get_no_more_checks_than_the_limits_allow(db: Database, db_url: str) -> None:
    cheap_person(db, "olga", Role.OPERATOR)
    outcomes = race(db_url, "olga", processes=6, tries=4, at=START, throttle=Throttle())
    # At one instant: the two free failures and the one that starts the wait are checked, every other is turned away.
    assert sorted(outcomes) == sorted(["wrong", "wrong", "wrong+wait"] + ["wait"] * 21)
    with db.reader() as s:
        counted = s.execute(select(SignInThrottleRow.failures).where(SignInThrottleRow.kind == PERSON)).scalar_one()
        logged = s.execute(select(AuditRow.event)).scalars().all()
    assert counted == 3
    assert (logged.count("signin_failed"), logged.count("signin_throttled")) == (3, 21)


# ---- the safety suite's cases and the CLI ---------------------------------------------------------------------


def test_the_safety_cases_are_all_blocked(db: Database) -> None:
    cases = people_cases(db, at=START)
    assert [c.name for c in cases if not c.blocked] == [], [c.detail for c in cases]
    assert len(cases) == 5


def copilot(data: Path, *args: str, password: str = "", new_password: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COPILOT_DATA_DIR": str(data), "COPILOT_PASSWORD": password}
    env.pop("COPILOT_DATABASE_URL", None)
    if new_password:
        env["COPILOT_NEW_PASSWORD"] = new_password
    command = [sys.executable, "-m", "copilot", *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=env, cwd=data.parent, stdin=subprocess.DEVNULL
    )


def test_cli_people_need_an_admin_and_look_alikes_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    admin, new = "admin password here", "a new person's own secret"
    assert copilot(data, "users", "add", "ada", "--role", "admin", new_password=admin).returncode == 0
    nobody = copilot(data, "users", "add", "mallory", "--role", "supervisor", new_password=new)
    assert nobody.returncode == 1
    assert "needs an admin's sign-in: `copilot users add NAME --role R --as ADMIN`" in nobody.stderr

    added = copilot(data, "users", "add", "olga", "--role", "operator", "--as", "ada", password=admin, new_password=new)
    assert added.stdout == "added olga as operator\n", added.stderr
    assert new not in added.stdout + added.stderr
    assert admin not in added.stdout + added.stderr
    alike = copilot(
        data, "users", "add", "\u043elga", "--role", "supervisor", "--as", "ada", password=admin, new_password=new
    )
    assert alike.returncode == 1
    assert "looks like the existing person 'olga'" in alike.stderr

    own = copilot(data, "users", "role", "olga", "--role", "supervisor", "--as", "olga", password=new)
    assert own.returncode == 1
    assert "changing a role needs an admin; olga is operator" in own.stderr
    promoted = copilot(data, "users", "role", "olga", "--role", "supervisor", "--as", "ada", password=admin)
    assert promoted.stdout == "olga is supervisor\n", promoted.stderr


def test_cli_lockout_message_list_and_unlock(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    db = Database(default_url(data))
    cheap_person(db, "olga", Role.OPERATOR)
    cheap_person(db, "sam", Role.SUPERVISOR)
    now = time.time()
    # The lockout comes from another process's failures: the CLI reads it from the database.
    for t in (0, 0, 0, 5, 15):
        attempt(db, "olga", "wrong password!", now - 20 + t, client="console")
    db.dispose()

    locked = copilot(data, "users", "unlock", "olga", "--as", "olga", password=PASSWORD)
    assert locked.returncode == 1
    assert "error: too many failed sign-ins; try again at " in locked.stderr
    assert locked.stderr.endswith(" or ask a supervisor to unlock you\n")
    listed = copilot(data, "users", "list")
    assert "olga                 operator     active, locked out until " in listed.stdout
    cleared = copilot(data, "users", "unlock", "olga", "--as", "sam", password=PASSWORD)
    assert cleared.stdout == "unlocked olga: the next sign-in is checked at once\n", cleared.stderr
    assert copilot(data, "users", "list", "--json").stdout.count('"signin_blocked_until": null') == 2
