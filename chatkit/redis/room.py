"""``RedisRoom``: one room spread over many servers, through Redis.

A ``Room`` lives in one process: a chat reaches the members of that process only.
A ``RedisRoom`` is a ``Room`` with a different ``broadcast``: it *publishes* the
message, encoded once, to the room in Redis (the hub appends it to the room's stream),
and every server with members in the room reads it and delivers it to its own members
(``deliver``)::

    server A: jenny says "hi"  ->  XADD chatkit:stream:people  ->  Redis
    Redis -> server A -> jenny, colt         Redis -> server B -> ann, bob

Like ``Room``, it never touches a socket or an event loop: what it publishes it hands
to its ``hub`` (:class:`chatkit.redis.hub.RedisHub`, the I/O shell that talks to
Redis), and what the hub receives it hands back to ``deliver``. So it runs with a
list standing in for the hub::

    >>> class Hub:                           # what a RedisRoom needs of its hub
    ...     published = []
    ...     def publish(self, room, text): self.published.append((room.name, text))
    ...     def joined(self, room, member): pass
    ...     def left(self, room, member): pass
    >>> Rooms = RedisRoom.new_registry(); Rooms.hub = Hub()
    >>> people = Rooms.get("people")
    >>> people.broadcast({"type": "note", "text": "hello"})    # published, not sent
    >>> Rooms.hub.published
    [('people', '{"type":"note","text":"hello"}')]

``members`` is the whole room, in join order: this server's members and, for each
member on another server, a :class:`RemoteMember` whose ``send`` is a private
message through Redis. So ``ChatUser`` needs no change for ``/members``, ``/priv``,
the member lists or the check that a name is free.
"""

from __future__ import annotations

from typing import Any, Iterable

from ..core.messages import ProtocolError, encode
from ..core.room import Member, Room, send_each, send_numbered

__all__ = ["RedisRoom", "RemoteMember"]


class RemoteMember:
    """A member of the room connected to another server: a name, and a way to reach it."""

    wants: frozenset[str] = frozenset()  # its own server sends it the member lists

    def __init__(self, room: RedisRoom, name: str, member_id: str) -> None:
        self.room = room
        self.name = name
        self.member_id = member_id

    def __repr__(self) -> str:
        return f"<RemoteMember {self.name!r} ({self.member_id})>"

    def send(self, data: str) -> None:
        """Send ``data`` to this member only, through its server (``/priv``)."""
        self.room.hub.send_to(self.room, self.member_id, self.name, data)


class RedisRoom(Room):
    """A chat room whose members may be connected to different servers.

    ``broadcast`` publishes once; ``deliver`` sends what Redis brings to this
    server's members; ``listen`` is the reading loop the hub runs.
    """

    #: The I/O shell this room publishes through (set on each server's registry).
    hub: Any = None

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.local: dict[Any, None] = {}  # this server's members, in join order
        self.roster_version = 0  # the newest roster from Redis applied here

    def __repr__(self) -> str:
        return (f"<RedisRoom {self.name!r}: {len(self.members)} members,"
                f" {len(self.local)} here>")

    # -- the two halves of a shared room: publish, and the reading loop -------------

    def broadcast(self, data: dict[str, Any]) -> None:
        """Publish ``data``, encoded as JSON once, to the room's channel."""
        self.publish(encode(data))

    @staticmethod
    async def listen(pubsub: Any, deliver: Any) -> None:
        """The subscriber loop: hand every message Redis sends to ``deliver``, forever.

        ``pubsub`` is anything whose ``listen()`` yields message dicts: redis-py's
        ``PubSub``, already subscribed, or the hub's stream reader
        (:class:`chatkit.redis.streams.StreamReader`), which yields the same dicts;
        ``deliver(message)`` takes each message dict as ``pubsub.listen()`` yields it.
        """
        async for message in pubsub.listen():
            deliver(message)

    # -- what the hub calls and offers -----------------------------------------------

    def publish(self, text: str) -> None:
        """Hand ``text`` (a JSON message) to the hub, for every server's members."""
        self.hub.publish(self, text)

    def deliver(self, text: str) -> int:
        """Send ``text`` to this server's members (the same str to each); return how many.

        A member whose ``send`` fails is skipped; everyone else still gets it
        (``Room.broadcast``'s loop: :func:`chatkit.core.room.send_each`). With
        ``histories`` set, numbered here, in the order this server reads the stream
        (:func:`chatkit.core.room.send_numbered`).
        """
        if self.histories is None:
            return send_each(self.local, text)
        return send_numbered(self.local, self.histories.get(self.name), None, text)

    def join(self, member: Member) -> None:
        """Add ``member`` (of this server) to the room; the hub tells the others."""
        self.local[member] = None
        self.members[member] = None
        self.hub.joined(self, member)

    def leave(self, member: Member) -> None:
        """Remove ``member``; forget the room once no member of this server is left."""
        self.local.pop(member, None)
        self.members.pop(member, None)
        self.hub.left(self, member)  # frees its name, if it held one
        if not self.local and type(self).rooms.get(self.name) is self:
            del type(self).rooms[self.name]
            if self.histories is not None:  # no longer read here: its ids would skip a gap
                self.histories.forget(self.name)

    def load_roster(self, version: int, entries: Iterable[tuple[str, str]],
                    here: dict[str, Any]) -> bool:
        """Rebuild ``members`` from Redis's list ``(name, member id)``, in join order.

        ``here`` maps member ids of this server to their members: a member of
        ours is listed under the name it has *now* (a new name it just claimed
        for ``/name`` is not in use until the rename is done). Returns False,
        changing nothing, for a roster older than the one applied.
        """
        if version < self.roster_version:
            return False
        self.roster_version = version
        members: dict[Any, None] = {}
        for name, member_id in entries:
            member = here.get(member_id)
            if member is None:
                member = RemoteMember(self, name, member_id)
            elif member not in self.local:
                continue  # claimed by a member of ours who has not joined (yet)
            members[member] = None
        for member in self.local:  # joined here, not in Redis yet (or while it was away)
            members.setdefault(member, None)
        self.members = members
        return True

    @staticmethod
    def unreachable(name: str) -> ProtocolError:
        return ProtocolError(
            f'"{name}" is on another server, out of reach while Redis is down: try again soon'
        )
