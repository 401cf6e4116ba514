"""Step 4: Room -- the registry, join, leave and broadcast, with members that record."""

from __future__ import annotations

from typing import Any, Callable

from ..core.messages import note
from .fakes import FailingMember, Member, _expect_sent, _isolated
from .report import Fail, _raised, _step

__all__ = ["run_room", "check_room"]


def _members(room: Any) -> list[Any]:
    members = getattr(room, "members", None)
    if members is None:
        raise Fail("a room has no `members`", "self.members = {}  (or a list)", None)
    return list(members)


def _room_checks(room_class: type) -> list[tuple[str, str, Callable[[], None]]]:
    def people_with(*members: Member) -> Any:
        """Room.get("people"), with members joined in this order."""
        room = room_class.get("people")
        for member in members:
            room.join(member)
        return room

    def registered(room: Any, what: str, hint: str) -> None:
        """Fail unless Room.rooms still holds ``room`` under its name."""
        if room_class.rooms.get("people") is not room:
            now = room_class.rooms.get("people")
            raise Fail(what, "Room.rooms['people'] is the room its members are in",
                       "no room 'people' in Room.rooms" if now is None else "another room",
                       hint, ["the next person to join 'people' would land in a room of their own,"
                              " and the members already there would never hear them"])

    def leave_quietly(room: Any, member: Any, who: str) -> None:
        try:
            room.leave(member)
        except Exception as exc:
            raise Fail(f"{who} leaving raised an exception", "leave does nothing (no error)",
                       _raised(exc), "leaving when you are not a member is harmless:"
                       " self.members.pop(member, None), or check `if member in self.members`"
                       " first (the server calls leave for everyone who closes, joined or not)"
                       ) from None

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
                       "Room.rooms['people'] is the room", repr(room_class.rooms),
                       "in get: cls.rooms[name] = cls(name), then return cls.rooms[name]")

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

    def leave_not_a_member() -> None:
        jenny, visitor = Member("jenny"), Member("visitor")
        room = people_with(jenny)
        leave_quietly(room, visitor, "someone who never joined")
        leave_quietly(room, jenny, "jenny")
        leave_quietly(room, jenny, "jenny, leaving a second time,")

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

    def keep_occupied() -> None:
        juanita, jenny, visitor = Member("juanita"), Member("jenny"), Member("visitor")
        room = people_with(juanita, jenny)
        room.leave(juanita)
        registered(room, "jenny is still in 'people', but after juanita left the room was forgotten",
                   "forget the room only when it is empty: after removing the member,"
                   " if not self.members: ...")
        leave_quietly(room, visitor, "someone who never joined")
        registered(room, "jenny is still in 'people', but after someone who never joined left,"
                   " the room was forgotten", "decide 'empty' after removing the member, from"
                   " what is left: if not self.members (not len(...) <= 1 before removing)")

    def old_room_leaves_new_alone() -> None:
        # A visitor connects (Room.get) and never joins; the room empties and is forgotten;
        # someone makes "people" anew; then the visitor closes: leave on the OLD room.
        jeff, jenny, visitor = Member("jeff"), Member("jenny"), Member("visitor")
        old = people_with(jeff)
        old.leave(jeff)  # forgotten
        new = people_with(jenny)
        if new is old:
            return  # the room was not forgotten: another behaviour says so
        leave_quietly(old, visitor, "a visitor of the old room")
        leave_quietly(old, jeff, "jeff, leaving the old room again,")
        if room_class.rooms.get("people") is not new:
            raise Fail("leaving an old, forgotten room removed the NEW room of the same name",
                       "Room.rooms['people'] is still the new room, with jenny in it",
                       "no room 'people'" if "people" not in room_class.rooms else "another room",
                       "in leave, remove the room only if the registry holds THIS room:"
                       " if Room.rooms.get(self.name) is self: del Room.rooms[self.name]",
                       ["the sequence: a visitor connected to 'people' and never joined; the room"
                        " emptied and was forgotten; jenny made 'people' anew; then the visitor"
                        " closed, and the old room's leave deleted jenny's room -- the next"
                        " joiner lands in a third room and jenny never hears them"])
        room_class.get("people").broadcast(note("still here?"))
        _expect_sent("jenny", jenny.sent, [note("still here?")], "")

    def failing_member() -> None:
        first, jenny, last = FailingMember("gone"), Member("jenny"), FailingMember("lost")
        room = people_with(first, jenny, last)
        try:
            room.broadcast(note("still there?"))
        except Exception as exc:
            raise Fail("broadcast stopped at a member whose send failed",
                       "jenny still gets the message; broadcast raises nothing",
                       _raised(exc),
                       "wrap each member.send(...) in try/except: one broken connection"
                       " must not silence the room") from None
        _expect_sent("jenny", jenny.sent, [note("still there?")],
                     "put the try/except inside the loop, around each member.send(...):"
                     " skip the failing member and go on with the others")

    def join_order() -> None:
        # Hashes chosen so that a set would list these members backwards.
        names = ["juanita", "jenny", "jeff", "jose"]
        room = people_with(*(Member(name, hash_value=7 - 2 * i) for i, name in enumerate(names)))
        got = [getattr(m, "name", m) for m in _members(room)]
        if got != names:
            raise Fail("room.members should list members in the order they joined",
                       names, got, "a Python set forgets the order (a JavaScript Set keeps it):"
                       " use a dict (self.members = {}; self.members[member] = None) or a list")
        everyone = [Member(name) for name in names]
        room = people_with(*everyone)
        room.broadcast(note("hi"))
        for member in everyone:
            _expect_sent(member.name, member.sent, [note("hi")], "broadcast to every member")

    checks = [
        ("Room.get(name) makes a room once and gives the same room for the same name", "registry",
         get),
        ("broadcast sends every member the data as JSON text (a str)", "broadcast", broadcast_all),
        ("a member who joins twice gets each message once", "join", join_twice),
        ("leave: the member who left gets nothing more, the others still do", "leave", leave),
        ("leave: someone who is not a member may leave; nothing happens", "leave",
         leave_not_a_member),
        ("when the last member leaves, the room is forgotten", "registry", forget_empty),
        ("a room that still has members stays in Room.rooms", "registry", keep_occupied),
        ("leaving an old, forgotten room never removes the new room of that name", "registry",
         old_room_leaves_new_alone),
        ("a member whose send fails does not stop the broadcast", "broadcast", failing_member),
        ("members are kept in join order, and every one of them hears a broadcast", "join",
         join_order),
    ]
    return [(b, g, _isolated(lambda: room_class, t)) for b, g, t in checks]


run_room, check_room = _step(
    "step 4: get, join, leave, broadcast", _room_checks,
    "Step 4: the registry, join, leave and broadcast.",
    "Print the step 4 checks for your ``Room``.",
)
