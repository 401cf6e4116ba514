"""Notebook 5: wrong ``MyChatUser`` classes (bad input, commands) and wrong ``render``s."""

from __future__ import annotations

import html
import json
import random

from chatkit import ChatUser, Room
from chatkit.core.jokes import JOKES

from .cases import wrong


class StudentFurther(ChatUser):
    """The exercise as the instructor solves it; each case replaces a method."""

    Room = Room.new_registry()

    def error(self, text):
        self.send(json.dumps({"type": "error", "text": text}))

    def handle_command(self, text):
        command, _, rest = text.partition(" ")
        if command == "/joke":
            self.send(json.dumps({"type": "chat", "name": "Server", "text": random.choice(JOKES)}))
        elif command == "/members":
            self.handle_members()
        elif command == "/priv":
            self.handle_priv(rest)
        elif command == "/name":
            self.handle_name(rest)
        else:
            self.error(f"unknown command {command}: try /joke, /members, /priv or /name")

    def handle_message(self, raw):
        try:
            message = json.loads(raw)
        except ValueError as exc:
            return self.error(f"not JSON: {exc}")
        if not isinstance(message, dict):
            return self.error('expected an object like {"type": "chat", "text": "hi"}')
        kind = message.get("type")
        field = {"join": "name", "chat": "text"}.get(kind) if isinstance(kind, str) else None
        if field is None:
            return self.error(f'unknown message type {kind!r}: expected "join" or "chat"')
        if not isinstance(message.get(field), str):
            return self.error(f'"{kind}" needs a "{field}" (a string)')
        try:
            if kind == "join":
                self.handle_join(message["name"])
            else:
                self.handle_chat(message["text"])
        except ValueError as exc:
            self.error(str(exc))

    def handle_chat(self, text):
        if self.name is None:
            return self.error('join first: send {"type": "join", "name": "..."}')
        if text.startswith("/"):
            return self.handle_command(text)
        self.room.broadcast({"type": "chat", "name": self.name, "text": text})

    def handle_members(self):
        names = [member.name for member in self.room.members]
        self.send(json.dumps({"type": "note", "text": f"In room: {', '.join(names)}"}))

    def handle_priv(self, rest):
        to, _, text = rest.partition(" ")
        found = [member for member in self.room.members if member.name == to]
        if not found:
            return self.error(f'no one called "{to}" in "{self.room.name}"')
        message = json.dumps({"type": "chat", "name": self.name, "text": text, "private": True, "to": to})
        found[0].send(message)
        if found[0] is not self:
            self.send(message)

    def handle_name(self, new_name):
        old_name, self.name = self.name, new_name.strip()
        self.room.broadcast({"type": "note", "text": f"{old_name} is now known as {self.name}."})


def _user(name, check, kind, groups=(), **methods):
    cls = type(name, (StudentFurther,), {"Room": Room.new_registry(), **methods})
    return wrong(check, kind, groups)(cls)


# -- bad input --------------------------------------------------------------------


def _message_no_type_check(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        return self.error("not JSON")
    if not isinstance(message, dict):
        return self.error("not an object")
    if message["type"] == "join":
        if "name" not in message:
            return self.error("join needs a name")
        self.handle_join(message["name"])
    elif message["type"] == "chat":
        if "text" not in message:
            return self.error("chat needs a text")
        self.handle_chat(message["text"])
    else:
        self.error("unknown type")


def _message_no_field_types(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        return self.error("not JSON")
    if not isinstance(message, dict):
        return self.error("not an object")
    kind = message.get("type")
    if kind == "join" and "name" in message:
        try:
            self.handle_join(message["name"])
        except ValueError as exc:
            self.error(str(exc))
    elif kind == "chat" and "text" in message:
        self.handle_chat(message["text"])
    elif kind in ("join", "chat"):
        self.error(f"{kind} is missing its field")
    else:
        self.error(f"unknown type {kind}")


def _message_protocol_error_escapes(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        return self.error("not JSON")
    if not isinstance(message, dict):
        return self.error("not an object")
    kind = message.get("type")
    field = {"join": "name", "chat": "text"}.get(kind) if isinstance(kind, str) else None
    if field is None:
        return self.error("unknown type")
    if not isinstance(message.get(field), str):
        return self.error(f"{kind} needs a {field}")
    if kind == "join":
        self.handle_join(message["name"])
    else:
        self.handle_chat(message["text"])


def _chat_first_letter(self, text):
    if self.name is None:
        return self.error("join first")
    if text[0] == "/":
        return self.handle_command(text)
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


def _message_not_object_unchecked(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        return self.error("not JSON")
    kind = message.get("type")
    field = {"join": "name", "chat": "text"}.get(kind) if isinstance(kind, str) else None
    if field is None or not isinstance(message.get(field), str):
        return self.error("bad message")
    try:
        getattr(self, f"handle_{kind}")(message[field])
    except ValueError as exc:
        self.error(str(exc))


def _message_unknown_ignored(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        return self.error("not JSON")
    if not isinstance(message, dict):
        return self.error("not an object")
    kind = message.get("type")
    field = {"join": "name", "chat": "text"}.get(kind) if isinstance(kind, str) else None
    if field is None:
        return  # the bug: silently dropped
    if not isinstance(message.get(field), str):
        return self.error("missing field")
    try:
        getattr(self, f"handle_{kind}")(message[field])
    except ValueError as exc:
        self.error(str(exc))


def _error_to_room(self, text):
    self.room.broadcast({"type": "error", "text": text})


def _error_plain_text(self, text):
    self.send(f"error: {text}")


def _error_empty(self, text):
    self.send(json.dumps({"type": "error"}))


def _chat_before_join_broadcast(self, text):
    if text.startswith("/"):
        return self.handle_command(text)
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


def _chat_before_join_both(self, text):
    if self.name is None:
        self.error("join first")
    if text.startswith("/"):
        return self.handle_command(text)
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


def _chat_join_first_inverted(self, text):
    if self.name is not None:  # meant: is None
        return self.error("join first")
    if text.startswith("/"):
        return self.handle_command(text)
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


def _message_type_lower(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        return self.error("not JSON")
    if not isinstance(message, dict):
        return self.error("not an object")
    kind = str(message.get("type", "")).lower()
    if kind not in ("join", "chat"):
        return self.error("unknown type")
    field = "name" if kind == "join" else "text"
    if not isinstance(message.get(field), str):
        return self.error("missing field")
    try:
        getattr(self, f"handle_{kind}")(message[field])
    except ValueError as exc:
        self.error(str(exc))


MissingTypeEscapes = _user("MissingTypeEscapes", "errors", 'bad input: message["type"] -- a frame without "type" raises',
      {"frames"}, handle_message=_message_no_type_check)
FieldTypesUnchecked = _user("FieldTypesUnchecked", "errors", 'bad input: "name": 42 and "text": null reach the handlers',
      {"fields"}, handle_message=_message_no_field_types)
ProtocolErrorEscapes = _user("ProtocolErrorEscapes", "errors", "bad input: a taken or blank name's ProtocolError escapes",
      {"fields"}, handle_message=_message_protocol_error_escapes)
EmptyChatIndexError = _user("EmptyChatIndexError", "errors", "bad input: an empty chat read with text[0]", {"fields"},
      handle_chat=_chat_first_letter)
NotAnObjectUnchecked = _user("NotAnObjectUnchecked", "errors", "bad input: JSON that is not an object reaches .get",
      {"frames"}, handle_message=_message_not_object_unchecked)
UnknownTypeIgnored = _user("UnknownTypeIgnored", "errors", "bad input: an unknown type is silently dropped", {"frames"},
      handle_message=_message_unknown_ignored)
ErrorToTheRoom = _user("ErrorToTheRoom", "errors", "bad input: the error is broadcast to the room",
      {"frames", "fields", "join-first"}, error=_error_to_room)
ErrorAsPlainText = _user("ErrorAsPlainText", "errors", "bad input: the error is plain text, not JSON",
      {"frames", "fields", "join-first"}, error=_error_plain_text)
ErrorWithoutText = _user("ErrorWithoutText", "errors", "bad input: an error with no text",
      {"frames", "fields", "join-first"}, error=_error_empty)
ChatBeforeJoinBroadcast = _user("ChatBeforeJoinBroadcast", "errors", "before join: the chat goes out as null",
      {"join-first"}, handle_chat=_chat_before_join_broadcast)
JoinFirstInverted = _user("JoinFirstInverted", "errors",
                          "before join: the condition inverted (is not None)",
                          {"frames", "fields", "join-first"}, handle_chat=_chat_join_first_inverted)
ChatBeforeJoinErrorAndBroadcast = _user("ChatBeforeJoinErrorAndBroadcast", "errors", "before join: an error, and the chat goes out anyway",
      {"join-first"}, handle_chat=_chat_before_join_both)


# -- commands ---------------------------------------------------------------------


def _priv_by_prefix(self, rest):
    to, _, text = rest.partition(" ")
    found = [m for m in self.room.members if m.name.startswith(to)]
    if not found:
        return self.error(f"no one called {to}")
    message = json.dumps({"type": "chat", "name": self.name, "text": text, "private": True,
                          "to": found[0].name})
    found[0].send(message)
    if found[0] is not self:
        self.send(message)


def _priv_twice_to_self(self, rest):
    to, _, text = rest.partition(" ")
    found = [m for m in self.room.members if m.name == to]
    if not found:
        return self.error(f"no one called {to}")
    message = json.dumps({"type": "chat", "name": self.name, "text": text, "private": True, "to": to})
    found[0].send(message)
    self.send(message)


def _priv_broadcast(self, rest):
    to, _, text = rest.partition(" ")
    self.room.broadcast({"type": "chat", "name": self.name, "text": text, "private": True, "to": to})


def _priv_no_copy(self, rest):
    to, _, text = rest.partition(" ")
    found = [m for m in self.room.members if m.name == to]
    if not found:
        return self.error(f"no one called {to}")
    found[0].send(json.dumps({"type": "chat", "name": self.name, "text": text, "private": True, "to": to}))


def _priv_keeps_name_in_text(self, rest):
    to = rest.split(" ")[0]
    found = [m for m in self.room.members if m.name == to]
    if not found:
        return self.error(f"no one called {to}")
    message = json.dumps({"type": "chat", "name": self.name, "text": rest, "private": True, "to": to})
    found[0].send(message)
    if found[0] is not self:
        self.send(message)


def _priv_not_marked(self, rest):
    to, _, text = rest.partition(" ")
    found = [m for m in self.room.members if m.name == to]
    if not found:
        return self.error(f"no one called {to}")
    message = json.dumps({"type": "chat", "name": self.name, "text": text})
    found[0].send(message)
    if found[0] is not self:
        self.send(message)


def _priv_any_room(self, rest):
    to, _, text = rest.partition(" ")
    found = [m for room in self.Room.rooms.values() for m in room.members if m.name == to]
    if not found:
        return self.error(f"no one called {to}")
    message = json.dumps({"type": "chat", "name": self.name, "text": text, "private": True, "to": to})
    found[0].send(message)
    if found[0] is not self:
        self.send(message)


def _priv_unknown_silent(self, rest):
    to, _, text = rest.partition(" ")
    for m in self.room.members:
        if m.name == to:
            message = json.dumps({"type": "chat", "name": self.name, "text": text, "private": True,
                                  "to": to})
            m.send(message)
            if m is not self:
                self.send(message)


def _members_to_everyone(self):
    names = [member.name for member in self.room.members]
    self.room.broadcast({"type": "note", "text": f"In room: {', '.join(names)}"})


def _members_sorted(self):
    names = sorted(member.name for member in self.room.members)
    self.send(json.dumps({"type": "note", "text": f"In room: {', '.join(names)}"}))


def _rename_quietly(self, new_name):
    self.name = new_name.strip()


def _rename_tells_self(self, new_name):
    old_name, self.name = self.name, new_name.strip()
    self.send(json.dumps({"type": "note", "text": f"{old_name} is now known as {self.name}."}))


def _rename_note_after(self, new_name):
    self.name = new_name.strip()
    self.room.broadcast({"type": "note", "text": f"{self.name} is now known as {self.name}."})


def _chat_command_by_substring(self, text):
    if self.name is None:
        return self.error("join first")
    if "/" in text:
        return self.handle_command(text)
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


def _chat_known_commands_only(self, text):
    if self.name is None:
        return self.error("join first")
    if text.split(" ")[0] in ("/joke", "/members", "/priv", "/name"):
        return self.handle_command(text)
    self.room.broadcast({"type": "chat", "name": self.name, "text": text})


PrivByNamePrefix = _user("PrivByNamePrefix", "commands", "/priv: by name prefix (/priv j goes to juanita: a leak)",
      {"priv"}, handle_priv=_priv_by_prefix)
PrivToSelfTwice = _user("PrivToSelfTwice", "commands", "/priv to yourself: delivered twice", {"priv"},
      handle_priv=_priv_twice_to_self)
PrivToEveryone = _user("PrivToEveryone", "commands", "/priv: broadcast to the room", {"priv"},
      handle_priv=_priv_broadcast)
PrivNoCopyForSender = _user("PrivNoCopyForSender", "commands", "/priv: the sender gets no copy", {"priv"},
      handle_priv=_priv_no_copy)
PrivNameInText = _user("PrivNameInText", "commands", "/priv: the name stays in the text", {"priv"},
      handle_priv=_priv_keeps_name_in_text)
PrivNotMarkedPrivate = _user("PrivNotMarkedPrivate", "commands", '/priv: no "private" and "to"', {"priv"},
      handle_priv=_priv_not_marked)
PrivAnyRoom = _user("PrivAnyRoom", "commands", "/priv: finds people in other rooms too", {"priv"},
      handle_priv=_priv_any_room)
PrivUnknownSilent = _user("PrivUnknownSilent", "commands", "/priv to nobody: silently nothing", {"priv"},
      handle_priv=_priv_unknown_silent)
MembersToEveryone = _user("MembersToEveryone", "commands", "/members: broadcast to the room", {"members"},
      handle_members=_members_to_everyone)
MembersSorted = _user("MembersSorted", "commands", "/members: sorted, not join order", {"members"},
      handle_members=_members_sorted)
RenameQuietly = _user("RenameQuietly", "commands", "/name: renames without telling anyone", {"name"},
      handle_name=_rename_quietly)
RenameTellsOnlySelf = _user("RenameTellsOnlySelf", "commands", "/name: tells only the renamed", {"name"},
      handle_name=_rename_tells_self)
RenameNoteAfterRename = _user("RenameNoteAfterRename", "commands", "/name: the note made after renaming (Jeffrey is now known as Jeffrey)",
      {"name"}, handle_name=_rename_note_after)
CommandBySubstring = _user("CommandBySubstring", "commands", '/command: if "/" in text (and/or is a command)',
      {"commands"}, handle_chat=_chat_command_by_substring)
UnknownCommandBroadcast = _user("UnknownCommandBroadcast", "commands", "/command: an unknown /word is broadcast as chat",
      {"commands"}, handle_chat=_chat_known_commands_only)


# -- render -----------------------------------------------------------------------


def _r(check_kind, groups=()):
    return wrong("render", check_kind, groups)


@_r("render: no escaping", {"escape"})
def render_raw(message):
    return f"<li><b>{message['name']}: </b>{message['text']}</li>"


@_r("render: escapes the text only", {"escape"})
def render_text_only(message):
    return f"<li><b>{message['name']}: </b>{html.escape(message['text'])}</li>"


@_r("render: escapes the name only", {"escape"})
def render_name_only(message):
    return f"<li><b>{html.escape(message['name'])}: </b>{message['text']}</li>"


@_r("render: escapes the whole line, tags too", {"render"})
def render_escapes_everything(message):
    return html.escape(f"<li><b>{message['name']}: </b>{message['text']}</li>")


@_r("render: no tags at all", {"render"})
def render_no_tags(message):
    return f"{html.escape(message['name'])}: {html.escape(message['text'])}"


@_r("render: no <b> around the name", {"render"})
def render_no_bold(message):
    return f"<li>{html.escape(message['name'])}: {html.escape(message['text'])}</li>"


@_r("render: replaces < and > but not &", {"as-typed"})
def render_no_ampersand(message):
    def clean(s):
        return s.replace("<", "&lt;").replace(">", "&gt;")
    return f"<li><b>{clean(message['name'])}: </b>{clean(message['text'])}</li>"


@_r("render: & replaced last (so &lt; becomes &amp;lt;)", {"as-typed"})
def render_ampersand_last(message):
    def clean(s):
        return s.replace("<", "&lt;").replace(">", "&gt;").replace("&", "&amp;")
    return f"<li><b>{clean(message['name'])}: </b>{clean(message['text'])}</li>"


@_r("render: escapes twice", {"as-typed"})
def render_escapes_twice(message):
    def clean(s):
        return html.escape(html.escape(s))
    return f"<li><b>{clean(message['name'])}: </b>{clean(message['text'])}</li>"


@_r("render: the name in title=\"...\" escaped without quotes (onmouseover)", {"escape"})
def render_title_unquoted(message):
    name = html.escape(message["name"], quote=False)
    return f'<li title="{name}"><b>{name}: </b>{html.escape(message["text"])}</li>'


@_r("render: name and text swapped", {"render"})
def render_swapped(message):
    return f"<li><b>{html.escape(message['text'])}: </b>{html.escape(message['name'])}</li>"


@_r("render: the name twice, no text", {"render"})
def render_name_twice(message):
    return f"<li><b>{html.escape(message['name'])}: </b>{html.escape(message['name'])}</li>"
