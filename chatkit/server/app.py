"""The chat server: ``/chat/<room>``, the chat page and the demo routes, on one port.

The Python twin of the exercise's ``app.js``::

    app.ws("/chat/:roomName", ...)      ->  Rule("/chat/<room>", endpoint=chat)
    app.get("/:roomName", ...)          ->  the page (:mod:`chatkit.server.pages`)

It is a thin shell: each connection gets a ``ChatUser`` with a plain ``send``
function (:mod:`chatkit.server.sending`), and every frame goes to
``user.handle_message``. Run it from a script::

    async with serve(port=3000) as server:
        await server.serve_forever()

or in a notebook with :func:`chatkit.start`, which runs it beside the kernel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import inspect
import logging
import math
import random
import time
import traceback
import urllib.parse
from collections import deque
from typing import Any, Awaitable, Callable, Sequence

from websockets.asyncio.router import route
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State
from werkzeug.routing import Map, Rule

from .guard import CLOSE_GRACE, Guard, peer_address, server_closing
from .instructor import PATH as INSTRUCTOR_PATH, InstructorDesk, instructor_code_from
from .pages import answer_page, secure
from .sending import SHARED_DEFLATE, ChatConnection, Outbox, OutgoingFrames, make_sender
from ..core.limits import JOIN_TIMEOUT, MAX_BUFFER_BYTES, MAX_PER_CLIENT, ClientLimit, RateLimit
from .rooms import RoomsBackend, rooms_backend
from ..core.history import HISTORY, HISTORY_SECONDS, Ask, replay
from ..core.room import Room
from ..core.identity import claim_refusal
from ..core.messages import (MAX_MESSAGE_BYTES, ProtocolError, check_room_name, encode, error,
                             one_line)
from ..core.user import ChatUser

__all__ = ["serve", "ChatServer", "Event", "COMPRESSIONS", "DEFAULT_COMPRESSION"]

logger = logging.getLogger("chatkit")

#: ``client_limit``'s default: a budget per client, unless ``rate_limit=None`` turns all limits off.
_DEFAULT = object()
#: What ``compression=`` accepts; the default is chosen on figures (docs/benchmark.md).
COMPRESSIONS = (None, "shared", "deflate")
DEFAULT_COMPRESSION: str | None = None


@dataclasses.dataclass(frozen=True)
class Event:
    """Something the server did, for the activity log: ``Event("join", "Colt joined people")``."""

    # "listen", "connect", "join", "error", "exception", "close", "drop", "refuse", "stop"
    kind: str
    text: str
    detail: str = ""  # a traceback, for "exception"
    time: float = dataclasses.field(default_factory=time.time)

    def __str__(self) -> str:
        return f"{time.strftime('%H:%M:%S', time.localtime(self.time))}  {self.text}"


class ChatServer:
    """The chat server's routes and settings, before it listens anywhere.

    >>> server = ChatServer()              # the reference ChatUser and Room
    >>> [rule.rule for rule in server.url_map.iter_rules()]
    ['/chat/<room>', '/random', '/echo', '/_instructor/ws']

    Args:
        chat_user: the ``ChatUser`` class each connection gets, e.g. a student's own.
        new_rooms: give this server a room registry of its own (if ``chat_user``
            supports it, as the reference does with ``with_new_rooms``).
        random_every: seconds between numbers on the ``/random`` demo route.
        rate_limit: per-connection message rate, or None for no limit (and then,
            unless ``client_limit`` is given, no per-client budget either).
        max_buffer: bytes of unsent data after which a client is dropped, whatever
            filled them (chats it does not read, pongs to its pings).
        on_event: called with each :class:`Event` (from the server's loop).
        compression: ``None`` (the default: off, as Node's ``ws`` server), ``"shared"``
            (permessage-deflate without context takeover: a broadcast is compressed
            once for the whole room) or ``"deflate"`` (websockets' default: each
            connection compresses every message itself). See docs/benchmark.md.
        client_limit: a budget of messages and bytes shared by all the connections
            of one client (:class:`ClientLimit`), or None. With it, each member also
            has a budget of private messages, shared by their senders.
        max_connections: open connections at most; None: from the file limit.
        max_per_client: open connections per client at most, or None for no cap.
        client_key: ``client_key(connection) -> str | None``: who a connection
            belongs to, for ``max_per_client`` and ``client_limit``. Default: the
            peer's IP address, counted as soon as the socket is accepted. Behind a
            proxy every connection comes from the proxy's address: key by what the
            proxy vouches for instead (a hub service: the user's name). Called in
            the handshake (``connection.request`` is set); None exempts the connection.
        join_timeout: seconds a chat connection may stay without joining, or None.
        origins: web origins allowed besides the server's own
            (``["https://hub.example.org"]``).
        hosts: host names this server answers to besides loopback names, when it
            is bound to loopback (the DNS-rebinding check).
        prefix: a path the server lives under, e.g. ``"/services/chatkit"`` behind
            JupyterHub's proxy, which keeps it: the page is then at
            ``<prefix>/<room>`` and its room at ``<prefix>/chat/<room>``.
        gate: who may come in, asked first on every request (page and WebSocket):
            ``await gate(connection, request)`` returns None to let it through or a
            response to answer instead (see :mod:`chatkit.server.jupyterhub`, :mod:`chatkit.server.class_code`).
            A gate that knows who is there sets ``connection.login``: that connection
            may then join and ``/name`` only as that name (:mod:`chatkit.core.identity`).
        rooms: where the rooms live, a rooms backend (:mod:`chatkit.server.rooms`):
            by default :class:`~chatkit.server.rooms.LocalRooms`, in this process.
        redis: a Redis address (``redis://127.0.0.1:6379``): rooms are shared with every
            server on that Redis (the backend :class:`chatkit.redis.hub.RedisHub`).
        redis_room: the shared room class (default :class:`chatkit.redis.room.RedisRoom`).
        presence_timeout: seconds after which a silent server's members are announced gone.
        history: messages each room keeps, for late joiners who ask
            (``"history": N`` in their join), clients that resume (``"since"``,
            :mod:`chatkit.core.history`) and the instructor's transcripts.
        history_seconds: seconds a room keeps a message at most (None: however old).
        instructor_code: the secret of the instructor's page (:mod:`chatkit.server.instructor`);
            default: ``$CHATKIT_INSTRUCTOR_CODE`` or the file ``$CHATKIT_INSTRUCTOR_CODE_FILE``.
    """

    def __init__(
        self,
        chat_user: type = ChatUser,
        *,
        new_rooms: bool = True,
        random_every: float = 3.0,
        rate_limit: RateLimit | None = RateLimit(),
        max_buffer: int = MAX_BUFFER_BYTES,
        on_event: Callable[[Event], Any] | None = None,
        prefix: str = "",
        gate: Callable[[ServerConnection, Request], Any] | None = None,
        client_limit: Any = _DEFAULT,
        max_connections: int | None = None,
        max_per_client: int | None = MAX_PER_CLIENT,
        client_key: Callable[[ServerConnection], str | None] | None = None,
        join_timeout: float | None = JOIN_TIMEOUT,
        origins: Sequence[str] = (),
        hosts: Sequence[str] = (),
        rooms: RoomsBackend | None = None,
        redis: str | None = None,
        redis_room: type | None = None,
        presence_timeout: float = 5.0,
        compression: str | None = DEFAULT_COMPRESSION,
        history: int = HISTORY,
        history_seconds: float | None = HISTORY_SECONDS,
        instructor_code: Any = _DEFAULT,
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        #: Where this server's rooms live: in this process, or shared through Redis.
        self.rooms = rooms_backend(rooms, redis=redis, redis_room=redis_room,
                                   presence_timeout=presence_timeout, new_rooms=new_rooms)
        self.rooms.report = self.report
        password = urllib.parse.urlsplit(redis).password if redis else None
        #: What no log line may show (the Redis password): reported as ``***``.
        self.secrets: tuple[str, ...] = (password,) if password else ()
        self.chat_user = self.rooms.chat_user(chat_user)
        self.random_every = random_every
        self.rate_limit = rate_limit
        self.max_buffer = max_buffer
        self.on_event = on_event
        self.compression = compression
        self.frames = OutgoingFrames()  # each message's frame, built once for the room
        self.outbox = Outbox(self.frames)  # frames of one loop turn, written at once
        self.events: deque[Event] = deque(maxlen=200)
        self.connections = 0  # open chat connections, now
        self.prefix = prefix = prefix.rstrip("/")
        self.gate = gate
        if hasattr(gate, "report"):  # a gate's refusals (a class code's lockouts): in the log
            gate.report = self.report
        #: The class roster and the instructor's actions (mute, remove, announce, export).
        self.desk = InstructorDesk(
            self.report, history=history, prefix=prefix, history_seconds=history_seconds,
            code=instructor_code_from() if instructor_code is _DEFAULT else instructor_code)
        self.desk.share(self.rooms, gate)  # with Redis: one desk (and lockout) for all
        #: Each room's numbered history: one per room, kept by the roster, written by
        #: the rooms as they broadcast (so frames carry their ids to clients that ask)
        #: when they are this server's own; else by the roster, as it sees messages.
        self.histories = self.desk.roster.histories
        rooms_class = getattr(self.chat_user, "Room", None)
        if (self.chat_user is not chat_user and isinstance(rooms_class, type)
                and issubclass(rooms_class, Room)):
            rooms_class.histories = self.histories
            self.desk.roster.records = False
        if client_limit is _DEFAULT:
            client_limit = ClientLimit() if rate_limit is not None else None
        self.guard = Guard(
            self.report, max_buffer=max_buffer, client_limit=client_limit,
            max_connections=max_connections, max_per_client=max_per_client,
            client_key=client_key, join_timeout=join_timeout, origins=origins, hosts=hosts,
        )
        self.url_map = Map(
            [
                Rule(f"{prefix}/chat/<room>", endpoint=self.chat),
                Rule(f"{prefix}/random", endpoint=self.random_numbers),
                Rule(f"{prefix}/echo", endpoint=self.echo),
                Rule(f"{prefix}{INSTRUCTOR_PATH}ws", endpoint=self.desk.serve),
            ]
        )

    # -- activity log ----------------------------------------------------------

    def report(self, kind: str, text: str, detail: str = "") -> None:
        """Record an event, log it, and pass it to ``on_event``.

        ``text`` is one line, whatever user text it holds (a name, a room, an
        exception's message): its line breaks and other controls are shown escaped
        (:func:`~chatkit.core.messages.one_line`), so no one can forge a line of the log.
        :attr:`secrets` (the Redis password) are shown as ``***``.
        """
        for secret in self.secrets:
            text, detail = text.replace(secret, "***"), detail.replace(secret, "***")
        event = Event(kind, one_line(text), detail)
        self.events.append(event)
        level = logging.ERROR if kind == "exception" else logging.INFO
        logger.log(level, "%s%s", event.text, "\n" + detail if detail else "")
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                logger.exception("on_event failed")

    # -- routes --------------------------------------------------------------

    async def chat(self, websocket: ServerConnection, room: str) -> None:
        """``/chat/<room>``: one ChatUser for this connection, fed every frame."""
        room = urllib.parse.unquote(room)
        try:
            check_room_name(room)  # no NUL, CR LF, right-to-left override; not too long
        except ProtocolError as exc:
            self.report("refuse", f"refused room {room!r} ({peer_address(websocket)}): {exc}")
            await websocket.close(CloseCode.POLICY_VIOLATION, str(exc))
            return
        send = make_sender(websocket, self.max_buffer, self.frames, self.outbox,
                           drop=self.guard.drop)
        try:
            user = self.chat_user(send, room)
        except Exception as exc:
            self._report_exception(f"{self.chat_user.__name__}(send, {room!r})"
                                   f" for {peer_address(websocket)}", exc)
            await websocket.close(CloseCode.INTERNAL_ERROR, _reason(exc))
            return
        self.connections += 1
        self.report("connect", f"connection to room {room!r} ({self.connections} open)")
        websocket.member = user  # who the guard names if it drops this connection
        meter = self.guard.meter(websocket, self.rate_limit)  # its rate, its client's budget
        deadline = self.guard.join_deadline(websocket, user)
        # Set by a gate that knows who this is (a hub login): the one name it may use.
        login = getattr(websocket, "login", None)
        self.desk.connected(user, websocket, send)
        try:
            async for message in websocket:
                if refusal := meter.charge(message):
                    send(encode(error(refusal[0])))
                    await asyncio.sleep(refusal[1])  # stop reading it
                    continue
                if refused := self.guard.private_refusal(user, message):
                    send(encode(error(refused)))  # no pause: the recipient is full, not the sender
                    continue
                if login is not None and (refusal := claim_refusal(login, message)):
                    send(encode(error(refusal)))  # another's name: refused before any room
                    continue
                if refusal := self.desk.screen(user, message):  # muted, or removed
                    send(encode(error(refusal)))
                    continue
                await self.rooms.prepare(user, message)  # a shared room claims names first
                self._handle(user, room, message, send, meter.afford)
        except (ConnectionClosed, ConnectionError):  # ConnectionError: from send, closed
            pass
        finally:
            if deadline is not None:
                deadline.cancel()
            self.connections -= 1
            self.desk.closed(user)
            name = getattr(user, "name", None)
            try:
                user.handle_close()
            except Exception as exc:
                self._report_exception(f"{_who(user)}.handle_close()", exc)
            code = websocket.close_code
            why = getattr(websocket, "dropped", None)
            closing = server_closing(websocket)  # who and why, when the server closed it
            self.report(
                "close",
                f"{name or 'a visitor'} disconnected from {room!r} ({peer_address(websocket)},"
                f" code {code if code is not None else 1006}"
                f"{'; closed by the server: ' + closing if closing else ''}"
                f"{'; dropped: ' + why if why else ''}; {self.connections} open)",
            )

    def _handle(
        self, user: Any, room: str, message: str | bytes, send: Callable[[str], None],
        afford: Callable[[int], bool] | None = None,
    ) -> None:
        """Give one frame to ``user.handle_message``; report what happened.

        If the user's code raises, the client hears of it through the
        connection's own ``send`` -- not ``user.send``, which may be what broke.
        ``afford(nbytes)``: may this client be sent that much history now (its budget)?
        """
        name_before = getattr(user, "name", None)
        # A join that asks for the history gets what the room said before it (its
        # own note and what follows reach it live): read now, sent once it joined.
        history = self._history_for(room, message, afford) if name_before is None else None
        try:
            user.handle_message(message)
        except Exception as exc:
            self._report_exception(f"{_who(user)}.handle_message({_short(message)})", exc)
            try:
                send(encode(error(
                    f"the server could not handle that message: {_reason(exc)}"
                )))
            except Exception:
                pass
            return
        self.desk.handled(user, room, message, name_before)
        name_after = getattr(user, "name", None)
        if name_after != name_before:
            if name_before is None:
                for frame in history or ():
                    send(frame)
                self.report("join", f"{name_after} joined {room!r}")
            else:
                self.report("join", f"{name_before} is now {name_after} in {room!r}")

    def _history_for(self, room: str, join: str | bytes,
                     afford: Callable[[int], bool] | None = None) -> list[str] | None:
        """The frames a join gets after its own note: the ``history`` message, if it
        asked (``"want": ["ids"]``, ``"since"``, ``"history": N``) -- an ``error``
        first if its ``since`` or ``epoch`` was unreadable. The original's join asks
        nothing and gets nothing (None).

        The answer's bytes come out of the client's budget (``afford``), as what it
        sends does: past it, the answer carries no messages, counted as missed, after
        an ``error`` that says why -- one join of 50 bytes cannot be made to cost the
        server 32 KiB again and again."""
        ask = Ask.read(join, self.histories.limit)
        if self.desk.roster.records:  # rooms that do not number (a student's own): no ids
            ask = Ask(count=ask.count)  # to resume from; only the older "history": N
        if not ask.wanted:
            return None
        errors = [] if ask.error is None else [encode(error(ask.error))]
        answer = replay(self.histories.get(room), ask, room)
        frame = encode(answer)
        if afford is not None and answer["messages"] and not afford(len(frame.encode())):
            left_out = len(answer["messages"])
            errors.append(encode(error(
                f"the room's history was not sent ({left_out} messages): your connections"
                f" together may be sent at most {self.guard.client_limit.bytes_per_second / 1024:g}"
                " KiB a second of it, with what they send; join again later to get it")))
            answer["messages"] = []
            if answer.get("missed") is not None:
                answer["missed"] += left_out
            frame = encode(answer)
        return errors + [frame]

    def _report_exception(self, where: str, exc: BaseException) -> None:
        self.report("exception", f"{where} raised {_reason(exc)}", _traceback(exc))

    async def _answer(self, connection: Any, request: Request) -> Response | None:
        """``process_request`` as served: malformed requests out (400), then the gate
        (who may come in), then the guard's screen (hosts, origins, caps: keyed by what
        the gate vouched for), then the page or the WebSocket routes; HEAD without a body."""
        response = self.guard.malformed(connection, request)  # no Host, two Hosts: 400
        if response is None and self.gate is not None:
            response = await self.gate(connection, request)
        if response is None:
            response = self.guard.screen(connection, request)
        if response is None:
            response = self.process_request(connection, request)
            if isinstance(response, Awaitable):
                response = await response
        if response is not None:
            response = secure(response, request)  # the security headers, once; HEAD: no body
        return response

    async def random_numbers(self, websocket: ServerConnection) -> None:
        """``/random``: the original's first demo, a random number every few seconds.

        ``/random?count=3`` closes the connection (code 1000) after three numbers.
        """
        query = urllib.parse.parse_qs(urllib.parse.urlparse(websocket.request.path).query)
        try:
            count = int(query.get("count", ["0"])[0])
            every = float(query.get("every", [str(self.random_every)])[0])
            if not math.isfinite(every):  # nan or inf would corrupt the loop's timers
                raise ValueError(every)
        except ValueError:
            await websocket.close(CloseCode.POLICY_VIOLATION, "count and every must be finite numbers")
            return
        every = max(every, 0.01)
        meter = self.guard.meter(websocket, self.rate_limit)  # each number: as a message
        sent = 0
        try:
            while not count or sent < count:
                number = str(random.randint(1, 100))
                while refusal := meter.charge(number):
                    if websocket.state is not State.OPEN:
                        return  # closed while it waited
                    await asyncio.sleep(refusal[1])  # within the client's budget, as chats
                await websocket.send(number)
                sent += 1
                if count and sent >= count:
                    break
                await asyncio.sleep(every)
            await websocket.close(CloseCode.NORMAL_CLOSURE, f"sent {sent} numbers, bye")
        except ConnectionClosed:
            pass

    async def echo(self, websocket: ServerConnection) -> None:
        """``/echo``: sends every message straight back -- within the client's budget,
        as chats: past it, an ``error`` (JSON, as the chat's) instead, and a pause."""
        meter = self.guard.meter(websocket, self.rate_limit)
        try:
            async for message in websocket:
                if refusal := meter.charge(message):
                    await websocket.send(encode(error(refusal[0])))
                    await asyncio.sleep(refusal[1])  # stop reading it
                    continue
                await websocket.send(message)
        except ConnectionClosed:
            pass

    # -- plain HTTP: the chat page -------------------------------------------

    def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Answer plain HTTP requests with the page (:mod:`chatkit.server.pages`);
        let WebSocket upgrades through."""
        return (self.desk.answer(connection, request)
                or answer_page(connection, request, self.prefix))

    # -- listening -----------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 3000, **kwargs: Any) -> Any:
        """Create the server listening on ``host:port``: ``async with`` or ``await`` it.

        Raises this process's soft limit of open files to its hard limit first.
        """
        kwargs.setdefault("max_size", MAX_MESSAGE_BYTES)
        # Each connection: the guard's checks (unsent data, caps, pipelined requests),
        # and chat frames written at the end of the loop's turn (the Outbox).
        kwargs.setdefault("create_connection",
                          functools.partial(ChatConnection, guard=self.guard))
        if "compression" not in kwargs and "extensions" not in kwargs:
            kwargs["compression"] = "deflate" if self.compression == "deflate" else None
            if self.compression == "shared":
                kwargs["extensions"] = [SHARED_DEFLATE]
        self.guard.listen(host, kwargs)
        server = route(
            self.url_map, host, port, process_request=self._answer, **kwargs
        )
        return self.rooms.serving(server)

    async def close(self, server: Any) -> None:
        """Close ``server`` (what :meth:`serve` made) and wait until every connection is gone.

        Open connections get a close frame (1001) and ``CLOSE_GRACE`` seconds to
        answer it -- a peer that cannot (a client on a loop this very call blocks) is
        dropped then. Sockets that have sent no request yet are dropped at once
        (:meth:`Guard.drop_waiting`): websockets would wait for each up to its
        ``open_timeout`` (10 s), so one idle socket held a ``stop()`` or a Ctrl-C that long.
        """
        for connection in list(server.all_connections):
            connection.close_timeout = CLOSE_GRACE
        server.close()
        await asyncio.sleep(0)  # its close task stops the listener and starts the closing
        self.guard.drop_waiting()
        await server.wait_closed()

    async def shutdown(self) -> None:
        """After the server closed: let go of the rooms backend (Redis, if shared)."""
        await self.rooms.close()

    @property
    def hub(self) -> RoomsBackend:
        """``rooms``, by the name notebook 7 draws it: ``draw_flow([a.server.hub, ...])``."""
        return self.rooms


def serve(
    host: str = "127.0.0.1",
    port: int = 3000,
    *,
    chat_user: type = ChatUser,
    **options: Any,
) -> Any:
    """Create the chat server on ``host:port`` (``127.0.0.1:3000`` by default).

    ::

        async with serve(port=3000) as server:
            await server.serve_forever()

    ``chat_user`` runs your own ``ChatUser`` class; other keyword arguments go to
    :class:`ChatServer` (``random_every``, ``rate_limit``, ``on_event``, ...).
    """
    server_options = {key: options.pop(key) for key in SERVER_KEYWORDS & options.keys()}
    return ChatServer(chat_user, **server_options).serve(host, port, **options)


#: The keywords :func:`serve` gives :class:`ChatServer` (the others go to websockets):
#: read from its signature, so a new option needs no second list.
SERVER_KEYWORDS = frozenset(inspect.signature(ChatServer).parameters) - {"chat_user"}


def _who(user: Any) -> str:
    return type(user).__name__


def _short(message: str | bytes, limit: int = 60) -> str:
    text = repr(message)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _traceback(exc: BaseException, limit: int = 20) -> str:
    """``exc``'s traceback, each exception's own text (and notes) on one line
    (:func:`one_line`): a student's ``raise ValueError("...\\n12:34:56 stopped")``
    cannot add a line that passes for the server's."""
    detail = "".join(traceback.format_exception(exc))
    seen: set[int] = set()
    chained: BaseException | None = exc
    while chained is not None and id(chained) not in seen and len(seen) < limit:
        seen.add(id(chained))
        try:
            texts = [str(chained), *map(str, getattr(chained, "__notes__", None) or ())]
        except Exception:  # a __str__ that raises: traceback printed its own placeholder
            texts = []
        for text in texts:
            if text and not text.isprintable():
                detail = detail.replace(text, one_line(text))
        chained = chained.__cause__ or chained.__context__
    return detail


def _reason(exc: BaseException) -> str:
    """``ValueError: bad message`` -- short enough for a close reason (123 bytes)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.encode()[:120].decode(errors="ignore")
