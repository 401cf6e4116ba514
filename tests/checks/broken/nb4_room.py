"""Notebook 4: wrong ``Room`` classes, as students write them (each with its own registry)."""

from __future__ import annotations

import json

from .cases import wrong


class StudentRoom:
    """The exercise as the instructor solves it (with the registry guard)."""

    rooms = {}

    @classmethod
    def get(cls, name):
        if name not in cls.rooms:
            cls.rooms[name] = cls(name)
        return cls.rooms[name]

    def __init__(self, name):
        self.name = name
        self.members = {}

    def join(self, member):
        self.members[member] = None

    def leave(self, member):
        self.members.pop(member, None)
        if not self.members and self.rooms.get(self.name) is self:
            del self.rooms[self.name]

    def broadcast(self, data):
        text = json.dumps(data)
        for member in list(self.members):
            try:
                member.send(text)
            except Exception:
                pass


# -- the registry ------------------------------------------------------------------


@wrong("room", "registry: leave pops whatever room now holds the name (the old instructor solution)",
       {"registry"})
class LeavePopsByName(StudentRoom):
    rooms = {}

    def leave(self, member):
        self.members.pop(member, None)
        if not self.members:
            self.rooms.pop(self.name, None)


@wrong("room", "registry: leave dels Room.rooms[name] when empty, unguarded", {"registry"})
class LeaveDelsByName(StudentRoom):
    rooms = {}

    def leave(self, member):
        if member in self.members:
            del self.members[member]
        if len(self.members) == 0:
            del Room_rooms(self)[self.name]


def Room_rooms(room):
    return type(room).rooms


@wrong("room", "registry: every leave forgets the room", {"registry"})
class ForgetsOnEveryLeave(StudentRoom):
    rooms = {}

    def leave(self, member):
        self.members.pop(member, None)
        self.rooms.pop(self.name, None)


@wrong("room", "registry: decides 'empty' before removing the member", {"registry"})
class EmptyBeforeRemoving(StudentRoom):
    rooms = {}

    def leave(self, member):
        if len(self.members) <= 1:
            self.rooms.pop(self.name, None)
        self.members.pop(member, None)


@wrong("room", "registry: never forgets an empty room", {"registry"})
class NeverForgets(StudentRoom):
    rooms = {}

    def leave(self, member):
        self.members.pop(member, None)


@wrong("room", "registry: get makes a new room every time", {"registry"})
class GetAlwaysNew(StudentRoom):
    rooms = {}

    @classmethod
    def get(cls, name):
        cls.rooms[name] = cls(name)
        return cls.rooms[name]


@wrong("room", "registry: get does not store the room it makes", {"registry"})
class GetDoesNotStore(StudentRoom):
    rooms = {}

    @classmethod
    def get(cls, name):
        return cls.rooms.get(name) or cls(name)


@wrong("room", "registry: get keys rooms by something else than the name", {"registry"})
class GetKeysByLength(StudentRoom):
    rooms = {}

    @classmethod
    def get(cls, name):
        if len(name) not in cls.rooms:
            cls.rooms[len(name)] = cls(name)
        return cls.rooms[len(name)]


# -- join and leave ---------------------------------------------------------------


@wrong("room", "leave: del self.members[member] raises for someone who never joined", {"leave"})
class LeaveDelRaises(StudentRoom):
    rooms = {}

    def leave(self, member):
        del self.members[member]
        if not self.members and self.rooms.get(self.name) is self:
            del self.rooms[self.name]


@wrong("room", "leave: list.remove raises for someone who never joined", {"leave"})
class LeaveListRemoveRaises(StudentRoom):
    rooms = {}

    def __init__(self, name):
        self.name = name
        self.members = []

    def join(self, member):
        if member not in self.members:
            self.members.append(member)

    def leave(self, member):
        self.members.remove(member)
        if not self.members and self.rooms.get(self.name) is self:
            del self.rooms[self.name]


@wrong("room", "leave: empties the whole room", {"leave"})
class LeaveClearsAll(StudentRoom):
    rooms = {}

    def leave(self, member):
        self.members.clear()
        if self.rooms.get(self.name) is self:
            del self.rooms[self.name]


@wrong("room", "join: replaces the members instead of adding", {"join"})
class JoinReplaces(StudentRoom):
    rooms = {}

    def join(self, member):
        self.members = {member: None}


@wrong("room", "join: a list appended without a look (a double join sends twice)", {"join"})
class JoinAppendsTwice(LeaveListRemoveRaises):
    rooms = {}

    def join(self, member):
        self.members.append(member)

    def leave(self, member):
        while member in self.members:
            self.members.remove(member)
        if not self.members and self.rooms.get(self.name) is self:
            del self.rooms[self.name]


@wrong("room", "join: members in a set (join order lost)", {"join"})
class MembersInASet(StudentRoom):
    rooms = {}

    def __init__(self, name):
        self.name = name
        self.members = set()

    def join(self, member):
        self.members.add(member)

    def leave(self, member):
        self.members.discard(member)
        if not self.members and self.rooms.get(self.name) is self:
            del self.rooms[self.name]


# -- broadcast --------------------------------------------------------------------


@wrong("room", "broadcast: bytes (binary frames: the page's JSON.parse gets a Blob)", {"broadcast"})
class BroadcastsBytes(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        text = json.dumps(data).encode()
        for member in list(self.members):
            try:
                member.send(text)
            except Exception:
                pass


@wrong("room", "broadcast: str(data), Python's repr, not JSON", {"broadcast"})
class BroadcastsRepr(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        for member in list(self.members):
            try:
                member.send(str(data))
            except Exception:
                pass


@wrong("room", "broadcast: JSON-encodes twice", {"broadcast"})
class BroadcastsDoubleJSON(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        text = json.dumps(json.dumps(data))
        for member in list(self.members):
            try:
                member.send(text)
            except Exception:
                pass


@wrong("room", "broadcast: sends the dict itself", {"broadcast"})
class BroadcastsDict(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        for member in list(self.members):
            try:
                member.send(data)
            except Exception:
                pass


@wrong("room", "broadcast: json.dumps inside the loop (encoded per member; the exercise says once)",
       {"broadcast"})
class BroadcastEncodesPerMember(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        for member in list(self.members):
            try:
                member.send(json.dumps(data))
            except Exception:
                pass


@wrong("room", "broadcast: stops at a member whose send fails", {"broadcast"})
class BroadcastStopsAtFailure(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        text = json.dumps(data)
        for member in self.members:
            member.send(text)


@wrong("room", "broadcast: one try around the whole loop (silently stops at a failure)",
       {"broadcast"})
class BroadcastTryOutsideLoop(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        text = json.dumps(data)
        try:
            for member in self.members:
                member.send(text)
        except Exception:
            pass


@wrong("room", "broadcast: skips the first member (range from 1)", {"broadcast"})
class BroadcastSkipsFirst(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        members = list(self.members)
        for i in range(1, len(members)):
            members[i].send(json.dumps(data))


@wrong("room", "broadcast: only the newest member", {"broadcast"})
class BroadcastLastOnly(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        for member in self.members:
            pass
        member.send(json.dumps(data))
