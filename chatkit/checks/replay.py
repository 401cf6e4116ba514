"""Notebook 8, step 2: the server's replay -- ``History(limit)`` with ``add`` and ``since``.

The check plays generated sessions on your ``History`` beside a model of the
reference: a history of some ``limit`` (1 to 6), messages added one by one, and
``since(last_id)`` asked at every kind of id -- 0 (before the first), inside,
the last one, past the end, and ids that were dropped as too old. After every
call it compares what yours returned with what the reference returns: ``add``
gives back the message with the next ``"id"`` (1, 2, 3 ...); ``since`` gives
``(messages, missed)`` -- the kept messages with an id above ``last_id``,
oldest first, and how many after ``last_id`` are no longer kept. A ✗ shows the
shortest session that goes wrong, as the Python calls a student would type::

    >>> class History:
    ...     def __init__(self, limit=200):
    ...         self.limit, self.messages, self.last_id = limit, [], 0
    ...     def add(self, message):
    ...         self.last_id += 1
    ...         self.messages = (self.messages + [{**message, "id": self.last_id}])[-self.limit:]
    ...         return self.messages[-1]
    ...     def since(self, last_id):
    ...         oldest = self.messages[0]["id"] if self.messages else self.last_id + 1
    ...         return [m for m in self.messages if m["id"] > last_id], max(0, oldest - 1 - last_id)
    >>> run_history(History).passed
    True
"""

from __future__ import annotations

import contextlib
import json
import random
from typing import Any, Iterable

from .engine import Alternative, Behaviour, Exercise, Mismatch, Outcome, Play, Step, Tracer, engine_step

__all__ = ["run_history", "check_history", "HistoryModel", "SESSIONS"]

#: How many generated sessions the check plays (after the tricky ones).
SESSIONS = 160

MESSAGES = [{"type": "chat", "name": "Ann", "text": "hi"},
            {"type": "note", "text": 'Bob joined "people".'},
            {"type": "chat", "name": "Bob", "text": "héllo ✓ 😀"},
            {"type": "chat", "name": "José", "text": "see you"},
            {"type": "note", "text": "Ann left people."},
            {"type": "chat", "name": "Ann", "text": '{"type": "chat"}'}]


class HistoryModel:
    """The reference: the last ``limit`` messages, each given the next id.

    >>> history = HistoryModel(limit=2)
    >>> [history.add({"text": t})["id"] for t in "abc"]
    [1, 2, 3]
    >>> history.since(0)       # 1 is no longer kept: one missed
    ([{'text': 'b', 'id': 2}, {'text': 'c', 'id': 3}], 1)
    """

    def __init__(self, limit: int = 200):
        self.limit = limit
        self.messages: list[dict] = []
        self.last_id = 0

    def add(self, message: dict) -> dict:
        self.last_id += 1
        message = {**message, "id": self.last_id}
        self.messages = (self.messages + [message])[-self.limit:]
        return message

    def since(self, last_id: int) -> tuple[list[dict], int]:
        oldest = self.messages[0]["id"] if self.messages else self.last_id + 1
        return ([m for m in self.messages if m["id"] > last_id],
                max(0, oldest - 1 - max(last_id, 0)))

    @property
    def dropped(self) -> int:
        """How many messages are no longer kept (ids 1 to ``dropped``)."""
        return self.last_id - len(self.messages)


def _plain(value: Any) -> Any:
    """What a call returned, as JSON would carry it (a tuple is a list), for comparing."""
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError):
        return f"not JSON-like: {value!r}"


class _Calls(Play):
    def __init__(self, history_class: type):
        self.history_class = history_class
        self.model: HistoryModel | None = None
        self.mine: Any = None
        self.facts: dict[str, Any] = {}
        self.last_sent: dict[str, list[Any]] = {}

    def expect(self, step: Step) -> list[Alternative] | None:
        if step.kind == "make":
            model = HistoryModel(step.args[0])

            def made() -> None:
                self.model = model
            return [Alternative({}, made)]
        if self.model is None or self.mine is None:
            return None  # no history yet
        self.facts = {"dropped": self.model.dropped, "last": self.model.last_id}
        if step.kind == "add":
            return [Alternative({_call(step): [_plain(self.model.add(step.args[0]))]})]
        messages, missed = self.model.since(step.args[0])
        return [Alternative({_call(step): [_plain([messages, missed])]})]

    def do(self, step: Step, trace: bool = False) -> Outcome:
        with Tracer() if trace else contextlib.nullcontext([]) as path:
            if step.kind == "make":
                self.mine = self.history_class(limit=step.args[0])
                return Outcome({}, path=path)
            if step.kind == "add":
                value = self.mine.add(dict(step.args[0]))
            else:
                value = self.mine.since(step.args[0])
        if step.kind == "since":
            self.facts["returned"] = value
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                return Outcome({}, path=path, observed={_call(step): [
                    f"{value!r} -- not a pair (messages, missed)"]})
            value = [list(value[0]) if isinstance(value[0], (list, tuple)) else value[0],
                     value[1]]
        return Outcome({}, path=path, observed={_call(step): [_plain(value)]})


def _call(step: Step) -> str:
    if step.kind == "make":
        return f"history = History(limit={step.args[0]})"
    if step.kind == "add":
        return f"history.add({json.dumps(step.args[0], ensure_ascii=False)})"
    return f"history.since({step.args[0]})"


def _tricky() -> list[list[Step]]:
    """Sessions that probe one edge each, shortest first."""
    def add(i: int) -> Step:
        return Step("add", "history", (MESSAGES[i % len(MESSAGES)],), "add")

    def since(last_id: int, tag: str) -> Step:
        return Step("since", "history", (last_id,), tag)

    make = lambda limit: Step("make", "history", (limit,))  # noqa: E731
    return [
        [make(5), add(0), add(1), add(2)],
        [make(5), add(0), since(0, "since")],
        [make(5), since(0, "since")],
        [make(5), add(0), add(1), add(2), since(1, "since"), since(3, "since"),
         since(0, "since")],
        [make(5), add(0), add(1), since(2, "since"), since(7, "since")],
        [make(2), add(0), add(1), add(2), since(0, "bounded"), since(1, "bounded")],
        [make(1), add(0), add(1), since(0, "bounded"), since(1, "bounded"), since(2, "since")],
        [make(3), *(add(i) for i in range(6)), since(0, "missed"), since(1, "missed"),
         since(2, "missed"), since(3, "missed"), since(4, "since"), since(6, "since")],
        [make(2), *(add(i) for i in range(5)), since(5, "since"), since(9, "since"),
         since(3, "missed")],
    ]


def _generated(count: int) -> list[list[Step]]:
    rng = random.Random(8)
    sessions = []
    for _ in range(count):
        limit = rng.randint(1, 6)
        steps = [Step("make", "history", (limit,))]
        last = 0
        for _ in range(rng.randint(1, 14)):
            if rng.random() < 0.6:
                steps.append(Step("add", "history", (rng.choice(MESSAGES),), "add"))
                last += 1
            else:
                dropped = max(0, last - limit)
                at = rng.choice([0, last, last + 1, last + rng.randint(2, 5), rng.randint(0, last),
                                 dropped, max(0, dropped - 1), dropped + 1])
                tag = "missed" if at < dropped else ("bounded" if dropped else "since")
                steps.append(Step("since", "history", (at,), tag))
        sessions.append(steps)
    return sessions


_TAGS = {"add": 0, "since": 1, "bounded": 2, "missed": 3}


class HistoryChecks(Exercise):
    """Notebook 8: History(limit) -- add(message) -> with an id; since(last_id) -> (kept, missed)."""

    key = "history"
    title = "notebook 8, step 2: the server's replay"
    behaviours = [
        Behaviour("add gives each message the next id: 1, 2, 3 ... and returns it", "ids",
                  "count the messages added (the first gets 1) and return the message with"
                  ' its "id" -- a new dict, or the same one with "id" set'),
        Behaviour("since(last_id) returns the messages after last_id, oldest first", "replay",
                  "the messages whose id is greater than last_id -- not equal: the client has"
                  " that one already -- in the order they were added; nothing after the end"),
        Behaviour("only the last `limit` messages are kept", "bounded",
                  "once there are more than limit, drop the oldest: a deque(maxlen=limit), or"
                  " del self.messages[0]"),
        Behaviour("missed counts the messages after last_id that are no longer kept", "missed",
                  "the ids from last_id + 1 up to the oldest kept one (not included): too old"
                  " to replay; 0 when nothing is missing"),
    ]

    def begin(self, subject: Any) -> Play:
        return _Calls(subject)

    def sessions(self) -> list[list[Step]]:
        return _tricky() + _generated(SESSIONS)

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        step = mismatch.step
        if step.kind != "since":
            return 0
        want = mismatch.closest.deliveries.get(_call(step), [None])[0]
        have = mismatch.got.get(_call(step), [None])[0]
        if isinstance(have, list) and len(have) == 2 and isinstance(want, list):
            if have[0] == want[0]:
                return 3  # the messages are right: the count is not
            if mismatch.facts.get("dropped") and isinstance(have[0], list) \
                    and len(have[0]) > len(want[0]):
                return 2  # more than are kept: the oldest were never dropped
        return 1

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        step = steps[index]
        if step.kind == "add":
            return (0,)
        if step.kind != "since":
            return ()
        model = HistoryModel(steps[0].args[0] if steps and steps[0].kind == "make" else 200)
        for earlier in steps[1:index]:
            if earlier.kind == "add":
                model.add(earlier.args[0])
        found = [1]
        if model.dropped:
            found.append(2)
            if step.args[0] < model.dropped:
                found.append(3)
        return found

    def say(self, steps: list[Step], index: int, names: dict[str, str]) -> str:
        return _call(steps[index])

    def simpler(self, step: Step) -> Iterable[Step]:
        if step.kind == "add" and step.args[0] is not MESSAGES[0]:
            yield Step("add", step.who, (MESSAGES[0],), step.tag)

    def describe(self, key: str, want: list[Any], have: list[Any], at: str,
                 names: dict[str, str]) -> list[str] | None:
        return [f"{at}, {key} returned {_said(key, have[0]) if have else 'nothing'}",
                f"expected: {_said(key, want[0]) if want else 'nothing'}"]


def _said(call: str, value: Any) -> str:
    """A value as the call returned it: ``since``'s pair as ``([...], 1)``, JSON inside."""
    if isinstance(value, str):
        return value
    if call.startswith("history.since(") and isinstance(value, list) and len(value) == 2:
        return f"({json.dumps(value[0], ensure_ascii=False)}, {json.dumps(value[1])})"
    return json.dumps(value, ensure_ascii=False)


run_history, check_history = engine_step(
    HistoryChecks(),
    "Notebook 8, step 2: the server's replay, History.add and History.since.",
    "Print the notebook 8 step 2 checks: ``History(limit)`` with ``add`` and ``since``.",
)
