"""The line over OPC UA: its definition, readings, the client, the live cache, known servers and the simulator."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from connectors.alarms import ActiveAlarm
    from connectors.display import clock_and_age, number, priority_mark, rounded
    from connectors.errors import (
        ConnectorError,
        LineDefinitionError,
        LineUnavailable,
        SecurityRejected,
        ServerNotTrusted,
    )
    from connectors.known_servers import KnownServers, Verdict
    from connectors.line import AlarmKind, LineDefinition, Tag, default_line_path, load_line
    from connectors.live_line import LiveLine
    from connectors.readings import Availability, Quality, Reading
    from connectors.security_mode import SecurityMode

# Imported on first use: pydantic's line models, asyncua and cryptography take from a tenth of a second to over a
# second, and a command that only needs an error class or a reading should not pay for the rest.
_LAZY = {
    "ActiveAlarm": "connectors.alarms",
    "AlarmKind": "connectors.line",
    "Availability": "connectors.readings",
    "ConnectorError": "connectors.errors",
    "KnownServers": "connectors.known_servers",
    "LineDefinition": "connectors.line",
    "LineDefinitionError": "connectors.errors",
    "LineUnavailable": "connectors.errors",
    "LiveLine": "connectors.live_line",
    "Quality": "connectors.readings",
    "Reading": "connectors.readings",
    "SecurityMode": "connectors.security_mode",
    "SecurityRejected": "connectors.errors",
    "ServerNotTrusted": "connectors.errors",
    "Tag": "connectors.line",
    "Verdict": "connectors.known_servers",
    "clock_and_age": "connectors.display",
    "default_line_path": "connectors.line",
    "number": "connectors.display",
    "priority_mark": "connectors.display",
    "rounded": "connectors.display",
    "load_line": "connectors.line",
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
    "clock_and_age",
    "default_line_path",
    "load_line",
    "number",
    "priority_mark",
    "rounded",
]
