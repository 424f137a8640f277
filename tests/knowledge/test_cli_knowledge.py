"""`copilot ingest`, `copilot search` and `copilot records` as a technician runs them.

In this process through the console entry point (tests/cli_runner.py): the embedding model loads once per test run,
not once per command.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli_runner import Ran, copilot
from tests.knowledge.samples import write_all


def run(*args: str, data_dir: Path) -> Ran:
    return copilot(*args, env={"COPILOT_DATA_DIR": str(data_dir)}, cwd=data_dir.parent)


def test_ingest_search_and_records_as_json(tmp_path: Path) -> None:
    folder = tmp_path / "docs"
    write_all(folder)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 broken")
    data = tmp_path / "data"

    result = run("ingest", str(folder), "--json", data_dir=data)
    assert result.returncode == 3, result.stderr  # some files skipped
    summary = json.loads(result.stdout)
    assert summary["added"] == 6
    assert [s["source"] for s in summary["skipped"]] == [str(folder / "broken.pdf")]
    assert summary["records"] >= 4

    again = run("ingest", str(folder / "filler.md"), data_dir=data)
    assert again.returncode == 0, again.stderr
    assert "1 unchanged" in again.stdout

    result = run("search", "QQ-777", "--k", "2", "--json", data_dir=data)
    assert result.returncode == 0, result.stderr
    hits = json.loads(result.stdout)
    assert {"source", "title", "section", "page", "lines", "score", "text"} <= set(hits[0])
    assert "QQ-777" in hits[0]["text"]
    assert hits[0]["source"] == str(folder / "air.rst")

    result = run("search", "glue", "--equipment", "case_packer", "--type", "manual", "--json", data_dir=data)
    assert {h["equipment"] for h in json.loads(result.stdout)} == {"case_packer"}

    result = run("records", "--code", "QQ-777", "--json", data_dir=data)
    [record] = json.loads(result.stdout)
    assert record["cause"] == "Compressor intake filter blocked"


def test_bad_collection_name_is_one_line(tmp_path: Path) -> None:
    result = run("search", "x", "--collection", "../etc", data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert result.stderr.startswith("error:")
    assert "COPILOT_COLLECTION" in result.stderr
    assert "Traceback" not in result.stderr
