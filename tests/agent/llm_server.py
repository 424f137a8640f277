"""The real model for integration tests: the llama.cpp server of `evals/llama_server.py`, once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from evals.llama_server import MODEL_ALIAS, serving
from tests.conftest import free_port

__all__ = ["MODEL_ALIAS", "llm_server"]


def _model_dir(config: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The pytest cache outlives the run, so the 253 MB model is joined once per checkout; without it, a temp dir.
    cache = getattr(config, "cache", None)
    return Path(cache.mkdir("llm-model")) if cache is not None else tmp_path_factory.mktemp("llm-model")


@pytest.fixture(scope="session")
def llm_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's server with Gemma 3 270M on a free loopback port for the whole run; yields its base URL."""
    log = tmp_path_factory.mktemp("llm-server") / "server.log"
    try:
        with serving(_model_dir(request.config, tmp_path_factory), log, free_port()) as base_url:
            yield base_url
    except RuntimeError as err:
        pytest.fail(str(err))
