"""Bounded waits: every wait in the suite ends, on its condition or on a deadline.

A deadline is there so that a broken test fails instead of hanging; it is not a
speed test. It is generous because the suite runs in parallel on a loaded
machine: a wait returns as soon as its condition holds, so a long deadline costs
nothing when the test passes.

::

    run(body)                                    # await body() under asyncio.run, bounded
    await eventually(lambda: "close" in kinds)   # poll on the running loop
    wait_until(lambda: path.exists(), "the file") # poll from plain code
    on_loop(live, lambda: len(live._ws_server.connections))  # ask a live server's own loop
"""

from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable

__all__ = ["DEADLINE", "run", "eventually", "wait_until", "on_loop"]

#: Seconds any single wait may take before the test fails instead of hanging.
DEADLINE = 15.0


def run(body: Callable[[], Awaitable[Any]], timeout: float = 4 * DEADLINE) -> Any:
    """Run ``await body()`` in a fresh event loop, failing after ``timeout`` seconds."""

    async def bounded():
        async with asyncio.timeout(timeout):
            return await body()

    return asyncio.run(bounded())


async def eventually(condition: Callable[[], Any], timeout: float = DEADLINE,
                     every: float = 0.01) -> None:
    """Await until ``condition()`` is true (polled every ``every`` s), at most ``timeout`` s."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(every)


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE,
               every: float = 0.02) -> Any:
    """Poll ``condition()`` until it returns something true, and return that.

    Raises ``AssertionError`` naming ``what`` after ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        time.sleep(every)


def on_loop(live: Any, function: Callable[[], Any]) -> Any:
    """Run ``function()`` on a live server's own loop (``chatkit.start``'s thread), where
    its connections may be read safely, and return what it returns; bounded by DEADLINE."""
    async def call() -> Any:
        return function()
    return asyncio.run_coroutine_threadsafe(call(), live._loop).result(DEADLINE)
