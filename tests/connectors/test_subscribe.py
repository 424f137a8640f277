"""Subscribing to the real simulator: live cache, history, staleness, numeric node ids."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from connectors.cache import BYTES_PER_SAMPLE, LiveCache, TagInfo
from connectors.client import LineClient
from connectors.errors import TagNotFound
from connectors.line import LineDefinition
from connectors.readings import Availability, Quality
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine
from tests.helpers import eventually


async def test_every_tag_reaches_the_cache_with_timestamps(line: LineDefinition, shared_server: SimulatedLine) -> None:
    async with LineClient(
        line, ConnectionOptions(endpoint=shared_server.endpoint), publishing_interval_ms=100
    ) as client:
        await client.wait_available(10)
        assert client.monitored_items == len(line.tags)
        await eventually(lambda: all(r is not None for r in client.cache.readings().values()), what="all tags")
        now = datetime.now(UTC)
        for tag in line.tags:
            reading = client.cache.reading(tag.name)
            assert reading is not None
            assert reading.quality is Quality.GOOD, (tag.name, reading)
            assert reading.unit == tag.unit
            assert reading.source_time is not None
            assert reading.server_time is not None
            assert abs((now - reading.source_time).total_seconds()) < 5
            if tag.eu_range is not None:
                assert isinstance(reading.value, int | float)
                assert tag.eu_range.low <= reading.value <= tag.eu_range.high


async def test_history_grows_is_bounded_and_reads_as_a_frame(
    line: LineDefinition, shared_server: SimulatedLine
) -> None:
    tag = "filler.bowl_level"
    async with LineClient(
        line,
        ConnectionOptions(endpoint=shared_server.endpoint),
        tags=[tag],
        history_samples=5,
        publishing_interval_ms=100,
    ) as client:
        await client.wait_available(10)
        await eventually(lambda: len(client.cache.history(tag)) == 5, what="five samples")
        first = client.cache.history(tag).index[0]
        await eventually(lambda: client.cache.history(tag).index[0] > first, what="the oldest sample to roll off")
        frame = client.cache.history(tag)
        assert len(frame) == 5
        assert list(frame.columns) == ["value", "status", "good"]
        assert frame.index.is_monotonic_increasing
        assert frame["good"].all()
        assert str(frame.index.tz) == "UTC"
        with pytest.raises(TagNotFound):
            client.cache.history("filler.not_watched")


async def test_tag_goes_stale_when_updates_stop_and_recovers(line: LineDefinition, sim: SimulatedLine) -> None:
    tag = "capper.torque"
    async with LineClient(line, ConnectionOptions(endpoint=sim.endpoint), tags=[tag], publishing_interval_ms=100) as c:
        await c.wait_available(10)
        await eventually(lambda: c.cache.reading(tag) is not None, what="a first reading")
        sim.publishing = False  # the server stays up, the values stop coming
        interval = line.tag(tag).update_interval_s
        await eventually(
            lambda: (r := c.cache.reading(tag)) is not None and r.quality is Quality.STALE,
            timeout_s=interval * 3 + 5,
            what="the tag to turn stale",
        )
        assert c.cache.availability is Availability.AVAILABLE  # stale is per tag, not a lost line
        sim.publishing = True
        await eventually(
            lambda: (r := c.cache.reading(tag)) is not None and r.quality is Quality.GOOD, what="fresh values again"
        )


async def test_numeric_node_ids_are_resolved_by_namespace_uri(shared_server: SimulatedLine) -> None:
    # ServerStatus/State lives in namespace 0 under a numeric id on every compliant server.
    odd = LineDefinition.model_validate(
        {
            "line": {"id": "any-server", "name": "Any server", "namespace_uri": "http://opcfoundation.org/UA/"},
            "equipment": [{"id": "server", "name": "Server"}],
            "tags": [
                {
                    "name": "server.state",
                    "node": "nsu=http://opcfoundation.org/UA/;i=2259",
                    "equipment": "server",
                    "data_type": "Int32",
                    "eu_range": [0, 7],
                }
            ],
        }
    )
    async with LineClient(odd, ConnectionOptions(endpoint=shared_server.endpoint)) as client:
        await client.wait_available(10)
        await eventually(lambda: client.cache.reading("server.state") is not None, what="the server state")
        reading = client.cache.reading("server.state")
        assert reading is not None
        assert reading.value == 0


async def test_unknown_namespace_is_a_clear_unavailable_state(
    shared_server: SimulatedLine, line: LineDefinition
) -> None:
    wrong = line.model_copy(
        update={
            "tags": [
                line.tags[0].model_copy(
                    update={"node": line.tags[0].node.model_copy(update={"namespace_uri": "urn:nope"})}
                )
            ]
        }
    )
    client = LineClient(wrong, ConnectionOptions(endpoint=shared_server.endpoint), reconnect_min_s=0.1)
    async with client:
        await eventually(lambda: client.cache.availability is Availability.UNAVAILABLE, what="unavailable")
        assert "urn:nope" in client.cache.availability_reason


def test_memory_cost_per_sample_is_what_the_cache_states() -> None:
    cache = LiveCache([TagInfo(name="a.b")], history_samples=1000)
    for i in range(1000):
        cache.update("a.b", float(i), source_time=None, server_time=None, status_code=0, status="Good")
    history = cache._history["a.b"]
    used = sum(buf.itemsize * len(buf) for buf in (history.times, history.values, history.statuses))
    assert used == BYTES_PER_SAMPLE * 1000
    assert cache.samples_stored() == 1000
    cache.update("a.b", 5000.0, source_time=None, server_time=None, status_code=0, status="Good")
    assert cache.samples_stored() == 1000
    assert cache.history("a.b")["value"].iloc[-1] == 5000.0
    assert cache.history("a.b")["value"].iloc[0] == 1.0


def test_history_read_while_the_subscription_writes_is_one_consistent_sample_set() -> None:
    # The subscription thread appends while the co-pilot reads; a copy taken between the three arrays once gave
    # 148 values for 147 times and failed an answer.
    cache = LiveCache([TagInfo(name="a.b")], history_samples=400_000)
    stop = threading.Event()

    def subscription() -> None:
        i = 0
        while not stop.is_set():
            cache.update("a.b", float(i), source_time=None, server_time=None, status_code=0, status="Good")
            i += 1

    writer = threading.Thread(target=subscription)
    writer.start()
    try:
        for _ in range(12):
            frame = cache.history("a.b")
            assert len(frame["value"]) == len(frame.index)
    finally:
        stop.set()
        writer.join()
    assert cache.samples_stored() > 0
