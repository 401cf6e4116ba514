"""Notebook 3: wrong ``ChatUser`` classes, as students write them (over the reference Room)."""

from __future__ import annotations

import json

from chatkit import Room

from .cases import wrong


class StudentChatUser:
    """The exercise as the instructor solves it; each case replaces a method."""

    Room = Room

    def __init__(self, send, room_name):
        self._send = send
        self.room = self.Room.get(room_name)
        self.name = None

    def send(self, data):
        try:
            self._send(data)
        except Exception:
            pass

    def handle_message(self, raw):
        message = json.loads(raw)
        if message["type"] == "join":
            self.handle_join(message["name"])
        elif message["type"] == "chat":
            self.handle_chat(message["text"])

    def handle_join(self, name):
        self.name = name
        self.room = self.Room.get(self.room.name)  # it may have emptied out since we connected
        self.room.join(self)
        self.room.broadcast({"type": "note", "text": f'{self.name} joined "{self.room.name}".'})

    def handle_chat(self, text):
        self.room.broadcast({"type": "chat", "name": self.name, "text": text})

    def handle_close(self):
        if self.name is None:
            return
        self.room.leave(self)
        self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})


def _user(name, check="chat_user", kind="", groups=(), **methods):
    cls = type(name, (StudentChatUser,), {"Room": Room.new_registry(), **methods})
    return wrong(check, kind, groups)(cls)


# -- join -----------------------------------------------------------------------


def _join_name_after(self, name):
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.room.broadcast({"type": "note", "text": f'{self.name} joined "{self.room.name}".'})
    self.name = name


def _join_without_quotes(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.room.broadcast({"type": "note", "text": f"{self.name} joined {self.room.name}."})


def _join_broadcast_before_join(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.broadcast({"type": "note", "text": f'{self.name} joined "{self.room.name}".'})
    self.room.join(self)


def _join_tells_only_joiner(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.send(json.dumps({"type": "note", "text": f'{self.name} joined "{self.room.name}".'}))


def _join_double_json(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.room.broadcast(json.dumps({"type": "note", "text": f'{self.name} joined "{self.room.name}".'}))


def _join_forgets_to_join(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.broadcast({"type": "note", "text": f'{self.name} joined "{self.room.name}".'})


def _join_wrong_type(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.room.broadcast({"type": "chat", "text": f'{self.name} joined "{self.room.name}".'})


def _join_no_full_stop(self, name):
    self.name = name
    self.room = self.Room.get(self.room.name)
    self.room.join(self)
    self.room.broadcast({"type": "note", "text": f'{self.name} joined "{self.room.name}"'})


JoinBroadcastsBeforeNameIsSet = _user("JoinBroadcastsBeforeNameIsSet", kind="join: broadcast before the name is set (None joined)",
      groups={"join"}, handle_join=_join_name_after)
JoinNoteWithoutQuotes = _user("JoinNoteWithoutQuotes", kind="join: the note without quotes", groups={"join"},
      handle_join=_join_without_quotes)
JoinNoteWithoutFullStop = _user("JoinNoteWithoutFullStop", kind="join: the note without its full stop", groups={"join"},
      handle_join=_join_no_full_stop)
JoinBroadcastsBeforeJoining = _user("JoinBroadcastsBeforeJoining", kind="join: broadcast before joining (the joiner hears nothing)",
      groups={"join"}, handle_join=_join_broadcast_before_join)
JoinTellsOnlyTheJoiner = _user("JoinTellsOnlyTheJoiner", kind="join: self.send instead of a broadcast", groups={"join"},
      handle_join=_join_tells_only_joiner)
JoinDoubleJSON = _user("JoinDoubleJSON", kind="join: broadcast(json.dumps(...)) -- JSON-encoded twice",
      groups={"join"}, handle_join=_join_double_json)
JoinNeverJoins = _user("JoinNeverJoins", kind="join: forgets self.room.join(self)", groups={"join", "chat"},
      handle_join=_join_forgets_to_join)
JoinNoteTypedChat = _user("JoinNoteTypedChat", kind="join: the note sent as type chat", groups={"join"},
      handle_join=_join_wrong_type)


# -- chat -----------------------------------------------------------------------


def _chat_skips_sender(self, text):
    for member in self.room.members:
        if member is not self:
            member.send(json.dumps({"type": "chat", "name": self.name, "text": text}))


def _chat_wrong_key(self, text):
    self.room.broadcast({"type": "chat", "user": self.name, "text": text})


def _chat_double_json(self, text):
    self.room.broadcast(json.dumps({"type": "chat", "name": self.name, "text": text}))


def _chat_to_self(self, text):
    self.send(json.dumps({"type": "chat", "name": self.name, "text": text}))


def _chat_as_note(self, text):
    self.room.broadcast({"type": "note", "text": f"{self.name}: {text}"})


def _message_by_substring(self, raw):
    message = json.loads(raw)
    if "join" in raw:
        self.handle_join(message.get("name"))
    elif "chat" in raw:
        self.handle_chat(message["text"])


def _message_whole_dict(self, raw):
    message = json.loads(raw)
    if message["type"] == "join":
        self.handle_join(message)
    else:
        self.handle_chat(message)


def _chat_every_room(self, text):
    for room in list(self.Room.rooms.values()):
        room.broadcast({"type": "chat", "name": self.name, "text": text})


ChatSkipsSender = _user("ChatSkipsSender", kind="chat: everyone but the sender", groups={"chat"},
      handle_chat=_chat_skips_sender)
ChatWrongKey = _user("ChatWrongKey", kind='chat: "user" instead of "name"', groups={"chat"},
      handle_chat=_chat_wrong_key)
ChatDoubleJSON = _user("ChatDoubleJSON", kind="chat: broadcast(json.dumps(...)) -- JSON-encoded twice",
      groups={"chat"}, handle_chat=_chat_double_json)
ChatToSelfOnly = _user("ChatToSelfOnly", kind="chat: self.send instead of a broadcast", groups={"chat"},
      handle_chat=_chat_to_self)
ChatAsNote = _user("ChatAsNote", kind="chat: sent as a note", groups={"chat"}, handle_chat=_chat_as_note)
DispatchBySubstring = _user("DispatchBySubstring", kind='dispatch: if "join" in raw (a chat about joining is a join)',
      groups={"chat"}, handle_message=_message_by_substring)
DispatchWholeDict = _user("DispatchWholeDict", kind="dispatch: passes the whole message on", groups={"join", "chat"},
      handle_message=_message_whole_dict)
ChatToEveryRoom = _user("ChatToEveryRoom", kind="chat: every room hears it", groups={"chat"},
      handle_chat=_chat_every_room)


# -- close ----------------------------------------------------------------------


def _close_announces_first(self):
    if self.name is None:
        return
    self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})
    self.room.leave(self)


def _close_silently(self):
    if self.name is not None:
        self.room.leave(self)


def _close_announces_strangers(self):
    self.room.leave(self)
    self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})


def _close_without_leaving(self):
    if self.name is not None:
        self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})


def _close_with_quotes(self):
    if self.name is None:
        return
    self.room.leave(self)
    self.room.broadcast({"type": "note", "text": f'{self.name} left "{self.room.name}".'})


def _close_tells_only_self(self):
    if self.name is None:
        return
    self.room.leave(self)
    self.send(json.dumps({"type": "note", "text": f"{self.name} left {self.room.name}."}))


CloseAnnouncesBeforeLeaving = _user("CloseAnnouncesBeforeLeaving", kind="close: announces before leaving (the leaver hears it)",
      groups={"close"}, handle_close=_close_announces_first)
CloseAnnouncesNothing = _user("CloseAnnouncesNothing", kind="close: leaves silently", groups={"close"},
      handle_close=_close_silently)
CloseAnnouncesStrangers = _user("CloseAnnouncesStrangers", kind="close: announces someone who never joined (None left)",
      groups={"close"}, handle_close=_close_announces_strangers)
CloseWithoutLeaving = _user("CloseWithoutLeaving", kind="close: never leaves the room", groups={"close"},
      handle_close=_close_without_leaving)
CloseNoteWithQuotes = _user("CloseNoteWithQuotes", kind="close: the note with quotes", groups={"close"},
      handle_close=_close_with_quotes)
CloseTellsOnlyTheLeaver = _user("CloseTellsOnlyTheLeaver", kind="close: tells the one who left", groups={"close"},
      handle_close=_close_tells_only_self)
