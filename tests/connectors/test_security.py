"""Secure mode: Basic256Sha256 SignAndEncrypt with trusted certificates and a user name and password."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from connectors import security
from connectors.client import LineClient
from connectors.discovery import discover
from connectors.errors import LineUnavailable, SecurityRejected
from connectors.line import LineDefinition
from connectors.security import ClientSecurity, SecurityMode
from connectors.session import ConnectionOptions
from connectors.simulator.server import SimulatedLine, SimulatorOptions

pytestmark = pytest.mark.slow


@pytest.fixture
async def secure_sim(line: LineDefinition, port: int, tmp_path: Path) -> AsyncIterator[SimulatedLine]:
    options = SimulatorOptions(port=port, secure=True, data_dir=tmp_path / "data", password="s3cret-pass")
    async with SimulatedLine(line, options) as server:
        yield server


async def secure_options(sim: SimulatedLine, data_dir: Path, password: str) -> ConnectionOptions:
    identity = await security.ensure_identity(data_dir, "client")
    return ConnectionOptions(
        endpoint=sim.endpoint,
        timeout_s=3.0,
        security=ClientSecurity(
            mode=SecurityMode.SIGN_AND_ENCRYPT, identity=identity, user="copilot", password=password
        ),
    )


async def test_good_login_reads_the_line(secure_sim: SimulatedLine, line: LineDefinition, tmp_path: Path) -> None:
    options = await secure_options(secure_sim, tmp_path / "data", "s3cret-pass")
    async with LineClient(line, options, tags=["filler.bowl_level"]) as client:
        await client.wait_available(15)
        reading = await client.read("filler.bowl_level")
        assert reading.usable
    found = await discover(options)
    assert len([v for v in found if v.node_id.endswith("Filler.BowlLevel")]) == 1


async def test_wrong_password_is_rejected(secure_sim: SimulatedLine, tmp_path: Path) -> None:
    options = await secure_options(secure_sim, tmp_path / "data", "wrong")
    with pytest.raises(SecurityRejected, match="user name or password"):
        await discover(options)


async def test_untrusted_client_certificate_is_rejected(secure_sim: SimulatedLine, tmp_path: Path) -> None:
    # A certificate from another data directory was never copied into the server's trust list.
    options = await secure_options(secure_sim, tmp_path / "stranger", "s3cret-pass")
    with pytest.raises(LineUnavailable) as caught:
        await discover(options)
    assert "trust" in str(caught.value) or "security" in str(caught.value).lower(), str(caught.value)


async def test_missing_security_is_rejected(secure_sim: SimulatedLine) -> None:
    options = ConnectionOptions(
        endpoint=secure_sim.endpoint, timeout_s=3.0, security=ClientSecurity(user="copilot", password="s3cret-pass")
    )
    with pytest.raises(LineUnavailable):
        await discover(options)
