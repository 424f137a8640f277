"""The co-pilot as the console and the CLI call it: ask a question in a thread, get one Answer."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.sqlite import SqliteSaver

from copilot.agent.answer import Answer, answer_from_json
from copilot.agent.graph import Turn, build_graph
from copilot.agent.providers import chat_model, model_errors
from copilot.agent.workbench import Library, LineView, Workbench
from copilot.errors import ConversationError
from copilot.pipeline.actions import ActionService
from copilot.pipeline.users import User
from copilot.settings import Settings

_THREAD_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
MAX_QUESTION_CHARS = 2000


class CoPilot:
    """Answers questions about one line from its live values and the plant library; threads survive restarts."""

    def __init__(
        self,
        settings: Settings,
        *,
        line_view: LineView,
        library: Library,
        actions: ActionService,
        model: BaseChatModel | None = None,
    ) -> None:
        self.settings = settings
        self.line_view = line_view
        self.library = library
        self.actions = actions
        self.provider = settings.provider
        if model is None and self.provider != "offline":
            model = chat_model(settings)
        self.model = model
        self.model_name = "offline diagnosis engine" if model is None else settings.llm_model
        path = Path(settings.ensure_data_dir()) / "threads.sqlite"
        # One connection shared by the console's sessions; SqliteSaver serialises its own use of it.
        self._connection = sqlite3.connect(path, check_same_thread=False)
        self._checkpointer = SqliteSaver(self._connection)
        self._checkpointer.setup()

    def close(self) -> None:
        self._connection.close()

    def _config(self, thread_id: str) -> RunnableConfig:
        if not _THREAD_ID.match(thread_id):
            raise ConversationError("a thread id is 1 to 64 letters, digits, '.', ':', '_' or '-'")
        return RunnableConfig(
            configurable={"thread_id": thread_id}, recursion_limit=4 * self.settings.agent_max_steps + 10
        )

    def _values(self, thread_id: str, user: User | None) -> dict[str, Any]:
        saved = self._checkpointer.get_tuple(self._config(thread_id))
        values: dict[str, Any] = dict(saved.checkpoint["channel_values"]) if saved else {}
        owner = values.get("owner")
        if user is not None and owner is not None and owner != user.name:
            raise ConversationError(f"thread {thread_id} belongs to {owner}; start a thread of your own")
        return values

    def ask(self, question: str, *, thread_id: str, user: User) -> Answer:
        """Answer `question` for `user` in `thread_id`, with the causes, citations, readings and proposals used."""
        question = question.strip()
        if not question:
            raise ConversationError("the question is empty")
        if len(question) > MAX_QUESTION_CHARS:
            raise ConversationError(f"the question is longer than {MAX_QUESTION_CHARS} characters; shorten it")
        config = self._config(thread_id)
        self._values(thread_id, user)
        turn = Turn(
            bench=Workbench(self.line_view, self.library, self.actions, user),
            provider=self.provider,
            model_name=self.model_name,
            thread_id=thread_id,
            model=self.model,
            max_steps=self.settings.agent_max_steps,
            invoke_model=self._invoke,
        )
        start: dict[str, Any] = {"messages": [HumanMessage(question)], "owner": user.name}
        result = build_graph(turn, self._checkpointer).invoke(start, config)
        return answer_from_json(result["answers"][-1])

    def thread_history(self, thread_id: str, user: User | None = None) -> list[tuple[str, str]]:
        """The thread's questions and answers in order, as (role, text) pairs."""
        values = self._values(thread_id, user)
        return [
            ("user" if isinstance(m, HumanMessage) else "assistant", str(m.content))
            for m in values.get("messages", [])
            if isinstance(m, HumanMessage | AIMessage)
        ]

    def thread_answers(self, thread_id: str, user: User | None = None) -> list[Answer]:
        return [answer_from_json(a) for a in self._values(thread_id, user).get("answers", [])]

    def _invoke(self, call: Callable[[], AIMessage]) -> AIMessage:
        with model_errors(self.settings):
            return call()
