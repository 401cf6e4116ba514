"""Wrong solutions written after the engine, in styles tests/checks/broken does not use -- and right ones.

Each is a whole exercise cell, as a student would paste it (``SOURCES``); none was
used to tune the generators. ``tests/checks/test_unseen_mistakes.py`` runs the
course's check over each: every wrong one must fail, every right one pass.
"""

from __future__ import annotations

PRELUDE = """
import asyncio, html, json, random, re
import chatkit
from chatkit import ChatUser, Room
from chatkit.core.jokes import JOKES
"""

_ROOM = '''
class Room:
    rooms = {}

    @classmethod
    def get(cls, name):
        KEY
        if key not in cls.rooms:
            cls.rooms[key] = cls(name)
        return cls.rooms[key]

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
'''

_USER = '''
class ChatUser:
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
        msg = json.loads(raw)
        if msg["type"] == "join":
            self.handle_join(msg["name"])
        elif msg["type"] == "chat":
            self.handle_chat(msg["text"])

    def handle_join(self, name):
        self.name = name
        self.room = self.Room.get(self.room.name)
        self.room.join(self)
        self.room.broadcast({"type": "note", "text": f'{name} joined "{self.room.name}".'})

    def handle_chat(self, text):
        self.room.broadcast({"type": "chat", "name": self.name, "text": text})

    def handle_close(self):
        if self.name is None:
            return
        self.room.leave(self)
        self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})
'''

_FURTHER = '''
class MyChatUser(ChatUser):
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
            self.error(f"unknown command {command}")

    def handle_message(self, raw):
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
            return self.error("bad field")
        try:
            getattr(self, "handle_" + kind)(message[field])
        except ValueError as exc:
            self.error(str(exc))

    def handle_chat(self, text):
        if self.name is None:
            return self.error("join first")
        if text.startswith("/"):
            return self.handle_command(text)
        self.room.broadcast({"type": "chat", "name": self.name, "text": text})

    MEMBERS
    PRIV
    def handle_name(self, new_name):
        old, self.name = self.name, new_name.strip()
        self.room.broadcast({"type": "note", "text": f"{old} is now known as {self.name}."})
'''
_MEMBERS = '''def handle_members(self):
        names = [m.name for m in self.room.members]
        self.send(json.dumps({"type": "note", "text": "In room: " + ", ".join(names)}))
'''
_PRIV = '''def handle_priv(self, rest):
        to, _, text = rest.partition(" ")
        for member in self.room.members:
            if member.name == to:
                message = json.dumps({"type": "chat", "name": self.name, "text": text,
                                      "private": True, "to": to})
                member.send(message)
                if member is not self:
                    self.send(message)
                return
        self.error(f"no {to} here")
'''


def further(members: str = _MEMBERS, priv: str = _PRIV) -> str:
    return _FURTHER.replace("MEMBERS\n", members).replace("    PRIV\n", "    " + priv)


#: check -> [(what, source, right?)]
SOURCES: dict[str, list[tuple[str, str, bool]]] = {
    "room": [
        ("Room.get lowercases names: /chat/People and /chat/people are one room",
         _ROOM.replace("KEY", "key = name.lower()"), False),
        ("Room.get strips names: ' people' is 'people'",
         _ROOM.replace("KEY", "key = name.strip()"), False),
        ("Room.get normalises accents away (café is cafe)",
         _ROOM.replace("KEY", "import unicodedata\n        key = unicodedata.normalize('NFKD', name)"
                       ".encode('ascii', 'ignore').decode()"), False),
        ("leave forgets the room when one member is left (len(...) == 1 test before pop)",
         _ROOM.replace("KEY", "key = name").replace(
             "        self.members.pop(member, None)\n        if not self.members",
             "        last = len(self.members) == 1\n        self.members.pop(member, None)\n        if last"),
         False),
        ("broadcast sends to members in reverse order, and skips the newest",
         _ROOM.replace("KEY", "key = name").replace("for member in list(self.members):",
                                                    "for member in list(self.members)[-2::-1]:"),
         False),
        ("broadcast catches only ConnectionError -- but with a return inside the loop",
         _ROOM.replace("KEY", "key = name").replace("            except Exception:\n                pass",
                                                    "            except Exception:\n                return"),
         False),
        ("members in a list, join checks by name (two members named alike collapse)",
         _ROOM.replace("KEY", "key = name").replace("self.members = {}", "self.members = []").replace(
             "        self.members[member] = None",
             "        if all(m.name != member.name for m in self.members):\n"
             "            self.members.append(member)").replace(
             "self.members.pop(member, None)",
             "self.members = [m for m in self.members if m is not member]"), False),
        ("broadcast with ensure_ascii and sort_keys (a right style)",
         _ROOM.replace("KEY", "key = name").replace("json.dumps(data)",
                                                    "json.dumps(data, sort_keys=True, indent=1)"), True),
        ("rooms kept with setdefault and members in an OrderedDict (a right style)",
         _ROOM.replace("KEY", "key = name").replace("self.members = {}",
                                                    "import collections\n        self.members = collections.OrderedDict()"),
         True),
    ],
    "chat_user": [
        ("the join note with the room name lowercased",
         _USER.replace("joined \"{self.room.name}\"", "joined \"{self.room.name.lower()}\""), False),
        ("handle_join broadcasts the note before looking the room up again",
         _USER.replace('''        self.room = self.Room.get(self.room.name)
        self.room.join(self)
        self.room.broadcast({"type": "note", "text": f'{name} joined "{self.room.name}".'})''',
                       '''        old = self.room
        self.room = self.Room.get(self.room.name)
        self.room.join(self)
        old.broadcast({"type": "note", "text": f'{name} joined "{self.room.name}".'})'''), False),
        ("handle_chat strips the text before broadcasting",
         _USER.replace('"text": text}', '"text": text.strip()}'), False),
        ("handle_close leaves but announces with the name upper-cased",
         _USER.replace("f\"{self.name} left", "f\"{self.name.upper()} left"), False),
        ("a user remembers its room by name and asks Room.get at every step (a right style)",
         _USER.replace("self.room = self.Room.get(room_name)",
                       "self.room_name = room_name\n        self.room = self.Room.get(room_name)"),
         True),
        ("handle_close forgets the name before the leave note (None left people.)",
         _USER.replace('''        self.room.leave(self)
        self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})''',
                       '''        name, self.name = self.name, None
        self.room.leave(self)
        self.room.broadcast({"type": "note", "text": f"{self.name} left {self.room.name}."})'''),
         False),
    ],
    "commands": [
        ("/members lists the people of every room",
         further(members='''def handle_members(self):
        names = [m.name for room in self.Room.rooms.values() for m in room.members]
        self.send(json.dumps({"type": "note", "text": "In room: " + ", ".join(names)}))
'''), False),
        ("/priv finds the name with a regex of word characters (cannot reach jean-luc)",
         further(priv='''def handle_priv(self, rest):
        found = re.match(r"(\\w+) (.*)", rest)
        if not found:
            return self.error("usage: /priv name text")
        to, text = found.groups()
        for member in self.room.members:
            if member.name == to:
                message = json.dumps({"type": "chat", "name": self.name, "text": text,
                                      "private": True, "to": to})
                member.send(message)
                if member is not self:
                    self.send(message)
                return
        self.error(f"no {to} here")
'''), False),
        ("/priv ASCII-only names: José is not found",
         further(priv=_PRIV.replace("if member.name == to:", "if member.name.isascii() and member.name == to:")), False),
        ("/priv compares names case-insensitively (Jenny reaches jenny)",
         further(priv=_PRIV.replace("if member.name == to:", "if member.name.lower() == to.lower():")), False),
        ("/members sorted by name length",
         further(members=_MEMBERS.replace("names = [m.name for m in self.room.members]",
                                          "names = sorted((m.name for m in self.room.members), key=len)")),
         False),
        ("/priv with the split of str.split() (the text loses its inner spaces)",
         further(priv=_PRIV.replace("to, _, text = rest.partition(\" \")",
                                    "to, *words = rest.split()\n        text = ' '.join(words)")), False),
        ("/members with a trailing comma-space style join done by hand (a right style)",
         further(members='''def handle_members(self):
        text = "In room: "
        for i, member in enumerate(self.room.members):
            text += ("" if i == 0 else ", ") + member.name
        self.send(json.dumps({"type": "note", "text": text}))
'''), True),
    ],
    "errors": [
        ("a join whose name is an empty list slips through (if not message.get(field))",
         further().replace("if not isinstance(message.get(field), str):",
                           "if message.get(field) is None:"), False),
        ("the type check accepts any case (.lower())",
         further().replace('kind = message.get("type")',
                           'kind = message.get("type")\n        kind = kind.lower() if isinstance(kind, str) else kind'),
         False),
        ("errors go to the room's first member instead of the sender",
         further().replace('''    def error(self, text):
        self.send(json.dumps({"type": "error", "text": text}))''',
                           '''    def error(self, text):
        for member in self.room.members:
            return member.send(json.dumps({"type": "error", "text": text}))
        self.send(json.dumps({"type": "error", "text": text}))'''), False),
    ],
    "render": [
        ("user text into a format string: the name can hold {}",
         '''def render(message):
    line = "<li><b>" + html.escape(message["name"]) + ": </b>{}</li>"
    return line.format(html.escape(message["text"]))
''', False),
        ("escapes with a table that forgets the single quote inside a title attribute",
         '''def render(message):
    def e(s):
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    return f"<li title='{e(message['name'])}'><b>{e(message['name'])}: </b>{e(message['text'])}</li>"
''', False),
        ("%-formatting of the whole line (a % in the name breaks it)",
         '''def render(message):
    return ("<li><b>" + html.escape(message["name"]) + ": </b>%s</li>") % html.escape(message["text"])
''', False),
        ("string.Template with $-placeholders, escaped (a right style)",
         '''def render(message):
    import string
    return string.Template("<li><b>$name: </b>$text</li>").substitute(
        name=html.escape(message["name"]), text=html.escape(message["text"]))
''', True),
    ],
    "client": [
        ("a client that parses every message as a number",
         '''def connect(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {int(event.data)}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws
''', False),
        ("onclose writes the close code only for a normal close (1000)",
         '''def connect(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append("close: 1000" if event.was_clean else "close: 1006")
    return ws
''', False),
        ("onmessage strips the text",
         '''def connect(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append("message: " + event.data.strip())
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws
''', False),
        ("async def connect", '''async def connect(url, log):
    ws = chatkit.WebSocket(url)
    ws.onopen = lambda event: log.append("open")
    ws.onmessage = lambda event: log.append(f"message: {event.data}")
    ws.onerror = lambda event: log.append("error")
    ws.onclose = lambda event: log.append(f"close: {event.code}")
    return ws
''', False),
        ("ws.on_open and friends: names no browser calls", '''def connect(url, log):
    ws = chatkit.WebSocket(url)
    ws.on_open = lambda event: log.append("open")
    ws.on_message = lambda event: log.append(f"message: {event.data}")
    ws.on_error = lambda event: log.append("error")
    ws.on_close = lambda event: log.append(f"close: {event.code}")
    return ws
''', False),
        ("callbacks passed to the constructor (a right style)", '''def connect(url, log):
    return chatkit.WebSocket(url, onopen=lambda e: log.append("open"),
                             onmessage=lambda e: log.append("message: %s" % (e.data,)),
                             onerror=lambda e: log.append("error"),
                             onclose=lambda e: log.append("close: %d" % e.code))
''', True),
    ],
    "route": [
        ("closes on any message that lowercases to bye", '''async def chat(websocket, room):
    async for message in websocket:
        if message.lower() == "bye":
            await websocket.close()
            return
        await websocket.send(f"{room}: {message}")
''', False),
        ("answers with the room title-cased", '''async def chat(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        await websocket.send(f"{room.title()}: {message}")
''', False),
        ("skips empty messages", '''async def chat(websocket, room):
    async for message in websocket:
        if message == "bye":
            await websocket.close()
            return
        if message:
            await websocket.send(f"{room}: {message}")
''', False),
        ("a while loop over recv() with a try around it all (a right style)", '''async def chat(websocket, room):
    from websockets.exceptions import ConnectionClosedOK, ConnectionClosed
    try:
        while (message := await websocket.recv()) != "bye":
            await websocket.send("%s: %s" % (room, message))
        await websocket.close(code=1000)
    except ConnectionClosed:
        pass
''', True),
    ],
}
