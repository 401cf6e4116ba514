"""Steps 3 and 5: ChatUser -- join, chat, close; bad input; the commands. No sockets."""

from __future__ import annotations

import json
from typing import Any, Callable

from ..messages import chat, note
from .fakes import _decode, _expect_sent, _isolated, _lines
from .report import Fail, _step

__all__ = ["run_chat_user", "check_chat_user", "run_errors", "check_errors",
           "run_commands", "check_commands"]



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
        people.expect("Colt", [note('Colt joined "people".')],
                      'the room name in quotes, then a full stop: f\'{self.name} joined "{self.room.name}".\'')

    def join_tells_everyone() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.clear()
        people.join("Colt")
        people.expect("Juanita", [note('Colt joined "people".')],
                      "join the room first, then broadcast the note to the whole room")

    def chat_to_all() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.join("Colt")
        people.clear()
        people.say("Colt", "hi all")
        message = [chat("Colt", "hi all")]
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
        people.expect("Juanita", [note("Colt left people.")],
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
            people.expect("Juanita", [chat("Colt", "still here")],
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
        people.expect("jenny", [note("In room: juanita, jenny, jeff")],
                      "the names of self.room.members, in join order, joined with ', '")
        people.expect("juanita", [], "/members answers the sender only")

    def priv() -> None:
        people = trio()
        people.say("juanita", "/priv jenny see you at 5")
        message = {**chat("juanita", "see you at 5"), "private": True, "to": "jenny"}
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
        renamed = [note("jeff is now known as Jeffrey.")]
        people.expect("juanita", renamed, "broadcast the note to the room")
        people.expect("jeff", renamed, "the renamed member gets the note too")
        people.clear()
        people.say("jeff", "hi")
        people.expect("jenny", [chat("Jeffrey", "hi")], "set self.name to the new name")

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
