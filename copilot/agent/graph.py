"""The conversation graph: ground the question in the live line, let the model use tools, finish one answer."""

from __future__ import annotations

import operator
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Annotated, Any, Literal, TypedDict

from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage, SystemMessage, ToolMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

from copilot.agent import prompts, verify
from copilot.agent.answer import Answer
from copilot.agent.offline import engine as offline
from copilot.agent.tools import build_tools, run_tool
from copilot.agent.workbench import Workbench
from copilot.errors import CopilotError


class ChatState(TypedDict, total=False):
    """What a thread keeps: the conversation, its answers and whose it is; `scratch` is one turn's tool work."""

    messages: Annotated[list[AnyMessage], add_messages]
    answers: Annotated[list[dict[str, Any]], operator.add]
    owner: str
    scratch: list[AnyMessage]
    steps: int


@dataclass
class Turn:
    """One question's live parts, which are not stored in the thread: the workbench, the model, the clock."""

    bench: Workbench
    provider: str
    model_name: str
    thread_id: str
    model: BaseChatModel | None
    max_steps: int
    invoke_model: Callable[[Callable[[], AIMessage]], AIMessage]  # wraps a model call, translating its errors
    started: float = field(default_factory=time.perf_counter)
    diagnosis: offline.Diagnosis | None = None


def evidence(bench: Workbench, diagnosis: offline.Diagnosis, tool_results: list[str]) -> verify.Evidence:
    """What the turn showed the model and what the pipeline now holds of the turn's proposals."""
    texts = [diagnosis.text, *tool_results, *bench.notes, *bench.remembered]
    texts += [c.text for c in bench.citations.values()]
    texts += [f"{r.tag} {r.value} {r.normal or ''}" for r in bench.readings_used.values()]
    texts += [f"{p.tag} {p.current} {p.proposed}" for p in bench.proposals]
    for cause in diagnosis.causes:
        texts += [cause.remedy, cause.lead, *cause.evidence_for, *cause.evidence_against]
        texts += [str(step.get("detail", "")) for step in cause.steps]
    states = set()
    for proposal in bench.proposals:
        try:
            states.add(bench.actions.get(proposal.action_id).status.value)
        except CopilotError:
            states.add(proposal.status)
    return verify.Evidence(
        texts=tuple(texts),
        tags=frozenset(t.name for t in bench.line.tags),
        citations=len(bench.citations),
        done=frozenset(states),
    )


def _text(message: AnyMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") if isinstance(part, dict) else str(part) for part in content)


def _question(state: ChatState) -> str:
    for message in reversed(state.get("messages", [])):
        if isinstance(message, HumanMessage):
            return _text(message)
    raise ValueError("a turn needs a question")


def build_graph(turn: Turn, checkpointer: BaseCheckpointSaver[Any]) -> CompiledStateGraph[Any, Any, Any, Any]:
    tools = {tool.name: tool for tool in build_tools(turn.bench)}

    def ground(state: ChatState) -> dict[str, Any]:
        # The offline engine drafts its own proposals; a language model proposes through its tool, if at all.
        turn.diagnosis = offline.diagnose(turn.bench, _question(state), draft=turn.model is None)
        return {"scratch": [], "steps": 0}

    def route_after_ground(state: ChatState) -> Literal["agent", "finish"]:
        return "finish" if turn.model is None else "agent"

    def agent(state: ChatState) -> dict[str, Any]:
        assert turn.model is not None
        assert turn.diagnosis is not None
        history = [m for m in state.get("messages", [])[:-1] if isinstance(m, HumanMessage | AIMessage)][-8:]
        prompt: list[AnyMessage] = [
            SystemMessage(prompts.SYSTEM.format(line_name=turn.bench.line.line.name)),
            *[type(m)(content=prompts.wrap(_text(m))) for m in history],
            HumanMessage(prompts.BRIEFING.format(briefing=prompts.data(turn.diagnosis.text))),
            HumanMessage(prompts.QUESTION.format(question=prompts.data(_question(state)))),
            *state.get("scratch", []),
        ]
        bound = turn.model.bind_tools(list(tools.values()))

        def call() -> AIMessage:
            reply = bound.invoke(prompt)
            if not isinstance(reply, AIMessage):
                raise TypeError(f"the chat model returned a {type(reply).__name__}, not an AIMessage")
            return reply

        reply = turn.invoke_model(call)
        return {"scratch": [*state.get("scratch", []), reply], "steps": state.get("steps", 0) + 1}

    def route_after_agent(state: ChatState) -> Literal["tools", "finish"]:
        last = state["scratch"][-1]
        if not isinstance(last, AIMessage):
            raise TypeError(f"expected the model's reply last, found {type(last).__name__}")
        wants_tools = bool(last.tool_calls or last.invalid_tool_calls)
        if wants_tools and state.get("steps", 0) >= turn.max_steps:
            turn.bench.notes.append(f"stopped after {turn.max_steps} model calls (COPILOT_AGENT_MAX_STEPS)")
            return "finish"
        return "tools" if wants_tools else "finish"

    def run_tools(state: ChatState) -> dict[str, Any]:
        last = state["scratch"][-1]
        assert isinstance(last, AIMessage)
        replies: list[AnyMessage] = [
            ToolMessage(content=run_tool(tools, call["name"], call["args"]), tool_call_id=call["id"] or call["name"])
            for call in last.tool_calls
        ]
        for bad in last.invalid_tool_calls:
            turn.bench.notes.append(f"the model sent a malformed call to {bad.get('name') or 'a tool'}")
            replies.append(
                ToolMessage(
                    content=prompts.wrap(f"refused: malformed tool call ({str(bad.get('error'))[:200]})"),
                    tool_call_id=bad.get("id") or "malformed",
                )
            )
        return {"scratch": [*state["scratch"], *replies]}

    def finish(state: ChatState) -> dict[str, Any]:
        assert turn.diagnosis is not None
        diagnosis = turn.diagnosis
        text = diagnosis.text
        bench = turn.bench
        unverified: list[str] = []
        if turn.model is not None:
            replies = [m for m in state.get("scratch", []) if isinstance(m, AIMessage)]
            said = _text(replies[-1]).strip() if replies else ""
            text = said if said else f"{prompts.NO_ANSWER}\n\n{diagnosis.text}"
            if said:
                shown = [_text(m) for m in state.get("scratch", []) if isinstance(m, ToolMessage)]
                unverified = [u.as_text() for u in verify.check(said, evidence(bench, diagnosis, shown))]
        answer = Answer(
            text=text,
            causes=diagnosis.causes,
            citations=tuple(bench.citations.values()),
            readings=tuple(bench.readings_used.values()),
            proposals=tuple(bench.proposals),
            provider=turn.provider,
            model=turn.model_name,
            latency_s=0.0,
            thread_id=turn.thread_id,
            abstained=diagnosis.abstained,
            notes=tuple(bench.notes),
            remembered=tuple(bench.remembered),
            unverified=tuple(unverified),
            unverified_count=len(unverified),
        )
        answer = replace(answer, latency_s=round(time.perf_counter() - turn.started, 3))
        return {"messages": [AIMessage(content=text)], "answers": [answer.as_json()], "scratch": []}

    graph = StateGraph(ChatState)
    graph.add_node("ground", ground)
    graph.add_node("agent", agent)
    graph.add_node("tools", run_tools)
    graph.add_node("finish", finish)
    graph.add_edge(START, "ground")
    graph.add_conditional_edges("ground", route_after_ground)
    graph.add_conditional_edges("agent", route_after_agent)
    graph.add_edge("tools", "agent")
    graph.add_edge("finish", END)
    return graph.compile(checkpointer=checkpointer)
