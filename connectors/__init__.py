"""The line over OPC UA: its definition, readings, the client, the live cache, known servers and the simulator."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from connectors.errors import (
    ConnectorError,
    LineDefinitionError,
    LineUnavailable,
    SecurityRejected,
    ServerNotTrusted,
)
from connectors.line import AlarmKind, LineDefinition, Tag, default_line_path, load_line
from connectors.readings import Availability, Quality, Reading

if TYPE_CHECKING:
    from connectors.alarms import ActiveAlarm
    from connectors.known_servers import KnownServers, Verdict
    from connectors.live_line import LiveLine
    from connectors.security import SecurityMode

# asyncua and cryptography take a second or more to import; a command that only reads the line file should not pay.
_LAZY = {
    "ActiveAlarm": "connectors.alarms",
    "KnownServers": "connectors.known_servers",
    "LiveLine": "connectors.live_line",
    "SecurityMode": "connectors.security",
    "Verdict": "connectors.known_servers",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'connectors' has no attribute {name!r}")
    return getattr(import_module(module), name)


__all__ = [
    "ActiveAlarm",
    "AlarmKind",
    "Availability",
    "ConnectorError",
    "KnownServers",
    "LineDefinition",
    "LineDefinitionError",
    "LineUnavailable",
    "LiveLine",
    "Quality",
    "Reading",
    "SecurityMode",
    "SecurityRejected",
    "ServerNotTrusted",
    "Tag",
    "Verdict",
    "default_line_path",
    "load_line",
]
