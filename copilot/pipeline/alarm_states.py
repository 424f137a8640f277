"""An alarm's life as ISA-18.2 draws it: the states, the moves between them, and who may make each move."""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from copilot.errors import AlarmRefused
from copilot.pipeline.states import Role

LINE = "line"  # the actor of a condition change: nobody did it, the process did

MAX_SHELVE_S = 12 * 3600.0  # a shelf longer than a shift is a way to forget an alarm: out of service is for that


class AlarmState(StrEnum):
    NORMAL = "normal"
    UNACKED = "unacknowledged"  # active, nobody has acknowledged it yet
    ACKED = "acknowledged"  # active, acknowledged
    RTN_UNACKED = "returned, unacknowledged"  # the condition cleared before anyone acknowledged it
    SHELVED = "shelved"
    OUT_OF_SERVICE = "out of service"

    @property
    def annunciated(self) -> bool:
        """Shown to the operator and waiting for them (shelved and out-of-service alarms are suppressed)."""
        return self in (AlarmState.UNACKED, AlarmState.ACKED, AlarmState.RTN_UNACKED)

    @property
    def needs_ack(self) -> bool:
        return self in (AlarmState.UNACKED, AlarmState.RTN_UNACKED)


class JournalEvent(StrEnum):
    ACTIVATED = "activated"
    RETURNED = "returned to normal"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"
    UNSHELVED = "unshelved"
    SHELF_ENDED = "shelf ended"  # the shelf's time ran out
    OUT_OF_SERVICE = "out of service"
    IN_SERVICE = "back in service"


@dataclass(frozen=True, kw_only=True)
class AlarmStatus:
    """What the journal knows of one alarm now; `occurrence` counts its activations, so an acknowledgement names one."""

    code: str
    tag: str
    priority: str
    message: str
    active: bool = False
    acked: bool = True
    occurrence: int = 0
    value: float | None = None
    changed_at: float = 0.0
    shelved_until: float | None = None
    shelved_by: str = ""
    shelve_reason: str = ""
    out_of_service: bool = False
    service_by: str = ""
    service_reason: str = ""

    def state(self, now: float) -> AlarmState:
        if self.out_of_service:
            return AlarmState.OUT_OF_SERVICE
        if self.shelved_until is not None and now < self.shelved_until:
            return AlarmState.SHELVED
        # A shelf whose time ran out is over even before the journal records it: the alarm is back as it is.
        active, acked = self.active, self.acked if self.shelved_until is None else not self.active
        if active:
            return AlarmState.ACKED if acked else AlarmState.UNACKED
        return AlarmState.NORMAL if acked else AlarmState.RTN_UNACKED


@dataclass(frozen=True, kw_only=True)
class Move:
    """One transition: the alarm after it and the journal line that records it."""

    after: AlarmStatus
    event: JournalEvent
    actor: str
    reason: str = ""


def activate(status: AlarmStatus, *, value: float | None, now: float) -> Move | None:
    """The condition became true; None when the journal already has it active (a second console saw it too)."""
    if status.active:
        return None
    # Suppressed or not, the activation is kept: "what happened first?" must see alarms that were shelved.
    after = replace(status, active=True, acked=False, occurrence=status.occurrence + 1, value=value, changed_at=now)
    return Move(after=after, event=JournalEvent.ACTIVATED, actor=LINE)


def clear(status: AlarmStatus, *, value: float | None, now: float) -> Move | None:
    """The condition cleared; an unacknowledged alarm stays so until a person has seen it."""
    if not status.active:
        return None
    return Move(
        after=replace(status, active=False, value=value, changed_at=now), event=JournalEvent.RETURNED, actor=LINE
    )


def end_shelf(status: AlarmStatus, *, now: float) -> Move | None:
    """A shelf whose time ran out: the alarm comes back, unacknowledged if its condition holds."""
    if status.shelved_until is None or now < status.shelved_until:
        return None
    return Move(after=_off_the_shelf(status, now), event=JournalEvent.SHELF_ENDED, actor=LINE)


def acknowledge(status: AlarmStatus, *, role: Role, person: str, occurrence: int | None, now: float) -> Move:
    """A person acknowledges the occurrence they saw; one that activated again since must be seen first."""
    status = _settled(status, now)
    if not role.may_acknowledge:
        raise AlarmRefused(f"a {role.value} may not acknowledge alarms; an operator or a supervisor may")
    state = status.state(now)
    if occurrence is not None and occurrence != status.occurrence:
        raise AlarmRefused(
            f"alarm {status.code} activated again since you saw it (occurrence {status.occurrence}, you saw "
            f"{occurrence}); look at it again before acknowledging"
        )
    if not state.needs_ack:
        raise AlarmRefused(f"alarm {status.code} is {state.value}: there is nothing to acknowledge")
    return Move(after=replace(status, acked=True, changed_at=now), event=JournalEvent.ACKNOWLEDGED, actor=person)


def shelve(status: AlarmStatus, *, role: Role, person: str, seconds: float, reason: str, now: float) -> Move:
    """Suppress an alarm for a while, with a reason; it comes back by itself when the time is up."""
    status = _settled(status, now)
    if not role.may_shelve:
        raise AlarmRefused(f"a {role.value} may not shelve alarms; an operator or a supervisor may")
    if not reason.strip():
        raise AlarmRefused("say why the alarm is shelved: the reason is kept in the journal and the handover")
    if not 0 < seconds <= MAX_SHELVE_S:
        raise AlarmRefused(
            f"an alarm is shelved for more than 0 and at most {MAX_SHELVE_S / 3600:.0f} h; for longer, a "
            "supervisor takes it out of service"
        )
    state = status.state(now)
    if state is AlarmState.OUT_OF_SERVICE:
        raise AlarmRefused(f"alarm {status.code} is out of service; a supervisor returns it to service first")
    if state is AlarmState.SHELVED:
        raise AlarmRefused(
            f"alarm {status.code} is already shelved by {status.shelved_by} ({status.shelve_reason}); "
            "unshelve it first to change the shelf"
        )
    after = replace(
        status, shelved_until=now + seconds, shelved_by=person, shelve_reason=reason.strip(), changed_at=now
    )
    return Move(after=after, event=JournalEvent.SHELVED, actor=person, reason=reason.strip())


def unshelve(status: AlarmStatus, *, role: Role, person: str, now: float) -> Move:
    if not role.may_shelve:
        raise AlarmRefused(f"a {role.value} may not unshelve alarms; an operator or a supervisor may")
    if status.state(now) is not AlarmState.SHELVED:
        raise AlarmRefused(f"alarm {status.code} is not shelved (it is {status.state(now).value})")
    return Move(after=_off_the_shelf(status, now), event=JournalEvent.UNSHELVED, actor=person)


def take_out_of_service(status: AlarmStatus, *, role: Role, person: str, reason: str, now: float) -> Move:
    """A supervisor removes an alarm from service (a broken instrument, a line stopped for work), with a reason."""
    status = _settled(status, now)
    if not role.may_take_out_of_service:
        raise AlarmRefused(f"a {role.value} may not take alarms out of service; a supervisor may")
    if not reason.strip():
        raise AlarmRefused("say why the alarm is taken out of service: the reason is kept in the journal")
    if status.out_of_service:
        raise AlarmRefused(f"alarm {status.code} is already out of service ({status.service_reason})")
    after = replace(
        status,
        out_of_service=True,
        service_by=person,
        service_reason=reason.strip(),
        shelved_until=None,
        shelved_by="",
        shelve_reason="",
        changed_at=now,
    )
    return Move(after=after, event=JournalEvent.OUT_OF_SERVICE, actor=person, reason=reason.strip())


def return_to_service(status: AlarmStatus, *, role: Role, person: str, now: float) -> Move:
    if not role.may_take_out_of_service:
        raise AlarmRefused(f"a {role.value} may not return alarms to service; a supervisor may")
    if not status.out_of_service:
        raise AlarmRefused(f"alarm {status.code} is in service (it is {status.state(now).value})")
    after = replace(status, out_of_service=False, service_by="", service_reason="", acked=not status.active)
    return Move(after=replace(after, changed_at=now), event=JournalEvent.IN_SERVICE, actor=person)


def _settled(status: AlarmStatus, now: float) -> AlarmStatus:
    """The alarm as it stands once a shelf that ran out is taken off (the journal records that end separately)."""
    ended = end_shelf(status, now=now)
    return status if ended is None else ended.after


def _off_the_shelf(status: AlarmStatus, now: float) -> AlarmStatus:
    # An alarm that is still active comes back as new: it needs a person's acknowledgement again.
    return replace(status, shelved_until=None, shelved_by="", shelve_reason="", acked=not status.active, changed_at=now)
