"""The alarm banner on every page and the Alarms page, over a real line and database, as each role sees them."""

from __future__ import annotations

import time

import pytest

from copilot.pipeline import alarms
from copilot.pipeline.alarms import Observation
from tests.console.conftest import Console, button, labels, read, text_of

# A code the served line does not have: its condition is never re-evaluated, so only people move it here.
SEEDED = Observation(
    code="TST-901", tag="filler.bearing_temp", priority="high", message="Seeded <b>bearing</b> alarm", value=88.0
)


def seed(console: Console) -> None:
    alarms.observe(console.ctx.db, {SEEDED.code: SEEDED}, now=time.time())


def journal(console: Console) -> list[tuple[str, str]]:
    return [(e.event, e.actor) for e in alarms.journal(console.ctx.db, code=SEEDED.code)]


def banner_text(app: object) -> str:
    return "\n".join(m.value for m in app.markdown if "alarm-banner" in str(m.value))  # type: ignore[attr-defined]


@pytest.mark.parametrize("who", ["olga", "sam"])
def test_the_banner_leads_the_page_with_the_alarm_waiting(console: Console, who: str) -> None:
    # app.py draws the banner before it runs whichever page is chosen (AppTest cannot open a page given as a
    # function; the browser test opens each one).
    seed(console)
    app = console.app(who)
    shown = banner_text(app)
    assert 'data-code="TST-901"' in shown
    assert "▲ HIGH · TST-901" in shown, "priority in shape and word, not colour alone"
    assert "&lt;b&gt;bearing&lt;/b&gt;" in shown, "the message is text, never markup"
    assert "1 waiting" in shown
    assert "Line connected" in shown
    assert "Writes ON" in shown
    assert not app.exception


def test_acknowledge_from_the_banner_is_journaled_and_quiets_it(console: Console) -> None:
    seed(console)
    app = console.app("olga")
    button(app, "Acknowledge TST\\-901").click().run()
    assert ("acknowledged", "olga") in journal(console)
    assert "TST-901 acknowledged by olga." in read(app.success)
    assert "No alarm waiting for acknowledgement" in banner_text(app)
    assert not app.exception


def test_maintenance_sees_the_alarm_but_cannot_acknowledge_it(console: Console) -> None:
    seed(console)
    app = console.app("mia")
    assert 'data-code="TST-901"' in banner_text(app)
    assert not any(label.startswith("Acknowledge") for label in labels(app))
    page = console.page("alarms", "mia")
    assert "TST-901" in text_of(page)
    assert "Acknowledge" not in labels(page)
    assert "Shelve" not in [x.label for x in page.expander]


def test_a_shelf_needs_a_reason_and_a_supervisor_may_take_an_alarm_out_of_service(console: Console) -> None:
    seed(console)
    page = console.page("alarms", "olga")
    assert "Out of service" not in [x.label for x in page.expander], "an operator may not"
    button(page, "Shelve", key_part="shelve-TST-901").click().run()
    assert any("say why the alarm is shelved" in e for e in read(page.error))
    # A form: the reason and the time go with the click, as the browser sends them.
    page.text_input(key="shelf-reason-TST-901-1").input("probe being cleaned")
    page.selectbox(key="shelf-time-TST-901-1").select("1 h")
    button(page, "Shelve", key_part="shelve-TST-901").click().run()
    assert "TST-901 shelved for 1 h by olga." in read(page.success)
    assert "Shelved by olga until" in text_of(page)
    assert "probe being cleaned" in text_of(page)

    sup = console.page("alarms", "sam")
    assert "Unshelve" in labels(sup)
    sup.text_input(key="oos-reason-TST-901-1").input("probe sent for calibration")
    button(sup, "Take out of service").click().run()
    assert "Out of service by sam: probe sent for calibration" in text_of(sup)
    assert [e for e, _ in journal(console)] == ["activated", "shelved", "out of service"]
    assert not sup.exception


def test_a_flood_is_named_in_the_banner_with_its_first_out_and_the_page_says_what_happened_first(
    console: Console,
) -> None:
    start = time.time() - 240
    for n in range(11):
        burst = {f"TST-9{n:02d}": Observation(**{**SEEDED.__dict__, "code": f"TST-9{n:02d}"})}
        alarms.observe(console.ctx.db, burst, now=start + 20 * n)  # each clears the one before: 11 activations
    app = console.app("olga")
    shown = banner_text(app)
    assert "⚠ FLOOD: 11 alarms since" in shown
    assert "first out TST-900" in shown
    page = console.page("alarms", "olga")
    assert "**First out:** TST-900 at" in text_of(page)
    assert "then TST-901 (+20 s), TST-902 (+40 s)" in text_of(page)


def test_the_shift_page_shows_the_record_for_a_supervisor(console: Console) -> None:
    from copilot.pipeline.shift_record import record_sample

    production = console.ctx.line.line.production
    assert production is not None
    now = time.time()
    for minute in range(3):  # the console's own recorder may add one beside these: the totals are checked as ranges
        values = {production.good: 590.0 * minute, production.rejected: 10.0 * minute, production.state: 1}
        record_sample(console.ctx.db, production, values, now=now - 180 + 60 * minute)
    page = console.page("shift", "sam")
    assert not page.exception
    shown = {m.label: m.value for m in page.metric}
    assert set(shown) >= {"OEE", "Availability", "Performance", "Quality", "Good bottles", "Rejected"}
    assert "Alarm load" in text_of(page)
    assert "per hour** (ISA-18.2 target: about 6)" in text_of(page)


def test_the_handover_page_is_signed_out_by_one_person_and_in_by_another(console: Console) -> None:
    seed(console)
    page = console.page("handover", "olga")
    shown = text_of(page)
    assert "Alarms (1)" in shown
    assert "alarm open" in shown
    assert "TST-901 (Seeded <b>bearing</b> alarm) is unacknowledged since" in shown
    button(page, "Sign out (outgoing)").click().run()
    assert "Handover signed out by olga." in read(page.success)
    assert "Sign in (incoming)" not in labels(page), "olga may not sign her own handover in"
    other = console.page("handover", "otto")
    button(other, "Sign in (incoming)").click().run()
    assert "Handover signed in by otto." in read(other.success)
    assert "signed out by olga at" in text_of(other)
    assert "signed in by otto at" in text_of(other)
    assert not other.exception
