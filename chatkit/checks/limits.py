"""Time limits for the code under check -- one mechanism for the check cells and for grading.

A check runs a student's code one step at a time, each step under a deadline:
:func:`step_limit` seconds (:data:`LIMIT`, 3 s, in a check cell; less while
grading). Code still running past it -- a loop that never ends, a
``time.sleep(60)``, a busy loop on an event loop -- gets :class:`TookTooLong`
raised inside it, at the line it is on, and that step fails with that line::

    >>> def forever():                      # stands in for the student's code
    ...     while True:
    ...         pass
    >>> with Watchdog() as watch:
    ...     try:
    ...         with watch.deadline(0.2):
    ...             forever()
    ...     except TookTooLong as stop:
    ...         print("stopped" + stop.where)
    stopped in forever (<doctest ...>, line ...

"Student code" is defined once, here (:func:`is_theirs`): any file that is not
chatkit's, nor the standard library's, nor an installed library's -- a notebook
cell, a student's own module. The watchdog strikes only while such code is on
the stack of the thread it watches, so the checks' own waiting is never cut
short. ``TookTooLong`` is a ``BaseException``, so ``except Exception`` in the
student's code cannot swallow it; a bare ``except:`` that does is struck again
every half second.
"""

from __future__ import annotations

import contextlib
import ctypes
import linecache
import os
import signal
import sys
import sysconfig
import threading
import time
import traceback
from typing import Any, Iterator

from ..support.loop_thread import LoopThread

__all__ = ["TookTooLong", "LIMIT", "Watchdog", "WatchedLoop", "is_theirs", "step_limit", "limit",
           "where", "where_in_stack", "cell_name"]

#: Seconds one step of a check may run the student's code before it is stopped.
#: A correct solution takes microseconds; this only bounds a loop that never ends.
LIMIT = 3.0

_STDLIB = sysconfig.get_paths()["stdlib"]
_LIBRARIES = tuple({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # chatkit itself
_local = threading.local()


class TookTooLong(BaseException):
    """Raised into code under check that ran past its step's deadline.

    ``where`` says where it was stopped (`` in join (Cell In[4], line 7): while True:``).
    """

    def __init__(self, seconds: float = 0.0, where: str = "", hint: str = ""):
        super().__init__(seconds, where, hint)
        self.seconds, self.where, self.hint = seconds, where, hint


def step_limit() -> float:
    """The deadline of one step, in seconds, in this thread (grading sets a shorter one)."""
    return getattr(_local, "limit", None) or LIMIT


@contextlib.contextmanager
def limit(seconds: float) -> Iterator[None]:
    """``with limit(1.0): ...``: steps of the checks run in this block get ``seconds`` each."""
    old = getattr(_local, "limit", None)
    _local.limit = seconds
    try:
        yield
    finally:
        _local.limit = old


def is_theirs(filename: str) -> bool:
    """Is this file the student's (a notebook cell, their own module), not a library's?

    >>> is_theirs(__file__), is_theirs(os.__file__), is_theirs("/tmp/ipykernel_7/123.py")
    (False, False, True)
    """
    if filename.startswith("<frozen"):
        return False
    path = os.path.abspath(filename)
    return not (path.startswith(_PACKAGE + os.sep) or path.startswith(_STDLIB)
                or path.startswith(_LIBRARIES))


def cell_name(filename: str) -> str:
    """``Cell In[7]`` for a notebook cell (as IPython's tracebacks say), else the file's name."""
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        number = shell.compile._filename_map.get(filename)
        if number is not None:
            return f"Cell In[{number}]"
    except Exception:
        pass
    return filename if filename.startswith("<") else os.path.basename(filename)


def where_in_stack(frames: traceback.StackSummary | list[traceback.FrameSummary]) -> str:
    """`` in handle_join (Cell In[5], line 12): name = message["nmae"]``: the innermost
    frame of the student's own code in ``frames``, or ""."""
    theirs = [frame for frame in frames if is_theirs(frame.filename)]
    if not theirs:
        return ""
    frame = theirs[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return (f" in {frame.name} ({cell_name(frame.filename)}, line {frame.lineno})"
            + (f": {line}" if line else ""))


def where(exc: BaseException) -> str:
    """Where ``exc`` was raised in the student's code (see :func:`where_in_stack`)."""
    if isinstance(exc, TookTooLong) and exc.where:
        return exc.where
    return where_in_stack(traceback.extract_tb(exc.__traceback__))


def _raise_in(thread_id: int, exc: type[BaseException]) -> None:
    """Raise ``exc`` in another thread at its next Python instruction.

    Never "taken back" with NULL: on CPython 3.11 that leaves the interpreter's
    async-exception flag set for good (no thread ever clears it), which slows every
    thread down and, with a trace function set, re-enters signal handlers without end.
    """
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id), ctypes.py_object(exc))


def _theirs_on_stack(frame: Any, entry: Any = None) -> bool:
    """Is the student's code running: a frame of theirs between ``frame`` and ``entry``?"""
    while frame is not None and frame is not entry:
        if is_theirs(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


class Watchdog:
    """Stops the student's code in ``thread`` (default: this one) when a step runs too long.

    ``with Watchdog() as watch:`` starts watching; ``with watch.deadline(s):``
    arms it for a block. In the main thread a ``SIGALRM`` tick stops anything,
    even ``time.sleep``; in any other thread (a grading worker, the checks' own
    event loop) a watcher thread raises the exception into it at its next
    Python instruction. ``watch.where`` says where the last stop landed.
    """

    TICK = 0.05  # seconds between looks
    AGAIN = 0.5  # strike again this long after a stop that was swallowed

    def __init__(self, thread: threading.Thread | None = None, continuous: bool = False):
        self.thread = thread or threading.current_thread()
        # continuous: the time counts only while the same code of the student's runs without
        # a break (an event loop's thread: a handler that awaits gives the loop back).
        self.continuous = continuous
        self._running: tuple[int, Any] | None = None
        self._since = 0.0
        self.seconds = 0.0
        self.where = ""
        self.stops = 0  # how many times it struck
        #: The longest the student's code held this thread at a stretch, on the watchdog's
        #: clock (continuous mode: how long a handler kept the event loop from turning).
        self.longest = 0.0
        self._deadline: float | None = None
        self._struck = 0.0
        self._entry: Any = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None
        self._old: Any = None
        # The step's clock: it runs while this process runs (see _now), not while the
        # machine gives the process nothing.
        self._clock = 0.0
        self._last = (time.monotonic(), time.process_time())

    def _now(self) -> float:
        """The watchdog's clock: the time that passed since the last look, but where the
        process got less CPU than that (the machine was busy elsewhere: a parallel test
        run, a video call), only as much as it got -- at least a look's worth. So a busy
        machine does not stop a student's right code ("took longer than 1 s" in a plain
        ``__init__``), while a loop that runs, or a ``time.sleep``, counts whole: a sleep
        is seen on time by the looks (they come every TICK while the process is given
        the CPU), and code that runs uses the CPU it is given."""
        wall, cpu = time.monotonic(), time.process_time()
        last_wall, last_cpu = self._last
        self._last = (wall, cpu)
        passed = max(wall - last_wall, 0.0)
        self._clock += min(passed, max(2 * self.TICK, cpu - last_cpu))
        return self._clock

    @property
    def _signals(self) -> bool:
        main = threading.main_thread()
        return (self.thread is main and threading.current_thread() is main
                and hasattr(signal, "setitimer"))

    def __enter__(self) -> Watchdog:
        if self._signals:
            handler = signal.signal(signal.SIGALRM, self._on_signal)
            timer = signal.setitimer(signal.ITIMER_REAL, self.TICK, self.TICK)
            self._old = (handler, timer, time.monotonic())
        else:
            self._poller = threading.Thread(target=self._poll, name="chatkit-watchdog", daemon=True)
            self._poller.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._deadline = None
        if self._old is not None:
            handler, (delay, interval), since = self._old
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, handler)
            if delay:  # someone else's alarm (pytest-timeout's, say): put it back
                signal.setitimer(signal.ITIMER_REAL,
                                 max(delay - (time.monotonic() - since), 0.001), interval)
            self._old = None
        if self._poller is not None:
            self._stop.set()
            self._poller.join(1)
            self._poller = None

    def deadline(self, seconds: float | None = None) -> _Armed:
        """``with watch.deadline(3): ...``: the student's code in the block gets ``seconds``."""
        return _Armed(self, step_limit() if seconds is None else seconds)

    def _due(self) -> bool:
        deadline, now = self._deadline, self._now()
        return deadline is not None and now >= deadline and (
            not self._struck or now - self._struck >= self.AGAIN)

    def _strike(self, frame: Any) -> None:
        self._struck = self._clock
        self.stops += 1
        self.where = where_in_stack(traceback.extract_stack(frame))

    def _on_signal(self, signum: int, frame: Any) -> None:
        if self._due() and _theirs_on_stack(frame, self._entry):
            self._strike(frame)
            raise TookTooLong(self.seconds, self.where)

    def _held(self, frame: Any) -> bool:
        """Has the same frame of the student's code been running since a whole limit ago?"""
        theirs = frame
        while theirs is not None and not is_theirs(theirs.f_code.co_filename):
            theirs = theirs.f_back
        now = self._clock  # (_poll has just looked: self._now())
        if theirs is None:
            self._running = None
            return False
        key = (id(theirs), theirs.f_code)
        if key != self._running:
            self._running, self._since = key, now
        self.longest = max(self.longest, now - self._since)
        return now - self._since >= self.seconds and (
            not self._struck or now - self._struck >= self.AGAIN)

    def _poll(self) -> None:
        while not self._stop.wait(self.TICK):
            with self._lock:
                self._now()  # the clock moves on at each look
                if self.continuous and self._deadline is not None:
                    frame = sys._current_frames().get(self.thread.ident)
                    if frame is not None and self.thread.is_alive() and self._held(frame):
                        self._strike(frame)
                        _raise_in(self.thread.ident, TookTooLong)
                    continue
                if not self._due():
                    continue
                frame = sys._current_frames().get(self.thread.ident)
                if frame is not None and self.thread.is_alive() and _theirs_on_stack(
                        frame, self._entry):
                    self._strike(frame)
                    _raise_in(self.thread.ident, TookTooLong)


class WatchedLoop(LoopThread):
    """The checks' event loop in a thread (:class:`LoopThread`), under a :class:`Watchdog`.

    The checks' servers and clients run there. Code of the student's that holds
    the loop (a loop that never awaits, a ``time.sleep``) for longer than a step's
    limit gets :class:`TookTooLong` at its line, and the loop goes on serving::

        with WatchedLoop() as loop:
            loop.run(scenario(), timeout=10)   # TookTooLong if it is not done by then
    """

    def __init__(self) -> None:
        # What goes wrong on this loop is the report's to say, not a log's on stderr.
        super().__init__("chatkit-checks", exception_handler=lambda loop, context: None,
                         resume_after=(TookTooLong,), shutdown_timeout=1)
        self.watch = Watchdog()

    def start(self, timeout: float = 10) -> WatchedLoop:
        if self.thread is None:
            super().start(timeout)
            self.watch = Watchdog(self.thread, continuous=True).__enter__()
        return self

    def run(self, awaitable: Any, timeout: float | None = None) -> Any:
        """Run ``awaitable`` on the loop; the student code it calls has ``step_limit()`` s each."""
        try:
            with self.watch.deadline(step_limit()):
                return super().run(awaitable, timeout)
        except TimeoutError:
            raise TookTooLong(timeout or 0, self.watch.where) from None

    def stop(self, timeout: float = 5) -> bool:
        for _ in range(3):  # stuck in a student's loop that never awaits: stop it again
            if self.thread is None or not self.thread.is_alive() or self.responsive(0.2):
                break
            with self.watch.deadline(0):
                time.sleep(2 * Watchdog.TICK)
        try:
            return super().stop(timeout)
        finally:
            self.watch.__exit__(None, None, None)


class _Armed:
    """The block of :meth:`Watchdog.deadline`."""

    def __init__(self, watch: Watchdog, seconds: float):
        self.watch, self.seconds = watch, seconds

    def __enter__(self) -> Watchdog:
        watch = self.watch
        with watch._lock:
            watch.seconds, watch._struck, watch.where = self.seconds, 0.0, ""
            watch._running = None
            # Our caller's frame: nothing outside it (a notebook cell calling the check) counts.
            watch._entry = sys._getframe(1) if watch.thread is threading.current_thread() else None
            watch._deadline = watch._now() + self.seconds
        return watch

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        watch = self.watch
        with watch._lock:
            watch._deadline = None
            watch._entry = None
            late = watch._poller is not None and watch._struck and exc is None
        if late and watch.thread is threading.current_thread():
            try:  # a stop that came as the block ended lands here, not in the checks' code
                for _ in range(1000):
                    pass
            except TookTooLong:
                pass
        if isinstance(exc, TookTooLong) and not exc.where:  # raised by the watcher thread
            exc.seconds, exc.where = self.seconds, watch.where
            exc.args = (self.seconds, watch.where, exc.hint)
