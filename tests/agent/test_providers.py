"""Provider configuration: the right server for each provider, and bad settings stopped with their name."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_openai import ChatOpenAI

from copilot.agent.providers import chat_model
from copilot.settings import OLLAMA_BASE_URL, ConfigError, load_settings


def test_ollama_has_a_default_server_and_openai_needs_one(tmp_path: Path) -> None:
    ollama = chat_model(load_settings(data_dir=tmp_path, provider="ollama", llm_model="llama3.2"))
    assert isinstance(ollama, ChatOpenAI)
    assert ollama.openai_api_base == OLLAMA_BASE_URL
    assert ollama.model_name == "llama3.2"
    with pytest.raises(ConfigError, match="COPILOT_LLM_BASE_URL"):
        chat_model(load_settings(data_dir=tmp_path, provider="openai"))


def test_no_retries_a_timeout_and_the_token_limit_in_the_body(tmp_path: Path) -> None:
    settings = load_settings(
        data_dir=tmp_path,
        provider="openai",
        llm_base_url="http://127.0.0.1:8000/v1",
        llm_timeout_s=7,
        llm_max_tokens=99,
        llm_api_key="k-123",
    )
    model = chat_model(settings)
    assert isinstance(model, ChatOpenAI)
    assert model.max_retries == 0
    assert model.request_timeout == 7
    assert model.extra_body == {"max_tokens": 99}
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "k-123"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("provider", "gpt", "provider"),
        ("llm_base_url", "ftp://x", "llm_base_url"),
        ("llm_max_tokens", 0, "llm_max_tokens"),
        ("agent_max_steps", 0, "agent_max_steps"),
    ],
)
def test_bad_provider_settings_are_named(tmp_path: Path, field: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_settings(data_dir=tmp_path, **{field: value})
