"""Mapping between our tag model and asyncua's types: data types, node ids, status codes, ranges."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

from asyncua import ua

from connectors.errors import TagNotFound
from connectors.line import DataType, NodeAddress

VARIANT_OF: dict[DataType, ua.VariantType] = {
    DataType.DOUBLE: ua.VariantType.Double,
    DataType.FLOAT: ua.VariantType.Float,
    DataType.INT32: ua.VariantType.Int32,
    DataType.UINT32: ua.VariantType.UInt32,
    DataType.INT64: ua.VariantType.Int64,
    DataType.BOOLEAN: ua.VariantType.Boolean,
}

# The reverse, by the standard DataType node ids (namespace 0) a server reports for a variable.
DATA_TYPE_OF_NODE: dict[int, DataType] = {
    ua.ObjectIds.Double: DataType.DOUBLE,
    ua.ObjectIds.Float: DataType.FLOAT,
    ua.ObjectIds.Int32: DataType.INT32,
    ua.ObjectIds.UInt32: DataType.UINT32,
    ua.ObjectIds.Int64: DataType.INT64,
    ua.ObjectIds.Boolean: DataType.BOOLEAN,
}

DATA_TYPE_NODE: dict[DataType, int] = {dt: node for node, dt in DATA_TYPE_OF_NODE.items()}

_INT_LIMITS = {
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
    DataType.INT64: (-(2**63), 2**63 - 1),
}


def node_id(address: NodeAddress, namespaces: list[str]) -> ua.NodeId:
    """Resolve `nsu=...` to the index this particular server gave the namespace."""
    try:
        index = namespaces.index(address.namespace_uri)
    except ValueError as err:
        raise TagNotFound(
            f"the server has no namespace {address.namespace_uri!r} (it has: {', '.join(namespaces)})"
        ) from err
    return ua.NodeId(address.identifier, index)


def address_of(nodeid: ua.NodeId, namespaces: list[str]) -> NodeAddress:
    """The portable `nsu=` form of a node id read from a server."""
    uri = namespaces[nodeid.NamespaceIndex] if nodeid.NamespaceIndex < len(namespaces) else ""
    identifier = nodeid.Identifier
    if not isinstance(identifier, int | str):
        identifier = str(identifier)  # GUID and opaque ids keep their text form
    return NodeAddress(namespace_uri=uri, identifier=identifier)


def coerce(value: Any, data_type: DataType) -> float | int | bool:
    """Turn a requested value into what the tag's data type holds; refuse what would silently change it."""
    if data_type is DataType.BOOLEAN:
        if isinstance(value, bool):
            return value
        raise TypeError(f"{value!r} is not a Boolean")
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"{value!r} is not a number")
    if not math.isfinite(value):
        raise TypeError(f"{value!r} is not a finite number")
    if data_type.is_integer:
        if isinstance(value, float) and not value.is_integer():
            raise TypeError(f"{value!r} is not a whole number, and the tag holds {data_type.value}")
        low, high = _INT_LIMITS[data_type]
        if not low <= int(value) <= high:
            raise TypeError(f"{value!r} does not fit in {data_type.value}")
        return int(value)
    return float(value)


def variant(value: float | int | bool, data_type: DataType) -> ua.Variant:
    return ua.Variant(value, VARIANT_OF[data_type])


def status_name(code: ua.StatusCode | None) -> str:
    if code is None:
        return "Good"
    return str(code.name)


def status_value(code: ua.StatusCode | None) -> int:
    return 0 if code is None else int(code.value)


def utc(stamp: datetime | None) -> datetime | None:
    """asyncua hands out naive UTC datetimes in places; make every timestamp aware."""
    if stamp is None:
        return None
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def data_value(value: float | int | bool, data_type: DataType, when: datetime) -> ua.DataValue:
    return ua.DataValue(variant(value, data_type), SourceTimestamp=when, ServerTimestamp=when)
