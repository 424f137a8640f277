"""Small waiting helpers for tests that watch a live server: wait for a condition, never for a fixed time."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from connectors.simulator.server import SimulatedLine

POLL_S = 0.05


async def eventually(check: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """Poll `check` until it holds; fail with `what` when it never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        await asyncio.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


def wait_until(check: Callable[[], bool], *, timeout_s: float = 10.0, what: str = "condition") -> None:
    """The synchronous twin of `eventually`, for tests that run beside a server on its own thread."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL_S)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


@contextmanager
def left_as_found(sim: SimulatedLine) -> Iterator[None]:
    """Fail a test that changed a shared simulated line (a fault injected, a setpoint written): the tests after it
    read the same line and would see its change."""
    before = _setpoints(sim)
    yield
    assert not sim.process.active_faults, f"a test left {sorted(sim.process.active_faults)} on a shared line"
    assert _setpoints(sim) == before, "a test wrote to a shared line: give it a line of its own"


def _setpoints(sim: SimulatedLine) -> dict[str, object]:
    values = sim.process.values()
    return {tag.name: values[tag.name] for tag in sim.line.setpoints()}
