"""Browsing any OPC UA server for its variables, and drafting a line definition from what is found."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

import yaml
from asyncua import Client, Node, ua

from connectors import session as ua_session
from connectors.errors import LineDefinitionError
from connectors.line import DataType, LineDefinition, NodeAddress
from connectors.session import ConnectionOptions
from connectors.ua_types import DATA_TYPE_OF_NODE, address_of

_MAX_DEPTH = 8


@dataclass(frozen=True, kw_only=True)
class DiscoveredVariable:
    """A variable as the server describes it."""

    node_id: str  # portable nsu= form
    browse_path: str  # "Bottling Line 1/Filler/BowlLevel"
    data_type: str  # our DataType value, or the server's type name when we do not map it
    unit: str
    eu_low: float | None
    eu_high: float | None
    writable: bool
    description: str

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


async def discover(options: ConnectionOptions) -> list[DiscoveredVariable]:
    """Every variable below Objects outside namespace 0, depth-first in browse order."""
    async with ua_session.session(options) as client:
        namespaces = await client.get_namespace_array()
        found: list[DiscoveredVariable] = []
        objects = client.nodes.objects
        for child in await objects.get_children(refs=ua.ObjectIds.HierarchicalReferences):
            if child.nodeid.NamespaceIndex == 0:
                continue  # the server's own diagnostics object
            await _walk(client, child, [], namespaces, found, depth=0)
        return found


async def _walk(
    client: Client, node: Node, path: list[str], namespaces: list[str], found: list[DiscoveredVariable], depth: int
) -> None:
    if depth > _MAX_DEPTH:
        return
    name = (await node.read_browse_name()).Name
    node_class = await node.read_node_class()
    here = [*path, name]
    if node_class == ua.NodeClass.Variable:
        found.append(await _describe(node, here, namespaces))
        return  # properties of a variable (EURange, units) are read by _describe, not listed
    if node_class != ua.NodeClass.Object:
        return
    for child in await node.get_children(refs=ua.ObjectIds.HierarchicalReferences):
        await _walk(client, child, here, namespaces, found, depth + 1)


async def _describe(node: Node, path: list[str], namespaces: list[str]) -> DiscoveredVariable:
    attrs = await node.read_attributes(
        [ua.AttributeIds.DataType, ua.AttributeIds.AccessLevel, ua.AttributeIds.Description]
    )
    dtype_id = attrs[0].Value.Value if attrs[0].Value is not None else None
    data_type = "Unknown"
    if isinstance(dtype_id, ua.NodeId):
        mapped = DATA_TYPE_OF_NODE.get(dtype_id.Identifier) if dtype_id.NamespaceIndex == 0 else None
        data_type = mapped.value if mapped else str(dtype_id.to_string())
    access = attrs[1].Value.Value if attrs[1].Value is not None else 0
    description = attrs[2].Value.Value.Text if attrs[2].Value is not None and attrs[2].Value.Value else ""
    unit, low, high = "", None, None
    for prop in await node.get_properties():
        prop_name = (await prop.read_browse_name()).Name
        if prop_name == "EURange":
            rng = await prop.read_value()
            if rng is not None:
                low, high = float(rng.Low), float(rng.High)
        elif prop_name == "EngineeringUnits":
            info = await prop.read_value()
            if info is not None and info.DisplayName is not None:
                unit = info.DisplayName.Text or ""
    return DiscoveredVariable(
        node_id=str(address_of(node.nodeid, namespaces)),
        browse_path="/".join(path),
        data_type=data_type,
        unit=unit,
        eu_low=low,
        eu_high=high,
        writable=bool(access & ua.AccessLevel.CurrentWrite.mask),
        description=description or "",
    )


def _snake(text: str) -> str:
    text = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", text)
    text = re.sub(r"[^a-zA-Z0-9]+", "_", text).strip("_").lower()
    return text if text and text[0].isalpha() else f"x_{text}"


def draft_line(variables: list[DiscoveredVariable], *, line_id: str = "draft-line") -> str:
    """A line definition (YAML text) from discovery; nothing is writable until a person marks it so."""
    supported = [v for v in variables if v.data_type in {d.value for d in DataType}]
    namespace = NodeAddress.parse(supported[0].node_id).namespace_uri if supported else "urn:unknown"
    equipment: dict[str, str] = {}
    tags: list[dict[str, Any]] = []
    used: set[str] = set()
    for var in supported:
        parts = var.browse_path.split("/")
        parent = parts[-2] if len(parts) > 1 else "line"
        eq_id = _snake(parent)
        equipment.setdefault(eq_id, parent)
        name = f"{eq_id}.{_snake(parts[-1])}"
        while name in used:
            name += "_2"
        used.add(name)
        tag: dict[str, Any] = {
            "name": name,
            "node": var.node_id,
            "equipment": eq_id,
            "data_type": var.data_type,
            "unit": var.unit,
            "description": var.description,
        }
        numeric = var.data_type != DataType.BOOLEAN.value
        if numeric:
            low = var.eu_low if var.eu_low is not None else -1e9
            high = var.eu_high if var.eu_high is not None else 1e9
            tag["eu_range"] = [low, high]
            if var.writable and var.eu_low is not None and var.eu_high is not None:
                span = high - low
                # Conservative placeholders for a person to review; `writable: false` keeps the co-pilot off it.
                tag["setpoint"] = {
                    "writable": False,
                    "envelope": [low, high],
                    "max_step": round(span * 0.05, 6) or 1.0,
                    "approval_threshold": round(span * 0.02, 6),
                    "tolerance": round(span * 0.01, 6),
                }
        tags.append(tag)
    document = {
        "line": {"id": line_id, "name": "Draft line from discovery", "namespace_uri": namespace},
        "equipment": [{"id": k, "name": v} for k, v in equipment.items()],
        "tags": tags,
    }
    try:
        LineDefinition.model_validate(document)
    except ValueError as err:
        raise LineDefinitionError(f"the discovered variables do not make a valid line definition: {err}") from err
    header = (
        "# Draft line definition written by `copilot tags --draft-line`.\n"
        "# Review every tag: set normal bands, alarms and, for setpoints a person has approved for the co-pilot,\n"
        "# `writable: true` with a real envelope, max_step and approval_threshold. Nothing here is writable yet.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=110)
