"""Servers a person confirmed, like SSH's known_hosts: per endpoint, the certificate, its fingerprint and the URI."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from connectors.errors import ConnectorError, SecurityRejected, ServerIdentityChanged, ServerNotTrusted
from connectors.security import (
    CertificateFacts,
    certificate_facts,
    fingerprint,
    folder_lock,
    read_certificate,
    write_private,
)

STORE = "known_servers.json"
CERTIFICATES = "known"  # beside the store: one pinned DER certificate per endpoint
DEFAULT_PORT = 4840
_VERSION = 1


def endpoint_key(endpoint: str) -> str:
    """`host:port` of an OPC UA endpoint (the path does not matter: one server answers on a port)."""
    text = endpoint if "://" in endpoint else f"opc.tcp://{endpoint}"
    parts = urlsplit(text)
    try:
        host, port = parts.hostname, parts.port
    except ValueError as err:
        raise ConnectorError(f"{endpoint!r} has no valid port") from err
    if not host:
        raise ConnectorError(f"{endpoint!r} names no host; give opc.tcp://host:port/ or host:port")
    host = f"[{host}]" if ":" in host else host
    return f"{host}:{port or DEFAULT_PORT}"


def endpoint_url(text: str) -> str:
    """An endpoint as typed (`host:port` or a full URL) as a URL the client can open."""
    return text if "://" in text else f"opc.tcp://{text}/"


@dataclass(frozen=True, kw_only=True)
class PresentedServer:
    """What a server says it is over the unsecured discovery channel: anyone can say this, so it proves nothing."""

    endpoint: str
    certificate: bytes  # DER, of its SignAndEncrypt endpoint
    application_uri: str
    facts: CertificateFacts

    @property
    def key(self) -> str:
        return endpoint_key(self.endpoint)

    @property
    def fingerprint(self) -> str:
        return self.facts.fingerprint

    @classmethod
    def of(cls, endpoint: str, certificate: bytes, application_uri: str) -> PresentedServer:
        try:
            facts = certificate_facts(certificate)
        except ValueError as err:
            raise SecurityRejected(f"{endpoint}: the server presents an unreadable certificate ({err})") from err
        return cls(endpoint=endpoint, certificate=certificate, application_uri=application_uri, facts=facts)


@dataclass(frozen=True, kw_only=True)
class KnownServer:
    """A server identity a person confirmed: who, when, and exactly what they saw."""

    key: str
    endpoint: str
    fingerprint: str
    application_uri: str
    subject: str
    not_after: datetime
    certificate: Path
    confirmed_by: str
    confirmed_at: datetime

    def as_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "fingerprint": self.fingerprint,
            "application_uri": self.application_uri,
            "subject": self.subject,
            "not_after": self.not_after.isoformat(),
            "certificate": self.certificate.name,
            "confirmed_by": self.confirmed_by,
            "confirmed_at": self.confirmed_at.isoformat(),
        }


@dataclass(frozen=True, kw_only=True)
class ConfirmedServer:
    """The identity a secure session is opened to: the certificate it is pinned to and who vouched for it."""

    endpoint: str
    certificate: bytes
    fingerprint: str
    application_uri: str
    vouched_by: str  # "ada on 2026-05-01 10:12 UTC" or "the pinned file /etc/..."


class Verdict(StrEnum):
    KNOWN = "known"  # presented exactly what was confirmed
    UNKNOWN = "unknown"  # never confirmed
    CHANGED = "changed"  # confirmed, but something else is presented now


class KnownServers:
    """The store in one folder (DATA_DIR/pki/client): known_servers.json and known/<host_port>.der, all 0600."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def path(self) -> Path:
        return self.folder / STORE

    def all(self) -> list[KnownServer]:
        return [self._record(key, entry) for key, entry in sorted(self._read().items())]

    def get(self, key: str) -> KnownServer | None:
        entry = self._read().get(key)
        return None if entry is None else self._record(key, entry)

    def verdict(self, presented: PresentedServer) -> tuple[Verdict, KnownServer | None]:
        known = self.get(presented.key)
        if known is None:
            return Verdict.UNKNOWN, None
        same = known.fingerprint == presented.fingerprint and known.application_uri == presented.application_uri
        return (Verdict.KNOWN if same else Verdict.CHANGED), known

    def add(self, presented: PresentedServer, *, by: str, at: datetime | None = None) -> KnownServer:
        """Record what a person confirmed; a different identity already recorded must be forgotten first."""
        if not by.strip():
            raise ConnectorError("a confirmation needs the name of the person who confirmed it")
        self.folder.mkdir(parents=True, exist_ok=True)
        with folder_lock(self.folder):
            verdict, known = self.verdict(presented)
            if known is not None and verdict is Verdict.KNOWN:
                return known
            if known is not None:
                raise identity_changed(presented, known)
            certs = self.folder / CERTIFICATES
            certs.mkdir(mode=0o700, exist_ok=True)
            cert_path = certs / f"{presented.key.replace(':', '_').strip('[]')}.der"
            write_private(cert_path, presented.certificate)
            entries = self._read()
            entries[presented.key] = {
                "endpoint": presented.endpoint,
                "fingerprint": presented.fingerprint,
                "application_uri": presented.application_uri,
                "subject": presented.facts.subject,
                "not_after": presented.facts.not_after.isoformat(),
                "certificate": cert_path.name,
                "confirmed_by": by.strip(),
                "confirmed_at": (at or datetime.now(UTC)).isoformat(),
            }
            self._write(entries)
        known = self.get(presented.key)
        assert known is not None
        return known

    def forget(self, key: str) -> bool:
        """Drop a confirmed server (the next connection refuses it until it is confirmed again); False if unknown."""
        if not self.path.exists():
            return False
        with folder_lock(self.folder):
            entries = self._read()
            entry = entries.pop(key, None)
            if entry is None:
                return False
            self._write(entries)
            # A damaged entry is forgotten all the same: that is the way out of it.
            name = entry.get("certificate") if isinstance(entry, dict) else None
            if isinstance(name, str) and name:
                (self.folder / CERTIFICATES / Path(name).name).unlink(missing_ok=True)
        return True

    def pinned(self, key: str) -> bytes:
        """The certificate a person confirmed for `key`, checked against its recorded fingerprint."""
        known = self.get(key)
        if known is None:
            raise ConnectorError(f"{key} is not a confirmed server")
        der = known.certificate.read_bytes()
        if fingerprint(der) != known.fingerprint:
            # Somebody edited one file and not the other: trust neither.
            raise SecurityRejected(
                f"{key}: the pinned certificate {known.certificate} does not match the fingerprint recorded in "
                f"{self.path}; forget the server and confirm it again"
            )
        return der

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        try:
            data = json.loads(text)
            servers = data["servers"]
            if data.get("version") != _VERSION or not isinstance(servers, dict):
                raise ValueError("unknown layout")
        except (ValueError, KeyError, TypeError) as err:
            # Refusing is the safe side: an unreadable store must not read as "nobody confirmed" and then be
            # overwritten, nor as "anything goes".
            raise ConnectorError(f"cannot read the confirmed servers in {self.path}: {err}") from err
        return servers

    def _write(self, entries: dict[str, dict[str, str]]) -> None:
        payload = json.dumps({"version": _VERSION, "servers": entries}, indent=1, sort_keys=True)
        write_private(self.path, payload.encode("utf-8"))

    def _record(self, key: str, entry: dict[str, str]) -> KnownServer:
        try:
            return KnownServer(
                key=key,
                endpoint=entry["endpoint"],
                fingerprint=entry["fingerprint"],
                application_uri=entry["application_uri"],
                subject=entry.get("subject", ""),
                not_after=datetime.fromisoformat(entry["not_after"]),
                certificate=self.folder / CERTIFICATES / Path(entry["certificate"]).name,
                confirmed_by=entry["confirmed_by"],
                confirmed_at=datetime.fromisoformat(entry["confirmed_at"]),
            )
        except (KeyError, ValueError, TypeError) as err:
            raise ConnectorError(
                f"the entry for {key} in {self.path} is damaged ({err}); `copilot servers forget {key}` removes it"
            ) from err


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def not_trusted(presented: PresentedServer) -> ServerNotTrusted:
    key = presented.key
    return ServerNotTrusted(
        f"{presented.endpoint}: this server has not been confirmed, so nothing was sent to it.\n"
        f"  certificate fingerprint  {presented.fingerprint}\n"
        f"  application URI          {presented.application_uri}\n"
        f"  subject                  {presented.facts.subject}\n"
        "Compare the fingerprint with the one the plant's OT admin reads on the server itself; when they match, "
        f"confirm it with `copilot servers trust {presented.endpoint}` (or an admin confirms it in the console "
        f"under Server identity). `copilot servers show {key}` shows it again.",
        endpoint=presented.endpoint,
        fingerprint=presented.fingerprint,
        application_uri=presented.application_uri,
    )


def identity_changed(presented: PresentedServer, known: KnownServer) -> ServerIdentityChanged:
    changed = []
    if known.fingerprint != presented.fingerprint:
        changed.append("its certificate")
    if known.application_uri != presented.application_uri:
        changed.append("its application URI")
    return ServerIdentityChanged(
        f"THE IDENTITY OF THE SERVER AT {known.key} HAS CHANGED ({' and '.join(changed)}); nothing was sent to it.\n"
        f"  confirmed  {known.fingerprint}  {known.application_uri}  "
        f"(by {known.confirmed_by}, {_when(known.confirmed_at)})\n"
        f"  presented  {presented.fingerprint}  {presented.application_uri}\n"
        "Someone may be impersonating the line's server, or its certificate was replaced. Do not connect until "
        "the plant's OT admin has verified the new fingerprint on the server itself. If the change is expected: "
        f"`copilot servers forget {known.key}`, then `copilot servers trust {presented.endpoint}`.",
        endpoint=presented.endpoint,
        fingerprint=presented.fingerprint,
        application_uri=presented.application_uri,
        confirmed_fingerprint=known.fingerprint,
    )


def confirm(presented: PresentedServer, *, pin: Path | None, store: KnownServers | None) -> ConfirmedServer:
    """The confirmed identity the presented server matches, or the error that says why it is refused.

    A file pin wins over the store: it is an administrator's explicit choice for this one endpoint.
    """
    if pin is not None:
        try:
            der = read_certificate(pin)
        except (OSError, ValueError) as err:
            raise SecurityRejected(f"cannot read the pinned server certificate {pin}: {err}") from err
        pinned = fingerprint(der)
        if pinned != presented.fingerprint:
            raise ServerIdentityChanged(
                f"THE SERVER AT {presented.key} DOES NOT PRESENT THE PINNED CERTIFICATE; nothing was sent to it.\n"
                f"  pinned     {pinned}  ({pin})\n"
                f"  presented  {presented.fingerprint}  {presented.application_uri}\n"
                "Someone may be impersonating the line's server, or its certificate was replaced. Verify the "
                "fingerprint with the plant's OT admin before replacing the pinned file.",
                endpoint=presented.endpoint,
                fingerprint=presented.fingerprint,
                application_uri=presented.application_uri,
                confirmed_fingerprint=pinned,
            )
        return ConfirmedServer(
            endpoint=presented.endpoint,
            certificate=der,
            fingerprint=pinned,
            application_uri=presented.application_uri,
            vouched_by=f"the pinned file {pin}",
        )
    if store is None:
        raise not_trusted(presented)
    verdict, known = store.verdict(presented)
    if known is None:
        raise not_trusted(presented)
    if verdict is Verdict.CHANGED:
        raise identity_changed(presented, known)
    return ConfirmedServer(
        endpoint=presented.endpoint,
        certificate=store.pinned(known.key),
        fingerprint=known.fingerprint,
        application_uri=known.application_uri,
        vouched_by=f"{known.confirmed_by} on {_when(known.confirmed_at)}",
    )


def store_mode_ok(folder: Path) -> bool:
    """True when nobody but the owner can read or change the store (tests and `servers list` check it)."""
    paths = [folder / STORE, *sorted((folder / CERTIFICATES).glob("*.der"))]
    return all(not p.exists() or (os.stat(p).st_mode & 0o077) == 0 for p in paths)
