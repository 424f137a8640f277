"""The shift record for the console and the CLI: which shift, and its figures as people read them."""

from __future__ import annotations

import time
from typing import Any

from copilot.errors import ConfigError
from copilot.pipeline.shift_record import ShiftRecord, Window, shift_record
from copilot.pipeline.shifts import parse_shift
from copilot.services.pipeline_ops import Context


def report(ctx: Context, shift: str = "current", *, now: float | None = None) -> ShiftRecord:
    """The record of `shift`: current, previous, or a shift's start such as 2026-12-07T22:00."""
    at = time.time() if now is None else now
    try:
        start = parse_shift(ctx.line.line, shift, now=at)
        if start > at:
            raise ValueError(f"the shift {shift!r} has not begun yet")
        return shift_record(ctx.db, ctx.line.line, start, now=at)
    except ValueError as err:
        raise ConfigError(str(err)) from err


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
