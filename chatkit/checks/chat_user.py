"""Steps 3 and 5: ChatUser -- join, chat, close; bad input; the commands. No sockets.

Each check drives your class the way the server would -- ``ChatUser(send,
room_name)`` per connection, with a ``send`` that records what it is given (or
fails, for a connection that broke), then ``handle_message(frame)`` and
``handle_close()`` -- through generated sessions, beside the reference model
(:mod:`.protocol_model`), and compares what every connection receives.
"""

from __future__ import annotations

import json
import random
from typing import Any, Callable, Iterable

from .engine import Behaviour, Exercise, Mismatch, Play, Step, engine_step
from .fakes import _fresh_registry
from .protocol_model import World, refusable
from .report import Fail

__all__ = ["run_chat_user", "check_chat_user", "run_errors", "check_errors",
           "run_commands", "check_commands", "SESSIONS"]

#: How many sessions each check plays (the tricky ones, then seeded random ones).
SESSIONS = {"chat_user": 300, "errors": 250, "commands": 300}


def _frame(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def connect(who: str, room: str = "people") -> Step:
    return Step("connect", who, (room,))


def join(who: str, name: str, tag: str = "") -> Step:
    return Step("frame", who, (_frame({"type": "join", "name": name}),), tag)


def say(who: str, text: str, tag: str = "") -> Step:
    return Step("frame", who, (_frame({"type": "chat", "text": text}),), tag)


def frame(who: str, raw: str, tag: str) -> Step:
    return Step("frame", who, (raw,), tag)


def close(who: str) -> Step:
    return Step("close", who)


def broken(who: str) -> Step:
    return Step("break", who)


def enter(who: str, name: str, room: str = "people") -> list[Step]:
    return [connect(who, room), join(who, name)]


# -- running your ChatUser beside the model ----------------------------------------------


class _Users(Play):
    """One session: the model's world and your users, each with a recording ``send``."""

    def __init__(self, users_class: type, level: str):
        self.level = level  # "chat_user" (well-formed, join once), "commands", "errors" (anything)
        self.world = World()
        self.users_class = users_class
        self.objects: dict[str, Any] = {}
        self.broken: set[str] = set()
        self.last_sent: dict[str, list[Any]] = {}
        self.facts: dict[str, Any] = {}
        self.kinds: list[str] = []  # the kinds of input so far that are not plain chat
        self.registry = _fresh_registry(users_class.Room)
        self.registry.__enter__()

    def _send(self, who: str) -> Callable[[Any], None]:
        def send(data: Any) -> None:
            if who in self.broken:
                raise ConnectionError(f"{who}'s connection is closed")
            self.record(who, data)
        return send

    def expect(self, step: Step):
        world = self.world
        user = world.users.get(step.who)
        kind = _input_kind(world, user, step.args[0]) if step.kind == "frame" and user else ""
        self.facts = {
            "input": kind,
            "before": self.kinds[-1] if self.kinds else "",
            "joined": user is not None and user.name is not None,
            "room": set(user.room.members) if user is not None else set(),
            "gone": {w for w, u in world.users.items() if u.closed},
            "renamed": user is not None and user.renamed,
            "moved": {w for w, u in world.users.items() if u.moved},
        }
        if step.kind == "connect":
            return world.expect_connect(step.who, step.args[0])
        if step.kind == "frame":
            if self.level != "errors" and user is not None and (
                    (user.name is None and not _is_join(step))
                    or (self.level == "chat_user" and (
                        (user.name is not None and _is_join(step))
                        or step.args[0].startswith('{"type": "chat", "text": "/')))):
                return None  # bad input and commands are notebook 5's business, not this check's
            answers = world.expect_frame(step.who, step.args[0])
            if answers is not None and kind:
                self.kinds.append(kind)
            return answers
        if step.kind == "close":
            return world.expect_close(step.who)
        return world.expect_break(step.who)

    def broke(self, who: str) -> None:
        self.broken.add(who)

    def run(self, step: Step) -> None:
        if step.kind == "connect":
            self.objects[step.who] = self.users_class(self._send(step.who), step.args[0])
        elif step.kind == "frame":
            self.objects[step.who].handle_message(step.args[0])
        else:
            self.objects[step.who].handle_close()

    def close(self) -> None:
        self.registry.__exit__(None, None, None)


def _input_kind(world: World, user: Any, raw: str) -> str:
    """What a frame is, for the checks' behaviours: "" for a plain join or chat, else its kind
    ("not-json", "before-join", "priv-absent" ...)."""
    try:
        message = json.loads(raw)
    except ValueError:
        return "not-json"
    if not isinstance(message, dict):
        return "not-object"
    kind = message.get("type")
    if kind == "chat":
        text = message.get("text")
        if not isinstance(text, str):
            return "bad-text"
        if user.name is None:
            return "before-join"
        if text.startswith("/"):
            return _command_kind(world, user, text)
        if not text.strip():
            return "blank-text"
        return "slash-inside" if "/" in text else ""
    if kind == "join":
        name = message.get("name")
        if not isinstance(name, str):
            return "bad-name"
        if user.name is not None:
            return "join-again"
        room = world.get(user.room.name) if user.room.name in world.rooms else user.room
        return "refusable-name" if refusable(name, world.names_in(room) + world.names_in(
            user.room)) else ""
    return "bad-type"


def _command_kind(world: World, user: Any, text: str) -> str:
    command, _, rest = text.partition(" ")
    if command in ("/joke", "/members", "/name"):
        return command[1:]
    if command != "/priv":
        return "unknown-command"
    names = world.names_in(user.room)
    first = rest.partition(" ")[0]
    if first == user.name:
        return "priv-self"
    if first in names or any(rest == n or rest.startswith(n + " ") for n in names):
        return "priv"
    return "priv-absent"


class _ChatUserExercise(Exercise):
    """What the three ChatUser checks share: the model, the words, the plainer steps."""

    key = ""

    def preflight(self, subject: Any) -> None:
        if not isinstance(subject, type):
            raise Fail("the check takes your class itself", "ChatUser (the class)", repr(subject))
        room_class = getattr(subject, "Room", None)
        if room_class is None:
            raise Fail(f"{subject.__name__} has no class attribute `Room`",
                       "Room = Room  (where rooms come from: self.Room.get(room_name))",
                       "no attribute Room")
        if not isinstance(getattr(room_class, "rooms", None), dict):
            raise Fail(f"{getattr(room_class, '__name__', room_class)} has no dict `rooms`",
                       "a class attribute: rooms = {}", getattr(room_class, "rooms", None),
                       "the registry of rooms, by name, that Room.get reads and fills")

    def begin(self, subject: Any) -> Play:
        return _Users(subject, self.key)

    def sessions(self) -> list[list[Step]]:
        return _sessions(self.key)

    def names(self, steps: list[Step]) -> dict[str, str]:
        names: dict[str, str] = {}
        used: set[str] = set()
        for step in steps:
            if step.who in names or step.kind != "frame":
                continue
            try:
                message = json.loads(step.args[0])
            except ValueError:
                continue
            if isinstance(message, dict) and message.get("type") == "join" and isinstance(
                    message.get("name"), str) and message["name"].strip() \
                    and message["name"].isprintable():
                names[step.who] = _unique(message["name"], used)
        for step in steps:
            if step.who not in names:
                names[step.who] = _unique("visitor", used)
        return names

    def say(self, steps: list[Step], index: int, names: dict[str, str]) -> str:
        step = steps[index]
        who = names.get(step.who, step.who)
        if step.kind == "connect":
            return f"{who} connects to {_frame(step.args[0])}"
        if step.kind == "frame":
            return f"{who} sends  {step.args[0] or '(an empty frame)'}"
        if step.kind == "close":
            return f"{who}'s connection closes"
        return f"{who}'s connection breaks: sending to {who} fails from now on"

    def simpler(self, step: Step) -> Iterable[Step]:
        if step.kind == "connect" and step.args[0] != "people":
            yield connect(step.who)
        if step.kind == "frame" and not step.tag:
            message = json.loads(step.args[0])
            if message.get("type") == "chat" and message["text"] not in ("hi",) \
                    and not message["text"].startswith("/"):
                yield say(step.who, "hi")



def _unique(name: str, used: set[str]) -> str:
    label, n = name, 1
    while label in used:
        n += 1
        label = f"{name} #{n}"
    used.add(label)
    return label


def _nearest_tagged(steps: list[Step], index: int) -> str:
    """The tag of the nearest step that probes something (after this one first)."""
    for step in steps[index:]:
        if step.tag:
            return step.tag
    for step in reversed(steps[:index]):
        if step.tag:
            return step.tag
    return ""


# -- step 3 ------------------------------------------------------------------------------


def _gone_hint(mismatch: Mismatch, exercise: Any) -> str:
    return ("leave the room first, then broadcast: the one who left is out of the room and"
            " hears nothing more (their connection is closing)")


def _moved_hint(mismatch: Mismatch) -> str:
    """The room emptied out between someone's connect and join: did they join a forgotten room?"""
    moved = mismatch.facts.get("moved", ())
    if any(w in moved for w in (*mismatch.differing, mismatch.step.who)):
        return ("a user who connected while the room was there, and joined after it emptied out"
                " and was forgotten, must join the room the others find now: at join, ask the"
                " registry for the room again")
    return ""


def _join_hint(mismatch: Mismatch, exercise: Any) -> str:
    got = mismatch.got.get(mismatch.step.who, [])
    if not got:
        return ("join the room first, then broadcast the note: the joiner is a member by then"
                " and hears it too")
    return 'the note is  NAME joined "ROOM".  -- the room name in quotes, then a full stop'


def _everyone_hint(mismatch: Mismatch, exercise: Any) -> str:
    if any(who not in mismatch.facts.get("room", ()) and who != mismatch.step.who
           for who in mismatch.differing):
        return ("only this room's members hear it: rooms whose names differ only in case,"
                " accents or spaces are different rooms")
    return _moved_hint(mismatch) or ("join the room, then broadcast the note to the whole room:"
                                      " everyone already there hears it too")


def _chat_hint(mismatch: Mismatch, exercise: Any) -> str:
    moved = _moved_hint(mismatch)
    if moved:
        return moved
    if mismatch.step.who in mismatch.differing and not mismatch.got.get(mismatch.step.who):
        return "the sender is a member of the room too: a broadcast reaches them"
    return ("dispatch on the parsed message's \"type\" (message[\"type\"] == \"chat\"), never on"
            " words found in the raw text; broadcast {type, name, text} to the room")


def _close_hint(mismatch: Mismatch, exercise: Any) -> str:
    if mismatch.facts.get("joined"):
        if any(w in mismatch.facts.get("gone", ()) for w in mismatch.differing):
            return _gone_hint(mismatch, exercise)
        return ("leave the room, then broadcast  NAME left ROOM.  (no quotes) to those left;"
                " handle_close must take the user out of the room")
    return "someone who never joined has no name: there is nobody to tell"


class ChatUserChecks(_ChatUserExercise):
    """Notebook 3: join, chat, close -- well-formed messages only."""

    key = "chat_user"
    title = "step 3: join, chat, close"
    behaviours = [
        Behaviour('joining: the joiner gets  Colt joined "people".  -- quotes and full stop',
                  "join", _join_hint),
        Behaviour("joining: everyone already in the room gets the note too, and nobody outside it",
                  "join", _everyone_hint),
        Behaviour("a chat goes to everyone in the room, the sender too, as {type, name, text}",
                  "chat", _chat_hint),
        Behaviour("a chat stays in its own room (names differing only in case, accents or"
                  " spaces are other rooms)", "chat",
                  "only this room's members hear it: each user talks to self.room only"),
        Behaviour("closing: those left get  Colt left people.  and Colt gets nothing more",
                  "close", _close_hint),
        Behaviour("closing without having joined announces nothing", "close", _close_hint),
    ]

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        facts, step = mismatch.facts, mismatch.step
        if any(w in facts.get("gone", ()) for w in mismatch.differing):
            return 4
        if step.kind == "close":
            return 4 if facts.get("joined") else 5
        if step.kind == "connect":
            return 0
        if _is_join(step) and not facts.get("joined"):
            if mismatch.outcome.raised is not None or step.who in mismatch.differing:
                return 0
            return 1
        if any(w not in facts.get("room", ()) and w != step.who for w in mismatch.differing):
            return 3
        return 2

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        step = steps[index]
        if step.kind == "close":
            return (4, 5)
        if step.kind == "frame":
            return (0, 1) if _is_join(step) else (2, 3)
        return ()


def _is_join(step: Step) -> bool:
    return step.kind == "frame" and step.args[0].startswith('{"type": "join"')


# -- step 5: bad input --------------------------------------------------------------------

_BAD_TAGS = ["not-json", "not-object", "bad-type", "bad-text", "bad-name", "refusable-name",
             "blank-text", "before-join", "join-again"]


class ErrorChecks(_ChatUserExercise):
    """Notebook 5: anything the protocol does not allow gets an error, to the sender only."""

    key = "errors"
    title = "step 5: bad input gets an error"
    behaviours = [
        Behaviour("a frame that is not JSON gets an error (to the sender only), and the connection"
                  " goes on", "frames"),
        Behaviour("JSON that is not an object gets an error", "frames"),
        Behaviour('a missing or unknown "type" gets an error ("type" is exact: "JOIN" is not'
                  ' "join")', "frames"),
        Behaviour("a chat missing its text, or with a text that is not a string, gets an error",
                  "fields"),
        Behaviour("a join missing its name, or with a name that is not a string, gets an error",
                  "fields"),
        Behaviour("a name the room cannot take (blank, taken) gets an error or is taken -- never"
                  " an exception", "fields"),
        Behaviour("an empty chat does not break anything", "fields"),
        Behaviour("a chat (or a command) before joining gets an error, and nothing is broadcast",
                  "join-first"),
        Behaviour("joining a second time gets an error, or joins again -- nothing else",
                  "join-first"),
    ]

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        # What the input was (the model says), else the bad input before it ("the connection
        # goes on"), else the bad input the session was heading for.
        for kind in (mismatch.facts.get("input"), mismatch.facts.get("before"),
                     _nearest_tagged(steps, mismatch.index)):
            if kind in _BAD_TAGS:
                return _BAD_TAGS.index(kind)
        # Well-formed input alone went wrong: a chat refused after joining is the join-first
        # rule turned around; a join, the fields' rules.
        return _BAD_TAGS.index("bad-name" if _is_join(mismatch.step) else "before-join")

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        tag = steps[index].tag
        return (_BAD_TAGS.index(tag),) if tag in _BAD_TAGS else ()


for _behaviour in ErrorChecks.behaviours:
    _behaviour.hint = (lambda mismatch, exercise: _bad_input_hint(mismatch))


def _bad_input_hint(mismatch: Mismatch) -> str:
    who = mismatch.step.who
    raised = mismatch.outcome.raised
    if raised is not None:
        return ("catch it in handle_message and answer with self.error(...): the live server"
                " would hide this exception, a check must not")
    if any(w != who for w in mismatch.differing):
        got_error = any(isinstance(m, dict) and m.get("type") == "error"
                        for w in mismatch.differing if w != who for m in mismatch.got.get(w, []))
        if got_error:
            return "an error goes to the sender only: self.error(...), never a broadcast"
        return "nothing is broadcast for a message that gets an error: return right after it"
    got = mismatch.got.get(who, [])
    if len(got) > 1:
        return "one error, and nothing else: return right after sending it"
    if got and isinstance(got[0], dict) and got[0].get("type") == "error":
        return 'say what was wrong: the error needs a "text" (a non-empty string)'
    return ('answer with one {"type": "error", "text": ...} to the sender:'
            " check before you act, then self.error(...)")


# -- step 5: the commands ---------------------------------------------------------------

_COMMAND_TAGS = ["joke", "members", "priv", "priv-self", "priv-absent", "name",
                 "unknown-command", "slash-inside"]


def _priv_hint(mismatch: Mismatch, exercise: Any) -> str:
    step_text = json.loads(mismatch.step.args[0]).get("text", "")
    differing = set(mismatch.differing)
    if mismatch.step.who in differing and len(mismatch.got.get(mismatch.step.who, [])) > 1:
        return "to yourself: one copy (the recipient is the sender)"
    if differing - {mismatch.step.who} and all(mismatch.got.get(w) for w in differing):
        return ("a private message goes to the one member whose name is exactly the name after"
                " /priv (case, accents and hyphens count), and to the sender")
    return (f"find the member of this room whose name is the word after /priv ({step_text!r});"
            " if there is none, an error to the sender")


class CommandChecks(_ChatUserExercise):
    """Notebook 5: /joke, /members, /priv, /name, and any other /word."""

    key = "commands"
    title = "step 5: /joke /members /priv /name"
    behaviours = [
        Behaviour("/joke: the sender alone gets a joke from Server", "joke",
                  'self.send(...) a {"type": "chat", "name": "Server", "text": ...} -- to the'
                  " sender only"),
        Behaviour("/members: the sender alone gets  In room: juanita, jenny, jeff  -- this room's"
                  " members, in join order", "members",
                  "the names of self.room.members, in join order, joined with ', ' -- sent to"
                  " the sender only"),
        Behaviour("/priv jenny ...: jenny and the sender get the private message, nobody else"
                  " -- José, jean-luc and Jenny are names like any other", "priv", _priv_hint),
        Behaviour("/priv to yourself arrives once", "priv", _priv_hint),
        Behaviour("/priv to someone not in the room (another room, a first letter, another"
                  " case) gets an error", "priv", _priv_hint),
        Behaviour("/name Jeffrey: the room hears  jeff is now known as Jeffrey.  and later chats"
                  " carry the new name", "name",
                  "broadcast the note with the old name and the new, then use the new name"),
        Behaviour("an unknown command gets an error and is not broadcast", "commands",
                  "any other /word: an error to the sender, nothing to the room"),
        Behaviour("a chat with a / inside it (and/or) is a chat, not a command", "commands",
                  'only a text that starts with "/" is a command'),
    ]

    def classify(self, steps: list[Step], mismatch: Mismatch) -> int:
        kind = mismatch.facts.get("input")
        if kind in _COMMAND_TAGS:
            return _COMMAND_TAGS.index(kind)
        if mismatch.facts.get("renamed"):
            return _COMMAND_TAGS.index("name")
        for kind in (mismatch.facts.get("before"), _nearest_tagged(steps, mismatch.index)):
            if kind in _COMMAND_TAGS:
                return _COMMAND_TAGS.index(kind)
        return _COMMAND_TAGS.index("slash-inside")

    def exercised(self, steps: list[Step], index: int) -> Iterable[int]:
        tag = steps[index].tag
        return (_COMMAND_TAGS.index(tag),) if tag in _COMMAND_TAGS else ()


# -- the sessions ----------------------------------------------------------------------

#: Names that differ only in case, accents, hyphens, spaces, quotes, look-alike letters.
NAMES = ["Juanita", "Colt", "colt", "COLT", "José", "Jose", "Jose\u0301", "jean-luc", "jean luc",
         "Jean-Luc", "O'Brien", 'Bob "the builder"', "Zoë", "\u0410nn", "Ann", "👩\u200d💻",
         "jenny", "jeff", "j", "Jenny", "Ann-Marie", "ann marie"]
#: Room names alike in the same ways.
ROOMS = ["people", "People", "kitchen", "café", "cafe\u0301", "the lounge", "the  lounge",
         "😀", "PEOPLE"]
#: Texts that look like something else: JSON, a join, a number, HTML, a command inside.
TEXTS = ["hi all", "who wants to join?", 'the "type" and "name" of a chat',
         '{"type": "join", "name": "Eve"}', "42", "null", "<b>hi</b> & bye", "héllo ✓ 😀",
         "line one\nline two", "%s {} {0}", "and/or", "1/2 a pizza", "joke /joke", "Colt",
         "jenny: hi", "bye", "two  spaces   here"]
#: Names the reference refuses, and a server may: blank, reserved, invisible, too long.
REFUSABLE = ["", "   ", "Server", "server", "Ann\u200b", "x" * 41, "/joke", "a\nb"]

_cache: dict[str, list[list[Step]]] = {}


def _sessions(key: str) -> list[list[Step]]:
    if key not in _cache:
        make = {"chat_user": _chat_user_sessions, "errors": _error_sessions,
                "commands": _command_sessions}[key]
        _cache[key] = make(random.Random(f"chatkit-{key}"), SESSIONS[key])
    return _cache[key]


def _chat_user_sessions(rng: random.Random, count: int) -> list[list[Step]]:
    u1, u2, u3, u4 = "u1", "u2", "u3", "u4"
    tricky = [
        [*enter(u1, "Juanita"), *enter(u2, "Colt"), say(u2, "hi all"), close(u2),
         say(u1, "still here?")],
        [*enter(u1, "Colt"), *enter(u2, "colt", "People"), *enter(u3, "Jenny", "kitchen"),
         say(u1, "hi people"), say(u2, "hi People"), say(u3, "hi kitchen")],
        # A room that empties out between a connect and a join (Room.get again at join).
        [connect(u1), *enter(u2, "Ann"), close(u2), join(u1, "Bob"), *enter(u3, "Cleo"),
         say(u3, "anyone?"), say(u1, "me")],
        [*enter(u1, "Juanita"), connect(u2), close(u2), say(u1, "who left?")],
        [*enter(u1, "Juanita"), *enter(u2, "Colt"),
         *(say(u2, text) for text in TEXTS[1:6])],
        [*enter(u1, "José"), *enter(u2, "Jose"), *enter(u3, "jean-luc"), *enter(u4, "jean luc"),
         say(u3, "salut"), close(u1), say(u4, "bye José")],
        [*enter(u1, "Juanita"), *enter(u2, "Jenny"), *enter(u3, "Jeff"), broken(u2),
         say(u1, "hello?"), close(u3), say(u1, "just us")],
        [*enter(u1, "Zoë", "café"), *enter(u2, "Zoe", "cafe\u0301"), *enter(u3, "x", "😀"),
         say(u1, "un café"), say(u2, "a cafe"), close(u1), say(u2, "gone?")],
        [*enter(u1, "Ann"), close(u1), *enter(u2, "Ann"), *enter(u3, "Bob"), say(u2, "back")],
        [*enter(u1, "A"), *enter(u2, "B"), close(u1), close(u2), *enter(u3, "C"),
         say(u3, "empty?")],
        [*enter(u1, "O'Brien"), *enter(u2, 'Bob "the builder"'), say(u2, "  "), say(u1, ""),
         say(u2, "<b>hi</b> & bye")],
        [*enter(u1, "Ann"), *enter(u2, "\u0410nn"), *enter(u3, "ann"), say(u3, "which Ann?"),
         close(u2), say(u1, "me")],
        [*enter(u1, "a", "the lounge"), *enter(u2, "b", "the  lounge"), say(u1, "lounge"),
         close(u2), say(u1, "still?")],
        [connect(u1), connect(u2), join(u2, "Dee"), close(u2), connect(u3), join(u1, "Eve"),
         join(u3, "Fay"), say(u1, "hi"), say(u3, "hi")],
    ]
    return tricky + [_random_session(rng, "chat_user") for _ in range(count - len(tricky))]


def _error_sessions(rng: random.Random, count: int) -> list[list[Step]]:
    u1, u2, u3 = "u1", "u2", "u3"
    bad = {
        "not-json": ["hello?", "{'type': 'chat'}", "", '{"type": "chat", "text": "hi"',
                     "chat: hi"],
        "not-object": ["[1, 2]", '"hi"', "null", "42", "true", '[{"type": "chat", "text": "x"}]'],
        "bad-type": ['{"type": "shout", "text": "HI"}', '{"text": "hi"}', '{"type": null}',
                     '{"type": 42, "text": "hi"}', '{"type": ["join"], "name": "Al"}',
                     '{"type": "JOIN", "name": "Al"}', '{"type": "Chat", "text": "hi"}',
                     '{"type": "chat ", "text": "hi"}', '{"Type": "chat", "text": "hi"}'],
        "bad-text": ['{"type": "chat"}', '{"type": "chat", "text": null}',
                     '{"type": "chat", "text": 5}', '{"type": "chat", "text": ["hi"]}',
                     '{"type": "chat", "text": {"t": 1}}', '{"type": "chat", "text": true}',
                     '{"type": "chat", "name": "Mallory"}'],
        "bad-name": ['{"type": "join"}', '{"type": "join", "name": 42}',
                     '{"type": "join", "name": null}', '{"type": "join", "name": ["Al"]}',
                     '{"type": "join", "text": "Al"}', '{"type": "join", "name": false}'],
    }
    tricky = []
    for tag, frames in bad.items():
        for frame_text in frames:
            joined = tag not in ("bad-name",)
            tricky.append([*enter(u1, "Juanita"), *(enter(u2, "Colt") if joined else
                                                    [connect(u2)]),
                           frame(u2, frame_text, tag),
                           say(u2, "still here") if joined else join(u2, "Colt"),
                           say(u1, "who is here?")])
    tricky += [
        [*enter(u1, "Juanita"), connect(u2), say(u2, "hello?", "before-join"),
         say(u2, "/joke", "before-join"), join(u2, "Colt"), say(u2, "now")],
        [*enter(u1, "Juanita"), *enter(u2, "Colt"), join(u2, "Colt", "join-again"),
         say(u2, "still Colt?")],
        [*enter(u1, "Juanita"), *enter(u2, "Colt"), join(u2, "Jenny", "join-again"),
         say(u2, "who am I?")],
        *([*enter(u1, "Juanita"), *enter(u2, "Colt"), connect(u3), join(u3, name, "refusable-name"),
           say(u1, "who joined?")] for name in [*REFUSABLE, "Colt", "colt", "C\u043elt"]),
        [*enter(u1, "Juanita"), *enter(u2, "Colt"), say(u2, "", "blank-text"),
         say(u2, "   ", "blank-text"), say(u2, "still here")],
        [*enter(u1, "Juanita"), *enter(u2, "Colt"),
         frame(u2, '{"type": "chat", "text": "hi", "name": "Mallory"}', "bad-text"),
         frame(u2, '{"type": "join", "name": "Juanita", "text": "x"}', "join-again")],
    ]
    return tricky + [_random_session(rng, "errors") for _ in range(count - len(tricky))]


def _command_sessions(rng: random.Random, count: int) -> list[list[Step]]:
    u1, u2, u3, u4 = "u1", "u2", "u3", "u4"
    trio = [*enter(u1, "juanita"), *enter(u2, "jenny"), *enter(u3, "jeff")]
    tricky = [
        [*trio, say(u1, "/joke", "joke"), say(u3, "/joke please", "joke")],
        [*trio, say(u2, "/members", "members"), close(u1), say(u3, "/members", "members")],
        [*trio, *enter(u4, "jose", "kitchen"), say(u4, "/members", "members"),
         say(u1, "/members", "members")],
        [*trio, say(u1, "/priv jenny see you at 5", "priv"), say(u2, "/priv jeff hi", "priv"),
         say(u3, "/priv juanita two  spaces   here", "priv")],
        [*trio, say(u1, "/priv nobody hello", "priv-absent"), say(u1, "/priv j psst", "priv-absent"),
         say(u1, "/priv Jenny hi", "priv-absent"), say(u1, "/priv JEFF hi", "priv-absent")],
        [*trio, say(u1, "/priv juanita note to self", "priv-self")],
        [*trio, *enter(u4, "jose", "kitchen"), say(u1, "/priv jose hi", "priv-absent")],
        [*enter(u1, "José"), *enter(u2, "jean-luc"), *enter(u3, "Zoë"),
         say(u1, "/priv jean-luc salut", "priv"), say(u2, "/priv José ça va", "priv"),
         say(u3, "/priv Jose hi", "priv-absent"), say(u2, "/priv Zoë hi", "priv")],
        [*enter(u1, "jean luc"), *enter(u2, "Ann"), say(u2, "/priv jean luc hi", "priv"),
         say(u1, "/priv Ann hi there", "priv")],
        [*enter(u1, "jean"), *enter(u2, "jean luc"), *enter(u3, "Ann"),
         say(u3, "/priv jean luc hi", "priv")],
        [*trio, say(u1, "/priv jenny", "priv"), say(u1, "/priv", "priv-absent")],
        [*trio, say(u3, "/name Jeffrey", "name"), say(u3, "hi"), say(u1, "/members", "members"),
         say(u2, "/priv Jeffrey hi", "priv")],
        [*trio, say(u3, "/name jenny", "name"), say(u3, "/name jeff", "name"),
         say(u3, "/name Jeff", "name"), say(u3, "who am I")],
        [*trio, say(u3, "/dance", "unknown-command"), say(u3, "/JOKE", "unknown-command"),
         say(u3, "/", "unknown-command"), say(u3, "/ joke", "unknown-command"),
         say(u3, "/members2", "unknown-command")],
        [*trio, say(u2, "this and/or that", "slash-inside"), say(u2, "1/2 a pizza", "slash-inside"),
         say(u2, "joke /joke", "slash-inside"), say(u2, " /joke", "slash-inside")],
        [*trio, broken(u2), say(u1, "/priv jenny hi", "priv"), say(u2, "/members", "members"),
         say(u2, "/joke", "joke")],
        [*trio, close(u2), say(u1, "/priv jenny hi", "priv-absent"),
         say(u1, "/members", "members")],
    ]
    return tricky + [_random_session(rng, "commands") for _ in range(count - len(tricky))]


def _random_session(rng: random.Random, key: str) -> list[Step]:
    """A session of random steps over a few users, steered by the model so most steps count."""
    world = World()
    steps: list[Step] = []
    users = [f"u{i}" for i in range(1, rng.randint(3, 5) + 1)]
    rooms = rng.sample(ROOMS[:5], 2) if rng.random() < 0.5 else ["people"]
    length = rng.randint(6, 14)

    def play(step: Step) -> None:
        alternatives = {"connect": lambda: world.expect_connect(step.who, step.args[0]),
                        "frame": lambda: world.expect_frame(step.who, step.args[0]),
                        "close": lambda: world.expect_close(step.who),
                        "break": lambda: world.expect_break(step.who)}[step.kind]()
        if alternatives is not None:
            if alternatives[0].apply:
                alternatives[0].apply()
            steps.append(step)

    for _ in range(5 * length):  # bounded: once everyone has closed, nothing more can happen
        if len(steps) >= length:
            break
        who = rng.choice(users)
        user = world.live(who)
        if who not in world.users:
            play(connect(who, rng.choice(rooms)))
            continue
        if user is None:
            continue
        roll = rng.random()
        if user.name is None:
            if roll < 0.8:
                play(join(who, rng.choice(NAMES)))
            elif key == "errors" and roll < 0.9:
                play(say(who, rng.choice(TEXTS), "before-join"))
            else:
                play(close(who))
            continue
        if roll < 0.08:
            play(close(who))
        elif roll < 0.11:
            play(broken(who))
        elif key == "commands" and roll < 0.6:
            play(_random_command(rng, world, user))
        elif key == "errors" and roll < 0.5:
            tag = rng.choice(_BAD_TAGS[:5])
            raws = {"not-json": ["oops", "{'a': 1}"], "not-object": ["[]", "7", '"x"'],
                    "bad-type": ['{"type": "leave"}', '{"type": "CHAT", "text": "x"}'],
                    "bad-text": ['{"type": "chat", "text": 1}', '{"type": "chat"}'],
                    "bad-name": ['{"type": "join", "name": 1}']}[tag]
            play(frame(who, rng.choice(raws), tag))
        else:
            play(say(who, rng.choice(TEXTS)))
    return steps


def _random_command(rng: random.Random, world: World, user: Any) -> Step:
    others = [world.users[w].name for w in user.room.members]
    roll = rng.random()
    who = user.who
    if roll < 0.12:
        return say(who, "/joke", "joke")
    if roll < 0.3:
        return say(who, "/members", "members")
    if roll < 0.65:
        target = rng.choice(others)
        if target == user.name:
            return say(who, f"/priv {target} {rng.choice(TEXTS[:4])}", "priv-self")
        return say(who, f"/priv {target} {rng.choice(TEXTS[:4] + TEXTS[-1:])}", "priv")
    if roll < 0.75:
        absent = rng.choice([n for n in NAMES if n not in others] or ["nobody"])
        return say(who, f"/priv {absent} hi", "priv-absent")
    if roll < 0.88:
        return say(who, f"/name {rng.choice(NAMES)}", "name")
    if roll < 0.94:
        return say(who, rng.choice(["/dance", "/Members", "/jokes"]), "unknown-command")
    return say(who, rng.choice(["and/or", "a/b", "x /joke"]), "slash-inside")


# -- the three checks -------------------------------------------------------------------

run_chat_user, check_chat_user = engine_step(
    ChatUserChecks(),
    "Step 3: join, chat and close, with ``sent.append`` for a socket.",
    "Print the step 3 checks for your ``ChatUser`` (join, chat, close).",
)
run_errors, check_errors = engine_step(
    ErrorChecks(),
    "Step 5: what the server answers to bad input.",
    "Print the step 5 checks for bad input.",
)
run_commands, check_commands = engine_step(
    CommandChecks(),
    "Step 5: the further-study commands.",
    "Print the step 5 checks for the commands.",
)
