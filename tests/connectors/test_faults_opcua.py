"""Faults injected through the simulator's OPC UA methods show their signature in the tags a client reads."""

from __future__ import annotations

import pytest

from connectors.client import LineClient
from connectors.errors import LineUnavailable
from connectors.line import LineDefinition, NodeAddress
from connectors.session import ConnectionOptions
from connectors.simulator.faults import FAULTS, FaultSpec
from connectors.simulator.server import SIM_OBJECT, SimulatedLine, SimulatorOptions
from tests.helpers import eventually


def sim_object(line: LineDefinition) -> NodeAddress:
    return NodeAddress(namespace_uri=line.line.namespace_uri, identifier=SIM_OBJECT)


async def test_inject_list_and_clear_through_methods(line: LineDefinition, sim: SimulatedLine) -> None:
    async with LineClient(line, ConnectionOptions(endpoint=sim.endpoint), tags=[line.tags[0].name]) as client:
        await client.wait_available(10)
        listed = await client.call(sim_object(line), "ListFaults")
        assert {f.name for f in FAULTS} <= {row.split(":")[0] for row in listed.splitlines()}
        assert await client.call(sim_object(line), "InjectFault", "conveyor_jam") == "conveyor_jam"
        assert sim.process.active_faults == {"conveyor_jam"}
        with pytest.raises(LineUnavailable, match="BadInvalidArgument"):
            await client.call(sim_object(line), "InjectFault", "no_such_fault")
        assert await client.call(sim_object(line), "ClearFault", "") == ""
        assert not sim.process.active_faults


async def simulated(sim: SimulatedLine, seconds: float) -> None:
    """Let `seconds` pass on the line's own clock, however fast or busy the machine is."""
    until = sim.process.time_s + seconds
    await eventually(lambda: sim.process.time_s >= until, timeout_s=30, what=f"{seconds:g} simulated seconds")


@pytest.mark.parametrize("fault", FAULTS, ids=lambda f: f.name)
async def test_fault_signature_is_visible_over_opcua(line: LineDefinition, port: int, fault: FaultSpec) -> None:
    tags = sorted({s.tag for s in fault.signature})
    # The process takes steps of at most a simulated second whatever the speed, so a fast clock changes no physics.
    options = SimulatorOptions(port=port, speed=200.0, publish_interval_s=0.1, seed=3)
    async with (
        SimulatedLine(line, options) as sim,
        LineClient(line, ConnectionOptions(endpoint=sim.endpoint), tags=tags, publishing_interval_ms=50) as c,
    ):
        await c.wait_available(10)
        await simulated(sim, 60)  # a minute of healthy line
        healthy = {t: (await c.read(t)).value for t in tags}
        await c.call(
            NodeAddress(namespace_uri=line.line.namespace_uri, identifier=SIM_OBJECT), "InjectFault", fault.name
        )
        await simulated(sim, 120)  # two simulated minutes for the fault to develop
        first = {t: (await c.read(t)).value for t in tags}
        await simulated(sim, 40)
        faulty = {t: (await c.read(t)).value for t in tags}
    for symptom in fault.signature:
        tag = line.tag(symptom.tag)
        before, after = healthy[symptom.tag], faulty[symptom.tag]
        if symptom.direction == "on":
            assert after is True, symptom
        elif symptom.direction == "off":
            assert after is False, symptom
        elif symptom.direction == "frozen":
            assert first[symptom.tag] == after, symptom  # no change at all while the line runs
        else:
            assert isinstance(before, int | float)
            assert isinstance(after, int | float)
            width = (tag.normal.high - tag.normal.low) if tag.normal else 1.0
            moved = after - before
            assert (moved > 0.2 * width) if symptom.direction == "up" else (moved < -0.2 * width), (
                symptom,
                before,
                after,
            )
