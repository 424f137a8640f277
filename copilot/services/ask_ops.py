"""The work behind `copilot ask`: watch the line for a moment, then put the question to the co-pilot."""

from __future__ import annotations

import time

from connectors.errors import LineUnavailable
from connectors.live_line import LiveLine
from copilot.agent import CoPilot
from copilot.agent.answer import Answer
from copilot.pipeline.users import User
from copilot.services import pipeline_ops
from copilot.services.kb_ops import open_kb
from copilot.services.line_ops import connection
from copilot.services.pipeline_ops import Context


def ask(ctx: Context, user: User, question: str, *, thread_id: str, observe_s: float) -> Answer:
    """Connect, collect `observe_s` seconds of values (trends and frozen sensors need some), then ask once.

    The console keeps its line connection open, so its answers draw on minutes of history; a one-off command
    only has what it saw while it waited.
    """
    settings = ctx.settings
    library = open_kb(settings)
    live = LiveLine(
        ctx.line,
        connection(settings),
        history_samples=settings.history_samples,
        publishing_interval_ms=settings.publishing_interval_ms,
    )
    with live:
        try:
            live.wait_ready(10.0)
            time.sleep(observe_s)
        except LineUnavailable:
            pass  # the co-pilot says the line is unavailable instead of guessing from nothing
        copilot = CoPilot(settings, line_view=live, library=library, actions=ctx.service)
        try:
            answer = copilot.ask(question, thread_id=thread_id, user=user)
        finally:
            copilot.close()
    pipeline_ops.note_answer(ctx, user.name, question, answer)
    return answer
