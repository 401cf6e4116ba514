"""The chat server: ``/chat/<room>``, the chat page and the demo routes, on one port.

The Python twin of the exercise's ``app.js``::

    app.ws("/chat/:roomName", ...)      ->  Rule("/chat/<room>", endpoint=chat)
    app.get("/:roomName", ...)          ->  the page, served by process_request

It is a thin shell: each connection gets a ``ChatUser`` with a plain ``send``
function, and every frame goes to ``user.handle_message``. Run it from a script::

    async with serve(port=3000) as server:
        await server.serve_forever()

or in a notebook with :func:`chatkit.start`, which runs it beside the kernel.
"""

from __future__ import annotations

import asyncio
import dataclasses
import http
import logging
import math
import random
import time
import traceback
import urllib.parse
from collections import deque
from importlib import resources
from typing import Any, Awaitable, Callable, Sequence

from websockets.asyncio.router import route
from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State
from werkzeug.routing import Map, Rule

from .frames import SHARED_DEFLATE, Outbox, OutgoingFrames, shared_deflate_bits
from .guard import JOIN_TIMEOUT, MAX_PER_CLIENT, ClientLimit, GuardedConnection, Guard
from .rooms import RoomsBackend, rooms_backend
from ..core.messages import MAX_MESSAGE_BYTES, ProtocolError, check_room_name, encode, error
from ..core.user import ChatUser

__all__ = ["serve", "ChatServer", "ChatConnection", "Event", "RateLimit", "ClientLimit",
           "make_sender"]

logger = logging.getLogger("chatkit")

#: A member whose unsent data passes this many bytes has stopped reading: drop it.
MAX_BUFFER_BYTES = 1024 * 1024
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


@dataclasses.dataclass
class RateLimit:
    """At most ``burst`` messages at once, refilled at ``per_second`` (a token bucket).

    >>> limit = RateLimit(burst=2, per_second=1.0)
    >>> bucket = limit.bucket()
    >>> [bucket(now=0.0), bucket(now=0.0), bucket(now=0.0), bucket(now=1.0)]
    [True, True, False, True]

    """

    burst: int = 30
    per_second: float = 15.0

    def bucket(self) -> Callable[..., bool]:
        """A fresh bucket for one connection: call it per message; False means too fast."""
        tokens, last = float(self.burst), None  # full; the clock starts at the first call

        def allow(now: float | None = None) -> bool:
            nonlocal tokens, last
            now = time.monotonic() if now is None else now
            if last is not None:
                tokens = min(self.burst, tokens + (now - last) * self.per_second)
            last = now
            if tokens >= 1:
                tokens -= 1
                return True
            return False

        return allow


class ChatConnection(GuardedConnection):
    """A server connection whose own frames (pings, pongs, close) wait for the chat's.

    Chat frames go through the server's :class:`~chatkit.server.frames.Outbox`, written at the
    end of the loop's turn; a close frame written before them would cut them off.
    """

    outbox: Outbox | None = None

    def send_data(self) -> None:
        outbox = self.outbox
        if outbox is not None and self.transport in outbox.pending:
            outbox.flush(self.transport)
        super().send_data()


def make_sender(
    websocket: ServerConnection,
    max_buffer: int = MAX_BUFFER_BYTES,
    frames: OutgoingFrames | None = None,
    outbox: Outbox | None = None,
) -> Callable[[str], None]:
    """Return the plain ``send(text)`` function a ``ChatUser`` is given.

    The twin of ``ws.send.bind(ws)``: it writes the frame at once, without
    waiting. A client that stops reading lets unsent data pile up; past
    ``max_buffer`` bytes its connection is dropped, so one stalled laptop costs
    the server bounded memory and never slows the room.

    ``frames`` (one per server, see :class:`chatkit.server.frames.OutgoingFrames`) builds
    each message's frame once for every member a room sends it to; each member's
    ``send`` then only writes those bytes -- at the end of the loop's turn, all of
    this turn's frames in one write, if an ``outbox`` (and a :class:`ChatConnection`)
    is given. A connection that negotiated deflate with context takeover
    (``compression="deflate"``) compresses its own, through websockets.
    """
    protocol = websocket.protocol
    transport = websocket.transport
    frames = OutgoingFrames() if frames is None else frames
    bits = shared_deflate_bits(protocol.extensions)
    OPEN = State.OPEN  # a local: State.OPEN is an enum lookup, ten times slower
    if outbox is not None and isinstance(websocket, ChatConnection):
        websocket.outbox = outbox
        write = outbox.add  # write(transport, frame), at the end of the loop's turn
    else:
        write = _write_now

    def check() -> None:
        # The state stays OPEN until the loop runs connection_lost; meanwhile a transport
        # that was aborted or failed is closing, and each write to it is logged by asyncio
        # ("socket.send() raised exception."): thousands when a whole class leaves at once.
        if protocol.state is not OPEN or transport.is_closing():
            raise ConnectionError("connection is not open")
        if transport.get_write_buffer_size() > max_buffer:
            transport.abort()  # the close frame would wait behind the backlog
            raise ConnectionError("client stopped reading: dropped")

    if bits is None:  # no compression: every member writes the same bytes

        def send(text: str) -> None:
            if (protocol.state is not OPEN or transport.is_closing()
                    or transport.get_write_buffer_size() > max_buffer):
                check()
            if frames.text is not text:
                frames.load(text)
            # Straight to the socket, as broadcast() would through protocol.send_text:
            # this connection never sends fragments, and websockets writes its own
            # frames (pings, pongs, close) at once, so nothing waits in the protocol.
            write(transport, frames.plain)

    elif bits is not False:  # deflate, no context takeover: compressed once for all

        def send(text: str) -> None:
            if (protocol.state is not OPEN or transport.is_closing()
                    or transport.get_write_buffer_size() > max_buffer):
                check()
            if frames.text is not text:
                frames.load(text)
            write(transport, frames.deflated(bits))

    else:  # deflate with context takeover: this connection's own compressor

        def send(text: str) -> None:
            check()
            try:
                protocol.send_text(text.encode())  # refuses in the middle of a fragmented send
                websocket.send_data()
            except Exception as exc:  # skipped with a warning, as broadcast does
                websocket.logger.warning(
                    "skipped broadcast: failed to write message: %s",
                    traceback.format_exception_only(exc)[0].strip(),
                )

    return send


def _write_now(transport: Any, data: bytes) -> None:
    transport.write(data)


def _page(name: str) -> bytes:
    return resources.files("chatkit").joinpath("static", name).read_bytes()


STATIC_TYPES = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}
SECURITY_HEADERS = {
    # Defence in depth: even if user text reached the DOM as HTML, no script
    # but ours could run, and the page can only talk to its own origin.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


class ChatServer:
    """The chat server's routes and settings, before it listens anywhere.

    >>> server = ChatServer()              # the reference ChatUser and Room
    >>> [rule.rule for rule in server.url_map.iter_rules()]
    ['/chat/<room>', '/random', '/echo']

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
            of one client (:class:`ClientLimit`), or None.
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
        rooms: where the rooms live, a rooms backend (:mod:`chatkit.server.rooms`):
            by default :class:`~chatkit.server.rooms.LocalRooms`, in this process.
        redis: a Redis address (``redis://127.0.0.1:6379``): rooms are shared with every
            server on that Redis (the backend :class:`chatkit.redis.hub.RedisHub`).
        redis_room: the shared room class (default :class:`chatkit.redis.room.RedisRoom`).
        presence_timeout: seconds after which a silent server's members are announced gone.
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
    ) -> None:
        if compression not in COMPRESSIONS:
            raise ValueError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
        #: Where this server's rooms live: in this process, or shared through Redis.
        self.rooms = rooms_backend(rooms, redis=redis, redis_room=redis_room,
                                   presence_timeout=presence_timeout, new_rooms=new_rooms)
        self.rooms.report = self.report
        self.chat_user = self.rooms.chat_user(chat_user)
        self.random_every = random_every
        self.rate_limit = rate_limit
        self.max_buffer = max_buffer
        self.on_event = on_event
        self.compression = compression
        self.frames = OutgoingFrames()  # each message's frame, built once for the room
        self.outbox = Outbox()  # each member's frames of one loop turn, written at once
        self.events: deque[Event] = deque(maxlen=200)
        self.connections = 0  # open chat connections, now
        self.prefix = prefix = prefix.rstrip("/")
        self.gate = gate
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
            ]
        )

    # -- activity log ----------------------------------------------------------

    def report(self, kind: str, text: str, detail: str = "") -> None:
        """Record an event, log it, and pass it to ``on_event``."""
        event = Event(kind, text, detail)
        self.events.append(event)
        level = logging.ERROR if kind == "exception" else logging.INFO
        logger.log(level, "%s%s", text, "\n" + detail if detail else "")
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
            await websocket.close(CloseCode.POLICY_VIOLATION, str(exc))
            return
        send = make_sender(websocket, self.max_buffer, self.frames, self.outbox)
        try:
            user = self.chat_user(send, room)
        except Exception as exc:
            self._report_exception(f"{self.chat_user.__name__}(send, {room!r})", exc)
            await websocket.close(CloseCode.INTERNAL_ERROR, _reason(exc))
            return
        self.connections += 1
        self.report("connect", f"connection to room {room!r} ({self.connections} open)")
        allow = self.rate_limit.bucket() if self.rate_limit else None
        spend = self.guard.budget(websocket)  # shared by all this client's connections
        deadline = self.guard.join_deadline(websocket, user)
        try:
            async for message in websocket:
                if allow is not None and not allow():
                    limit = self.rate_limit
                    send(encode(error(
                        f"slow down: at most {limit.per_second:g} messages a second;"
                        " that message was not sent"
                    )))
                    await asyncio.sleep(min(1.0, 1 / limit.per_second))  # stop reading it
                    continue
                if spend is not None and not spend(size := _size(message)):
                    send(encode(error(
                        f"slow down: your connections together may send at most"
                        f" {self.guard.client_limit.describe()}; that message was not sent"
                    )))
                    await asyncio.sleep(self.guard.client_limit.pause(size))  # stop reading it
                    continue
                await self.rooms.prepare(user, message)  # a shared room claims names first
                self._handle(user, room, message, send)
        except (ConnectionClosed, ConnectionError):  # ConnectionError: from send, closed
            pass
        finally:
            if deadline is not None:
                deadline.cancel()
            self.connections -= 1
            name = getattr(user, "name", None)
            try:
                user.handle_close()
            except Exception as exc:
                self._report_exception(f"{_who(user)}.handle_close()", exc)
            code = websocket.close_code
            self.report(
                "close",
                f"{name or 'a visitor'} disconnected from {room!r}"
                f" (code {code if code is not None else 1006}; {self.connections} open)",
            )

    def _handle(
        self, user: Any, room: str, message: str | bytes, send: Callable[[str], None]
    ) -> None:
        """Give one frame to ``user.handle_message``; report what happened.

        If the user's code raises, the client hears of it through the
        connection's own ``send`` -- not ``user.send``, which may be what broke.
        """
        name_before = getattr(user, "name", None)
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
        name_after = getattr(user, "name", None)
        if name_after != name_before:
            if name_before is None:
                self.report("join", f"{name_after} joined {room!r}")
            else:
                self.report("join", f"{name_before} is now {name_after} in {room!r}")

    def _report_exception(self, where: str, exc: BaseException) -> None:
        detail = "".join(traceback.format_exception(exc))
        self.report("exception", f"{where} raised {_reason(exc)}", detail)

    async def _answer(self, connection: Any, request: Request) -> Response | None:
        """``process_request`` as served: the gate (who may come in) first, then the
        guard's screen (hosts, origins, caps: keyed by what the gate vouched for),
        then the page or the WebSocket routes; HEAD without a body."""
        response = None
        if self.gate is not None:
            response = await self.gate(connection, request)
        if response is None:
            response = self.guard.screen(connection, request)
        if response is None:
            response = self.process_request(connection, request)
            if isinstance(response, Awaitable):
                response = await response
        if response is not None:
            for key, value in SECURITY_HEADERS.items():
                if key not in response.headers:
                    response.headers[key] = value
            if request.method == "HEAD":
                response = dataclasses.replace(response, body=b"")  # Content-Length stays
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
        sent = 0
        try:
            while not count or sent < count:
                await websocket.send(str(random.randint(1, 100)))
                sent += 1
                if count and sent >= count:
                    break
                await asyncio.sleep(every)
            await websocket.close(CloseCode.NORMAL_CLOSURE, f"sent {sent} numbers, bye")
        except ConnectionClosed:
            pass

    async def echo(self, websocket: ServerConnection) -> None:
        """``/echo``: sends every message straight back."""
        try:
            async for message in websocket:
                await websocket.send(message)
        except ConnectionClosed:
            pass

    # -- plain HTTP: the chat page -------------------------------------------

    def process_request(
        self, connection: ServerConnection, request: Request
    ) -> Response | None:
        """Answer plain HTTP requests with the page; let WebSocket upgrades through."""
        if "websocket" in request.headers.get("Upgrade", "").lower():
            return None  # the router matches /chat/<room>, /random, /echo
        path = urllib.parse.urlparse(request.path).path
        if self.prefix:  # the page's own links are relative: they keep the prefix
            if path == self.prefix:
                response = connection.respond(http.HTTPStatus.FOUND, "")
                response.headers["Location"] = f"{self.prefix}/"
                return response
            if not path.startswith(f"{self.prefix}/"):
                return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
            path = path[len(self.prefix):]
        segments = path.split("/")[1:]
        if path == "/":
            return self._respond(connection, _page("index.html"), "text/html; charset=utf-8")
        if len(segments) == 2 and segments[0] == "_static" and segments[1] in STATIC_TYPES:
            return self._respond(connection, _page(segments[1]), STATIC_TYPES[segments[1]])
        if path == "/favicon.ico":
            return connection.respond(http.HTTPStatus.NO_CONTENT, "")
        if len(segments) == 1 and segments[0]:
            return self._respond(connection, _page("chat.html"), "text/html; charset=utf-8")
        return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")

    @staticmethod
    def _respond(connection: ServerConnection, body: bytes, content_type: str) -> Response:
        response = connection.respond(http.HTTPStatus.OK, "")
        headers = Headers(response.headers)
        del headers["Content-Type"]
        del headers["Content-Length"]
        headers["Content-Type"] = content_type
        headers["Content-Length"] = str(len(body))
        for key, value in SECURITY_HEADERS.items():
            headers[key] = value
        return dataclasses.replace(response, headers=headers, body=body)

    # -- listening -----------------------------------------------------------

    def serve(self, host: str = "127.0.0.1", port: int = 3000, **kwargs: Any) -> Any:
        """Create the server listening on ``host:port``: ``async with`` or ``await`` it.

        Raises this process's soft limit of open files to its hard limit first.
        """
        kwargs.setdefault("max_size", MAX_MESSAGE_BYTES)
        # Each connection: the guard's checks (unsent data, caps, pipelined requests),
        # and chat frames written at the end of the loop's turn (the Outbox).
        kwargs.setdefault("create_connection", type(
            "ChatConnection", (ChatConnection,), {"guard": self.guard}))
        if "compression" not in kwargs and "extensions" not in kwargs:
            kwargs["compression"] = "deflate" if self.compression == "deflate" else None
            if self.compression == "shared":
                kwargs["extensions"] = [SHARED_DEFLATE]
        self.guard.listen(host, kwargs)
        server = route(
            self.url_map, host, port, process_request=self._answer, **kwargs
        )
        return self.rooms.serving(server)

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
    server_options = {
        key: options.pop(key)
        for key in ("new_rooms", "random_every", "rate_limit", "max_buffer", "on_event",
                    "prefix", "gate", "client_limit", "max_connections", "max_per_client",
                    "client_key", "join_timeout", "origins", "hosts",
                    "rooms", "redis", "redis_room", "presence_timeout", "compression")
        if key in options
    }
    return ChatServer(chat_user, **server_options).serve(host, port, **options)


def _size(message: str | bytes) -> int:
    """A frame's size in bytes, as it came over the wire."""
    return len(message.encode()) if isinstance(message, str) else len(message)


def _who(user: Any) -> str:
    return type(user).__name__


def _short(message: str | bytes, limit: int = 60) -> str:
    text = repr(message)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(exc: BaseException) -> str:
    """``ValueError: bad message`` -- short enough for a close reason (123 bytes)."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text.encode()[:120].decode(errors="ignore")
