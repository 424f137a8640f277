"""A stop that lands while the session is being opened ends at once, even when the cancellation is swallowed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from connectors import session as ua_session
from connectors.client import LineClient
from connectors.line import LineDefinition
from connectors.readings import Availability
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine


async def test_a_stop_during_connect_whose_cancellation_is_swallowed_still_stops(
    line: LineDefinition, sim: SimulatedLine, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = ua_session.open_session
    opening = asyncio.Event()

    async def open_swallowing_one_cancel(options: ConnectionOptions) -> Any:
        # What a cancellation caught inside asyncua's connect looks like from outside: the open goes on and succeeds.
        opening.set()
        try:
            await asyncio.sleep(0.5)
        except asyncio.CancelledError:
            pass
        return await real_open(options)

    monkeypatch.setattr(ua_session, "open_session", open_swallowing_one_cancel)
    client = LineClient(line, ConnectionOptions(endpoint=sim.endpoint))
    await client.start()
    await asyncio.wait_for(opening.wait(), timeout=10)
    began = time.monotonic()
    await asyncio.wait_for(client.stop(), timeout=20)
    assert time.monotonic() - began < 20
    assert client.cache.availability is Availability.STOPPED
    assert client._client is None, "the session the swallowed open made is closed, not left behind"
