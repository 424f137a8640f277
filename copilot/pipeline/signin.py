"""Sign-in with a throttle kept in the database: a growing wait, then a timed lockout, per person and per client.

Every attempt is charged as a failure *before* its password is checked, in one write transaction that turns it
away while a wait or a lockout runs; a right password then refunds the charge. So attempts racing from many
processes or browsers never get more checks than the limits allow, and every failure counts. Names are keyed by
their look-alike skeleton, so `OLGA`, `olga` with a Cyrillic o, and an unknown name are throttled exactly as `olga`
is, and a refusal never tells whether the name exists. Nothing here sleeps: a refused attempt says when to come back.
"""

from __future__ import annotations

import getpass
import math
import secrets
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, case, delete, insert, or_, select, update
from sqlalchemy.orm import Session

from copilot.errors import NotAllowed
from copilot.pipeline import audit
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import Database, SignInThrottleRow, UserRow
from copilot.pipeline.states import Role
from copilot.pipeline.users import User, authenticate, skeleton
from copilot.untrusted import MAX_NAME, one_line

__all__ = [
    "CLIENT",
    "DEFAULT",
    "PERSON",
    "Limits",
    "Lockout",
    "SignInRefused",
    "Throttle",
    "browser_client",
    "cli_client",
    "lockouts",
    "person_key",
    "refusal_text",
    "sign_in",
    "unlock",
    "unlock_client",
    "unlock_person",
]

PERSON = "person"
CLIENT = "client"
_KEY_LENGTH = 128
_FORGET_S = 86400.0  # throttles over for a day are dropped, so sprayed names do not pile up
_T = SignInThrottleRow


@dataclass(frozen=True, kw_only=True)
class Limits:
    """Failures allowed free in a window, the wait that grows after them, and the lockout that ends them."""

    free: int  # failures in a window that cost no wait
    first_wait_s: float  # the wait after the first failure past `free`; it doubles with each further one
    max_wait_s: float
    lock_after: int  # the failure in a window that starts a lockout
    lockout_s: float
    window_s: float  # a window starts at its first failure; failures in an older window are forgotten

    def wait_after(self, failures: int) -> float:
        if failures <= self.free:
            return 0.0
        return float(min(self.first_wait_s * 2 ** (failures - self.free - 1), self.max_wait_s))


def _person_limits() -> Limits:
    # 3 tries at once, then waits of 5 and 10 s; the 5th failure within 15 minutes locks for 15 minutes.
    return Limits(free=2, first_wait_s=5.0, max_wait_s=60.0, lock_after=5, lockout_s=900.0, window_s=900.0)


def _client_limits() -> Limits:
    # A line-side tablet serves a whole shift: more room, but one client spraying many names still stops.
    return Limits(free=10, first_wait_s=1.0, max_wait_s=30.0, lock_after=30, lockout_s=900.0, window_s=900.0)


@dataclass(frozen=True, kw_only=True)
class Throttle:
    """The limits for one person (by name) and for one client (a CLI account on a host, a browser, an address)."""

    person: Limits = field(default_factory=_person_limits)
    client: Limits = field(default_factory=_client_limits)

    def limits(self, kind: str) -> Limits:
        return self.person if kind == PERSON else self.client


DEFAULT = Throttle()


class SignInRefused(NotAllowed):
    """A sign-in that did not let the person in.

    `checked` says whether the password was looked at; `until` is when the next attempt will be checked (0 for at
    once); `locked` says the wait is a lockout, which a supervisor may clear sooner."""

    def __init__(self, message: str, *, checked: bool, until: float, locked: bool) -> None:
        super().__init__(message)
        self.checked = checked
        self.until = until
        self.locked = locked


@dataclass(frozen=True, kw_only=True)
class Lockout:
    """A running wait or lockout, as a supervisor sees it."""

    kind: str  # person or client
    key: str  # what `unlock` takes for this kind: the name's skeleton or the client
    shown: str  # the name as last typed, or the client
    failures: int
    until: float
    locked: bool
    refused: int  # attempts turned away unchecked


@dataclass(frozen=True, kw_only=True)
class _Charge:
    kind: str
    key: str
    failures: int
    until: float
    locked: bool


def clock_time(at: float, *, seconds: bool = False) -> str:
    """Local wall-clock time as people at the line read it; a lockout's end rounds up to the next minute."""
    if seconds:
        return datetime.fromtimestamp(math.ceil(at)).strftime("%H:%M:%S")
    return datetime.fromtimestamp(math.ceil(at / 60) * 60).strftime("%H:%M")


def refusal_text(*, until: float, locked: bool, now: float) -> str:
    """The sentence for a throttled attempt; the same for known and unknown names."""
    if locked:
        return f"too many failed sign-ins; try again at {clock_time(until)} or ask a supervisor to unlock you"
    wait = max(1, math.ceil(until - now))
    return f"too many failed sign-ins; wait {wait} s (until {clock_time(until, seconds=True)}) and try again"


def person_key(name: str) -> str:
    """The throttle's key for a typed name: its skeleton, so every look-alike of a name shares one count."""
    return skeleton(name[: 4 * MAX_NAME])[:_KEY_LENGTH] or "(no name)"


def cli_client() -> str:
    """The client of a command-line sign-in: the operating-system account and the host it runs on."""
    try:
        account = getpass.getuser()
    except (OSError, KeyError):  # no name for this uid (a bare container)
        account = "?"
    return f"cli:{account}@{socket.gethostname()}"[:_KEY_LENGTH]


def browser_client() -> str:
    """A key for one browser session (the console adds the address when Streamlit knows it)."""
    return f"browser:{secrets.token_hex(8)}"


def _match(kind: str, key: str) -> ColumnElement[bool]:
    return and_(_T.kind == kind, _T.key == key)


def _ensure(s: Session, kind: str, key: str, shown: str) -> None:
    # Inside the write transaction nobody can insert the row between this read and the insert.
    if s.execute(select(_T.key).where(_match(kind, key))).first() is None:
        row = {"failures": 0, "window_start": 0.0, "last_failure_at": 0.0, "until": 0.0, "locked": False}
        s.execute(insert(_T).values(kind=kind, key=key, shown=shown, refused=0, **row))


def _set(s: Session, kind: str, key: str, **values: Any) -> int:
    result = s.execute(
        update(_T).where(_match(kind, key)).values(**values).execution_options(synchronize_session=False)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def _charge(s: Session, kind: str, key: str, shown: str, limits: Limits, now: float) -> _Charge | None:
    """Count one failure in advance, unless a wait or lockout runs (then None): a conditional UPDATE."""
    fresh = _T.window_start <= now - limits.window_s
    result = s.execute(
        update(_T)
        .where(_match(kind, key), _T.until <= now)
        .values(
            failures=case((fresh, 1), else_=_T.failures + 1),
            window_start=case((fresh, now), else_=_T.window_start),
            last_failure_at=now,
            shown=shown,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    failures = int(s.execute(select(_T.failures).where(_match(kind, key))).scalar_one())
    locked = failures >= limits.lock_after
    wait = limits.lockout_s if locked else limits.wait_after(failures)
    # No wait is 0, not `now`: an attempt at the same moment whose clock was read a little earlier (its process
    # waited for the write lock) would take `now` for a wait still running and be turned away, though nobody failed.
    until = now + wait if wait > 0 else 0.0
    _set(s, kind, key, until=until, locked=locked)
    return _Charge(kind=kind, key=key, failures=failures, until=until, locked=locked)


def _admit(
    db: Database, shown: str, keys: list[tuple[str, str]], throttle: Throttle, now: float
) -> list[_Charge] | SignInRefused:
    """Charge every key, or turn the attempt away unchecked (audited) when any of them is waiting or locked."""
    clients = [key for kind, key in keys if kind == CLIENT]
    with db.session() as s:
        for kind, key in keys:
            _ensure(s, kind, key, shown if kind == PERSON else key[:MAX_NAME])
        running = s.execute(
            select(_T.kind, _T.key, _T.until, _T.locked).where(
                _T.until > now, or_(*(_match(kind, key) for kind, key in keys))
            )
        ).all()
        if not running:
            charges = [
                _charge(s, kind, key, shown if kind == PERSON else key[:MAX_NAME], throttle.limits(kind), now)
                for kind, key in keys
            ]
            admitted = [c for c in charges if c is not None]
            if len(admitted) == len(keys):
                return admitted
            # Only a write that slipped past the write lock gets here: turn away rather than count wrongly.
            raise NotAllowed("the sign-in throttle changed under this attempt; try again")
        until = max(r.until for r in running)
        locked = any(r.locked for r in running)
        for r in running:
            _set(s, r.kind, r.key, refused=_T.refused + 1)
        details = {"name": shown, "clients": clients, "until": until, "locked": locked}
        audit.append(s, AuditEvent.SIGNIN_THROTTLED, actor=shown, at=now, details=details)
    return SignInRefused(refusal_text(until=until, locked=locked, now=now), checked=False, until=until, locked=locked)


def _failed(db: Database, shown: str, charges: list[_Charge], now: float) -> SignInRefused:
    person = charges[0]
    clients = [c.key for c in charges if c.kind == CLIENT]
    with db.session() as s:
        details = {"name": shown, "clients": clients, "failures": person.failures}
        audit.append(s, AuditEvent.SIGNIN_FAILED, actor=shown, at=now, details=details)
        for c in charges:
            if c.locked:
                what = {"person": shown} if c.kind == PERSON else {"client": c.key}
                details = {**what, "failures": c.failures, "until": c.until}
                audit.append(s, AuditEvent.LOCKED_OUT, actor=shown, at=now, details=details)
        s.execute(delete(_T).where(_T.until < now - _FORGET_S, _T.last_failure_at < now - _FORGET_S))
    until = max(c.until for c in charges)
    locked = any(c.locked for c in charges)
    message = "unknown user or wrong password"
    if until > now:
        message += "; " + refusal_text(until=until, locked=locked, now=now)
    return SignInRefused(message, checked=True, until=until if until > now else 0.0, locked=locked)


def _succeeded(db: Database, user: User, charges: list[_Charge], throttle: Throttle, now: float) -> None:
    with db.session() as s:
        for c in charges:
            if c.kind == PERSON:
                # The right password proves the person: their count starts again.
                _set(s, c.kind, c.key, failures=0, window_start=0.0, until=0.0, locked=False)
                continue
            # A shared client only gets this attempt's charge back; its other failures still stand.
            _set(s, c.kind, c.key, failures=case((_T.failures > 0, _T.failures - 1), else_=0))
            failures = int(s.execute(select(_T.failures).where(_match(c.kind, c.key))).scalar_one())
            if failures < throttle.client.lock_after:
                _set(s, c.kind, c.key, until=0.0, locked=False)
        clients = [c.key for c in charges if c.kind == CLIENT]
        audit.append(s, AuditEvent.SIGNIN_OK, actor=user.name, at=now, details={"clients": clients})


def sign_in(
    db: Database,
    name: str,
    password: str,
    *,
    clients: Sequence[str],
    now: float,
    throttle: Throttle = DEFAULT,
) -> User:
    """The person, if the password is right and no wait or lockout runs for the name or any of the clients.

    Raises SignInRefused with one message for an unknown name and a wrong password, and the same throttle for
    both. Every attempt is in the audit: signin_ok, signin_failed (with locked_out when it starts a lockout) or
    signin_throttled; never the password."""
    shown = one_line(name, MAX_NAME)
    # A client key may carry what a browser or proxy sent: plain text, so every database can store it.
    keys = [(PERSON, person_key(name)), *dict.fromkeys((CLIENT, one_line(c, _KEY_LENGTH)) for c in clients)]
    admitted = _admit(db, shown, keys, throttle, now)
    if isinstance(admitted, SignInRefused):
        raise admitted
    try:
        # argon2 runs outside any write transaction: the charge above already holds this attempt's place.
        user = authenticate(db, name, password)
    except NotAllowed as err:
        raise _failed(db, shown, admitted, now) from err
    _succeeded(db, user, admitted, throttle, now)
    return user


def unlock(db: Database, kind: str, key: str, *, by: User, now: float) -> bool:
    """Clear the wait or lockout of one key (a `Lockout`'s kind and key); False when none was running."""
    if not by.role.may_unlock:
        raise NotAllowed(f"clearing a sign-in lockout needs a supervisor or an admin; {by.name} is {by.role.value}")
    with db.session() as s:
        row = s.get(UserRow, by.name)  # checked again in the transaction: a role taken away a moment ago counts
        if row is None or not row.active or not Role(row.role).may_unlock:
            raise NotAllowed(f"clearing a sign-in lockout needs an active supervisor or admin; {by.name} is not")
        found = s.execute(select(_T.shown, _T.until, _T.locked).where(_match(kind, key))).first()
        if found is None or found.until <= now:
            return False
        _set(s, kind, key, failures=0, window_start=0.0, until=0.0, locked=False)
        what = {"person": found.shown} if kind == PERSON else {"client": key}
        details = {**what, "until": found.until, "locked": found.locked}
        audit.append(s, AuditEvent.UNLOCKED, actor=by.name, at=now, details=details)
    return True


def unlock_person(db: Database, name: str, *, by: User, now: float) -> bool:
    """Clear a person's wait or lockout, by their name or any look-alike of it."""
    return unlock(db, PERSON, person_key(name), by=by, now=now)


def unlock_client(db: Database, client: str, *, by: User, now: float) -> bool:
    """Clear a client's wait or lockout (`copilot users list` and the console name the client)."""
    return unlock(db, CLIENT, client[:_KEY_LENGTH], by=by, now=now)


def lockouts(db: Database, *, now: float) -> list[Lockout]:
    """Waits and lockouts running now, the longest first."""
    with db.reader() as s:
        rows = s.execute(select(_T).where(_T.until > now).order_by(_T.until.desc(), _T.kind, _T.key)).scalars()
        return [
            Lockout(
                kind=r.kind,
                key=r.key,
                shown=r.shown,
                failures=r.failures,
                until=r.until,
                locked=r.locked,
                refused=r.refused,
            )
            for r in rows
        ]
