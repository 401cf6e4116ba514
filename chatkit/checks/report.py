"""How a check's results are gathered and said: one line per behaviour, a summary."""

from __future__ import annotations

import dataclasses
import json
import os
import sysconfig
import traceback
from typing import Any, Callable

__all__ = ["Fail", "Result", "Report", "OK", "FAIL", "NOT_DONE"]

OK, FAIL, NOT_DONE = "pass", "fail", "not done"
_STDLIB = sysconfig.get_paths()["stdlib"]
_HERE = os.path.dirname(os.path.abspath(__file__))  # the checks' own files


class Fail(Exception):
    """A behaviour that is not there (yet): what was expected, what happened, a hint."""

    def __init__(self, what: str, expected: Any = None, got: Any = None, hint: str = ""):
        super().__init__(what)
        self.what, self.expected, self.got, self.hint = what, expected, got, hint


@dataclasses.dataclass
class Result:
    """One behaviour's outcome: ``status`` is "pass", "fail" or "not done"."""

    behaviour: str
    status: str
    lines: list[str] = dataclasses.field(default_factory=list)

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

    def __str__(self) -> str:
        return "\n".join([self.title, *map(str, self.results), self.summary()])




def _show(value: Any) -> str:
    """A value as a student would read it: JSON text as is, other values as Python."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _where(exc: BaseException) -> str:
    """`` in handle_join, line 5``: the innermost frame of the code under check."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__)
        if os.path.dirname(os.path.abspath(frame.filename)) != _HERE
        and not frame.filename.startswith(_STDLIB)
    ]
    if not frames:
        return ""
    return f" in {frames[-1].name}, line {frames[-1].lineno}"


def _run_one(behaviour: str, test: Callable[[], None]) -> Result:
    try:
        test()
    except NotImplementedError as exc:
        return Result(behaviour, NOT_DONE, [
            f"not done yet: {_where(exc).removeprefix(' in ').split(',')[0] or 'a method'}"
            " still raises NotImplementedError -- write it in the exercise cell"
        ])
    except Fail as fail:
        lines = [fail.what]
        if fail.expected is not None:
            lines.append(f"expected: {_show(fail.expected)}")
        if fail.expected is not None or fail.got is not None:
            lines.append(f"got:      {_show(fail.got)}")
        if fail.hint:
            lines.append(f"hint: {fail.hint}")
        return Result(behaviour, FAIL, lines)
    except Exception as exc:  # the student's code raised: say what and where, no traceback
        where = _where(exc)
        if not where:  # nothing of the code under check ran: the check itself broke
            return Result(behaviour, FAIL, [
                f"the check could not run ({type(exc).__name__}: {exc}):"
                " please tell your instructor"
            ])
        return Result(behaviour, FAIL, [f"your code raised {type(exc).__name__}: {exc}{where}"])
    return Result(behaviour, OK)


def _report(title: str, checks: list[tuple[str, Callable[[], None]]]) -> Report:
    return Report(title, [_run_one(behaviour, test) for behaviour, test in checks])


def _step(title: str, make_checks: Callable[[Any], list], run_doc: str, check_doc: str):
    """The pair ``run_x`` (returns the :class:`Report`) and ``check_x`` (prints it) for one step."""

    def run(subject: Any) -> Report:
        name = getattr(subject, "__name__", type(subject).__name__)
        return _report(f"Checking {name} ({title})", make_checks(subject))

    def check(subject: Any) -> None:
        print(run(subject))

    key = make_checks.__name__.strip("_").removesuffix("_checks")
    for function, name, doc in ((run, f"run_{key}", run_doc), (check, f"check_{key}", check_doc)):
        function.__name__ = function.__qualname__ = name
        function.__doc__ = doc
    return run, check
