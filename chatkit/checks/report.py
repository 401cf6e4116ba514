"""How a check's results are gathered and said: one line per behaviour, a summary."""

from __future__ import annotations

import dataclasses
import inspect
import json
import traceback
from typing import Any, Callable

from .limits import LIMIT, TookTooLong, is_theirs, step_limit, where

__all__ = ["Fail", "Result", "Report", "OK", "FAIL", "NOT_DONE", "TookTooLong", "LIMIT",
           "checked", "could_not_run"]

OK, FAIL, NOT_DONE = "pass", "fail", "not done"


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


def raised_text(exc: BaseException) -> str:
    """``KeyError: 'jeff' in leave (Cell In[4], line 3): del self.members[member]``."""
    return f"{type(exc).__name__}: {exc}{where(exc)}"


def fail_lines(fail: Fail) -> list[str]:
    lines = [fail.what]
    if fail.expected is not None:
        lines.append(f"expected: {_show(fail.expected)}")
    if fail.expected is not None or fail.got is not None:
        lines.append(f"got:      {_show(fail.got)}")
    lines.extend(fail.also)
    if fail.hint:
        lines.append(f"hint: {fail.hint}")
    return lines


def not_done_lines(exc: BaseException) -> list[str]:
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if is_theirs(f.filename)]
    name = frames[-1].name if frames else "a method"
    return [f"not done yet: {name} still raises NotImplementedError"
            " -- write it in the exercise cell"]


def could_not_run(exc: BaseException) -> list[str]:
    """The one way the checks say that they themselves broke (never for the student's bug)."""
    return [f"the check could not run ({type(exc).__name__}: {exc}): please tell your instructor"]


# -- run_x and check_x, with the report kept for the graded cells -------------------------

#: The last reports, by check and subject: a graded cell reuses its check cell's report.
_reports: dict[tuple, tuple[Any, Report, bool, float]] = {}
_KEEP = 16


def _fingerprint(subject: Any) -> tuple:
    """What identifies the code under check: its functions' code, its class's attributes."""
    if inspect.isclass(subject):
        parts = []
        for klass in subject.__mro__:
            if klass is object:
                continue
            for name, value in vars(klass).items():
                value = getattr(value, "__func__", value)
                parts.append((name, id(getattr(value, "__code__", value))))
        room = getattr(subject, "Room", None)
        return (id(subject), tuple(parts), _fingerprint(room) if inspect.isclass(room)
                and room is not subject else ())
    code = getattr(subject, "__code__", None) or getattr(
        getattr(type(subject), "__call__", None), "__code__", None)
    return (id(subject), id(code))


def cached(key: str, subject: Any, args: tuple, make: Callable[[], Report]) -> Report:
    """``make()``, or the report made before for the same code and check.

    The check cell's report serves the graded cells below it (the same sessions, the
    same verdicts) unless something in it ran out of time: then the time limit
    counts, and a report made under another limit is made again.
    """
    try:
        found_key = (key, _fingerprint(subject), args)
        hash(found_key)
    except TypeError:
        return make()
    found = _reports.get(found_key)
    if found is not None and found[0] is subject and (
            not found[2] or found[3] == step_limit()):
        return found[1]
    report = make()
    timed_out = any("took longer than" in line or "not tried" in line
                    for result in report.results for line in result.lines)
    _reports[found_key] = (subject, report, timed_out, step_limit())
    while len(_reports) > _KEEP:
        del _reports[next(iter(_reports))]
    return report


def checked(key: str, subject: Any, args: tuple, title: str, behaviours: list[Any],
            explore: Callable[[], list[Result]]) -> Report:
    """The report of one check: ``explore()``'s results, or why nothing was checked.

    An older class (its newest cell raised) is not checked; the checks' own failure
    is said as such (:func:`could_not_run`) -- the student's code never gets there:
    its exceptions are caught where it runs. The report is kept for the graded cells.
    """
    from .freshness import stale

    name = getattr(subject, "__name__", type(subject).__name__)
    title_line = f"Checking {name} ({title})"
    old = stale(name, subject)
    if old:  # testing the class from before would say "pass" about code that did not run
        return Report(title_line, [Result(b.text, FAIL, [old], b.group) for b in behaviours])

    def make() -> Report:
        try:
            return Report(title_line, explore())
        except Exception as exc:  # the checks themselves broke: say so, never blame the student
            return Report(title_line, [Result(b.text, FAIL, could_not_run(exc), b.group)
                                       for b in behaviours])
    return cached(key, subject, args, make)


def named(run: Callable, check: Callable, key: str, run_doc: str, check_doc: str) -> None:
    """Give ``run`` and ``check`` the names ``run_<key>``, ``check_<key>`` and their docs."""
    for function, name, doc in ((run, f"run_{key}", run_doc), (check, f"check_{key}", check_doc)):
        function.__name__ = function.__qualname__ = name
        function.__doc__ = doc
