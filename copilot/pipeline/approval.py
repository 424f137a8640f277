"""The approval rule in one place: whether a person may approve a pending change now, and if not, why."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum

from copilot.pipeline.states import Role


class Refusal(StrEnum):
    OWN = "own"  # the requester never approves their own change
    ROLE = "role"  # this role may not approve changes at all
    TWICE = "twice"  # one decision per person per action
    SUPERVISOR = "supervisor"  # above the threshold, the approval that completes it must be a supervisor's


def approval_refusal(
    *,
    who: str,
    role: Role,
    requested_by: str,
    supervisor_needed: bool,
    decided: Collection[str],
    given_roles: Collection[str],
) -> Refusal | None:
    """Why `who` may not approve, or None.

    `decided` names everyone who has approved or rejected it; `given_roles` are the roles of the approvals
    still standing. The pipeline enforces this on every approval; the console asks it to hide a button that
    would fail.
    """
    if who == requested_by:
        return Refusal.OWN
    if not role.may_approve:
        return Refusal.ROLE
    if who in decided:
        return Refusal.TWICE
    # A change above the threshold needs two approvals; once one stands, the other must be a supervisor's.
    if supervisor_needed and given_roles and role is not Role.SUPERVISOR and Role.SUPERVISOR.value not in given_roles:
        return Refusal.SUPERVISOR
    return None
