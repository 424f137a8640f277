"""Rogue-server cases: impostor OPC UA servers on loopback try to get the line's password; each must get nothing.

Real impostors (connectors.simulator.impostor) record every user token they receive; the client connects to them
exactly as the co-pilot does. A case is blocked when the connection is refused with the expected error, the message
says what a person needs (the fingerprints, the pinned file, what to do) and never the password, and the impostor
recorded no credential. A control proves the recorder first: an impostor that a person confirmed without comparing
does receive the password.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from connectors import security
from connectors.errors import (
    ConnectorError,
    PasswordWithheld,
    SecurityRejected,
    ServerIdentityChanged,
    ServerNotTrusted,
)
from connectors.known_servers import KnownServers, PresentedServer
from connectors.security import ClientSecurity, Identity, SecurityMode
from connectors.session import ConnectionOptions, connect, disconnect, presented_server
from connectors.simulator.impostor import ImpostorOptions, ImpostorServer
from connectors.simulator.thread import free_port

SECRET = "the-line-password-1"  # what every impostor is after
_TIMEOUT_S = 1.5  # the replaying impostor never answers the encrypted request: keep its case short


@dataclass(frozen=True, kw_only=True)
class RogueCase:
    name: str
    blocked: bool
    detail: str
    credentials_sent: int  # user tokens the impostor received; must be 0


@dataclass(frozen=True, kw_only=True)
class RogueReport:
    cases: list[RogueCase] = field(default_factory=list)
    control_passwords: int = 0  # what the wrongly confirmed impostor received: 1, or the cases prove nothing

    @property
    def credentials_sent(self) -> int:
        return sum(c.credentials_sent for c in self.cases)


@dataclass(frozen=True, kw_only=True)
class _Client:
    """The co-pilot's side of one case: its certificate and a store of confirmed servers of its own."""

    identity: Identity
    store: Path


Check = Callable[[ConnectorError | None], str]  # "" when the refusal is the right one, else what is wrong
Options = Callable[[_Client, str], ConnectionOptions]  # the client's settings for the impostor's endpoint


@dataclass(frozen=True, kw_only=True)
class _Case:
    name: str
    impostor: str  # which of the running impostors answers
    options: Options
    check: Check
    genuine_confirmed: bool  # the store holds the genuine server's identity at the impostor's endpoint


def _identity(folder: Path, *, common_name: str, app_uri: str) -> Identity:
    return security.create_identity(
        folder, app_uri=app_uri, common_name=common_name, organization="line-copilot", server=True
    )


def _client(identity: Identity, folder: Path) -> _Client:
    return _Client(identity=identity, store=security.pki_dir(folder, "client"))


def _secure(client: _Client, endpoint: str, **changes: object) -> ConnectionOptions:
    """SignAndEncrypt with a user and password and the client's store, as `COPILOT_SECURITY=sign_encrypt` gives."""
    settings: dict[str, object] = {
        "mode": SecurityMode.SIGN_AND_ENCRYPT,
        "identity": client.identity,
        "user": "copilot",
        "password": SECRET,
        "known_servers": client.store,
        **changes,
    }
    return ConnectionOptions(endpoint=endpoint, timeout_s=_TIMEOUT_S, security=ClientSecurity(**settings))  # type: ignore[arg-type]


async def _attempt(options: ConnectionOptions) -> ConnectorError | None:
    """Connect as the co-pilot would; the error that refused it, or None when it got in."""
    try:
        client = await connect(options)
    except ConnectorError as err:
        return err
    await disconnect(client)
    return None


def _expect(kind: type[ConnectorError], *needles: str) -> Check:
    def check(err: ConnectorError | None) -> str:
        if err is None:
            return "the connection was accepted"
        if SECRET in str(err):
            return "the message shows the password"
        if not isinstance(err, kind):
            return f"refused as {type(err).__name__}, expected {kind.__name__}: {err}"
        missing = [n for n in needles if n not in str(err)]
        return f"the message lacks {missing}" if missing else ""

    return check


def _impostors(folder: Path, genuine: Identity) -> dict[str, ImpostorOptions]:
    """The impostors the cases share (each start costs seconds): who they claim to be, on free loopback ports."""
    own = _identity(folder / "self-signed", common_name="rogue", app_uri="urn:rogue")
    twin = _identity(folder / "twin", common_name="line-copilot server", app_uri=security.SERVER_APP_URI)

    def serve(identity: Identity | None, *, uri: str, cert: Path | None = None) -> ImpostorOptions:
        return ImpostorOptions(
            port=free_port(),
            certificate=cert or (identity.certificate if identity else None),
            private_key=identity.private_key if identity else None,
            application_uri=uri,
            secure=identity is not None,
        )

    return {
        "self-signed": serve(own, uri="urn:rogue"),
        "twin": serve(twin, uri=security.SERVER_APP_URI),
        "other URI": serve(own, uri="urn:line-copilot:simulator-2", cert=genuine.certificate),
        "replay": serve(own, uri=security.SERVER_APP_URI, cert=genuine.certificate),
        "no security": serve(None, uri=security.SERVER_APP_URI),
    }


def _cases(genuine_fp: str, fingerprints: dict[str, str], pin: Path) -> list[_Case]:
    changed = ServerIdentityChanged
    own_fp, twin_fp = fingerprints["self-signed"], fingerprints["twin"]
    insecure: dict[str, object] = {"mode": SecurityMode.NONE, "identity": None, "known_servers": None}
    in_url = {**insecure, "password": None}
    return [
        _Case(
            name="self-signed impostor at a confirmed endpoint",
            impostor="self-signed",
            options=lambda c, ep: _secure(c, ep),
            check=_expect(changed, genuine_fp, own_fp, "its certificate", "servers forget"),
            genuine_confirmed=True,
        ),
        _Case(
            name="impostor with the genuine subject and URI but its own key",
            impostor="twin",
            options=lambda c, ep: _secure(c, ep),
            check=_expect(changed, genuine_fp, twin_fp, "its certificate"),
            genuine_confirmed=True,
        ),
        _Case(
            name="the genuine certificate with a changed application URI",
            impostor="other URI",
            options=lambda c, ep: _secure(c, ep),
            check=_expect(changed, "its application URI", "urn:line-copilot:simulator-2"),
            genuine_confirmed=True,
        ),
        _Case(
            name="unknown server never confirmed",
            impostor="self-signed",
            options=lambda c, ep: _secure(c, ep),
            check=_expect(ServerNotTrusted, own_fp, "urn:rogue", "copilot servers trust"),
            genuine_confirmed=False,
        ),
        _Case(
            name="the genuine certificate and URI replayed without its key",
            impostor="replay",
            options=lambda c, ep: _secure(c, ep),
            check=_expect(SecurityRejected, genuine_fp, "private key"),
            genuine_confirmed=True,
        ),
        _Case(
            name="impostor at an endpoint pinned by COPILOT_SERVER_CERTIFICATE",
            impostor="self-signed",
            options=lambda c, ep: _secure(c, ep, server_certificate=pin, known_servers=None),
            check=_expect(changed, "PINNED CERTIFICATE", str(pin), own_fp),
            genuine_confirmed=False,
        ),
        _Case(
            name="confirmed endpoint downgraded to no security",
            impostor="no security",
            options=lambda c, ep: _secure(c, ep),
            check=_expect(SecurityRejected, "no Basic256Sha256 SignAndEncrypt endpoint"),
            genuine_confirmed=True,
        ),
        _Case(
            name="a password configured with security none",
            impostor="no security",
            options=lambda c, ep: _secure(c, ep, **insecure),
            check=_expect(PasswordWithheld, "sign_encrypt"),
            genuine_confirmed=False,
        ),
        _Case(
            name="a user and password in the endpoint URL",
            impostor="no security",
            options=lambda c, ep: _secure(c, ep.replace("opc.tcp://", f"opc.tcp://copilot:{SECRET}@"), **in_url),
            check=_expect(PasswordWithheld, "in the URL"),
            genuine_confirmed=False,
        ),
    ]


async def _run(case: _Case, client: _Client, rogue: ImpostorServer, genuine: Identity) -> RogueCase:
    if case.genuine_confirmed:
        # As `copilot servers trust` records it after a person compared the genuine server's fingerprint.
        seen = PresentedServer.of(rogue.endpoint, genuine.certificate.read_bytes(), security.SERVER_APP_URI)
        KnownServers(client.store).add(seen, by="ada (admin)", at=datetime.now(UTC))
    before = len(rogue.credentials)
    err = await _attempt(case.options(client, rogue.endpoint))
    sent = len(rogue.credentials) - before
    wrong = case.check(err)
    first = str(err).splitlines()[0] if err else "accepted"
    detail = f"{sent} credential(s) sent; {wrong or first}"[:300]
    return RogueCase(name=case.name, blocked=not wrong and sent == 0, detail=detail, credentials_sent=sent)


async def rogue_cases(data_dir: Path) -> RogueReport:
    """Every case against five impostors started together; `data_dir` is a scratch folder this fills."""
    genuine = _identity(data_dir / "genuine", common_name="line-copilot server", app_uri=security.SERVER_APP_URI)
    pin = data_dir / "pinned-server.der"
    pin.write_bytes(genuine.certificate.read_bytes())
    specs = _impostors(data_dir / "impostors", genuine)
    servers = {name: ImpostorServer(spec) for name, spec in specs.items()}
    await asyncio.gather(*(server.start() for server in servers.values()))
    try:
        # The control: a person who confirms the impostor without comparing hands it the password.
        identity = security.own_identity(data_dir / "client", "client")
        control, rogue = _client(identity, data_dir / "control"), servers["self-signed"]
        KnownServers(control.store).add(await presented_server(rogue.endpoint), by="someone who did not compare")
        await _attempt(_secure(control, rogue.endpoint))
        received = len(rogue.passwords)
        fingerprints = {
            name: security.fingerprint(spec.certificate.read_bytes())
            for name, spec in specs.items()
            if spec.certificate is not None
        }
        genuine_fp = security.fingerprint(genuine.certificate.read_bytes())
        results = [
            await _run(case, _client(identity, data_dir / f"case-{number}"), servers[case.impostor], genuine)
            for number, case in enumerate(_cases(genuine_fp, fingerprints, pin))
        ]
    finally:
        await asyncio.gather(*(server.stop() for server in servers.values()))
    return RogueReport(cases=results, control_passwords=received)


def rogue_server_cases(data_dir: Path) -> list[tuple[str, bool, str]]:
    """(name, blocked, detail) per case, for the safety suite; raises when the control fails (nothing is proven)."""
    report = asyncio.run(rogue_cases(data_dir))
    if report.control_passwords != 1:
        raise RuntimeError(
            f"a wrongly confirmed impostor got {report.control_passwords} passwords, not 1: the cases prove nothing"
        )
    return [(case.name, case.blocked, case.detail) for case in report.cases]
