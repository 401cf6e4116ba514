"""How a check's results are gathered and said: one line per behaviour, a summary."""

from __future__ import annotations

import ctypes
import dataclasses
import json
import linecache
import os
import signal
import sys
import sysconfig
import threading
import traceback
from typing import Any, Callable

__all__ = ["Fail", "Result", "Report", "OK", "FAIL", "NOT_DONE", "TookTooLong", "LIMIT",
           "time_limit"]

OK, FAIL, NOT_DONE = "pass", "fail", "not done"
_STDLIB = sysconfig.get_paths()["stdlib"]
_SITE = sysconfig.get_paths()["purelib"]
_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # chatkit itself

#: Seconds one behaviour may take before it is stopped and reported as too slow.
#: A correct solution takes milliseconds; this only bounds a loop that never ends.
LIMIT = 3.0


class TookTooLong(BaseException):
    """Raised into code under check that ran past its time limit.

    A ``BaseException``, so that a student's ``except Exception`` cannot swallow it.
    """


def _raise_in(thread_id: int, exc: type[BaseException] | None) -> None:
    """Raise ``exc`` in another thread at its next Python instruction (None: take it back)."""
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread_id),
                                               ctypes.py_object(exc) if exc else None)


class time_limit:
    """``with time_limit(3): ...`` raises :class:`TookTooLong` in the block after 3 s.

    In the main thread (a notebook's cells run there) a ``SIGALRM`` timer stops
    anything, even ``time.sleep``; in another thread a watchdog raises the
    exception into it at its next Python instruction (a loop that never awaits).
    """

    def __init__(self, seconds: float):
        self.seconds = seconds
        self._old: Any = None
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._active = False

    def _again(self, frame: Any) -> bool:
        """Strike (again)? The first time, always; after that only if the code under check
        runs on -- a bare except swallowed the stop -- not while the first stop unwinds
        through the checks' own clean-up."""
        self._strikes = getattr(self, "_strikes", 0) + 1
        return self._strikes == 1 or (frame is not None and _is_theirs(frame.f_code.co_filename))

    def _alarm(self, signum: int, frame: Any) -> None:
        if self._active and self._again(frame):
            raise TookTooLong(self.seconds)

    def _fire(self, thread_id: int) -> None:
        with self._lock:
            if self._active:
                if self._again(sys._current_frames().get(thread_id)):
                    _raise_in(thread_id, TookTooLong)
                # Again every half second, in case a bare except swallowed it.
                self._timer = threading.Timer(0.5, self._fire, (thread_id,))
                self._timer.daemon = True
                self._timer.start()

    def __enter__(self) -> time_limit:
        self._active = True
        if threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer"):
            self._old = signal.signal(signal.SIGALRM, self._alarm)
            # Again every half second, in case a bare except swallowed it.
            signal.setitimer(signal.ITIMER_REAL, self.seconds, 0.5)
        else:
            self._timer = threading.Timer(self.seconds, self._fire, (threading.get_ident(),))
            self._timer.daemon = True
            self._timer.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        with self._lock:
            self._active = False
            if self._timer is not None:
                self._timer.cancel()
        if self._timer is None:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, self._old)
        else:
            self._timer.cancel()
            _raise_in(threading.get_ident(), None)  # fired too late to matter: take it back


class Fail(Exception):
    """A behaviour that is not there (yet): what was expected, what happened, a hint."""

    def __init__(self, what: str, expected: Any = None, got: Any = None, hint: str = "",
                 also: list[str] | None = None):
        super().__init__(what)
        self.what, self.expected, self.got, self.hint = what, expected, got, hint
        self.also = also or []  # more that helps: what the sender received, say


@dataclasses.dataclass
class Result:
    """One behaviour's outcome: ``status`` is "pass", "fail" or "not done".

    ``group`` is a short stable slug for what the behaviour belongs to ("join",
    "leave", "registry", ...): graders count by it; the wording of ``behaviour``
    may change, the slugs do not.
    """

    behaviour: str
    status: str
    lines: list[str] = dataclasses.field(default_factory=list)
    group: str = ""

    def __str__(self) -> str:
        mark = "✓" if self.status == OK else "✗"
        return "\n".join([f"{mark} {self.behaviour}", *("    " + line for line in self.lines)])


@dataclasses.dataclass
class Report:
    """The outcome of one ``check_*`` call: a title and a result per behaviour."""

    title: str
    results: list[Result]

    @property
    def passed(self) -> bool:
        return all(result.status == OK for result in self.results)

    def failed(self) -> list[str]:
        """The behaviours that fail or are not done yet."""
        return [result.behaviour for result in self.results if result.status != OK]

    def result(self, fragment: str) -> Result:
        """The result whose behaviour contains ``fragment``."""
        return next(result for result in self.results if fragment in result.behaviour)

    def summary(self) -> str:
        total = len(self.results)
        counts = {status: sum(r.status == status for r in self.results)
                  for status in (OK, FAIL, NOT_DONE)}
        if counts[OK] == total:
            return f"All {total} checks pass."
        parts = []
        if counts[FAIL]:
            parts.append(f"{counts[FAIL]} fail")
        if counts[NOT_DONE]:
            parts.append(f"{counts[NOT_DONE]} not done yet")
        return f"{counts[OK]} of {total} checks pass; {', '.join(parts)}."

    def groups(self) -> dict[str, list[Result]]:
        """The results by group, in the order the groups first appear."""
        groups: dict[str, list[Result]] = {}
        for result in self.results:
            groups.setdefault(result.group, []).append(result)
        return groups

    def __str__(self) -> str:
        lines, seen = [self.title], set()
        for result in self.results:
            key = tuple(result.lines)
            if result.status != OK and key in seen:  # said once is enough
                same = "not done yet, as above" if result.status == NOT_DONE else \
                    "the same failure as above"
                lines.append(f"✗ {result.behaviour}\n    ({same})")
            else:
                lines.append(str(result))
                if result.lines:
                    seen.add(key)
        return "\n".join([*lines, self.summary()])




def _show(value: Any) -> str:
    """A value as a student would read it: JSON text as is, other values as Python."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _is_theirs(filename: str) -> bool:
    """Is this file the student's (a notebook cell, their own module), not a library's?"""
    path = os.path.abspath(filename)
    return not (path.startswith(_PACKAGE + os.sep) or path.startswith(_STDLIB)
                or path.startswith(_SITE) or filename.startswith("<frozen"))


def _cell_name(filename: str) -> str:
    """``Cell In[7]`` for a notebook cell (as IPython's tracebacks say), else the file's name."""
    try:
        shell = get_ipython()  # type: ignore[name-defined]  # noqa: F821
        number = shell.compile._filename_map.get(filename)
        if number is not None:
            return f"Cell In[{number}]"
    except Exception:
        pass
    return os.path.basename(filename)


def _where(exc: BaseException) -> str:
    """`` in handle_join (Cell In[5], line 12): name = message["nmae"]``: the student's frame.

    The innermost frame of the student's own code: not chatkit's, not a library's.
    """
    if len(exc.args) > 1 and isinstance(exc, TookTooLong):
        return exc.args[1]  # where another thread was stuck, found when time ran out
    return _say_where(traceback.extract_tb(exc.__traceback__))


def _say_where(frames: traceback.StackSummary | list[traceback.FrameSummary]) -> str:
    theirs = [frame for frame in frames if _is_theirs(frame.filename)]
    if not theirs:
        return ""
    frame = theirs[-1]
    line = (frame.line or linecache.getline(frame.filename, frame.lineno or 0)).strip()
    return (f" in {frame.name} ({_cell_name(frame.filename)}, line {frame.lineno})"
            + (f": {line}" if line else ""))


def _stuck_where(thread_id: int | None) -> str:
    """Where a thread is now, as :func:`_where` says it (for a thread stuck in a loop)."""
    frame = sys._current_frames().get(thread_id) if thread_id else None
    return _say_where(traceback.extract_stack(frame)) if frame is not None else ""


def _raised(exc: BaseException) -> str:
    """``KeyError: 'jeff' in leave (Cell In[4], line 3): del self.members[member]``."""
    return f"{type(exc).__name__}: {exc}{_where(exc)}"


def _fail_lines(fail: Fail) -> list[str]:
    lines = [fail.what]
    if fail.expected is not None:
        lines.append(f"expected: {_show(fail.expected)}")
    if fail.expected is not None or fail.got is not None:
        lines.append(f"got:      {_show(fail.got)}")
    lines.extend(fail.also)
    if fail.hint:
        lines.append(f"hint: {fail.hint}")
    return lines


def _not_done(exc: BaseException) -> list[str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if _is_theirs(f.filename)]
    name = frames[-1].name if frames else "a method"
    return [f"not done yet: {name} still raises NotImplementedError"
            " -- write it in the exercise cell"]


def _run_one(behaviour: str, test: Callable[[], None], group: str = "",
             limit: float | None = None) -> Result:
    limit = LIMIT if limit is None else limit
    try:
        with time_limit(limit):
            test()
    except TookTooLong as exc:
        return Result(behaviour, FAIL, [
            f"took longer than {limit:.2g} s, and was stopped{_where(exc) or ' (waiting)'}",
            "hint: " + (exc.args[2] if len(exc.args) > 2 else
                        "a loop that never ends, or code that waits for something that never"
                        " comes (in async code: a call without await, or time.sleep instead of"
                        " await asyncio.sleep)"),
        ], group)
    except NotImplementedError as exc:
        return Result(behaviour, NOT_DONE, _not_done(exc), group)
    except Fail as fail:
        return Result(behaviour, FAIL, _fail_lines(fail), group)
    except Exception as exc:  # the student's code raised: say what and where, no traceback
        where = _where(exc)
        if not where and type(exc).__name__.startswith("ConnectionClosed"):
            # The check's own client saw the server close: the student's route closed it.
            rcvd = getattr(exc, "rcvd", None)
            return Result(behaviour, FAIL, [
                "the server closed the connection before the check was done",
                f"got:      close code {rcvd.code if rcvd else 1006}",
                "hint: close only on the message bye; answer every other message",
            ], group)
        if not where:  # nothing of the code under check ran: the check itself broke
            return Result(behaviour, FAIL, [
                f"the check could not run ({type(exc).__name__}: {exc}):"
                " please tell your instructor"
            ], group)
        return Result(behaviour, FAIL, [f"your code raised {type(exc).__name__}: {exc}{where}"],
                      group)
    return Result(behaviour, OK, [], group)


def _report(title: str, checks: list[tuple[str, str, Callable[[], None]]]) -> Report:
    """Run each ``(behaviour, group, test)``.

    A behaviour that took too long stops the rest of its group (each would wait as
    long again), and the other groups get a third of the time: code that hung once
    has had its chance, and a correct method takes milliseconds.
    """
    results: list[Result] = []
    for behaviour, group, test in checks:
        slow = [r for r in results if r.lines and r.lines[0].startswith("took longer than")]
        same = next((r for r in slow if r.group == group), None)
        if same is not None:
            results.append(Result(behaviour, FAIL, [
                f"not tried: {same.behaviour!r} took too long"], group))
            continue
        results.append(_run_one(behaviour, test, group, LIMIT / 3 if slow else LIMIT))
    return Report(title, results)


def _step(title: str, make_checks: Callable[[Any], list], run_doc: str, check_doc: str):
    """The pair ``run_x`` (returns the :class:`Report`) and ``check_x`` (prints it) for one step."""

    def run(subject: Any) -> Report:
        from .freshness import stale

        name = getattr(subject, "__name__", type(subject).__name__)
        title_line = f"Checking {name} ({title})"
        checks = make_checks(subject)
        old = stale(name, subject)
        if old:  # testing the class from before would say "pass" about code that did not run
            return Report(title_line, [Result(behaviour, FAIL, [old], group)
                                       for behaviour, group, _ in checks])
        return _report(title_line, checks)

    def check(subject: Any) -> None:
        print(run(subject))

    key = make_checks.__name__.strip("_").removesuffix("_checks")
    for function, name, doc in ((run, f"run_{key}", run_doc), (check, f"check_{key}", check_doc)):
        function.__name__ = function.__qualname__ = name
        function.__doc__ = doc
    return run, check
