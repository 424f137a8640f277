"""Discovery of any server's variables, and the draft line definition made from it."""

from __future__ import annotations

from pathlib import Path

from connectors.discovery import discover, draft_line
from connectors.line import LineDefinition, load_line
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine


async def test_discovers_every_tag_with_its_engineering_data(
    line: LineDefinition, shared_server: SimulatedLine
) -> None:
    found = {v.node_id: v for v in await discover(ConnectionOptions(endpoint=shared_server.endpoint))}
    for tag in line.tags:
        var = found[str(tag.node)]
        assert var.data_type == tag.data_type.value, tag.name
        assert var.description == tag.description
        assert var.writable == (tag.setpoint is not None and not tag.safety_critical), tag.name
        if tag.data_type.is_numeric:
            assert tag.eu_range is not None
            assert (var.eu_low, var.eu_high) == (tag.eu_range.low, tag.eu_range.high), tag.name
            assert var.unit == tag.unit, tag.name
        assert var.browse_path.startswith(line.line.name + "/")


async def test_draft_line_loads_and_nothing_is_writable(shared_server: SimulatedLine, tmp_path: Path) -> None:
    text = draft_line(await discover(ConnectionOptions(endpoint=shared_server.endpoint)))
    path = tmp_path / "draft.yaml"
    path.write_text(text, encoding="utf-8")
    draft = load_line(path)
    assert len(draft.tags) > 60
    assert not [t.name for t in draft.tags if t.writable]
    assert [t for t in draft.tags if t.setpoint is not None], "setpoints are drafted for review, not enabled"
    assert text.startswith("# Draft line definition")
