"""The pipeline's words without its store: people's roles and an action's states, cheap enough for any command."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    MAINTENANCE = "maintenance"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"

    @property
    def may_request(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR, Role.MAINTENANCE)

    @property
    def may_approve(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR)

    @property
    def may_acknowledge(self) -> bool:
        """Acknowledge an alarm: the people at the line's operator position."""
        return self in (Role.OPERATOR, Role.SUPERVISOR)

    @property
    def may_shelve(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR)

    @property
    def may_take_out_of_service(self) -> bool:
        """Remove an alarm from service for longer than a shelf: a supervisor's decision, as ISA-18.2 asks."""
        return self is Role.SUPERVISOR

    @property
    def may_unlock(self) -> bool:
        """Clear a sign-in lockout: the people who answer "I am locked out" on the shop floor."""
        return self in (Role.SUPERVISOR, Role.ADMIN)


class Status(StrEnum):
    REFUSED = "refused"  # policy said no; kept with its reasons
    PENDING = "pending"  # waiting for approval(s)
    APPROVED = "approved"  # every approval the rules require is in; ready for the executor
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"  # the requester took it back before it was written
    EXPIRED = "expired"
    WRITING = "writing"  # the write intent is recorded; the executor is (or was, before a crash) writing
    SUCCEEDED = "succeeded"  # written and read back equal
    FAILED = "failed"  # not written: refused at execution or by the server
    # A write may have happened but nothing proves whether it did: left for a person to check on the line.
    UNVERIFIED = "unverified"

    @property
    def final(self) -> bool:
        return self in (
            Status.REFUSED,
            Status.REJECTED,
            Status.WITHDRAWN,
            Status.EXPIRED,
            Status.SUCCEEDED,
            Status.FAILED,
        )
