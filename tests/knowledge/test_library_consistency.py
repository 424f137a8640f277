"""The plant library agrees with the line definition: alarms, tag names, setpoint envelopes and the manifest.

Fast: the documents are parsed with the project's own loaders and record parser; no model, no vector store.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache

import pytest

from connectors.line import AlarmKind, Band, LineDefinition, Tag, default_line_path, load_line
from connectors.simulator.process import NOMINAL_SETPOINTS
from knowledge import library_path
from knowledge.documents import BlockKind, ParsedDocument
from knowledge.library_meta import MANIFEST_NAME, folder_metadata
from knowledge.loaders import loader_for
from knowledge.records import TroubleshootingRecord, document_records

ALARM_LIST = "line-alarm-list.md"
# Equipment that has alarms but no manual of its own; its alarms are documented in the alarm list only.
WITHOUT_MANUAL = frozenset({"line"})
# An envelope keeps at least this share of the alarmed tag's normal band width away from each alarm limit.
MARGIN_SHARE = 0.05

_RANGE = re.compile(r"^(-?\d+(?:\.\d+)?) to (-?\d+(?:\.\d+)?)$")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
# "raise `filler.bowl_level_sp` by 5 %", "reduce line.speed_sp by up to 30 bottles/min"
_CHANGE = re.compile(
    r"\b(?:raise|lower|reduce|cut)\s+`{0,2}(?P<tag>[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*)`{0,2}\s+by\s+(?:up to\s+)?"
    r"(?P<amount>\d+(?:\.\d+)?)",
    re.IGNORECASE,
)
_LIMIT_QUOTE = re.compile(r"\b(?P<code>[A-Z]{3}-\d{3}) at (?P<limit>-?\d+(?:\.\d+)?)\b")
_SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-Z])")


@dataclass(frozen=True, kw_only=True)
class SetpointRow:
    """One row of a manual's setpoint table, as printed."""

    document: str
    tag: str
    unit: str
    normal: Band
    envelope: Band
    max_step: float
    approval_threshold: float


# ------------------------------------------------------------------------------------------------ fixtures


@cache
def _line() -> LineDefinition:
    return load_line(default_line_path())


@cache
def _documents() -> dict[str, ParsedDocument]:
    """Every document of the library with its own metadata; the manifest is deliberately not applied."""
    folder = library_path()
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.name != MANIFEST_NAME)
    return {p.name: loader_for(p).load(p, p.read_bytes()) for p in paths}


@cache
def _records() -> dict[str, list[TroubleshootingRecord]]:
    return {name: document_records(doc) for name, doc in _documents().items()}


@pytest.fixture(scope="module")
def line() -> LineDefinition:
    return _line()


@pytest.fixture(scope="module")
def documents() -> dict[str, ParsedDocument]:
    return _documents()


@pytest.fixture(scope="module")
def records() -> dict[str, list[TroubleshootingRecord]]:
    return _records()


def _manuals(documents: dict[str, ParsedDocument]) -> dict[str, str]:
    """Equipment id -> file name of its manual."""
    manuals: dict[str, str] = {}
    for name, doc in documents.items():
        if doc.meta.doc_type == "manual":
            assert doc.meta.equipment not in manuals, f"two manuals for {doc.meta.equipment}"
            manuals[doc.meta.equipment] = name
    return manuals


def _alarms_in(records: list[TroubleshootingRecord]) -> dict[str, str]:
    """Alarm code -> message as printed, from the records of one document."""
    found: dict[str, str] = {}
    for record in records:
        if record.kind == "alarm":
            assert record.code not in found, f"{record.code} listed twice"
            found[record.code] = record.symptom
    return found


def _band(text: str) -> Band:
    match = _RANGE.match(text.strip())
    assert match, f"{text!r} is not a range like '40 to 70'"
    return Band(low=float(match[1]), high=float(match[2]))


def _number(text: str) -> float:
    assert _NUMBER.match(text.strip()), f"{text!r} is not a number"
    return float(text)


def _setpoint_rows(documents: dict[str, ParsedDocument]) -> Iterator[SetpointRow]:
    """Rows of every table headed 'Setpoint tag' that has an 'Envelope' column (the manuals' setpoint tables)."""
    for name, doc in documents.items():
        for block in doc.blocks:
            if block.kind is not BlockKind.TABLE or not block.rows:
                continue
            header = [cell.strip().lower() for cell in block.rows[0]]
            if header[0] != "setpoint tag" or "envelope" not in header:
                continue
            col = {title: header.index(title) for title in ("unit", "normal band", "max step", "supervisor above")}
            envelope = header.index("envelope")
            for row in block.rows[1:]:
                yield SetpointRow(
                    document=name,
                    tag=row[0].strip(),
                    unit=row[col["unit"]].strip(),
                    normal=_band(row[col["normal band"]]),
                    envelope=_band(row[envelope]),
                    max_step=_number(row[col["max step"]]),
                    approval_threshold=_number(row[col["supervisor above"]]),
                )


def _limits_around(line: LineDefinition, setpoint: Tag) -> Iterator[tuple[Tag, AlarmKind, float]]:
    """Alarm limits the envelope must stay inside: the setpoint tag's own and those of what it drives.

    Only tags in the setpoint's own unit are comparable; a speed setpoint says nothing about a motor current limit.
    """
    assert setpoint.setpoint is not None
    for name in (setpoint.name, *setpoint.setpoint.drives):
        tag = line.tag(name)
        if tag.unit != setpoint.unit:
            continue
        for alarm in tag.alarms:
            if alarm.limit is not None:
                yield tag, alarm.kind, alarm.limit


# ------------------------------------------------------------------------------------------------ alarms


def test_every_alarm_is_in_its_manual_and_in_the_alarm_list_with_its_message(
    line: LineDefinition, documents: dict[str, ParsedDocument], records: dict[str, list[TroubleshootingRecord]]
) -> None:
    manuals = _manuals(documents)
    alarm_list = _alarms_in(records[ALARM_LIST])
    problems = []
    for tag, alarm in line.alarms():
        if alarm_list.get(alarm.code) != alarm.message:
            problems.append(f"{ALARM_LIST}: {alarm.code} reads {alarm_list.get(alarm.code)!r}, not {alarm.message!r}")
        if tag.equipment in WITHOUT_MANUAL:
            continue
        assert tag.equipment in manuals, f"no manual for {tag.equipment}, which raises {alarm.code}"
        printed = _alarms_in(records[manuals[tag.equipment]]).get(alarm.code)
        if printed != alarm.message:
            problems.append(f"{manuals[tag.equipment]}: {alarm.code} reads {printed!r}, not {alarm.message!r}")
    assert not problems, "\n".join(problems)


def test_no_document_lists_an_alarm_the_line_does_not_have(
    line: LineDefinition, documents: dict[str, ParsedDocument], records: dict[str, list[TroubleshootingRecord]]
) -> None:
    known = {alarm.code: tag for tag, alarm in line.alarms()}
    problems = []
    for name, document_records_ in records.items():
        equipment = documents[name].meta.equipment
        for code in _alarms_in(document_records_):
            if code not in known:
                problems.append(f"{name}: {code} is not an alarm of the line")
            elif documents[name].meta.doc_type == "manual" and known[code].equipment != equipment:
                problems.append(f"{name}: {code} belongs to {known[code].equipment}, not {equipment}")
    assert not problems, "\n".join(problems)


def test_alarm_limits_quoted_in_the_library_match_the_line(
    line: LineDefinition, documents: dict[str, ParsedDocument]
) -> None:
    limits = {alarm.code: alarm.limit for _, alarm in line.alarms()}
    quoted = 0
    problems = []
    for name, doc in documents.items():
        for block in doc.blocks:
            for match in _LIMIT_QUOTE.finditer(block.text):
                quoted += 1
                if limits.get(match["code"]) != float(match["limit"]):
                    problems.append(f"{name}: {match[0]!r}, the line says {limits.get(match['code'])}")
    assert quoted >= 30, "the manuals' 'Alarm limits' columns were not found"
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ tags


def _document_tails() -> set[str]:
    """What the record parser's tag pattern picks out of a file name, e.g. 'jam.md' from 'wi-clear-infeed-jam.md'."""
    return {name.rsplit("-", 1)[-1] for name in _documents()}


def test_every_related_tag_exists_in_the_line(
    line: LineDefinition, records: dict[str, list[TroubleshootingRecord]]
) -> None:
    names = {tag.name for tag in line.tags}
    tails = _document_tails()
    named = 0
    problems = []
    for document, document_records_ in records.items():
        for record in document_records_:
            for tag in record.related_tags:
                if tag in tails:  # a cross-reference to another document of the library, not a tag
                    continue
                named += 1
                if tag not in names:
                    problems.append(f"{document}: {record.code or record.symptom[:50]!r} names unknown tag {tag}")
    assert named >= 100, "hardly any related tags found; did the records stop parsing?"
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ setpoints


def test_every_envelope_lies_strictly_inside_the_alarm_limits_it_could_reach(line: LineDefinition) -> None:
    compared = 0
    problems = []
    for setpoint in line.setpoints():
        assert setpoint.setpoint is not None
        envelope = setpoint.setpoint.envelope
        for tag, kind, limit in _limits_around(line, setpoint):
            band = tag.normal or setpoint.normal
            margin = MARGIN_SHARE * (band.high - band.low) if band else 0.0
            compared += 1
            high = kind in (AlarmKind.HIGH, AlarmKind.HIGH_HIGH)
            gap = limit - envelope.high if high else envelope.low - limit
            if not (gap > 0 and gap >= margin):
                problems.append(
                    f"{setpoint.name} envelope [{envelope.low}, {envelope.high}] is within {margin:g} of "
                    f"{tag.name} {kind.value} limit {limit}"
                )
    assert compared >= 10, "too few alarm limits compared; did the units or drives change?"
    assert not problems, "\n".join(problems)


def test_every_envelope_holds_the_nominal_setpoint_and_the_normal_band(line: LineDefinition) -> None:
    problems = []
    for setpoint in line.setpoints():
        assert setpoint.setpoint is not None
        envelope = setpoint.setpoint.envelope
        nominal = NOMINAL_SETPOINTS.get(setpoint.name)
        if nominal is not None and not envelope.contains(nominal):
            problems.append(f"{setpoint.name}: nominal {nominal} outside [{envelope.low}, {envelope.high}]")
        if setpoint.normal is not None and not setpoint.normal.within(envelope):
            problems.append(f"{setpoint.name}: normal band outside [{envelope.low}, {envelope.high}]")
    assert not problems, "\n".join(problems)


def test_a_full_step_always_needs_the_supervisor(line: LineDefinition) -> None:
    """A threshold at or above the maximum step would mean no permitted change ever needs a second approval."""
    problems = [
        f"{tag.name}: approval_threshold {tag.setpoint.approval_threshold} >= max_step {tag.setpoint.max_step}"
        for tag in line.setpoints()
        if tag.setpoint is not None and tag.setpoint.approval_threshold >= tag.setpoint.max_step
    ]
    assert not problems, "\n".join(problems)


def test_manual_setpoint_tables_match_the_line(line: LineDefinition, documents: dict[str, ParsedDocument]) -> None:
    rows = list(_setpoint_rows(documents))
    manuals = _manuals(documents)
    problems = []
    for row in rows:
        tag = line.tag(row.tag)
        assert tag.setpoint is not None, f"{row.document}: {row.tag} is not a setpoint"
        expected = (tag.unit, tag.normal, tag.setpoint.envelope, tag.setpoint.max_step, tag.setpoint.approval_threshold)
        printed = (row.unit, row.normal, row.envelope, row.max_step, row.approval_threshold)
        if printed != expected:
            problems.append(f"{row.document}: {row.tag} printed as {printed}, the line says {expected}")
    # Every setpoint is in the table of its own equipment's manual, so the comparison above cannot pass empty.
    listed = {(row.document, row.tag) for row in rows}
    for tag in line.setpoints():
        if tag.equipment not in WITHOUT_MANUAL and (manuals.get(tag.equipment), tag.name) not in listed:
            problems.append(f"{tag.name} is missing from the setpoint table of {manuals.get(tag.equipment)}")
    assert not problems, "\n".join(problems)


def test_recipe_setpoints_lie_inside_their_envelopes(
    line: LineDefinition, documents: dict[str, ParsedDocument]
) -> None:
    """The changeover recipe table: a column per product, then the unit."""
    checked = 0
    problems = []
    for name, doc in documents.items():
        for block in doc.blocks:
            if block.kind is not BlockKind.TABLE or not block.rows:
                continue
            header = [cell.strip().lower() for cell in block.rows[0]]
            if header[0] != "setpoint tag" or header[-1] != "unit" or "envelope" in header:
                continue
            for row in block.rows[1:]:
                tag = line.tag(row[0].strip())
                assert tag.setpoint is not None
                assert row[-1].strip() == tag.unit, f"{name}: {tag.name} in {row[-1]!r}, not {tag.unit!r}"
                for product, value in zip(block.rows[0][1:-1], row[1:-1], strict=True):
                    checked += 1
                    if not tag.setpoint.envelope.contains(_number(value)):
                        problems.append(f"{name}: {product} sets {tag.name} to {value}, outside its envelope")
    assert checked >= 10, "the recipe table was not found"
    assert not problems, "\n".join(problems)


def _sentences(
    documents: dict[str, ParsedDocument], records: dict[str, list[TroubleshootingRecord]]
) -> Iterator[tuple[str, str]]:
    for name, doc in documents.items():
        texts = [record.remedy for record in records[name]]
        texts += [block.text for block in doc.blocks if block.kind is not BlockKind.TABLE]
        for text in texts:
            for sentence in _SENTENCE_END.split(text):
                yield name, sentence


def test_recommended_setpoint_changes_respect_max_step_and_name_the_supervisor(
    line: LineDefinition, documents: dict[str, ParsedDocument], records: dict[str, list[TroubleshootingRecord]]
) -> None:
    changes = 0
    problems = []
    for name, sentence in _sentences(documents, records):
        for match in _CHANGE.finditer(sentence):
            tag = line.tag(match["tag"])
            assert tag.setpoint is not None, f"{name}: {tag.name} is not a setpoint"
            amount = float(match["amount"])
            changes += 1
            if amount > tag.setpoint.max_step:
                problems.append(f"{name}: {match[0]!r} exceeds the max step {tag.setpoint.max_step}")
            elif amount > tag.setpoint.approval_threshold and "supervisor" not in sentence.lower():
                problems.append(f"{name}: {match[0]!r} needs a supervisor but does not say so: {sentence!r}")
    assert changes >= 30, "hardly any setpoint changes found in the remedies"
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------------------------ manifest


def test_manifest_matches_each_documents_own_metadata(documents: dict[str, ParsedDocument]) -> None:
    manifest = folder_metadata(library_path())
    assert set(manifest) == set(documents), "library.yaml and the library folder list different files"
    problems = [
        f"{name}: library.yaml says {manifest[name]}, the document says {doc.meta}"
        for name, doc in documents.items()
        if manifest[name] != doc.meta
    ]
    assert not problems, "\n".join(problems)
