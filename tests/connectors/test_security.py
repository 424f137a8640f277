"""Secure mode: Basic256Sha256 SignAndEncrypt to a confirmed server, trusted certificates, a user name and password."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest

from connectors import security
from connectors.client import LineClient
from connectors.discovery import discover
from connectors.errors import (
    LineUnavailable,
    PasswordWithheld,
    SecurityRejected,
    ServerIdentityChanged,
    ServerNotTrusted,
)
from connectors.known_servers import KnownServers
from connectors.line import LineDefinition
from connectors.security import ClientSecurity, SecurityMode
from connectors.session import ConnectionOptions, presented_server
from connectors.simulator.server import SimulatedLine, SimulatorOptions

pytestmark = pytest.mark.slow
PASSWORD = "s3cret-pass"


@pytest.fixture
async def secure_sim(line: LineDefinition, port: int, tmp_path: Path) -> AsyncIterator[SimulatedLine]:
    options = SimulatorOptions(port=port, secure=True, data_dir=tmp_path / "data", password=PASSWORD)
    async with SimulatedLine(line, options) as server:
        yield server


async def secure_options(
    sim: SimulatedLine, data_dir: Path, password: str, *, confirmed: bool = True
) -> ConnectionOptions:
    """The co-pilot's options from `data_dir`; with `confirmed`, a person has confirmed the simulator there."""
    identity = await security.ensure_identity(data_dir, "client")
    store = security.pki_dir(data_dir, "client")
    if confirmed:
        KnownServers(store).add(await presented_server(sim.endpoint), by="ada (test)")
    return ConnectionOptions(
        endpoint=sim.endpoint,
        timeout_s=3.0,
        security=ClientSecurity(
            mode=SecurityMode.SIGN_AND_ENCRYPT,
            identity=identity,
            user="copilot",
            password=password,
            known_servers=store,
        ),
    )


async def test_a_confirmed_server_is_read_over_a_confirmed_secure_session(
    secure_sim: SimulatedLine, line: LineDefinition, tmp_path: Path
) -> None:
    options = await secure_options(secure_sim, tmp_path / "data", PASSWORD)
    async with LineClient(line, options, tags=["filler.bowl_level"]) as client:
        await client.wait_available(15)
        reading = await client.read("filler.bowl_level")
        assert reading.usable
        assert client.confirmed_secure
        assert client.server is not None
        assert client.server.vouched_by.startswith("ada (test) on ")
    assert not client.confirmed_secure, "a stopped client has no session to vouch for"
    found = await discover(options)
    assert len([v for v in found if v.node_id.endswith("Filler.BowlLevel")]) == 1


async def test_an_unconfirmed_server_is_refused_at_once_then_joined_once_confirmed(
    secure_sim: SimulatedLine, line: LineDefinition, tmp_path: Path
) -> None:
    options = await secure_options(secure_sim, tmp_path / "data", PASSWORD, confirmed=False)
    async with LineClient(line, options, tags=["filler.bowl_level"], reconnect_min_s=30) as client:
        # Refused "at once" means long before the wait would end, however busy the machine: half of a long wait.
        wait_s = 60.0
        started = time.monotonic()
        with pytest.raises(ServerNotTrusted) as refused:
            await client.wait_available(wait_s)
        assert time.monotonic() - started < wait_s / 2, "a refusal that needs a person is not waited out"
        assert "copilot servers trust" in str(refused.value)
        assert not client.confirmed_secure
        # An admin confirms it (the console's step); the client tries again without waiting out its back-off.
        assert options.security.known_servers is not None
        KnownServers(options.security.known_servers).add(await presented_server(secure_sim.endpoint), by="ada")
        await client.retry_now()
        await client.wait_available(10)
        assert client.confirmed_secure
        assert client.refusal is None


async def test_a_changed_server_certificate_is_refused_with_both_fingerprints(
    line: LineDefinition, port: int, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    sim_options = SimulatorOptions(port=port, secure=True, data_dir=data, password=PASSWORD)
    async with SimulatedLine(line, sim_options) as sim:
        options = await secure_options(sim, data, PASSWORD)
        await discover(options)
        confirmed = security.fingerprint((data / "pki" / "server" / "own" / "cert.der").read_bytes())
    # The server gets a new certificate (a reinstall, or somebody else now answers at the address).
    security.create_identity(
        data / "pki" / "server" / "own",
        app_uri=security.SERVER_APP_URI,
        common_name="line-copilot server",
        organization="line-copilot",
        server=True,
        replace=True,
    )
    async with SimulatedLine(line, sim_options) as sim:
        with pytest.raises(ServerIdentityChanged) as refused:
            await discover(options)
    message = str(refused.value)
    presented = security.fingerprint((data / "pki" / "server" / "own" / "cert.der").read_bytes())
    assert presented != confirmed
    assert f"THE IDENTITY OF THE SERVER AT 127.0.0.1:{port} HAS CHANGED (its certificate)" in message
    assert confirmed in message
    assert presented in message
    assert f"copilot servers forget 127.0.0.1:{port}" in message
    assert refused.value.confirmed_fingerprint == confirmed


async def test_a_pinned_certificate_file_counts_as_confirmed(secure_sim: SimulatedLine, tmp_path: Path) -> None:
    options = await secure_options(secure_sim, tmp_path / "data", PASSWORD, confirmed=False)
    pinned = replace(
        options.security,
        known_servers=None,
        server_certificate=tmp_path / "data" / "pki" / "server" / "own" / "cert.der",
    )
    found = await discover(replace(options, security=pinned))
    assert found


async def test_wrong_password_is_rejected(secure_sim: SimulatedLine, tmp_path: Path) -> None:
    options = await secure_options(secure_sim, tmp_path / "data", "wrong")
    with pytest.raises(SecurityRejected, match="user name or password"):
        await discover(options)


async def test_untrusted_client_certificate_is_rejected(secure_sim: SimulatedLine, tmp_path: Path) -> None:
    # A certificate from another data directory was never copied into the server's trust list.
    options = await secure_options(secure_sim, tmp_path / "stranger", PASSWORD)
    with pytest.raises(LineUnavailable) as caught:
        await discover(options)
    assert "trust" in str(caught.value) or "security" in str(caught.value).lower(), str(caught.value)


async def test_no_security_against_a_secure_server_is_refused(secure_sim: SimulatedLine) -> None:
    options = ConnectionOptions(endpoint=secure_sim.endpoint, timeout_s=3.0, security=ClientSecurity(user="copilot"))
    with pytest.raises(LineUnavailable):
        await discover(options)


async def test_a_password_never_leaves_without_security(secure_sim: SimulatedLine) -> None:
    options = ConnectionOptions(
        endpoint=secure_sim.endpoint, timeout_s=3.0, security=ClientSecurity(user="copilot", password=PASSWORD)
    )
    with pytest.raises(PasswordWithheld, match="passwords go only over sign_encrypt to a confirmed server"):
        await discover(options)
    in_url = ConnectionOptions(endpoint=secure_sim.endpoint.replace("opc.tcp://", f"opc.tcp://copilot:{PASSWORD}@"))
    with pytest.raises(PasswordWithheld) as refused:
        await discover(in_url)
    assert PASSWORD not in str(refused.value)
