"""Chat models from configuration (any OpenAI-compatible server, or Ollama's), and their errors translated."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_openai import ChatOpenAI
from pydantic import SecretStr

from copilot.errors import ModelUnavailable
from copilot.settings import Settings


class _ChatCompletions(ChatOpenAI):
    """ChatOpenAI whose assistant messages always carry text content, as strict servers require."""

    def _get_request_payload(
        self, input_: LanguageModelInput, *, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        payload: dict[str, Any] = super()._get_request_payload(input_, stop=stop, **kwargs)
        # An assistant turn that only calls tools is sent with content null; llama.cpp's server (and others that
        # validate against the OpenAI schema strictly) answer 500 to that, so every turn after a tool call failed.
        for message in payload.get("messages", []):
            if message.get("role") == "assistant" and message.get("content") is None:
                message["content"] = ""
        return payload


def chat_model(settings: Settings) -> BaseChatModel:
    """The configured model; one call per request, no retries, a hard timeout and a token limit the server sees."""
    key = settings.llm_api_key.get_secret_value() if settings.llm_api_key else "not-needed"
    return _ChatCompletions(
        base_url=settings.model_base_url(),
        model=settings.llm_model,
        api_key=SecretStr(key),
        timeout=settings.llm_timeout_s,
        # A retry would hide a failing server from the person waiting and double the wait; say so instead.
        max_retries=0,
        temperature=0.0,
        # Some servers (llama.cpp among them) ignore the newer max_completion_tokens field that the client sends
        # for max_tokens; the body field is honoured by all of them.
        extra_body={"max_tokens": settings.llm_max_tokens},
    )


@contextmanager
def model_errors(settings: Settings) -> Iterator[None]:
    """Turn the client library's failures into one ModelUnavailable that says what to check."""
    where = settings.llm_base_url or settings.provider
    try:
        yield
    except openai.APITimeoutError as err:
        raise ModelUnavailable(
            f"the model server at {where} did not answer within {settings.llm_timeout_s:g} s; "
            "check that it is running, or raise COPILOT_LLM_TIMEOUT_S"
        ) from err
    except openai.APIConnectionError as err:
        raise ModelUnavailable(
            f"cannot reach the model server at {where}; start it or correct COPILOT_LLM_BASE_URL"
        ) from err
    except openai.AuthenticationError as err:
        raise ModelUnavailable(f"the model server at {where} refused the API key; set COPILOT_LLM_API_KEY") from err
    except openai.NotFoundError as err:
        raise ModelUnavailable(
            f"the model server at {where} has no model {settings.llm_model!r}; set COPILOT_LLM_MODEL"
        ) from err
    except openai.APIStatusError as err:
        raise ModelUnavailable(f"the model server at {where} answered {err.status_code}: {err.message}") from err
    except openai.OpenAIError as err:
        raise ModelUnavailable(f"the model server at {where} failed: {err}") from err
