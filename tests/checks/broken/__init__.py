"""Deliberately broken versions of the course's code, one bug each (tests/checks/test_checks.py).

Each is the reference with one method changed. The checks must fail on every one
of them -- on the behaviour the bug breaks, with a message that names it -- except
those marked "fine", which differ from the reference without breaking anything.
"""

from __future__ import annotations

import asyncio
import html
import json

from chatkit import ChatUser, Room
from chatkit.core.messages import chat, note

# -- ChatUser ---------------------------------------------------------------------


def _user(name: str, **methods) -> type[ChatUser]:
    """The reference ChatUser with ``methods`` replaced, over a registry of its own."""
    return type(name, (ChatUser,), {"Room": Room.new_registry(), **methods})


def _skip_sender(self, text):
    for member in self.room.members:
        if member is not self:
            member.send(json.dumps(chat(self.name, text)))


def _close_silently(self):
    if self.name is not None:
        self.room.leave(self)


def _join_without_quotes(self, name, want=None):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.room.broadcast(note(f"{self.name} joined {self.room.name}."))


def _ignore_unknown_types(self, raw):
    try:
        message = json.loads(raw)
    except ValueError:
        message = None
    if isinstance(message, dict) and message.get("type") not in ("join", "chat"):
        return  # the bug: an unknown type is silently dropped
    ChatUser.handle_message(self, raw)


def _chat_before_join(self, text):
    self.room.broadcast(chat(self.name, text))


def _close_announces_strangers(self):
    self.room.leave(self)
    self.room.broadcast(note(f"{self.name} left {self.room.name}."))


def _close_without_leaving(self):
    if self.name is not None:
        self.room.broadcast(note(f"{self.name} left {self.room.name}."))


def _members_to_everyone(self):
    self.room.broadcast(note(f"In room: {', '.join(self.member_names())}"))


def _priv_to_everyone(self, rest):
    recipient = self._find_recipient(rest)
    text = rest[len(recipient.name):].strip()
    self.room.broadcast({**chat(self.name, text), "private": True, "to": recipient.name})


def _rename_quietly(self, new_name):
    self.name = new_name.strip()


SkipsSender = _user("SkipsSender", handle_chat=_skip_sender)
LeaveAnnouncesNothing = _user("LeaveAnnouncesNothing", handle_close=_close_silently)
JoinNoteWithoutQuotes = _user("JoinNoteWithoutQuotes", handle_join=_join_without_quotes)
IgnoresUnknownTypes = _user("IgnoresUnknownTypes", handle_message=_ignore_unknown_types)
ChatBeforeJoin = _user("ChatBeforeJoin", handle_chat=_chat_before_join)
CloseAnnouncesStrangers = _user("CloseAnnouncesStrangers", handle_close=_close_announces_strangers)
CloseWithoutLeaving = _user("CloseWithoutLeaving", handle_close=_close_without_leaving)
MembersToEveryone = _user("MembersToEveryone", handle_members=_members_to_everyone)
PrivToEveryone = _user("PrivToEveryone", handle_priv=_priv_to_everyone)
RenameQuietly = _user("RenameQuietly", handle_name=_rename_quietly)


class NotDoneYet(ChatUser):
    """A student's exercise before it is written: the stubs raise NotImplementedError."""

    def handle_join(self, name, want=None):
        raise NotImplementedError()


class RaisesKeyError(ChatUser):
    """A student's bug that raises: reported as what and where, not as a traceback."""

    def handle_join(self, name, want=None):
        return {}["nmae"]


class NoRoomAttribute:
    """A ChatUser that keeps its rooms somewhere the checks cannot find."""

    def __init__(self, send, room_name):
        self.room = Room.get(room_name)
        self.name = None

    def handle_message(self, raw):
        pass

    def handle_close(self):
        pass


# -- Room -------------------------------------------------------------------------


def _room(name: str, **methods) -> type[Room]:
    return type(name, (Room,), {"rooms": {}, **methods})


def _leave_but_remember(self, member):
    self.members.pop(member, None)


def _broadcast_stops_at_failure(self, data):
    text = json.dumps(data)
    for member in self.members:
        member.send(text)


def _broadcast_per_member(self, data):
    for member in tuple(self.members):
        try:
            member.send(json.dumps(data))
        except Exception:
            pass


def _broadcast_python_text(self, data):
    for member in self.members:
        member.send(str(data))


class SetMembers(Room):
    """Members in a set: the order of /members is lost."""

    rooms = {}
    members_type = set

    def __init__(self, name):
        self.name = name
        self.members = self.members_type()

    def join(self, member):
        self.members.add(member)

    def leave(self, member):
        if member in self.members:
            self.members.remove(member)
        if not self.members:
            del type(self).rooms[self.name]


class ListMembersTwice(SetMembers):
    """Members in a list, appended without a look: a double join sends twice."""

    rooms = {}
    members_type = list

    def join(self, member):
        self.members.append(member)


class GetMakesANewRoomEachTime(Room):
    rooms = {}

    @classmethod
    def get(cls, name):
        cls.rooms[name] = cls(name)
        return cls.rooms[name]


NeverForgets = _room("NeverForgets", leave=_leave_but_remember)
StopsAtFirstFailure = _room("StopsAtFirstFailure", broadcast=_broadcast_stops_at_failure)
EncodesPerMember = _room("EncodesPerMember", broadcast=_broadcast_per_member)  # once per member
PythonTextNotJSON = _room("PythonTextNotJSON", broadcast=_broadcast_python_text)


# -- step 2: route handlers -------------------------------------------------------


def _route(name: str, *, room_in_answer=True, closes_on_bye=True, delay=0.0):
    """The step 2 handler (echo with the room's name, close on "bye"), with one thing changed."""

    async def handler(websocket, room):
        async for message in websocket:
            if message == "bye" and closes_on_bye:
                await websocket.close()
                return
            if message != "bye":
                await asyncio.sleep(delay)
                await websocket.send(f"{room if room_in_answer else 'people'}: {message}")

    handler.__name__ = handler.__qualname__ = name
    return handler


route_reference = _route("route_reference")
route_ignores_room = _route("route_ignores_room", room_in_answer=False)
route_never_closes = _route("route_never_closes", closes_on_bye=False)
route_answers_late = _route("route_answers_late", delay=3)  # longer than the check waits


def route_not_async(websocket, room):
    pass


# -- step 1: clients --------------------------------------------------------------


def client_reference(url, log):
    from chatkit import WebSocket

    ws = WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws


def client_without_onerror(url, log):
    ws = client_reference(url, log)
    ws.onerror = None
    return ws


def client_logs_reason_not_code(url, log):
    ws = client_reference(url, log)
    ws.onclose = lambda event: log.append(f"close: {event.reason}")
    return ws


def client_logs_the_event(url, log):
    ws = client_reference(url, log)
    ws.onmessage = lambda event: log.append(f"message: {event}")
    return ws


# -- step 5: rendering ------------------------------------------------------------


def render_reference(message):
    return f"<li><b>{html.escape(message['name'])}</b>: {html.escape(message['text'])}</li>"


def render_raw(message):
    return f"<li><b>{message['name']}</b>: {message['text']}</li>"


def render_escapes_only_text(message):
    return f"<li><b>{message['name']}</b>: {html.escape(message['text'])}</li>"


def render_escapes_twice(message):
    return render_reference({k: html.escape(v) for k, v in message.items()})


async def route_not_done(websocket, room):
    raise NotImplementedError()


async def route_raises(websocket, room):
    async for message in websocket:
        await websocket.send(f"{room}: {message.uper()}")
