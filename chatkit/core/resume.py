"""``Resume``: a client's half of reconnect-and-resume -- what to send, what to show.

A client that asks for ids (``"want": ["ids"]``) remembers the last id it saw and
the room history's ``epoch``. When its connection drops, it waits (:class:`Backoff`:
exponential, with full jitter), connects again and joins with ``"since"`` and
``"epoch"``; the server answers with what it missed (docs/protocol.md). ``Resume``
decides, message by message, what to show: nothing twice, in id order, and a note
when something was lost. No sockets, so it runs with plain dicts::

    >>> resume = Resume()
    >>> resume.join({"type": "join", "name": "Ann"})
    {'type': 'join', 'name': 'Ann', 'want': ['ids']}
    >>> resume.take({"type": "note", "text": 'Ann joined "people".', "id": 1})   # held ...
    []
    >>> [m["id"] for m in resume.take({"type": "history", "room": "people", "epoch": "e1",
    ...                                "messages": [], "missed": 0})]            # ... until now
    [1]
    >>> resume.take({"type": "chat", "name": "Bob", "text": "hi", "id": 2})[0]["text"]
    'hi'
    >>> resume.join({"type": "join", "name": "Ann"})          # after a drop: where it was
    {'type': 'join', 'name': 'Ann', 'want': ['ids'], 'since': 2, 'epoch': 'e1'}
    >>> shown = resume.take({"type": "history", "room": "people", "epoch": "e1", "missed": 1,
    ...     "messages": [{"type": "chat", "name": "Bob", "text": "hi", "id": 2},
    ...                  {"type": "chat", "name": "Bob", "text": "still there?", "id": 4}]})
    >>> [m["text"] for m in shown]       # id 2 was shown already; id 3 is gone: a note says so
    ['1 message from while you were away is too old to be shown', 'still there?']

The page (``chatkit/static/chat.js``) does the same in JavaScript, and
:class:`chatkit.WebSocket` with ``reconnect=True`` through this class.
"""

from __future__ import annotations

import dataclasses
import random
from typing import Any, Callable, Iterator

from .history import WANT_IDS, _whole

__all__ = ["Resume", "Backoff", "RECONNECT_CODES", "missed_note"]

#: Close codes after which a client tries again: the connection dropped (1006, 1005),
#: the server went away or restarts (1001, 1012), was overloaded (1013, 1011) or a
#: proxy could not reach it (1014). Not after 1000 (someone meant it) nor 1008 (refused,
#: removed by the instructor), nor after a frame too big (1009).
RECONNECT_CODES = frozenset({1001, 1005, 1006, 1011, 1012, 1013, 1014})
#: Messages held back while a join waits for its history, at most.
HELD = 1000


@dataclasses.dataclass(frozen=True)
class Backoff:
    """How long to wait before each new try: exponential with full jitter.

    Try ``n`` (0, 1, 2, ...) waits a random time between 0 and
    ``min(cap, base * 2**n)`` seconds, so a class whose server restarts does not
    come back all at once; after ``attempts`` tries, the client gives up::

        >>> waits = list(Backoff(attempts=5, base=1.0, cap=4.0, random=lambda: 1.0).delays())
        >>> waits
        [1.0, 2.0, 4.0, 4.0, 4.0]

    """

    attempts: int = 12
    base: float = 0.5
    cap: float = 15.0
    random: Callable[[], float] = random.random

    def __post_init__(self) -> None:
        if self.attempts < 1 or not self.base > 0 or not self.cap >= self.base:
            raise ValueError("Backoff needs attempts >= 1 and 0 < base <= cap,"
                             f" got attempts={self.attempts}, base={self.base}, cap={self.cap}")

    def delays(self) -> Iterator[float]:
        """The wait before each try, ``attempts`` of them."""
        for attempt in range(self.attempts):
            yield self.random() * min(self.cap, self.base * 2 ** min(attempt, 60))


def missed_note(missed: int | None) -> dict[str, Any]:
    """The note a client shows when a resume lost messages (``missed``: how many, or
    None: unknown, the server restarted or forgot the room)."""
    if missed is None:
        text = ("the server restarted or forgot this room: messages from while you were"
                " away may be missing")
    else:
        text = (f"{missed} message{'s' if missed != 1 else ''} from while you were away"
                f" {'are' if missed != 1 else 'is'} too old to be shown")
    return {"type": "note", "text": text, "missed": missed}


class Resume:
    """A client's last id and epoch; the join to send; the messages to show.

    :meth:`join` turns the client's join into one that asks for ids (and, after a
    drop, resumes); :meth:`take` is given each message from the server and returns
    those to show, in order. Chats and notes with ids wait after a join until its
    ``history`` arrives, then go out merged with it, in id order, none twice.
    Messages without an id (errors, private messages, answers to ``/members``) are
    shown at once.
    """

    def __init__(self) -> None:
        #: The highest id shown, in :attr:`epoch`'s numbering (0: none yet).
        self.last_id = 0
        #: The room history's epoch, once the server said it.
        self.epoch: str | None = None
        self._waiting = False  # a join was sent; its history has not come yet
        self._held: list[dict[str, Any]] = []

    def join(self, join: dict[str, Any]) -> dict[str, Any]:
        """``join`` (a dict), asking for ids -- and, once an epoch is known, for what
        came after the last id seen."""
        want = join.get("want")
        want = list(want) if isinstance(want, list) else []
        if WANT_IDS not in want:
            want.append(WANT_IDS)
        asked = {key: value for key, value in join.items() if key not in ("since", "epoch")}
        asked["want"] = want
        if self.epoch is not None:
            asked.pop("history", None)  # what it missed, not the last N
            asked["since"], asked["epoch"] = self.last_id, self.epoch
        self._waiting, self._held = True, []
        return asked

    def take(self, message: Any) -> list[dict[str, Any]]:
        """What to show for ``message`` (a dict from the server), in order: maybe nothing."""
        if not isinstance(message, dict):
            return [message]
        if message.get("type") == "history" and "epoch" in message:
            return self._history(message)
        ident = message.get("id")
        if not _whole(ident):
            return [message]
        if self._waiting:
            self._held.append(message)
            if len(self._held) <= HELD:
                return []
            self._waiting = False  # no history is coming: show what was held
            held, self._held = self._held, []
            return self._in_order(held)
        return self._in_order([message])

    def _history(self, history: dict[str, Any]) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = []
        missed = history.get("missed", 0)
        if history["epoch"] != self.epoch:
            if self.epoch is not None and missed is not None:
                missed = None  # a new life of the room: what it said before is unknown
            self.epoch, self.last_id = history["epoch"], 0
        if missed is None or (_whole(missed) and missed > 0):
            shown.append(missed_note(missed))
        messages = [m for m in history.get("messages") or () if isinstance(m, dict)]
        held, self._held, self._waiting = self._held, [], False
        return shown + self._in_order(messages + held)

    def _in_order(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        shown = []
        for message in sorted(messages, key=lambda m: m["id"] if _whole(m.get("id")) else 0):
            ident = message.get("id")
            if _whole(ident):
                if ident <= self.last_id:
                    continue  # seen already
                self.last_id = ident
            shown.append(message)
        return shown

