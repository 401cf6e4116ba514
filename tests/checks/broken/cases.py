"""The registry of mistakes and of right answers in other styles, one per test case.

Each module ``tests/checks/broken/nbN_*.py`` writes wrong solutions the way students write
them (a beginner, a careless one, an attacker) and marks each with :func:`wrong`;
``correct.py`` writes right solutions in other styles, marked with :func:`right`.
``tests/checks/test_checks.py`` runs the notebook's check over every one of them.

    @wrong("room", "registry: leave deletes whatever room now holds its name", {"registry"})
    class LeavePopsByName(StudentRoom): ...
"""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["Case", "WRONG", "RIGHT", "wrong", "right", "NOTEBOOK"]

#: Which notebook each check belongs to.
NOTEBOOK = {"client": 1, "route": 2, "chat_user": 3, "room": 4,
            "errors": 5, "commands": 5, "render": 5}


@dataclasses.dataclass
class Case:
    check: str  # "room" -> checks.run_room
    kind: str  # the mistake (or the style), in words
    subject: Any
    groups: frozenset[str]  # groups that must fail (wrong) -- empty: any failure will do

    @property
    def notebook(self) -> int:
        return NOTEBOOK[self.check]

    @property
    def id(self) -> str:
        return f"{self.check}-{getattr(self.subject, '__name__', self.kind)}"


WRONG: list[Case] = []
RIGHT: list[Case] = []


def wrong(check: str, kind: str, groups: set[str] | tuple = ()):
    """Mark a wrong solution: ``checks.run_<check>`` must fail on it (on ``groups``)."""
    def mark(subject: Any) -> Any:
        WRONG.append(Case(check, kind, subject, frozenset(groups)))
        return subject
    return mark


def right(check: str, kind: str):
    """Mark a right solution in another style: ``checks.run_<check>`` must pass it."""
    def mark(subject: Any) -> Any:
        RIGHT.append(Case(check, kind, subject, frozenset()))
        return subject
    return mark
