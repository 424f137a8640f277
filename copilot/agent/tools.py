"""The co-pilot's tools as the model sees them: names, arguments and descriptions written for the model."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, ValidationError

from copilot.agent.prompts import wrap
from copilot.agent.workbench import Workbench
from copilot.errors import CopilotError


class ReadingsArgs(BaseModel):
    tags: list[str] | None = Field(default=None, description="tag names such as filler.bowl_level")
    equipment: str | None = Field(default=None, description="an equipment id such as filler; all its tags")


class TrendArgs(BaseModel):
    tag: str = Field(description="one numeric tag name")
    window_s: float = Field(default=300.0, description="how many seconds back, 5 to 86400")


class NoArgs(BaseModel):
    pass


class SearchArgs(BaseModel):
    query: str = Field(description="what to look for, in plain words or an alarm code")
    equipment: str | None = Field(default=None, description="limit to one equipment id")


class LookupArgs(BaseModel):
    alarm_code: str | None = Field(default=None, description="an alarm code such as INF-101")
    symptom: str | None = Field(default=None, description="what is seen, in plain words")


class ProposeArgs(BaseModel):
    tag: str = Field(description="a writable setpoint tag, e.g. infeed.speed_sp")
    value: float = Field(description="the new value in the tag's unit")
    reason: str = Field(description="why, citing the reading and the document that support it")


def _result(call: Callable[[], Any]) -> str:
    try:
        return wrap(json.dumps(call(), default=str, ensure_ascii=False))
    except CopilotError as err:
        return wrap(json.dumps({"refused": str(err)}))


def build_tools(bench: Workbench) -> list[BaseTool]:
    """Seven tools over one turn's workbench. None approves, executes or writes, nor moves an alarm: not the agent's."""

    def current_readings(tags: list[str] | None = None, equipment: str | None = None) -> str:
        return _result(lambda: bench.current_readings(tags, equipment))

    def trend_summary(tag: str, window_s: float = 300.0) -> str:
        return _result(lambda: bench.trend_summary(tag, window_s))

    def active_alarms() -> str:
        return _result(bench.active_alarms)

    def alarm_history() -> str:
        return _result(bench.alarm_history)

    def search_manuals(query: str, equipment: str | None = None) -> str:
        return _result(lambda: bench.search_manuals(query, equipment))

    def troubleshooting_lookup(alarm_code: str | None = None, symptom: str | None = None) -> str:
        return _result(lambda: bench.troubleshooting(alarm_code, symptom))

    def propose_setpoint_change(tag: str, value: float, reason: str) -> str:
        return _result(lambda: bench.propose(tag, value, reason).__dict__)

    specs: list[tuple[Callable[..., str], type[BaseModel], str]] = [
        (
            current_readings,
            ReadingsArgs,
            "Current live values of some tags, or of all tags of one equipment: value, unit, source timestamp, "
            "quality, normal band and whether it is up, down, on or frozen. Readings marked usable=false are "
            "stale or bad: do not reason on them.",
        ),
        (
            trend_summary,
            TrendArgs,
            "How one numeric tag moved over a window: min, max, mean, slope per minute and seconds spent above "
            "or below its normal band. Refused when the tag's current reading is not usable.",
        ),
        (active_alarms, NoArgs, "The active alarms, highest priority first: code, tag, priority, message, value."),
        (
            alarm_history,
            NoArgs,
            "The latest upset from the alarm journal, oldest first: which alarm came first (first_out) and what "
            "followed, with times. Use it for 'what happened first?'.",
        ),
        (
            search_manuals,
            SearchArgs,
            "Search the plant's manuals, work instructions and SOPs. Returns passages with their citation "
            "(document, section, page or lines). Cite what you use.",
        ),
        (
            troubleshooting_lookup,
            LookupArgs,
            "Look up troubleshooting records by alarm code or by symptom: cause, remedy and related tags, "
            "with the document they come from.",
        ),
        (
            propose_setpoint_change,
            ProposeArgs,
            "Propose a setpoint change on behalf of the person asking. It is checked by the plant's rules and "
            "then waits for a person's approval; it is never written by you. Returns its status and any reasons "
            "it was refused.",
        ),
    ]
    return [
        StructuredTool.from_function(func=func, name=func.__name__, description=text, args_schema=schema)
        for func, schema, text in specs
    ]


def run_tool(tools: dict[str, BaseTool], name: str, arguments: dict[str, Any]) -> str:
    """Run one call the model asked for; an unknown tool or bad arguments become a message back to the model."""
    tool = tools.get(name)
    if tool is None:
        return wrap(json.dumps({"refused": f"there is no tool {name!r}; the tools are {', '.join(tools)}"}))
    try:
        return str(tool.invoke(arguments))
    except (ValidationError, ValueError, TypeError) as err:
        return wrap(json.dumps({"refused": f"bad arguments for {name}: {str(err)[:300]}"}))
