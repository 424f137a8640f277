"""Deviations sorted into roots and what follows them, and setpoints moved on purpose taken out of the faults."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from connectors.errors import LineDefinitionError
from connectors.line import LineDefinition, load_line
from copilot.agent.offline.diagnosis import Candidate, _upstream_first
from copilot.agent.offline.observe import observe
from copilot.agent.offline.story import downstream, moved_on_purpose, settle, story
from copilot.pipeline.actions import Action, ApprovalView
from copilot.pipeline.states import Status
from knowledge.citations import RecordHit
from tests.agent.test_remedy_steps import _cache

# A jammed infeed: the belt stands, the photo-eye stays blocked, the line holds, and everything behind it stops.
JAM = {
    "infeed.speed": [0.0],
    "infeed.photo_eye_blocked_s": [50.0],
    "infeed.jam_detected": [True],
    "infeed.accumulation": [95.0],
    "line.state": [2.0],
    "line.speed": [0.0],
    "filler.speed": [0.0],
    "filler.motor_current": [11.0],
    "capper.speed": [0.0],
    "air.air_flow": [118.0],
}


def _story(line: LineDefinition, values: dict[str, list[float]]):  # type: ignore[no-untyped-def]
    cache = _cache(line, values)
    return story(line, observe(line, cache, [], now=datetime.now(UTC)))


def test_a_jam_is_one_root_and_its_effects(line: LineDefinition) -> None:
    told = _story(line, JAM)  # type: ignore[arg-type]
    assert told.roots == ("infeed.speed", "infeed.photo_eye_blocked_s")
    assert told.follows["infeed.jam_detected"] == "infeed.photo_eye_blocked_s"
    assert told.follows["line.state"] == "infeed.jam_detected"
    assert told.follows["line.speed"] == "line.state"
    assert told.follows["filler.speed"] == "line.speed"
    assert told.follows["filler.motor_current"] == "filler.speed"
    assert told.follows["air.air_flow"] == "line.speed"
    assert set(told.follows) | set(told.roots) == set(JAM)
    assert told.details["infeed.speed"] == "0.0 m/min, below normal 45 to 55 m/min"


def test_a_value_inside_its_band_breaks_the_chain(line: LineDefinition) -> None:
    # The filler is slow while the line speed reads normal: the filler's own slowness is a root.
    told = _story(line, {"filler.speed": [8.0], "filler.motor_current": [15.0]})  # type: ignore[arg-type]
    assert told.roots == ("filler.speed",)
    assert told.follows == {"filler.motor_current": "filler.speed"}


def test_a_lone_deviation_is_a_root_with_nothing_following(line: LineDefinition) -> None:
    told = _story(line, {"filler.bearing_temp": [86.0]})  # type: ignore[arg-type]
    assert told.roots == ("filler.bearing_temp",)
    assert told.follows == {}


def test_deviations_that_follow_each_other_in_a_loop_still_get_a_root(tmp_path, line: LineDefinition) -> None:  # type: ignore[no-untyped-def]
    looped = line.model_copy(deep=True)
    looped.tag("line.state").follows.append("line.speed")  # line.speed already follows line.state
    told = _story(looped, {"line.state": [2.0], "line.speed": [0.0], "filler.speed": [0.0]})  # type: ignore[arg-type]
    assert told.roots == ("line.speed",)
    assert told.follows == {"line.state": "line.speed", "filler.speed": "line.speed"}


def test_downstream_with_a_direction_keeps_only_deviations_that_way(line: LineDefinition) -> None:
    cache = _cache(line, {"line.speed": [500.0], "filler.speed": [8.0], "filler.bearing_temp": [86.0]})
    seen = observe(line, cache, [], now=datetime.now(UTC))
    assert downstream(line.followers(), seen.deviations, ["line.speed"], way="down") == {"filler.speed": "line.speed"}
    # filler.bearing_temp follows filler.speed, but it went up while the speed went down.
    assert "filler.bearing_temp" not in downstream(line.followers(), seen.deviations, ["filler.speed"], way="down")


@pytest.mark.parametrize(
    ("follows", "message"),
    [(["filler.nonsense"], "follows unknown tag 'filler.nonsense'"), (["filler.speed"], "follows itself")],
)
def test_a_line_file_with_a_broken_follows_link_is_refused(
    tmp_path, line: LineDefinition, follows: list[str], message: str
) -> None:  # type: ignore[no-untyped-def]
    data = line.model_dump(mode="json")
    for tag in data["tags"]:
        if tag["name"] == "filler.speed":
            tag["follows"] = follows
        tag["node"] = f"nsu={tag['node']['namespace_uri']};s={tag['node']['identifier']}"
    import yaml

    path = tmp_path / "line.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    with pytest.raises(LineDefinitionError, match=message):
        load_line(path)


def _written(tag: str, old: float, new: float, *, status: Status = Status.SUCCEEDED, age_s: float = 60.0) -> Action:
    at = time.time() - age_s
    return Action(
        id="a1b2c3d4e5f6",
        tag=tag,
        old_value=old,
        new_value=new,
        unit="",
        reason="test",
        evidence=[],
        requested_by="otto",
        via_agent=False,
        status=status,
        requested=str(new),
        repeats=0,
        refusals=[],
        approvals_needed=2,
        supervisor_needed=True,
        approvals=[
            ApprovalView(user="olga", role="operator", decision="approve", reason="", at=at, expires_at=at, used=True),
            ApprovalView(user="sam", role="supervisor", decision="approve", reason="", at=at, expires_at=at, used=True),
        ],
        created_at=at,
        expires_at=at + 600,
        read_back=new,
        result="written",
    )


SLOWED = {"line.speed_sp": [540.0], "line.speed": [540.0], "filler.speed": [9.0], "filler.bearing_temp": [86.0]}


def test_a_setpoint_written_on_purpose_and_what_followed_it_the_same_way_are_no_deviations(
    line: LineDefinition,
) -> None:
    seen = observe(line, _cache(line, SLOWED), [], now=datetime.now(UTC))
    assert {"line.speed_sp", "line.speed", "filler.speed", "filler.bearing_temp"} <= seen.deviations.keys()
    changes = moved_on_purpose(line, seen, [_written("line.speed_sp", 600, 540)], now=time.time())
    assert changes["line.speed_sp"].way == "down"
    assert "set 600 → 540 bottles/min by action a1b2c3d4, approved by olga, sam at" in changes["line.speed_sp"].sentence
    settled = settle(line, seen, changes)
    assert not {"line.speed_sp", "line.speed", "filler.speed"} & settled.deviations.keys()
    assert "filler.bearing_temp" in settled.deviations, "a hotter bearing is not explained by a slower line"
    assert (
        settled.on_purpose["filler.speed"] == "follows line.speed_sp, moved on purpose by the change to line.speed_sp"
    )
    assert story(line, settled).roots == ("filler.bearing_temp",)


@pytest.mark.parametrize(
    ("action", "why"),
    [
        (_written("line.speed_sp", 600, 560), "the setpoint no longer holds the written value"),
        (_written("line.speed_sp", 600, 540, status=Status.PENDING), "a change not yet written"),
        (_written("line.speed_sp", 600, 540, status=Status.FAILED), "a failed write"),
        (_written("line.speed_sp", 600, 540, age_s=9 * 3600), "a change older than the shift"),
    ],
)
def test_only_a_written_change_that_still_holds_explains_a_setpoint(
    line: LineDefinition, action: Action, why: str
) -> None:
    seen = observe(line, _cache(line, SLOWED), [], now=datetime.now(UTC))
    assert moved_on_purpose(line, seen, [action], now=time.time()) == {}, why
    assert "line.speed_sp" in settle(line, seen, {}).deviations


def test_only_the_newest_written_change_of_a_setpoint_counts(line: LineDefinition) -> None:
    seen = observe(line, _cache(line, SLOWED), [], now=datetime.now(UTC))
    newer = _written("line.speed_sp", 540, 600, age_s=30)  # set back to 600 since, then moved by someone else
    assert moved_on_purpose(line, seen, [newer, _written("line.speed_sp", 600, 540)], now=time.time()) == {}


def test_a_step_back_toward_normal_explains_nothing(line: LineDefinition) -> None:
    # Someone found the infeed at 38 m/min and raised it to 42: still low, and still the fault's doing.
    seen = observe(line, _cache(line, {"infeed.speed_sp": [42.0], "infeed.speed": [42.0]}), [], now=datetime.now(UTC))
    assert moved_on_purpose(line, seen, [_written("infeed.speed_sp", 38, 42)], now=time.time()) == {}
    assert moved_on_purpose(line, seen, [_written("infeed.speed_sp", 50, 42)], now=time.time()).keys() == {
        "infeed.speed_sp"
    }


def _candidate(cause: str, score: float, roots: tuple[str, ...], consequences: tuple[str, ...]) -> Candidate:
    record = RecordHit(
        kind="symptom",
        code="",
        symptom="",
        cause=cause,
        remedy="",
        related_tags=roots,
        source="manual.md",
        title="Manual",
        section="Troubleshooting",
        page=None,
        equipment="",
        doc_type="manual",
        score=1.0,
    )
    return Candidate(
        record=record,
        score=score,
        evidence_for=(),
        evidence_against=(),
        not_judged=(),
        roots=roots,
        consequences=dict.fromkeys(consequences, "x"),
    )


def test_of_causes_shown_alike_the_one_that_explains_the_others_evidence_goes_first() -> None:
    held = _candidate("line held back", 0.781, ("line.speed", "filler.speed"), ("capper.speed",))
    clutch = _candidate("worn clutch", 0.78, ("capper.clutch_slip",), ())
    web = _candidate("web break", 0.779, ("labeler.web_break", "line.speed"), ("filler.speed", "capper.speed"))
    order = [c.record.cause for c in _upstream_first([held, clutch, web])]
    assert order == ["web break", "line held back", "worn clutch"]
    # A better score keeps its place; two causes that explain each other keep their order.
    behind = _candidate("web break", 0.76, web.roots, tuple(web.consequences))
    assert [c.record.cause for c in _upstream_first([held, behind])] == ["line held back", "web break"]
    mutual = _candidate("same story", 0.78, ("line.speed", "filler.speed"), ("capper.speed",))
    assert [c.record.cause for c in _upstream_first([held, mutual])] == ["line held back", "same story"]
