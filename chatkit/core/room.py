"""``Room``: a named group of members, and the registry that finds rooms by name.

The Python twin of the exercise's ``room.js``. A room never touches a socket: its
members are objects with a ``send(text)`` method, so a room works the same with
real connections and with a list in a test::

    >>> class Member:
    ...     def __init__(self):
    ...         self.sent = []
    ...     def send(self, text):
    ...         self.sent.append(text)
    >>> Rooms = Room.new_registry()       # a registry of our own for this example
    >>> people = Rooms.get("people")
    >>> people is Rooms.get("people")     # same name, same room
    True
    >>> juanita = Member()
    >>> people.join(juanita)
    >>> people.broadcast({"type": "note", "text": "hello"})
    >>> juanita.sent
    ['{"type":"note","text":"hello"}']

"""

from __future__ import annotations

import json
import logging
from typing import Any, ClassVar, Iterable, Protocol

from .grammar import WANT_MEMBERS, member_list
from .history import WANT_IDS, RoomHistories
from .messages import encode

__all__ = ["Room", "Member", "Outlet", "send_each", "send_numbered", "send_member_lists"]

logger = logging.getLogger("chatkit")


class Member(Protocol):
    """What a room needs of a member: a way to send it text."""

    def send(self, data: str) -> None: ...


class Outlet(Protocol):
    """What a member may have besides ``send`` (as ``member.outlet``): its server's way to
    send one text to many members at once (a chat server's ``Outbox``).

    ``send_together(outlets, text)`` sends ``text`` to every member whose outlet it can
    serve -- exactly what each one's ``send`` would do -- and returns the positions in
    ``outlets`` of the others (``None``, another server's, a connection that needs care):
    their own ``send`` follows. It saves the Python a ``send`` per member costs.
    """

    def send_together(self, outlets: list[Outlet | None], text: str) -> Iterable[int]: ...


class Room:
    """A chat room: a name and its members, in the order they joined.

    ``Room.get(name)`` is how you find a room (it is made on first use); rooms
    that empty out are forgotten, so a long class leaks no rooms.
    """

    #: The registry: every room in use, by name. ``Room.get`` reads and fills it.
    rooms: ClassVar[dict[str, Room]] = {}
    #: Each room's numbered history (:mod:`chatkit.core.history`), or None: a server
    #: sets it on its own registry; the rooms then number what they broadcast.
    histories: ClassVar[RoomHistories | None] = None

    @classmethod
    def get(cls, name: str) -> Room:
        """Return the room called ``name``, making it if it does not exist yet."""
        if name not in cls.rooms:
            cls.rooms[name] = cls(name)
        return cls.rooms[name]

    @classmethod
    def new_registry(cls) -> type[Room]:
        """Return a ``Room`` class with an empty registry of its own.

        A server, a class or a test that wants to start clean takes one; the
        ``Room.get`` story stays the same::

            >>> Rooms = Room.new_registry()
            >>> Rooms.get("people") is Room.get("people")
            False

        """
        return type(cls.__name__, (cls,),
                    {"rooms": {}, "histories": None, "__module__": cls.__module__})

    def __init__(self, name: str) -> None:
        self.name = name
        # A dict used as an ordered set: keys are members, in join order.
        self.members: dict[Any, None] = {}

    def __repr__(self) -> str:
        return f"<Room {self.name!r}: {len(self.members)} members>"

    def join(self, member: Member) -> None:
        """Add ``member`` to the room."""
        self.members[member] = None

    def leave(self, member: Member) -> None:
        """Remove ``member`` from the room; forget the room once it is empty."""
        self.members.pop(member, None)
        if not self.members and type(self).rooms.get(self.name) is self:
            del type(self).rooms[self.name]

    def broadcast(self, data: dict[str, Any]) -> None:
        """Send ``data``, encoded as JSON once (as ``JSON.stringify`` would), to every member.

        A member whose ``send`` fails is skipped; everyone else still gets it. With
        :attr:`histories` set, ``data`` is numbered and kept first (:func:`send_numbered`).
        """
        text = encode(data)  # once: every member gets the same str
        if self.histories is None:
            send_each(self.members, text)
        else:
            send_numbered(self.members, self.histories.get(self.name), data, text)


def send_each(members: Iterable[Member], text: str) -> int:
    """Send ``text`` (the same str) to each of ``members``; return how many there were.

    A member whose ``send`` fails is skipped; everyone else still gets it. The loop
    of every broadcast, here and through Redis (``RedisRoom.deliver``). Members with
    an :class:`Outlet` are sent to together first, the others one by one::

        >>> class Broken:
        ...     def send(self, text): raise ConnectionError("gone")
        >>> sent = []
        >>> class Fine:
        ...     def send(self, text): sent.append(text)
        >>> send_each([Broken(), Fine()], "hi")
        2
        >>> sent
        ['hi']

    """
    members = tuple(members)  # a member's send may make another leave meanwhile
    outlets = [getattr(member, "outlet", None) for member in members]
    together = next((outlet for outlet in outlets if outlet is not None), None)
    for index in range(len(members)) if together is None else together.send_together(outlets, text):
        try:
            members[index].send(text)
        except Exception:  # one broken member must not silence the room
            logger.debug("could not send to %r", members[index], exc_info=True)
    return len(members)


def send_numbered(members: Iterable[Member], history: Any, data: dict[str, Any] | None,
                  text: str) -> int:
    """Number ``data`` in ``history`` and send it: ``text`` (its frame, as it always
    was) to each member, and the numbered frame instead to those that asked for ids
    (``"want": ["ids"]``). ``data`` None: read from ``text``. Returns how many members.

        >>> from chatkit.core.history import RoomHistory
        >>> class Member:
        ...     def __init__(self, wants=()):
        ...         self.wants, self.sent = wants, []
        ...     def send(self, text): self.sent.append(text)
        >>> ann, bob = Member({"ids"}), Member()
        >>> send_numbered([ann, bob], RoomHistory(), None, '{"type":"note","text":"hi"}')
        2
        >>> ann.sent, bob.sent
        (['{"type":"note","text":"hi","id":1}'], ['{"type":"note","text":"hi"}'])

    A client that did not ask gets the very same frame as before: 0 bytes more.
    """
    if data is None:
        data = json.loads(text)
    numbered = history.add(data)
    members = tuple(members)
    wanting = [m for m in members if WANT_IDS in getattr(m, "wants", ())]
    if not wanting:
        return send_each(members, text)
    send_each([m for m in members if WANT_IDS not in getattr(m, "wants", ())], text)
    send_each(wanting, encode(numbered))  # once for all of them
    return len(members)


def send_member_lists(members: Iterable[Any]) -> None:
    """Send the member list of ``members`` (all of a room's, in join order) to those
    of them that asked for it (``"want": ["members"]``); the others never see one.

        >>> class Member:
        ...     def __init__(self, name, wants=()):
        ...         self.name, self.wants, self.sent = name, wants, []
        ...     def send(self, text): self.sent.append(text)
        >>> ann, bob = Member("ann", {"members"}), Member("bob")
        >>> send_member_lists([ann, bob])
        >>> ann.sent, bob.sent
        (['{"type":"members","names":["ann","bob"]}'], [])

    A list replaces the one before: a member that has ``send_latest(text, kind)``
    (``ChatUser``) is handed it that way, so its server may hold a burst of lists
    back and send only the newest.
    """
    members = tuple(members)
    listeners = [m for m in members if WANT_MEMBERS in getattr(m, "wants", ())]
    if not listeners:
        return
    text = encode(member_list(m.name for m in members))
    for member in listeners:
        try:
            latest = getattr(member, "send_latest", None)
            if latest is not None:
                latest(text, WANT_MEMBERS)
            else:
                member.send(text)
        except Exception:  # one broken member must not silence the room
            logger.debug("could not send to %r", member, exc_info=True)
