"""A click on a card that someone else decided meanwhile, from another console or a shell: the person is told who."""

from __future__ import annotations

from copilot.pipeline.states import Status
from tests.console.conftest import Console, button, read

TAG = "infeed.speed_sp"


def _pending(console: Console) -> str:
    action = console.propose(TAG, round(console.value(TAG)) + 2.0, "olga")
    assert action.status is Status.PENDING, action.refusals
    return action.id


def test_approve_on_a_card_rejected_meanwhile_says_who_rejected_it(console: Console) -> None:
    action_id = _pending(console)
    app = console.page("actions", "otto")  # the card as otto's screen still shows it, with its buttons
    console.ctx.service.reject(action_id, console.people["sam"], "not during the changeover")
    button(app, "Approve").click().run(timeout=60)
    said = " ".join(read(app.error))
    assert f"Could not finish approving: action {action_id[:8]} was already decided: rejected by sam at" in said
    assert console.ctx.service.get(action_id).status is Status.REJECTED
    assert not app.exception


def test_reject_on_a_card_withdrawn_meanwhile_says_who_withdrew_it(console: Console) -> None:
    action_id = _pending(console)
    app = console.page("actions", "sam")
    app.text_input(key=f"reject-reason-waiting-{action_id}").input("not now")
    console.ctx.service.withdraw(action_id, console.people["olga"], "asked by mistake")
    button(app, "Reject").click().run()
    said = " ".join(read(app.error))
    assert f"Could not finish rejecting: action {action_id[:8]} was already decided: withdrawn by olga at" in said
    assert "Waiting for a decision (0)" in " ".join(str(s.value) for s in app.subheader)
    assert console.ctx.service.get(action_id).status is Status.WITHDRAWN


def test_an_approval_overruled_before_the_write_says_who_overruled_it(console: Console) -> None:
    from console.proposal_card import outcome_text

    action_id = _pending(console)
    console.ctx.service.approve(action_id, console.people["otto"])  # recorded; the executor has not taken it yet
    console.ctx.service.reject(action_id, console.people["sam"], "not during the changeover")
    good, said = outcome_text(console.ctx.service.get(action_id))
    assert not good
    assert said.startswith("Your approval was recorded, but the change was already decided: rejected by sam at ")
    assert "(not during the changeover). Nothing was written." in said
