"""Behaviour checks for the course's exercises: run one after each exercise.

Each check runs your code the way the server would and prints, in plain words,
a line per behaviour -- what works (✓) and what does not yet (✗), with what was
expected, what happened, and a hint::

    from chatkit import checks
    checks.check_chat_user(ChatUser)     # notebook 3
    checks.check_room(Room)              # notebook 4

An exercise you have not written yet (it still raises ``NotImplementedError``)
is reported as "not done yet", never as a traceback. The last line sums up:
``All 7 checks pass.`` or ``3 of 7 checks pass ...``.

What the checks expect of your classes (the contract):

- ``Room`` keeps every room in a dict class attribute ``rooms`` (name -> room),
  filled by the classmethod ``Room.get(name)``; a room has ``name``,
  ``members`` (a dict or list, in join order), ``join(member)``,
  ``leave(member)`` and ``broadcast(data)`` (``data`` a dict, sent as JSON).
- ``ChatUser(send, room_name)`` finds its room with ``self.Room.get(room_name)``
  (``Room`` is a class attribute: where rooms come from), keeps it in
  ``self.room``, and has ``name`` (None until it joins), ``send(text)``,
  ``handle_message(raw)``, ``handle_join(name)``, ``handle_chat(text)`` and
  ``handle_close()``.

Each check starts from an empty registry: it empties ``Room.rooms`` (of your
``Room``, or of ``ChatUser.Room``) before it runs and puts the rooms back
afterwards.

Every ``check_*`` function prints its report; the matching ``run_*`` function
returns it (a :class:`Report`) without printing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import html.parser
import inspect
import json
import logging
import sysconfig
import threading
import time
import traceback
from typing import Any, Callable, Iterator

__all__ = [
    "check",
    "check_client",
    "check_route",
    "check_chat_user",
    "check_room",
    "check_errors",
    "check_commands",
    "check_render",
    "Report",
    "Result",
]

OK, FAIL, NOT_DONE = "pass", "fail", "not done"

#: Seconds a route or client check waits for an answer (127.0.0.1 answers in milliseconds).
TIMEOUT = 1.0

# The checks' own servers log nothing: what went wrong is in the report.
_quiet = logging.getLogger("chatkit.checks")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False
_STDLIB = sysconfig.get_paths()["stdlib"]


class Fail(Exception):
    """A behaviour that is not there (yet): what was expected, what happened, a hint."""

    def __init__(self, what: str, expected: Any = None, got: Any = None, hint: str = ""):
        super().__init__(what)
        self.what, self.expected, self.got, self.hint = what, expected, got, hint


@dataclasses.dataclass
class Result:
    """One behaviour's outcome: ``status`` is "pass", "fail" or "not done"."""

    behaviour: str
    status: str
    lines: list[str] = dataclasses.field(default_factory=list)

    def __str__(self) -> str:
        mark = "✓" if self.status == OK else "✗"
        return "\n".join([f"{mark} {self.behaviour}", *("    " + line for line in self.lines)])


@dataclasses.dataclass
class Report:
    """The outcome of one ``check_*`` call: a title and a result per behaviour."""

    title: str
    results: list[Result]

    @property
    def passed(self) -> bool:
        return all(result.status == OK for result in self.results)

    def failed(self) -> list[str]:
        """The behaviours that fail or are not done yet."""
        return [result.behaviour for result in self.results if result.status != OK]

    def result(self, fragment: str) -> Result:
        """The result whose behaviour contains ``fragment``."""
        return next(result for result in self.results if fragment in result.behaviour)

    def summary(self) -> str:
        total = len(self.results)
        counts = {status: sum(r.status == status for r in self.results)
                  for status in (OK, FAIL, NOT_DONE)}
        if counts[OK] == total:
            return f"All {total} checks pass."
        parts = []
        if counts[FAIL]:
            parts.append(f"{counts[FAIL]} fail")
        if counts[NOT_DONE]:
            parts.append(f"{counts[NOT_DONE]} not done yet")
        return f"{counts[OK]} of {total} checks pass; {', '.join(parts)}."

    def __str__(self) -> str:
        return "\n".join([self.title, *map(str, self.results), self.summary()])


# -- running checks ------------------------------------------------------------


def _show(value: Any) -> str:
    """A value as a student would read it: JSON text as is, other values as Python."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)


def _where(exc: BaseException) -> str:
    """`` in handle_join, line 5``: the innermost frame of the code under check."""
    frames = [
        frame for frame in traceback.extract_tb(exc.__traceback__)
        if frame.filename != __file__ and not frame.filename.startswith(_STDLIB)
    ]
    if not frames:
        return ""
    return f" in {frames[-1].name}, line {frames[-1].lineno}"


def _run_one(behaviour: str, test: Callable[[], None]) -> Result:
    try:
        test()
    except NotImplementedError as exc:
        return Result(behaviour, NOT_DONE, [
            f"not done yet: {_where(exc).removeprefix(' in ').split(',')[0] or 'a method'}"
            " still raises NotImplementedError -- write it in the exercise cell"
        ])
    except Fail as fail:
        lines = [fail.what]
        if fail.expected is not None:
            lines.append(f"expected: {_show(fail.expected)}")
        if fail.expected is not None or fail.got is not None:
            lines.append(f"got:      {_show(fail.got)}")
        if fail.hint:
            lines.append(f"hint: {fail.hint}")
        return Result(behaviour, FAIL, lines)
    except Exception as exc:  # the student's code raised: say what and where, no traceback
        return Result(behaviour, FAIL, [
            f"your code raised {type(exc).__name__}: {exc}{_where(exc)}",
        ])
    return Result(behaviour, OK)


def _report(title: str, checks: list[tuple[str, Callable[[], None]]]) -> Report:
    return Report(title, [_run_one(behaviour, test) for behaviour, test in checks])


def _step(title: str, make_checks: Callable[[Any], list], run_doc: str, check_doc: str):
    """The pair ``run_x`` (returns the :class:`Report`) and ``check_x`` (prints it) for one step."""

    def run(subject: Any) -> Report:
        name = getattr(subject, "__name__", type(subject).__name__)
        return _report(f"Checking {name} ({title})", make_checks(subject))

    def check(subject: Any) -> None:
        print(run(subject))

    key = make_checks.__name__.strip("_").removesuffix("_checks")
    for function, name, doc in ((run, f"run_{key}", run_doc), (check, f"check_{key}", check_doc)):
        function.__name__ = function.__qualname__ = name
        function.__doc__ = doc
    return run, check


# -- fakes: members and users that record what they are sent --------------------


class Member:
    """A room member that keeps what it is sent: ``member.sent`` is a list of texts."""

    def __init__(self, name: str, hash_value: int | None = None):
        self.name = name
        self.sent: list[str] = []
        self._hash = hash_value

    def send(self, data: str) -> None:
        self.sent.append(data)

    def __hash__(self) -> int:
        return id(self) if self._hash is None else self._hash

    def __repr__(self) -> str:
        return f"<member {self.name}>"


class FailingMember(Member):
    """A member whose connection is gone: ``send`` raises."""

    def send(self, data: str) -> None:
        raise ConnectionError(f"{self.name}'s connection is closed")


def _decode(who: str, texts: list[Any]) -> list[Any]:
    """Parse what ``who`` was sent; fail if anything is not JSON text."""
    messages = []
    for text in texts:
        if not isinstance(text, (str, bytes)):
            raise Fail(f"{who} was sent a {type(text).__name__}, not text", "JSON text", text,
                       "send json.dumps(data), a str")
        try:
            messages.append(json.loads(text))
        except ValueError:
            raise Fail(f"{who} was sent text that is not JSON", "JSON text", text,
                       "use json.dumps(data) to turn a dict into JSON text") from None
    return messages


def _expect_sent(who: str, texts: list[Any], expected: list[dict], hint: str = "") -> None:
    got = _decode(who, texts)
    if got != expected:
        what = f"{who} got {len(got)} message{'s' * (len(got) != 1)}, expected {len(expected)}"
        if len(got) == len(expected):
            what = f"{who} got the wrong message"
        raise Fail(what, _lines(expected), _lines(got), hint)


def _lines(messages: list[Any]) -> str:
    if not messages:
        return "nothing"
    return "\n              ".join(json.dumps(m, ensure_ascii=False) for m in messages)


def _note(text: str) -> dict:
    return {"type": "note", "text": text}


def _chat(name: str, text: str) -> dict:
    return {"type": "chat", "name": name, "text": text}


@contextlib.contextmanager
def _fresh_rooms(room_class: Any) -> Iterator[None]:
    """Empty ``room_class.rooms`` for one check; put the rooms back afterwards."""
    rooms = getattr(room_class, "rooms", None)
    if not isinstance(rooms, dict):
        raise Fail(f"{getattr(room_class, '__name__', room_class)} has no dict `rooms`",
                   "a class attribute: rooms = {}", rooms,
                   "the registry of rooms, by name, that Room.get reads and fills")
    saved = dict(rooms)
    rooms.clear()
    try:
        yield
    finally:
        rooms.clear()
        rooms.update(saved)


def _isolated(room_class_of: Callable[[], Any], test: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with _fresh_rooms(room_class_of()):
            test()
    return run


# -- step 3: ChatUser ------------------------------------------------------------


class _People:
    """Users of one ChatUser class, each with the list it was sent."""

    def __init__(self, chat_user: type):
        self.chat_user = chat_user
        self.sent: dict[str, list[Any]] = {}
        self.users: dict[str, Any] = {}

    def connect(self, who: str, room: str = "people") -> Any:
        self.sent[who] = []
        self.users[who] = self.chat_user(self.sent[who].append, room)
        return self.users[who]

    def join(self, who: str, room: str = "people", name: str | None = None) -> Any:
        user = self.connect(who, room)
        user.handle_message(json.dumps({"type": "join", "name": name or who}))
        return user

    def say(self, who: str, text: str) -> None:
        self.users[who].handle_message(json.dumps({"type": "chat", "text": text}))

    def clear(self) -> None:
        for sent in self.sent.values():
            sent.clear()

    def expect(self, who: str, expected: list[dict], hint: str = "") -> None:
        _expect_sent(who, self.sent[who], expected, hint)


def _room_class(chat_user: type) -> Any:
    room_class = getattr(chat_user, "Room", None)
    if room_class is None:
        raise Fail(f"{chat_user.__name__} has no class attribute `Room`",
                   "Room = Room  (where rooms come from: self.Room.get(room_name))",
                   "no attribute Room")
    return room_class


def _chat_user_checks(chat_user: type) -> list[tuple[str, Callable[[], None]]]:
    def new_user() -> None:
        people = _People(chat_user)
        colt = people.connect("Colt")
        room = _room_class(chat_user).get("people")
        if getattr(colt, "room", None) is not room:
            raise Fail("user.room is not the room Room.get gives for that name",
                       repr(room), repr(getattr(colt, "room", None)),
                       "in __init__: self.room = self.Room.get(room_name)")
        if getattr(colt, "name", "missing") is not None:
            raise Fail("a user who has not joined yet should have no name",
                       "None", repr(getattr(colt, "name", "no attribute name")),
                       "in __init__: self.name = None")
        people.expect("Colt", [], "nothing is sent before the user joins")

    def join_note() -> None:
        people = _People(chat_user)
        people.join("Colt")
        people.expect("Colt", [_note('Colt joined "people".')],
                      'the room name in quotes, then a full stop: f\'{self.name} joined "{self.room.name}".\'')

    def join_tells_everyone() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.clear()
        people.join("Colt")
        people.expect("Juanita", [_note('Colt joined "people".')],
                      "join the room first, then broadcast the note to the whole room")

    def chat_to_all() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.join("Colt")
        people.clear()
        people.say("Colt", "hi all")
        message = [_chat("Colt", "hi all")]
        people.expect("Juanita", message, "broadcast {type, name, text} to the room")
        people.expect("Colt", message, "the sender is a member too: broadcast reaches them")

    def rooms_apart() -> None:
        people = _People(chat_user)
        people.join("Colt", "people")
        people.join("Jenny", "kitchen")
        people.clear()
        people.say("Colt", "hi people")
        people.expect("Jenny", [], "each user talks to self.room only")

    def close_tells_the_rest() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.join("Colt")
        people.clear()
        people.users["Colt"].handle_close()
        people.expect("Juanita", [_note("Colt left people.")],
                      "leave the room, then broadcast f\"{self.name} left {self.room.name}.\" (no quotes)")
        people.clear()
        people.say("Juanita", "still here?")
        people.expect("Colt", [], "handle_close must take the user out of the room: self.room.leave(self)")

    def close_before_join() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.connect("visitor")
        people.clear()
        people.users["visitor"].handle_close()
        people.expect("Juanita", [],
                      "someone who never joined has no name: if self.name is None, there is nobody to tell")

    checks = [
        ("a new user finds its room with Room.get and sends nothing", new_user),
        ('joining: the joiner gets the note  Colt joined "people".', join_note),
        ("joining: everyone already in the room gets the note too", join_tells_everyone),
        ("a chat goes to everyone in the room, the sender too", chat_to_all),
        ("a chat stays in its own room", rooms_apart),
        ("closing: those left get  Colt left people.  and Colt gets nothing more", close_tells_the_rest),
        ("closing without having joined announces nothing", close_before_join),
    ]
    return [(b, _isolated(lambda: _room_class(chat_user), t)) for b, t in checks]


run_chat_user, check_chat_user = _step(
    "step 3: join, chat, close", _chat_user_checks,
    "Step 3: join, chat and close, with ``sent.append`` for a socket.",
    "Print the step 3 checks for your ``ChatUser`` (join, chat, close).",
)


# -- step 4: Room ----------------------------------------------------------------


def _members(room: Any) -> list[Any]:
    members = getattr(room, "members", None)
    if members is None:
        raise Fail("a room has no `members`", "self.members = {}  (or a list)", None)
    return list(members)


def _room_checks(room_class: type) -> list[tuple[str, Callable[[], None]]]:
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
        room = room_class.get("people")
        juanita, jenny = Member("juanita"), Member("jenny")
        room.join(juanita)
        room.join(jenny)
        room.broadcast({"type": "note", "text": "hello"})
        for member in (juanita, jenny):
            _expect_sent(member.name, member.sent, [_note("hello")],
                         "send json.dumps(data) to every member")

    def join_twice() -> None:
        room = room_class.get("people")
        jeff = Member("jeff")
        room.join(jeff)
        room.join(jeff)
        room.broadcast(_note("once"))
        _expect_sent("jeff, who joined twice,", jeff.sent, [_note("once")],
                     "a member is in a room once: keep members in a dict (or check before adding)")

    def leave() -> None:
        room = room_class.get("people")
        juanita, jenny = Member("juanita"), Member("jenny")
        room.join(juanita)
        room.join(jenny)
        room.leave(juanita)
        room.broadcast(_note("after"))
        _expect_sent("juanita, who left,", juanita.sent, [], "leave must remove the member")
        _expect_sent("jenny", jenny.sent, [_note("after")], "only the one who leaves goes")

    def forget_empty() -> None:
        room = room_class.get("people")
        jeff = Member("jeff")
        room.join(jeff)
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
        room = room_class.get("people")
        gone, jenny = FailingMember("gone"), Member("jenny")
        room.join(gone)
        room.join(jenny)
        try:
            room.broadcast(_note("still there?"))
        except Exception as exc:
            raise Fail("broadcast stopped at a member whose send failed",
                       "jenny still gets the message; broadcast raises nothing",
                       f"{type(exc).__name__}: {exc}",
                       "wrap each member.send(...) in try/except: one broken connection"
                       " must not silence the room") from None
        _expect_sent("jenny", jenny.sent, [_note("still there?")],
                     "skip the failing member and go on with the others")

    def join_order() -> None:
        room = room_class.get("people")
        # Hashes chosen so that a set would list these members backwards.
        names = ["juanita", "jenny", "jeff", "jose"]
        members = [Member(name, hash_value=7 - 2 * i) for i, name in enumerate(names)]
        for member in members:
            room.join(member)
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


# -- step 5: bad input and commands ---------------------------------------------


def _expect_error(people: _People, who: str, why: str) -> None:
    got = _decode(who, people.sent[who])
    errors = [m for m in got if isinstance(m, dict) and m.get("type") == "error"]
    if len(got) != 1 or len(errors) != 1 or not isinstance(errors[0].get("text"), str) \
            or not errors[0]["text"].strip():
        raise Fail(f"{who} should get one error message ({why})",
                   '{"type": "error", "text": "<what was wrong>"}', _lines(got),
                   "catch the problem in handle_message and self.send(json.dumps({\"type\": "
                   "\"error\", \"text\": ...}))")


def _error_checks(chat_user: type) -> list[tuple[str, Callable[[], None]]]:
    def bad(frames: list[str], why: str) -> Callable[[], None]:
        def test() -> None:
            people = _People(chat_user)
            people.join("Juanita")
            people.join("Colt")
            for frame in frames:
                people.clear()
                people.users["Colt"].handle_message(frame)
                _expect_error(people, "Colt", f"{why}: {frame}")
                people.expect("Juanita", [], "an error goes to the sender only")
            people.clear()
            people.say("Colt", "still here")
            people.expect("Juanita", [_chat("Colt", "still here")],
                          "after an error the connection goes on as before")
        return test

    def chat_before_join() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.connect("visitor")
        people.clear()
        people.say("visitor", "hello?")
        _expect_error(people, "visitor", "a chat before joining")
        people.expect("Juanita", [], "nothing is broadcast for someone with no name")

    def missing_field() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.connect("visitor")
        people.clear()
        people.users["visitor"].handle_message('{"type": "join"}')
        _expect_error(people, "visitor", 'a join without a "name"')
        people.expect("Juanita", [], "nothing is broadcast for a bad join")

    checks = [
        ("a frame that is not JSON gets an error, and the connection goes on",
         bad(["hello?", "{'type': 'chat'}"], "not JSON")),
        ("JSON that is not an object gets an error",
         bad(["[1, 2]", '"hi"', "null"], "not an object")),
        ("an unknown type gets an error", bad(['{"type": "shout", "text": "HI"}'], "unknown type")),
        ("a message missing its field gets an error", missing_field),
        ("a chat before joining gets an error, and nothing is broadcast", chat_before_join),
    ]
    return [(b, _isolated(lambda: _room_class(chat_user), t)) for b, t in checks]


run_errors, check_errors = _step(
    "step 5: bad input gets an error", _error_checks,
    "Step 5: what the server answers to bad input.",
    "Print the step 5 checks for bad input.",
)


def _command_checks(chat_user: type) -> list[tuple[str, Callable[[], None]]]:
    def trio() -> _People:
        people = _People(chat_user)
        for name in ("juanita", "jenny", "jeff"):
            people.join(name)
        people.clear()
        return people

    def joke() -> None:
        people = trio()
        people.say("juanita", "/joke")
        got = _decode("juanita", people.sent["juanita"])
        if len(got) != 1 or got[0].get("type") != "chat" or got[0].get("name") != "Server" \
                or not str(got[0].get("text", "")).strip():
            raise Fail("juanita should get one joke", '{"type": "chat", "name": "Server", "text": "<a joke>"}',
                       _lines(got), "self.send(...) -- to the sender only")
        people.expect("jenny", [], "a joke goes to the one who asked only")

    def members() -> None:
        people = trio()
        people.say("jenny", "/members")
        people.expect("jenny", [_note("In room: juanita, jenny, jeff")],
                      "the names of self.room.members, in join order, joined with ', '")
        people.expect("juanita", [], "/members answers the sender only")

    def priv() -> None:
        people = trio()
        people.say("juanita", "/priv jenny see you at 5")
        message = {**_chat("juanita", "see you at 5"), "private": True, "to": "jenny"}
        people.expect("jenny", [message], "find the member whose name follows /priv")
        people.expect("juanita", [message], "the sender gets a copy")
        people.expect("jeff", [], "a private message goes to two people only")

    def priv_unknown() -> None:
        people = trio()
        people.say("juanita", "/priv nobody hello")
        _expect_error(people, "juanita", "/priv to someone not in the room")

    def rename() -> None:
        people = trio()
        people.say("jeff", "/name Jeffrey")
        note = [_note("jeff is now known as Jeffrey.")]
        people.expect("juanita", note, "broadcast the note to the room")
        people.expect("jeff", note, "the renamed member gets the note too")
        people.clear()
        people.say("jeff", "hi")
        people.expect("jenny", [_chat("Jeffrey", "hi")], "set self.name to the new name")

    def unknown() -> None:
        people = trio()
        people.say("jeff", "/dance")
        _expect_error(people, "jeff", "an unknown command")
        people.expect("jenny", [], "a command is never broadcast")

    checks = [
        ("/joke: the sender alone gets a joke from Server", joke),
        ("/members: the sender alone gets  In room: juanita, jenny, jeff", members),
        ("/priv jenny ...: jenny and the sender get the private message, nobody else", priv),
        ("/priv to someone not in the room gets an error", priv_unknown),
        ("/name Jeffrey: the room hears  jeff is now known as Jeffrey.", rename),
        ("an unknown command gets an error and is not broadcast", unknown),
    ]
    return [(b, _isolated(lambda: _room_class(chat_user), t)) for b, t in checks]


run_commands, check_commands = _step(
    "step 5: /joke /members /priv /name", _command_checks,
    "Step 5: the further-study commands.",
    "Print the step 5 checks for the commands.",
)


class _Markup(html.parser.HTMLParser):
    def __init__(self, markup: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text: list[str] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


PAYLOAD = '<img src=x onerror="alert(document.cookie)">'


def _render_checks(render: Callable[[dict], str]) -> list[tuple[str, Callable[[], None]]]:
    def rendered(message: dict) -> _Markup:
        markup = render(message)
        if not isinstance(markup, str):
            raise Fail("render should return a str of HTML", "a str", markup)
        return _Markup(markup)

    def plain() -> None:
        markup = rendered(_chat("Colt", "hi all"))
        text = "".join(markup.text)
        if "Colt" not in text or "hi all" not in text:
            raise Fail("the line should show the name and the text", "Colt ... hi all", text)

    def safe(field: str) -> Callable[[], None]:
        def test() -> None:
            baseline = rendered(_chat("Colt", "hi"))
            message = _chat("Colt", "hi")
            message[field] = PAYLOAD
            markup = rendered(message)
            if markup.tags != baseline.tags:
                raise Fail(f"a {field} holding HTML became markup: the browser would run it",
                           f"the same tags as for plain text: {baseline.tags}", markup.tags,
                           "html.escape(...) every piece of user text before it goes into HTML")
            if PAYLOAD not in "".join(markup.text):
                raise Fail(f"the {field} should show as the characters the user typed",
                           PAYLOAD, "".join(markup.text))
        return test

    def ampersand() -> None:
        markup = rendered(_chat("Tom & Jerry", "1 < 2 && \"quotes\" 'too'"))
        text = "".join(markup.text)
        if "Tom & Jerry" not in text or "1 < 2 && \"quotes\" 'too'" not in text:
            raise Fail("& < > and quotes should show as typed", "Tom & Jerry ... 1 < 2 && \"quotes\" 'too'",
                       text, "html.escape turns & into &amp; -- escape once, not twice")

    return [
        ("a chat line shows the name and the text", plain),
        ("HTML in the text is shown as text, never run", safe("text")),
        ("HTML in the name is shown as text, never run", safe("name")),
        ("& < > and quotes show as typed", ampersand),
    ]


run_render, check_render = _step(
    "step 5: user text is text", _render_checks,
    "Step 5: rendering a chat line safely.",
    "Print the step 5 checks for rendering user text safely.",
)


# -- steps 1 and 2: a client, a route (real sockets on 127.0.0.1) --------------


class _LoopThread:
    """An event loop of our own in a thread: the checks' servers and clients run there."""

    def __enter__(self) -> _LoopThread:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chatkit-checks",
                                       daemon=True)
        self.thread.start()
        return self

    def run(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __exit__(self, *exc_info: Any) -> None:
        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(finish(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


async def _until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return done()


def _client_checks(connect: Callable[[str, list], Any]) -> list[tuple[str, Callable[[], None]]]:
    from websockets.asyncio.server import serve

    async def numbers(websocket: Any) -> None:
        for number in (17, 42, 99):
            await websocket.send(str(number))
            await asyncio.sleep(0.02)
        await websocket.close(1000, "bye")

    def run_client(url_for: Callable[[int], str]) -> list[Any]:
        log: list[Any] = []

        async def scenario() -> None:
            async with serve(numbers, "127.0.0.1", 0, logger=_quiet) as server:
                port = server.sockets[0].getsockname()[1]
                ws = connect(url_for(port), log)
                if ws is None:
                    raise Fail("connect should return the WebSocket it made", "a WebSocket", None,
                               "end with: return ws")
                await _until(lambda: any(str(x).startswith("close") for x in log), 3 * TIMEOUT)

        with _LoopThread() as loop:
            loop.run(scenario(), 10)
        return log

    results: dict[str, list[Any]] = {}

    def good_log() -> list[Any]:
        if "good" not in results:
            results["good"] = run_client(lambda port: f"ws://127.0.0.1:{port}/random")
        return results["good"]

    expected = ["open", "message: 17", "message: 42", "message: 99", "close: 1000"]

    def opens() -> None:
        log = good_log()
        if not log or log[0] != "open":
            raise Fail("onopen should log 'open' first", expected[0], log[:1] or "nothing",
                       "ws.onopen = lambda event: log.append('open')")

    def messages() -> None:
        log = good_log()
        got = [x for x in log if str(x).startswith("message")]
        if got != expected[1:4]:
            raise Fail("onmessage should log each number the server sends", expected[1:4], got,
                       "log.append(f'message: {event.data}')")

    def closes() -> None:
        log = good_log()
        if log[-1:] != ["close: 1000"] or log.count("close: 1000") != 1:
            raise Fail("onclose should log the close code, once, last", "close: 1000", log,
                       "log.append(f'close: {event.code}')")

    def bad_address() -> None:
        with contextlib.closing(__import__("socket").socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # nothing listens there once it is closed
        log = run_client(lambda _: f"ws://127.0.0.1:{port}/random")
        if log != ["error", "close: 1006"]:
            raise Fail("connecting to an address where nothing listens",
                       ["error", "close: 1006"], log,
                       "ws.onerror = lambda event: log.append('error')")

    return [
        ("onopen fires first", opens),
        ("onmessage fires for each message: event.data", messages),
        ("onclose fires when the server closes: event.code", closes),
        ("a bad address: onerror fires, then onclose with code 1006", bad_address),
    ]


run_client, check_client = _step(
    "step 1: the four callbacks", _client_checks,
    "Step 1: the four callbacks, against a real server on 127.0.0.1.",
    "Print the step 1 checks: ``connect(url, log)`` logs open, messages, error, close.",
)


def _route_checks(handler: Callable[..., Any]) -> list[tuple[str, Callable[[], None]]]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.router import route
    from websockets.exceptions import ConnectionClosed
    from werkzeug.routing import Map, Rule

    def session(script: Callable[[Callable[[str], Any]], Any]) -> Any:
        if not inspect.iscoroutinefunction(handler):
            raise Fail("the handler should be a coroutine function", "async def chat(websocket, room):",
                       repr(handler))
        raised: list[BaseException] = []  # what the handler raised, server side

        async def watched(websocket: Any, **params: Any) -> None:
            try:
                await handler(websocket, **params)
            except ConnectionClosed:
                raise  # the client went away: not the handler's fault
            except Exception as exc:
                raised.append(exc)
                raise

        async def scenario() -> Any:
            url_map = Map([Rule("/chat/<room>", endpoint=watched)])
            server = await route(url_map, "127.0.0.1", 0, logger=_quiet)
            port = server.sockets[0].getsockname()[1]
            try:
                return await script(lambda room: connect(f"ws://127.0.0.1:{port}/chat/{room}",
                                                         open_timeout=3 * TIMEOUT))
            finally:
                server.close()
                try:  # a handler still busy is cancelled when the loop thread ends
                    async with asyncio.timeout(TIMEOUT):
                        await server.wait_closed()
                except TimeoutError:
                    pass

        with _LoopThread() as loop:
            try:
                return loop.run(scenario(), 10)
            except (Fail, ConnectionClosed, TimeoutError):
                if raised:  # the client only saw code 1011: say what the handler raised
                    raise raised[0] from None
                raise

    async def exchange(websocket: Any, text: str) -> str:
        await websocket.send(text)
        return await answer(websocket, text)

    async def answer(websocket: Any, text: str) -> str:
        try:
            async with asyncio.timeout(TIMEOUT):
                return await websocket.recv()
        except TimeoutError:
            raise Fail(f"no answer to {text!r} within {TIMEOUT:g} s", None, None,
                       "async for message in websocket: await websocket.send(...)") from None
        except ConnectionClosed as exc:
            raise Fail(f"the server closed the connection instead of answering {text!r}",
                       None, f"close code {exc.rcvd.code if exc.rcvd else 1006}") from None

    def echo(room: str, text: str) -> Callable[[], None]:
        def test() -> None:
            async def script(open_: Callable[[str], Any]) -> None:
                async with open_(room) as websocket:
                    got = await exchange(websocket, text)
                    if got != f"{room}: {text}":
                        raise Fail(f"the answer to {text!r} in room {room}", f"{room}: {text}", got,
                                   "await websocket.send(f'{room}: {message}')")
            session(script)
        return test

    def in_order() -> None:
        async def script(open_: Callable[[str], Any]) -> None:
            async with open_("people") as websocket:
                got = [await exchange(websocket, text) for text in ("one", "two", "three")]
                wanted = ["people: one", "people: two", "people: three"]
                if got != wanted:
                    raise Fail("answers should come in order", wanted, got)
        session(script)

    def bye() -> None:
        async def script(open_: Callable[[str], Any]) -> None:
            async with open_("people") as websocket:
                await websocket.send("bye")
                try:
                    async with asyncio.timeout(TIMEOUT):
                        async for _ in websocket:
                            pass
                except TimeoutError:
                    raise Fail("after 'bye' the connection is still open", "closed, code 1000",
                               f"still open after {TIMEOUT:g} s", "await websocket.close()") from None
                if websocket.close_code != 1000:
                    raise Fail("after 'bye' the server should close normally", 1000,
                               websocket.close_code, "await websocket.close() (1000 is the default)")
        session(script)

    def two_clients() -> None:
        async def script(open_: Callable[[str], Any]) -> None:
            async with open_("people") as ann, open_("kitchen") as bob:
                await ann.send("from ann")
                await bob.send("from bob")
                got = [await answer(ann, "from ann"), await answer(bob, "from bob")]
                if got != ["people: from ann", "kitchen: from bob"]:
                    raise Fail("each client should get its own answers",
                               ["people: from ann", "kitchen: from bob"], got,
                               "answer on the connection the message came from: websocket.send")
        session(script)

    return [
        ("a message comes back with the room name: hi -> people: hi", echo("people", "hi")),
        ("the room name comes from the URL: /chat/kitchen", echo("kitchen", "is the kettle on?")),
        ("answers come in order", in_order),
        ("bye: the server closes the connection (code 1000)", bye),
        ("two clients at once each get their own answers", two_clients),
    ]


run_route, check_route = _step(
    "step 2: the route", _route_checks,
    "Step 2: the route handler, served for real on 127.0.0.1.",
    "Print the step 2 checks: ``async def chat(websocket, room)`` on ``/chat/<room>``.",
)


def check(subject: Any) -> None:
    """Print the checks that fit ``subject``: a Room, a ChatUser, a route handler."""
    if isinstance(subject, type) and hasattr(subject, "broadcast"):
        check_room(subject)
    elif isinstance(subject, type) and hasattr(subject, "handle_message"):
        check_chat_user(subject)
    elif inspect.iscoroutinefunction(subject):
        check_route(subject)
    elif callable(subject):
        check_client(subject)
    else:
        raise TypeError(f"no checks for {subject!r}: pass a Room, a ChatUser or a handler")
