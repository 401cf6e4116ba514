"""Mistakes nobody listed: wrong solutions written after the engine are caught, right ones pass.

``unseen.py`` holds whole exercise cells in styles ``tests/checks/broken`` does not use --
the issue's own examples among them (a ``Room.get`` that lowercases names,
``/members`` over every room, a ``/priv`` that cannot reach ``jean-luc``, a client
that parses every message as a number, a ``render`` that puts user text into a
format string). Nothing in the generators was tuned to them.
"""

from __future__ import annotations

import pytest

from chatkit import checks
from tests.checks.unseen import PRELUDE, SOURCES

NAMES = {"room": "Room", "chat_user": "ChatUser", "commands": "MyChatUser", "errors": "MyChatUser",
         "render": "render", "client": "connect", "route": "chat"}
CASES = [(check, what, source, right) for check, items in SOURCES.items()
         for what, source, right in items]


@pytest.fixture(autouse=True)
def short_limits(monkeypatch):
    monkeypatch.setattr(checks.sockets, "TIMEOUT", 0.3)
    monkeypatch.setattr(checks.limits, "LIMIT", 1.0)


def subject(check: str, source: str):
    namespace: dict = {}
    exec(PRELUDE, namespace)
    exec(compile(source, f"<{check} cell>", "exec"), namespace)
    return namespace[NAMES[check]]


@pytest.mark.parametrize("check, what, source, right", CASES, ids=[c[1][:50] for c in CASES])
def test_a_solution_nobody_listed_is_judged_right(check, what, source, right):
    report = getattr(checks, f"run_{check}")(subject(check, source))
    text = str(report)
    assert report.passed is right, f"{what}\n{text}"
    assert "Traceback" not in text and "could not run" not in text, text
    if not right:  # every failure says what, and most show the session that shows it
        failed = [r for r in report.results if r.status != checks.OK]
        assert all(r.lines for r in failed)


def test_the_batch_holds_the_issues_examples_and_both_kinds():
    kinds = " ".join(what for _, what, _, _ in CASES)
    for named in ("lowercases names", "every room", "jean-luc", "parses every message as a number",
                  "format string", "async def connect", "ws.on_open"):
        assert named in kinds, named
    assert sum(right for *_, right in CASES) >= 6 and sum(not right for *_, right in CASES) >= 25
