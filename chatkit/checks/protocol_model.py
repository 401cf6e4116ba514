"""The reference model of the chat protocol: for each step, who must receive what.

Rooms, members and names, as plain data; no code of the student's and no
socket. For a step (someone connects, sends a frame, closes, breaks) the model
lists the answers it accepts -- one, or several where the protocol leaves a
choice (:data:`chatkit.checks.freedoms.CHOICES`) -- each with the messages every
connection must receive and what it changes::

    >>> world = World()
    >>> [a.apply() for a in world.expect_connect("u1", "people")]
    [None]
    >>> (join,) = world.expect_frame("u1", '{"type": "join", "name": "Colt"}')
    >>> join.deliveries
    {'u1': [{'type': 'note', 'text': 'Colt joined "people".'}]}

A user looks its room up again when it joins (the room it was given at connect
may have emptied out and been forgotten meanwhile); an empty room is forgotten
only if the registry still holds that very room.
"""

from __future__ import annotations

from typing import Any

from ..core.messages import ProtocolError, chat, check_name, name_key, note, parse
from .engine import Alternative
from .freedoms import error_message, joke_message

__all__ = ["World", "RoomModel", "UserModel", "refusable"]


class RoomModel:
    __slots__ = ("name", "members")

    def __init__(self, name: str):
        self.name = name
        self.members: list[str] = []  # who, in join order


class UserModel:
    __slots__ = ("who", "room", "name", "broken", "closed", "renamed", "moved")

    def __init__(self, who: str, room: RoomModel):
        self.who, self.room = who, room
        self.name: str | None = None
        self.broken = self.closed = self.renamed = False
        self.moved = False  # joined another room than the one it was given at connect


def refusable(name: str, taken: list[str]) -> bool:
    """May a server refuse ``name`` (the reference does), with ``taken`` already in use?"""
    try:
        if check_name(name) != name:
            return True
    except ProtocolError:
        return True
    key = name_key(name)
    return any(name_key(other) == key for other in taken)


class World:
    """The model's state -- the registry, the rooms, the users -- and what each step should do."""

    def __init__(self) -> None:
        self.rooms: dict[str, RoomModel] = {}
        self.users: dict[str, UserModel] = {}

    # -- helpers ----------------------------------------------------------------------

    def get(self, name: str) -> RoomModel:
        room = self.rooms.get(name)
        if room is None:
            room = self.rooms[name] = RoomModel(name)
        return room

    def live(self, who: str) -> UserModel | None:
        user = self.users.get(who)
        return None if user is None or user.closed else user

    def to(self, whos: list[str], message: dict[str, Any]) -> dict[str, list[Any]]:
        """``message`` to each of ``whos`` whose connection still works."""
        return {w: [message] for w in whos if not self.users[w].broken}

    def error(self, user: UserModel, says: str = "") -> Alternative:
        return Alternative(self.to([user.who], error_message()), None, says)

    def names_in(self, room: RoomModel, but: UserModel | None = None) -> list[str]:
        return [self.users[w].name for w in room.members
                if self.users[w] is not but and self.users[w].name is not None]

    # -- the steps ----------------------------------------------------------------------

    def expect_connect(self, who: str, room: str) -> list[Alternative] | None:
        if who in self.users:
            return None

        def apply() -> None:
            self.users[who] = UserModel(who, self.get(room))
        return [Alternative({}, apply)]

    def expect_break(self, who: str) -> list[Alternative] | None:
        user = self.live(who)
        if user is None or user.broken:
            return None
        return [Alternative({}, lambda: setattr(user, "broken", True))]

    def expect_close(self, who: str) -> list[Alternative] | None:
        user = self.live(who)
        if user is None:
            return None
        if user.name is None:
            return [Alternative({}, lambda: setattr(user, "closed", True))]
        room = user.room
        left = [w for w in room.members if w != who]

        def apply() -> None:
            user.closed = True
            if who in room.members:
                room.members.remove(who)
            if not room.members and self.rooms.get(room.name) is room:
                del self.rooms[room.name]
        return [Alternative(self.to(left, note(f"{user.name} left {room.name}.")), apply)]

    def expect_frame(self, who: str, raw: str) -> list[Alternative] | None:
        user = self.live(who)
        if user is None:
            return None
        try:
            message = parse(raw)
        except ProtocolError:
            return [self.error(user)]
        if message["type"] == "join":
            return self._join(user, message["name"])
        return self._chat(user, message["text"])

    def _join(self, user: UserModel, name: str) -> list[Alternative]:
        if user.name is not None:  # a second join
            room = user.room

            def again() -> None:
                user.name = name
            return [self.error(user, "answers a second join with an error"),
                    Alternative(self.to(room.members, note(f'{name} joined "{room.name}".')),
                                again, "joins again under the new name")]
        room = self.get(user.room.name)  # looked up again: the old one may be forgotten
        members = room.members + ([] if user.who in room.members else [user.who])

        def join(as_name: str) -> Alternative:
            def apply() -> None:
                user.moved = room is not user.room
                user.room, user.name = room, as_name
                if user.who not in room.members:
                    room.members.append(user.who)
            return Alternative(self.to(members, note(f'{as_name} joined "{room.name}".')), apply,
                               "takes the name as typed" if as_name == name else
                               "takes the name without its spaces")

        taken = self.names_in(room) + self.names_in(user.room)
        if not refusable(name, taken):
            return [join(name)]
        answers = [self.error(user, "refuses the name with an error"), join(name)]
        if name.strip() != name:
            answers.append(join(name.strip()))
        return answers

    def _chat(self, user: UserModel, text: str) -> list[Alternative]:
        if user.name is None:
            return [self.error(user)]
        if text.startswith("/"):
            return self._command(user, text)
        said = Alternative(self.to(user.room.members, chat(user.name, text)), None,
                           "broadcasts it")
        if text.strip():
            return [said]
        return [self.error(user, "refuses an empty chat with an error"), said]

    def _command(self, user: UserModel, text: str) -> list[Alternative]:
        command, _, rest = text.partition(" ")
        if command == "/joke":
            return [Alternative(self.to([user.who], joke_message()))]
        if command == "/members":
            names = self.names_in(user.room)
            return [Alternative(self.to([user.who], note(f"In room: {', '.join(names)}")))]
        if command == "/priv":
            return self._priv(user, rest)
        if command == "/name":
            return self._rename(user, rest)
        return [self.error(user)]

    def _priv(self, user: UserModel, rest: str) -> list[Alternative]:
        answers = []
        first = rest.partition(" ")[0]
        first_found = empty = False
        for who in user.room.members:
            member = self.users[who]
            name = member.name
            if name is None or not (rest == name or rest.startswith(name + " ")):
                continue
            text = rest[len(name) + 1:]
            first_found = first_found or name == first
            empty = empty or not text
            message = {**chat(user.name, text), "private": True, "to": name}
            answers.append(Alternative(self.to(list(dict.fromkeys([who, user.who])), message),
                                       None, f"sends it to {name}"))
        if not first_found or empty:
            answers.insert(0, self.error(user, "answers with an error"))
        return answers

    def _rename(self, user: UserModel, rest: str) -> list[Alternative]:
        new = rest.strip()
        room = user.room

        def apply() -> None:
            user.name, user.renamed = new, True
        renamed = Alternative(self.to(room.members, note(f"{user.name} is now known as {new}.")),
                              apply, "renames")
        if new == user.name or refusable(new, self.names_in(room, but=user)):
            return [self.error(user, "refuses the new name with an error"), renamed]
        return [renamed]
