"""Certificates and session security: Basic256Sha256 SignAndEncrypt with a username and password."""

from __future__ import annotations

import asyncio
import base64
import fcntl
import hashlib
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from connectors.security_mode import SecurityMode as SecurityMode  # the settings read it without cryptography

CLIENT_APP_URI = "urn:line-copilot:client"
SERVER_APP_URI = "urn:line-copilot:simulator"
_VALID_DAYS = 365


@dataclass(frozen=True, kw_only=True)
class Identity:
    """An application certificate and its private key on disk."""

    certificate: Path
    private_key: Path
    app_uri: str


@dataclass(frozen=True, kw_only=True)
class ClientSecurity:
    """How the connector opens its session."""

    mode: SecurityMode = SecurityMode.NONE
    identity: Identity | None = None
    user: str | None = None
    password: str | None = None
    # An explicit pin (a DER or PEM file): the server must present exactly this certificate. A pin counts as
    # confirmed by whoever put the file there.
    server_certificate: Path | None = None
    # The folder holding the confirmed servers (known_servers.json); secure mode refuses any server not in it.
    known_servers: Path | None = None

    def describe(self) -> str:
        who = f" as {self.user}" if self.user else " anonymously"
        return f"{self.mode.value}{who}"


@dataclass(frozen=True, kw_only=True)
class CertificateFacts:
    """What a person compares before trusting a certificate."""

    fingerprint: str  # SHA256:AB:CD:..., as `openssl x509 -fingerprint -sha256` prints it
    subject: str
    not_before: datetime
    not_after: datetime
    uris: tuple[str, ...]  # SubjectAltName URIs; the application URI belongs among them

    def valid_at(self, when: datetime) -> bool:
        return self.not_before <= when <= self.not_after


def fingerprint(der: bytes) -> str:
    digest = hashlib.sha256(der).hexdigest().upper()
    return "SHA256:" + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


_HEX = re.compile(r"^[0-9A-F]{64}$")


def normalize_fingerprint(text: str) -> str | None:
    """A fingerprint as a person may type it (any case, with or without colons or the prefix), or None.

    The base64 form that `ssh-keygen -l` users know is accepted too. Normalising changes the spelling, never the
    digest, so a match is still an exact match.
    """
    raw = text.strip()
    body = raw[7:] if raw.upper().startswith("SHA256:") else raw
    compact = body.replace(":", "").replace(" ", "").upper()
    if _HEX.match(compact):
        return "SHA256:" + ":".join(compact[i : i + 2] for i in range(0, 64, 2))
    try:
        digest = base64.b64decode(body + "=" * (-len(body) % 4), validate=True)
    except ValueError:
        return None
    if len(digest) != 32:
        return None
    hexed = digest.hex().upper()
    return "SHA256:" + ":".join(hexed[i : i + 2] for i in range(0, 64, 2))


def certificate_facts(der: bytes) -> CertificateFacts:
    """Fingerprint, subject, validity and URIs of a DER certificate; ValueError when it cannot be read."""
    cert = x509.load_der_x509_certificate(der)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = tuple(san.get_values_for_type(x509.UniformResourceIdentifier))
    except x509.ExtensionNotFound:
        uris = ()
    return CertificateFacts(
        fingerprint=fingerprint(der),
        subject=cert.subject.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        uris=uris,
    )


def first_certificate(blob: bytes) -> bytes:
    """The leading certificate of a DER blob that may carry its chain after it (some servers send both)."""
    if len(blob) < 4 or blob[0] != 0x30 or blob[1] != 0x82:
        return blob  # not the long form every real certificate uses; let the parser judge it
    return blob[: int.from_bytes(blob[2:4], "big") + 4]


def read_certificate(path: Path) -> bytes:
    """A certificate file as DER, whether it holds DER or PEM; ValueError when it holds neither."""
    data = path.read_bytes()
    if data.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(data).public_bytes(Encoding.DER)
    x509.load_der_x509_certificate(data)
    return data


def pki_dir(data_dir: Path, role: str) -> Path:
    """Where one side keeps its own certificate (`own/`) and the peers it trusts (`trusted/`)."""
    path = data_dir / "pki" / role
    (path / "own").mkdir(parents=True, exist_ok=True)
    (path / "trusted").mkdir(parents=True, exist_ok=True)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write a file readable by its owner only, atomically: a reader sees the old file or the new, never half."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


@contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """One writer at a time in `folder`, across processes (a simulator and a CLI may start together)."""
    fd = os.open(folder / ".lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def create_identity(
    folder: Path, *, app_uri: str, common_name: str, organization: str, server: bool, replace: bool = False
) -> Identity:
    """A fresh self-signed application certificate and key in `folder` (cert.der, key.pem), unless one is there."""
    folder.mkdir(parents=True, exist_ok=True)
    identity = Identity(certificate=folder / "cert.der", private_key=folder / "key.pem", app_uri=app_uri)
    with folder_lock(folder):
        if not replace and _usable(identity):
            return identity
        # asyncua takes a second to import; only making a certificate needs it, not every reader of SecurityMode.
        from asyncua.crypto.cert_gen import (
            dump_private_key_as_pem,
            generate_private_key,
            generate_self_signed_app_certificate,
        )

        key = generate_private_key()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        cert = generate_self_signed_app_certificate(
            key,
            common_name,
            {"organizationName": organization},
            [x509.UniformResourceIdentifier(app_uri), x509.DNSName(socket.gethostname())],
            extended=[usage],
            days=_VALID_DAYS,
        )
        # The key first: a certificate on disk without its key would be regenerated anyway.
        write_private(identity.private_key, dump_private_key_as_pem(key))
        write_private(identity.certificate, cert.public_bytes(Encoding.DER))
    return identity


def _usable(identity: Identity) -> bool:
    if not (identity.certificate.is_file() and identity.private_key.is_file()):
        return False
    try:
        facts = certificate_facts(identity.certificate.read_bytes())
    except ValueError:
        return False
    # Only expiry or a wrong URI renews a certificate: a new one changes the fingerprint people confirmed.
    return facts.valid_at(datetime.now(UTC)) and identity.app_uri in facts.uris


def own_identity(data_dir: Path, role: str) -> Identity:
    """The data directory's certificate for `role` ("client" or "server"), created once; callable from any code."""
    app_uri = SERVER_APP_URI if role == "server" else CLIENT_APP_URI
    return create_identity(
        pki_dir(data_dir, role) / "own",
        app_uri=app_uri,
        common_name=f"line-copilot {role}",
        organization="line-copilot",
        server=role == "server",
    )


async def ensure_identity(data_dir: Path, role: str) -> Identity:
    """`own_identity` for async code: the key is generated off the event loop."""
    return await asyncio.to_thread(own_identity, data_dir, role)


def trust(data_dir: Path, role: str, peer: Identity, name: str) -> Path:
    """Put a peer's certificate in `role`'s trust list, as an administrator would copy it there."""
    target = pki_dir(data_dir, role) / "trusted" / f"{name}.der"
    target.write_bytes(peer.certificate.read_bytes())
    return target
