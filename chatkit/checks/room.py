"""Step 4: Room -- the registry, join, leave and broadcast, with members that record."""

from __future__ import annotations

from typing import Any, Callable

from ..messages import note
from .fakes import FailingMember, Member, _expect_sent, _isolated
from .report import Fail, _step

__all__ = ["run_room", "check_room"]


def _members(room: Any) -> list[Any]:
    members = getattr(room, "members", None)
    if members is None:
        raise Fail("a room has no `members`", "self.members = {}  (or a list)", None)
    return list(members)


def _room_checks(room_class: type) -> list[tuple[str, Callable[[], None]]]:
    def people_with(*members: Member) -> Any:
        """Room.get("people"), with members joined in this order."""
        room = room_class.get("people")
        for member in members:
            room.join(member)
        return room

    def get() -> None:
        room = room_class.get("people")
        if getattr(room, "name", None) != "people":
            raise Fail("Room.get('people') should make a room named people",
                       "room.name == 'people'", repr(getattr(room, "name", None)))
        if room_class.get("people") is not room:
            raise Fail("the same name should give the same room", "the same Room object",
                       "a new one", "keep rooms in Room.rooms and look there first")
        if room_class.get("kitchen") is room:
            raise Fail("another name should give another room", "a new Room", "the people room")
        if room_class.rooms.get("people") is not room:
            raise Fail("Room.rooms should hold the room under its name",
                       "Room.rooms['people'] is the room", room_class.rooms)

    def broadcast_all() -> None:
        juanita, jenny = Member("juanita"), Member("jenny")
        people_with(juanita, jenny).broadcast({"type": "note", "text": "hello"})
        for member in (juanita, jenny):
            _expect_sent(member.name, member.sent, [note("hello")],
                         "send json.dumps(data) to every member")

    def join_twice() -> None:
        jeff = Member("jeff")
        people_with(jeff, jeff).broadcast(note("once"))
        _expect_sent("jeff, who joined twice,", jeff.sent, [note("once")],
                     "a member is in a room once: keep members in a dict (or check before adding)")

    def leave() -> None:
        juanita, jenny = Member("juanita"), Member("jenny")
        room = people_with(juanita, jenny)
        room.leave(juanita)
        room.broadcast(note("after"))
        _expect_sent("juanita, who left,", juanita.sent, [], "leave must remove the member")
        _expect_sent("jenny", jenny.sent, [note("after")], "only the one who leaves goes")

    def forget_empty() -> None:
        jeff = Member("jeff")
        room = people_with(jeff)
        room.leave(jeff)
        if "people" in room_class.rooms:
            raise Fail("an empty room should be forgotten", "'people' not in Room.rooms",
                       f"Room.rooms = {room_class.rooms!r}",
                       "in leave: when no members are left, del Room.rooms[self.name]"
                       " (or a long class keeps every room ever made)")
        if room_class.get("people") is room:
            raise Fail("after the room is forgotten, Room.get makes a new one", "a new Room",
                       "the old one")

    def failing_member() -> None:
        gone, jenny = FailingMember("gone"), Member("jenny")
        room = people_with(gone, jenny)
        try:
            room.broadcast(note("still there?"))
        except Exception as exc:
            raise Fail("broadcast stopped at a member whose send failed",
                       "jenny still gets the message; broadcast raises nothing",
                       f"{type(exc).__name__}: {exc}",
                       "wrap each member.send(...) in try/except: one broken connection"
                       " must not silence the room") from None
        _expect_sent("jenny", jenny.sent, [note("still there?")],
                     "skip the failing member and go on with the others")

    def join_order() -> None:
        # Hashes chosen so that a set would list these members backwards.
        names = ["juanita", "jenny", "jeff", "jose"]
        room = people_with(*(Member(name, hash_value=7 - 2 * i) for i, name in enumerate(names)))
        got = [getattr(m, "name", m) for m in _members(room)]
        if got != names:
            raise Fail("room.members should list members in the order they joined",
                       names, got, "a Python set forgets the order (a JavaScript Set keeps it):"
                       " use a dict (self.members = {}; self.members[member] = None) or a list")

    checks = [
        ("Room.get(name) makes a room once and gives the same room for the same name", get),
        ("broadcast sends every member the data as JSON text", broadcast_all),
        ("a member who joins twice gets each message once", join_twice),
        ("leave: the member who left gets nothing more, the others still do", leave),
        ("when the last member leaves, the room is forgotten", forget_empty),
        ("a member whose send fails does not stop the broadcast", failing_member),
        ("members are kept in join order", join_order),
    ]
    return [(b, _isolated(lambda: room_class, t)) for b, t in checks]


run_room, check_room = _step(
    "step 4: get, join, leave, broadcast", _room_checks,
    "Step 4: the registry, join, leave and broadcast.",
    "Print the step 4 checks for your ``Room``.",
)
