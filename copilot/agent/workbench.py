"""What the co-pilot may look at and do in one turn, and the record of what it used, for the answer's citations."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from connectors.alarms import ActiveAlarm
from connectors.cache import LiveCache
from connectors.errors import ConnectorError
from connectors.line import LineDefinition, Tag
from connectors.readings import Reading
from copilot.agent.answer import DraftedProposal, ReadingUsed
from copilot.agent.offline.observe import Observation, band_text, trend
from copilot.agent.offline.story import observe_settled
from copilot.errors import CopilotError
from copilot.pipeline import alarm_history
from copilot.pipeline.actions import Action, ActionService
from copilot.pipeline.alarm_history import Episode
from copilot.pipeline.policy import LineSnapshot
from copilot.pipeline.states import Status
from copilot.pipeline.users import User
from knowledge.citations import Citation, RecordHit
from knowledge.errors import KnowledgeError

PASSAGE_CHARS = 700  # what a tool shows of a passage: enough to reason on, short enough for a small context


class LineView(Protocol):
    """A live line as the co-pilot reads it: a LiveLine in the console and the CLI, anything alike in tests."""

    line: LineDefinition

    @property
    def cache(self) -> LiveCache: ...

    @property
    def available(self) -> bool: ...

    def alarms(self) -> list[ActiveAlarm]: ...


class Library(Protocol):
    """The knowledge base calls the co-pilot makes."""

    def search(
        self, query: str, *, k: int = 5, equipment: str | None = None, doc_type: str | None = None
    ) -> list[Citation]: ...

    def records(
        self, query: str | None = None, *, code: str | None = None, equipment: str | None = None, k: int = 10
    ) -> list[RecordHit]: ...


class ToolRefused(CopilotError):
    """A tool could not answer (stale data, unknown tag, bad argument); the message says why, for the model."""


def reading_used(tag: Tag, reading: Reading, observation: Observation | None = None) -> ReadingUsed:
    deviation = observation.deviations.get(tag.name) if observation else None
    return ReadingUsed(
        tag=tag.name,
        value=reading.value,
        unit=tag.unit,
        source_time=reading.source_time.isoformat() if reading.source_time else None,
        quality=reading.quality.value,
        normal=band_text(tag.normal, tag.unit),
        deviation=deviation.direction if deviation else None,
    )


def citation_from_record(record: RecordHit) -> Citation:
    """A troubleshooting row as a citation a person can open: its document, section and page."""
    text = f"{record.symptom or record.code}\nCause: {record.cause}\nRemedy: {record.remedy}"
    return Citation(
        source=record.source,
        doc_id=record.source,
        chunk_id=f"record:{record.source}:{record.code}",
        title=record.title,
        section=record.section,
        page=record.page,
        lines=None,
        score=record.score,
        text=text,
        doc_type=record.doc_type,
        equipment=record.equipment,
        revision="",
        kind="record",
    )


@dataclass
class Workbench:
    """The line, the library and the action pipeline for one person's turn; it keeps what the answer used."""

    line_view: LineView
    library: Library
    actions: ActionService
    requester: User
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    readings_used: dict[str, ReadingUsed] = field(default_factory=dict)
    citations: dict[str, Citation] = field(default_factory=dict)
    proposals: list[DraftedProposal] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    remembered: list[str] = field(default_factory=list)

    @property
    def line(self) -> LineDefinition:
        return self.line_view.line

    # -- looking -------------------------------------------------------------------------------------------
    def observation(self, *, window_s: float = 120.0) -> Observation:
        """The line now, less what approved changes of this shift moved on purpose."""
        recent = self.actions.list_actions(limit=100)
        cache, alarms = self.line_view.cache, self.line_view.alarms()
        return observe_settled(self.line, cache, alarms, recent, now=self.clock(), window_s=window_s)

    def upset(self) -> Episode | None:
        """The latest upset as the alarm journal kept it: what activated first and what followed. Read only."""
        try:
            return alarm_history.upset(self.actions.db, now=self.clock().timestamp())
        except CopilotError as err:
            self.notes.append(f"the alarm journal could not be read: {err}")
            return None

    def alarm_history(self) -> list[dict[str, Any]]:
        episode = self.upset()
        if episode is None:
            return []
        return [
            {
                "first_out": n == 0,
                "code": e.code,
                "tag": e.tag,
                "priority": e.priority,
                "at": datetime.fromtimestamp(e.at, UTC).isoformat(timespec="seconds"),
                "seconds_after_first": round(e.at - episode.first_out.at, 1),
            }
            for n, e in enumerate(episode.alarms)
        ]

    def _tags(self, tags: list[str] | None, equipment: str | None) -> list[Tag]:
        known = {t.name: t for t in self.line.tags}
        if tags:
            unknown = [t for t in tags if t not in known]
            if unknown:
                raise ToolRefused(f"unknown tags: {', '.join(unknown[:5])}; use names such as {self.line.tags[0].name}")
            return [known[t] for t in tags]
        if equipment:
            chosen = [t for t in self.line.tags if t.equipment == equipment]
            if not chosen:
                ids = ", ".join(e.id for e in self.line.equipment)
                raise ToolRefused(f"no equipment {equipment!r}; equipment ids are {ids}")
            return chosen
        raise ToolRefused("name some tags or one equipment id")

    def current_readings(self, tags: list[str] | None = None, equipment: str | None = None) -> list[dict[str, Any]]:
        observation = self.observation()
        rows: list[dict[str, Any]] = []
        for tag in self._tags(tags, equipment)[:40]:
            reading = observation.readings.get(tag.name)
            if reading is None or not reading.usable:
                why = observation.unusable.get(tag.name, "no reading")
                rows.append({"tag": tag.name, "usable": False, "why": f"not usable for reasoning: {why}"})
                continue
            used = reading_used(tag, reading, observation)
            self.readings_used[tag.name] = used
            # The description comes from the line definition, which may have been drafted from what a server
            # says about its nodes: it is shown to the model as data like everything else here.
            rows.append({"usable": True, **used.__dict__, "description": tag.description})
        return rows

    def trend_summary(self, tag: str, window_s: float = 300.0) -> dict[str, Any]:
        if not (math.isfinite(window_s) and 5 <= window_s <= 86_400):
            raise ToolRefused("window_s must be between 5 and 86400 seconds")
        (definition,) = self._tags([tag], None)
        if not definition.data_type.is_numeric:
            raise ToolRefused(f"{tag} is a flag, not a number: ask for its current reading instead")
        reading = self.line_view.cache.reading(tag)
        if reading is None or not reading.usable:
            state = "no reading" if reading is None else reading.quality.value
            raise ToolRefused(f"{tag} is {state} now; a trend of it would describe the past, not the line")
        summary = trend(self.line_view.cache, definition, window_s=window_s, now=self.clock())
        self.readings_used[tag] = reading_used(definition, reading)
        return {**summary.__dict__, "normal": band_text(definition.normal, definition.unit)}

    def active_alarms(self) -> list[dict[str, Any]]:
        if not self.line_view.available:
            raise ToolRefused("the line is not available, so no alarm state can be trusted")
        return [alarm.__dict__ for alarm in self.line_view.alarms()]

    def search_manuals(self, query: str, equipment: str | None = None) -> list[dict[str, Any]]:
        if not query.strip():
            raise ToolRefused("the query is empty")
        try:
            found = self.library.search(query[:500], k=4, equipment=equipment or None)
        except KnowledgeError as err:
            raise ToolRefused(str(err)) from err
        for citation in found:
            self.citations.setdefault(citation.chunk_id, citation)
        return [{"cite": c.where(), "document": c.title, "text": c.text[:PASSAGE_CHARS]} for c in found]

    def troubleshooting(self, alarm_code: str | None = None, symptom: str | None = None) -> list[dict[str, Any]]:
        if not (alarm_code or symptom):
            raise ToolRefused("give an alarm code or a symptom")
        try:
            found = self.library.records(symptom[:500] if symptom else None, code=alarm_code or None, k=4)
        except KnowledgeError as err:
            raise ToolRefused(str(err)) from err
        rows = []
        for record in found[:4]:
            citation = citation_from_record(record)
            self.citations.setdefault(citation.chunk_id, citation)
            rows.append(
                {
                    "code": record.code,
                    "symptom": record.symptom,
                    "cause": record.cause,
                    "remedy": record.remedy,
                    "related_tags": list(record.related_tags),
                    "cite": citation.where(),
                }
            )
        return rows

    # -- proposing -----------------------------------------------------------------------------------------
    def propose(self, tag: str, value: float, reason: str, evidence: list[str] | None = None) -> DraftedProposal:
        """Put a pending proposal into the pipeline for the person asking; policy judges it like any other."""
        snapshot = LineSnapshot(available=self.line_view.available, readings=self.line_view.cache.readings())
        existing = self._same_pending(tag, value)
        try:
            action = existing or self.actions.propose(
                tag,
                value,
                requester=self.requester,
                reason=reason[:500] or "drafted by the co-pilot",
                snapshot=snapshot,
                evidence=list(evidence or [])[:20],
                via_agent=True,
            )
        except (CopilotError, ConnectorError) as err:
            raise ToolRefused(str(err)) from err
        return self.show(action, reason)

    def show(self, action: Action, rationale: str) -> DraftedProposal:
        """Put an action on this answer's proposal cards (once), where people approve or reject it."""
        drafted = DraftedProposal(
            action_id=action.id,
            tag=action.tag,
            current=action.old_value,
            proposed=action.new_value,
            unit=action.unit,
            status=action.status.value,
            reasons=tuple(action.refusals),
            rationale=rationale[:500],
            needs_supervisor=action.supervisor_needed,
        )
        if all(p.action_id != drafted.action_id for p in self.proposals):
            self.proposals.append(drafted)
        return drafted

    def _same_pending(self, tag: str, value: float) -> Action | None:
        # Asking twice must not stack two identical proposals for approvers to sort out.
        for action in self.actions.list_actions(status=Status.PENDING, tag=tag, limit=20):
            if action.requested_by == self.requester.name and action.new_value == value:
                return action
        return None
