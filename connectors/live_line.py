"""A line watched from a background thread, so synchronous callers (the agent, the console) read a live cache."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from connectors.alarms import ActiveAlarm, AlarmEvaluator
from connectors.cache import LiveCache
from connectors.client import LineClient
from connectors.errors import LineUnavailable
from connectors.line import LineDefinition
from connectors.loops import run_until_stopped
from connectors.readings import Availability
from connectors.session import ConnectionOptions

log = logging.getLogger(__name__)


class LiveLine:
    """Owns one LineClient on its own event loop thread; everything public is safe to call from other threads.

    The cache is written by the loop thread and read by others: each reading is one immutable object swapped in
    whole, so a reader sees either the old or the new reading, never half of one.
    """

    def __init__(
        self,
        line: LineDefinition,
        options: ConnectionOptions,
        *,
        history_samples: int = 3600,
        publishing_interval_ms: float = 500.0,
    ) -> None:
        self.line = line
        self.client = LineClient(
            line, options, history_samples=history_samples, publishing_interval_ms=publishing_interval_ms
        )
        self._alarms = AlarmEvaluator(line)
        self._active: dict[str, ActiveAlarm] = {}
        self._alarm_period_s = publishing_interval_ms / 1000.0
        self._alarm_task: asyncio.Task[None] | None = None
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="live-line", daemon=True)
        self._started = False

    @property
    def cache(self) -> LiveCache:
        return self.client.cache

    @property
    def endpoint(self) -> str:
        return self.client.options.endpoint

    @property
    def available(self) -> bool:
        return self.client.available

    @property
    def availability(self) -> tuple[Availability, str]:
        return self.cache.availability, self.cache.availability_reason

    def start(self) -> LiveLine:
        if not self._started:
            self._started = True
            self._thread.start()
            self.submit(self._begin()).result(timeout=10)
        return self

    async def _begin(self) -> None:
        await self.client.start()
        self._alarm_task = asyncio.create_task(self._watch_alarms(), name="live-line:alarms")

    async def _end(self) -> None:
        if self._alarm_task is not None:
            self._alarm_task.cancel()
            try:
                await self._alarm_task
            except asyncio.CancelledError:
                pass
        await self.client.stop()

    async def _watch_alarms(self) -> None:
        # Alarms have on-delays, so the conditions are followed continuously, not only when someone asks.
        while True:
            values = {tag: r.value for tag, r in self.cache.readings().items() if r is not None and r.usable}
            # A value that is not GOOD raises nothing, because it proves nothing.
            self._active = self._alarms.evaluate(values, time_s=time.monotonic())
            await asyncio.sleep(self._alarm_period_s)

    def stop(self) -> None:
        if not self._started or not self._thread.is_alive():
            return
        ending = self.submit(self._end())
        try:
            # Closing a SignAndEncrypt session is a round trip of crypto on both sides: on two busy cores it took
            # over 10 s once. The bound only keeps a vanished server from hanging the stop forever.
            ending.result(timeout=30)
        except FutureTimeout:
            # A stop must stop: the server is left to drop our session after its timeout, as it would on a cut cable.
            ending.cancel()
            log.warning("the session with %s did not close within 30 s; stopped without closing it", self.endpoint)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)

    def __enter__(self) -> LiveLine:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(self, coroutine: Any) -> Future[Any]:
        """Run a coroutine on the line's loop (a write, a method call) and get a future for its result."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Block until connected and every tag has its first reading; raise LineUnavailable otherwise."""
        self.submit(self.client.wait_available(timeout_s)).result(timeout=timeout_s + 5)
        deadline = time.monotonic() + timeout_s
        while any(r is None for r in self.cache.readings().values()):
            if time.monotonic() > deadline:
                missing = [t for t, r in self.cache.readings().items() if r is None]
                raise LineUnavailable(f"no reading yet for {len(missing)} tags, e.g. {', '.join(missing[:3])}")
            time.sleep(0.05)

    def alarms(self) -> list[ActiveAlarm]:
        """Active alarms from the latest good values, highest priority first, then oldest first.

        Evaluated here from the line definition's limits, so any server works, not only one that has alarm
        objects of its own. While the line is unavailable there are no alarms to trust, so none are returned.
        """
        if not self.available:
            return []
        order = ["urgent", "high", "medium", "low"]
        return sorted(self._active.values(), key=lambda a: (order.index(a.priority), a.since_s))

    def _run(self) -> None:
        run_until_stopped(self._loop)
