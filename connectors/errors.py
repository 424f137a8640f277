"""Errors raised by the line connector; asyncua's own exceptions never leave this package.

ConnectorError                  base of everything below
├── LineDefinitionError         a line definition file is missing or invalid (file, line and field named)
├── LineUnavailable             the OPC UA server cannot be reached, or the session was lost
│   └── SecurityRejected        the server refused our certificate, security mode or credentials
├── TagNotFound                 a tag or node id is unknown to the line definition or to the server
├── WriteRefused                a write failed its pre-checks (not writable, wrong type, outside EURange)
│                               or the server answered with a bad status; nothing was changed
└── ReadBackMismatch            the write was accepted but the value read back differs
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of the connector's errors; its message is meant for a person at the line."""


class LineDefinitionError(ConnectorError):
    """The line definition file cannot be used as it is."""


class LineUnavailable(ConnectorError):
    """The OPC UA server is unreachable or the session to it was lost."""


class SecurityRejected(LineUnavailable):
    """The server refused the security policy, our certificate or the user's credentials."""


class TagNotFound(ConnectorError):
    """A tag name or node id is not known to the definition or the server."""


class WriteRefused(ConnectorError):
    """A write was refused before or by the server; the value on the line is unchanged."""

    def __init__(self, message: str, *, status: str | None = None) -> None:
        super().__init__(message)
        self.status = status


class ReadBackMismatch(ConnectorError):
    """A write was acknowledged but the value read back does not match what was written."""

    def __init__(self, message: str, *, written: object, read_back: object) -> None:
        super().__init__(message)
        self.written = written
        self.read_back = read_back
