"""Where a server's rooms live: a rooms backend, one interface whatever it is.

As Django Channels' consumers see one channel layer, a :class:`~chatkit.server.app.ChatServer`
sees one rooms backend (:class:`RoomsBackend`) and never asks which it has:

``chat_user(cls)``            the class each connection gets, with this backend's rooms
``await prepare(user, frame)`` called before ``user.handle_message(frame)``
``serving(serve)``             wraps websockets' ``serve(...)``: start before listening, stop after
``await close()``              after the server closed: let go of what the backend holds
``report``                     set by the server: the backend's activity goes to its log

Two backends: :class:`LocalRooms` (rooms in this process: the default) and
:class:`chatkit.redis.hub.RedisHub` (rooms shared by every server on one Redis: it
claims names in Redis in ``prepare``, and runs beside the server in ``serving``)::

    ChatServer()                                        # LocalRooms()
    ChatServer(rooms=RedisHub("redis://127.0.0.1:6379"))
    ChatServer(redis="redis://127.0.0.1:6379")          # the same, built by rooms_backend

:func:`rooms_backend` is the one place that turns ``redis="redis://..."`` (of ``serve()``,
``chatkit.start()``, ``ChatServer`` and ``python -m chatkit serve --redis``) into a backend.
"""

from __future__ import annotations

from typing import Any, Callable, Protocol

__all__ = ["RoomsBackend", "LocalRooms", "rooms_backend"]


class RoomsBackend(Protocol):
    """What a ``ChatServer`` needs of the place its rooms live."""

    #: Where the backend reports what it does (``report(kind, text, detail="")``);
    #: the server sets it to its own activity log.
    report: Callable[..., Any]

    def chat_user(self, chat_user: type) -> type:
        """The class each connection gets: ``chat_user`` (a student's own, maybe), with
        this backend's rooms."""
        ...

    async def prepare(self, user: Any, frame: str | bytes) -> None:
        """Before ``user.handle_message(frame)``: whatever must happen first (a shared
        room claims a name in Redis). It never raises for a frame the protocol refuses:
        the handler answers that."""
        ...

    def serving(self, serve: Any) -> Any:
        """Wrap websockets' ``serve(...)`` (awaitable, or an async context manager)."""
        ...

    async def close(self) -> None:
        """After the server closed: let go of what the backend holds."""
        ...


class LocalRooms:
    """Rooms in this process only: the default backend.

    Each server gets a registry of rooms of its own, so two servers in one process
    share no rooms -- if its ``ChatUser`` can make one (the reference's and its
    subclasses can: ``with_new_rooms``; a student's own class keeps its rooms)::

        >>> from chatkit.core import ChatUser
        >>> User = LocalRooms().chat_user(ChatUser)
        >>> User.Room is ChatUser.Room, issubclass(User, ChatUser)
        (False, True)
        >>> LocalRooms(new_registry=False).chat_user(ChatUser) is ChatUser
        True

    Args:
        new_registry: give the server's rooms a registry of their own.
    """

    def __init__(self, new_registry: bool = True) -> None:
        self.new_registry = new_registry
        self.report: Callable[..., Any] = lambda kind, text, detail="": None

    def __repr__(self) -> str:
        return "<LocalRooms>"

    def chat_user(self, chat_user: type) -> type:
        """``chat_user``, over a registry of rooms of its own if it can have one."""
        # A registry of its own needs both halves: the reference's ChatUser, or a
        # subclass, whose Room can make one (a student's own Room may not).
        if (
            self.new_registry
            and hasattr(chat_user, "with_new_rooms")
            and hasattr(getattr(chat_user, "Room", None), "new_registry")
        ):
            return chat_user.with_new_rooms()
        return chat_user

    async def prepare(self, user: Any, frame: str | bytes) -> None:
        """Nothing to do first: the rooms are right here."""

    def serving(self, serve: Any) -> Any:
        """``serve`` itself: nothing runs beside it."""
        return serve

    async def close(self) -> None:
        """Nothing to let go of."""


def rooms_backend(
    rooms: RoomsBackend | None = None,
    *,
    redis: str | None = None,
    redis_room: type | None = None,
    presence_timeout: float = 5.0,
    new_rooms: bool = True,
    name: str | None = None,
) -> RoomsBackend:
    """The rooms backend that a server's options ask for.

    ``rooms`` if given; else, for a Redis address, a :class:`chatkit.redis.hub.RedisHub`
    (``redis_room``: its room class; ``presence_timeout``: seconds after which a silent
    server's members are announced gone; ``name``: the server's name in its activity
    log and the flow picture); else :class:`LocalRooms` (``new_rooms``: a registry
    of its own)::

        >>> rooms_backend()
        <LocalRooms>
        >>> rooms_backend(redis="redis://127.0.0.1:6379", name="A")   # nothing connects yet
        <RedisHub 'A' redis://127.0.0.1:6379 not connected>
        >>> rooms_backend(LocalRooms(), redis="redis://127.0.0.1:6379")
        Traceback (most recent call last):
          ...
        ValueError: give rooms= or redis=, not both

    """
    if rooms is not None:
        if redis is not None:
            raise ValueError("give rooms= or redis=, not both")
        return rooms
    if redis is None:
        return LocalRooms(new_registry=new_rooms)
    from ..redis.hub import RedisHub  # only a shared room needs redis-py

    return RedisHub(redis, presence_timeout=presence_timeout, name=name,
                    **({"room": redis_room} if redis_room is not None else {}))
