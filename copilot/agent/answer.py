"""The co-pilot's answer: one shape whatever the provider, so the CLI, the console and the evals read it alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from knowledge.citations import Citation


@dataclass(frozen=True, kw_only=True)
class ReadingUsed:
    """A live value the answer relied on, with when the source produced it and how far it can be trusted."""

    tag: str
    value: float | int | bool | str | None
    unit: str
    source_time: str | None  # ISO 8601, UTC
    quality: str
    normal: str | None = None  # "45 to 55", when the line definition gives a normal band
    deviation: str | None = None  # up, down, on, frozen, or None when in its normal band


@dataclass(frozen=True, kw_only=True)
class RankedCause:
    """One probable cause with how sure the co-pilot is and why."""

    cause: str
    confidence: float  # 0 to 1
    remedy: str
    code: str  # the alarm code or symptom id of the troubleshooting record
    evidence_for: tuple[str, ...]
    evidence_against: tuple[str, ...]
    citations: tuple[Citation, ...]
    # The remedy as ordered steps, each with its condition and whether the live line meets it.
    steps: tuple[dict[str, Any], ...] = ()
    lead: str = ""  # a stop, replace or maintenance step whose condition is met: it comes before anything else
    # Deviating tags that follow from its evidence (a stopped line's speeds and currents): effects, not causes.
    consequences: tuple[str, ...] = ()


@dataclass(frozen=True, kw_only=True)
class DraftedProposal:
    """A setpoint change put into the action pipeline on behalf of the person asking; never approved here."""

    action_id: str
    tag: str
    current: float | None
    proposed: float
    unit: str
    status: str  # pending, or refused with its reasons
    reasons: tuple[str, ...]
    rationale: str
    needs_supervisor: bool


@dataclass(frozen=True, kw_only=True)
class Answer:
    """What the co-pilot says, with everything a person needs to check it."""

    text: str
    causes: tuple[RankedCause, ...]
    citations: tuple[Citation, ...]
    readings: tuple[ReadingUsed, ...]
    proposals: tuple[DraftedProposal, ...]
    provider: str  # offline, openai or ollama
    model: str
    latency_s: float
    thread_id: str
    abstained: bool = False  # True when the evidence did not support any cause
    notes: tuple[str, ...] = field(default_factory=tuple)  # stale tags skipped, tools that failed, limits hit
    # Earlier decisions on the changes the remedy asks for: rejected, withdrawn, tried or waiting, this shift.
    remembered: tuple[str, ...] = field(default_factory=tuple)
    # Sentences of a language model's text with a number, tag, code, source or deed the turn's evidence lacks.
    unverified: tuple[str, ...] = field(default_factory=tuple)
    unverified_count: int = 0

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def _citation(data: dict[str, Any]) -> Citation:
    return Citation(**data)


def answer_from_json(data: dict[str, Any]) -> Answer:
    """An answer back from its stored JSON form (threads keep their answers in the checkpoint database)."""
    return Answer(
        text=data["text"],
        causes=tuple(
            RankedCause(
                **{
                    **c,
                    "evidence_for": tuple(c["evidence_for"]),
                    "evidence_against": tuple(c["evidence_against"]),
                    "citations": tuple(_citation(x) for x in c["citations"]),
                    "steps": tuple(c.get("steps", ())),
                    "consequences": tuple(c.get("consequences", ())),
                }
            )
            for c in data["causes"]
        ),
        citations=tuple(_citation(x) for x in data["citations"]),
        readings=tuple(ReadingUsed(**r) for r in data["readings"]),
        proposals=tuple(DraftedProposal(**{**p, "reasons": tuple(p["reasons"])}) for p in data["proposals"]),
        provider=data["provider"],
        model=data["model"],
        latency_s=data["latency_s"],
        thread_id=data["thread_id"],
        abstained=data["abstained"],
        notes=tuple(data["notes"]),
        remembered=tuple(data.get("remembered", ())),
        unverified=tuple(data.get("unverified", ())),
        unverified_count=int(data.get("unverified_count", 0)),
    )
