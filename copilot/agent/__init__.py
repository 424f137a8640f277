"""The agent: a LangGraph loop over tools, the model providers, the answer it gives, and the offline engine."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from copilot.agent.answer import Answer, DraftedProposal, RankedCause, ReadingUsed

if TYPE_CHECKING:
    from copilot.agent.conversation import CoPilot
    from copilot.agent.offline.story import Story, line_story


def __getattr__(name: str) -> Any:
    # LangGraph and the model clients take seconds to import; only a conversation needs them.
    if name == "CoPilot":
        return import_module("copilot.agent.conversation").CoPilot
    if name in ("line_story", "Story"):
        return getattr(import_module("copilot.agent.offline.story"), name)
    raise AttributeError(f"module 'copilot.agent' has no attribute {name!r}")


__all__ = ["Answer", "CoPilot", "DraftedProposal", "RankedCause", "ReadingUsed", "Story", "line_story"]
