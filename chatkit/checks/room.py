"""Step 4: Room -- the registry, join, leave and broadcast, with members that record.

The check calls your ``Room`` as ``ChatUser`` and the server do -- ``Room.get``,
``join``, ``leave``, ``broadcast`` -- through generated sessions, beside a model
of the reference, and compares after every call: what ``Room.get`` returned,
``Room.rooms``, the room's ``members`` (in join order), and what every member
was sent (JSON text, encoded once for all of them).
"""

from __future__ import annotations

import json
import random
from typing import Any, Callable, Iterable

from .engine import Alternative, Behaviour, Exercise, Mismatch, Outcome, Play, Step, engine_step
from .fakes import _fresh_registry
from .report import Fail

__all__ = ["run_room", "check_room", "broadcast_problem", "SESSIONS", "MEMBERS"]

#: How many sessions the check plays.
SESSIONS = 300
#: The members of every session, with hashes that a Python set would list backwards;
#: ``jenny2`` is a second connection of someone else called jenny (a member is an
#: object, not a name: two may share one).
MEMBERS = ["juanita", "jenny", "jeff", "jose", "colt", "visitor", "jenny2"]
ROOM_NAMES = ["people", "People", "kitchen", "café", "cafe\u0301", "the lounge", "😀 room",
              "PEOPLE", " people"]
DATA = [{"type": "note", "text": "hello"}, {"type": "chat", "name": "José", "text": "héllo ✓ 😀"},
        {"type": "chat", "name": "Colt", "text": 'say "hi" & <b>bye</b>'},
        {"type": "chat", "name": "juanita", "text": "see you", "private": True, "to": "jenny"},
        {"type": "note", "text": "line one\nline two"}, {"type": "error", "text": ""},
        {"type": "members", "names": ["juanita", "jenny"]}]


class _Member:
    """A room member that records what it is sent (or fails, once its connection broke)."""

    def __init__(self, label: str, play: _Rooms, hash_value: int):
        self.label, self._play, self._hash = label, play, hash_value
        self.name = label.rstrip("0123456789")
        self.failing = False

    def send(self, data: Any) -> None:
        if self.failing:
            raise ConnectionError(f"{self.label}'s connection is closed")
        self._play.record(self.label, data)

    def __hash__(self) -> int:
        return self._hash

    def __repr__(self) -> str:
        return f"<member {self.label}>"


class _RoomModel:
    def __init__(self, name: str, label: str):
        self.name, self.label = name, label
        self.members: list[str] = []
        self.left: set[str] = set()


class _Rooms(Play):
    """One session: the model's rooms and your ``Room`` class, call by call."""

    def __init__(self, room_class: type):
        self.room_class = room_class
        self.registry = _fresh_registry(room_class)
        self.registry.__enter__()
        self.members = {name: _Member(name, self, 1000 - 7 * i) for i, name in enumerate(MEMBERS)}
        self.model: dict[str, _RoomModel] = {}  # the model's registry
        self.gets: dict[str, _RoomModel] = {}  # get step -> the room it gave
        self.by_label: dict[str, _RoomModel] = {}
        self.bound: dict[str, Any] = {}  # get step -> your room object
        self.labels: dict[int, str] = {}  # id(your room) -> the model's label
        self.objects: list[Any] = []  # keeps your rooms alive (their ids stay theirs)
        self.planned = ""
        self.one_text = False
        self.last_sent: dict[str, list[Any]] = {}
        self.facts: dict[str, Any] = {}

    def _snapshot(self) -> dict[str, str]:
        return {name: room.label for name, room in self.model.items()}

    def expect(self, step: Step) -> list[Alternative] | None:
        self.planned = ""
        if step.kind == "break":
            member = self.members[step.who]
            return None if member.failing else [Alternative({})]
        if step.kind == "get":
            name = step.args[0]
            room = self.model.get(name)
            new = room is None
            if new:
                room = _RoomModel(name, step.who)  # labelled by the get step that made it
                self.planned = room.label
            self.facts = {}

            def apply() -> None:
                self.model[name] = room
                self.gets[step.who] = room
                self.by_label[room.label] = room
            snapshot = {**self._snapshot(), name: room.label}
            return [Alternative({"Room.get": [room.label], "room.name": [name],
                                 "Room.rooms": [snapshot]}, apply)]
        room = self.gets.get(step.args[0])
        if room is None or step.args[0] not in self.bound:
            return None  # that get never gave a room
        failing = {n for n, m in self.members.items() if m.failing}
        self.facts = {"room": room.label, "in_room": list(room.members), "left": set(room.left),
                      "failing": failing, "registered": self.model.get(room.name) is room}
        if step.kind == "broadcast":
            data = json.loads(step.args[1])
            deliveries: dict[str, list[Any]] = {m: [data] for m in room.members if m not in failing}
            self.one_text = len(deliveries) > 1
            if self.one_text:
                deliveries["(one text)"] = [True]
            deliveries["Room.rooms"] = [self._snapshot()]
            return [Alternative(deliveries)]
        who = step.who
        if step.kind == "join":
            members = room.members + ([] if who in room.members else [who])

            def apply() -> None:
                if who not in room.members:
                    room.members.append(who)
                room.left.discard(who)
            return [Alternative({f"{room.label}.members": [members],
                                 "Room.rooms": [self._snapshot()]}, apply)]
        members = [m for m in room.members if m != who]
        forgotten = not members and self.model.get(room.name) is room
        self.facts["forgotten"] = forgotten
        snapshot = {n: r.label for n, r in self.model.items() if not (forgotten and r is room)}

        def apply() -> None:
            if who in room.members:
                room.members = [m for m in room.members if m != who]
                room.left.add(who)
            if forgotten:
                del self.model[room.name]
        return [Alternative({f"{room.label}.members": [members], "Room.rooms": [snapshot]}, apply)]

    def resync(self, step: Step, outcome: Outcome) -> None:
        """After a difference, go on from your rooms as they are (all of it can be seen):
        one slip is reported once, not again in every later step."""
        if step.kind == "get" and step.who in self.bound:
            room = self.bound[step.who]
            if id(room) not in self.labels:  # a room the model does not know: adopt it
                model = self.by_label[step.who] = self.gets[step.who] = _RoomModel(
                    step.args[0], step.who)
                self.labels[id(room)] = step.who
                members = self._their_members(room)
                if isinstance(members, list) and all(m in self.members for m in members):
                    model.members = members
            else:
                self.gets[step.who] = self.by_label[self.labels[id(room)]]
        registry = self._their_registry()  # again: a room adopted above has a label now
        if isinstance(registry, dict):
            self.model = {name: self.by_label[label] for name, label in registry.items()
                          if label in self.by_label}
        for key, value in outcome.observed.items():
            room = self.by_label.get(key.removesuffix(".members"))
            if key.endswith(".members") and room is not None and isinstance(value[0], list) \
                    and all(name in self.members for name in value[0]):
                room.members = list(value[0])

    def broke(self, who: str) -> None:
        self.members[who].failing = True

    def run(self, step: Step) -> None:
        if step.kind == "get":
            room = self.room_class.get(step.args[0])
            self.objects.append(room)
            if id(room) not in self.labels and self.planned:
                self.labels[id(room)] = self.planned
            self.bound[step.who] = room
            return
        room = self.bound[step.args[0]]
        if step.kind == "broadcast":
            room.broadcast(json.loads(step.args[1]))
            return
        member = self.members[step.who]
        (room.join if step.kind == "join" else room.leave)(member)

    def observe(self, step: Step) -> dict[str, list[Any]]:
        """What can be seen of your rooms after a step (after an exception too)."""
        observed: dict[str, list[Any]] = {}
        if step.kind == "break":
            return observed
        if step.kind == "get":
            room = self.bound.get(step.who)
            observed["Room.get"] = [self._label(room)]
            observed["room.name"] = [getattr(room, "name", "(no attribute name)")]
        elif step.kind == "broadcast":
            texts = [t for sent in self.last_sent.values() for t in sent]
            if self.one_text and len(texts) > 1:
                observed["(one text)"] = [all(t is texts[0] for t in texts)]
        else:
            label = self.gets[step.args[0]].label
            observed[f"{label}.members"] = [self._their_members(self.bound[step.args[0]])]
        observed["Room.rooms"] = [self._their_registry()]
        return observed

    def _label(self, room: Any) -> str:
        return self.labels.get(id(room), "an object Room.get never returned")

    def _their_registry(self) -> Any:
        rooms = self.room_class.rooms
        if not isinstance(rooms, dict):
            return f"not a dict: {rooms!r}"
        return {name if isinstance(name, str) else repr(name): self._label(room)
                for name, room in list(rooms.items())}

    def _their_members(self, room: Any) -> Any:
        members = getattr(room, "members", None)
        try:
            return [m.label if isinstance(m, _Member) else repr(m) for m in list(members)]
        except TypeError:
            return f"room.members is {members!r}"

    def close(self) -> None:
        self.registry.__exit__(None, None, None)


_B = {"get": 0, "broadcast": 1, "twice": 2, "leave": 3, "stranger": 4, "forget": 5, "keep": 6,
      "old": 7, "failing": 8, "order": 9}


class RoomChecks(Exercise):
    """Notebook 4: the registry, join, leave and broadcast."""

    key = "room"
    title = "step 4: get, join, leave, broadcast"
    behaviours = [
        Behaviour("Room.get(name) makes a room once and gives the same room for the same name"
                  " (names differing only in case, accents or spaces are other rooms)", "registry",
                  "keep rooms in Room.rooms under their exact name: look there first, and store"
                  " the room you make"),
        Behaviour("broadcast sends every member the data as JSON text (a str), encoded once for"
                  " all of them", "broadcast",
                  "encode the dict once, before the loop, and send that same str to every member"),
        Behaviour("a member who joins twice gets each message once", "join",
                  "a member is in a room once: a dict keeps each key once (a list needs a look"
                  " before adding)"),
        Behaviour("leave: the member who left gets nothing more, the others still do", "leave",
                  "leave removes that member, and only that member"),
        Behaviour("leave: someone who is not a member may leave; nothing happens", "leave",
                  "leaving when you are not a member is harmless -- nothing happens, no error:"
                  " the server calls leave for everyone who closes, joined or not"),
        Behaviour("when the last member leaves, the room is forgotten", "registry",
                  "once no members are left, remove the room from Room.rooms (or a long class"
                  " keeps every room ever made), so Room.get makes a new one"),
        Behaviour("a room that still has members stays in Room.rooms", "registry",
                  "decide 'empty' from what is left after removing the member"),
        Behaviour("leaving an old, forgotten room never removes the new room of that name",
                  "registry",
                  "the room being left may be an old one, forgotten already, while Room.rooms"
                  " holds a new room of the same name (a visitor who connected before it emptied"
                  " and closes now): forget a room only if Room.rooms still holds that very room"),
        Behaviour("a member whose send fails does not stop the broadcast", "broadcast",
                  "one broken connection must not silence the room: catch each member's failure"
                  " inside the loop and go on with the others"),
        Behaviour("members are kept in join order, and every one of them hears a broadcast",
                  "join", "a Python set forgets the order (a JavaScript Set keeps it): keep"
                  " members in a dict or a list"),
    ]

    def preflight(self, subject: Any) -> None:
        if not isinstance(subject, type):
            raise Fail("the check takes your class itself", "Room (the class)", repr(subject))
        if not isinstance(getattr(subject, "rooms", None), dict):
            raise Fail(f"{subject.__name__} has no dict `rooms`", "a class attribute: rooms = {}",
                       getattr(subject, "rooms", None),
                       "the registry of rooms, by name, that Room.get reads and fills")

    def begin(self, subject: Any) -> Play:
        return _Rooms(subject)

    def sessions(self) -> list[list[Step]]:
        return _sessions()

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        step, facts, differing = mismatch.step, mismatch.facts, set(mismatch.differing)
        raised = mismatch.outcome.raised is not None
        if step.kind == "get":
            return _B["get"]
        who = step.who
        if step.kind == "join":
            if who in facts.get("in_room", ()) and not raised:
                return _B["twice"]
            if any(d.endswith(".members") for d in differing) or raised:
                return _B["order"]
            return _B["get"]
        if step.kind == "leave":
            if who not in facts.get("in_room", ()) and raised:
                return _B["stranger"]
            if raised and not facts.get("registered"):
                return _B["old"]
            if "Room.rooms" in differing:
                if facts.get("forgotten"):
                    return _B["forget"]
                return _B["keep"] if facts.get("registered") else _B["old"]
            return _B["stranger"] if who not in facts.get("in_room", ()) else _B["leave"]
        # broadcast
        if "(one text)" in differing:
            return _B["broadcast"]
        failing = facts.get("failing", set()) & set(facts.get("in_room", ()))
        if raised:
            return _B["failing"] if failing else _B["broadcast"]
        if differing & facts.get("left", set()):
            return _B["leave"]
        if failing and not any(mismatch.got.get(d) for d in differing):
            return _B["failing"]
        for d in differing:
            got = mismatch.got.get(d, [])
            if len(got) > 1 and all(g == got[0] for g in got):
                return _B["twice"]
        return _B["broadcast"]

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        return self.exercised_all(steps)[index]

    def exercised_all(self, steps: list[Step]) -> list[tuple[int, ...]]:
        """What each step tests, from who is in which room by then (a join into a room
        already holding the member tests "twice"; a broadcast to nobody tests nothing)."""
        members: dict[str, list[str]] = {}
        failing: set[str] = set()
        tested: list[tuple[int, ...]] = []
        for step in steps:
            if step.kind == "get":
                members.setdefault(step.who, [])
                tested.append((_B["get"],))
            elif step.kind == "break":
                failing.add(step.who)
                tested.append(())
            elif step.kind == "join":
                room = members.setdefault(step.args[0], [])
                tested.append((_B["twice"],) if step.who in room else (_B["order"],))
                if step.who not in room:
                    room.append(step.who)
            elif step.kind == "leave":
                room = members.setdefault(step.args[0], [])
                if step.who in room:
                    room.remove(step.who)
                    tested.append((_B["leave"], _B["forget"] if not room else _B["keep"],
                                   _B["old"]))
                else:
                    tested.append((_B["stranger"], _B["old"]))
            else:
                room = members.setdefault(step.args[0], [])
                tested.append(((_B["broadcast"],) if room else ())
                              + ((_B["failing"],) if failing & set(room) else ()))
        return tested

    def names(self, steps: list[Step]) -> dict[str, str]:
        names, count = {}, 0
        for step in steps:
            if step.kind == "get":
                count += 1
                names[step.who] = f"r{count}"
        return names

    def say(self, steps: list[Step], index: int, names: dict[str, str]) -> str:
        step = steps[index]
        if step.kind == "get":
            return f"{names[step.who]} = Room.get({json.dumps(step.args[0], ensure_ascii=False)})"
        if step.kind == "break":
            return f"{step.who}'s connection breaks: {step.who}.send raises from now on"
        room = names.get(step.args[0], "r?")
        if step.kind == "broadcast":
            data = json.dumps(json.loads(step.args[1]), ensure_ascii=False)
            return f"{room}.broadcast({data})"
        return f"{room}.{step.kind}({step.who})"

    def simpler(self, step: Step) -> Iterable[Step]:
        if step.kind == "broadcast" and step.args[1] != _data(DATA[0]):
            yield Step("broadcast", step.who, (step.args[0], _data(DATA[0])))
        if step.kind == "get" and step.args[0] != "people":
            yield Step("get", step.who, ("people",))

    def describe(self, key: str, want: list[Any], have: list[Any], at: str,
                 names: dict[str, str]) -> list[str] | None:
        show = _labels(names)
        if key == "Room.rooms":
            return [f"{at}, Room.rooms is {show(have[0] if have else None)}",
                    f"expected:  {show(want[0])}"]
        if key == "Room.get":
            return [f"{at}, Room.get gave {show(have[0] if have else None)}, expected"
                    f" {show(want[0])}"]
        if key == "room.name":
            return [f"{at}, the room's name is {have[0] if have else None!r},"
                    f" expected {want[0]!r}"]
        if key.endswith(".members"):
            room = show(key.split(".")[0])
            return [f"{at}, {room}.members lists {have[0] if have else None}",
                    f"expected:  {want[0]}"]
        if key == "(one text)":
            return [f"{at}, each member was sent a text of its own: the data was encoded once"
                    " per member, not once for all"]
        return None


def _labels(names: dict[str, str]) -> Callable[[Any], str]:
    """Say the model's rooms (labelled by the get step that made them) by the session's names."""
    def show(value: Any) -> str:
        if isinstance(value, dict):
            return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {show(v)}"
                                   for k, v in value.items()) + "}"
        if isinstance(value, str) and value in names:
            return names[value]
        return str(value)
    return show


def broadcast_problem(texts: list[Any], data: dict[str, Any]) -> str:
    """What is wrong with one broadcast of ``data``, in the room check's words ("" if nothing).

    ``texts`` is what each member was sent (one each)::

        >>> text = json.dumps({"type": "note", "text": "hi"})
        >>> broadcast_problem([text, text], {"type": "note", "text": "hi"})
        ''
        >>> broadcast_problem([{"type": "note", "text": "hi"}], {"type": "note", "text": "hi"})
        'a member was sent a dict, not text -- send json.dumps(data), a str'
    """
    from .fakes import decode_sent

    for text in texts:
        try:
            (got,) = decode_sent("a member", [text])
        except Fail as fail:
            return f"{fail.what} -- {fail.hint}"
        if got != data:
            return f"a member was sent {json.dumps(got, ensure_ascii=False)}, not the data"
    if len(texts) > 1 and not all(text is texts[0] for text in texts):
        return ("each member was sent a text of its own: the data was encoded once per member,"
                " not once for all")
    return ""


def _data(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False)


def get(gid: str, name: str = "people") -> Step:
    return Step("get", gid, (name,))


def join(who: str, gid: str) -> Step:
    return Step("join", who, (gid,))


def leave(who: str, gid: str) -> Step:
    return Step("leave", who, (gid,))


def broadcast(gid: str, data: dict[str, Any] = DATA[0]) -> Step:
    return Step("broadcast", "room", (gid, _data(data)))


def breaks(who: str) -> Step:
    return Step("break", who)


_cache: list[list[list[Step]]] = []


def _sessions() -> list[list[Step]]:
    if not _cache:
        _cache.append(_make_sessions(random.Random("chatkit-room"), SESSIONS))
    return _cache[0]


def _make_sessions(rng: random.Random, count: int) -> list[list[Step]]:
    ju, je, jf, jo, co, vi, j2 = MEMBERS
    tricky = [
        [get("g1"), get("g2"), get("g3", "kitchen"), get("g4", "People"), get("g5", "café"),
         get("g6", "cafe\u0301"), get("g7", " people"), get("g8", "people")],
        [get("g1"), join(ju, "g1"), join(je, "g1"), broadcast("g1"), leave(ju, "g1"),
         broadcast("g1", DATA[1])],
        [get("g1"), join(jf, "g1"), join(jf, "g1"), broadcast("g1")],
        [get("g1"), *(join(m, "g1") for m in (ju, je, jf, jo)), broadcast("g1")],
        [get("g1"), join(je, "g1"), leave(vi, "g1"), leave(je, "g1"), leave(je, "g1"),
         get("g2")],
        [get("g1"), join(jf, "g1"), leave(jf, "g1"), get("g2"), join(je, "g2"), broadcast("g2")],
        [get("g1"), join(ju, "g1"), join(je, "g1"), leave(ju, "g1"), get("g2"),
         leave(vi, "g1"), get("g3")],
        [get("g1"), join(jf, "g1"), leave(jf, "g1"), get("g2"), join(je, "g2"),
         leave(vi, "g1"), leave(jf, "g1"), get("g3"), broadcast("g3")],
        [get("g1"), join(vi, "g1"), join(je, "g1"), join(co, "g1"), breaks(vi), breaks(co),
         broadcast("g1"), broadcast("g1", DATA[2])],
        [get("g1"), join(je, "g1"), join(jf, "g1"), broadcast("g1", DATA[1]),
         broadcast("g1", DATA[3]), broadcast("g1", DATA[4]), broadcast("g1", DATA[6])],
        [get("g1"), get("g2", "People"), join(ju, "g1"), join(je, "g2"), broadcast("g1"),
         broadcast("g2", DATA[2]), leave(ju, "g1"), get("g3", "People")],
        [get("g1"), broadcast("g1"), join(ju, "g1"), leave(ju, "g1"), join(ju, "g1"),
         broadcast("g1"), get("g2")],
        [get("g1"), join(ju, "g1"), join(je, "g1"), join(jf, "g1"), leave(je, "g1"),
         join(je, "g1"), broadcast("g1")],
        [get("g1"), join(je, "g1"), join(j2, "g1"), broadcast("g1"), leave(je, "g1"),
         broadcast("g1", DATA[1])],
    ]
    return tricky + [_random_session(rng) for _ in range(count - len(tricky))]


def _random_session(rng: random.Random) -> list[Step]:
    steps: list[Step] = []
    gets: list[str] = []
    for i in range(rng.randint(5, 14)):
        roll = rng.random()
        if not gets or roll < 0.15:
            gid = f"g{len(gets) + 1}"
            gets.append(gid)
            steps.append(get(gid, rng.choice(ROOM_NAMES[:4]) if rng.random() < 0.5 else "people"))
            continue
        gid = rng.choice(gets[-3:])
        who = rng.choice(MEMBERS)
        if roll < 0.5:
            steps.append(join(who, gid))
        elif roll < 0.72:
            steps.append(leave(who, gid))
        elif roll < 0.76:
            steps.append(breaks(who))
        else:
            steps.append(broadcast(gid, rng.choice(DATA)))
    return steps


run_room, check_room = engine_step(
    RoomChecks(),
    "Step 4: the registry, join, leave and broadcast.",
    "Print the step 4 checks for your ``Room``.",
)
