"""A loop thread that is stopped ends its tasks before it closes, so nothing is left for the garbage collector."""

from __future__ import annotations

import asyncio
import threading

from connectors.loops import run_until_stopped


def test_a_stopped_loop_cancels_its_tasks_and_lets_their_cleanup_run() -> None:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=run_until_stopped, args=(loop,), daemon=True)
    thread.start()
    cleaned = threading.Event()

    async def holds_a_resource() -> None:
        try:
            await asyncio.Event().wait()  # never set: only a cancellation ends it
        finally:
            cleaned.set()

    started = asyncio.run_coroutine_threadsafe(_spawn(holds_a_resource), loop).result(timeout=5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert cleaned.is_set(), "the pending task's finally block ran before the loop closed"
    assert started.cancelled()
    assert loop.is_closed()


async def _spawn(work: object) -> asyncio.Task[None]:
    task = asyncio.create_task(work())  # type: ignore[operator]
    await asyncio.sleep(0)
    return task
