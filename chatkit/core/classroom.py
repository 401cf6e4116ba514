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

The history is one :class:`~chatkit.core.history.RoomHistory` per room (bounded in
messages, characters and seconds; the quietest rooms go first); each message has an
``id`` that grows by one in its room, so a client that asks for the history
(``{"type": "join", "name": ..., "history": 20}``), a client that resumes
(``"since": 57``) and a transcript (:meth:`transcript`: JSON lines) say the same
thing in the same order. The roster writes it itself (as above) unless the rooms
do, numbering what they broadcast (``records=False``: a server whose rooms share
these ``histories``, :attr:`chatkit.core.room.Room.histories`).
"""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any, Callable, Hashable

from .grammar import MEMBERS, Chat, Command, Join, may_be_join_or_command, read
from .history import (HISTORY, HISTORY_BYTES, HISTORY_FRAME_BYTES, HISTORY_ROOMS,
                       HISTORY_SECONDS, Ask, RoomHistories)
from .messages import ProtocolError, name_key

__all__ = ["ClassRoster", "Seat", "HISTORY", "HISTORY_BYTES", "HISTORY_ROOMS", "HISTORY_FRAME_BYTES",
           "history_wanted"]


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
        seconds: a message older than this is no longer kept (None: however old).
    """

    def __init__(self, history: int = HISTORY, clock: Callable[[], float] = time.time,
                 seconds: float | None = HISTORY_SECONDS) -> None:
        self.bound = history
        self.clock = clock
        #: Each room's numbered history (the rooms' too, when they number what they say).
        self.histories = RoomHistories(history, seconds=seconds, clock=clock)
        #: Does the roster write the history? False when the rooms do.
        self.records = True
        self.seats: dict[Hashable, Seat] = {}
        self.muted: set[str] = set()  # name keys
        self.removed: set[str] = set()  # name keys: kept out for the server's lifetime
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
            self._record(room, "note", text, always=True)  # no room says it: the desk does
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
        kept = self.histories.find(room)
        return kept.last(last, chars) if kept is not None else []

    def transcript(self, room: str) -> str:
        """The room's kept messages as JSON lines, one message a line."""
        return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in self.history(room))

    def _record(self, room: str, kind: str, text: str, name: str | None = None,
                always: bool = False) -> None:
        self.version += 1
        if not (self.records or always):
            return  # the room numbered and kept it as it said it
        line: dict[str, Any] = {"type": kind}
        if name is not None:
            line["name"] = name
        line["text"] = text
        self.histories.get(room).add(line)


def history_wanted(raw: str | bytes, limit: int = HISTORY) -> int:
    """How many past messages a join asks for (``"history": N``, at most ``limit``), else 0.

    >>> history_wanted('{"type": "join", "name": "ann", "history": 5}')
    5
    >>> history_wanted('{"type": "join", "name": "ann"}'), history_wanted('{"type": "chat", "text": "x"}')
    (0, 0)
    """
    return Ask.read(raw, limit).count
