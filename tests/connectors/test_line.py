"""The line definition: the bundled line is valid, and every kind of bad file is named precisely."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from connectors.errors import LineDefinitionError, TagNotFound
from connectors.line import LineDefinition, NodeAddress, load_line

GOOD = """\
line:
  id: test-line
  name: Test line
  namespace_uri: urn:test:line
equipment:
  - id: filler
    name: Filler
tags:
  - name: filler.bowl_level
    node: "nsu=urn:test:line;s=Filler.BowlLevel"
    equipment: filler
    unit: "%"
    eu_range: [0, 100]
    normal: [40, 60]
    alarms:
      - {code: FIL-1, kind: low, limit: 20, priority: high, message: Bowl level low}
  - name: filler.bowl_level_sp
    node: "nsu=urn:test:line;i=1001"
    equipment: filler
    unit: "%"
    eu_range: [0, 100]
    setpoint:
      writable: true
      envelope: [30, 70]
      max_step: 5
      approval_threshold: 2
      tolerance: 1
      drives: [filler.bowl_level]
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "line.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_bundled_line_is_a_full_bottling_line(line: LineDefinition) -> None:
    equipment = {e.id for e in line.equipment}
    assert {"infeed", "filler", "capper", "labeler", "case_packer", "air", "chiller"} <= equipment
    assert 60 <= len(line.tags) <= 120
    writable = [t for t in line.tags if t.writable]
    assert writable, "the line must offer setpoints to the co-pilot"
    assert any(t.safety_critical for t in line.tags)
    assert not any(t.safety_critical and t.writable for t in line.tags)
    assert len(list(line.alarms())) >= 20


def test_small_file_loads_with_numeric_and_string_ids(tmp_path: Path) -> None:
    line = load_line(write(tmp_path, GOOD))
    assert line.tag("filler.bowl_level").node == NodeAddress(
        namespace_uri="urn:test:line", identifier="Filler.BowlLevel"
    )
    assert line.tag("filler.bowl_level_sp").node.identifier == 1001
    assert line.tag("filler.bowl_level_sp").writable
    with pytest.raises(TagNotFound):
        line.tag("filler.nothing")


@pytest.mark.parametrize(
    ("old", "new", "line_no", "field", "message"),
    [
        ('node: "nsu=urn:test:line;s=Filler.BowlLevel"', 'node: "ns=2;s=Filler.BowlLevel"', 9, "tags.0", "nsu="),
        ("envelope: [30, 70]", "envelope: [30, 170]", 17, "tags.1", "envelope"),
        ("eu_range: [0, 100]\n    normal", "eu_range: [100, 0]\n    normal", 13, "tags.0.eu_range", "above"),
        ("priority: high", "priority: severe", 16, "tags.0.alarms.0.priority", "low"),
        ("    equipment: filler\n    unit", "    equipment: mixer\n    unit", 1, "(top level)", "unknown equipment"),
        ("      max_step: 5", "      max_step: -5", 25, "tags.1.setpoint.max_step", "greater than 0"),
        ("      writable: true", "      writable: true\n      bogus: 1", 24, "tags.1.setpoint.bogus", "Extra"),
        ("      max_step: 5", "      max_step: 5\n      max_shift_change: 2", 22, "tags.1.setpoint", "less than one"),
        (
            "  namespace_uri: urn:test:line",
            "  namespace_uri: urn:test:line\n  shifts: ['6:00']",
            5,
            "line.shifts",
            "06:00",
        ),
        (
            "  namespace_uri: urn:test:line",
            "  namespace_uri: urn:test:line\n  timezone: Mars/Olympus",
            5,
            "line.timezone",
            "IANA",
        ),
    ],
)
def test_invalid_file_names_file_line_and_field(
    tmp_path: Path, old: str, new: str, line_no: int, field: str, message: str
) -> None:
    assert old in GOOD
    path = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(LineDefinitionError) as caught:
        load_line(path)
    text = str(caught.value)
    assert f"{path}:{line_no}: {field}" in text, text
    assert message in text


def test_safety_critical_setpoint_can_never_be_writable(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        GOOD.replace(
            "    setpoint:\n      writable: true", "    safety_critical: true\n    setpoint:\n      writable: true"
        ),
    )
    with pytest.raises(LineDefinitionError, match="safety-critical"):
        load_line(path)


def test_duplicate_alarm_code_is_refused(tmp_path: Path) -> None:
    text = GOOD.replace(
        "      - {code: FIL-1, kind: low",
        "      - {code: FIL-1, kind: high, limit: 90, priority: low, message: High}\n      - {code: FIL-1, kind: low",
    )
    with pytest.raises(LineDefinitionError, match="FIL-1"):
        load_line(write(tmp_path, text))


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "empty"),
        (b"line: [unclosed\n", r":2: not valid YAML"),
        (b"\xff\xfe\x00binary", "not UTF-8"),
        (b"- just\n- a list\n", "(top level)"),
    ],
)
def test_unreadable_files_give_a_clear_error(tmp_path: Path, content: bytes, expected: str) -> None:
    path = tmp_path / "line.yaml"
    path.write_bytes(content)
    with pytest.raises(LineDefinitionError) as caught:
        load_line(path)
    assert str(path) in str(caught.value)
    assert re.search(re.escape(expected) if not expected.startswith(":") else expected, str(caught.value))


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LineDefinitionError, match="file not found"):
        load_line(tmp_path / "nope.yaml")
