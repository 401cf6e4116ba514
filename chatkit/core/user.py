"""``ChatUser``: one connection to the chat, and what it does with each message.

The Python twin of the exercise's ``ChatUser.js``. A user is handed a plain
``send`` function, exactly as the original is handed ``ws.send.bind(ws)``, so it
runs with no socket at all::

    >>> from chatkit import ChatUser, Room
    >>> ChatUser.Room = Room.new_registry()   # start from empty rooms (optional)
    >>> sent = []
    >>> colt = ChatUser(sent.append, "people")
    >>> colt.handle_message('{"type": "join", "name": "Colt"}')
    >>> colt.handle_message('{"type": "chat", "text": "hi all"}')
    >>> colt.handle_close()
    >>> sent
    ['{"type":"note","text":"Colt joined \\\\"people\\\\"."}', '{"type":"chat","name":"Colt","text":"hi all"}']
    >>> ChatUser.Room = Room

"""

from __future__ import annotations

import logging
import random
from typing import Any, Callable, ClassVar

from .grammar import (JOKE, MEMBERS, NAME, PRIV, WANT_YOU, Chat, Command, Join, features, in_room,
                      is_command, joined, joke, left, priv_recipient, private, read, renamed,
                      split_priv, you)
from .jokes import JOKES
from .messages import ProtocolError, chat, check_name, encode, name_key
from .room import Room, send_member_lists

__all__ = ["ChatUser"]

logger = logging.getLogger("chatkit")


class ChatUser:
    """One person's connection to a room, given a ``send`` function.

    ``handle_message`` is called with each frame the client sends, and
    ``handle_close`` once when the connection closes.
    """

    #: Where rooms come from: ``self.Room.get(room_name)``.
    Room: ClassVar[type[Room]] = Room

    @classmethod
    def with_new_rooms(cls) -> type[ChatUser]:
        """Return a ``ChatUser`` class whose rooms live in a registry of their own.

        Each server takes one, so two servers in one process share no rooms.
        """
        return type(
            cls.__name__,
            (cls,),
            {"Room": cls.Room.new_registry(), "__module__": cls.__module__},
        )

    def __init__(self, send: Callable[[str], Any], room_name: str) -> None:
        self._send = send  # "send" function for this user
        # How its server can reach this user together with the rest of the room (see
        # send_each): only when ``send`` is this class's, so an overriding subclass is asked.
        self.outlet = getattr(send, "outlet", None) if type(self).send is ChatUser.send else None
        self.room = self.Room.get(room_name)  # the room this user will be in
        self.name: str | None = None  # set when the user joins
        self.wants: frozenset[str] = frozenset()  # extensions this client asked for

    def __repr__(self) -> str:
        return f"<ChatUser {self.name!r} in {self.room.name!r}>"

    # -- sending -------------------------------------------------------------

    def send(self, data: str) -> None:
        """Send text to this user; if that fails, ignore it (the room goes on)."""
        try:
            self._send(data)
        except Exception:
            logger.debug("could not send to %r", self, exc_info=True)

    def send_latest(self, data: str, kind: str) -> None:
        """Send text that replaces any earlier text of its ``kind`` (a member list).

        A ``send`` that can hold such text back (the server's: ``send.latest``)
        sends only the newest of a burst; any other sends it now, as ``send``.
        """
        latest = getattr(self._send, "latest", None)
        try:
            if latest is not None:
                latest(kind, data)
            else:
                self._send(data)
        except Exception:
            logger.debug("could not send to %r", self, exc_info=True)

    def send_json(self, data: dict[str, Any]) -> None:
        """Send one message to this user only."""
        self.send(encode(data))

    # -- the protocol --------------------------------------------------------

    def handle_message(self, raw: str | bytes) -> None:
        """Handle one frame from the client: dispatch on its ``type``.

        A frame the protocol does not allow gets this client an ``error``
        message; nothing else happens.
        """
        try:
            match read(raw):  # a Join, or a Chat (a Command is a Chat too)
                case Join(name, want):
                    self.handle_join(name, want)
                case Chat(text):
                    self.handle_chat(text)
        except ProtocolError as exc:
            self.send_json(exc.reply())

    def handle_join(self, name: str, want: Any = None) -> None:
        """Join the room as ``name`` and tell everyone, the joiner too."""
        if self.name is not None:
            raise ProtocolError(
                f'you already joined as "{self.name}": use /name to change it'
            )
        name = check_name(name)
        self._check_name_is_free(name)
        self.wants |= features(want)
        self.name = name
        # The room may have emptied out and been forgotten since we connected:
        # take the one the registry holds now, so newcomers find us there.
        self.room = self.Room.get(self.room.name)
        self.room.join(self)
        self.room.broadcast(joined(self.name, self.room.name))
        self._send_your_name()
        self._send_member_lists()

    def handle_chat(self, text: str) -> None:
        """Say ``text`` to the room, or run it as a command if it starts with ``/``."""
        if self.name is None:
            raise ProtocolError('join first: send {"type": "join", "name": "..."}')
        if is_command(text):
            self.handle_command(text)
            return
        if not text.strip():
            raise ProtocolError("empty message: nothing to say")
        self.room.broadcast(chat(self.name, text))

    def handle_close(self) -> None:
        """The connection closed: leave the room and tell those who are left."""
        if self.name is None:
            self.room.leave(self)  # not a member, but forget the room if it is empty
            return  # never joined: nobody to tell
        self.room.leave(self)
        self.room.broadcast(left(self.name, self.room.name))
        self._send_member_lists()

    # -- further study: commands ---------------------------------------------

    def handle_command(self, text: str) -> None:
        """Run a ``/command``: ``/joke``, ``/members``, ``/priv``, ``/name``."""
        command = Command(text).check()  # an unknown word is an error to this user
        if command.word == JOKE:
            self.handle_joke()
        elif command.word == MEMBERS:
            self.handle_members()
        elif command.word == PRIV:
            self.handle_priv(command.rest)
        elif command.word == NAME:
            self.handle_name(command.rest)

    def handle_joke(self) -> None:
        """Tell this user (only) a joke."""
        self.send_json(joke(random.choice(JOKES)))

    def handle_members(self) -> None:
        """Tell this user who is in the room, in join order."""
        self.send_json(in_room(self.member_names()))

    def handle_priv(self, rest: str) -> None:
        """``/priv <name> <message>``: send a message to one member and the sender."""
        name, text = split_priv(rest, self.member_names(), self.room.name)
        recipient = self._find_recipient(name)
        message = encode(private(self.name, text, name))
        recipient.send(message)
        if recipient is not self:
            self.send(message)

    def handle_name(self, new_name: str) -> None:
        """``/name <new name>``: rename this user and tell the room."""
        new_name = check_name(new_name)
        if new_name == self.name:
            raise ProtocolError(f'you are already "{new_name}"')
        self._check_name_is_free(new_name)
        old_name, self.name = self.name, new_name
        self.room.broadcast(renamed(old_name, new_name))
        self._send_your_name()
        self._send_member_lists()

    # -- helpers -------------------------------------------------------------

    def member_names(self) -> list[str]:
        """Names of the room's members, in join order."""
        return [member.name for member in self.room.members]

    def _check_name_is_free(self, name: str) -> None:
        # "ann", "ＡＮＮ" and "Ann" are one name to the eye: compare them as one.
        taken = {name_key(member) for member in self.member_names() if member != self.name}
        if name_key(name) in taken:
            raise ProtocolError(
                f'"{name}" is already taken in "{self.room.name}": pick another name'
            )

    def _find_recipient(self, rest: str) -> ChatUser:
        """The member ``/priv <rest>`` is for: the longest name that starts ``rest``."""
        name = priv_recipient(rest, self.member_names(), self.room.name)
        return next(member for member in self.room.members if member.name == name)

    def _send_your_name(self) -> None:
        """Tell this client its name, if it asked (``"want": ["you"]``)."""
        if WANT_YOU in self.wants:
            self.send_json(you(self.name))

    def _send_member_lists(self) -> None:
        """Send the member list to members that asked for it (``"want": ["members"]``)."""
        send_member_lists(self.room.members)
