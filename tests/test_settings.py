"""Configuration: environment over copilot.toml over defaults, and clear errors for bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.security import SecurityMode
from copilot.settings import DEFAULT_ENDPOINT, ConfigError, load_settings


def test_defaults(data_dir: Path) -> None:
    settings = load_settings()
    assert settings.endpoint == DEFAULT_ENDPOINT
    assert settings.data_dir == data_dir
    assert settings.line.name == "bottling.yaml"


def test_toml_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, data_dir: Path) -> None:
    (tmp_path / "copilot.toml").write_text(
        'endpoint = "opc.tcp://10.0.0.5:4840/"\nsecurity = "sign_encrypt"\nhistory_samples = 100\n'
    )
    settings = load_settings()
    assert settings.endpoint == "opc.tcp://10.0.0.5:4840/"
    assert settings.security is SecurityMode.SIGN_AND_ENCRYPT
    monkeypatch.setenv("COPILOT_HISTORY_SAMPLES", "7")
    assert load_settings().history_samples == 7  # the environment wins over the file
    assert load_settings(endpoint="opc.tcp://h:1/").endpoint == "opc.tcp://h:1/"  # a command-line option wins


@pytest.mark.parametrize(
    ("env", "value", "named"),
    [
        ("COPILOT_ENDPOINT", "http://plc:4840", "COPILOT_ENDPOINT"),
        ("COPILOT_HISTORY_SAMPLES", "many", "COPILOT_HISTORY_SAMPLES"),
        ("COPILOT_SECURITY", "aes", "COPILOT_SECURITY"),
    ],
)
def test_bad_values_name_the_setting(
    monkeypatch: pytest.MonkeyPatch, data_dir: Path, env: str, value: str, named: str
) -> None:
    monkeypatch.setenv(env, value)
    with pytest.raises(ConfigError, match=named):
        load_settings()


def test_malformed_toml(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "copilot.toml").write_text("endpoint = \n")
    with pytest.raises(ConfigError, match=r"copilot\.toml"):
        load_settings()


def test_unknown_setting_in_toml(tmp_path: Path, data_dir: Path) -> None:
    (tmp_path / "copilot.toml").write_text('endpont = "opc.tcp://x:1/"\n')
    with pytest.raises(ConfigError, match="endpont"):
        load_settings()
