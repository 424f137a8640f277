"""The offline diagnosis: troubleshooting records scored by how much of their evidence the live line shows."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from connectors.line import LineDefinition
from copilot.agent.offline.observe import Observation
from copilot.agent.offline.story import downstream
from knowledge.citations import RecordHit
from knowledge.steps import moves

# Records about a dead or stuck transmitter: for them a frozen value is the evidence and a moving one is not.
_FROZEN_WORDS = re.compile(
    r"\b(frozen|freezes|stuck|flat ?line|does not change|doesn't change|not changing|stopped updating|"
    r"stops updating|not updating|repeats)\b",
    re.IGNORECASE,
)
_CODE = re.compile(r"\b[A-Z]{2,4}-\d{3}\b")
# Weights of the score: how much of the record's evidence is seen, and how much of what is seen it explains.
RECALL_WEIGHT = 0.55
COVERAGE_WEIGHT = 0.45
ALARM_BONUS = 0.1
ASKED_CODE_BONUS = 0.3
ASKED_EQUIPMENT_BONUS = 0.05
# An effect downstream of a record's evidence counts as explained, but at half weight: a symptom the record names
# itself says more about it than a deviation that any cause upstream would explain as well.
CONSEQUENCE_WEIGHT = 0.5
# Below this the best match explains too little to be called a cause.
ABSTAIN_BELOW = 0.35


@dataclass(frozen=True, kw_only=True)
class Candidate:
    """One troubleshooting record judged against the line."""

    record: RecordHit
    score: float
    evidence_for: tuple[str, ...]
    evidence_against: tuple[str, ...]
    not_judged: tuple[str, ...]  # related tags with no usable reading
    merged: tuple[RecordHit, ...] = ()  # alarm-list rows that describe the same event
    # Deviations downstream of its evidence along the line's `follows` links, each with the tag it follows.
    consequences: dict[str, str] = field(default_factory=dict)
    roots: tuple[str, ...] = ()  # the deviating tags it names itself, and its active alarm's tag

    @property
    def confidence(self) -> float:
        return round(min(max(self.score, 0.0), 0.99), 2)


def about_frozen(record: RecordHit) -> bool:
    return bool(_FROZEN_WORDS.search(f"{record.symptom} {record.cause}"))


def asked_codes(question: str) -> set[str]:
    return {code.upper() for code in _CODE.findall(question.upper())}


def asked_equipment(line: LineDefinition, question: str) -> set[str]:
    """Equipment a question names by id or by name ("filler", "case packer", "the chiller")."""
    words = question.lower().replace("-", " ").replace("_", " ")
    found = set()
    for equipment in line.equipment:
        names = {equipment.id.replace("_", " "), equipment.name.lower()}
        if any(re.search(rf"\b{re.escape(name)}s?\b", words) for name in names):
            found.add(equipment.id)
    return found


def _judge(
    record: RecordHit,
    observation: Observation,
    known_tags: set[str],
    setpoints: set[str],
    graph: Mapping[str, Sequence[str]],
) -> Candidate:
    related = [t for t in record.related_tags if t in known_tags]
    frozen_record = about_frozen(record)
    remedy_moves = moves(record.remedy)
    support = 0.0
    evidence_for: list[str] = []
    evidence_against: list[str] = []
    not_judged: list[str] = []
    supporting: list[str] = []
    for tag in related:
        deviation = observation.deviations.get(tag)
        if deviation is not None and remedy_moves.get(tag) == deviation.direction:
            # The remedy would push this setpoint further the way it already strays: the record is not about this.
            evidence_against.append(f"{tag} {deviation.detail}; the remedy would move it further {deviation.direction}")
        elif deviation is not None:
            if (deviation.direction == "frozen") == frozen_record:
                support += deviation.weight
                supporting.append(tag)
                evidence_for.append(f"{tag} {deviation.detail}")
            elif frozen_record:
                evidence_against.append(f"{tag} is moving ({deviation.detail}), so its transmitter is alive")
            else:
                # A frozen value proves nothing about the process it no longer measures.
                not_judged.append(f"{tag} (its value is frozen)")
        elif tag in observation.in_band and tag not in setpoints and not frozen_record:
            # A setpoint at its usual value says nothing against a fault, nor does a live value against a dead
            # transmitter elsewhere; a measurement in band does count against a process fault.
            evidence_against.append(f"{tag} is inside its normal band")
        elif tag in observation.unusable:
            not_judged.append(f"{tag} ({observation.unusable[tag]})")
    judged = len(evidence_for) + len(evidence_against)
    total_weight = sum(d.weight for d in observation.deviations.values())
    active = {a.code: a for a in observation.alarms}
    roots = [*supporting, *([active[record.code].tag] if record.code in active else [])]
    # What follows from the evidence is explained by the cause too: a jam that stops the line explains every
    # speed, current and count that dropped with it.
    consequences = downstream(graph, observation.deviations, roots)
    explained = support + CONSEQUENCE_WEIGHT * sum(observation.deviations[t].weight for t in consequences)
    # One matching tag is weak evidence, several agreeing tags are strong: the share seen is discounted by how
    # few they are (1 tag: half, 2: three quarters, 4: 94 %).
    recall = (support / judged) * (1.0 - 0.5**support) if judged else 0.0
    coverage = min(1.0, explained / total_weight) if total_weight else 0.0
    score = RECALL_WEIGHT * recall + COVERAGE_WEIGHT * coverage
    if record.code in active:
        alarm = active[record.code]
        evidence_for.insert(0, f"alarm {alarm.code} active: {alarm.message}")
        score += ALARM_BONUS if support else RECALL_WEIGHT * 0.5 + ALARM_BONUS
    return Candidate(
        record=record,
        score=score,
        evidence_for=tuple(evidence_for),
        evidence_against=tuple(evidence_against),
        not_judged=tuple(not_judged),
        consequences=consequences,
        roots=tuple(dict.fromkeys(roots)),
    )


def _covers(host: RecordHit, row: RecordHit) -> bool:
    if row.kind != "alarm":
        return False
    if host.kind == "alarm":
        return host.code == row.code  # the same alarm described in the alarm list and in a manual
    return bool(row.related_tags) and set(row.related_tags) <= set(host.related_tags)


def _merge_alarm_rows(ranked: list[Candidate]) -> list[Candidate]:
    """Fold an alarm row into a better-ranked row that covers its tags or its code: one event, one cause."""
    kept: list[Candidate] = []
    for candidate in ranked:
        record = candidate.record
        host = next((k for k in kept if _covers(k.record, record)), None)
        if host is None:
            kept.append(candidate)
            continue
        index = kept.index(host)
        alarm_lines = tuple(e for e in candidate.evidence_for if e.startswith("alarm ") and e not in host.evidence_for)
        kept[index] = replace(host, evidence_for=alarm_lines + host.evidence_for, merged=(*host.merged, record))
    return kept


def rank(
    observation: Observation, records: list[RecordHit], line: LineDefinition, *, question: str = ""
) -> list[Candidate]:
    """Records that some live evidence, an active alarm or the question itself points at, best first."""
    known_tags = {t.name for t in line.tags}
    setpoints = {t.name for t in line.tags if t.setpoint is not None}
    codes = asked_codes(question)
    equipment = asked_equipment(line, question)
    active = {a.code for a in observation.alarms}
    graph = line.followers()
    candidates: list[Candidate] = []
    for record in records:
        candidate = _judge(record, observation, known_tags, setpoints, graph)
        asked = record.code.upper() in codes
        if (
            not asked
            and record.code not in active
            and not any(not e.startswith("alarm ") for e in candidate.evidence_for)
        ):
            continue  # nothing on the line points at it
        bonus = (ASKED_CODE_BONUS if asked else 0.0) + (ASKED_EQUIPMENT_BONUS if record.equipment in equipment else 0.0)
        if bonus:
            candidate = replace(candidate, score=candidate.score + bonus)
        candidates.append(candidate)
    # Ties go to the record with more evidence, then to the one whose document names the equipment asked about.
    candidates.sort(key=lambda c: (-c.score, -len(c.evidence_for), c.record.code))
    return _merge_alarm_rows(_upstream_first(candidates))


def _explains(cause: Candidate, other: Candidate) -> bool:
    """Everything `other` points at is `cause`'s own evidence or follows from it."""
    return bool(other.roots) and set(other.roots) <= {*cause.roots, *cause.consequences}


def _upstream_first(ranked: list[Candidate]) -> list[Candidate]:
    """Of causes shown with the same confidence, one that explains the other's evidence as its effects goes first.

    "The line is held back" and "the label web broke" both fit a stopped line equally well; the web break also
    explains why the line is held back, so it is the cause and the other its description. Only a tie is broken
    this way: a better-scoring cause keeps its place (a large leak beats "many small leaks growing").
    """
    ordered = list(ranked)
    for i in range(len(ordered)):
        leader = ordered[i]
        for j in range(i + 1, len(ordered)):
            runner = ordered[j]
            if runner.confidence != leader.confidence:
                break
            if _explains(runner, leader) and not _explains(leader, runner):
                ordered.insert(i, ordered.pop(j))
                break
    return ordered
