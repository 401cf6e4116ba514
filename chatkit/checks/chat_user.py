"""Steps 3 and 5: ChatUser -- join, chat, close; bad input; the commands. No sockets."""

from __future__ import annotations

import json
from typing import Any, Callable

from ..core.messages import chat, note
from .fakes import _decode, _expect_sent, _isolated, _lines
from .report import Fail, _raised, _step

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
        _expect_sent(who, self.sent[who], expected, hint, self.errors(but=who))

    def errors(self, but: str = "") -> list[str]:
        """Lines saying which others were sent an error: often the clue to what went wrong."""
        lines = []
        for other, texts in self.sent.items():
            for text in texts:
                if other != but and isinstance(text, str) and '"error"' in text:
                    lines.append(f"meanwhile {other} was sent: {text}")
        return lines

    def feed(self, who: str, frame: str) -> None:
        """``handle_message(frame)``; an exception escaping it is the behaviour's failure."""
        try:
            self.users[who].handle_message(frame)
        except Exception as exc:
            raise Fail(f"handle_message raised an exception for the frame  {frame}",
                       "an error message to the sender; no exception", _raised(exc),
                       "catch it in handle_message and answer with an error message:"
                       " the live server would hide this, a check must not") from None


def _room_class(chat_user: type) -> Any:
    room_class = getattr(chat_user, "Room", None)
    if room_class is None:
        raise Fail(f"{chat_user.__name__} has no class attribute `Room`",
                   "Room = Room  (where rooms come from: self.Room.get(room_name))",
                   "no attribute Room")
    return room_class


def _chat_user_checks(chat_user: type) -> list[tuple[str, str, Callable[[], None]]]:
    def join_note() -> None:
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
        colt.handle_message(json.dumps({"type": "join", "name": "Colt"}))
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

    def chat_about_joining() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.join("Colt")
        people.clear()
        for text in ("who wants to join?", 'the "type" and "name" of a chat'):
            people.clear()
            people.say("Colt", text)
            people.expect("Juanita", [chat("Colt", text)],
                          'dispatch on the parsed message\'s "type" (message["type"] == "chat"),'
                          ' never on words found in the raw text')

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
        people.expect("Colt", [], "leave the room first, then broadcast: the one who left is gone"
                      " and hears nothing (his connection is closing)")
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
        ('a new user finds its room and sends nothing; joining, it gets  Colt joined "people".',
         "join", join_note),
        ("joining: everyone already in the room gets the note too", "join", join_tells_everyone),
        ("a chat goes to everyone in the room, the sender too", "chat", chat_to_all),
        ("a chat that mentions joining is still a chat", "chat", chat_about_joining),
        ("a chat stays in its own room", "chat", rooms_apart),
        ("closing: those left get  Colt left people.  and Colt gets nothing more", "close",
         close_tells_the_rest),
        ("closing without having joined announces nothing", "close", close_before_join),
    ]
    return [(b, g, _isolated(lambda: _room_class(chat_user), t)) for b, g, t in checks]


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
        hint = ("catch the problem in handle_message and self.error(...): one"
                ' {"type": "error", "text": ...} to the sender')
        if errors and not (isinstance(errors[0].get("text"), str) and errors[0]["text"].strip()):
            hint = 'say what was wrong: the error needs a "text" (a non-empty string)'
        elif len(errors) > 1 or len(got) > 1:
            hint = "one error, and nothing else: return right after sending it"
        raise Fail(f"{who} should get one error message ({why})",
                   '{"type": "error", "text": "<what was wrong>"}', _lines(got), hint,
                   people.errors(but=who))


def _error_checks(chat_user: type) -> list[tuple[str, str, Callable[[], None]]]:
    def bad(frames: list[str], why: str, setup: Callable[[_People], None] | None = None
            ) -> Callable[[], None]:
        def test() -> None:
            people = _People(chat_user)
            people.join("Juanita")
            people.join("Colt")
            if setup is not None:
                setup(people)
            for frame in frames:
                people.clear()
                people.feed("Colt", frame)
                _expect_error(people, "Colt", f"{why}: {frame}")
                people.expect("Juanita", [], "an error goes to the sender only")
            people.clear()
            people.say("Colt", "still here")
            people.expect("Juanita", [chat("Colt", "still here")],
                          "after an error the connection goes on as before")
        return test

    def bad_join(frames: list[str], why: str, may_join: bool = False) -> Callable[[], None]:
        """A join that must get an error -- or, if ``may_join``, that a lenient
        ``handle_join`` (a student's own, not the reference's) may let in."""
        def test() -> None:
            people = _People(chat_user)
            people.join("Juanita")
            people.join("Colt")
            for frame in frames:
                people.connect("visitor")
                people.clear()
                people.feed("visitor", frame)
                name = json.loads(frame).get("name")
                if may_join and _decode("Juanita", people.sent["Juanita"]) == [
                        note(f'{name} joined "people".')]:
                    continue  # your handle_join takes that name: not this check's business
                _expect_error(people, "visitor", f"{why}: {frame}")
                people.expect("Juanita", [], "nothing is broadcast for a bad join")
            people.clear()
            people.say("Juanita", "who is here?")
            people.expect("Colt", [chat("Juanita", "who is here?")], "")
        return test

    def chat_before_join() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.connect("visitor")
        people.clear()
        people.feed("visitor", json.dumps({"type": "chat", "text": "hello?"}))
        _expect_error(people, "visitor", "a chat before joining")
        people.expect("Juanita", [], "nothing is broadcast for someone with no name:"
                      " return right after the error")

    def join_twice() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.join("Colt")
        people.clear()
        people.feed("Colt", json.dumps({"type": "join", "name": "Colt"}))
        if _decode("Juanita", people.sent["Juanita"]) == [note('Colt joined "people".')]:
            return  # your handle_join lets a user join again: not this check's business
        _expect_error(people, "Colt", "joining a second time")
        people.expect("Juanita", [], "nothing is broadcast for a second join")

    def empty_chat() -> None:
        people = _People(chat_user)
        people.join("Juanita")
        people.join("Colt")
        people.clear()
        people.feed("Colt", json.dumps({"type": "chat", "text": ""}))
        got = _decode("Colt", people.sent["Colt"])
        if got not in ([], [chat("Colt", "")]) and not (
                len(got) == 1 and isinstance(got[0], dict) and got[0].get("type") == "error"):
            raise Fail("an empty chat: an error to Colt, or an empty chat to the room",
                       "one error, or the chat", _lines(got))
        people.clear()
        people.say("Colt", "still here")
        people.expect("Juanita", [chat("Colt", "still here")],
                      "after an empty chat the connection goes on as before")

    checks = [
        ("a frame that is not JSON gets an error, and the connection goes on", "frames",
         bad(["hello?", "{'type': 'chat'}", ""], "not JSON")),
        ("JSON that is not an object gets an error", "frames",
         bad(["[1, 2]", '"hi"', "null", "42"], "not an object")),
        ('a missing or unknown "type" gets an error', "frames",
         bad(['{"type": "shout", "text": "HI"}', '{"text": "hi"}', '{"type": null}',
              '{"type": 42, "text": "hi"}', '{"type": ["join"], "name": "Al"}'], "no known type")),
        ("a chat missing its text, or with a text that is not a string, gets an error", "fields",
         bad(['{"type": "chat"}', '{"type": "chat", "text": null}', '{"type": "chat", "text": 5}',
              '{"type": "chat", "text": ["hi"]}'], "no text (a string)")),
        ("a join missing its name, or with a name that is not a string, gets an error", "fields",
         bad_join(['{"type": "join"}', '{"type": "join", "name": 42}',
                   '{"type": "join", "name": null}', '{"type": "join", "name": ["Al"]}'],
                  "no name (a string)")),
        ("a name handle_join refuses (blank, taken) gets an error, not an exception", "fields",
         bad_join(['{"type": "join", "name": ""}', '{"type": "join", "name": "   "}',
                   '{"type": "join", "name": "Colt"}'], "a name it cannot take", may_join=True)),
        ("an empty chat does not break anything", "fields", empty_chat),
        ("a chat before joining gets an error, and nothing is broadcast", "join-first",
         chat_before_join),
        ("joining a second time gets an error if handle_join refuses it", "join-first", join_twice),
    ]
    return [(b, g, _isolated(lambda: _room_class(chat_user), t)) for b, g, t in checks]


run_errors, check_errors = _step(
    "step 5: bad input gets an error", _error_checks,
    "Step 5: what the server answers to bad input.",
    "Print the step 5 checks for bad input.",
)


def _command_checks(chat_user: type) -> list[tuple[str, str, Callable[[], None]]]:
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

    def priv_prefix() -> None:
        people = trio()
        people.say("jeff", "/priv j psst")
        _expect_error(people, "jeff", '/priv to "j": nobody is called j')
        people.expect("juanita", [], "match the whole name: member.name == to, never"
                      " name.startswith(to) -- a private message must reach no one else")
        people.expect("jenny", [], "match the whole name: member.name == to")

    def priv_self() -> None:
        people = trio()
        people.say("juanita", "/priv juanita note to self")
        message = {**chat("juanita", "note to self"), "private": True, "to": "juanita"}
        people.expect("juanita", [message], "to yourself: one copy (the recipient is the sender)")
        people.expect("jenny", [], "a private message goes to the recipient and the sender only")

    def priv_other_room() -> None:
        people = trio()
        people.join("jose", "kitchen")
        people.clear()
        people.say("juanita", "/priv jose hi")
        _expect_error(people, "juanita", "/priv to someone in another room")
        people.expect("jose", [], "look for the name among self.room.members only")

    def not_commands() -> None:
        people = trio()
        for text in ("this and/or that", "1/2 a pizza", "joke /joke"):
            people.clear()
            people.say("jenny", text)
            people.expect("jeff", [chat("jenny", text)],
                          'only a text that starts with "/" is a command: text.startswith("/")')

    checks = [
        ("/joke: the sender alone gets a joke from Server", "joke", joke),
        ("/members: the sender alone gets  In room: juanita, jenny, jeff", "members", members),
        ("/priv jenny ...: jenny and the sender get the private message, nobody else", "priv", priv),
        ("/priv to someone not in the room gets an error", "priv", priv_unknown),
        ("/priv j ...: a name's first letters are not the name", "priv", priv_prefix),
        ("/priv to yourself arrives once", "priv", priv_self),
        ("/priv to someone in another room gets an error", "priv", priv_other_room),
        ("/name Jeffrey: the room hears  jeff is now known as Jeffrey.", "name", rename),
        ("an unknown command gets an error and is not broadcast", "commands", unknown),
        ("a chat with a / inside it (and/or) is a chat, not a command", "commands", not_commands),
    ]
    return [(b, g, _isolated(lambda: _room_class(chat_user), t)) for b, g, t in checks]


run_commands, check_commands = _step(
    "step 5: /joke /members /priv /name", _command_checks,
    "Step 5: the further-study commands.",
    "Print the step 5 checks for the commands.",
)
