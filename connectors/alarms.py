"""Alarm evaluation from the line definition's limits, with on-delays, for any server's readings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from connectors.line import Alarm, LineDefinition, Tag


@dataclass(frozen=True, kw_only=True)
class ActiveAlarm:
    """An alarm whose condition has held for at least its delay."""

    code: str
    tag: str
    priority: str
    message: str
    value: float | bool
    limit: float | None
    since_s: float


class AlarmEvaluator:
    """Tracks when each alarm condition began, so an alarm only raises after its delay has passed."""

    def __init__(self, line: LineDefinition) -> None:
        self._alarms: list[tuple[Tag, Alarm]] = list(line.alarms())
        self._breached_since: dict[str, float] = {}

    def evaluate(self, values: Mapping[str, object], *, time_s: float) -> dict[str, ActiveAlarm]:
        """Alarms active at `time_s` given the latest values; a tag without a value raises nothing."""
        active: dict[str, ActiveAlarm] = {}
        for tag, alarm in self._alarms:
            value = values.get(tag.name)
            if not isinstance(value, int | float):
                self._breached_since.pop(alarm.code, None)
                continue
            if not alarm.breached(value):
                self._breached_since.pop(alarm.code, None)
                continue
            since = self._breached_since.setdefault(alarm.code, time_s)
            if time_s - since >= alarm.delay_s:
                active[alarm.code] = ActiveAlarm(
                    code=alarm.code,
                    tag=tag.name,
                    priority=alarm.priority.value,
                    message=alarm.message,
                    value=value,
                    limit=alarm.limit,
                    since_s=since,
                )
        return active
