"""The line definitions shipped with the project."""

from pathlib import Path


def default_line_path() -> Path:
    """The bottling line shipped with the project, used by the simulator and the demo."""
    return Path(__file__).parent / "bottling.yaml"
