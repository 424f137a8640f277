"""Errors raised by the line connector; asyncua's own exceptions never leave this package.

ConnectorError                  base of everything below
├── LineDefinitionError         a line definition file is missing or invalid (file, line and field named)
├── LineUnavailable             the OPC UA server cannot be reached, or the session was lost
│   └── SecurityRejected        the server refused our certificate, security mode or credentials, or could not
│                               prove it holds the key of the certificate it presents
├── ServerNotTrusted            secure mode met a server no person has confirmed; nothing was sent to it
│   └── ServerIdentityChanged   the server's certificate or application URI differs from the confirmed one
├── PasswordWithheld            a password would leave without SignAndEncrypt to a confirmed server
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


class ServerNotTrusted(ConnectorError):
    """Secure mode refuses a server whose certificate no person confirmed; the message shows how to confirm it.

    Not a LineUnavailable: retrying cannot help, only a person's decision can.
    """

    def __init__(self, message: str, *, endpoint: str, fingerprint: str, application_uri: str) -> None:
        super().__init__(message)
        self.endpoint = endpoint
        self.fingerprint = fingerprint
        self.application_uri = application_uri


class ServerIdentityChanged(ServerNotTrusted):
    """The server presents another certificate or application URI than the one a person confirmed."""

    def __init__(
        self, message: str, *, endpoint: str, fingerprint: str, application_uri: str, confirmed_fingerprint: str
    ) -> None:
        super().__init__(message, endpoint=endpoint, fingerprint=fingerprint, application_uri=application_uri)
        self.confirmed_fingerprint = confirmed_fingerprint


class PasswordWithheld(ConnectorError):
    """A password is configured for a session that is not SignAndEncrypt to a confirmed server; it is not sent."""


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
