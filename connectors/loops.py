"""An event loop on a thread of its own, ended the way asyncio.run ends one: nothing left pending."""

from __future__ import annotations

import asyncio
import logging

log = logging.getLogger(__name__)

DRAIN_S = 5.0


def run_until_stopped(loop: asyncio.AbstractEventLoop) -> None:
    """Run `loop` until someone stops it, then cancel what is still running, let it finish, and close the loop.

    Closing a loop with tasks still pending leaves their sockets open and their coroutines unfinished; the garbage
    collector then reports them later, inside whatever runs next in the process.
    """
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            _drain(loop)
        finally:
            loop.close()


def _drain(loop: asyncio.AbstractEventLoop) -> None:
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        # Bounded: a task that ignores its cancellation must not keep the thread from ending.
        done, still = loop.run_until_complete(asyncio.wait(pending, timeout=DRAIN_S))
        for task in done:
            if not task.cancelled() and task.exception() is not None:
                log.debug("task %s ended with %r while its loop closed", task.get_name(), task.exception())
        if still:
            log.warning("%d task(s) did not end within %.0f s of their loop closing", len(still), DRAIN_S)
    loop.run_until_complete(loop.shutdown_asyncgens())
