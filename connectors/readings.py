"""What a tag reads at one moment: value, timestamps and quality, as every other package sees it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Quality(StrEnum):
    """How far a reading can be trusted; anything but GOOD is unfit for reasoning or for a write."""

    GOOD = "good"
    UNCERTAIN = "uncertain"
    BAD = "bad"
    STALE = "stale"  # no update within the tag's expected interval
    UNAVAILABLE = "unavailable"  # the line connection is down; the value is the last one seen

    @classmethod
    def from_status(cls, status_code: int) -> Quality:
        # OPC UA puts the severity in the top two bits: 00 good, 01 uncertain, 10/11 bad.
        severity = (status_code >> 30) & 0b11
        if severity == 0:
            return cls.GOOD
        if severity == 1:
            return cls.UNCERTAIN
        return cls.BAD


@dataclass(frozen=True, kw_only=True, slots=True)
class Reading:
    """One sample of one tag, as received from the server."""

    tag: str
    value: float | int | bool | str | None
    unit: str
    source_time: datetime | None
    server_time: datetime | None
    received_time: datetime
    status: str  # OPC UA status name, e.g. "Good" or "BadSensorFailure"
    quality: Quality

    @property
    def usable(self) -> bool:
        return self.quality is Quality.GOOD

    def age_s(self, now: datetime | None = None) -> float:
        """Seconds since the source produced this value (or since we received it when the source gave no time)."""
        now = now or datetime.now(UTC)
        stamp = self.source_time or self.received_time
        return (now - stamp).total_seconds()


class Availability(StrEnum):
    """State of the whole connection to the line."""

    CONNECTING = "connecting"
    AVAILABLE = "available"
    UNAVAILABLE = "unavailable"
    STOPPED = "stopped"
