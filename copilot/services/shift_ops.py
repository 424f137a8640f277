"""The shift record for the console and the CLI: which shift, and its figures as people read them."""

from __future__ import annotations

import time
from typing import Any

from copilot.errors import ConfigError
from copilot.pipeline import handover
from copilot.pipeline.handover import Handover
from copilot.pipeline.shift_record import ShiftRecord, Window, shift_record
from copilot.pipeline.shifts import parse_shift
from copilot.pipeline.users import User
from copilot.services.pipeline_ops import Context


def report(ctx: Context, shift: str = "current", *, now: float | None = None) -> ShiftRecord:
    """The record of `shift`: current, previous, or a shift's start such as 2026-12-07T22:00."""
    at = time.time() if now is None else now
    try:
        return shift_record(ctx.db, ctx.line.line, _start(ctx, shift, at), now=at)
    except ValueError as err:  # a line definition without counters
        raise ConfigError(str(err)) from err


def _start(ctx: Context, shift: str, at: float) -> float:
    try:
        start = parse_shift(ctx.line.line, shift, now=at)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    if start > at:
        raise ConfigError(f"the shift {shift!r} has not begun yet")
    return start


def handover_draft(ctx: Context, shift: str = "current") -> Handover:
    """The handover of `shift`: the signed text once the outgoing person signed it, a fresh draft before."""
    now = time.time()
    return handover.draft(ctx.db, ctx.line.line, _start(ctx, shift, now), now=now)


def handover_sign(ctx: Context, person: User, *, side: str, digest: str, shift: str = "current") -> Handover:
    now = time.time()
    return handover.sign(
        ctx.db, ctx.line.line, _start(ctx, shift, now), person=person, side=side, digest=digest, now=now
    )


def handover_json(h: Handover) -> dict[str, Any]:
    return {
        "shift": h.shift,
        "until": h.until,
        "digest": h.digest,
        "signed_out_by": h.signed_out_by or None,
        "signed_out_at": h.signed_out_at,
        "signed_in_by": h.signed_in_by or None,
        "signed_in_at": h.signed_in_at,
        "items": [{"section": i.section, "kind": i.kind, "text": i.text, "ref": i.ref} for i in h.items],
        "figures": h.figures,
    }


def _window_json(w: Window) -> dict[str, Any]:
    return {
        "start": w.start,
        "end": w.end,
        "good": w.good,
        "rejected": w.rejected,
        "energy_kwh": w.energy_kwh,
        "reject_pct": w.reject_pct,
        "reject_pct_spread": w.reject_pct_spread,
        "kwh_per_1000_good": w.kwh_per_1000_good,
        "kwh_per_1000_good_spread": w.kwh_per_1000_good_spread,
        "complete": w.complete,
    }


def as_json(record: ShiftRecord) -> dict[str, Any]:
    load = record.alarms
    return {
        "shift": record.id,
        "start": record.start,
        "end": record.end,
        "until": record.until,
        "unit": record.unit,
        "samples": record.samples,
        "good": record.good,
        "rejected": record.rejected,
        "oee": {
            "availability": record.availability,
            "performance": record.performance,
            "quality": record.quality,
            "oee": record.oee,
        },
        "energy_kwh": record.energy_kwh,
        "kwh_per_1000_good": record.kwh_per_1000_good,
        "alarms": {
            "annunciated": load.annunciated,
            "per_hour": load.per_hour,
            "percent_in_flood": load.percent_in_flood,
            "floods": load.floods,
            "most_frequent": [{"code": c, "activations": n} for c, n in load.most_frequent],
            "chattering": list(load.chattering),
            "standing": list(record.standing),
            "stale": list(record.stale),
        },
        "changes": [
            {
                "action_id": c.action_id,
                "tag": c.tag,
                "old_value": c.old_value,
                "new_value": c.new_value,
                "unit": c.unit,
                "by": c.by,
                "written_at": c.written_at,
                "before": _window_json(c.before),
                "after": _window_json(c.after),
            }
            for c in record.changes
        ],
    }
