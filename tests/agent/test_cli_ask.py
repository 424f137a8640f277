"""`copilot ask` as a person runs it, against a served simulated line and an ingested library.

The commands run in this process through the console entry point (tests/cli_runner.py): LangGraph and the embedding
model load once per test run, not once per command.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge import KnowledgeBase
from tests.cli_runner import copy_library
from tests.conftest import free_port
from tests.copilot.test_cli_pipeline import line_endpoint, run  # noqa: F401  (fixture)


def test_ask_explains_a_jam_as_json_and_in_plain_text(
    tmp_path: Path,
    line_endpoint: str,  # noqa: F811
    library_kb: KnowledgeBase,
) -> None:
    data = tmp_path / "data"
    copy_library(library_kb, data)  # the session's ingest of the library: `ingest` below finds it unchanged
    assert run(data, "users", "add", "ada", "--role", "admin").returncode == 0  # the first admin
    assert run(data, "users", "add", "olga", "--role", "operator", "--as", "ada").returncode == 0
    ingest = run(data, "ingest", str(Path(__file__).resolve().parents[2] / "knowledge" / "library"))
    assert ingest.returncode == 0, ingest.stderr
    assert run(data, "fault", "inject", "conveyor_jam", endpoint=line_endpoint).returncode == 0

    asked = run(
        data, "ask", "Why did the infeed stop?", "--as", "olga", "--observe", "6", "--json", endpoint=line_endpoint
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["provider"] == "offline"
    assert "jam" in answer["causes"][0]["cause"].lower()
    assert any(c["title"].startswith("Infeed Conveyor") for c in answer["citations"])
    used = {r["tag"]: r for r in answer["readings"]}
    assert used["infeed.jam_detected"]["value"] is True
    assert used["infeed.jam_detected"]["source_time"]

    plain = run(data, "ask", "And now?", "--as", "olga", "--thread", "cli", "--observe", "1", endpoint=line_endpoint)
    assert plain.returncode == 0, plain.stderr
    assert "Most likely cause" in plain.stdout
    assert "(offline diagnosis engine" in plain.stdout


def test_ask_with_a_wrong_password_or_a_model_server_that_is_not_there(
    tmp_path: Path,
    line_endpoint: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    data = tmp_path / "data"
    assert run(data, "users", "add", "ada", "--role", "admin").returncode == 0  # the first admin
    assert run(data, "users", "add", "olga", "--role", "operator", "--as", "ada").returncode == 0
    wrong = run(
        data, "ask", "Why?", "--as", "olga", "--observe", "0", password="not the password", endpoint=line_endpoint
    )
    assert wrong.returncode == 1
    assert wrong.stderr.count("\n") == 1
    assert "error:" in wrong.stderr
    assert "Traceback" not in wrong.stderr

    nowhere = f"http://127.0.0.1:{free_port()}/v1"
    monkeypatch.setenv("COPILOT_PROVIDER", "openai")
    monkeypatch.setenv("COPILOT_LLM_BASE_URL", nowhere)
    unreachable = run(data, "ask", "Why?", "--as", "olga", "--observe", "0", endpoint=line_endpoint)
    assert unreachable.returncode == 1
    assert f"cannot reach the model server at {nowhere}" in unreachable.stderr
    assert "Traceback" not in unreachable.stderr
