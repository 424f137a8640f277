"""A simulated line served from its own thread, for synchronous callers such as the CLI, evals and tests."""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Callable

from connectors.line import LineDefinition
from connectors.loops import run_until_stopped
from connectors.simulator.server import SimulatedLine, SimulatorOptions


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class SimulatorThread:
    """A simulated line on its own thread, so the co-pilot's synchronous calls run beside it as they would live."""

    def __init__(self, line: LineDefinition, options: SimulatorOptions) -> None:
        self.sim = SimulatedLine(line, options)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="eval-simulator", daemon=True)

    def __enter__(self) -> SimulatorThread:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.sim.start(), self._loop).result(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop serving (a server that vanishes, in tests) and end the thread; safe to call twice."""
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self.sim.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        run_until_stopped(self._loop)

    def call(self, func: Callable[[], None]) -> None:
        """Run `func` on the simulator's loop, between two of its steps, as its own methods would."""

        async def run() -> None:
            func()

        asyncio.run_coroutine_threadsafe(run(), self._loop).result(timeout=10)
