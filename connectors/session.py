"""Opening and closing one OPC UA session, with asyncua's errors translated into ours."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from asyncua import Client, ua
from asyncua.crypto.security_policies import SecurityPolicyBasic256Sha256
from asyncua.crypto.uacrypto import CertProperties

from connectors import known_servers
from connectors.errors import ConnectorError, LineUnavailable, PasswordWithheld, SecurityRejected
from connectors.known_servers import ConfirmedServer, KnownServers, PresentedServer
from connectors.security import ClientSecurity, SecurityMode, first_certificate

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


class _Client(Client):  # type: ignore[misc]  # asyncua is untyped here (see pyproject)
    """asyncua's client, noting whether the secure channel opened: a failure before it is the certificate's."""

    socket_opened = False
    channel_opened = False

    async def connect_socket(self) -> None:
        await super().connect_socket()
        self.socket_opened = True

    async def open_secure_channel(self, renew: bool = False) -> None:
        await super().open_secure_channel(renew)
        self.channel_opened = True


def _check_endpoint(endpoint: str) -> None:
    if not endpoint.startswith("opc.tcp://"):
        raise LineUnavailable(f"{endpoint!r} is not an OPC UA endpoint; it should look like opc.tcp://host:4840/")
    if "@" in urlsplit(endpoint).netloc:
        # asyncua would take a user and password from the URL and send them on whatever channel it opens.
        raise PasswordWithheld(
            f"{urlsplit(endpoint).hostname}: the endpoint carries credentials; give the user and password as "
            "settings (they go only over SignAndEncrypt to a confirmed server), never in the URL"
        )


async def presented_server(endpoint: str, *, timeout_s: float = 4.0) -> PresentedServer:
    """What the server says it is (certificate and application URI of its SignAndEncrypt endpoint).

    Asked over the unsecured discovery channel, as OPC UA intends: the question carries no credential, and the
    answer proves nothing until it is compared with what a person confirmed.
    """
    _check_endpoint(endpoint)
    client = Client(endpoint, timeout=timeout_s)
    try:
        offered = await asyncio.wait_for(client.connect_and_get_server_endpoints(), timeout=timeout_s * 2)
    except BaseException as err:
        client.disconnect_socket()
        if isinstance(err, asyncio.CancelledError):
            raise
        raise translate(err, endpoint) from err
    secure = [
        e
        for e in offered
        if e.SecurityMode == ua.MessageSecurityMode.SignAndEncrypt
        and e.SecurityPolicyUri == SecurityPolicyBasic256Sha256.URI
    ]
    if not secure:
        kinds = sorted({f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]} {e.SecurityMode.name.rstrip('_')}" for e in offered})
        raise SecurityRejected(
            f"{endpoint}: the server offers no Basic256Sha256 SignAndEncrypt endpoint (only {', '.join(kinds)}); "
            "nothing was sent to it"
        )
    chosen = next((e for e in secure if e.EndpointUrl == endpoint), secure[0])
    if not chosen.ServerCertificate:
        raise SecurityRejected(f"{endpoint}: the server's SignAndEncrypt endpoint presents no certificate")
    return PresentedServer.of(endpoint, first_certificate(chosen.ServerCertificate), chosen.Server.ApplicationUri or "")


async def confirmed_server(options: ConnectionOptions) -> ConfirmedServer:
    """The server at the endpoint, if it presents what a person confirmed (or the pinned file); else refused."""
    sec = options.security
    presented = await presented_server(options.endpoint, timeout_s=options.timeout_s)
    store = KnownServers(sec.known_servers) if sec.known_servers is not None else None
    return known_servers.confirm(presented, pin=sec.server_certificate, store=store)


async def open_session(options: ConnectionOptions) -> tuple[Client, ConfirmedServer | None]:
    """Open a session and say whom it is with (None without security); the caller must `disconnect` it.

    In secure mode nothing but the discovery question leaves before the server is confirmed, and the session
    is pinned to the confirmed certificate: the channel keys and the password are encrypted for that
    certificate's key, so a server that only replays the certificate can read neither.
    """
    endpoint = options.endpoint
    _check_endpoint(endpoint)
    sec = options.security
    confirmed: ConfirmedServer | None = None
    if sec.mode is SecurityMode.NONE:
        if sec.password:
            raise PasswordWithheld(
                f"{endpoint}: a password is configured but security is none; passwords go only over "
                "sign_encrypt to a confirmed server. Use sign_encrypt, or remove the password."
            )
    else:
        if sec.identity is None:
            raise SecurityRejected("SignAndEncrypt needs a client certificate and key")
        confirmed = await confirmed_server(options)
    client = _Client(endpoint, timeout=options.timeout_s, watchdog_intervall=options.watchdog_s)
    client.session_timeout = int(options.session_timeout_s * 1000)
    client.name = "line-copilot"
    client.description = "line-copilot connector"
    if sec.user:
        client.set_user(sec.user)
    if sec.password:
        client.set_password(sec.password)
    try:
        if confirmed is not None and sec.identity is not None:
            client.application_uri = sec.identity.app_uri
            # Read here, not by asyncua in a worker thread: a connection cancelled mid-read left the file open.
            await client.set_security(
                SecurityPolicyBasic256Sha256,
                CertProperties(sec.identity.certificate.read_bytes(), extension="der"),
                CertProperties(sec.identity.private_key.read_bytes(), extension="pem"),
                server_certificate=CertProperties(confirmed.certificate, extension="der"),
                mode=ua.MessageSecurityMode.SignAndEncrypt,
            )
        await asyncio.wait_for(client.connect(), timeout=options.timeout_s * 2)
    except BaseException as err:
        await _quiet_disconnect(client)
        if isinstance(err, asyncio.CancelledError):
            raise
        if confirmed is not None and _unproven(err, client):
            # Anyone can send an error status before the channel is open, so a refusal there proves nothing either.
            also = (
                f", or it refused our certificate ({_SECURITY_CODES[err.code]})"
                if isinstance(err, ua.UaStatusCodeError) and err.code in _SECURITY_CODES
                else ""
            )
            raise SecurityRejected(
                f"{endpoint}: the server did not complete the secure handshake for the confirmed certificate "
                f"{confirmed.fingerprint} ({_reason(err)}): it may not hold that certificate's private key, as "
                f"a server replaying the certificate would not{also}. Nothing was sent to it. Check with the "
                "plant's OT admin that the line's server is the one answering at this address."
            ) from err
        raise translate(err, endpoint) from err
    return client, confirmed


async def connect(options: ConnectionOptions) -> Client:
    """Open a session; the caller owns it and must `disconnect` it."""
    client, _ = await open_session(options)
    return client


def _unproven(err: BaseException, client: _Client) -> bool:
    """A failure that means the peer could not use the confirmed certificate's key, not an ordinary refusal."""
    if isinstance(err, ua.UaError) and "certificate mismatch" in str(err).lower():
        return True  # the session offered another certificate than the channel was opened for
    return client.socket_opened and not client.channel_opened


def _reason(err: BaseException) -> str:
    if isinstance(err, TimeoutError | asyncio.TimeoutError):
        return "no answer to the encrypted request"
    if isinstance(err, ua.UaStatusCodeError):
        return ua.StatusCode(err.code).name  # type: ignore[no-any-return]
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


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
