"""Confirmed servers (known_hosts for OPC UA): the store, fingerprints, and impostors that must get no credential."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import stat
from pathlib import Path

import pytest

from connectors import security
from connectors.errors import ConnectorError, SecurityRejected, ServerIdentityChanged, ServerNotTrusted
from connectors.known_servers import (
    KnownServers,
    PresentedServer,
    Verdict,
    confirm,
    endpoint_key,
    store_mode_ok,
)
from connectors.security import Identity, fingerprint, normalize_fingerprint
from copilot.evaluation.rogue_servers import RogueReport, rogue_cases

ENDPOINT = "opc.tcp://10.1.2.3:4840/line/"


def server_identity(folder: Path, *, common_name: str = "line-copilot server", uri: str = "urn:line") -> Identity:
    return security.create_identity(folder, app_uri=uri, common_name=common_name, organization="plant", server=True)


@pytest.fixture
def genuine(tmp_path: Path) -> PresentedServer:
    identity = server_identity(tmp_path / "genuine")
    return PresentedServer.of(ENDPOINT, identity.certificate.read_bytes(), "urn:line")


@pytest.fixture
def store(tmp_path: Path) -> KnownServers:
    return KnownServers(tmp_path / "pki" / "client")


def test_a_fingerprint_is_the_sha256_of_the_der_as_openssl_prints_it(genuine: PresentedServer) -> None:
    digest = hashlib.sha256(genuine.certificate).hexdigest().upper()
    assert genuine.fingerprint == "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, 64, 2))
    assert fingerprint(genuine.certificate) == genuine.fingerprint


def test_a_typed_fingerprint_is_read_in_any_spelling_of_the_same_digest(genuine: PresentedServer) -> None:
    compact = genuine.fingerprint[7:].replace(":", "")
    as_base64 = base64.b64encode(bytes.fromhex(compact)).decode().rstrip("=")
    for typed in (genuine.fingerprint, compact.lower(), f"sha256:{compact}", f"SHA256:{as_base64}"):
        assert normalize_fingerprint(typed) == genuine.fingerprint, typed
    for junk in ("", "SHA256:", "abc", compact[:-2], "SHA1:" + compact, compact + "00"):
        assert normalize_fingerprint(junk) is None, junk


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("opc.tcp://10.1.2.3:4840/line/", "10.1.2.3:4840"),
        ("opc.tcp://PLC-1.Plant.example:4841", "plc-1.plant.example:4841"),
        ("opc.tcp://plc-1/", "plc-1:4840"),
        ("opc.tcp://[::1]:4842/x", "[::1]:4842"),
        ("plc-1:4843", "plc-1:4843"),
    ],
)
def test_the_store_is_keyed_by_host_and_port(given: str, key: str) -> None:
    assert endpoint_key(given) == key


def test_a_confirmation_is_kept_with_who_and_when_readable_by_the_owner_only(
    store: KnownServers, genuine: PresentedServer
) -> None:
    assert store.verdict(genuine) == (Verdict.UNKNOWN, None)
    known = store.add(genuine, by="ada (admin)")
    assert known.key == "10.1.2.3:4840"
    assert (known.fingerprint, known.application_uri, known.confirmed_by) == (
        genuine.fingerprint,
        "urn:line",
        "ada (admin)",
    )
    assert known.certificate.read_bytes() == genuine.certificate
    assert store.verdict(genuine) == (Verdict.KNOWN, known)
    assert store.pinned(known.key) == genuine.certificate
    assert store_mode_ok(store.folder)
    for path in (store.path, known.certificate):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600, path
    saved = json.loads(store.path.read_text())["servers"]["10.1.2.3:4840"]
    assert saved["fingerprint"] == genuine.fingerprint
    assert saved["confirmed_by"] == "ada (admin)"
    assert store.add(genuine, by="someone else") == known, "confirming the same identity again changes nothing"


def test_another_identity_at_a_confirmed_endpoint_must_be_forgotten_first(
    tmp_path: Path, store: KnownServers, genuine: PresentedServer
) -> None:
    store.add(genuine, by="ada")
    other = server_identity(tmp_path / "other")
    impostor = PresentedServer.of(ENDPOINT, other.certificate.read_bytes(), "urn:line")
    assert store.verdict(impostor)[0] is Verdict.CHANGED
    with pytest.raises(ServerIdentityChanged, match="HAS CHANGED"):
        store.add(impostor, by="mallory")
    assert store.forget("10.1.2.3:4840")
    assert not store.forget("10.1.2.3:4840")
    assert store.all() == []
    assert not list((store.folder / "known").glob("*.der")), "the pinned certificate goes with the entry"
    assert store.add(impostor, by="ada").fingerprint == impostor.fingerprint


def test_refusals_name_the_fingerprints_and_what_to_do(
    tmp_path: Path, store: KnownServers, genuine: PresentedServer
) -> None:
    with pytest.raises(ServerNotTrusted) as unknown:
        confirm(genuine, pin=None, store=store)
    assert not isinstance(unknown.value, ServerIdentityChanged)
    for needle in (genuine.fingerprint, "urn:line", f"copilot servers trust {ENDPOINT}"):
        assert needle in str(unknown.value)

    store.add(genuine, by="ada")
    assert confirm(genuine, pin=None, store=store).certificate == genuine.certificate
    renamed = PresentedServer.of(ENDPOINT, genuine.certificate, "urn:elsewhere")
    with pytest.raises(ServerIdentityChanged) as changed:
        confirm(renamed, pin=None, store=store)
    text = str(changed.value)
    assert "HAS CHANGED (its application URI)" in text
    assert "urn:elsewhere" in text
    assert "by ada" in text
    assert "copilot servers forget 10.1.2.3:4840" in text


def test_a_pinned_file_counts_as_confirmed_and_refuses_any_other_certificate(
    tmp_path: Path, genuine: PresentedServer
) -> None:
    pem = tmp_path / "server.pem"
    pem.write_text(
        f"-----BEGIN CERTIFICATE-----\n{base64.encodebytes(genuine.certificate).decode()}-----END CERTIFICATE-----\n"
    )
    assert confirm(genuine, pin=pem, store=None).vouched_by == f"the pinned file {pem}"
    other = server_identity(tmp_path / "other")
    impostor = PresentedServer.of(ENDPOINT, other.certificate.read_bytes(), "urn:line")
    with pytest.raises(ServerIdentityChanged) as refused:
        confirm(impostor, pin=pem, store=None)
    assert str(pem) in str(refused.value)
    assert genuine.fingerprint in str(refused.value)
    assert impostor.fingerprint in str(refused.value)


def test_a_tampered_store_is_refused_not_read_as_empty(store: KnownServers, genuine: PresentedServer) -> None:
    known = store.add(genuine, by="ada")
    known.certificate.write_bytes(genuine.certificate[:-1] + bytes([genuine.certificate[-1] ^ 1]))
    with pytest.raises(SecurityRejected, match="does not match the fingerprint"):
        confirm(genuine, pin=None, store=store)
    store.path.write_text("{not json")
    with pytest.raises(ConnectorError, match="cannot read the confirmed servers"):
        store.verdict(genuine)
    with pytest.raises(ConnectorError):
        store.add(genuine, by="ada")


# -- impostors: real asyncua servers on loopback that record every user token they receive ----------------------


@pytest.fixture(scope="module")
def rogue_report(tmp_path_factory: pytest.TempPathFactory) -> RogueReport:
    """All rogue cases, run once for this module (five impostors started together, about 15 s)."""
    return asyncio.run(rogue_cases(tmp_path_factory.mktemp("rogue")))


REQUIRED = [
    "self-signed impostor at a confirmed endpoint",
    "impostor with the genuine subject and URI but its own key",
    "the genuine certificate with a changed application URI",
    "unknown server never confirmed",
    "the genuine certificate and URI replayed without its key",
]


@pytest.mark.slow
def test_the_recorder_catches_the_password_of_a_client_that_trusted_the_impostor(rogue_report: RogueReport) -> None:
    # Guard the guard: without this, "0 credentials" could mean an impostor that cannot record.
    assert rogue_report.control_passwords == 1


@pytest.mark.slow
@pytest.mark.parametrize("name", REQUIRED)
def test_each_impostor_is_refused_before_any_credential(rogue_report: RogueReport, name: str) -> None:
    case = next(c for c in rogue_report.cases if c.name == name)
    assert case.credentials_sent == 0, case.detail
    assert case.blocked, case.detail


@pytest.mark.slow
def test_every_rogue_case_is_blocked_with_no_credential_sent(rogue_report: RogueReport) -> None:
    assert len(rogue_report.cases) == 9
    assert rogue_report.credentials_sent == 0
    assert [c.name for c in rogue_report.cases if not c.blocked] == []
