"""The offline provider: a grounded diagnosis with citations, readings and drafted proposals, no model needed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from connectors.display import clock_and_age
from copilot.agent.answer import RankedCause
from copilot.agent.offline.conditions import JudgedStep, State, judge
from copilot.agent.offline.diagnosis import ABSTAIN_BELOW, Candidate, rank
from copilot.agent.offline.memory import direction, recall, since, told
from copilot.agent.offline.observe import Observation
from copilot.agent.workbench import ToolRefused, Workbench, citation_from_record, reading_used
from copilot.pipeline.alarm_history import Episode
from copilot.pipeline.signin import clock_time
from knowledge.citations import Citation, RecordHit
from knowledge.errors import KnowledgeError
from knowledge.steps import StepKind, parse_steps

# Only a cause this likely is worth an approver's time.
DRAFT_AT = 0.5
TOP_CAUSES = 3
SUPPORTING_PASSAGES = 2


@dataclass(frozen=True, kw_only=True)
class Adjustment:
    tag: str
    value: float
    sentence: str


@dataclass(frozen=True, kw_only=True)
class Diagnosis:
    text: str
    causes: tuple[RankedCause, ...]
    abstained: bool


def judged_steps(bench: Workbench, record: RecordHit, observation: Observation) -> list[JudgedStep]:
    """Every step of the record's remedy, each condition settled against the live line or left for a person."""
    cache = bench.line_view.cache
    return [judge(step, record, bench.line, observation, cache, bench.clock()) for step in parse_steps(record.remedy)]


def leading(steps: list[JudgedStep]) -> list[JudgedStep]:
    """Steps that stop, replace or call maintenance whose condition the line now meets: they come first."""
    return [j for j in steps if j.step.kind.escalates and j.conditional and j.state is State.MET]


def _adjustment(
    bench: Workbench, steps: list[JudgedStep], remembered: list[str], watched: list[str]
) -> Adjustment | None:
    """The first setpoint step that applies now and that nobody already said no to or tried this shift."""
    writable = {t.name: t for t in bench.line.tags if t.writable}
    # "Do not change `capper.torque_sp`": a setpoint the remedy itself forbids is never drafted from it.
    forbidden = {tag for j in steps if j.step.kind is StepKind.AVOID for tag in j.step.tags}
    now = bench.clock().timestamp()
    for judged in steps:
        step = judged.step
        if step.kind is not StepKind.ADJUST or step.amount is None or step.tag not in writable:
            continue
        if judged.state is not State.MET:
            if judged.state is State.CHECK:
                bench.notes.append(f"no proposal from '{step.text[:80]}': {judged.detail}; a person judges it")
            continue
        if step.tag in forbidden:
            bench.notes.append(f"no proposal for {step.tag}: the remedy says not to change it")
            continue
        reading = bench.line_view.cache.reading(step.tag)
        if reading is None or not reading.usable or not isinstance(reading.value, int | float):
            bench.notes.append(f"no proposal for {step.tag}: its reading is not usable")
            continue
        current = float(reading.value)
        value = current + step.amount if step.how == "by" else step.amount
        # What people already decided comes first: "already tried" says more than "further from its band".
        past = recall(bench.actions, step.tag, direction(current, value), now=now)
        if past is not None:
            sentence = told(past, now)
            if past.verdict == "pending":
                bench.show(past.action, past.action.reason)  # the card to approve is the one already waiting
                remembered.append(sentence)
                return None
            if past.verdict == "tried":
                looked_at = [bench.line.tag(t) for t in (watched or [step.tag])]
                sentence += " " + since(bench.line_view.cache, looked_at, past.at)
            remembered.append(sentence)
            continue  # said no to or tried: the remedy's next step that applies may still help
        normal = writable[step.tag].normal
        if normal is not None and _further_out(current, value, normal.low, normal.high):
            bench.notes.append(f"no proposal for {step.tag}: {value:g} would take it further from its normal band")
            continue
        return Adjustment(tag=step.tag, value=round(value, 6), sentence=step.text)
    return None


def _further_out(current: float, value: float, low: float, high: float) -> bool:
    """A step that takes a setpoint already outside its normal band further out.

    Leaving the band on purpose is a remedy's business ("reduce the line speed to take heat off a bearing"); going
    further the wrong way from an unusual setting means the record does not fit what someone already changed.
    """

    def distance(x: float) -> float:
        return max(low - x, 0.0, x - high)

    return distance(current) > 0 and distance(value) > distance(current)


def _supporting(bench: Workbench, candidate: Candidate) -> list[Citation]:
    record = candidate.record
    query = f"{record.cause} {record.remedy}"[:500]
    try:
        found = bench.library.search(query, k=SUPPORTING_PASSAGES + 1, equipment=record.equipment or None)
    except KnowledgeError as err:
        bench.notes.append(f"manual search failed: {err}")
        return []
    # The passage of the row itself carries nothing new beside the row: prefer the procedure around it.
    return [c for c in found if c.kind != "table"][:SUPPORTING_PASSAGES] or found[:1]


def _cause(bench: Workbench, candidate: Candidate, steps: list[JudgedStep]) -> RankedCause:
    record = candidate.record
    citations = [citation_from_record(record), *(citation_from_record(m) for m in candidate.merged)]
    citations += _supporting(bench, candidate)
    for citation in citations:
        bench.citations.setdefault(citation.chunk_id, citation)
    return RankedCause(
        cause=record.cause,
        confidence=candidate.confidence,
        remedy=record.remedy,
        code=record.code,
        evidence_for=candidate.evidence_for,
        evidence_against=candidate.evidence_against,
        citations=tuple(citations),
        steps=tuple(j.as_json() for j in steps),
        lead=next((f"{j.step.text} ({j.detail})" for j in leading(steps)), ""),
        consequences=tuple(candidate.consequences),
    )


def _use_readings(bench: Workbench, observation: Observation, tags: list[str]) -> None:
    for name in tags:
        reading = observation.readings.get(name)
        if reading is not None and reading.usable:
            bench.readings_used.setdefault(name, reading_used(bench.line.tag(name), reading, observation))


def _listing(observation: Observation) -> str:
    parts = [f"alarm {a.code} ({a.priority}): {a.message}" for a in observation.alarms]
    parts += [f"{d.tag} {d.detail}" for d in observation.deviations.values()]
    return "; ".join(parts[:12]) + (" …" if len(parts) > 12 else "")


def diagnose(bench: Workbench, question: str, *, draft: bool = True) -> Diagnosis:
    """Rank the library's troubleshooting records against the live line and say what they support.

    With `draft`, a setpoint change that the best cause's remedy asks for goes into the pipeline as a pending
    proposal; without it (the grounding of a language model) nothing is proposed here.
    """
    if not bench.line_view.available:
        reason = bench.line_view.cache.availability_reason or "not connected"
        return Diagnosis(
            text=(
                f"I cannot diagnose now: the line is not available ({reason}). The values I last saw are stale, "
                "and I do not reason on stale values. Check the connection to the line's OPC UA server."
            ),
            causes=(),
            abstained=True,
        )
    observation = bench.observation()
    try:
        records = bench.library.records()
    except KnowledgeError as err:
        raise ToolRefused(f"the knowledge base cannot be read: {err}") from err
    if not records:
        return Diagnosis(
            text=(
                "I have no troubleshooting records to reason with: the knowledge base is empty. Ingest the plant "
                "library with `copilot ingest` and ask again."
            ),
            causes=(),
            abstained=True,
        )
    ranked = rank(observation, records, bench.line, question=question)
    judged = len(bench.line.tags) - len(observation.unusable)
    unusable_note = (
        f" {len(observation.unusable)} tags were not usable and were left out: "
        + ", ".join(f"{t} ({why})" for t, why in list(observation.unusable.items())[:6])
        + "."
        if observation.unusable
        else ""
    )
    if not observation.deviations and not observation.alarms:
        _use_readings(bench, observation, [t.name for t in bench.line.tags if t.normal is not None][:12])
        return Diagnosis(
            text=(
                f"No fault found. I checked {judged} live tags: every one with a normal band reads inside it, none "
                f"is frozen and no alarm is active.{unusable_note} If something looks wrong on the line, tell me "
                "what you see." + (f"\n\n{recent}" if (recent := upset_line(bench.upset())) else "")
            ),
            causes=(),
            abstained=True,
        )
    if not ranked or ranked[0].score < ABSTAIN_BELOW:
        _use_readings(bench, observation, list(observation.deviations))
        best = f" The closest record, '{ranked[0].record.cause}', explains too little of it." if ranked else ""
        return Diagnosis(
            text=(
                "I do not know what causes this. What I see outside normal: "
                f"{_listing(observation)}. No troubleshooting record in the library matches it well enough.{best}"
                f"{unusable_note} A technician should look at the equipment."
            ),
            causes=(),
            abstained=True,
        )
    per_cause = [judged_steps(bench, c.record, observation) for c in ranked[:TOP_CAUSES]]
    causes = [_cause(bench, c, steps) for c, steps in zip(ranked[:TOP_CAUSES], per_cause, strict=True)]
    _use_readings(bench, observation, list(observation.deviations))
    top, steps = ranked[0], per_cause[0]
    first = leading(steps)
    remembered: list[str] = []
    drafted = ""
    watched = [t for t in top.record.related_tags if t in observation.deviations]
    if first:
        # The manual's own condition for stopping, replacing or calling maintenance is met: a setpoint stopgap
        # would only delay that, so none is drafted for this cause.
        bench.notes.append(f"no setpoint stopgap drafted: '{first[0].step.text[:80]}' applies now")
    elif draft and top.confidence >= DRAFT_AT and (change := _adjustment(bench, steps, remembered, watched)):
        proposal = bench.propose(
            change.tag,
            change.value,
            f"{change.sentence} (remedy for: {top.record.cause[:200]})",
            evidence=list(top.evidence_for),
        )
        verdict = (
            "pending approval" + (" by an operator and a supervisor" if proposal.needs_supervisor else "")
            if proposal.status == "pending"
            else f"refused by policy: {'; '.join(proposal.reasons)}"
        )
        drafted = (
            f"\n\nI drafted a setpoint change for approval: {proposal.tag} from {proposal.current:g} to "
            f"{proposal.proposed:g} {proposal.unit}, {verdict}. Nothing is written until it is approved."
            if proposal.current is not None
            else f"\n\nI drafted a setpoint change for {proposal.tag}: {verdict}."
        )
    bench.remembered.extend(remembered)
    upset, asked = upset_line(bench.upset()), bool(ASKS_FIRST.search(question))
    others = per_cause[1:]
    text = _compose(causes, steps, first, remembered, observation, unusable_note, others, upset, asked) + drafted
    return Diagnosis(text=text, causes=tuple(causes), abstained=False)


# "What happened first?", "which alarm started it", "in what order": the journal's answer leads.
ASKS_FIRST = re.compile(r"\b(first|start(ed|s)?|began|begin|order|sequence)\b", re.IGNORECASE)
UPSET_SHOWN = 6


def upset_line(episode: Episode | None) -> str:
    """The alarms of the latest upset in the order the journal kept them, first-out named."""
    if episode is None:
        return ""
    first = episode.first_out
    then = [f"{e.code} at {clock_time(e.at, seconds=True)}" for e in episode.alarms[1:UPSET_SHOWN]]
    more = len(episode.alarms) - UPSET_SHOWN
    at = clock_time(first.at, seconds=True)
    text = f"First alarm of this upset (the alarm journal): {first.code} on {first.tag} at {at}"
    if then:
        text += "; then " + ", ".join(then) + (f" and {more} more" if more > 0 else "")
    return text + "."


def confidence_words(confidence: float) -> str:
    return "high" if confidence >= 0.8 else "medium" if confidence >= 0.5 else "low"


def _step_line(j: JudgedStep) -> str:
    text = j.step.text.rstrip(";")
    if not j.conditional:
        return text
    if j.state is State.MET:
        return f"{text} [condition met: {j.detail}]"
    if j.state is State.NOT_MET:
        return f"{text} [not now: {j.detail}]"
    return f"check: {text} [{j.detail}]"


def _short(cause: str) -> str:
    """A cause's first clause: "Worn magnetic clutch on one or more capping heads"."""
    return cause.split(":")[0].split(";")[0].strip().rstrip(".")


def _consequence_line(tags: tuple[str, ...], observation: Observation, shown: int = 5) -> str:
    details = [f"{t} {observation.deviations[t].detail}" for t in tags[:shown] if t in observation.deviations]
    more = f"; and {len(tags) - shown} more" if len(tags) > shown else ""
    return f"Follows from it ({len(tags)} deviations, effects rather than causes): " + "; ".join(details) + more + "."


def _on_purpose_line(changes: list[str], followers: int) -> str:
    after = f"; {followers} more {'tag' if followers == 1 else 'tags'} moved with them" if followers else ""
    return (
        "Not counted as faults, moved on purpose: "
        + "; ".join(c.removeprefix("set on purpose: ") for c in changes)
        + after
        + "."
    )


def _compose(
    causes: list[RankedCause],
    steps: list[JudgedStep],
    first: list[JudgedStep],
    remembered: list[str],
    observation: Observation,
    unusable_note: str,
    others: list[list[JudgedStep]],
    upset: str = "",
    upset_first: bool = False,
) -> str:
    """The answer's text; `others` holds the judged steps of each cause after the first."""
    top = causes[0]
    source = top.citations[0].where() if top.citations else "the library"
    lines = [
        f"Most likely cause ({confidence_words(top.confidence)} confidence, {top.confidence:.2f}): {top.cause}",
    ]
    if upset and upset_first:
        lines.append(upset)
    if first:
        lead = first[0]
        lines.append(f"Do first: {lead.step.text.rstrip(';.')}. The manual's condition is met: {lead.detail}.")
    elif (
        now := next((j for j in steps if j.state is State.MET and j.step.kind is not StepKind.AVOID), None)
    ) is not None:
        met = f" Its condition is met: {now.detail}." if now.conditional else ""
        lines.append(f"Do first: {now.step.text.rstrip(';.')}.{met}")
    # A second fault whose manual says to stop or replace at once must not hide under "other possible causes".
    for other, its_steps in zip(causes[1:], others, strict=False):
        if urgent := leading(its_steps):
            lines.append(
                f"Also now, if it is '{_short(other.cause)}' ({other.confidence:.2f}): "
                f"{urgent[0].step.text.rstrip(';.')}. The manual's condition is met: {urgent[0].detail}."
            )
    lines += ["", "Evidence on the line: " + ("; ".join(top.evidence_for[:6]) or "none") + "."]
    if top.evidence_against:
        lines.append("Against it: " + "; ".join(top.evidence_against[:4]) + ".")
    if top.consequences:
        lines.append(_consequence_line(top.consequences, observation))
    if upset and not upset_first:
        lines.append(upset)
    if deliberate := [why for why in observation.on_purpose.values() if why.startswith("set on purpose")]:
        lines.append(_on_purpose_line(deliberate, len(observation.on_purpose) - len(deliberate)))
    lines += ["", f"What to do ({source}):"]
    lines += [f"{j.step.order}. {_step_line(j)}" for j in steps] or [top.remedy]
    if remembered:
        lines += ["", *remembered]
    if len(causes) > 1:
        lines += ["", "Other possible causes:"]
        lines += [f"{i}. {c.cause} (confidence {c.confidence:.2f})" for i, c in enumerate(causes[1:], start=2)]
    stamp = clock_and_age(observation.at)
    lines += ["", f"Based on the live values at {stamp}.{unusable_note}"]
    return "\n".join(lines)
