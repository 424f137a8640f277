"""Sources under an answer, one per document and section, five in sight; sentences that end once."""

from __future__ import annotations

from dataclasses import replace

from console.answer_view import SOURCES_SHOWN, sources
from console.line_page import ended
from tests.console.test_chat_page import CITATION

BASE = replace(CITATION, source="alarms.md", doc_id="alarms", section="Chilled water alarms")


def test_alike_sources_open_together_and_only_five_are_in_sight() -> None:
    cites = [replace(BASE, chunk_id=f"a{i}", text=f"alarm passage {i}") for i in range(4)]
    cites += [replace(BASE, doc_id=f"doc{i}", chunk_id=f"d{i}", section=f"S{i}", text=f"doc {i}") for i in range(7)]
    first, rest = sources(tuple(cites))
    assert len(first) == SOURCES_SHOWN == 5
    number, passages = first[0]
    assert number == 1
    assert [p.text for p in passages] == [f"alarm passage {i}" for i in range(4)], "no passage is lost"
    assert [n for n, _ in first] == [1, 5, 6, 7, 8], "each keeps its number in the answer"
    assert [n for n, _ in rest] == [9, 10, 11]
    assert all(len(p) == 1 for _, p in rest)


def test_a_reason_ends_the_sentence_once() -> None:
    assert ended("connection refused; is the OPC UA server running on that port?") == (
        "connection refused; is the OPC UA server running on that port?"
    )
    assert ended("timed out.") == "timed out."
    assert ended("timed out") == "timed out."
