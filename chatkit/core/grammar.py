"""The protocol's grammar: what a frame means, and what the server says back.

One place for every rule of the chat protocol (see docs/protocol.md): the two message
kinds, the commands and how their arguments split, and the exact wording of the
notes. ``ChatUser`` dispatches on it; the Redis path (:mod:`chatkit.redis.hub`),
which reads frames before a handler does, reads them with it too. Plain values and
plain functions, no I/O::

    >>> read('{"type": "join", "name": "Colt", "want": ["members"]}')
    Join(name='Colt', want=['members'])
    >>> read('{"type": "chat", "text": "hi all"}')
    Chat(text='hi all')
    >>> frame = read('{"type": "chat", "text": "/priv jenny hi there"}')
    >>> frame, frame.word, frame.rest
    (Command(text='/priv jenny hi there'), '/priv', 'jenny hi there')

What the server answers is built here, each text by one function::

    >>> joined("Colt", "people")
    {'type': 'note', 'text': 'Colt joined "people".'}
    >>> left("Colt", "people")
    {'type': 'note', 'text': 'Colt left people.'}

"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable

from .history import WANT_IDS
from .messages import SERVER_NAME, ProtocolError, chat, note, parse

__all__ = [
    "Join",
    "Chat",
    "Command",
    "read",
    "is_command",
    "may_be_join_or_command",
    "JOKE",
    "MEMBERS",
    "PRIV",
    "NAME",
    "COMMANDS",
    "priv_recipient",
    "split_priv",
    "WANT_MEMBERS",
    "WANT_YOU",
    "WANT_IDS",
    "FEATURES",
    "features",
    "joined",
    "left",
    "renamed",
    "in_room",
    "member_list",
    "you",
    "private",
    "joke",
]

# -- what a client sends -------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Join:
    """``{"type": "join", "name": ..., "want": [...]}``: take ``name`` in the room.

    ``want`` is what the client sent (or None): :func:`features` says what it asks for.
    """

    name: str
    want: Any = None


@dataclasses.dataclass(frozen=True)
class Chat:
    """``{"type": "chat", "text": ...}``: say ``text`` to the room."""

    text: str


@dataclasses.dataclass(frozen=True)
class Command(Chat):
    """A chat whose text starts with ``/``: a command ``word`` and the ``rest``.

    The word ends at the first space; the rest is everything after it, as typed::

        >>> Command("/name  Jenny Lee").word, Command("/name  Jenny Lee").rest
        ('/name', ' Jenny Lee')
        >>> Command("/joke").rest
        ''

    A command is a ``Chat`` too: a handler that only knows chats (``handle_chat``)
    gets it as one, and decides itself whether it may run it yet.
    """

    @property
    def word(self) -> str:
        return self.text.partition(" ")[0]

    @property
    def rest(self) -> str:
        return self.text.partition(" ")[2]

    def check(self) -> Command:
        """Return this command if its word is one of :data:`COMMANDS`, else raise.

        >>> Command("/shout hi").check()
        Traceback (most recent call last):
          ...
        chatkit.core.messages.ProtocolError: unknown command /shout: try /joke, /members, /priv or /name

        """
        if self.word not in COMMANDS:
            *most, last = COMMANDS
            raise ProtocolError(
                f"unknown command {self.word}: try {', '.join(most)} or {last}"
            )
        return self


def is_command(text: str) -> bool:
    """A chat text that starts with ``/`` is a command, never said to the room.

    >>> is_command("/joke"), is_command("hi /all")
    (True, False)

    """
    return text.startswith("/")


def read(raw: str | bytes) -> Join | Chat | Command:
    """Read one frame from a client into a :class:`Join`, a :class:`Chat` or a :class:`Command`.

    A frame the protocol does not allow raises :class:`ProtocolError` (see
    :func:`chatkit.core.messages.parse`). A command with an unknown word is still
    read: refusing it is the handler's job (after "join first")::

        >>> read(b'{"type": "chat", "text": "/shout hi"}').word
        '/shout'
        >>> read('{"type": "leave"}')
        Traceback (most recent call last):
          ...
        chatkit.core.messages.ProtocolError: unknown message type "leave": expected "join" or "chat"

    """
    message = parse(raw)
    if message["type"] == "join":
        return Join(message["name"], message.get("want"))
    text = message["text"]
    return Command(text) if is_command(text) else Chat(text)


def may_be_join_or_command(raw: str | bytes) -> bool:
    """A quick test before :func:`read`: False only if ``raw`` surely is neither a join
    nor a command (most frames are plain chats: they need no parsing to tell).

    >>> may_be_join_or_command('{"type": "chat", "text": "hi all"}')
    False
    >>> may_be_join_or_command('{"type": "chat", "text": "/members"}')
    True
    >>> may_be_join_or_command('{"type": "\\\\u006aoin", "name": "Colt"}')  # escaped: read it
    True

    """
    if not isinstance(raw, str):
        raw = bytes(raw).decode(errors="replace")
    return "join" in raw or "/" in raw or "\\" in raw


# -- the commands (the exercise's "further study") -----------------------------------

JOKE = "/joke"
MEMBERS = "/members"
PRIV = "/priv"
NAME = "/name"
#: Every command, and what follows its word (for the usage errors), in the order the
#: "unknown command" error lists them.
COMMANDS = {JOKE: "", MEMBERS: "", PRIV: "<name> <message>", NAME: "<new name>"}


def priv_recipient(rest: str, names: Iterable[str], room: str) -> str:
    """Whom ``/priv <rest>`` is for: the longest of ``names`` (the room's members)
    that ``rest`` starts with -- names may hold spaces; spaces around it do not count.

        >>> priv_recipient("  mary ann  hello", ["mary", "mary ann"], "people")
        'mary ann'
        >>> priv_recipient("bob hi", ["jenny"], "people")
        Traceback (most recent call last):
          ...
        chatkit.core.messages.ProtocolError: no one called "bob" in "people"

    """
    rest = rest.strip()  # "/priv  jenny hi": a doubled space is still a /priv to jenny
    candidates = [name for name in names if rest == name or rest.startswith(name + " ")]
    if not candidates:
        if not rest:
            raise ProtocolError(f"usage: {PRIV} {COMMANDS[PRIV]}")
        raise ProtocolError(f'no one called "{rest.split(" ", 1)[0]}" in "{room}"')
    return max(candidates, key=len)


def split_priv(rest: str, names: Iterable[str], room: str) -> tuple[str, str]:
    """``/priv <name> <message>``: split ``rest`` into the recipient's name
    (:func:`priv_recipient`) and the message::

        >>> split_priv("jenny hi there", ["jenny", "jeff"], "people")
        ('jenny', 'hi there')
        >>> split_priv(" jenny ", ["jenny"], "people")
        Traceback (most recent call last):
          ...
        chatkit.core.messages.ProtocolError: usage: /priv jenny <message>

    """
    name = priv_recipient(rest, names, room)
    text = rest.strip()[len(name) :].strip()
    if not text:
        raise ProtocolError(f"usage: {PRIV} {name} <message>")
    return name, text


# -- extensions a client asks for when it joins --------------------------------------

#: ``"want": ["members"]``: the ``members`` list (:func:`member_list`) whenever it changes.
WANT_MEMBERS = "members"
#: ``"want": ["you"]``: after joining and after each ``/name``, :func:`you` tells that
#: client the name the server knows it by (a panel follows it, not the note's text).
WANT_YOU = "you"
#: ``"want": ["ids"]``: every chat and note from the room carries its ``"id"``, and a
#: ``history`` message follows the join (:mod:`chatkit.core.history`).
FEATURES = frozenset({WANT_MEMBERS, WANT_YOU, WANT_IDS})


def features(want: Any) -> frozenset[str]:
    """What a join's ``want`` asks for, of the :data:`FEATURES` this server has.

    >>> sorted(features(["members", "typing", 3]))
    ['members']
    >>> features("members")         # not a list: nothing
    frozenset()

    """
    if not isinstance(want, list):
        return frozenset()
    return FEATURES.intersection(w for w in want if isinstance(w, str))


# -- what the server says: one function per message ----------------------------------


def joined(name: str, room: str) -> dict[str, str]:
    """The note everyone in ``room`` gets when ``name`` joins (the room's name in quotes)."""
    return note(f'{name} joined "{room}".')


def left(name: str, room: str) -> dict[str, str]:
    """The note those left get when ``name``'s connection closes (no quotes: the original's)."""
    return note(f"{name} left {room}.")


def renamed(old: str, new: str) -> dict[str, str]:
    """The note the room gets after ``/name``.

    >>> renamed("jenny", "Jenny Lee")
    {'type': 'note', 'text': 'jenny is now known as Jenny Lee.'}

    """
    return note(f"{old} is now known as {new}.")


def in_room(names: Iterable[str]) -> dict[str, str]:
    """The answer to ``/members``, names in join order.

    >>> in_room(["juanita", "jenny", "jeff"])
    {'type': 'note', 'text': 'In room: juanita, jenny, jeff'}

    """
    return note(f"In room: {', '.join(names)}")


def member_list(names: Iterable[str]) -> dict[str, Any]:
    """The member list for clients that asked (``"want": ["members"]``), in join order.

    >>> member_list(["juanita", "jenny"])
    {'type': 'members', 'names': ['juanita', 'jenny']}

    """
    return {"type": "members", "names": list(names)}


def you(name: str) -> dict[str, str]:
    """The name the server knows this client by (``"want": ["you"]``)."""
    return {"type": "you", "name": name}


def private(sender: str, text: str, to: str) -> dict[str, Any]:
    """A ``/priv`` message, as its recipient and its sender get it.

    >>> private("jenny", "hi", "jeff")
    {'type': 'chat', 'name': 'jenny', 'text': 'hi', 'private': True, 'to': 'jeff'}

    """
    return {**chat(sender, text), "private": True, "to": to}


def joke(text: str) -> dict[str, str]:
    """The answer to ``/joke``: a chat from the server itself, to the sender only."""
    return chat(SERVER_NAME, text)
