"""Certificates and session security: Basic256Sha256 SignAndEncrypt with a username and password."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from asyncua.crypto.cert_gen import setup_self_signed_certificate
from cryptography.x509.oid import ExtendedKeyUsageOID

CLIENT_APP_URI = "urn:line-copilot:client"
SERVER_APP_URI = "urn:line-copilot:simulator"


class SecurityMode(StrEnum):
    NONE = "none"
    SIGN_AND_ENCRYPT = "sign_encrypt"  # Basic256Sha256, the only secure policy we offer


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
    server_certificate: Path | None = None  # pin the server; without it the endpoint's certificate is used

    def describe(self) -> str:
        who = f" as {self.user}" if self.user else " anonymously"
        return f"{self.mode.value}{who}"


def pki_dir(data_dir: Path, role: str) -> Path:
    """Where one side keeps its own certificate (`own/`) and the peers it trusts (`trusted/`)."""
    path = data_dir / "pki" / role
    (path / "own").mkdir(parents=True, exist_ok=True)
    (path / "trusted").mkdir(parents=True, exist_ok=True)
    return path


async def ensure_identity(data_dir: Path, role: str) -> Identity:
    """Create (once) a self-signed application certificate for `role` ("client" or "server")."""
    base = pki_dir(data_dir, role) / "own"
    app_uri = SERVER_APP_URI if role == "server" else CLIENT_APP_URI
    usage = ExtendedKeyUsageOID.SERVER_AUTH if role == "server" else ExtendedKeyUsageOID.CLIENT_AUTH
    identity = Identity(certificate=base / "cert.der", private_key=base / "key.pem", app_uri=app_uri)
    await setup_self_signed_certificate(
        identity.private_key,
        identity.certificate,
        app_uri,
        socket.gethostname(),
        [usage],
        {"commonName": f"line-copilot {role}", "organizationName": "line-copilot"},
    )
    identity.private_key.chmod(0o600)
    return identity


def trust(data_dir: Path, role: str, peer: Identity, name: str) -> Path:
    """Put a peer's certificate in `role`'s trust list, as an administrator would copy it there."""
    target = pki_dir(data_dir, role) / "trusted" / f"{name}.der"
    target.write_bytes(peer.certificate.read_bytes())
    return target
