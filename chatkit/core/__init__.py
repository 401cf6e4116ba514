"""The protocol core: messages, grammar, ``Room`` and ``ChatUser`` -- plain Python, no sockets,
no event loop.

``messages`` is the wire format (JSON in, JSON out, what a name may be); ``grammar`` what a
frame means (join, chat, command) and the wording of every answer; ``room`` and ``user`` act
on it; ``history`` numbers and keeps what each room says (for clients that resume), and
``resume`` is a client's half of coming back after a drop. Everything a server does with a frame is decided here; the I/O shells
(:mod:`chatkit.server`, :mod:`chatkit.redis`) only move text. So the core runs with a list
standing in for a socket::

    >>> from chatkit.core import ChatUser, Room
    >>> ChatUser.Room = Room.new_registry()
    >>> sent = []
    >>> ChatUser(sent.append, "people").handle_message('{"type": "join", "name": "Colt"}')
    >>> sent
    ['{"type":"note","text":"Colt joined \\\\"people\\\\"."}']
    >>> ChatUser.Room = Room

"""

from .messages import ProtocolError
from .room import Room
from .user import ChatUser

__all__ = ["ChatUser", "Room", "ProtocolError"]
