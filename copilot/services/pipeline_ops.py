"""The work behind the action commands: people, proposals against the live line, approvals that execute, audit."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Protocol

from connectors.errors import ConnectorError, LineUnavailable
from copilot.pipeline import audit, signin, users
from copilot.pipeline.audit import ChainReport
from copilot.pipeline.db import Database
from copilot.pipeline.states import Role, Status
from copilot.pipeline.users import User
from copilot.settings import Settings

# The OPC UA client, the executor and the action service load inside the commands that use them: `users list` reads
# only the store.
if TYPE_CHECKING:
    from connectors.client import LineClient
    from connectors.line import LineDefinition
    from copilot.pipeline.actions import Action, ActionService


_FIRST_READINGS_S = 5.0


class Context:
    """The pipeline's store, with the line definition and the action service loaded on first use."""

    def __init__(self, settings: Settings, db: Database, line: LineDefinition | None = None) -> None:
        self.settings = settings
        self.db = db
        if line is not None:
            self.__dict__["line"] = line  # already loaded (an evaluation's line): the cached property finds it

    # `users list` reads only the store: loading and checking the line definition (a tenth of a second or more)
    # waits until a command asks for it.
    @cached_property
    def line(self) -> LineDefinition:
        from connectors.line import load_line

        return load_line(self.settings.line)

    @cached_property
    def service(self) -> ActionService:
        from copilot.pipeline.actions import ActionService

        return ActionService(self.db, lambda: self.line)


def open_context(settings: Settings, *, create: bool = False) -> Context:
    """The pipeline on the configured database; only `create=True` (the first `users add`) may make a new one."""
    return Context(settings, Database(settings.database(), create=create))


def users_add(ctx: Context, name: str, role: Role, password: str, *, admin: User | None) -> User:
    """Add a person on a signed-in admin's authority; with `admin=None` only the first admin of an empty database."""
    return users.enroll(ctx.db, name, role, password, admin=admin, at=time.time())


def users_role(ctx: Context, name: str, role: Role, *, admin: User) -> User:
    return users.change_role(ctx.db, name, role, admin=admin, at=time.time())


def users_deactivate(ctx: Context, name: str, *, admin: User) -> User:
    return users.deactivate(ctx.db, name, admin=admin, at=time.time())


def users_list(ctx: Context) -> list[User]:
    return users.list_users(ctx.db)


def users_unlock(ctx: Context, name: str, *, by: User, client: bool = False) -> bool:
    """Clear a person's sign-in wait or lockout (or a client's, with `client=True`); False when none ran."""
    clear = signin.unlock_client if client else signin.unlock_person
    return clear(ctx.db, name, by=by, now=time.time())


def lockouts(ctx: Context) -> list[signin.Lockout]:
    return signin.lockouts(ctx.db, now=time.time())


def clear_lockout(ctx: Context, hold: signin.Lockout, *, by: User) -> bool:
    """Clear one wait or lockout as `lockouts` listed it; False when it had ended meanwhile."""
    return signin.unlock(ctx.db, hold.kind, hold.key, by=by, now=time.time())


def login(ctx: Context, name: str, password: str, *, clients: tuple[str, ...] = ()) -> User:
    """Sign a person in through the throttle; the CLI's client (its OS account and host) when none is given."""
    return signin.sign_in(ctx.db, name, password, clients=clients or (signin.cli_client(),), now=time.time())


def _watched(line: LineDefinition, tag: str) -> list[str]:
    names = {t.name for t in line.tags}
    if tag not in names:
        return [line.tags[0].name]  # policy will refuse the unknown tag; still connect to judge the line
    definition = line.tag(tag)
    related = [*definition.setpoint.related, *definition.setpoint.drives] if definition.setpoint else []
    return list(dict.fromkeys([tag, *related]))


async def _connected(ctx: Context, tags: list[str], *, refusals_raise: bool = True) -> LineClient:
    """A client with its first readings; an unreachable line is returned as unavailable, not raised.

    A refusal that needs a person (a server nobody confirmed, a password that would leave unprotected) is raised
    when `refusals_raise`, so that `propose` says exactly that instead of recording "line unavailable"; the
    executor is given the unavailable client instead, and records the refusal as the reason the write failed.
    """
    from connectors.client import LineClient
    from copilot.services.line_ops import connection

    client = LineClient(ctx.line, connection(ctx.settings), tags=tags, publishing_interval_ms=200)
    await client.start()
    try:
        await client.wait_available(10.0)
        deadline = time.monotonic() + _FIRST_READINGS_S
        while time.monotonic() < deadline and any(r is None for r in client.cache.readings().values()):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the first notifications follow the subscription within a publishing interval
    except LineUnavailable:
        pass  # an unreachable line is not an error here: policy records "line unavailable" as a reason
    except ConnectorError:
        if refusals_raise:
            await client.stop()
            raise
    return client


def propose(
    ctx: Context, requester: User, tag: str, value: float, reason: str, *, requested: str | None = None
) -> Action:
    """Judge a proposal against the live line and record it, allowed or refused."""
    from copilot.pipeline.policy import LineSnapshot

    async def main() -> Action:
        client = await _connected(ctx, _watched(ctx.line, tag))
        try:
            snapshot = LineSnapshot(available=client.available, readings=client.cache.readings())
            return ctx.service.propose(
                tag, value, requester=requester, reason=reason, snapshot=snapshot, requested=requested
            )
        finally:
            await client.stop()

    return asyncio.run(main())


def approve(ctx: Context, approver: User, action_id: str, comment: str = "") -> Action:
    """Record an approval (with an optional comment); when it completes the rules, execute at once."""
    action = ctx.service.approve(action_id, approver, comment)
    if action.status is not Status.APPROVED:
        return action
    return execute(ctx, action.id)


def reject(ctx: Context, user: User, action_id: str, reason: str) -> Action:
    return ctx.service.reject(action_id, user, reason)


def withdraw(ctx: Context, user: User, action_id: str, reason: str) -> Action:
    return ctx.service.withdraw(action_id, user, reason)


def settle(ctx: Context, user: User, action_id: str, *, written: bool, reason: str) -> Action:
    return ctx.service.settle(action_id, user, written=written, reason=reason)


def execute(ctx: Context, action_id: str) -> Action:
    from copilot.pipeline.executor import Executor, ExecutorOptions

    action = ctx.service.get(action_id)

    async def main() -> Action:
        client = await _connected(ctx, _watched(ctx.line, action.tag), refusals_raise=False)
        try:
            executor = Executor(
                ctx.db, ctx.line, client, options=ExecutorOptions(require_secure=ctx.settings.secure_writes_required())
            )
            await executor.reconcile()
            return await executor.execute(action.id)
        finally:
            await client.stop()

    return asyncio.run(main())


def verify_audit(ctx: Context) -> ChainReport:
    with ctx.db.reader() as s:
        return audit.verify(s)


def export_audit(ctx: Context) -> str:
    with ctx.db.reader() as s:
        return audit.to_csv(audit.entries(s))


def audit_entries(ctx: Context) -> list[audit.AuditEntry]:
    """The whole audit trail, oldest first: the console's browser filters it."""
    with ctx.db.reader() as s:
        return audit.entries(s)


def audit_csv(entries: list[audit.AuditEntry]) -> str:
    return audit.to_csv(entries)


def action_history(ctx: Context, action_id: str) -> list[audit.AuditEntry]:
    action = ctx.service.get(action_id)
    with ctx.db.reader() as s:
        return audit.entries(s, action_id=action.id)


class _Cause(Protocol):
    @property
    def cause(self) -> str: ...

    @property
    def confidence(self) -> float: ...


class _Answer(Protocol):
    """What the handover keeps of an answer (the agent's Answer, without importing the agent here)."""

    @property
    def causes(self) -> Sequence[_Cause]: ...

    @property
    def abstained(self) -> bool: ...


def note_answer(ctx: Context, person: str, question: str, answer: _Answer) -> None:
    """Keep an answer's headline for the shift handover; a store that cannot take it never costs the answer."""
    from copilot.errors import CopilotError
    from copilot.pipeline import diagnosis_log

    top = answer.causes[0] if answer.causes else None
    try:
        diagnosis_log.note(
            ctx.db,
            person=person,
            question=question,
            cause=top.cause if top is not None else "",
            confidence=top.confidence if top is not None else None,
            abstained=answer.abstained,
            at=time.time(),
        )
    except CopilotError as err:
        logging.getLogger(__name__).warning("the diagnosis was not kept for the handover: %s", err)
