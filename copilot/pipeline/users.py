"""People and their roles: names that cannot pass for another's, a password policy, argon2 hashes never shown."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copilot.errors import NotAllowed
from copilot.pipeline import audit
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import Database, UserRow
from copilot.pipeline.states import Role
from copilot.untrusted import MAX_NAME, one_line

_HASHER = PasswordHasher()

MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # argon2 takes any length; a megabyte "password" is an attack on the server, not a password
MIN_DISTINCT = 5
NAME_RULE = "1 to 64 characters: ASCII letters, digits, '.', '-' or '_', starting with a letter or a digit"
PASSWORD_RULE = (
    f"at least {MIN_PASSWORD} characters, at least {MIN_DISTINCT} of them different; not only digits; "
    "not your name with digits or punctuation added; not a common password, a keyboard run or one of those "
    "with digits or punctuation around it"
)
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")


@dataclass(frozen=True, kw_only=True)
class User:
    name: str
    role: Role
    active: bool


# ---- names ----------------------------------------------------------------------------------------------------

# Look-alikes, by Unicode name, mapped to the Latin letter they pass for once NFKC and case folding have run (so
# capitals need no row: Cyrillic capital VE folds to small ve, which reads as b). The reach is small on purpose:
# Cyrillic and Greek letters that look like Latin ones, a few Latin variants, the pairs 0/o, 5/s and 1/l/I (capital
# I, small l and 1 are one stroke in many fonts, so i counts as l), and rn/m, vv/w, cl/d. Full-width and
# mathematical letters, ligatures and superscripts need no row either: NFKC folds them. Accents and invisible
# characters are dropped first, and '.', '-', '_' and spaces are passed over, so "o.lga" is "olga". Unicode's
# confusables.txt has thousands of rows; what matters here is a new name passing for an existing one in a list,
# and this covers the usual tricks.
_LOOKALIKES: dict[str, tuple[str, ...]] = {
    "a": ("CYRILLIC SMALL LETTER A", "GREEK SMALL LETTER ALPHA", "LATIN SMALL LETTER ALPHA", "COMMERCIAL AT"),
    "b": ("CYRILLIC SMALL LETTER VE", "CYRILLIC SMALL LETTER SOFT SIGN", "GREEK SMALL LETTER BETA"),
    "c": ("CYRILLIC SMALL LETTER ES",),
    "d": ("CYRILLIC SMALL LETTER KOMI DE",),
    "e": ("CYRILLIC SMALL LETTER IE", "CYRILLIC SMALL LETTER IO", "GREEK SMALL LETTER EPSILON"),
    "g": ("LATIN SMALL LETTER SCRIPT G",),
    "h": ("CYRILLIC SMALL LETTER SHHA", "CYRILLIC SMALL LETTER EN"),
    "j": ("CYRILLIC SMALL LETTER JE",),
    "k": ("CYRILLIC SMALL LETTER KA", "GREEK SMALL LETTER KAPPA"),
    "l": (
        "LATIN SMALL LETTER I",
        "LATIN SMALL LETTER DOTLESS I",
        "LATIN SMALL LETTER L WITH STROKE",
        "CYRILLIC SMALL LETTER BYELORUSSIAN-UKRAINIAN I",
        "CYRILLIC SMALL LETTER YI",
        "CYRILLIC SMALL LETTER PALOCHKA",
        "GREEK SMALL LETTER IOTA",
        "DIGIT ONE",
        "VERTICAL LINE",
        "EXCLAMATION MARK",
    ),
    "m": ("CYRILLIC SMALL LETTER EM",),
    "n": ("CYRILLIC SMALL LETTER PE", "GREEK SMALL LETTER ETA"),
    "o": ("CYRILLIC SMALL LETTER O", "GREEK SMALL LETTER OMICRON", "LATIN SMALL LETTER O WITH STROKE", "DIGIT ZERO"),
    "p": ("CYRILLIC SMALL LETTER ER", "GREEK SMALL LETTER RHO"),
    "q": ("CYRILLIC SMALL LETTER QA",),
    "r": ("CYRILLIC SMALL LETTER GHE",),
    "s": ("CYRILLIC SMALL LETTER DZE", "DIGIT FIVE", "DOLLAR SIGN"),
    "t": ("CYRILLIC SMALL LETTER TE", "GREEK SMALL LETTER TAU"),
    "u": ("GREEK SMALL LETTER UPSILON", "GREEK SMALL LETTER MU"),
    "v": ("GREEK SMALL LETTER NU",),
    "w": ("CYRILLIC SMALL LETTER WE", "GREEK SMALL LETTER OMEGA"),
    "x": ("CYRILLIC SMALL LETTER HA", "GREEK SMALL LETTER CHI"),
    "y": ("CYRILLIC SMALL LETTER U", "GREEK SMALL LETTER GAMMA"),
}
_LOOKALIKE: dict[int, str | None] = {
    ord(unicodedata.lookup(name)): latin for latin, names in _LOOKALIKES.items() for name in names
}
_LOOKALIKE.update({ord(c): None for c in ".-_ "})  # separators a reader passes over in a list
_LOOKALIKE_PAIRS = (("rn", "m"), ("vv", "w"), ("cl", "d"))


def canonical_name(name: str) -> str:
    """The form a name is stored and compared in: NFKC, case folded, without surrounding spaces."""
    return unicodedata.normalize("NFKC", name).casefold().strip()


def skeleton(name: str) -> str:
    """What a name looks like to a reader: two names with one skeleton can pass for each other in a list."""
    folded = unicodedata.normalize("NFKC", name).casefold()
    bare = "".join(
        c for c in unicodedata.normalize("NFD", folded) if unicodedata.category(c) not in ("Mn", "Me", "Cf", "Cc")
    )
    shape = unicodedata.normalize("NFC", bare).translate(_LOOKALIKE)
    for pair, single in _LOOKALIKE_PAIRS:
        shape = shape.replace(pair, single)
    return shape


def _written(name: str) -> str:
    """A name as a reader can check it: with any character outside ASCII spelled out."""
    shown = one_line(name, MAX_NAME)
    return repr(shown) if shown.isascii() else f"{shown!r} (written {shown!a})"


def check_new_name(name: str, existing: Iterable[str]) -> str:
    """The canonical form of a new person's name; refused when it is taken, passes for a taken one, or breaks
    the charset. The refusal names the existing person, so the admin can see what it would be mistaken for."""
    wanted, shape = canonical_name(name), skeleton(name)
    for other in existing:
        if other == name.strip():
            raise NotAllowed(f"user {other!r} exists already")
        if canonical_name(other) == wanted or (shape and skeleton(other) == shape):
            raise NotAllowed(
                f"the name {_written(name)} looks like the existing person {other!r}: "
                "pick a name nobody can mistake for theirs"
            )
    if not _NAME.fullmatch(wanted):
        raise NotAllowed(f"user name {_written(name)}: use {NAME_RULE}")
    return wanted


# ---- passwords ------------------------------------------------------------------------------------------------

# Compared after folding case, undoing common letter swaps (p@ssw0rd) and trimming digits and punctuation from both
# ends (Password2024!). Long enough to catch what people type when asked for 12 characters at a plant.
_COMMON = frozenset(
    """
    password passwort motdepasse contrasena wachtwoord haslo salasana passord qwerty qwertz azerty qwertyuiop
    asdfghjkl zxcvbnm qazwsx qwerasdf letmein welcome welcomeback admin administrator root toor changeme changeit
    default secret topsecret iloveyou trustno monkey dragon football baseball soccer hockey sunshine princess
    master shadow superman batman starwars whatever login guest test testing tester user username operator
    supervisor maintenance copilot linecopilot plant factory production bottling bottlingline siemens scada opcua
    manager summer winter spring autumn abc abcdef abcdefgh abcdefghijkl correcthorsebatterystaple
    helloworld hello computer internet freedom michael jennifer charlie
    """.split()  # noqa: SIM905  (a word list reads best as words)
)
_RUNS = ("abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm", "qwertzuiopasdfghjklyxcvbnm", "azertyuiop")
_UNLEET = str.maketrans({"@": "a", "4": "a", "3": "e", "1": "i", "!": "i", "0": "o", "$": "s", "5": "s", "7": "t"})
_EDGES = "0123456789 !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"


def password_problem(name: str, password: str) -> str | None:
    """Why this password will not do for this person, or None when it meets the policy (PASSWORD_RULE)."""
    if len(password) < MIN_PASSWORD:
        return f"the password must have at least {MIN_PASSWORD} characters"
    if len(password) > MAX_PASSWORD:
        return f"the password may have at most {MAX_PASSWORD} characters"
    if len(set(password)) < MIN_DISTINCT:
        return f"the password must use at least {MIN_DISTINCT} different characters"
    folded = unicodedata.normalize("NFKC", password).casefold()
    if folded.isdigit():
        return "the password must not be only digits"
    person = canonical_name(name)
    if len(person) >= 3 and person in folded and not any(c.isalpha() for c in folded.replace(person, "")):
        return "the password must not be your name with digits or punctuation added"
    core = folded.strip(_EDGES)
    word = "".join(c for c in core.translate(_UNLEET) if c.isalnum())
    if word in _COMMON or _repeated_common(word):
        return "the password is too common: choose words of your own"
    if len(word) >= 6 and any(word in run or word in run[::-1] for run in _RUNS):
        return "the password is a run of keys or letters: choose words of your own"
    return None


def _repeated_common(word: str) -> bool:
    """One common password over and over (passwordpassword, adminadminadmin)."""
    return any(
        len(word) % size == 0 and word[:size] in _COMMON and word == word[:size] * (len(word) // size)
        for size in range(3, len(word) // 2 + 1)
    )


def _check_password(name: str, password: str) -> None:
    problem = password_problem(name, password)
    if problem:
        raise NotAllowed(problem)


# ---- the table ------------------------------------------------------------------------------------------------


def _user(row: UserRow) -> User:
    return User(name=row.name, role=Role(row.role), active=row.active)


def _find(s: Session, name: str) -> UserRow | None:
    """The person of this name in any case or width; names are stored canonical and ASCII, so lower() suffices."""
    wanted = canonical_name(name)
    if not _NAME.fullmatch(wanted):
        # A name added before the charset rule (jürgen) still signs in, spelled exactly as it was added. A name
        # with control characters (a NUL, which PostgreSQL refuses to even compare) was never stored.
        fallback = unicodedata.normalize("NFKC", name).strip()[:MAX_NAME]
        return s.get(UserRow, fallback) if fallback.isprintable() else None
    return s.execute(select(UserRow).where(func.lower(UserRow.name) == wanted)).scalar()


def _insert(s: Session, name: str, role: Role, password_hash: str, *, by: str, at: float) -> User:
    canonical = check_new_name(name, s.execute(select(UserRow.name)).scalars().all())
    s.add(UserRow(name=canonical, role=role.value, password_hash=password_hash, active=True, created_at=at))
    audit.append(s, AuditEvent.USER_ADDED, actor=by, at=at, details={"user": canonical, "role": role.value})
    return User(name=canonical, role=role, active=True)


def _hash(db: Database, name: str, password: str) -> str:
    """The new person's name checked, then the password's hash: both before the write session, since argon2 takes
    tens of milliseconds and the write lock is the whole database's. The write session checks the name again."""
    with db.reader() as s:
        check_new_name(name, s.execute(select(UserRow.name)).scalars().all())
    _check_password(name, password)
    return _HASHER.hash(password)


def add_user(db: Database, name: str, role: Role, password: str, *, by: str, at: float) -> User:
    """Add a person on the program's own authority (the demo, tests, evaluations); name and password rules hold.

    People adding people go through `enroll`, which asks for an admin."""
    password_hash = _hash(db, name, password)
    with db.session() as s:
        return _insert(s, name, role, password_hash, by=by, at=at)


def _require_admin(s: Session, admin: User, doing: str) -> None:
    """The signed-in admin, checked again in the write transaction: a role taken away a moment ago counts."""
    row = s.get(UserRow, admin.name)
    if row is None or not row.active or row.role != Role.ADMIN.value:
        raise NotAllowed(f"{doing} needs an admin; {admin.name} is not an active admin")


def _authority(s: Session, admin: User | None, role: Role) -> str:
    """Who adds the person: a signed-in admin (checked again here, a role taken away a moment ago counts), or on a
    database with nobody in it the first admin, on their own. Returns the audit actor."""
    if admin is not None:
        _require_admin(s, admin, "adding a person")
        return admin.name
    people = s.execute(select(func.count()).select_from(UserRow)).scalar_one()
    if people or role is not Role.ADMIN:
        raise NotAllowed(
            "adding a person needs an admin's sign-in: `copilot users add NAME --role R --as ADMIN`"
            + ("" if people else "; on a database with nobody in it, only a first admin may be added without one")
        )
    return "first-admin"


def enroll(db: Database, name: str, role: Role, password: str, *, admin: User | None, at: float) -> User:
    """Add a person on an admin's authority; without one, only the first admin of a database with nobody in it."""
    if admin is not None and admin.role is not Role.ADMIN:
        raise NotAllowed(f"adding a person needs an admin; {admin.name} is {admin.role.value}")
    with db.reader() as s:
        _authority(s, admin, role)  # refused before the hash's cost; decided again in the write transaction
    password_hash = _hash(db, name, password)
    with db.session() as s:
        # In the write transaction, so two "first admins" racing on an empty database cannot both win.
        by = _authority(s, admin, role)
        return _insert(s, name, role, password_hash, by=by, at=at)


def _other_admins(s: Session, name: str) -> int:
    query = select(func.count()).select_from(UserRow)
    query = query.where(UserRow.role == Role.ADMIN.value, UserRow.active.is_(True), UserRow.name != name)
    return int(s.execute(query).scalar_one())


def change_role(db: Database, name: str, role: Role, *, admin: User, at: float) -> User:
    """Give a person another role, on an admin's authority; the last active admin keeps theirs."""
    if admin.role is not Role.ADMIN:
        raise NotAllowed(f"changing a role needs an admin; {admin.name} is {admin.role.value}")
    with db.session() as s:
        _require_admin(s, admin, "changing a role")
        row = _find(s, name)
        if row is None:
            raise NotAllowed(f"no user {one_line(name, MAX_NAME)!r}; `copilot users list` shows them")
        before = Role(row.role)
        if before is role:
            return _user(row)
        if before is Role.ADMIN and row.active and not _other_admins(s, row.name):
            raise NotAllowed(f"{row.name} is the last active admin: make another admin first")
        row.role = role.value
        details = {"user": row.name, "from": before.value, "to": role.value}
        audit.append(s, AuditEvent.ROLE_CHANGED, actor=admin.name, at=at, details=details)
        return _user(row)


def deactivate(db: Database, name: str, *, admin: User, at: float) -> User:
    """Stop a person from signing in and deciding, on an admin's authority; their history stays as it was."""
    if admin.role is not Role.ADMIN:
        raise NotAllowed(f"deactivating a person needs an admin; {admin.name} is {admin.role.value}")
    with db.session() as s:
        _require_admin(s, admin, "deactivating a person")
        row = _find(s, name)
        if row is None:
            raise NotAllowed(f"no user {one_line(name, MAX_NAME)!r}; `copilot users list` shows them")
        if not row.active:
            return _user(row)
        if row.role == Role.ADMIN.value and not _other_admins(s, row.name):
            raise NotAllowed(f"{row.name} is the last active admin: make another admin first")
        row.active = False
        audit.append(s, AuditEvent.USER_DEACTIVATED, actor=admin.name, at=at, details={"user": row.name})
        return _user(row)


def set_password(db: Database, name: str, password: str, *, by: str, at: float) -> User:
    """Give an existing person a new password (the demo does this at every start); audited, never logged."""
    _check_password(name, password)
    password_hash = _HASHER.hash(password)
    with db.session() as s:
        row = _find(s, name)
        if row is None:
            raise NotAllowed(f"no user {one_line(name, MAX_NAME)!r}; `copilot users list` shows them")
        row.password_hash = password_hash
        audit.append(s, AuditEvent.PASSWORD_SET, actor=by, at=at, details={"user": row.name})
        return _user(row)


def list_users(db: Database) -> list[User]:
    with db.reader() as s:
        rows = s.execute(select(UserRow).order_by(UserRow.name)).scalars().all()
        return [_user(r) for r in rows]


def current(s: Session, name: str) -> User:
    """The person as stored in this transaction: an act checks the role held now, not the one signed in with."""
    row = _find(s, name)
    if row is None or not row.active:
        raise NotAllowed(f"no active user {one_line(name, MAX_NAME)!r}; `copilot users list` shows them")
    return _user(row)


def get_user(db: Database, name: str) -> User:
    with db.reader() as s:
        row = _find(s, name)
        if row is None or not row.active:
            raise NotAllowed(f"no active user {one_line(name, MAX_NAME)!r}; `copilot users list` shows them")
        return _user(row)


@cache
def _dummy_hash() -> str:
    # Verified against when the name is unknown, so an unknown name costs what a wrong password costs.
    return _HASHER.hash("no one has this password; it only spends the time of a real check")


def authenticate(db: Database, name: str, password: str) -> User:
    """The person, if the password is right; one message for every failure so names cannot be probed.

    No throttle here: people sign in through `signin.sign_in`, which counts failures around this check."""
    with db.reader() as s:
        row = _find(s, name)
        found = _user(row) if row is not None and row.active else None
        stored = row.password_hash if row is not None and found is not None else _dummy_hash()
    if len(password) > MAX_PASSWORD:
        found, password = None, password[:MAX_PASSWORD]  # no such password can have been set
    try:
        _HASHER.verify(stored, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError) as err:
        raise NotAllowed("unknown user or wrong password") from err
    if found is None:
        raise NotAllowed("unknown user or wrong password")
    return found
