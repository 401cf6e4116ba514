"""Scores for nbgrader: one graded cell per behaviour group, from the same checks as the ✓/✗ lines.

A graded cell runs a step's checks (the ``run_*`` function the check cell above it
uses), keeps the behaviours of one group, prints their lines and ends with the
points earned -- a plain number, which nbgrader takes as partial credit::

    from chatkit.checks import grading, run_chat_user
    grading.score(run_chat_user, ChatUser, "join", points=2)

prints ::

    join: 1 of 2 behaviours pass -- 1 of 2 points
    ✓ joining: the joiner gets the note  Colt joined "people".
    ✗ joining: everyone already in the room gets the note too
        Juanita got 0 messages, expected 1
        ...

and its value is ``1.0``. What keeps the grade fair:

- the checks run in a thread of their own: a behaviour still running after
  ``STALL`` (1 s) is stopped -- it fails with "your code raised TookTooLong ... in
  handle_close", the others still count -- and the step's later groups reuse that
  report; checks still not done after ``LIMITS`` (10 s; 20 s for the socket steps)
  score 0 for every group of the step, the later ones at once. nbgrader's per-cell
  timeout is never reached;
- while they run, whatever anything writes to stdout or stderr (a ``print``, a
  ``warnings.warn``, a log line) is kept out of the cell: nbgrader zeroes a cell
  with anything on stderr; checks that hung stay silent for good (in later cells too);
- the cell's value is always a number between 0 and ``points``: a group the
  checks do not know, or checks that break, raise an error (0 points), never
  full marks by accident.
"""

from __future__ import annotations

import contextlib
import ctypes
import io
import logging
import os
import sys
import sysconfig
import threading
import time
from typing import Any, Callable

from .report import OK, Report, Result

__all__ = ["score", "group_of", "TookTooLong", "LIMITS", "DEFAULT_LIMIT", "STALL"]

#: Seconds a step's checks may take under grading before they count as hung.
#: The socket steps run real servers and clients; the others take milliseconds.
LIMITS = {"run_client": 20.0, "run_route": 20.0}
DEFAULT_LIMIT = 10.0

#: Seconds after which a behaviour still running the student's code is stopped (it
#: fails, the next one runs). Checks that are waiting themselves (the socket steps'
#: servers and clients, on a loop of their own that bounds every wait) are left alone.
STALL = 1.0

# Where the checks' own code and the standard library's live: no student code there.
_CHECKS = os.path.dirname(os.path.abspath(__file__))
_STDLIB = sysconfig.get_paths()["stdlib"]
# Libraries the checks wait in (redis-py, websockets): their frames are not the student's.
_LIBRARIES = tuple({sysconfig.get_paths()[key] for key in ("purelib", "platlib")})

# Steps whose checks outlived their limit, by (run function, subject): each keeps
# its hung thread, so a later group of the same step scores 0 without waiting again.
_hung: dict[tuple[Callable, Any], float] = {}
# Reports that took a stopped behaviour: the step's later groups use them as they are.
_stalled: dict[tuple[Callable, Any], Report] = {}


class TookTooLong(Exception):
    """Raised inside a behaviour that runs past ``STALL`` seconds: its check fails, the rest go on."""

    def __str__(self) -> str:
        return f"stopped after {STALL:g} s -- a loop that never ends?"


def group_of(run: Callable, result: Result) -> str | None:
    """The behaviour group of one result (every check names its own)."""
    return getattr(result, "group", None)


def score(run: Callable[..., Report], subject: Any, group: str, points: float,
          limit: float | None = None, *, args: tuple = ()) -> float:
    """Print one group's ✓/✗ lines and return the points it earns (0 to ``points``).

    ``run`` is a step's ``run_*`` check, ``subject`` what the student wrote (a class
    or a function), ``group`` the behaviour group this cell grades. Each behaviour
    of the group is worth the same share of ``points``. ``args`` go to ``run``
    after ``subject`` (``run_redis_room(SharedRoom, REDIS_URL)``).
    """
    name = _name(run)
    limit = LIMITS.get(name, DEFAULT_LIMIT) if limit is None else limit
    report = _run_within(run, subject, limit, args)
    if report is None:
        print(f"✗ {group}: the checks did not finish within {_hung[run, subject]:g} s --"
              f" some code of yours never returns (a loop that never ends?)\n"
              f"{group}: 0 of {points:g} points")
        return 0.0
    results = [result for result in report.results if group_of(run, result) == group]
    if not results:
        raise LookupError(f"no behaviour of {name} is in the group {group!r}:"
                          " the graded cell and the checks disagree -- tell your instructor")
    passed = sum(result.status == OK for result in results)
    earned = round(points * passed / len(results), 2)
    print(f"{group}: {passed} of {len(results)} behaviours pass -- {earned:g} of {points:g} points")
    for result in results:
        print(result)
    return float(earned)


def _name(run: Callable) -> str:
    """The name ``chatkit.checks`` gives ``run`` (``run_errors``), else its own."""
    from .. import checks

    return next((name for name in checks.__all__ if getattr(checks, name) is run),
                getattr(run, "__name__", "the checks"))


def _run_within(run: Callable[..., Report], subject: Any, limit: float,
                args: tuple = ()) -> Report | None:
    """``run(subject)`` in a thread, with its output kept out of the cell; None if it hangs.

    Student code still running after ``STALL`` seconds gets :class:`TookTooLong`
    raised inside it, so that behaviour fails and the others still run; code that
    ignores it, or waits in C, runs into ``limit``.
    """
    if (run, subject) in _hung:
        return None
    if (run, subject) in _stalled:
        return _stalled[run, subject]
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["report"] = run(subject, *args)
        except BaseException as exc:  # the checks themselves broke: the cell shows it
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="chatkit-grading", daemon=True)
    deadline = time.monotonic() + limit
    stalls = 0
    with _quiet():
        worker.start()
        while True:
            left = deadline - time.monotonic()
            worker.join(min(STALL, left))
            if not worker.is_alive() or time.monotonic() >= deadline:
                break
            if _in_student_code(worker):
                stalls += ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(worker.ident), ctypes.py_object(TookTooLong))
    if worker.is_alive():
        _hung[run, subject] = limit
        _quarantine(worker)
        return None
    if "error" in outcome:
        raise outcome["error"]
    if stalls:
        _stalled[run, subject] = outcome["report"]
    return outcome["report"]


def _in_student_code(thread: threading.Thread) -> bool:
    """Is ``thread`` running code other than the checks' own (and libraries')?"""
    frame = sys._current_frames().get(thread.ident)
    while frame is not None and frame.f_code.co_filename.startswith((_STDLIB, *_LIBRARIES)):
        frame = frame.f_back
    if frame is None:
        return False
    return os.path.dirname(os.path.abspath(frame.f_code.co_filename)) != _CHECKS


class _Quarantined:
    """A stand-in for ``sys.stdout`` or ``sys.stderr`` that drops what hung checks write."""

    threads: set[int] = set()

    def __init__(self, stream: Any):
        self._stream = stream

    def write(self, text: str) -> int:
        if threading.get_ident() in self.threads:
            return len(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _quarantine(worker: threading.Thread) -> None:
    """From now on, whatever ``worker`` writes (it may go on for ever) goes nowhere.

    Otherwise a hung loop that prints would land in later cells -- and in a graded
    cell, text on stderr scores it 0.
    """
    _Quarantined.threads.add(worker.ident)
    for name in ("stdout", "stderr"):
        if not isinstance(getattr(sys, name), _Quarantined):
            setattr(sys, name, _Quarantined(getattr(sys, name)))


@contextlib.contextmanager
def _quiet():
    """Keep stdout, stderr and logging out of the cell while the checks run."""
    disabled = logging.root.manager.disable
    logging.disable(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            yield
    finally:
        logging.disable(disabled)
