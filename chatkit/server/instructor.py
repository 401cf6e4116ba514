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
  with the address and closes the connection. Wrong codes are counted per address by
  the class code's rule (:class:`~chatkit.server.class_code.WrongGuesses`): after 5,
  that address is refused (429 at the handshake, or closed unread) for 2 s, doubling
  up to 5 minutes -- 64 connections at once from one address compare 5 codes, not 64.
  With no code and no hub, there is no page (404).

A remove keeps out the name, and the client it came from (its address; on a hub, its
login) unless a classmate still seated shares it. With rooms shared through Redis
(``--redis``), :meth:`InstructorDesk.share` makes one desk of every server's
(:mod:`chatkit.redis.desk`): the roster shows them all; mute, remove and announce
hold on each.
"""

from __future__ import annotations

import asyncio
import functools
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
from ..core.messages import (MAX_NAME_LENGTH, MAX_ROOM_NAME_LENGTH, MAX_TEXT_LENGTH,
                             ProtocolError, encode, error, note)
from .class_code import WrongGuesses, client_network
from .guard import peer_address
from .pages import HTML, respond, static_file, wants_websocket

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
#: Bytes one transcript frame holds at most (its newest lines; the page says how many
#: older ones it left out): well under the guard's 1 MiB of unsent data.
TRANSCRIPT_FRAME_BYTES = 512 * 1024
#: What a removed student is told.
REMOVED = "the instructor removed you from this class"


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
        #: Wrong instructor codes per address: the class code's rule, a table of its own.
        self.wrong_codes = WrongGuesses(what="instructor codes")
        self.wrong_codes.report = report
        self._live: dict[Any, tuple[Any, Callable[[str], None]]] = {}  # user -> (ws, send)
        #: Clients (addresses; on a hub, logins) kept out by :meth:`remove`.
        self.removed_clients: set[str] = set()
        #: The desk shared through Redis (:meth:`share`), or None.
        self.shared: Any = None
        self._guesses: dict[str, WrongGuesses] = {}  # what is guessed -> its table

    # -- what the server tells the desk (ChatServer.chat) --------------------------

    def connected(self, user: Any, websocket: Any, send: Callable[[str], None]) -> None:
        self._live[user] = (websocket, send)

    def screen(self, user: Any, message: str | bytes) -> str | None:
        """Why ``message`` may not go on (muted, removed), or None.

        A connection that has not joined, from a client the instructor removed
        (:meth:`remove`), is refused whatever name it gives.
        """
        if self.removed_clients and user not in self.roster.seats:
            websocket = self._live.get(user, (None, None))[0]
            if getattr(websocket, "client_key", None) in self.removed_clients:
                return REMOVED
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
        await self._share("mute", [name])

    async def unmute(self, name: str) -> None:
        self.roster.unmute(name)
        self.report("moderate", f"the instructor unmuted {name!r}")
        await self._share("unmute", [name])

    async def remove(self, name: str, room: str | None = None) -> int:
        """Close ``name``'s connections -- in ``room`` only, if given: the page's button
        says which row, so that a classmate of the same name in another room is not
        thrown out with the one the instructor meant -- and keep the name out, and the
        client those connections came from (its address; on a hub its login), so that
        it cannot come back under another name, unless a classmate who was not removed
        is connected from there too (one machine, a NAT): then the name alone. Returns
        how many closed here. With Redis, on every server (:meth:`share`)."""
        closed = await self._remove_here(name, room)
        await self._share("remove", [name], room=room)
        return closed

    async def _remove_here(self, name: str, room: str | None = None,
                           by: str = "the instructor") -> int:
        keys = [key for key in self.roster.remove(name)
                if room is None or self.roster.seats[key].room == room]
        clients = {getattr(self._live.get(user, (None, None))[0], "client_key", None)
                   for user in keys} - {None}
        kept_out = clients - self._seated_clients(but=keys)
        self.removed_clients |= kept_out
        self.report("moderate", f"{by} removed {name!r} ({len(keys)} connections;"
                                f" {len(kept_out)} of {len(clients)} clients kept out)")
        for user in keys:
            websocket, send = self._live.get(user, (None, None))
            if websocket is None:
                continue
            try:
                send(encode(error(REMOVED)))
            except Exception:
                pass
            await websocket.close(CloseCode.POLICY_VIOLATION, "removed by the instructor")
        await self._share("keep-out", [], sorted(kept_out))  # out of every server
        return len(keys)

    async def announce(self, text: str) -> list[str]:
        """Say ``text`` to every room, as a note from the instructor; returns the rooms
        (this server's: with Redis every server says it to its own members)."""
        text = text.strip()
        if not text:
            raise ValueError("an announcement needs some text")
        rooms = self._announce_here(text)
        await self._share("announce", [text])
        return rooms

    def _announce_here(self, text: str) -> list[str]:
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

    # -- with Redis: one desk for every server (chatkit.redis.desk) ---------------------

    def share(self, rooms: Any, gate: Any = None) -> None:
        """If ``rooms`` is shared through Redis (a RedisHub), share the desk there too:
        mute, unmute, remove and announce hold on every server, and the roster shows
        every server's members; wrong instructor codes -- and wrong class codes, if
        ``gate`` is a :class:`~chatkit.server.class_code.ClassCode` -- count on every
        server (``--workers N``: one lockout, not N). Otherwise nothing."""
        if not hasattr(rooms, "attach") or not hasattr(rooms, "sid"):
            return
        from ..redis.desk import SharedDesk

        self.shared = SharedDesk(rooms, apply=self.apply_shared,
                                 seats=lambda: (self.roster.version, self.roster.rooms()))
        rooms.attach(self.shared)
        for guesses in (self.wrong_codes, getattr(gate, "wrong_guesses", None)):
            if guesses is not None:
                self._guesses[guesses.what] = guesses
                guesses.on_wrong = functools.partial(self._wrong_elsewhere, guesses.what)

    def _wrong_elsewhere(self, what: str, address: str) -> None:
        """Tell the other servers of a wrong code (in the background: best effort)."""
        task = asyncio.ensure_future(self.shared.act("wrong", [what], [address]))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    async def _share(self, kind: str, names: list[str], clients: list[str] = (),
                     room: str | None = None) -> None:
        if self.shared is None or (kind == "keep-out" and not clients):
            return
        try:
            await self.shared.act(kind, names, clients, room)
        except Exception as exc:  # Redis away: done here only, and the instructor is told
            self.report("error", f"the instructor's {kind} reached this server only: {exc}")
            raise ValueError(f"{kind} was done on this server only: Redis did not answer") from None

    async def apply_shared(self, kind: str, names: list[str], clients: list[str],
                           room: str | None = None) -> None:
        """An action the instructor took on another server (or one kept in Redis)."""
        for name in names if kind != "wrong" else ():
            if kind == "mute":
                self.roster.mute(name)
            elif kind == "unmute":
                self.roster.unmute(name)
            elif kind == "remove":
                try:
                    await self._remove_here(name, room, by="the instructor (on another server)")
                except ValueError:
                    pass  # its keep-out reached this server only: said in the log
            elif kind == "announce":
                self._announce_here(name)
        if kind == "wrong" and names and names[0] in self._guesses:
            for address in clients:  # counted here too: the lockout holds on every server
                self._guesses[names[0]].wrong(address)
        if kind == "keep-out":  # not an address a classmate here is seated from
            self.removed_clients |= set(clients) - self._seated_clients()

    def _seated_clients(self, but: Any = ()) -> set[Any]:
        """The clients of the members seated here (those in ``but`` aside)."""
        return {getattr(websocket, "client_key", None)
                for user, (websocket, _) in self._live.items()
                if user in self.roster.seats and user not in but}

    def transcript_frame(self, room: str, limit: int = TRANSCRIPT_FRAME_BYTES) -> str:
        """The ``transcript`` message for ``room``: its newest JSON lines that fit in
        ``limit`` bytes as a frame, and how many older ones were ``omitted``.

        Students choose what a transcript holds: 200 chats of 4,000 control characters
        (each escaped as ``\\u0001`` twice: in its line, then in the frame) made a
        frame of 1.74 MiB, past the 1 MiB of unsent data after which the guard drops a
        connection -- the instructor's, on a slow link.
        """
        lines = self.roster.transcript(room).splitlines(keepends=True)
        head = json.dumps({"type": "transcript", "room": room, "jsonl": "", "omitted": 0},
                          ensure_ascii=False)
        room_left = limit - len(head.encode()) - 16  # the count's digits, at most
        kept = len(lines)
        while kept > 0:
            cost = len(json.dumps(lines[kept - 1], ensure_ascii=False).encode()) - 2
            if cost > room_left:
                break
            room_left -= cost
            kept -= 1
        return json.dumps({"type": "transcript", "room": room, "jsonl": "".join(lines[kept:]),
                           "omitted": kept}, ensure_ascii=False)

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
        if wants_websocket(request):
            if instructor is None:  # an address locked out for wrong codes: 429, unread
                return self.wrong_codes.refusal(
                    connection, client_network(peer_address(connection)))
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
        address = client_network(peer_address(websocket))
        try:
            await websocket.send(json.dumps({"type": "code"}))  # "what is the code?"
            first = _json(await asyncio.wait_for(websocket.recv(), CODE_WAIT))
            given = first.get("code", "") if isinstance(first, dict) else ""
        except ConnectionClosed:
            return False
        except asyncio.TimeoutError:
            await websocket.close(CloseCode.POLICY_VIOLATION, "no instructor code given")
            return False
        except ValueError:
            given = ""
        if wait := self.wrong_codes.wait(address):  # locked out since it connected: unread
            await _refuse(websocket, f"too many wrong instructor codes from your address:"
                                     f" try again in {wait:.0f} s", "too many wrong codes")
            return False
        if self.wrong_codes.tried(address, self.code is not None and isinstance(given, str)
                                  and hmac.compare_digest(given.encode(), self.code.encode())):
            self.report("moderate", f"an instructor logged in from {address}")
            return True
        self.report("refuse", f"wrong instructor code from {address}")
        await asyncio.sleep(WRONG_CODE_PAUSE)  # guessing is slow
        await _refuse(websocket, "wrong instructor code", "wrong instructor code")
        return False

    async def _push(self, websocket: ServerConnection) -> None:
        seen: Any = -1
        while True:
            if self.shared is not None:  # every server's members, as Redis has them
                try:
                    state = {**self.state(), "rooms": await self.shared.class_rooms()}
                except Exception:  # Redis away: this server's own, meanwhile
                    state = self.state()
                frame = json.dumps(state, ensure_ascii=False)
                if frame != seen:
                    seen = frame
                    await websocket.send(frame)
            elif self.roster.version != seen:
                seen = self.roster.version
                await websocket.send(json.dumps(self.state(), ensure_ascii=False))
            await asyncio.sleep(PUSH_EVERY)

    async def _act(self, websocket: ServerConnection, raw: str | bytes) -> None:
        try:
            action = _json(raw)
            kind = action["action"]
            if kind == "mute":
                await self.mute(_text(action, "name"))
            elif kind == "unmute":
                await self.unmute(_text(action, "name"))
            elif kind == "remove":
                room = _text(action, "room") if action.get("room") is not None else None
                await self.remove(_text(action, "name"), room)
            elif kind == "announce":
                await self.announce(_text(action, "text"))
            elif kind == "transcript":
                await websocket.send(self.transcript_frame(_text(action, "room")))
            else:
                raise ValueError(f"unknown action {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            await websocket.send(json.dumps(error(f"could not do that: {exc}")))


async def _refuse(websocket: ServerConnection, text: str, reason: str) -> None:
    """Tell ``websocket`` why (an ``error``), and close it with 1008 and ``reason``."""
    try:
        await websocket.send(json.dumps(error(text)))
    except ConnectionClosed:
        pass
    await websocket.close(CloseCode.POLICY_VIOLATION, reason)


def _json(raw: str | bytes) -> Any:
    """``raw`` decoded; ValueError for anything that is not JSON -- nested too deep too
    (``"[" * 60000``: json raises RecursionError, which would crash the handler)."""
    try:
        return json.loads(raw)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None


#: The longest text each field of an action may hold: what a chat allows of the same.
FIELD_LIMITS = {"name": MAX_NAME_LENGTH, "room": MAX_ROOM_NAME_LENGTH, "text": MAX_TEXT_LENGTH}


def _text(action: dict[str, Any], key: str) -> str:
    """``action[key]``, some text no longer than a chat allows (:data:`FIELD_LIMITS`)."""
    value = action.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be some text")
    if len(value.strip()) > FIELD_LIMITS[key]:
        raise ValueError(f"{key} is longer than {FIELD_LIMITS[key]} characters")
    return value.strip()
