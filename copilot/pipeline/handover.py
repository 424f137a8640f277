"""The shift handover, drafted only from what the database holds, and signed by the outgoing and incoming person.

Every item names the record it rests on (a journal line, an action, a diagnosis), so the incoming person can
check it. Nothing open may be left out: every alarm not back to normal, every action waiting or unverified.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import or_, select

from connectors.line import LineInfo
from copilot.errors import NotAllowed
from copilot.pipeline import audit, users
from copilot.pipeline.alarm_states import AlarmState
from copilot.pipeline.alarms import alarms, journal
from copilot.pipeline.audit import AuditEvent
from copilot.pipeline.db import ActionRow, Database, DiagnosisRow, HandoverRow
from copilot.pipeline.shift_record import ShiftRecord, shift_record
from copilot.pipeline.shifts import shift_id, shift_start
from copilot.pipeline.signin import clock_time
from copilot.pipeline.states import Status
from copilot.pipeline.users import User

OPEN_ACTIONS = (Status.PENDING, Status.APPROVED, Status.WRITING)


class HandoverRefused(NotAllowed):
    """A signature that cannot be taken: the message says why and what to do."""


@dataclass(frozen=True, kw_only=True)
class Item:
    section: str  # alarms, actions, diagnoses
    kind: str  # e.g. "alarm shelved", "action pending"
    text: str
    ref: str  # the record it rests on: "journal #12", "action 3f2a9c1e", "diagnosis #4"


@dataclass(frozen=True, kw_only=True)
class Handover:
    shift: str
    start: float
    until: float
    items: tuple[Item, ...]
    figures: dict[str, Any]  # this shift's KPIs beside the previous shift's
    digest: str  # what a signature is bound to
    signed_out_by: str = ""
    signed_out_at: float | None = None
    signed_in_by: str = ""
    signed_in_at: float | None = None


def _latest_journal_ref(db: Database, code: str) -> str:
    entries = journal(db, code=code, limit=1)
    return f"journal #{entries[-1].seq}" if entries else "journal"


def _alarm_items(db: Database, now: float) -> list[Item]:
    items = []
    for alarm in alarms(db, now=now):
        st = alarm.status
        ref = _latest_journal_ref(db, st.code)
        if alarm.state is AlarmState.SHELVED:
            until = clock_time(st.shelved_until or now)
            text = f"{st.code} ({st.message}) shelved by {st.shelved_by} until {until}: {st.shelve_reason}"
            items.append(Item(section="alarms", kind="alarm shelved", text=text, ref=ref))
        elif alarm.state is AlarmState.OUT_OF_SERVICE:
            text = f"{st.code} ({st.message}) out of service by {st.service_by}: {st.service_reason}"
            items.append(Item(section="alarms", kind="alarm out of service", text=text, ref=ref))
        else:
            text = f"{st.code} ({st.message}) is {alarm.state.value} since {clock_time(st.changed_at)}"
            items.append(Item(section="alarms", kind="alarm open", text=text, ref=ref))
    return items


def _action_text(row: ActionRow) -> str:
    old = "?" if row.old_value is None else f"{row.old_value:g}"
    return f"{row.tag} {old} -> {row.new_value:g} {row.unit}, asked by {row.requested_by}: {row.reason}"


def _action_items(db: Database, start: float) -> list[Item]:
    open_states = [s.value for s in OPEN_ACTIONS]
    with db.reader() as s:
        rows = s.execute(
            select(ActionRow)
            .where(
                or_(
                    ActionRow.status.in_([*open_states, Status.UNVERIFIED.value]),
                    ActionRow.created_at >= start,
                    ActionRow.finished_at >= start,
                )
            )
            .order_by(ActionRow.created_at)
        ).scalars()
        found = [(r.id, r.status, _action_text(r), r.result) for r in rows]
    items = []
    for action_id, status, text, result in found:
        ref = f"action {action_id[:8]}"
        if status in open_states:
            items.append(Item(section="actions", kind=f"action {status}", text=text, ref=ref))
        elif status == Status.UNVERIFIED.value:
            why = f" ({result})" if result else ""
            items.append(
                Item(section="actions", kind="action unverified", text=f"{text}; check it on the line{why}", ref=ref)
            )
        elif status in (Status.SUCCEEDED.value, Status.FAILED.value, Status.REJECTED.value, Status.WITHDRAWN.value):
            items.append(Item(section="actions", kind=f"action {status}", text=text, ref=ref))
    return items


def _diagnosis_items(db: Database, start: float, until: float) -> list[Item]:
    with db.reader() as s:
        rows = s.execute(
            select(DiagnosisRow).where(DiagnosisRow.at >= start, DiagnosisRow.at <= until).order_by(DiagnosisRow.at)
        ).scalars()
        found = [(r.id, r.at, r.person, r.question, r.cause, r.confidence, r.abstained) for r in rows]
    items = []
    for row_id, at, person, question, cause, confidence, abstained in found:
        said = "no cause given" if abstained or not cause else f"{cause} ({confidence or 0:.2f})"
        text = f'{clock_time(at)} {person} asked "{question}": {said}'
        items.append(Item(section="diagnoses", kind="diagnosis", text=text, ref=f"diagnosis #{row_id}"))
    return items


def _figures(now_record: ShiftRecord, before: ShiftRecord) -> dict[str, Any]:
    def pick(r: ShiftRecord) -> dict[str, Any]:
        return {
            "shift": r.id,
            "oee": r.oee,
            "good": r.good,
            "rejected": r.rejected,
            "kwh_per_1000_good": r.kwh_per_1000_good,
            "alarms_per_hour": r.alarms.per_hour,
            "percent_in_flood": r.alarms.percent_in_flood,
        }

    return {"this_shift": pick(now_record), "previous_shift": pick(before)}


def _digest(shift: str, items: list[Item]) -> str:
    # The items, not the figures: rates such as alarms per hour move every second while a person reads. The
    # figures kept are those at the outgoing signature.
    body = json.dumps({"shift": shift, "items": [asdict(i) for i in items]}, sort_keys=True)
    return hashlib.sha256(body.encode()).hexdigest()


def draft(db: Database, info: LineInfo, start: float, *, now: float) -> Handover:
    """The handover of the shift that began at `start`; once signed out, the signed text, not a new draft."""
    shift = shift_id(info, start)
    with db.reader() as s:
        signed = s.get(HandoverRow, shift)
        if signed is not None:
            content = json.loads(signed.content)
            return Handover(
                shift=shift,
                start=start,
                until=content["until"],
                items=tuple(Item(**i) for i in content["items"]),
                figures=content["figures"],
                digest=signed.digest,
                signed_out_by=signed.outgoing_by,
                signed_out_at=signed.outgoing_at,
                signed_in_by=signed.incoming_by or "",
                signed_in_at=signed.incoming_at,
            )
    until = now
    items = _alarm_items(db, now) + _action_items(db, start) + _diagnosis_items(db, start, until)
    figures: dict[str, Any] = {}
    if info.production is not None:
        figures = _figures(
            shift_record(db, info, start, now=now), shift_record(db, info, shift_start(info, start - 1), now=now)
        )
    return Handover(
        shift=shift,
        start=start,
        until=until,
        items=tuple(items),
        figures=figures,
        digest=_digest(shift, items),
    )


def sign(db: Database, info: LineInfo, start: float, *, person: User, side: str, digest: str, now: float) -> Handover:
    """Sign the handover as shown (its digest), as the outgoing or the incoming person.

    The outgoing person signs first and fixes the text; the incoming person, someone else, signs that same text.
    Each signature is taken once: of two people signing the same side at once, the second is told who signed.
    """
    if side not in ("outgoing", "incoming"):
        raise HandoverRefused(f"sign as outgoing or incoming, not {side!r}")
    shown = draft(db, info, start, now=now)
    with db.session() as s:
        acting = users.current(s, person.name)
        if not acting.role.may_acknowledge:
            raise HandoverRefused(f"a {acting.role.value} does not sign handovers; an operator or a supervisor does")
        row = s.get(HandoverRow, shown.shift)
        if side == "outgoing":
            if row is not None:
                raise HandoverRefused(f"the handover of shift {shown.shift} is already signed out by {row.outgoing_by}")
            if digest != shown.digest:
                raise HandoverRefused("the handover changed since you read it; read it again and sign what you read")
            content = {"until": shown.until, "items": [asdict(i) for i in shown.items], "figures": shown.figures}
            s.add(
                HandoverRow(
                    shift=shown.shift,
                    content=json.dumps(content, sort_keys=True),
                    digest=shown.digest,
                    outgoing_by=acting.name,
                    outgoing_at=now,
                )
            )
            event = AuditEvent.HANDOVER_SIGNED_OUT
        else:
            if row is None:
                raise HandoverRefused(f"the handover of shift {shown.shift} is not signed out yet")
            if row.incoming_by:
                raise HandoverRefused(f"the handover of shift {shown.shift} is already signed in by {row.incoming_by}")
            if digest != row.digest:
                raise HandoverRefused("this is not the handover that was signed out; read it again and sign that")
            if users.canonical_name(acting.name) == users.canonical_name(row.outgoing_by):
                raise HandoverRefused(f"{acting.name} signed it out; the incoming person signs it in")
            row.incoming_by, row.incoming_at = acting.name, now
            event = AuditEvent.HANDOVER_SIGNED_IN
        audit.append(s, event, actor=acting.name, at=now, details={"shift": shown.shift, "digest": digest})
    return draft(db, info, start, now=now)
