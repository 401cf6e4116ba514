"""The instructor's desk: the class roster under a thin shell, and the instructor's page.

Every :class:`~chatkit.server.ChatServer` keeps one :class:`InstructorDesk`. The
server tells it what each chat connection does; the desk keeps a
:class:`~chatkit.core.classroom.ClassRoster` (who is in which room, muted, removed,
each room's recent messages) and acts on it: refuses a muted member's chats and a
removed name's join, closes a removed member's connections, sends an announcement
to every room and a late joiner the history it asked for::

    desk = server.desk
    desk.roster.rooms()          # {"people": [{"name": "ann", "since": ..., "messages": 3, ...}]}
    await desk.mute("bob"); await desk.remove("eve"); await desk.announce("5 minutes left")
    desk.roster.transcript("people")   # JSON lines

Instructors reach it at ``<prefix>/_instructor/`` (a page; its WebSocket beside it at
``_instructor/ws`` pushes the roster live and takes actions). Who may:

- behind a hub (:mod:`chatkit.server.jupyterhub`): hub admins, or members of the
  instructors' group -- the gate marks them ``connection.instructor``; anyone
  else gets 403, for the page and the WebSocket alike;
- elsewhere: whoever knows the **instructor code**, a secret apart from the class
  code, read from ``$CHATKIT_INSTRUCTOR_CODE`` or the file named by
  ``$CHATKIT_INSTRUCTOR_CODE_FILE`` (never the command line: ``/proc/<pid>/cmdline``
  is world-readable). The page asks for it; the WebSocket's first message carries it,
  compared with :func:`hmac.compare_digest`; a wrong code waits a second, is logged
  with the address and closes the connection. With no code and no hub, there is no
  page (404).
"""

from __future__ import annotations

import asyncio
import hmac
import http
import json
import os
import urllib.parse
from typing import Any, Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from ..core.classroom import ClassRoster
from ..core.grammar import WANT_IDS, Chat, Command, read
from ..core.history import HISTORY, HISTORY_SECONDS
from ..core.messages import ProtocolError, encode, error, note
from .pages import HTML, respond, static_file

__all__ = ["InstructorDesk", "instructor_code_from", "MIN_CODE_LENGTH", "PATH"]

#: Where the instructor's page lives, under the server's prefix.
PATH = "/_instructor/"
#: An instructor code shorter than this is refused (it guards the whole class).
MIN_CODE_LENGTH = 12
#: Seconds a wrong instructor code waits before its connection is closed.
WRONG_CODE_PAUSE = 1.0
#: Seconds the page may take to send the instructor code.
CODE_WAIT = 300.0
#: Seconds between two looks at the roster for an instructor's live view.
PUSH_EVERY = 0.3


def instructor_code_from(environ: Any = os.environ) -> str | None:
    """The instructor code from ``$CHATKIT_INSTRUCTOR_CODE`` or ``$CHATKIT_INSTRUCTOR_CODE_FILE``.

    >>> instructor_code_from({"CHATKIT_INSTRUCTOR_CODE": "tea-and-biscuits-42"})
    'tea-and-biscuits-42'
    >>> instructor_code_from({}) is None
    True
    """
    code = environ.get("CHATKIT_INSTRUCTOR_CODE")
    path = environ.get("CHATKIT_INSTRUCTOR_CODE_FILE")
    if not code and path:
        with open(path, encoding="utf-8") as file:
            code = file.read().strip()
    return code or None


def check_code(code: str | None) -> str | None:
    """``code`` if it is long enough to guard a class, else a ValueError with advice."""
    if code is not None and len(code) < MIN_CODE_LENGTH:
        raise ValueError(
            f"an instructor code needs at least {MIN_CODE_LENGTH} characters, got {len(code)};"
            ' make one with: python -c "import secrets; print(secrets.token_urlsafe(12))"')
    return code


class InstructorDesk:
    """The roster of a server's class and the instructor's actions on it.

    Args:
        report: the server's activity log, ``report(kind, text)``.
        history: messages each room keeps for late joiners and transcripts.
        code: the instructor code (see the module's doc), or None.
        prefix: the server's path prefix.
        history_seconds: seconds a room keeps a message at most (None: however old).
    """

    def __init__(self, report: Callable[..., Any], history: int = HISTORY,
                 code: str | None = None, prefix: str = "",
                 history_seconds: float | None = HISTORY_SECONDS) -> None:
        self.report = report
        self.roster = ClassRoster(history, seconds=history_seconds)
        self.code = check_code(code)
        self.prefix = prefix
        self._live: dict[Any, tuple[Any, Callable[[str], None]]] = {}  # user -> (ws, send)

    # -- what the server tells the desk (ChatServer.chat) --------------------------

    def connected(self, user: Any, websocket: Any, send: Callable[[str], None]) -> None:
        self._live[user] = (websocket, send)

    def screen(self, user: Any, message: str | bytes) -> str | None:
        """Why ``message`` may not go on (muted, removed), or None."""
        return self.roster.refusal(user, message)

    def handled(self, user: Any, room: str, message: str | bytes, name_before: str | None) -> None:
        """After ``user.handle_message(message)``: note a join, a rename, a chat."""
        name = getattr(user, "name", None)
        if name is None:
            return
        if name_before is None:  # (the history it may have asked for: ChatServer._handle)
            self.roster.joined(user, room, name)
        elif name != name_before:
            self.roster.renamed(user, name)
        elif user in self.roster.seats:
            try:
                said = read(message)
            except ProtocolError:
                return
            if isinstance(said, Chat) and not isinstance(said, Command) and said.text.strip():
                self.roster.said(user, said.text)

    def closed(self, user: Any) -> None:
        self._live.pop(user, None)
        self.roster.left(user)

    # -- the instructor's actions --------------------------------------------------

    async def mute(self, name: str) -> None:
        """What ``name`` says is not sent (it is told so) until :meth:`unmute`."""
        self.roster.mute(name)
        self.report("moderate", f"the instructor muted {name!r}")

    async def unmute(self, name: str) -> None:
        self.roster.unmute(name)
        self.report("moderate", f"the instructor unmuted {name!r}")

    async def remove(self, name: str) -> int:
        """Close ``name``'s connections and keep the name out; returns how many closed."""
        keys = self.roster.remove(name)
        self.report("moderate", f"the instructor removed {name!r} ({len(keys)} connections)")
        for user in keys:
            websocket, send = self._live.get(user, (None, None))
            if websocket is None:
                continue
            try:
                send(encode(error("the instructor removed you from this class")))
            except Exception:
                pass
            await websocket.close(CloseCode.POLICY_VIOLATION, "removed by the instructor")
        return len(keys)

    async def announce(self, text: str) -> list[str]:
        """Say ``text`` to every room, as a note from the instructor; returns the rooms."""
        text = text.strip()
        if not text:
            raise ValueError("an announcement needs some text")
        line = f"Announcement from the instructor: {text}"
        rooms = self.roster.announced(line)
        frame = encode(note(line))
        for user in list(self.roster.seats):
            _, send = self._live.get(user, (None, None))
            if send is not None:
                try:
                    if WANT_IDS in getattr(user, "wants", ()):  # its id in the room's history
                        history = self.roster.histories.find(self.roster.seats[user].room)
                        send(encode({**note(line), "id": history.last_id}))
                    else:
                        send(frame)
                except Exception:
                    pass
        self.report("moderate", f"the instructor announced to {len(rooms)} rooms")
        return rooms

    def state(self) -> dict[str, Any]:
        """What the instructor's page shows: rooms and their members, who is removed."""
        return {"type": "class", "rooms": self.roster.rooms(),
                "removed": sorted(self.roster.removed)}

    # -- the page and its WebSocket --------------------------------------------------

    def answer(self, connection: ServerConnection, request: Request) -> Response | None:
        """The instructor's page and script; 403 for a hub user who is no instructor;
        None for anything else (and for the WebSocket, which :meth:`serve` takes)."""
        path = urllib.parse.urlsplit(request.path).path
        base = f"{self.prefix}{PATH}"
        if not path.startswith(base):
            return None
        instructor = getattr(connection, "instructor", None)
        if instructor is False:  # a hub said: a student
            return connection.respond(http.HTTPStatus.FORBIDDEN,
                                      "only the class's instructors may open this page\n")
        if instructor is None and self.code is None:
            return connection.respond(http.HTTPStatus.NOT_FOUND,
                                      "no instructor code is set on this server\n")
        if "websocket" in request.headers.get("Upgrade", "").lower():
            return None
        rest = path[len(base):]
        if rest == "":
            return respond(connection, static_file("instructor.html"), HTML)
        if rest == "instructor.js":
            return respond(connection, static_file("instructor.js"),
                           "text/javascript; charset=utf-8")
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")

    async def serve(self, websocket: ServerConnection) -> None:
        """``_instructor/ws``: log in (hub: already; else the code), then live roster + actions."""
        if getattr(websocket, "instructor", None) is not True:
            if not await self._code_login(websocket):
                return
        await websocket.send(json.dumps({"type": "welcome"}))
        pusher = asyncio.create_task(self._push(websocket))
        try:
            async for raw in websocket:
                await self._act(websocket, raw)
        except ConnectionClosed:
            pass
        finally:
            pusher.cancel()

    async def _code_login(self, websocket: ServerConnection) -> bool:
        address = websocket.remote_address[0] if websocket.remote_address else "?"
        try:
            await websocket.send(json.dumps({"type": "code"}))  # "what is the code?"
            first = json.loads(await asyncio.wait_for(websocket.recv(), CODE_WAIT))
            given = first.get("code", "") if isinstance(first, dict) else ""
        except ConnectionClosed:
            return False
        except asyncio.TimeoutError:
            await websocket.close(CloseCode.POLICY_VIOLATION, "no instructor code given")
            return False
        except ValueError:
            given = ""
        if (self.code is not None and isinstance(given, str)
                and hmac.compare_digest(given.encode(), self.code.encode())):
            self.report("moderate", f"an instructor logged in from {address}")
            return True
        self.report("refuse", f"wrong instructor code from {address}")
        await asyncio.sleep(WRONG_CODE_PAUSE)  # guessing is slow
        try:
            await websocket.send(json.dumps(error("wrong instructor code")))
        except ConnectionClosed:
            pass
        await websocket.close(CloseCode.POLICY_VIOLATION, "wrong instructor code")
        return False

    async def _push(self, websocket: ServerConnection) -> None:
        seen = -1
        while True:
            if self.roster.version != seen:
                seen = self.roster.version
                await websocket.send(json.dumps(self.state(), ensure_ascii=False))
            await asyncio.sleep(PUSH_EVERY)

    async def _act(self, websocket: ServerConnection, raw: str | bytes) -> None:
        try:
            action = json.loads(raw)
            kind = action["action"]
            if kind == "mute":
                await self.mute(_text(action, "name"))
            elif kind == "unmute":
                await self.unmute(_text(action, "name"))
            elif kind == "remove":
                await self.remove(_text(action, "name"))
            elif kind == "announce":
                await self.announce(_text(action, "text"))
            elif kind == "transcript":
                room = _text(action, "room")
                await websocket.send(json.dumps(
                    {"type": "transcript", "room": room, "jsonl": self.roster.transcript(room)},
                    ensure_ascii=False))
            else:
                raise ValueError(f"unknown action {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            await websocket.send(json.dumps(error(f"could not do that: {exc}")))


def _text(action: dict[str, Any], key: str) -> str:
    value = action.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be some text")
    return value.strip()
