"""The audit trail: typed events appended with a hash chain; verification finds the first broken link."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from copilot.pipeline.db import AuditRow, hold_write_lock

GENESIS = "0" * 64


class AuditEvent(StrEnum):
    PROPOSED = "proposed"
    REFUSED = "refused"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    EXPIRED = "expired"
    EXECUTING = "executing"  # the write intent, recorded before the write
    EXECUTED = "executed"
    VERIFIED = "verified"
    FAILED = "failed"
    UNVERIFIED = "unverified"
    RECONCILED = "reconciled"
    SETTLED = "settled"  # a person's verdict on an unverified write
    KILL_SWITCH_ON = "kill_switch_on"
    KILL_SWITCH_OFF = "kill_switch_off"
    USER_ADDED = "user_added"
    PASSWORD_SET = "password_set"
    ROLE_CHANGED = "role_changed"
    USER_DEACTIVATED = "user_deactivated"
    SIGNIN_OK = "signin_ok"
    SIGNIN_FAILED = "signin_failed"  # the password was checked and was wrong, or the name is unknown
    SIGNIN_THROTTLED = "signin_throttled"  # turned away unchecked: a wait or a lockout was running
    LOCKED_OUT = "locked_out"
    UNLOCKED = "unlocked"
    ALARM_ACKNOWLEDGED = "alarm_acknowledged"
    ALARM_SHELVED = "alarm_shelved"
    ALARM_UNSHELVED = "alarm_unshelved"
    ALARM_OUT_OF_SERVICE = "alarm_out_of_service"
    ALARM_IN_SERVICE = "alarm_in_service"
    HANDOVER_SIGNED_OUT = "handover_signed_out"
    HANDOVER_SIGNED_IN = "handover_signed_in"


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    seq: int
    at: float
    event: str
    actor: str
    action_id: str
    tag: str
    old_value: str
    new_value: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True, kw_only=True)
class ChainReport:
    entries: int
    ok: bool
    broken_at: int | None  # seq of the first entry whose link does not hold
    problem: str


def _value(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def _digest(
    prev_hash: str,
    seq: int,
    at: float,
    event: str,
    actor: str,
    action_id: str,
    tag: str,
    old_value: str,
    new_value: str,
    details: str,
) -> str:
    # Every field, in a fixed order, with the previous hash: editing, dropping or moving any entry shows.
    canonical = json.dumps([prev_hash, seq, repr(at), event, actor, action_id, tag, old_value, new_value, details])
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    session: Session,
    event: AuditEvent,
    *,
    actor: str,
    at: float,
    action_id: str = "",
    tag: str = "",
    old_value: float | None = None,
    new_value: float | None = None,
    details: dict[str, Any] | None = None,
) -> AuditRow:
    """Add one entry in the caller's transaction, chained to the last one."""
    # The write session holds this lock already; taken again here so that no caller can chain two entries to
    # the same predecessor (a row lock on the last entry locks nothing while the trail is empty).
    hold_write_lock(session)
    last = session.execute(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1).with_for_update()).scalar()
    seq = (last.seq + 1) if last else 1
    prev = last.hash if last else GENESIS
    text = json.dumps(details or {}, sort_keys=True, default=str)
    old, new = _value(old_value), _value(new_value)
    row = AuditRow(
        seq=seq,
        at=at,
        event=event.value,
        actor=actor,
        action_id=action_id,
        tag=tag,
        old_value=old,
        new_value=new,
        details=text,
        prev_hash=prev,
        hash=_digest(prev, seq, at, event.value, actor, action_id, tag, old, new, text),
    )
    session.add(row)
    session.flush()
    return row


def verify(session: Session) -> ChainReport:
    """Walk the chain in order; report the first entry that was edited, or follows a dropped or moved one."""
    prev = GENESIS
    expected_seq = 1
    count = 0
    for row in session.execute(select(AuditRow).order_by(AuditRow.seq)).scalars():
        count += 1
        if row.seq != expected_seq:
            return ChainReport(
                entries=count,
                ok=False,
                broken_at=row.seq,
                problem=f"entry {expected_seq} is missing before entry {row.seq}",
            )
        if row.prev_hash != prev:
            return ChainReport(
                entries=count,
                ok=False,
                broken_at=row.seq,
                problem=f"entry {row.seq} does not follow the entry before it (dropped or reordered)",
            )
        recomputed = _digest(
            row.prev_hash,
            row.seq,
            row.at,
            row.event,
            row.actor,
            row.action_id,
            row.tag,
            row.old_value,
            row.new_value,
            row.details,
        )
        if recomputed != row.hash:
            return ChainReport(entries=count, ok=False, broken_at=row.seq, problem=f"entry {row.seq} was edited")
        prev = row.hash
        expected_seq += 1
    return ChainReport(entries=count, ok=True, broken_at=None, problem="")


def entries(session: Session, *, action_id: str | None = None) -> list[AuditEntry]:
    query = select(AuditRow).order_by(AuditRow.seq)
    if action_id:
        query = query.where(AuditRow.action_id == action_id)
    return [
        AuditEntry(
            seq=r.seq,
            at=r.at,
            event=r.event,
            actor=r.actor,
            action_id=r.action_id,
            tag=r.tag,
            old_value=r.old_value,
            new_value=r.new_value,
            details=json.loads(r.details or "{}"),
            prev_hash=r.prev_hash,
            hash=r.hash,
        )
        for r in session.execute(query).scalars()
    ]


def head(session: Session) -> tuple[int, str]:
    """The number of entries and the last hash: written down elsewhere, they also catch a truncated tail."""
    count = session.execute(select(func.count()).select_from(AuditRow)).scalar_one()
    last = session.execute(select(AuditRow.hash).order_by(AuditRow.seq.desc()).limit(1)).scalar()
    return int(count), last or GENESIS


def to_csv(rows: list[AuditEntry]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        ["seq", "at", "event", "actor", "action_id", "tag", "old_value", "new_value", "details", "prev_hash", "hash"]
    )
    for r in rows:
        writer.writerow(
            [
                r.seq,
                datetime.fromtimestamp(r.at, UTC).isoformat(),
                r.event,
                r.actor,
                r.action_id,
                r.tag,
                r.old_value,
                r.new_value,
                json.dumps(r.details, sort_keys=True),
                r.prev_hash,
                r.hash,
            ]
        )
    return out.getvalue()
