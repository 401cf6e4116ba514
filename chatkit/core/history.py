"""``RoomHistory``: a room's recent messages, numbered, bounded -- what a client resumes from.

Every message a room says to all its members (chats and notes) goes through its
history: :meth:`RoomHistory.add` gives it the next ``id`` (1, 2, 3, ... in that room)
and keeps it, within bounds (a count, characters of text, seconds). A client that
lost its connection says the last id it saw; :meth:`RoomHistory.since` answers with
what came after, and how many of those are gone (too old to be kept)::

    >>> history = RoomHistory(limit=3, clock=lambda: 100.0, epoch="e1")
    >>> history.add({"type": "chat", "name": "ann", "text": "hi"})
    {'type': 'chat', 'name': 'ann', 'text': 'hi', 'id': 1}
    >>> for word in ["two", "three", "four", "five"]:
    ...     _ = history.add({"type": "chat", "name": "bob", "text": word})
    >>> messages, missed = history.since(1)       # ann saw id 1, then her Wi-Fi dropped
    >>> [m["id"] for m in messages], missed       # 3, 4, 5 kept; 2 is gone
    ([3, 4, 5], 1)
    >>> history.since(5)
    ([], 0)

Ids mean something only within one ``epoch``: a short random token for the life of
the history. A server that restarts, or forgets a quiet room, starts a new history
with a new epoch, so a client's "the last id I saw was 57" from before is never
taken for today's 57 (the server then answers ``"missed": null``: unknown).

:class:`RoomHistories` keeps one history per room name, for at most ``rooms`` rooms
(the quietest goes first). :class:`Ask` reads what a join asks of the history
(``"want": ["ids"]``, ``"since"``, ``"epoch"``, ``"history": N``) and :func:`replay`
builds the ``{"type": "history", ...}`` answer (docs/protocol.md, "Extensions a
client asks for").
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import time
from collections import deque
from typing import Any, Callable, Iterator

__all__ = ["RoomHistory", "RoomHistories", "Ask", "replay", "new_epoch", "WANT_IDS",
           "HISTORY", "HISTORY_SECONDS", "HISTORY_BYTES", "HISTORY_ROOMS", "HISTORY_FRAME_BYTES"]

#: ``"want": ["ids"]``: every chat and note from the room carries its ``"id"``.
WANT_IDS = "ids"
#: Messages each room keeps for late joiners, resuming clients and transcripts.
HISTORY = 200
#: ... for this many seconds at most (None: however old).
HISTORY_SECONDS: float | None = 3600.0
#: ... and characters of text at most, whatever the count (200 chats of 4,000 would be 3 MB).
HISTORY_BYTES = 256 * 1024
#: Rooms whose history is kept: a script making thousands of rooms makes the quietest go first.
HISTORY_ROOMS = 100
#: Characters of text one joiner gets at most (the newest messages that fit): one join
#: of 60 bytes must not buy a quarter of a megabyte of sending.
HISTORY_FRAME_BYTES = 32 * 1024


def new_epoch() -> str:
    """A fresh epoch: 8 random hex digits (``'3f9a0c1e'``)."""
    return secrets.token_hex(4)


class RoomHistory:
    """One room's numbered messages, oldest first, within bounds.

    Args:
        limit: messages kept at most (0: none kept, but ids still count up).
        seconds: a message older than this is no longer kept (None: no time bound).
        chars: characters of text kept at most, over all kept messages.
        clock: seconds since the epoch, ``time.time`` by default.
        epoch: this history's token (default: a fresh random one).
    """

    def __init__(self, limit: int = HISTORY, *, seconds: float | None = HISTORY_SECONDS,
                 chars: int = HISTORY_BYTES, clock: Callable[[], float] = time.time,
                 epoch: str | None = None) -> None:
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 0:
            raise ValueError(f"history must be 0 or more messages, got {limit!r}")
        if seconds is not None and not seconds > 0:
            raise ValueError(f"history seconds must be more than 0 (or None), got {seconds!r}")
        self.limit = limit
        self.seconds = seconds
        self.chars = chars
        self.clock = clock
        self.epoch = epoch if epoch is not None else new_epoch()
        #: The newest id given (0 before the first message).
        self.last_id = 0
        self._kept: deque[dict[str, Any]] = deque()
        self._chars = 0

    def __repr__(self) -> str:
        return f"<RoomHistory {self.epoch} last_id={self.last_id}, {len(self._kept)} kept>"

    def __len__(self) -> int:
        self._expire()
        return len(self._kept)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self._expire()
        return iter(list(self._kept))

    def add(self, message: dict[str, Any]) -> dict[str, Any]:
        """Number ``message`` and keep it; return it with its ``"id"`` (a new dict).

        What is kept also has ``"time"`` (seconds since the epoch, for transcripts).
        """
        if not isinstance(message, dict):
            raise TypeError(f"a message is a dict, not {type(message).__name__}")
        self.last_id += 1
        numbered = {**message, "id": self.last_id}
        if self.limit:
            self._kept.append({"id": self.last_id, "time": self.clock(), **message})
            self._chars += _text_length(message)
            while len(self._kept) > self.limit or self._chars > self.chars:
                self._chars -= _text_length(self._kept.popleft())
        self._expire()
        return numbered

    def since(self, last_id: int) -> tuple[list[dict[str, Any]], int]:
        """The kept messages with an id above ``last_id``, oldest first, and how many
        after ``last_id`` are no longer kept (the "missed" count)."""
        if isinstance(last_id, bool) or not isinstance(last_id, int) or last_id < 0:
            raise ValueError(f"last_id must be a whole number, 0 or more, got {last_id!r}")
        self._expire()
        if last_id >= self.last_id:
            return [], 0
        first_kept = self._kept[0]["id"] if self._kept else self.last_id + 1
        missed = max(0, first_kept - 1 - last_id)
        return [m for m in self._kept if m["id"] > last_id], missed

    def last(self, count: int | None = None, chars: int | None = None) -> list[dict[str, Any]]:
        """The kept messages, oldest first: the ``count`` newest if given, and only the
        newest whose text fits in ``chars`` characters if given."""
        self._expire()
        return newest(list(self._kept), count, chars)

    def _expire(self) -> None:
        if self.seconds is None:
            return
        oldest = self.clock() - self.seconds
        while self._kept and self._kept[0]["time"] < oldest:
            self._chars -= _text_length(self._kept.popleft())


class RoomHistories:
    """A :class:`RoomHistory` per room name, for at most ``rooms`` rooms.

    >>> histories = RoomHistories(limit=10, rooms=2)
    >>> for room in ["a", "b", "a", "c"]:          # "b" is now the quietest: it goes
    ...     _ = histories.get(room).add({"type": "note", "text": "hi"})
    >>> sorted(histories.names()), histories.find("b")
    (['a', 'c'], None)

    ``get`` makes a room's history on first use (with a new epoch) and marks the room
    active; ``find`` only looks. The other arguments are each history's
    (:class:`RoomHistory`).
    """

    def __init__(self, limit: int = HISTORY, *, seconds: float | None = HISTORY_SECONDS,
                 chars: int = HISTORY_BYTES, rooms: int = HISTORY_ROOMS,
                 clock: Callable[[], float] = time.time) -> None:
        RoomHistory(limit, seconds=seconds, chars=chars)  # the bounds' checks, once
        self.limit, self.seconds, self.chars, self.rooms = limit, seconds, chars, rooms
        self.clock = clock
        # The least recently active room first (dicts keep order; get moves to the end).
        self._histories: dict[str, RoomHistory] = {}

    def __len__(self) -> int:
        return len(self._histories)

    def names(self) -> list[str]:
        return list(self._histories)

    def get(self, room: str) -> RoomHistory:
        """``room``'s history, made if need be; the room is now the most recently active."""
        history = self._histories.pop(room, None)
        if history is None:
            history = RoomHistory(self.limit, seconds=self.seconds, chars=self.chars,
                                  clock=self.clock)
            while len(self._histories) >= self.rooms:  # forget the quietest room
                del self._histories[next(iter(self._histories))]
        self._histories[room] = history
        return history

    def find(self, room: str) -> RoomHistory | None:
        """``room``'s history if there is one; changes nothing."""
        return self._histories.get(room)

    def forget(self, room: str) -> None:
        """Drop ``room``'s history: its next one has a new epoch (its ids mean nothing now)."""
        self._histories.pop(room, None)


@dataclasses.dataclass(frozen=True)
class Ask:
    """What a join asks of the room's history.

    >>> Ask.read('{"type": "join", "name": "Ann", "want": ["ids"], "since": 57, "epoch": "3f9a0c1e"}')
    Ask(ids=True, since=57, epoch='3f9a0c1e', count=0, error=None)
    >>> Ask.read('{"type": "join", "name": "Ann"}').wanted    # the original's join: nothing
    False

    ``ids``: ``"want": ["ids"]``; ``since`` and ``epoch``: where it resumes from;
    ``count``: ``"history": N`` (at most ``limit``); ``error``: why a ``since`` or
    ``epoch`` given could not be read (the join still stands; the client is told).
    """

    ids: bool = False
    since: int | None = None
    epoch: str | None = None
    count: int = 0
    error: str | None = None

    @property
    def wanted(self) -> bool:
        """Does this join get a ``history`` message at all?"""
        return self.ids or self.since is not None or self.count > 0 or self.error is not None

    @property
    def new_format(self) -> bool:
        """Does the answer carry ``epoch`` and ``missed``? (A bare ``"history": N`` join
        gets the answer as it was before ids: ``room`` and ``messages`` only.)"""
        return self.ids or self.since is not None or self.error is not None

    @classmethod
    def read(cls, raw: str | bytes | dict[str, Any], limit: int = HISTORY) -> Ask:
        """Read a join frame (text or an already parsed dict); anything else asks nothing."""
        message = raw
        if not isinstance(raw, dict):
            try:
                message = json.loads(raw)
            except (ValueError, TypeError):
                return cls()
        if not isinstance(message, dict) or message.get("type") != "join":
            return cls()
        want = message.get("want")
        ids = isinstance(want, list) and WANT_IDS in want
        count = message.get("history")
        count = min(count, limit) if _whole(count) and count > 0 else 0
        since, epoch, error = message.get("since"), message.get("epoch"), None
        if since is not None and not (_whole(since) and since >= 0):
            since, error = None, f'"since" must be a whole number, 0 or more, not {since!r}'
        if epoch is not None and not (isinstance(epoch, str) and 0 < len(epoch) <= 64):
            epoch, error = None, '"epoch" must be the text the server gave (at most 64 characters)'
        return cls(ids, since, epoch, count, error)


def replay(history: RoomHistory, ask: Ask, room: str,
           chars: int = HISTORY_FRAME_BYTES) -> dict[str, Any]:
    """The ``{"type": "history", ...}`` answer to a join that asked (``ask.wanted``),
    read before the join is handled (its own note and what follows reach it live).
    ``chars``: text characters it may carry; the oldest that do not fit count as missed.

    >>> history = RoomHistory(epoch="e1", clock=lambda: 100.0)
    >>> for text in ["a", "b", "c"]:
    ...     _ = history.add({"type": "chat", "name": "bob", "text": text})
    >>> answer = replay(history, Ask(ids=True, since=1, epoch="e1"), "people")
    >>> [m["text"] for m in answer["messages"]], answer["missed"]
    (['b', 'c'], 0)
    >>> answer = replay(history, Ask(ids=True, since=1, epoch="old"), "people")  # restarted
    >>> [m["text"] for m in answer["messages"]], answer["missed"]
    (['a', 'b', 'c'], None)
    """
    missed: int | None = 0
    if ask.since is not None and ask.epoch == history.epoch:
        messages, missed = history.since(ask.since)
    elif ask.since is not None or ask.error is not None:
        messages, missed = history.last(), None  # ids of another life: unknown what was lost
    else:
        messages = history.last(ask.count) if ask.count else []
    fitting = newest(messages, None, chars)
    if missed is not None:
        missed += len(messages) - len(fitting)
    answer: dict[str, Any] = {"type": "history", "room": room}
    if ask.new_format:
        answer["epoch"] = history.epoch
    answer["messages"] = fitting
    if ask.new_format:
        answer["missed"] = missed
    return answer


def newest(messages: list[dict[str, Any]], count: int | None = None,
           chars: int | None = None) -> list[dict[str, Any]]:
    """The newest ``count`` of ``messages`` (oldest first), and of those only the newest
    whose text fits in ``chars`` characters."""
    if count is not None:
        messages = messages[len(messages) - min(count, len(messages)):]
    if chars is not None:
        start = len(messages)
        while start > 0 and chars - _text_length(messages[start - 1]) >= 0:
            start -= 1
            chars -= _text_length(messages[start])
        messages = messages[start:]
    return messages


def _text_length(message: dict[str, Any]) -> int:
    text = message.get("text")
    return len(text) if isinstance(text, str) else 0


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
