"""A language model's answer checked against the evidence of its turn: numbers, tags, codes, citations and deeds."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from copilot.agent.answer import Answer

# "85.6", "-1", "2,5": numbers as a model writes them; times (10:42) and ISO dates are taken out first.
_NUMBER = re.compile(r"(?<![\w.:/-])-?\d+(?:[.,]\d+)?(?![\w:/-]|\.\d)")
_TIME = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b|\b\d{4}-\d{2}-\d{2}(?:T[\d:.+Z-]+)?")
_TAG = re.compile(r"(?<![\w.-])[a-z][a-z0-9_]*\.[a-z][a-z0-9_]+\b")
_CODE = re.compile(r"\b[A-Z]{1,4}-\d{2,4}\b")
_CITE = re.compile(r"\[(\d{1,3})\]")
_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
# Words that say something was done on the line. The co-pilot only ever drafts: the pipeline's records decide.
_DEED = re.compile(
    r"\b(done( as you asked)?|i(?:'ve| have)? (?:changed|set|raised|lowered|reduced|increased|adjusted|approved|"
    r"written|wrote|applied|made the change|executed)|(?:has|have) been (?:changed|set|approved|written|applied|"
    r"adjusted|executed)|(?:is|was) now (?:set|changed|at)|change (?:is|was) (?:made|applied|written))\b",
    re.IGNORECASE,
)
# Small whole numbers are counts and list places ("3 causes", "step 2"), not measurements to check.
_SMALL = 12
RELATIVE = 0.01  # a value rounded for reading ("85.6" for 85.5838) is the same value


@dataclass(frozen=True, kw_only=True)
class Evidence:
    """Everything the turn showed the model: the grounding, tool results, passages, and what the pipeline holds."""

    texts: tuple[str, ...]
    tags: frozenset[str]  # the line's tag names
    citations: int  # how many sources the answer lists
    done: frozenset[str]  # states the turn's own actions reached (pending, refused, approved, succeeded, ...)


@dataclass(frozen=True, kw_only=True)
class Unverified:
    sentence: str
    reasons: tuple[str, ...]

    def as_text(self) -> str:
        return f"{self.sentence} [unverified: {'; '.join(self.reasons)}]"


def _numbers(text: str) -> list[float]:
    cleaned = _TIME.sub(" ", _CODE.sub(" ", _TAG.sub(" ", text)))
    found = []
    for match in _NUMBER.finditer(cleaned):
        try:
            found.append(float(match.group(0).replace(",", ".")))
        except ValueError:
            continue
    return found


def _supported(value: float, known: Iterable[float]) -> bool:
    return any(abs(value - k) <= max(RELATIVE * abs(k), 1e-9) or abs(value - k) < 0.051 for k in known)


def check(text: str, evidence: Evidence) -> list[Unverified]:
    """Every sentence with a claim the evidence does not hold, and why; an empty list when all of it holds."""
    corpus = "\n".join(evidence.texts)
    known_numbers = _numbers(corpus)
    known_codes = set(_CODE.findall(corpus))
    seen_tags = set(_TAG.findall(corpus))
    found: list[Unverified] = []
    for sentence in (s.strip() for s in _SENTENCE.split(text)):
        if not sentence:
            continue
        reasons: list[str] = []
        for tag in dict.fromkeys(_TAG.findall(sentence)):
            if tag not in evidence.tags:
                reasons.append(f"{tag} is not a tag of this line")
            elif tag not in seen_tags:
                reasons.append(f"nothing this turn looked at concerns {tag}")
        for code in dict.fromkeys(_CODE.findall(sentence)):
            if code not in known_codes:
                reasons.append(f"{code} is in no reading, alarm or passage of this turn")
        for value in _numbers(sentence):
            if value.is_integer() and 0 <= value <= _SMALL:
                continue
            if not _supported(value, known_numbers):
                reasons.append(f"{value:g} is in no reading, passage or proposal of this turn")
        for number in _CITE.findall(sentence):
            if not 1 <= int(number) <= evidence.citations:
                reasons.append(f"source [{number}] does not exist (the answer lists {evidence.citations})")
        if _DEED.search(sentence) and not evidence.done & {"approved", "writing", "succeeded"}:
            reasons.append("says a change was made or approved; the pipeline holds no such action from this turn")
        if reasons:
            found.append(Unverified(sentence=sentence, reasons=tuple(dict.fromkeys(reasons))))
    return found


def sentence_count(text: str) -> int:
    """How many sentences `check` judges in `text`."""
    return sum(1 for s in _SENTENCE.split(text) if s.strip())


def answer_evidence(answer: Answer, tags: Iterable[str]) -> Evidence:
    """The evidence an answer carries with it, to check a model's text written from it (the fault evaluation)."""
    texts = [answer.text, *answer.notes, *answer.remembered, *(c.text for c in answer.citations)]
    texts += [f"{r.tag} {r.value} {r.normal or ''}" for r in answer.readings]
    texts += [f"{p.tag} {p.current} {p.proposed}" for p in answer.proposals]
    for cause in answer.causes:
        texts += [cause.remedy, cause.lead, *cause.evidence_for, *cause.evidence_against]
        texts += [str(step.get("detail", "")) for step in cause.steps]
    return Evidence(
        texts=tuple(texts),
        tags=frozenset(tags),
        citations=len(answer.citations),
        done=frozenset(p.status for p in answer.proposals),
    )
