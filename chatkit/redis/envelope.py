"""What servers publish on a room's channel: a header line, then the message.

Every payload on ``chatkit:room:<room>`` is one header line -- what it is, the id of
the server that published it (``RedisHub.sid``), and what this kind needs -- then
``\\n`` and the text::

    all <sid>\\n<message>                      a chat or a note, for every member
    to <sid> <member id>\\n<message>           /priv to one member, on another server
    roster <sid> <version>\\n<JSON entries>    who is in the room now, in join order
    late <sid>\\n<message>                     said while Redis was away: its own server had it then

One class per kind, each with ``encode()``; :func:`decode` reads any of them back.
Plain text in, plain values out: no I/O (the hub publishes and receives)::

    >>> All("a7f3", '{"type":"note","text":"hi"}').encode()
    'all a7f3\\n{"type":"note","text":"hi"}'
    >>> decode('all a7f3\\n{"type":"note","text":"hi"}')
    All(origin='a7f3', text='{"type":"note","text":"hi"}')
    >>> decode('to a7f3 b1:4\\nhello').member_id
    'b1:4'

"""

from __future__ import annotations

import json
from typing import NamedTuple

__all__ = ["All", "To", "Roster", "Late", "Envelope", "decode"]


class All(NamedTuple):
    """A message for every member of the room, on every server (most payloads)."""

    origin: str
    text: str

    def encode(self) -> str:
        return f"all {self.origin}\n{self.text}"


class To(NamedTuple):
    """A message for one member (``member_id``), on whichever server holds it: ``/priv``."""

    origin: str
    member_id: str
    text: str

    def encode(self) -> str:
        return f"to {self.origin} {self.member_id}\n{self.text}"


class Roster(NamedTuple):
    """The room's members as Redis holds them: ``[name, member id, join number]`` each.

    ``version`` grows with every change: a server applies no roster older than one it has.

        >>> payload = Roster("a7f3", 12, [["ann", "a7f3:1", 3]]).encode()
        >>> payload
        'roster a7f3 12\\n[["ann", "a7f3:1", 3]]'
        >>> decode(payload).entries
        [['ann', 'a7f3:1', 3]]

    """

    origin: str
    version: int
    entries: list

    def encode(self) -> str:
        return f"roster {self.origin} {self.version}\n{json.dumps(self.entries)}"


class Late(NamedTuple):
    """A chat or a note said while Redis was away: every server but its own delivers it.

        >>> Late("a7f3", "x").encode()
        'late a7f3\\nx'

    """

    origin: str
    text: str

    def encode(self) -> str:
        return f"late {self.origin}\n{self.text}"


Envelope = All | To | Roster | Late


def decode(payload: str) -> Envelope:
    """Read a payload from a room's channel; raise ``ValueError`` if it is none of ours.

    >>> decode("late a7f3\\nhi")
    Late(origin='a7f3', text='hi')
    >>> decode("shout a7f3\\nhi")
    Traceback (most recent call last):
      ...
    ValueError: not a chatkit payload: 'shout a7f3'

    """
    header, _, text = payload.partition("\n")
    kind, _, args = header.partition(" ")
    if kind == "all" and args:  # first, and quick: nearly every payload is one
        return All(args, text)
    origin, *rest = args.split(" ")
    if not origin:
        pass  # every kind names its server
    elif kind == "to" and len(rest) == 1:
        return To(origin, rest[0], text)
    elif kind == "roster" and len(rest) == 1:
        return Roster(origin, int(rest[0]), json.loads(text))
    elif kind == "late" and not rest:
        return Late(origin, text)
    raise ValueError(f"not a chatkit payload: {header!r}")
