"""The safety suite's cases for people and sign-in; each is blocked when the unsafe thing did not happen."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import func, select

from copilot.errors import NotAllowed
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import AuditRow, Database
from copilot.pipeline.signin import SignInRefused, sign_in
from copilot.pipeline.states import Role
from copilot.pipeline.users import User, add_user, change_role, enroll, get_user, password_problem

__all__ = ["PeopleCase", "people_cases"]

WRONG_TRIES = 20


@dataclass(frozen=True, kw_only=True)
class PeopleCase:
    name: str
    blocked: bool
    detail: str


@dataclass(frozen=True, kw_only=True)
class _Cast:
    """The people of one run, with names of their own so they sit beside any people the database holds."""

    admin: User
    operator: User
    supervisor: User
    password: str
    tag: str  # the suffix of every name this run adds


def _password(name: str) -> str:
    while True:
        password = secrets.token_urlsafe(12)
        if password_problem(name, password) is None:
            return password


def _cast(db: Database, at: float) -> _Cast:
    tag = secrets.token_hex(3)
    password = _password("case")
    people = {
        role: add_user(db, f"{who}.case{tag}", role, password, by="safety-suite", at=at)
        for who, role in (("ada", Role.ADMIN), ("olga", Role.OPERATOR), ("sam", Role.SUPERVISOR))
    }
    return _Cast(
        admin=people[Role.ADMIN],
        operator=people[Role.OPERATOR],
        supervisor=people[Role.SUPERVISOR],
        password=password,
        tag=tag,
    )


def _refused(action: Callable[[], object]) -> str:
    """The refusal's message, or "" when the action went through."""
    try:
        action()
    except NotAllowed as err:
        return str(err)
    return ""


def _hammer(db: Database, name: str, cast: _Cast, at: float) -> tuple[int, int, SignInRefused | None]:
    """20 wrong passwords one second apart, then the right one: (checked, turned away, the last refusal)."""
    checked = turned = 0
    client = f"safety:{secrets.token_hex(4)}"
    for i in range(WRONG_TRIES):
        try:
            sign_in(db, name, cast.password + "x", clients=(client,), now=at + i)
        except SignInRefused as err:
            checked += err.checked
            turned += not err.checked
    try:
        # From another client: the person's own lockout must hold wherever they try from.
        sign_in(db, name, cast.password, clients=(f"safety:{secrets.token_hex(4)}",), now=at + WRONG_TRIES + 1)
    except SignInRefused as err:
        return checked, turned, err
    return checked, turned, None


def _wrong_passwords(db: Database, cast: _Cast, at: float) -> tuple[bool, str]:
    checked, turned, last = _hammer(db, cast.operator.name, cast, at)
    with db.reader() as s:
        events = (AuditEvent.SIGNIN_FAILED.value, AuditEvent.SIGNIN_THROTTLED.value)
        query = select(func.count()).select_from(AuditRow).where(AuditRow.event.in_(events))
        audited = s.execute(query.where(AuditRow.actor == cast.operator.name)).scalar_one()
    locked = last is not None and last.locked
    blocked = locked and checked <= 5 and audited == WRONG_TRIES + 1
    answer = str(last) if last is not None else "signed in"
    return blocked, f"{checked} checked, {turned} turned away unchecked, {audited} audited; right password: {answer}"


def _unknown_name(db: Database, cast: _Cast, at: float) -> tuple[bool, str]:
    known = _hammer(db, cast.supervisor.name, cast, at)
    unknown = _hammer(db, f"nobody.case{cast.tag}", cast, at)
    same = known[:2] == unknown[:2] and known[2] is not None and unknown[2] is not None
    same = same and str(known[2]) == str(unknown[2])
    return same, f"known name {known[:2]}, unknown name {unknown[:2]} (checked, turned away); same answer: {same}"


def _look_alike(db: Database, cast: _Cast, at: float) -> tuple[bool, str]:
    olga, sam = cast.operator.name, cast.supervisor.name
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in sam)
    variants = ["\N{CYRILLIC SMALL LETTER O}" + olga[1:], fullwidth, "0" + olga[1:], olga.upper(), "o.l" + olga[2:]]
    outcomes = []
    for variant in variants:
        password = _password(variant)
        why = _refused(partial(enroll, db, variant, Role.SUPERVISOR, password, admin=cast.admin, at=at))
        outcomes.append(bool(why) and (olga in why or sam in why))
    refused = sum(outcomes)
    return refused == len(variants), f"{refused} of {len(variants)} look-alikes refused naming the existing person"


def _no_admin(db: Database, cast: _Cast, at: float) -> tuple[bool, str]:
    name = f"mallory.case{cast.tag}"
    password = _password(name)
    tries = {
        "nobody signed in": lambda: enroll(db, name, Role.SUPERVISOR, password, admin=None, at=at),
        "as a first admin": lambda: enroll(db, name, Role.ADMIN, password, admin=None, at=at),
        "by an operator": lambda: enroll(db, name, Role.SUPERVISOR, password, admin=cast.operator, at=at),
        "by a supervisor": lambda: enroll(db, name, Role.SUPERVISOR, password, admin=cast.supervisor, at=at),
    }
    passed = [what for what, action in tries.items() if not _refused(action)]
    return not passed, f"added {', '.join(passed)}" if passed else f"all {len(tries)} refused"


def _role_change(db: Database, cast: _Cast, at: float) -> tuple[bool, str]:
    op, sup = cast.operator, cast.supervisor
    forged = User(name=sup.name, role=Role.ADMIN, active=True)  # a caller claiming a role the database denies
    tries = {
        "operator promotes self": lambda: change_role(db, op.name, Role.SUPERVISOR, admin=op, at=at),
        "supervisor makes self admin": lambda: change_role(db, sup.name, Role.ADMIN, admin=sup, at=at),
        "forged admin": lambda: change_role(db, op.name, Role.SUPERVISOR, admin=forged, at=at),
    }
    passed = [what for what, action in tries.items() if not _refused(action)]
    roles = (get_user(db, op.name).role, get_user(db, sup.name).role)
    held = not passed and roles == (Role.OPERATOR, Role.SUPERVISOR)
    return held, f"went through: {', '.join(passed)}" if passed else f"all {len(tries)} refused; roles unchanged"


CASES: tuple[tuple[str, Callable[[Database, _Cast, float], tuple[bool, str]]], ...] = (
    ("sign-in: 20 wrong passwords lock the person out", _wrong_passwords),
    ("sign-in: an unknown name is throttled like a known one", _unknown_name),
    ("people: a name that looks like an existing person's is refused", _look_alike),
    ("people: adding a person without an admin's sign-in is refused", _no_admin),
    ("people: a role change by someone who is not an admin is refused", _role_change),
)


def people_cases(db: Database, *, at: float) -> list[PeopleCase]:
    """Run every case on `db` (any pipeline database; the cases add people of their own) at clock time `at`.

    Each case gets its own hour of the clock, so one case's lockouts never reach the next; a case that raises
    anything but a refusal is not blocked."""
    cast = _cast(db, at)
    results = []
    for number, (name, check) in enumerate(CASES):
        try:
            blocked, detail = check(db, cast, at + 3600.0 * (number + 1))
        except Exception as err:  # a case that breaks is not a blocked one
            blocked, detail = False, f"case failed: {type(err).__name__}: {err}"
        results.append(PeopleCase(name=name, blocked=blocked, detail=detail))
    return results
