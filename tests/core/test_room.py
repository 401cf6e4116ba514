"""``Room`` and its registry, with plain objects as members (no sockets)."""

from __future__ import annotations

import json

from chatkit import Room


class Member:
    """A member that keeps what it is sent."""

    def __init__(self):
        self.sent = []

    def send(self, text):
        self.sent.append(text)


class BrokenMember:
    """A member whose connection has failed."""

    def send(self, text):
        raise ConnectionError("gone")


def test_get_returns_the_same_room_for_the_same_name():
    Rooms = Room.new_registry()
    assert Rooms.get("people") is Rooms.get("people")
    assert Rooms.get("people") is not Rooms.get("other")
    assert Rooms.get("people").name == "people"


def test_new_registries_share_no_rooms_with_each_other_or_with_room():
    first, second = Room.new_registry(), Room.new_registry()
    people = first.get("people")
    assert second.get("people") is not people
    assert "people" not in Room.rooms or Room.rooms["people"] is not people
    assert isinstance(people, Room)


def test_broadcast_reaches_every_member_in_join_order_as_json():
    room = Room.new_registry().get("people")
    members = [Member() for _ in range(3)]
    order = []
    for index, member in enumerate(members):
        member.send = lambda text, index=index: order.append((index, text))
        room.join(member)
    room.broadcast({"type": "note", "text": "hello"})
    assert [index for index, _ in order] == [0, 1, 2]
    assert all(json.loads(text) == {"type": "note", "text": "hello"} for _, text in order)


def test_broadcast_encodes_once_every_member_gets_the_same_string_object():
    room = Room.new_registry().get("people")
    members = [Member() for _ in range(4)]
    for member in members:
        room.join(member)
    room.broadcast({"type": "chat", "name": "Colt", "text": "hi"})
    first = members[0].sent[0]
    assert all(member.sent[0] is first for member in members)


def test_a_member_whose_send_fails_does_not_stop_the_others():
    room = Room.new_registry().get("people")
    before, after = Member(), Member()
    room.join(before)
    room.join(BrokenMember())
    room.join(after)
    room.broadcast({"type": "note", "text": "still here"})
    assert len(before.sent) == len(after.sent) == 1


def test_joining_twice_keeps_one_membership():
    room = Room.new_registry().get("people")
    member = Member()
    room.join(member)
    room.join(member)
    room.broadcast({"type": "note", "text": "once"})
    assert len(member.sent) == 1
    assert list(room.members) == [member]


def test_a_member_that_left_hears_nothing_more():
    Rooms = Room.new_registry()
    room = Rooms.get("people")
    stays, goes = Member(), Member()
    room.join(stays)
    room.join(goes)
    room.leave(goes)
    room.broadcast({"type": "note", "text": "after"})
    assert goes.sent == [] and len(stays.sent) == 1


def test_a_room_that_empties_out_is_forgotten_and_made_fresh_on_next_use():
    Rooms = Room.new_registry()
    room = Rooms.get("people")
    member = Member()
    room.join(member)
    room.leave(member)
    assert "people" not in Rooms.rooms
    assert Rooms.get("people") is not room


def test_leaving_a_room_that_was_replaced_does_not_forget_the_new_one():
    Rooms = Room.new_registry()
    old = Rooms.get("people")
    Rooms.rooms["people"] = new = Room("people")
    old.leave(Member())
    assert Rooms.rooms["people"] is new


def test_leaving_when_not_a_member_is_harmless():
    room = Room.new_registry().get("people")
    member = Member()
    room.join(member)
    room.leave(Member())
    assert list(room.members) == [member]
