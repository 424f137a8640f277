"""Live cache of the latest reading per tag and a bounded rolling history, read as pandas frames."""

from __future__ import annotations

import threading
import time
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from connectors.errors import TagNotFound
from connectors.readings import Availability, Quality, Reading

# Each stored sample costs 8 (source time) + 8 (value) + 4 (status code) bytes in typed arrays.
BYTES_PER_SAMPLE = 20
_STATUS_UNKNOWN = 0x80000000  # the generic Bad code; used when a value arrives without status


@dataclass(slots=True)
class _History:
    """A ring buffer of samples held in typed arrays, so 10k tags do not cost a Python object per sample."""

    capacity: int
    times: array[float] = field(default_factory=lambda: array("d"))
    values: array[float] = field(default_factory=lambda: array("d"))
    statuses: array[int] = field(default_factory=lambda: array("I"))
    head: int = 0  # next slot to overwrite once full

    def append(self, t: float, value: float, status: int) -> None:
        if len(self.times) < self.capacity:
            self.times.append(t)
            self.values.append(value)
            self.statuses.append(status)
            return
        self.times[self.head] = t
        self.values[self.head] = value
        self.statuses[self.head] = status
        self.head = (self.head + 1) % self.capacity

    def ordered(self) -> tuple[array[float], array[float], array[int]]:
        """Copies of the three arrays, oldest sample first (array slices copy in C, not per sample)."""
        h = self.head
        return (
            self.times[h:] + self.times[:h],
            self.values[h:] + self.values[:h],
            self.statuses[h:] + self.statuses[:h],
        )


@dataclass(frozen=True, kw_only=True)
class TagInfo:
    """What the cache needs to know of a tag to judge its freshness."""

    name: str
    unit: str = ""
    update_interval_s: float = 1.0


class LiveCache:
    """Latest reading per tag plus history; staleness and line availability are part of what it answers.

    The connector calls `update` from its subscription handler, so that path stays small and allocation-light.
    """

    def __init__(
        self,
        tags: Iterable[TagInfo],
        *,
        history_samples: int = 3600,
        stale_factor: float = 3.0,
    ) -> None:
        if history_samples < 1:
            raise ValueError("history_samples must be at least 1")
        self._info = {t.name: t for t in tags}
        self._latest: dict[
            str, tuple[float | int | bool | str | None, datetime | None, datetime | None, float, int, str]
        ] = {}
        self._history = {name: _History(history_samples) for name in self._info}
        self._stale_factor = stale_factor
        self.history_samples = history_samples
        self.availability = Availability.CONNECTING
        self.availability_since = datetime.now(UTC)
        self.availability_reason = "not connected yet"
        self.updates = 0
        # The subscription thread appends while a reader copies; the three arrays must be copied as one sample set.
        self._lock = threading.Lock()

    @property
    def tag_names(self) -> list[str]:
        return list(self._info)

    def update(
        self,
        tag: str,
        value: float | int | bool | str | None,
        *,
        source_time: datetime | None,
        server_time: datetime | None,
        status_code: int,
        status: str,
    ) -> None:
        history = self._history.get(tag)
        if history is None:
            return  # a late notification for a tag we no longer watch
        now = time.time()
        # The hot path keeps a plain tuple; the Reading is built when someone reads it (10k updates/s on 2 cores).
        self._latest[tag] = (value, source_time, server_time, now, status_code, status)
        if isinstance(value, int | float):  # bool is an int; text values have no trend
            with self._lock:
                history.append(source_time.timestamp() if source_time else now, float(value), status_code)
        self.updates += 1

    def set_availability(self, state: Availability, reason: str) -> None:
        self.availability = state
        self.availability_reason = reason
        self.availability_since = datetime.now(UTC)

    def reading(self, tag: str, *, now: datetime | None = None) -> Reading | None:
        """The latest reading with its quality judged now: stale or unavailable override good."""
        if tag not in self._info:
            raise TagNotFound(f"tag {tag!r} is not watched by this connection")
        raw = self._latest.get(tag)
        if raw is None:
            return None
        value, source_time, server_time, received, status_code, status = raw
        latest = Reading(
            tag=tag,
            value=value,
            unit=self._info[tag].unit,
            source_time=source_time,
            server_time=server_time,
            received_time=datetime.fromtimestamp(received, UTC),
            status=status,
            quality=Quality.from_status(status_code),
        )
        if self.availability is not Availability.AVAILABLE:
            return replace(latest, quality=Quality.UNAVAILABLE)
        if latest.quality is Quality.GOOD and self._is_stale(latest, now or datetime.now(UTC)):
            return replace(latest, quality=Quality.STALE)
        return latest

    def readings(self, tags: Iterable[str] | None = None) -> dict[str, Reading | None]:
        now = datetime.now(UTC)
        return {name: self.reading(name, now=now) for name in (tags if tags is not None else self._info)}

    def _is_stale(self, reading: Reading, now: datetime) -> bool:
        limit = self._info[reading.tag].update_interval_s * self._stale_factor
        # Judge by arrival, not source time: a server clock that is off must not make every tag stale.
        return (now - reading.received_time).total_seconds() > limit

    def history(self, tag: str, *, since: datetime | None = None) -> pd.DataFrame:
        """History of one tag as a frame indexed by source time with `value`, `status` and `good` columns."""
        buffer = self._history.get(tag)
        if buffer is None:
            raise TagNotFound(f"tag {tag!r} is not watched by this connection")
        with self._lock:
            times, values, statuses = buffer.ordered()
        codes = np.frombuffer(statuses, dtype=np.uint32)
        frame = pd.DataFrame(
            {
                "value": np.frombuffer(values, dtype=np.float64),
                "status": codes.astype(np.int64),
                "good": (codes >> 30) == 0,
            },
            index=pd.to_datetime(np.frombuffer(times, dtype=np.float64), unit="s", utc=True),
        )
        frame.index.name = "source_time"
        if since is not None:
            frame = frame[frame.index >= pd.Timestamp(since)]
        return frame

    def samples_stored(self) -> int:
        return sum(len(h.times) for h in self._history.values())
