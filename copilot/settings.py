"""Configuration from `COPILOT_*` environment variables and an optional `copilot.toml`, checked at start."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from connectors.lines import default_line_path
from connectors.security_mode import SecurityMode
from copilot.errors import ConfigError

DEFAULT_ENDPOINT = "opc.tcp://127.0.0.1:4840/line-copilot/"
OLLAMA_BASE_URL = "http://127.0.0.1:11434/v1"
Provider = Literal["offline", "openai", "ollama"]


def config_file() -> Path:
    return Path(os.environ.get("COPILOT_CONFIG", "copilot.toml"))


class Settings(BaseSettings):
    """Every setting; environment variables win over `copilot.toml`, which wins over the defaults."""

    model_config = SettingsConfigDict(env_prefix="COPILOT_", extra="forbid", frozen=True)

    data_dir: Path = Field(default=Path("data"), description="all state: certificates, databases, indexes")
    endpoint: str = Field(default=DEFAULT_ENDPOINT, description="OPC UA endpoint of the line")
    line: Path = Field(default_factory=default_line_path, description="line definition YAML")
    security: SecurityMode = Field(default=SecurityMode.NONE, description="none or sign_encrypt")
    opcua_user: str | None = Field(default=None, description="OPC UA user name")
    opcua_password: SecretStr | None = Field(default=None, description="OPC UA password")
    server_certificate: Path | None = Field(
        default=None, description="pin the server's certificate (DER or PEM file); counts as confirmed"
    )
    history_samples: int = Field(default=3600, ge=1, le=1_000_000, description="samples kept per tag")
    publishing_interval_ms: float = Field(default=500.0, gt=0, description="OPC UA subscription interval")
    collection: str = Field(default="plant", pattern=r"^[A-Za-z0-9_-]{3,60}$", description="knowledge collection")
    database_url: str | None = Field(default=None, description="SQLAlchemy URL; SQLite in the data directory if unset")
    require_secure_writes: bool | None = Field(
        default=None,
        description="refuse writes unless SignAndEncrypt to a confirmed server; unset: required unless loopback",
    )
    max_document_mb: float = Field(default=50.0, gt=0, le=2000, description="larger documents are skipped")
    provider: Provider = Field(default="offline", description="offline, openai or ollama")
    llm_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL, e.g. http://host:8000/v1")
    llm_model: str = Field(default="local-model", min_length=1, description="model name the server knows")
    llm_api_key: SecretStr | None = Field(default=None, description="API key, if the server asks for one")
    llm_timeout_s: float = Field(default=60.0, gt=0, le=600, description="per model call; no silent retries")
    llm_max_tokens: int = Field(default=512, ge=16, le=32_768, description="tokens per model reply")
    agent_max_steps: int = Field(default=6, ge=1, le=30, description="model calls per question, tools included")

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: str) -> str:
        if not value.startswith("opc.tcp://"):
            raise ValueError("must start with opc.tcp://, e.g. opc.tcp://127.0.0.1:4840/")
        if "@" in urlsplit(value).netloc:
            raise ValueError("must not carry a user or password; use COPILOT_OPCUA_USER and COPILOT_OPCUA_PASSWORD")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()))

    @field_validator("llm_base_url")
    @classmethod
    def _base_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://, e.g. http://127.0.0.1:8000/v1")
        return value

    def model_base_url(self) -> str:
        """Where the chat model answers; the ollama provider has a default, openai needs one set."""
        if self.llm_base_url:
            return self.llm_base_url
        if self.provider == "ollama":
            return OLLAMA_BASE_URL
        raise ConfigError("the openai provider needs COPILOT_LLM_BASE_URL, e.g. http://127.0.0.1:8000/v1")

    def secure_writes_required(self) -> bool:
        """Writes need SignAndEncrypt to a confirmed server unless configured otherwise or the line is loopback.

        Loopback is this machine (the simulator demo); anything else crosses a network someone else may be on.
        """
        if self.require_secure_writes is not None:
            return self.require_secure_writes
        return not is_loopback(self.endpoint)

    def database(self) -> str:
        return self.database_url or f"sqlite:///{self.ensure_data_dir() / 'copilot.db'}"

    def ensure_data_dir(self) -> Path:
        try:
            self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            # People, password hashes, the audit trail and private keys live here: ours alone, also in a folder
            # an older version created world-readable. A folder someone else owns is left as they set it.
            if self.data_dir.stat().st_uid == os.geteuid():
                self.data_dir.chmod(0o700)
        except OSError as err:
            raise ConfigError(
                f"cannot create the data directory {self.data_dir} ({err.strerror}); set COPILOT_DATA_DIR"
            ) from err
        return self.data_dir


def is_loopback(endpoint: str) -> bool:
    """True when the endpoint's host is localhost, 127.0.0.0/8 or ::1."""
    host = urlsplit(endpoint).hostname or ""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # any other name may resolve anywhere


def load_settings(**overrides: object) -> Settings:
    """Settings with command-line overrides applied; a bad value raises ConfigError naming it."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as err:
        problems = []
        for error in err.errors():
            field = ".".join(str(p) for p in error["loc"])
            problems.append(f"{field} (COPILOT_{field.upper()}): {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(problems)) from err
    except ValueError as err:  # a malformed copilot.toml
        raise ConfigError(f"cannot read {config_file()}: {err}") from err
