"""``ClassRoster``: the instructor's view of a class -- who is where, mute, remove, history.

Plain data in, plain data out, like ``Room`` and ``ChatUser``: the server tells it
what happened (a member joined, said something, left) and asks it what may happen
(may this frame go on?). It never touches a socket, so it runs with lists::

    >>> roster = ClassRoster(history=3, clock=lambda: 100.0)
    >>> roster.joined("c1", "people", "ann")
    >>> roster.said("c1", "hi all")
    >>> roster.joined("c2", "people", "bob")
    >>> roster.rooms()
    {'people': [{'name': 'ann', 'since': 100.0, 'messages': 1, 'muted': False}, {'name': 'bob', 'since': 100.0, 'messages': 0, 'muted': False}]}
    >>> roster.mute("bob")
    >>> roster.refusal("c2", '{"type": "chat", "text": "spam"}')
    'the instructor muted you: your messages are not sent'
    >>> roster.remove("bob")            # the connections to close: bob's
    ['c2']
    >>> roster.refusal("c9", '{"type": "join", "name": "Bob"}')
    'the instructor removed "Bob" from this class'
    >>> [line["text"] for line in roster.history("people")]
    ['ann joined "people".', 'hi all', 'bob joined "people".']

The history is bounded per room (``history`` messages; the oldest go first); each
message has an ``id`` that grows by one in its room, so a client that asks for the
history (``{"type": "join", "name": ..., "history": 20}``) and a transcript
(:meth:`transcript`: JSON lines) say the same thing in the same order.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections import deque
from typing import Any, Callable, Hashable

from .grammar import MEMBERS, Chat, Command, Join, may_be_join_or_command, read
from .messages import ProtocolError, name_key

__all__ = ["ClassRoster", "Seat", "HISTORY", "HISTORY_BYTES", "HISTORY_ROOMS", "HISTORY_FRAME_BYTES",
           "history_wanted"]

#: Messages each room keeps for late joiners and transcripts, unless told otherwise.
HISTORY = 200
#: ... and characters of text at most, whatever the count (200 chats of 4,000 would be 3 MB).
HISTORY_BYTES = 256 * 1024
#: Rooms whose history is kept: a script making thousands of rooms makes the quietest go first.
HISTORY_ROOMS = 100
#: Characters of text one late joiner gets at most (the newest messages that fit): one join
#: of 60 bytes must not buy a quarter of a megabyte of sending.
HISTORY_FRAME_BYTES = 32 * 1024


@dataclasses.dataclass
class Seat:
    """One member, as the instructor sees it: where, since when, how many messages."""

    room: str
    name: str
    since: float
    messages: int = 0


class ClassRoster:
    """Who is in each room, who is muted or removed, and each room's recent messages.

    Members are known by a ``key`` the server chooses (its connection, say).

    Args:
        history: messages each room keeps (0: none).
        clock: seconds since the epoch, ``time.time`` by default.
    """

    def __init__(self, history: int = HISTORY, clock: Callable[[], float] = time.time) -> None:
        if history < 0:
            raise ValueError(f"history must be 0 or more messages, got {history}")
        self.bound = history
        self.clock = clock
        self.seats: dict[Hashable, Seat] = {}
        self.muted: set[str] = set()  # name keys
        self.removed: set[str] = set()  # name keys: kept out for the server's lifetime
        # Each room's kept messages and their characters of text; the least recently
        # active room first (dicts keep order: a room that speaks moves to the end).
        self._history: dict[str, deque[dict[str, Any]]] = {}
        self._chars: dict[str, int] = {}
        self._next_id: dict[str, int] = {}
        #: How many times something changed: a view redraws when it moves.
        self.version = 0

    # -- what happened ---------------------------------------------------------

    def joined(self, key: Hashable, room: str, name: str) -> None:
        """``name`` joined ``room`` on connection ``key``."""
        self.seats[key] = Seat(room, name, self.clock())
        self._record(room, "note", f'{name} joined "{room}".')

    def renamed(self, key: Hashable, name: str) -> None:
        """The member on ``key`` is now ``name``."""
        seat = self.seats[key]
        old, seat.name = seat.name, name
        self._record(seat.room, "note", f"{old} is now known as {name}.")

    def said(self, key: Hashable, text: str) -> None:
        """The member on ``key`` said ``text`` to its room."""
        seat = self.seats[key]
        seat.messages += 1
        self._record(seat.room, "chat", text, name=seat.name)

    def left(self, key: Hashable) -> None:
        """The connection ``key`` closed (whether it had joined or not)."""
        seat = self.seats.pop(key, None)
        if seat is not None:
            self._record(seat.room, "note", f"{seat.name} left {seat.room}.")

    def announced(self, text: str) -> list[str]:
        """An announcement to every room with members; returns those rooms."""
        rooms = sorted({seat.room for seat in self.seats.values()})
        for room in rooms:
            self._record(room, "note", text)
        return rooms

    # -- the instructor's actions ----------------------------------------------

    def mute(self, name: str) -> None:
        """``name`` may stay and read, but what it says is not sent."""
        self.muted.add(name_key(name))
        self.version += 1

    def unmute(self, name: str) -> None:
        self.muted.discard(name_key(name))
        self.version += 1

    def remove(self, name: str) -> list[Hashable]:
        """Keep ``name`` out from now on; return the keys of its connections, to close."""
        key = name_key(name)
        self.removed.add(key)
        self.version += 1
        return [k for k, seat in self.seats.items() if name_key(seat.name) == key]

    def is_muted(self, name: str) -> bool:
        return name_key(name) in self.muted

    # -- what may happen -------------------------------------------------------

    def refusal(self, key: Hashable, raw: str | bytes) -> str | None:
        """Why this frame from ``key`` may not go on (an error's text), or None.

        A removed name may not join nor be taken by ``/name``; a muted member may
        only ask who is there (``/members``). A plain chat of a member who is not
        muted is not even parsed: most frames pass at the cost of a set lookup.
        """
        seat = self.seats.get(key)
        muted = seat is not None and bool(self.muted) and self.is_muted(seat.name)
        if not muted and not (self.removed and may_be_join_or_command(raw)):
            return None
        try:
            message = read(raw)
        except ProtocolError:
            return None  # the handler answers that
        claimed = None
        if isinstance(message, Join) and isinstance(message.name, str):
            claimed = message.name.strip()
        elif isinstance(message, Command) and message.word == "/name":
            claimed = message.rest.strip()
        if claimed is not None and name_key(claimed) in self.removed:
            return f'the instructor removed "{claimed}" from this class'
        if (muted and isinstance(message, Chat)
                and not (isinstance(message, Command) and message.word == MEMBERS)):
            return "the instructor muted you: your messages are not sent"
        return None

    # -- what the instructor sees ------------------------------------------------

    def rooms(self) -> dict[str, list[dict[str, Any]]]:
        """Each room's members now, in join order: name, since (epoch s), messages, muted."""
        found: dict[str, list[dict[str, Any]]] = {}
        for seat in self.seats.values():
            found.setdefault(seat.room, []).append({
                "name": seat.name, "since": seat.since, "messages": seat.messages,
                "muted": self.is_muted(seat.name)})
        return dict(sorted(found.items()))

    def history(self, room: str, last: int | None = None,
                chars: int | None = None) -> list[dict[str, Any]]:
        """The room's kept messages, oldest first: the ``last`` ones if given, and only
        the newest whose text fits in ``chars`` characters if given."""
        kept = list(self._history.get(room, ()))
        if last is not None:
            kept = kept[len(kept) - min(last, len(kept)):]
        if chars is not None:
            start = len(kept)
            while start > 0 and chars - len(kept[start - 1]["text"]) >= 0:
                start -= 1
                chars -= len(kept[start]["text"])
            kept = kept[start:]
        return kept

    def transcript(self, room: str) -> str:
        """The room's kept messages as JSON lines, one message a line."""
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.history(room))

    def _record(self, room: str, kind: str, text: str, name: str | None = None) -> None:
        self.version += 1
        if not self.bound:
            return
        ident = self._next_id.get(room, 0) + 1
        self._next_id[room] = ident
        line: dict[str, Any] = {"id": ident, "time": self.clock(), "type": kind}
        if name is not None:
            line["name"] = name
        line["text"] = text
        kept = self._history.pop(room, None)
        if kept is None:
            kept, self._chars[room] = deque(), 0
            while len(self._history) >= HISTORY_ROOMS:  # forget the quietest room
                quiet = next(iter(self._history))
                del self._history[quiet], self._chars[quiet], self._next_id[quiet]
        self._history[room] = kept  # now the most recently active
        kept.append(line)
        self._chars[room] += len(text)
        while len(kept) > self.bound or self._chars[room] > HISTORY_BYTES:
            self._chars[room] -= len(kept.popleft()["text"])


def history_wanted(raw: str | bytes, limit: int = HISTORY) -> int:
    """How many past messages a join asks for (``"history": N``, at most ``limit``), else 0.

    >>> history_wanted('{"type": "join", "name": "ann", "history": 5}')
    5
    >>> history_wanted('{"type": "join", "name": "ann"}'), history_wanted('{"type": "chat", "text": "x"}')
    (0, 0)
    """
    try:
        message = json.loads(raw)
    except (ValueError, TypeError):
        return 0
    if not isinstance(message, dict) or message.get("type") != "join":
        return 0
    wanted = message.get("history")
    if isinstance(wanted, bool) or not isinstance(wanted, int) or wanted <= 0:
        return 0
    return min(wanted, limit)
