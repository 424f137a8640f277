"""What people already decided about a setpoint: a change said no to is not drafted again, one tried is reported."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from connectors.cache import LiveCache
from connectors.display import clock_and_age
from connectors.line import Tag
from copilot.pipeline.actions import Action, ActionService
from copilot.pipeline.states import Status

# How far back a decision counts while the evidence stays the same: one shift.
MEMORY_S = 8 * 3600.0
_SAID_NO = (Status.REJECTED, Status.WITHDRAWN)
_TRIED = (Status.APPROVED, Status.WRITING, Status.SUCCEEDED, Status.UNVERIFIED)


@dataclass(frozen=True, kw_only=True)
class PastDecision:
    """One earlier change of the same setpoint the same way, and what people did with it."""

    action: Action
    verdict: str  # rejected, withdrawn, tried (approved or written), pending
    by: str
    at: float
    reason: str


def direction(old: float | None, new: float) -> str:
    if old is None or new == old:
        return ""
    return "up" if new > old else "down"


def recall(
    actions: ActionService, tag: str, way: str, *, now: float, window_s: float = MEMORY_S
) -> PastDecision | None:
    """The latest decision on moving `tag` the way `way` within the window, if any."""
    if not way:
        return None
    for action in actions.list_actions(tag=tag, limit=50):  # newest first
        if action.created_at < now - window_s:
            break
        if direction(action.old_value, action.new_value) != way:
            continue
        if action.status in _SAID_NO:
            closing = [a for a in action.approvals if a.decision in ("reject", "withdraw")]
            last = closing[-1] if closing else None
            return PastDecision(
                action=action,
                verdict="rejected" if action.status is Status.REJECTED else "withdrawn",
                by=last.user if last else "someone",
                at=last.at if last else action.created_at,
                reason=last.reason if last else "",
            )
        if action.status in _TRIED:
            approvals = [a for a in action.approvals if a.decision == "approve"]
            return PastDecision(
                action=action,
                verdict="tried",
                by=", ".join(a.user for a in approvals) or action.requested_by,
                at=approvals[-1].at if approvals else action.created_at,
                reason=action.result,
            )
        if action.status is Status.PENDING:
            return PastDecision(
                action=action, verdict="pending", by=action.requested_by, at=action.created_at, reason=""
            )
    return None


def told(past: PastDecision, now: float) -> str:
    """The sentence the answer gives about it."""
    a = past.action
    change = f"{a.tag} {a.old_value:g} → {a.new_value:g}" if a.old_value is not None else f"{a.tag} → {a.new_value:g}"
    when = clock_and_age(past.at, now)
    if past.verdict in ("rejected", "withdrawn"):
        why = f': "{past.reason}"' if past.reason else ""
        return f"{past.by} {past.verdict} {change} at {when}{why}. I do not draft it again this shift."
    if past.verdict == "pending":
        return f"{change}, asked by {past.by} at {when}, is still waiting for approval: I do not draft another."
    state = {Status.SUCCEEDED: "written", Status.UNVERIFIED: "written but not verified"}.get(a.status, a.status.value)
    return f"Already tried: {change}, approved by {past.by} at {when}, {state}. I do not draft a further step."


def since(cache: LiveCache, tags: list[Tag], at: float) -> str:
    """How the tags that pointed to the cause moved since a change was tried, from the readings kept since then."""
    parts = []
    for tag in tags[:3]:
        frame = cache.history(tag.name, since=datetime.fromtimestamp(at, UTC))
        good = frame[frame["good"]] if len(frame) else frame
        if len(good) < 2:
            continue
        first, last = float(good["value"].iloc[0]), float(good["value"].iloc[-1])
        parts.append(f"{tag.name} {tag.shown(first)} → {tag.shown(last)}")
    return ("Since then: " + "; ".join(parts) + ".") if parts else "No readings since then are kept to compare."
