"""An impostor OPC UA server for safety tests: it presents the identity it is given and keeps every credential sent."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from asyncua import Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.server.internal_server import InternalServer

from connectors.errors import LineUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Credential:
    """One user token as it arrived: what an attacker holding this server would have."""

    user: str | None
    password: bytes | str | None  # raw as received (ciphertext when the client encrypted it)
    encryption: str | None


@dataclass(frozen=True, kw_only=True)
class ImpostorOptions:
    """Who the impostor claims to be. `certificate` may be a copy of the real server's; its key never is."""

    port: int
    host: str = "127.0.0.1"
    certificate: Path | None = None  # DER; required unless `secure` is False
    private_key: Path | None = None  # PEM, the impostor's own
    application_uri: str = "urn:impostor"
    secure: bool = True  # offer Basic256Sha256 SignAndEncrypt; else only None, with user name tokens

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/line-copilot/"


@dataclass
class _Recorder:
    """The user manager: accepts anybody, after writing down what they sent."""

    attempts: list[Credential] = field(default_factory=list)

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        self.attempts.append(Credential(user=username, password=password, encryption=None))
        return User(role=UserRole.User, name=username)


class _RecordingServer(InternalServer):  # type: ignore[misc]  # asyncua is untyped here (see pyproject)
    """Keeps each user name token before it is decrypted, so even one it cannot read is counted."""

    def __init__(self, recorder: _Recorder) -> None:
        super().__init__(user_manager=recorder)
        self.tokens: list[Credential] = []

    def decrypt_user_token(self, isession: Any, token: ua.UserNameIdentityToken) -> tuple[str, str]:
        self.tokens.append(
            Credential(user=token.UserName, password=token.Password, encryption=token.EncryptionAlgorithm)
        )
        return super().decrypt_user_token(isession, token)  # type: ignore[no-any-return]


class ImpostorServer:
    """A server that is not the line's; `async with` starts and stops it."""

    def __init__(self, options: ImpostorOptions) -> None:
        self.options = options
        self._recorder = _Recorder()
        self._iserver = _RecordingServer(self._recorder)
        self._server: Server | None = None

    @property
    def endpoint(self) -> str:
        return self.options.endpoint

    @property
    def credentials(self) -> list[Credential]:
        """Every user name token received, as it arrived, whether or not the impostor could decrypt it."""
        return list(self._iserver.tokens)

    @property
    def passwords(self) -> list[str]:
        """The passwords the impostor could read."""
        return [str(a.password) for a in self._recorder.attempts if a.password]

    @property
    def activations(self) -> int:
        """Session activations that reached the user check (anonymous ones included)."""
        return len(self._recorder.attempts)

    async def __aenter__(self) -> ImpostorServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        opts = self.options
        server = Server(iserver=self._iserver)
        await server.init()
        server.set_endpoint(opts.endpoint)
        server.set_server_name("impostor")
        await server.set_application_uri(opts.application_uri)
        if opts.secure:
            if opts.certificate is None or opts.private_key is None:
                raise ValueError("a secure impostor needs a certificate and a key")
            await server.load_certificate(str(opts.certificate))
            await server.load_private_key(str(opts.private_key))
            server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        server.set_identity_tokens([ua.UserNameIdentityToken, ua.AnonymousIdentityToken])
        try:
            await server.start()
        except OSError as err:
            raise LineUnavailable(f"cannot listen on {opts.endpoint}: {err.strerror or err}") from err
        self._server = server
        log.info("impostor serving at %s", opts.endpoint)

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.stop()
            self._server = None
