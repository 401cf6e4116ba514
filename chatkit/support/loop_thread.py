"""An event loop of its own in a thread, for code whose own thread cannot lend its loop.

A notebook's cell runs on the kernel's thread, whose loop only turns between cells:
a server there stalls while a cell sleeps. A plain script has no loop at all. So
the live server, the browser-style client, the benchmark and the checks each run
their asyncio code on a loop of their own, in a daemon thread, and hand it
coroutines from any thread::

    >>> import asyncio
    >>> with LoopThread("example") as runner:
    ...     runner.run(asyncio.sleep(0, "done"), timeout=5)
    'done'

Leaving the ``with`` block (or :meth:`LoopThread.stop`) ends it the way
``asyncio.run`` ends: tasks still pending are cancelled and awaited, async
generators closed, the loop closed. Nothing here imports chatkit.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import inspect
import threading
from typing import Any, Awaitable, Callable

__all__ = ["LoopThread", "running_loop", "call_on_loop"]

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], Any]


def running_loop() -> asyncio.AbstractEventLoop | None:
    """The event loop running in this thread, or None (a plain script, another thread)."""
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def call_on_loop(loop: asyncio.AbstractEventLoop, callback: Callable[[], Any]) -> None:
    """Run ``callback`` on ``loop``: now if we are on it, else soon (from any thread)."""
    if running_loop() is loop:
        callback()
    elif not loop.is_closed():
        loop.call_soon_threadsafe(callback)


class LoopThread:
    """An event loop running in a daemon thread of its own: give it coroutines from any thread.

    Args:
        name: the thread's name (it shows in tracebacks and ``py-spy``).
        exception_handler: the loop's exception handler (``loop.set_exception_handler``),
            e.g. one that keeps what goes wrong out of a log; None: asyncio's.
        resume_after: exceptions that, raised into the thread between callbacks (a check's
            time limit stopping the code that held the loop), leave the loop running;
            any other one ends it and is kept in :attr:`failure`.
        shutdown_timeout: how long the tasks still pending at :meth:`stop` have to
            finish once cancelled (a task that ignores cancellation is left behind).

    ``loop`` and ``thread`` are there once :meth:`start` has returned.
    """

    def __init__(self, name: str = "chatkit-loop", *,
                 exception_handler: ExceptionHandler | None = None,
                 resume_after: tuple[type[BaseException], ...] = (),
                 shutdown_timeout: float = 5) -> None:
        self.name = name
        self.exception_handler = exception_handler
        self.resume_after = resume_after
        self.shutdown_timeout = shutdown_timeout
        self.loop: asyncio.AbstractEventLoop | None = None
        self.thread: threading.Thread | None = None
        #: What ended the loop from inside, if anything did (an exception raised into it).
        self.failure: BaseException | None = None

    def __repr__(self) -> str:
        return f"<LoopThread {self.name} {'running' if self.running else 'stopped'}>"

    def __enter__(self) -> LoopThread:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        """Is the thread alive with its loop turning?"""
        return (self.thread is not None and self.thread.is_alive()
                and self.loop is not None and self.loop.is_running())

    def start(self, timeout: float = 10) -> LoopThread:
        """Start the thread; return once its loop runs (``TimeoutError`` after ``timeout``)."""
        if self.thread is not None:
            return self
        loop = self.loop = asyncio.new_event_loop()
        if self.exception_handler is not None:
            loop.set_exception_handler(self.exception_handler)
        started = threading.Event()
        loop.call_soon(started.set)
        self.thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self.thread.start()
        if not started.wait(timeout):
            raise TimeoutError(f"the {self.name} loop did not start within {timeout} s")
        return self

    def _run(self) -> None:
        loop = self.loop
        assert loop is not None
        asyncio.set_event_loop(loop)
        while True:
            try:
                loop.run_forever()
                break
            except self.resume_after:  # raised into the loop between callbacks: keep serving
                continue
            except BaseException as exc:  # raised into this thread: the loop ends
                self.failure = exc
                break
        try:  # as asyncio.run ends: what is left is cancelled, then the loop closed
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.wait(tasks, timeout=self.shutdown_timeout))
            loop.run_until_complete(loop.shutdown_asyncgens())
        except BaseException as exc:
            self.failure = self.failure or exc
        finally:
            loop.close()

    # -- from any thread ---------------------------------------------------------

    def submit(self, awaitable: Awaitable[Any]) -> concurrent.futures.Future:
        """Start ``awaitable`` on the loop; its result comes in the returned future."""
        assert self.loop is not None, "start() it first"
        coroutine = awaitable if inspect.iscoroutine(awaitable) else _wait_for(awaitable)
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def run(self, awaitable: Awaitable[Any], timeout: float | None = None) -> Any:
        """Run ``awaitable`` on the loop and wait for its result (its exception, raised here).

        After ``timeout`` seconds it is cancelled and ``TimeoutError`` is raised.
        """
        future = self.submit(awaitable)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"{self.name}: not done within {timeout} s") from None

    def call_soon(self, callback: Callable[..., Any], *args: Any) -> None:
        """Call ``callback(*args)`` on the loop, soon (thread-safe)."""
        assert self.loop is not None, "start() it first"
        self.loop.call_soon_threadsafe(callback, *args)

    def responsive(self, timeout: float) -> bool:
        """Does the loop still turn? (False if a callback has held it for ``timeout`` s.)"""
        if self.loop is None or self.thread is None or not self.thread.is_alive():
            return False
        if self.loop.is_closed():
            return False
        try:  # the loop's own turn, not a subclass's run (the checks' says TookTooLong)
            LoopThread.run(self, asyncio.sleep(0), timeout)
            return True
        except (TimeoutError, concurrent.futures.CancelledError, RuntimeError):
            return False

    def stop(self, timeout: float = 5) -> bool:
        """Stop the loop, cancel what is left, close it; True once the thread has ended.

        A loop held by code that never gives it back does not stop: False after
        ``timeout`` seconds, and the loop is left open (its thread is a daemon).
        """
        if self.loop is None or self.thread is None:
            return True
        if self.thread.is_alive() and not self.loop.is_closed():
            try:
                self.loop.call_soon_threadsafe(self.loop.stop)
            except RuntimeError:  # closed meanwhile
                pass
        if self.thread is not threading.current_thread():
            self.thread.join(timeout)
        return not self.thread.is_alive()


async def _wait_for(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
