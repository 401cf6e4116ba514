"""Right solutions in other styles than the instructor's: every check must pass them."""

from __future__ import annotations

import html
import json
import random

import chatkit
from chatkit import ChatUser, Room
from chatkit.core.jokes import JOKES

from .cases import right
from .nb3_chat_user import StudentChatUser
from .nb4_room import StudentRoom
from .nb5_further import StudentFurther

# -- notebook 1 ---------------------------------------------------------------------


@right("client", "def functions, %-formatting")
def client_with_defs(url, log):
    ws = chatkit.WebSocket(url)

    def onopen(event):
        log.append("open")

    def onmessage(event):
        log.append("message: %s" % event.data)

    def onerror(event):
        log.append("error")

    def onclose(event):
        log.append("close: " + str(event.code))

    ws.onopen, ws.onmessage, ws.onerror, ws.onclose = onopen, onmessage, onerror, onclose
    return ws


@right("client", "setattr over a table of callbacks")
def client_with_setattr(url, log):
    ws = chatkit.WebSocket(url)
    lines = {"onopen": lambda e: "open", "onmessage": lambda e: f"message: {e.data}",
             "onerror": lambda e: "error", "onclose": lambda e: f"close: {e.code}"}
    for name, line in lines.items():
        setattr(ws, name, lambda event, line=line: log.append(line(event)))
    return ws


# -- notebook 2 ---------------------------------------------------------------------


@right("route", "a recv() loop that ends on ConnectionClosed, match on the message")
async def route_recv_loop(websocket, room):
    from websockets.exceptions import ConnectionClosed

    while True:
        try:
            message = await websocket.recv()
        except ConnectionClosed:
            break
        match message:
            case "bye":
                await websocket.close()
                break
            case _:
                await websocket.send(f"{room}: {message}")


class EchoRoute:
    """A class-based route: an instance whose __call__ is the handler."""

    def __init__(self, greeting=None):
        self.greeting = greeting

    async def __call__(self, websocket, room):
        async for message in websocket:
            if message.strip() == "bye":
                await websocket.close(code=1000, reason="bye")
                return
            await websocket.send("{}: {}".format(room, message))


right("route", "a class-based route (an instance with async __call__)")(EchoRoute())


@right("route", "return on bye (websockets closes with 1000 when the handler returns)")
async def route_returns_on_bye(websocket, room):
    async for message in websocket:
        if message == "bye":
            break
        await websocket.send(f"{room}: {message}")


# -- notebook 3 ---------------------------------------------------------------------


class ChatUserMatchDispatch(StudentChatUser):
    """match/case dispatch, compact JSON through its own broadcast helper."""

    Room = Room.new_registry()

    def handle_message(self, raw):
        match json.loads(raw):
            case {"type": "join", "name": name}:
                self.handle_join(name)
            case {"type": "chat", "text": text}:
                self.handle_chat(text)

    def handle_join(self, name):
        self.name = name
        self.room = type(self).Room.get(self.room.name)
        self.room.join(self)
        self.room.broadcast(dict(type="note", text=f"{name} joined \"{self.room.name}\"."))

    def handle_close(self):
        if self.name:
            self.room.leave(self)
            self.room.broadcast({"text": f"{self.name} left {self.room.name}.", "type": "note"})


class ChatUserDictDispatch(StudentChatUser):
    """A dict of handlers."""

    Room = Room.new_registry()

    def handle_message(self, raw):
        message = json.loads(raw)
        handlers = {"join": (self.handle_join, "name"), "chat": (self.handle_chat, "text")}
        if message["type"] in handlers:
            handler, field = handlers[message["type"]]
            handler(message[field])


right("chat_user", "match/case dispatch, dict() messages")(ChatUserMatchDispatch)
right("chat_user", "a dict of handlers")(ChatUserDictDispatch)

# -- notebook 4 ---------------------------------------------------------------------


@right("room", "a list of members, checked before adding; setdefault in get; compact JSON")
class ListRoom(StudentRoom):
    rooms = {}

    @classmethod
    def get(cls, name):
        return cls.rooms.setdefault(name, cls(name))

    def __init__(self, name):
        self.name = name
        self.members = []

    def join(self, member):
        if member not in self.members:
            self.members.append(member)

    def leave(self, member):
        if member in self.members:
            self.members.remove(member)
        if not self.members and self.rooms.get(self.name) is self:
            self.rooms.pop(self.name)

    def broadcast(self, data):
        text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        for member in self.members[:]:
            try:
                member.send(text)
            except Exception:
                continue


@right("room", "a set plus a list for the order; try/except KeyError; a text made once by hand")
class SetAndOrderRoom(StudentRoom):
    rooms = {}

    def __init__(self, name):
        self.name = name
        self.members = []
        self._seen = set()

    def join(self, member):
        if member not in self._seen:
            self._seen.add(member)
            self.members.append(member)

    def leave(self, member):
        try:
            self._seen.remove(member)
        except KeyError:
            pass
        else:
            self.members.remove(member)
        if len(self.members) == 0 and type(self).rooms.get(self.name) is self:
            del type(self).rooms[self.name]

    def broadcast(self, data):
        text = "{" + ", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in data.items()) + "}"
        for member in tuple(self.members):
            try:
                member.send(text)
            except ConnectionError:
                pass
            except Exception:
                pass


@right("room", "the registry guard written with 'is not self: return'")
class GuardFirstRoom(StudentRoom):
    rooms = {}

    def leave(self, member):
        if member in self.members:
            del self.members[member]
        if self.members or self.rooms.get(self.name) is not self:
            return
        del self.rooms[self.name]


# -- notebook 5 ---------------------------------------------------------------------


class FurtherCatchAll(StudentFurther):
    """One try around it all: any exception is an error to the sender."""

    Room = Room.new_registry()

    def handle_message(self, raw):
        try:
            message = json.loads(raw)
            kind = message["type"]
            if kind == "join":
                self.handle_join(message["name"])
            elif kind == "chat":
                self.handle_chat(message["text"])
            else:
                self.error(f"unknown type {kind!r}")
        except Exception as exc:
            self.error(f"bad message: {type(exc).__name__}: {exc}")

    def handle_chat(self, text):
        if not self.name:
            self.error("join first")
        elif text.startswith("/"):
            self.handle_command(text)
        else:
            self.room.broadcast({"type": "chat", "name": self.name, "text": text})


class FurtherMatch(StudentFurther):
    """match/case on the message's shape; the reference's parse for the details."""

    Room = Room.new_registry()

    def handle_message(self, raw):
        from chatkit.core.messages import ProtocolError, parse

        try:
            match parse(raw):
                case {"type": "join", "name": name}:
                    self.handle_join(name)
                case {"type": "chat", "text": text}:
                    self.handle_chat(text)
        except ProtocolError as exc:
            self.error(str(exc))

    def handle_priv(self, rest):
        to, _, text = rest.strip().partition(" ")
        for member in self.room.members:
            if member.name == to:
                message = json.dumps({"type": "chat", "name": self.name, "text": text,
                                      "private": True, "to": member.name},
                                     separators=(",", ":"))
                for who in {id(member): member, id(self): self}.values():
                    who.send(message)
                return
        self.error(f"no {to} here")

    def handle_members(self):
        self.send(json.dumps({"type": "note",
                              "text": "In room: " + ", ".join(m.name for m in self.room.members)}))


right("errors", "one try/except Exception around it all")(FurtherCatchAll)
right("commands", "one try/except Exception around it all")(FurtherCatchAll)
right("errors", "match/case over chatkit.core.messages.parse")(FurtherMatch)
right("commands", "match/case; a dict to send a /priv to each once")(FurtherMatch)
right("errors", "the reference ChatUser")(ChatUser)
right("commands", "the reference ChatUser")(ChatUser)


@right("render", "markupsafe.escape")
def render_markupsafe(message):
    from markupsafe import escape

    return f"<li><b>{escape(message['name'])}: </b>{escape(message['text'])}</li>"


@right("render", "html.escape(quote=False) in text content")
def render_no_quote(message):
    name, text = (html.escape(message[k], quote=False) for k in ("name", "text"))
    return "<li><b>" + name + ": </b>" + text + "</li>"


@right("render", "replace by hand, & first; a title attribute escaped with quotes")
def render_by_hand(message):
    def clean(s):
        for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#x27;")):
            s = s.replace(a, b)
        return s
    return f'<li class="chat" title="{clean(message["name"])}"><b>{clean(message["name"])}: </b>{clean(message["text"])}</li>'


@right("render", "markupsafe.Markup.format")
def render_markup_format(message):
    from markupsafe import Markup

    return str(Markup("<li><b>{}: </b>{}</li>").format(message["name"], message["text"]))
