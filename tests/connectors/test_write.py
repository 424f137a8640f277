"""The write primitive: pre-checks on what the server says of the node, the server's own refusal, read-back."""

from __future__ import annotations

import math

import pytest
from asyncua import Client, ua

from connectors.client import LineClient
from connectors.errors import LineUnavailable, TagNotFound, WriteRefused
from connectors.line import LineDefinition
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine
from tests.helpers import eventually


def a_setpoint(line: LineDefinition) -> str:
    return next(t.name for t in line.tags if t.writable and t.setpoint and t.setpoint.drives)


async def test_write_reads_back_and_moves_the_process(line: LineDefinition, sim: SimulatedLine) -> None:
    name = a_setpoint(line)
    tag = line.tag(name)
    assert tag.setpoint is not None
    driven = tag.setpoint.drives[0]
    async with LineClient(line, ConnectionOptions(endpoint=sim.endpoint), publishing_interval_ms=100) as client:
        await client.wait_available(10)
        current = (await client.read(name)).value
        assert isinstance(current, float)
        target = min(current + tag.setpoint.max_step, tag.setpoint.envelope.high)
        result = await client.write(name, target)
        assert result.read_back == pytest.approx(target)
        assert result.status == "Good"
        assert sim.process.values()[name] == pytest.approx(target)
        before = client.cache.reading(driven)
        assert before is not None
        assert isinstance(before.value, float)
        # The driven variable follows with lag toward the new setpoint.
        await eventually(
            lambda: (
                (r := client.cache.reading(driven)) is not None
                and isinstance(r.value, float)
                and abs(r.value - before.value) > 0.25 * abs(target - current)
            ),
            timeout_s=20,
            what=f"{driven} to follow {name}",
        )


@pytest.mark.parametrize(
    ("value", "why"),
    [(1e9, "outside the EURange"), (math.nan, "finite"), (True, "not a number"), ("12", "not a number")],
)
async def test_precheck_refuses_bad_values(
    line: LineDefinition, shared_server: SimulatedLine, value: object, why: str
) -> None:
    name = a_setpoint(line)
    async with LineClient(line, ConnectionOptions(endpoint=shared_server.endpoint)) as client:
        await client.wait_available(10)
        before = shared_server.process.values()[name]
        with pytest.raises(WriteRefused, match=why):
            await client.write(name, value)  # type: ignore[arg-type]
        assert shared_server.process.values()[name] == before


async def test_read_only_process_value_is_refused(line: LineDefinition, shared_server: SimulatedLine) -> None:
    pv = next(t.name for t in line.tags if t.setpoint is None and t.data_type.is_numeric)
    async with LineClient(line, ConnectionOptions(endpoint=shared_server.endpoint)) as client:
        await client.wait_available(10)
        with pytest.raises(WriteRefused, match="read-only") as caught:
            await client.write(pv, 1.0)
        assert caught.value.status == "NotWritable"


async def test_server_refuses_out_of_range_with_bad_out_of_range(line: LineDefinition, sim: SimulatedLine) -> None:
    # Straight through asyncua, skipping our pre-check, to prove the simulator itself guards its range.
    name = a_setpoint(line)
    tag = line.tag(name)
    assert tag.eu_range is not None
    async with Client(sim.endpoint) as raw:
        ns = await raw.get_namespace_index(tag.node.namespace_uri)
        node = raw.get_node(ua.NodeId(tag.node.identifier, ns))
        with pytest.raises(ua.uaerrors.BadOutOfRange):
            await node.write_value(ua.DataValue(ua.Variant(tag.eu_range.high + 1, ua.VariantType.Double)))
        with pytest.raises(ua.uaerrors.BadTypeMismatch):
            await node.write_value(ua.DataValue(ua.Variant(5, ua.VariantType.Int32)))


async def test_unknown_tag_and_unknown_node(line: LineDefinition, shared_server: SimulatedLine) -> None:
    name = a_setpoint(line)
    tag = line.tag(name)
    ghost = tag.model_copy(update={"node": tag.node.model_copy(update={"identifier": "Nowhere.Setpoint"})})
    odd = line.model_copy(update={"tags": [*[t for t in line.tags if t.name != name], ghost]})
    watched = next(t.name for t in line.tags if t.name != name)
    async with LineClient(odd, ConnectionOptions(endpoint=shared_server.endpoint), tags=[watched]) as client:
        await client.wait_available(10)
        with pytest.raises(TagNotFound):
            await client.write("filler.no_such_tag", 1.0)
        with pytest.raises(TagNotFound, match="does not exist"):
            await client.write(name, tag.setpoint.envelope.low if tag.setpoint else 0.0)


async def test_write_while_line_unavailable(line: LineDefinition, port: int) -> None:
    client = LineClient(line, ConnectionOptions(endpoint=f"opc.tcp://127.0.0.1:{port}/", timeout_s=0.5))
    async with client:
        with pytest.raises(LineUnavailable):
            await client.write(a_setpoint(line), 1.0)
