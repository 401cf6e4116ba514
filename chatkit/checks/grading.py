"""Scores for nbgrader: one graded cell per behaviour group, from the same checks as the ✓/✗ lines.

A graded cell runs a step's checks (the ``run_*`` function the check cell above it
uses), keeps the behaviours of one group, prints their lines and ends with the
points earned -- a plain number, which nbgrader takes as partial credit::

    from chatkit.checks import grading, run_chat_user
    grading.score(run_chat_user, ChatUser, "join", points=2)

prints ::

    join: 1 of 2 behaviours pass -- 1 of 2 points
    ✓ joining: the joiner gets  Colt joined "people".  -- quotes and full stop
    ✗ joining: everyone already in the room gets the note too, and nobody outside it
        the shortest session that shows it (300 sessions tried):
          1. Juanita connects to "people"
          ...
        at step 4, Juanita got 0 messages, expected 1
        ...

and its value is ``1.0``. What keeps the grade fair:

- the checks are the check cell's own -- the same engine, the same generated
  sessions, the same report (a graded cell reuses the check cell's report when
  nothing in it ran out of time) -- so a wrong solution cannot earn full marks;
- they run in a thread of their own, and each step of your code gets ``STALL``
  (1 s) instead of the check cell's 3 s: one that runs longer is stopped by the
  same watchdog as in class (:mod:`.limits`) -- it fails with "took longer than
  1 s, and was stopped in handle_close", the others still count; checks still
  not done after ``LIMITS`` (10 s; 20 s for the socket steps) score 0 for every
  group of the step, the later ones at once. nbgrader's per-cell timeout is
  never reached;
- while they run, whatever anything writes to stdout or stderr (a ``print``, a
  ``warnings.warn``, a log line) is kept out of the cell: nbgrader zeroes a cell
  with anything on stderr; checks that hung stay silent for good (in later cells too);
- the cell's value is always a number between 0 and ``points``: a group the
  checks do not know, or checks that break, raise an error (0 points), never
  full marks by accident.
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from typing import Any, Callable

from .limits import TookTooLong, limit as step_limit
from .report import OK, Report, Result

__all__ = ["score", "group_of", "TookTooLong", "LIMITS", "DEFAULT_LIMIT", "STALL"]

#: Seconds a step's checks may take under grading before they count as hung.
#: The socket steps run real servers and clients; the others take milliseconds.
LIMITS = {"run_client": 20.0, "run_route": 20.0}
DEFAULT_LIMIT = 10.0

#: Seconds one step of the student's code may run under grading before it is stopped
#: (it fails, the checks go on). Checks that are waiting themselves (the socket steps'
#: servers and clients, on a loop of their own that bounds every wait) are left alone.
STALL = 1.0

# Steps whose checks outlived their limit, by (run function, subject): each keeps
# its hung thread, so a later group of the same step scores 0 without waiting again.
_hung: dict[tuple[Callable, Any], float] = {}


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

    Each step of the student's code gets ``STALL`` seconds (the checks' own watchdog
    stops it there, and that behaviour fails); code that ignores the stop, or waits
    in C, runs into ``limit``.
    """
    if (run, subject) in _hung:
        return None
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            with step_limit(STALL):
                outcome["report"] = run(subject, *args)
        except BaseException as exc:  # the checks themselves broke: the cell shows it
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="chatkit-grading", daemon=True)
    with _quiet():
        worker.start()
        worker.join(limit)
    if worker.is_alive():
        _hung[run, subject] = limit
        _quarantine(worker)
        return None
    if "error" in outcome:
        raise outcome["error"]
    return outcome["report"]


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
