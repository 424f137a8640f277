"""Losing the server and getting it back: availability is data, one log line each way, no duplicate subscriptions."""

from __future__ import annotations

import logging

import pytest

from connectors.client import LineClient
from connectors.errors import LineUnavailable
from connectors.line import LineDefinition
from connectors.readings import Availability, Quality
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine, SimulatorOptions
from tests.helpers import eventually


async def test_reconnects_after_server_restart(
    line: LineDefinition, port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="connectors.client")
    tag = "filler.bowl_level"
    options = SimulatorOptions(port=port, speed=10.0, publish_interval_s=0.2)
    first = SimulatedLine(line, options)
    await first.start()
    client = LineClient(
        line,
        ConnectionOptions(endpoint=first.endpoint, timeout_s=1.0, watchdog_s=0.3),
        tags=[tag],
        publishing_interval_ms=100,
        reconnect_min_s=0.1,
        reconnect_max_s=0.5,
    )
    second: SimulatedLine | None = None
    try:
        await client.start()
        await client.wait_available(10)
        await eventually(lambda: client.cache.reading(tag) is not None, what="first data")

        await first.stop()
        await eventually(lambda: client.cache.availability is Availability.UNAVAILABLE, what="loss detected")
        reading = client.cache.reading(tag)
        assert reading is not None
        assert reading.quality is Quality.UNAVAILABLE
        with pytest.raises(LineUnavailable):
            await client.read(tag)

        second = SimulatedLine(line, options)
        await second.start()
        await eventually(lambda: client.available, timeout_s=15, what="reconnection")
        before = client.cache.updates
        await eventually(lambda: client.cache.updates > before + 3, what="data flowing again")
        assert client.cache.reading(tag).quality is Quality.GOOD  # type: ignore[union-attr]
        assert client.connects == 2
        assert second.subscriptions == 1  # the new server sees one subscription, not one per attempt
    finally:
        await client.stop()
        if second is not None:
            await second.stop()
    losses = [r for r in caplog.records if "unavailable" in r.getMessage()]
    recoveries = [r for r in caplog.records if "available again" in r.getMessage()]
    assert len(losses) == 1, [r.getMessage() for r in losses]
    assert len(recoveries) == 1


async def test_first_connection_failure_is_a_retrying_state(line: LineDefinition, port: int) -> None:
    client = LineClient(
        line, ConnectionOptions(endpoint=f"opc.tcp://127.0.0.1:{port}/", timeout_s=1.0), reconnect_min_s=0.1
    )
    async with client:
        with pytest.raises(LineUnavailable, match="refused"):
            await client.wait_available(1.5)
        assert client.cache.availability is Availability.UNAVAILABLE
        # The server appears later: the client picks it up without being restarted.
        async with SimulatedLine(line, SimulatorOptions(port=port, publish_interval_s=0.2)):
            await client.wait_available(15)
            assert client.available
