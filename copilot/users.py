"""People and their roles; passwords hashed with argon2 and never logged or echoed."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select

from copilot import audit
from copilot.audit import AuditEvent
from copilot.db import Database, UserRow
from copilot.errors import NotAllowed

_HASHER = PasswordHasher()
MIN_PASSWORD = 8


class Role(StrEnum):
    OPERATOR = "operator"
    MAINTENANCE = "maintenance"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def may_request(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR, Role.MAINTENANCE)

    @property
    def may_approve(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR)


@dataclass(frozen=True, kw_only=True)
class User:
    name: str
    role: Role
    active: bool


def add_user(db: Database, name: str, role: Role, password: str, *, by: str, at: float) -> User:
    if not name or len(name) > 64 or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
        raise NotAllowed(f"user name {name!r}: use up to 64 letters, digits, '.', '-' or '_'")
    if len(password) < MIN_PASSWORD:
        raise NotAllowed(f"the password must have at least {MIN_PASSWORD} characters")
    with db.session() as s:
        if s.get(UserRow, name) is not None:
            raise NotAllowed(f"user {name!r} exists already")
        s.add(UserRow(name=name, role=role.value, password_hash=_HASHER.hash(password), active=True, created_at=at))
        audit.append(s, AuditEvent.USER_ADDED, actor=by, at=at, details={"user": name, "role": role.value})
    return User(name=name, role=role, active=True)


def set_password(db: Database, name: str, password: str, *, by: str, at: float) -> User:
    """Give an existing person a new password (the demo does this at every start); audited, never logged."""
    if len(password) < MIN_PASSWORD:
        raise NotAllowed(f"the password must have at least {MIN_PASSWORD} characters")
    with db.session() as s:
        row = s.get(UserRow, name)
        if row is None:
            raise NotAllowed(f"no user {name!r}; `copilot users list` shows them")
        row.password_hash = _HASHER.hash(password)
        audit.append(s, AuditEvent.PASSWORD_SET, actor=by, at=at, details={"user": name})
        return User(name=row.name, role=Role(row.role), active=row.active)


def list_users(db: Database) -> list[User]:
    with db.session() as s:
        rows = s.execute(select(UserRow).order_by(UserRow.name)).scalars().all()
        return [User(name=r.name, role=Role(r.role), active=r.active) for r in rows]


def get_user(db: Database, name: str) -> User:
    with db.session() as s:
        row = s.get(UserRow, name)
        if row is None or not row.active:
            raise NotAllowed(f"no active user {name!r}; `copilot users list` shows them")
        return User(name=row.name, role=Role(row.role), active=row.active)


def authenticate(db: Database, name: str, password: str) -> User:
    """The user, if the password is right; one message for every failure so names cannot be probed."""
    with db.session() as s:
        row = s.get(UserRow, name)
        if row is None or not row.active:
            _HASHER.hash(password)  # spend the same time as a real check
            raise NotAllowed("unknown user or wrong password")
        try:
            _HASHER.verify(row.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError) as err:
            raise NotAllowed("unknown user or wrong password") from err
        return User(name=row.name, role=Role(row.role), active=row.active)
