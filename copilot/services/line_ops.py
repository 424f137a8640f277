"""The work behind the line commands (simulate, discover, watch, faults, confirmed servers), for the CLI and console."""

from __future__ import annotations

import asyncio
import json
import signal
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Every connector import is inside the function that needs it: `copilot fault list` and `--help` load this module
# and should not pay for asyncua and cryptography, which only connecting, serving or trusting a server needs.
if TYPE_CHECKING:
    from connectors.discovery import DiscoveredVariable
    from connectors.known_servers import KnownServer, KnownServers, PresentedServer, Verdict
    from connectors.line import LineDefinition, Tag
    from connectors.readings import Reading
    from connectors.security import ClientSecurity
    from connectors.session import ConnectionOptions
    from connectors.simulator.faults import FaultSpec
    from connectors.simulator.server import SimulatorOptions
    from copilot.settings import Settings


@dataclass(frozen=True, kw_only=True)
class SimStarted:
    endpoint: str
    secure: bool
    user: str | None
    password: str | None
    tags: int
    fingerprint: str | None = None  # of the server certificate in secure mode, for a person to compare
    application_uri: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServerReport:
    """What a server presents now beside what a person confirmed for its endpoint."""

    presented: PresentedServer
    verdict: Verdict
    known: KnownServer | None


def client_security(settings: Settings) -> ClientSecurity:
    """The connector's security from configuration; secure mode uses the data directory's client certificate.

    Synchronous (the certificate is made without an event loop), so any code can call it, inside a loop or not.
    """
    from connectors import security
    from connectors.security import ClientSecurity, SecurityMode

    password = settings.opcua_password.get_secret_value() if settings.opcua_password else None
    if settings.security is SecurityMode.NONE:
        # A password here is refused by the connector when it connects: it goes only over sign_encrypt.
        return ClientSecurity(user=settings.opcua_user, password=password)
    data_dir = settings.ensure_data_dir()
    return ClientSecurity(
        mode=settings.security,
        identity=security.own_identity(data_dir, "client"),
        user=settings.opcua_user,
        password=password,
        server_certificate=settings.server_certificate,
        known_servers=known_servers_dir(settings),
    )


def known_servers_dir(settings: Settings) -> Path:
    from connectors import security

    return security.pki_dir(settings.ensure_data_dir(), "client")


def connection(settings: Settings) -> ConnectionOptions:
    from connectors.session import ConnectionOptions

    return ConnectionOptions(endpoint=settings.endpoint, security=client_security(settings))


def _stop_on_signals() -> asyncio.Event:
    """An event set by Ctrl-C or SIGTERM, so servers stop cleanly instead of dying mid-write."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def run_simulator(line_path: Path, options: SimulatorOptions, on_started: Callable[[SimStarted], None]) -> None:
    """Serve the simulated line until SIGINT or SIGTERM."""
    from connectors import security
    from connectors.line import load_line
    from connectors.simulator.server import SimulatedLine

    line = load_line(line_path)

    async def main() -> None:
        stop = _stop_on_signals()
        async with SimulatedLine(line, options) as sim:
            facts = None
            if options.secure and options.data_dir is not None:
                own = security.own_identity(options.data_dir, "server")  # the one the simulator just loaded
                facts = security.certificate_facts(own.certificate.read_bytes())
            on_started(
                SimStarted(
                    endpoint=sim.endpoint,
                    secure=options.secure,
                    user=options.user if options.secure else None,
                    password=sim.password if options.secure else None,
                    tags=len(line.tags) + options.synthetic_tags,
                    fingerprint=facts.fingerprint if facts else None,
                    application_uri=security.SERVER_APP_URI if facts else None,
                )
            )
            await stop.wait()

    asyncio.run(main())


def fault_catalogue() -> tuple[FaultSpec, ...]:
    from connectors.simulator.faults import FAULTS

    return FAULTS


def change_fault(settings: Settings, action: str, name: str | None) -> list[str]:
    """Inject or clear a fault on a running simulator through its OPC UA methods; returns the active faults."""
    from connectors.client import LineClient
    from connectors.line import NodeAddress, load_line
    from connectors.simulator.faults import FAULTS, UnknownFault
    from connectors.simulator.server import SIM_OBJECT

    if action == "inject" and name not in {f.name for f in FAULTS}:
        raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(f.name for f in FAULTS)}")
    line = load_line(settings.line)
    method = "InjectFault" if action == "inject" else "ClearFault"

    async def main() -> str:
        async with LineClient(line, connection(settings), tags=[line.tags[0].name]) as client:
            await client.wait_available(10.0)
            target = NodeAddress(namespace_uri=line.line.namespace_uri, identifier=SIM_OBJECT)
            return str(await client.call(target, method, name or ""))

    result = asyncio.run(main())
    return [f for f in result.split(",") if f]


def discover_tags(settings: Settings) -> list[DiscoveredVariable]:
    from connectors.discovery import discover

    return asyncio.run(discover(connection(settings)))


def draft_line_text(settings: Settings) -> str:
    from connectors.discovery import draft_line

    return draft_line(discover_tags(settings))


def reading_json(reading: Reading) -> dict[str, Any]:
    return {
        "tag": reading.tag,
        "value": reading.value,
        "unit": reading.unit,
        "source_time": reading.source_time.isoformat() if reading.source_time else None,
        "server_time": reading.server_time.isoformat() if reading.server_time else None,
        "status": reading.status,
        "quality": reading.quality.value,
    }


def watch(
    settings: Settings,
    tags: list[str],
    *,
    interval_s: float,
    count: int | None,
    emit: Callable[[list[Reading], str], None],
) -> None:
    """Print the watched tags every `interval_s` until Ctrl-C or `count` rounds; outages are shown, not fatal."""
    from connectors.client import LineClient
    from connectors.errors import ConnectorError

    line = _watch_line(settings)
    unknown = [t for t in tags if t not in {tag.name for tag in line.tags}]
    if unknown:
        raise ConnectorError(f"unknown tag(s) {', '.join(unknown)}; `copilot tags` lists the line's tags")

    async def main() -> None:
        async with LineClient(
            line,
            connection(settings),
            tags=tags or None,
            history_samples=settings.history_samples,
            publishing_interval_ms=settings.publishing_interval_ms,
        ) as client:
            # The first connection gets a fair chance; afterwards outages are reported as data.
            await client.wait_available(10.0)
            rounds = 0
            while count is None or rounds < count:
                await asyncio.sleep(interval_s)
                readings = [r for r in client.cache.readings().values() if r is not None]
                emit(readings, client.cache.availability.value)
                rounds += 1

    with suppress(KeyboardInterrupt):
        asyncio.run(main())


def _watch_line(settings: Settings) -> LineDefinition:
    from connectors.line import load_line

    return load_line(settings.line)


def json_lines(readings: list[Reading]) -> Iterator[str]:
    stamp = datetime.now(UTC).isoformat()
    for reading in readings:
        yield json.dumps({**reading_json(reading), "printed_at": stamp})


def format_value(reading: Reading, tag: Tag | None = None) -> str:
    """A value as a person reads it on a panel: sensible precision, booleans as words."""
    from connectors.display import number

    if tag is not None:
        return number(reading.value, tag.unit, tag.resolution)
    return number(reading.value, reading.unit)


def _store(settings: Settings) -> KnownServers:
    from connectors.known_servers import KnownServers

    return KnownServers(known_servers_dir(settings))


def server_report(settings: Settings, endpoint: str | None = None) -> ServerReport:
    """Ask the server at `endpoint` (default: the configured one) what it is, and compare with the store.

    Only the discovery question is sent, with no credential, whatever the security setting.
    """
    from connectors.known_servers import endpoint_url
    from connectors.session import presented_server

    url = endpoint_url(endpoint) if endpoint else settings.endpoint
    presented = asyncio.run(presented_server(url))
    verdict, known = _store(settings).verdict(presented)
    return ServerReport(presented=presented, verdict=verdict, known=known)


def trust_server(settings: Settings, presented: PresentedServer, *, by: str, fingerprint: str | None) -> KnownServer:
    """Record the identity a person saw and confirmed; `fingerprint`, when given, must be exactly what it presents.

    What is recorded is what was shown (not a fresh look that could differ from it).
    """
    from connectors.errors import ConnectorError
    from connectors.security import normalize_fingerprint

    if fingerprint is not None:
        expected = normalize_fingerprint(fingerprint)
        if expected is None:
            raise ConnectorError(f"{fingerprint!r} is not a SHA-256 fingerprint (SHA256:AB:CD:... , 32 bytes)")
        if expected != presented.fingerprint:
            raise ConnectorError(
                f"{presented.key} presents {presented.fingerprint}, not the expected {expected}; nothing was recorded"
            )
    return _store(settings).add(presented, by=by)


def known_server_list(settings: Settings) -> list[KnownServer]:
    return _store(settings).all()


def forget_server(settings: Settings, endpoint: str) -> bool:
    """Forget a confirmed server; its next connection is refused until someone confirms it again."""
    from connectors.known_servers import endpoint_key

    return _store(settings).forget(endpoint_key(endpoint))
