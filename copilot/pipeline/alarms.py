"""The alarm journal: the line's alarms and people's acts on them, kept in the database so they outlive a restart.

Every move is made in a write session, which the database serialises: two consoles that see the same activation
record it once, and of two people acknowledging at the same moment the second is told it is already done.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from connectors.line import Priority
from copilot.errors import AlarmNotFound
from copilot.pipeline import alarm_states, audit, users
from copilot.pipeline.alarm_states import AlarmState, AlarmStatus, JournalEvent, Move
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import AlarmJournalRow, AlarmRow, Database
from copilot.pipeline.users import User
from copilot.untrusted import one_line

CHATTER_WINDOW_S = 60.0
CHATTER_ACTIVATIONS = 3  # activations of one alarm within the window that make it chattering

_AUDITED = {
    JournalEvent.ACKNOWLEDGED: AuditEvent.ALARM_ACKNOWLEDGED,
    JournalEvent.SHELVED: AuditEvent.ALARM_SHELVED,
    JournalEvent.UNSHELVED: AuditEvent.ALARM_UNSHELVED,
    JournalEvent.OUT_OF_SERVICE: AuditEvent.ALARM_OUT_OF_SERVICE,
    JournalEvent.IN_SERVICE: AuditEvent.ALARM_IN_SERVICE,
}


@dataclass(frozen=True, kw_only=True)
class Observation:
    """An alarm whose condition holds on the line now, as the connector evaluated it."""

    code: str
    tag: str
    priority: str
    message: str
    value: float | None


@dataclass(frozen=True, kw_only=True)
class JournalEntry:
    seq: int
    at: float
    code: str
    tag: str
    priority: str
    event: str
    state: str
    actor: str
    reason: str
    value: float | None
    occurrence: int


@dataclass(frozen=True, kw_only=True)
class Alarm:
    """An alarm as a person sees it: its status, its state now and whether it chatters."""

    status: AlarmStatus
    state: AlarmState
    chattering: bool

    @property
    def code(self) -> str:
        return self.status.code


_STATUS_FIELDS = [f.name for f in fields(AlarmStatus)]


def _status(row: AlarmRow) -> AlarmStatus:
    return AlarmStatus(**{name: getattr(row, name) for name in _STATUS_FIELDS})


def _store(row: AlarmRow, status: AlarmStatus) -> None:
    for name in _STATUS_FIELDS:
        setattr(row, name, getattr(status, name))


def _entry(row: AlarmJournalRow) -> JournalEntry:
    return JournalEntry(
        seq=row.seq,
        at=row.at,
        code=row.code,
        tag=row.tag,
        priority=row.priority,
        event=row.event,
        state=row.state,
        actor=row.actor,
        reason=row.reason,
        value=row.value,
        occurrence=row.occurrence,
    )


def _record(s: Session, row: AlarmRow, move: Move, now: float) -> AlarmJournalRow:
    _store(row, move.after)
    line = AlarmJournalRow(
        at=now,
        code=row.code,
        tag=row.tag,
        priority=row.priority,
        event=move.event.value,
        state=move.after.state(now).value,
        actor=move.actor,
        reason=move.reason,
        value=move.after.value,
        occurrence=move.after.occurrence,
    )
    s.add(line)
    audited = _AUDITED.get(move.event)
    if audited is not None:
        # People's acts are also in the hash-chained audit, beside approvals and the kill switch.
        details: dict[str, Any] = {"occurrence": move.after.occurrence, "state": line.state}
        if move.reason:
            details["reason"] = move.reason
        if move.after.shelved_until is not None and move.event is JournalEvent.SHELVED:
            details["until"] = move.after.shelved_until
        audit.append(s, audited, actor=move.actor, at=now, tag=row.tag, details={"alarm": row.code, **details})
    return line


def observe(
    db: Database, active: Mapping[str, Observation], *, now: float, unjudged: Set[str] = frozenset()
) -> list[JournalEntry]:
    """Bring the journal in line with the alarms active on the line now; returns the moves it recorded.

    Call it only while the line is available: an unavailable line shows no alarms, which proves nothing. An
    alarm in `unjudged` (its tag has no good reading) keeps its condition as recorded.
    """
    if not _differs(db, active, now, unjudged):
        return []  # the usual case: no write lock taken every second by every console
    written: list[AlarmJournalRow] = []
    with db.session() as s:
        rows = {r.code: r for r in s.execute(select(AlarmRow)).scalars()}
        for code, seen in active.items():
            if code not in rows:
                rows[code] = AlarmRow(code=code, tag=seen.tag, priority=seen.priority, message=seen.message)
                _store(rows[code], AlarmStatus(code=code, tag=seen.tag, priority=seen.priority, message=seen.message))
                s.add(rows[code])
        for code, row in rows.items():
            for move in _line_moves(_status(row), active.get(code), now, judged=code not in unjudged):
                written.append(_record(s, row, move, now))
        s.flush()
        return [_entry(r) for r in written]


def _line_moves(status: AlarmStatus, seen: Observation | None, now: float, *, judged: bool) -> list[Move]:
    """What the line did to one alarm: a shelf's time ran out, then its condition came or went."""
    moves: list[Move] = []
    ended = alarm_states.end_shelf(status, now=now)
    if ended is not None:
        moves.append(ended)
        status = ended.after
    if not judged:
        return moves
    if seen is not None:
        changed = alarm_states.activate(status, value=seen.value, now=now)
    else:
        changed = alarm_states.clear(status, value=status.value, now=now)
    if changed is not None:
        moves.append(changed)
    return moves


def _differs(db: Database, active: Mapping[str, Observation], now: float, unjudged: Set[str]) -> bool:
    with db.reader() as s:
        rows = {r.code: _status(r) for r in s.execute(select(AlarmRow)).scalars()}
    if any(code not in rows or not rows[code].active for code in active):
        return True
    return any(
        (status.active and code not in active and code not in unjudged)
        or (status.shelved_until is not None and now >= status.shelved_until)
        for code, status in rows.items()
    )


def _act(db: Database, code: str, person: User, now: float, move: Callable[[AlarmStatus, User], Move]) -> Alarm:
    with db.session() as s:
        acting = users.current(s, person.name)
        row = s.get(AlarmRow, code)
        if row is None:
            raise AlarmNotFound(f"no alarm {one_line(code, 64)!r} in the journal; `copilot alarms list` shows them")
        status = _status(row)
        ended = alarm_states.end_shelf(status, now=now)
        if ended is not None:  # the journal says the shelf ended before it says what the person did next
            _record(s, row, ended, now)
            status = ended.after
        done = move(status, acting)
        _record(s, row, done, now)
        return Alarm(status=done.after, state=done.after.state(now), chattering=False)


def acknowledge(db: Database, code: str, *, by: User, occurrence: int | None, now: float) -> Alarm:
    return _act(
        db,
        code,
        by,
        now,
        lambda st, u: alarm_states.acknowledge(st, role=u.role, person=u.name, occurrence=occurrence, now=now),
    )


def shelve(db: Database, code: str, *, by: User, seconds: float, reason: str, now: float) -> Alarm:
    return _act(
        db,
        code,
        by,
        now,
        lambda st, u: alarm_states.shelve(st, role=u.role, person=u.name, seconds=seconds, reason=reason, now=now),
    )


def unshelve(db: Database, code: str, *, by: User, now: float) -> Alarm:
    return _act(db, code, by, now, lambda st, u: alarm_states.unshelve(st, role=u.role, person=u.name, now=now))


def take_out_of_service(db: Database, code: str, *, by: User, reason: str, now: float) -> Alarm:
    return _act(
        db,
        code,
        by,
        now,
        lambda st, u: alarm_states.take_out_of_service(st, role=u.role, person=u.name, reason=reason, now=now),
    )


def return_to_service(db: Database, code: str, *, by: User, now: float) -> Alarm:
    return _act(
        db, code, by, now, lambda st, u: alarm_states.return_to_service(st, role=u.role, person=u.name, now=now)
    )


_PRIORITY_ORDER = [p.value for p in sorted(Priority, key=lambda p: p.rank, reverse=True)]  # most urgent first


def alarms(db: Database, *, now: float, everything: bool = False) -> list[Alarm]:
    """The alarms a person must see (annunciated, shelved, out of service), most urgent and unacknowledged first.

    With `everything`, alarms back to normal are listed too.
    """
    since = now - CHATTER_WINDOW_S
    with db.reader() as s:
        statuses = [_status(r) for r in s.execute(select(AlarmRow)).scalars()]
        recent = s.execute(
            select(AlarmJournalRow.code).where(
                AlarmJournalRow.at >= since, AlarmJournalRow.event == JournalEvent.ACTIVATED.value
            )
        ).scalars()
        activations: dict[str, int] = {}
        for code in recent:
            activations[code] = activations.get(code, 0) + 1
    shown = [
        Alarm(status=st, state=st.state(now), chattering=activations.get(st.code, 0) >= CHATTER_ACTIVATIONS)
        for st in statuses
    ]
    if not everything:
        shown = [a for a in shown if a.state is not AlarmState.NORMAL]
    return sorted(shown, key=_urgency)


def _urgency(alarm: Alarm) -> tuple[int, int, int, float]:
    rank = _PRIORITY_ORDER.index(alarm.status.priority) if alarm.status.priority in _PRIORITY_ORDER else 9
    suppressed = not alarm.state.annunciated
    return (int(suppressed), int(not alarm.state.needs_ack), rank, alarm.status.changed_at)


def journal(
    db: Database, *, since: float | None = None, code: str | None = None, limit: int = 500
) -> list[JournalEntry]:
    """Journal entries, oldest first (the newest `limit` of them)."""
    query = select(AlarmJournalRow)
    if since is not None:
        query = query.where(AlarmJournalRow.at >= since)
    if code is not None:
        query = query.where(AlarmJournalRow.code == code)
    with db.reader() as s:
        rows = s.execute(query.order_by(AlarmJournalRow.seq.desc()).limit(limit)).scalars().all()
        return [_entry(r) for r in reversed(rows)]
