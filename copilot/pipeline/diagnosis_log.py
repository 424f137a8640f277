"""The co-pilot's diagnoses as asked during a shift: who asked what and the cause it gave, for the handover."""

from __future__ import annotations

from copilot.pipeline.db import Database, DiagnosisRow

MAX_QUESTION = 500


def note(
    db: Database,
    *,
    person: str,
    question: str,
    cause: str,
    confidence: float | None,
    abstained: bool,
    at: float,
) -> None:
    """Keep one answer's headline; the conversation itself stays in the co-pilot's own store."""
    with db.session() as s:
        s.add(
            DiagnosisRow(
                at=at,
                person=person,
                question=question[:MAX_QUESTION],
                cause=cause[:MAX_QUESTION],
                confidence=confidence,
                abstained=abstained,
            )
        )
