"""The work behind the action commands: people, proposals against the live line, approvals that execute, audit."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from connectors.client import LineClient
from connectors.errors import LineUnavailable
from connectors.line import LineDefinition, load_line
from copilot import audit
from copilot.actions import Action, ActionService, Status
from copilot.audit import ChainReport
from copilot.db import Database
from copilot.executor import Executor, ExecutorOptions
from copilot.line_ops import connection
from copilot.policy import LineSnapshot
from copilot.settings import Settings
from copilot.users import Role, User, add_user, authenticate, list_users

_FIRST_READINGS_S = 5.0


@dataclass(frozen=True, kw_only=True)
class Context:
    settings: Settings
    db: Database
    line: LineDefinition
    service: ActionService


def open_context(settings: Settings) -> Context:
    db = Database(settings.database())
    line = load_line(settings.line)
    return Context(settings=settings, db=db, line=line, service=ActionService(db, line))


def users_add(ctx: Context, name: str, role: Role, password: str) -> User:
    return add_user(ctx.db, name, role, password, by="cli", at=time.time())


def users_list(ctx: Context) -> list[User]:
    return list_users(ctx.db)


def login(ctx: Context, name: str, password: str) -> User:
    return authenticate(ctx.db, name, password)


def _watched(line: LineDefinition, tag: str) -> list[str]:
    names = {t.name for t in line.tags}
    if tag not in names:
        return [line.tags[0].name]  # policy will refuse the unknown tag; still connect to judge the line
    definition = line.tag(tag)
    related = [*definition.setpoint.related, *definition.setpoint.drives] if definition.setpoint else []
    return list(dict.fromkeys([tag, *related]))


async def _connected(ctx: Context, tags: list[str]) -> LineClient:
    client = LineClient(ctx.line, connection(ctx.settings), tags=tags, publishing_interval_ms=200)
    await client.start()
    try:
        await client.wait_available(10.0)
        deadline = time.monotonic() + _FIRST_READINGS_S
        while time.monotonic() < deadline and any(r is None for r in client.cache.readings().values()):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # the first notifications follow the subscription within a publishing interval
    except LineUnavailable:
        pass  # an unreachable line is not an error here: policy records "line unavailable" as a reason
    return client


def propose(ctx: Context, requester: User, tag: str, value: float, reason: str) -> Action:
    """Judge a proposal against the live line and record it, allowed or refused."""

    async def main() -> Action:
        client = await _connected(ctx, _watched(ctx.line, tag))
        try:
            snapshot = LineSnapshot(available=client.available, readings=client.cache.readings())
            return ctx.service.propose(tag, value, requester=requester, reason=reason, snapshot=snapshot)
        finally:
            await client.stop()

    return asyncio.run(main())


def approve(ctx: Context, approver: User, action_id: str) -> Action:
    """Record an approval; when it completes the rules, execute at once through the executor."""
    action = ctx.service.approve(action_id, approver)
    if action.status is not Status.APPROVED:
        return action
    return execute(ctx, action.id)


def execute(ctx: Context, action_id: str) -> Action:
    action = ctx.service.get(action_id)

    async def main() -> Action:
        client = await _connected(ctx, _watched(ctx.line, action.tag))
        try:
            executor = Executor(
                ctx.db, ctx.line, client, options=ExecutorOptions(require_secure=ctx.settings.require_secure_writes)
            )
            await executor.reconcile()
            return await executor.execute(action.id)
        finally:
            await client.stop()

    return asyncio.run(main())


def verify_audit(ctx: Context) -> ChainReport:
    with ctx.db.session() as s:
        return audit.verify(s)


def export_audit(ctx: Context) -> str:
    with ctx.db.session() as s:
        return audit.to_csv(audit.entries(s))


def action_history(ctx: Context, action_id: str) -> list[audit.AuditEntry]:
    with ctx.db.session() as s:
        return audit.entries(s, action_id=ctx.service.get(action_id).id)
