"""The README documents every setting and every command; a missing one fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer.main

from copilot.cli import app
from copilot.settings import Settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def command_paths(group: Any, prefix: str = "copilot") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        if hasattr(command, "commands"):  # a sub-group such as `fault`
            paths.extend(command_paths(command, f"{prefix} {name}"))
        else:
            paths.append(f"{prefix} {name}")
    return paths


def test_every_setting_is_documented() -> None:
    missing = [f"COPILOT_{name.upper()}" for name in Settings.model_fields if f"COPILOT_{name.upper()}" not in README]
    assert missing == []


def test_every_command_is_documented() -> None:
    group = typer.main.get_command(app)
    paths = command_paths(group)
    assert "copilot fault inject" in paths
    assert [p for p in paths if f"`{p}" not in README] == []


def test_readme_names_the_two_commands() -> None:
    assert "make demo" in README
    assert "make test" in README
    assert "make test" in (Path(__file__).resolve().parent.parent / ".ci" / "run").read_text()
