"""Opening and closing one OPC UA session, with asyncua's errors translated into ours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256

from connectors.errors import ConnectorError, LineUnavailable, SecurityRejected
from connectors.security import ClientSecurity, SecurityMode

log = logging.getLogger(__name__)

# Status codes that mean "your credentials or certificate were refused", not "the server is away".
_SECURITY_CODES = {
    ua.StatusCodes.BadUserAccessDenied: "the server refused the user name or password",
    ua.StatusCodes.BadIdentityTokenInvalid: "the server refused the user name or password",
    ua.StatusCodes.BadIdentityTokenRejected: "the server refused the user name or password",
    ua.StatusCodes.BadCertificateUntrusted: "the server does not trust our certificate; copy it to its trust list",
    ua.StatusCodes.BadCertificateInvalid: "the server found our certificate invalid",
    ua.StatusCodes.BadSecurityChecksFailed: "the security handshake failed (certificate not trusted or wrong keys)",
    ua.StatusCodes.BadSecurityPolicyRejected: "the server does not offer this security policy",
    ua.StatusCodes.BadSecurityModeRejected: "the server does not offer this security mode",
}


@dataclass(frozen=True, kw_only=True)
class ConnectionOptions:
    """Where the line is and how to talk to it."""

    endpoint: str
    security: ClientSecurity = field(default_factory=ClientSecurity)
    timeout_s: float = 4.0
    session_timeout_s: float = 30.0  # a dead session of ours is dropped by the server after this
    # How often a silent connection is probed. A closed socket is noticed at once; the probe is for half-dead
    # links. At 1 s a busy server (5k+ tags) missed the probe and sessions were dropped for nothing.
    watchdog_s: float = 5.0


def translate(err: BaseException, endpoint: str) -> ConnectorError:
    """asyncua, socket and timeout errors become one of ours, phrased for the person who must act."""
    if isinstance(err, ConnectorError):
        return err
    if isinstance(err, ua.UaStatusCodeError):
        code = err.code
        if code in _SECURITY_CODES:
            return SecurityRejected(f"{endpoint}: {_SECURITY_CODES[code]} ({ua.StatusCode(code).name})")
        return LineUnavailable(f"{endpoint}: the server answered {ua.StatusCode(code).name}")
    if isinstance(err, TimeoutError | asyncio.TimeoutError):
        return LineUnavailable(f"{endpoint}: no answer in time; check the endpoint and the network")
    if isinstance(err, ConnectionRefusedError):
        return LineUnavailable(f"{endpoint}: connection refused; is the OPC UA server running on that port?")
    if isinstance(err, OSError):
        return LineUnavailable(f"{endpoint}: cannot connect ({err.strerror or err})")
    if isinstance(err, ValueError) and "endpoint" in str(err).lower():
        return SecurityRejected(f"{endpoint}: the server offers no endpoint for this security setting ({err})")
    return LineUnavailable(f"{endpoint}: {type(err).__name__}: {err}")


async def connect(options: ConnectionOptions) -> Client:
    """Open a session; the caller owns it and must `disconnect` it."""
    endpoint = options.endpoint
    if not endpoint.startswith("opc.tcp://"):
        raise LineUnavailable(f"{endpoint!r} is not an OPC UA endpoint; it should look like opc.tcp://host:4840/")
    client = Client(endpoint, timeout=options.timeout_s, watchdog_intervall=options.watchdog_s)
    client.session_timeout = int(options.session_timeout_s * 1000)
    client.name = "line-copilot"
    client.description = "line-copilot connector"
    sec = options.security
    if sec.user:
        client.set_user(sec.user)
    if sec.password:
        client.set_password(sec.password)
    try:
        if sec.mode is SecurityMode.SIGN_AND_ENCRYPT:
            if sec.identity is None:
                raise SecurityRejected("SignAndEncrypt needs a client certificate and key")
            client.application_uri = sec.identity.app_uri
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                str(sec.identity.certificate),
                str(sec.identity.private_key),
                server_certificate=str(sec.server_certificate) if sec.server_certificate else None,
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
        await asyncio.wait_for(client.connect(), timeout=options.timeout_s * 2)
    except BaseException as err:
        await _quiet_disconnect(client)
        if isinstance(err, asyncio.CancelledError):
            raise
        raise translate(err, endpoint) from err
    return client


async def disconnect(client: Client) -> None:
    await _quiet_disconnect(client)


async def _quiet_disconnect(client: Client) -> None:
    # Closing a session to a server that is already gone raises; nothing can be done about it then.
    try:
        await asyncio.wait_for(client.disconnect(), timeout=2.0)
    except Exception as err:
        log.debug("disconnect from %s: %r", client.server_url.geturl(), err)


@asynccontextmanager
async def session(options: ConnectionOptions) -> AsyncIterator[Client]:
    """A short-lived session for one-off commands (discovery, a method call)."""
    client = await connect(options)
    try:
        yield client
    except ua.UaStatusCodeError as err:
        raise translate(err, options.endpoint) from err
    except (OSError, TimeoutError) as err:
        raise translate(err, options.endpoint) from err
    finally:
        await disconnect(client)
