"""A model's text against its turn's evidence: what holds passes, what was invented is named."""

from __future__ import annotations

from copilot.agent.verify import Evidence, check

EVIDENCE = Evidence(
    texts=(
        "filler.bearing_temp 85.5838 42 to 58",
        "FIL-206 Filler main drive bearing overheating. Reduce `line.speed_sp` by 60 bottles/min.",
        "line.speed_sp 600.0 540.0",
    ),
    tags=frozenset({"filler.bearing_temp", "line.speed_sp", "filler.vibration"}),
    citations=2,
    done=frozenset({"pending"}),
)


def test_rounded_values_known_codes_tags_and_sources_pass() -> None:
    text = (
        "The bearing reads 85.6 °C (filler.bearing_temp), above its 42 to 58 band; FIL-206 is active [2]. "
        "I drafted line.speed_sp 600 → 540 for approval at 10:42; step 3 of the remedy says to plan a stop."
    )
    assert check(text, EVIDENCE) == []


def test_each_kind_of_invention_is_named_in_its_sentence() -> None:
    found = check(
        "It reads 91.2 °C. Alarm FIL-299 is on. See [3]. filler.vibration is high. The change has been applied.",
        EVIDENCE,
    )
    assert [u.sentence for u in found] == [
        "It reads 91.2 °C.",
        "Alarm FIL-299 is on.",
        "See [3].",
        "filler.vibration is high.",
        "The change has been applied.",
    ]
    assert "91.2 is in no reading" in found[0].reasons[0]
    assert "FIL-299" in found[1].reasons[0]
    assert "lists 2" in found[2].reasons[0]
    assert "nothing this turn looked at concerns filler.vibration" in found[3].reasons[0]
    assert "no such action" in found[4].reasons[0]
    assert (
        found[0].as_text() == "It reads 91.2 °C. [unverified: 91.2 is in no reading, passage or proposal of this turn]"
    )


def test_a_deed_is_supported_only_by_the_pipelines_records() -> None:
    written = Evidence(texts=EVIDENCE.texts, tags=EVIDENCE.tags, citations=2, done=frozenset({"succeeded"}))
    assert check("The change has been applied.", written) == []
    assert check("Done as you asked.", EVIDENCE) != []
