"""How the server sends: the ``send(text)`` each ``ChatUser`` is given, the connection it
writes to, each message's frame built once, each member's frames of one loop turn
written at once.

:func:`make_sender` is the twin of ``ws.send.bind(ws)``: a plain function that writes
at once and never waits, dropping a member that stopped reading. Every connection
of a chat server is a :class:`ChatConnection`: the guard's checks
(:class:`~chatkit.server.guard.GuardedConnection`) and frames that keep their order.

A room hands every member the same ``str`` (``Room.broadcast`` encodes the JSON
once). Turning it into a WebSocket frame -- UTF-8 bytes, a two-byte header, and
maybe deflate -- is the same work for every member, so it is done once, for the
first member, and every other member's connection just writes those bytes::

    >>> frames = OutgoingFrames()
    >>> text = '{"type":"note","text":"hi"}'
    >>> frames.load(text)
    >>> frames.plain
    b'\\x81\\x1b{"type":"note","text":"hi"}'
    >>> frames.deflated(12)[:1]                  # FIN, RSV1 (compressed) and "text"
    b'\\xc1'

Deflate is shared only where it can be: a connection that negotiated
``server_no_context_takeover`` compresses each message on its own, so every such
member with the same window size gets identical bytes (uWebSockets calls this a
"shared compressor"). :data:`SHARED_DEFLATE` is the extension that negotiates it.

Some messages only matter in their newest version: a member list replaces the one
before. ``send.latest(kind, text)`` sends one of a ``kind`` at once, then holds the
next ones back for :data:`~chatkit.core.limits.MEMBER_LIST_EVERY` seconds and sends
only the newest: a burst of renames costs each listener one list, never a stale one
left as the last word (``ChatUser.send_latest`` uses it when it is there).

Nearly all a delivery costs is the ``send()`` system call into the kernel's TCP
stack (:func:`write_now` makes it straight from the socket when nothing waits).
When one turn of the event loop broadcasts several chats (they arrived together),
an :class:`Outbox` sends each member's first frame at once and gathers the rest,
written with one call at the end of the turn, instead of one call per frame. When a
chat comes alone (as a class chats, one at a time), the Outbox sends it to the whole
room at once (:meth:`Outbox.send_together`): one ``send()`` per member, and no Python
around it per member.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import math
import operator
import socket
import traceback
import weakref
import zlib
from typing import Any, Callable

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.frames import CloseCode
from websockets.extensions.permessage_deflate import (
    PerMessageDeflate,
    ServerPerMessageDeflateFactory,
)
from websockets.protocol import State

from .guard import GuardedConnection
from ..core.limits import MAX_BUFFER_BYTES, MEMBER_LIST_EVERY

__all__ = ["make_sender", "ChatConnection", "OutgoingFrames", "Outbox", "frame_header",
           "shared_deflate_bits", "write_now", "Latest", "Keepalive", "FrameQueue", "share_headers",
           "SHARED_DEFLATE", "COMPRESS_SETTINGS"]

#: zlib settings of the shared compressor: websockets' own defaults (memLevel 5).
COMPRESS_SETTINGS = {"memLevel": 5}
#: permessage-deflate that compresses each message on its own, both ways: the server
#: compresses a broadcast once for all, and keeps no zlib state per connection.
SHARED_DEFLATE = ServerPerMessageDeflateFactory(
    server_no_context_takeover=True,
    client_no_context_takeover=True,
    server_max_window_bits=12,
    compress_settings=COMPRESS_SETTINGS,
)


def frame_header(first: int, length: int) -> bytes:
    """The header of an unmasked (server) frame: first byte, then the payload length.

    >>> frame_header(0x81, 5), frame_header(0x81, 300)
    (b'\\x81\\x05', b'\\x81~\\x01,')

    """
    if length < 126:
        return bytes((first, length))
    if length < 65536:
        return bytes((first, 126)) + length.to_bytes(2, "big")
    return bytes((first, 127)) + length.to_bytes(8, "big")


class OutgoingFrames:
    """The frames of the last text sent: plain, and deflated per window size, made on demand.

    One per server, used on its event loop only. ``text`` is compared by identity:
    a room's broadcast hands the same object to every member.
    """

    __slots__ = ("text", "payload", "plain", "_deflated")

    def __init__(self) -> None:
        self.text: str | None = None
        self.payload = self.plain = b""
        self._deflated: dict[int, bytes] = {}

    def load(self, text: str) -> None:
        """Make ``text`` the current message: its plain frame now, deflated ones on demand."""
        payload = self.payload = text.encode()
        self.plain = frame_header(0x81, len(payload)) + payload
        self._deflated = {}
        self.text = text

    def deflated(self, bits: int) -> bytes:
        """The current message as one compressed frame (no context takeover, ``bits`` window)."""
        frame = self._deflated.get(bits)
        if frame is None:
            encoder = zlib.compressobj(wbits=-bits, **COMPRESS_SETTINGS)
            data = encoder.compress(self.payload) + encoder.flush(zlib.Z_SYNC_FLUSH)
            if data.endswith(b"\x00\x00\xff\xff"):
                data = data[:-4]
            frame = self._deflated[bits] = frame_header(0xC1, len(data)) + data
        return frame


def shared_deflate_bits(extensions: list[Any]) -> int | None | bool:
    """How a connection's frames can be shared, from the extensions it negotiated.

    ``None``: no extension, plain frames. An ``int``: permessage-deflate without
    context takeover, with that window size: shared deflated frames. ``False``:
    anything else (deflate with context takeover): the connection must compress
    its own frames, through websockets.
    """
    if not extensions:
        return None
    if (len(extensions) == 1 and isinstance(extensions[0], PerMessageDeflate)
            and extensions[0].local_no_context_takeover
            and extensions[0].compress_settings == COMPRESS_SETTINGS):
        return extensions[0].local_max_window_bits
    return False


class Outbox:
    """Frames to write, gathered per connection during one turn of the event loop.

    ``add(transport, frame)`` writes a connection's first frame of the turn at once
    (a chat at a time, as a class chats, waits for nothing) and keeps the ones after
    it; at the end of the turn (``call_soon``) each transport gets those in one
    ``write``: a busy room's member gets at most two writes per turn, however many
    chats it brought. Whatever else writes to a
    transport (websockets' pings, pongs and close frames) must ``flush(transport)``
    first, so frames keep their order: :class:`ChatConnection` does.
    One per server, used on its event loop only.
    """

    __slots__ = ("pending", "scheduled", "frames")

    def __init__(self, frames: OutgoingFrames | None = None) -> None:
        # transport -> the frames gathered for it this turn; None: it had its first.
        self.pending: dict[Any, list[bytes] | None] = {}
        self.scheduled = False
        self.frames = frames  # the server's: send_together needs them (see make_sender)

    def add(self, transport: Any, frame: bytes) -> None:
        """Write ``frame``: at once if it is the first this turn, else at the turn's end."""
        frames = self.pending.get(transport, _FIRST)
        if frames is _FIRST:  # this turn's first frame for it: out at once
            self.pending[transport] = None
            write_now(transport, frame)
            self._schedule()
        elif frames is None:
            self.pending[transport] = [frame]
        else:
            frames.append(frame)

    def _schedule(self) -> None:
        if not self.scheduled:
            self.scheduled = True
            asyncio.get_running_loop().call_soon(self.flush_all)

    def send_together(self, outlets: list[Any], text: str) -> list[int]:
        """Send ``text`` at once to each member whose :class:`Outlet` is this outbox's
        and ready; return the positions in ``outlets`` of the others (for their ``send``).

        It does what each member's ``send`` would -- the frame (built once) straight to
        the socket, this turn's first for it -- with one ``send()`` per member called
        from C (``map``) instead of four Python calls around each. It serves only a turn
        that has written no frame yet (a chat that came alone, as a class chats): after
        that, frames are gathered, and each member's own ``send`` keeps them in order.
        A member's outlet is ready while nothing waits in its transport and its
        connection is open; what the kernel does not take goes to the transport, which
        sends it when it can, as :func:`write_now` does.
        """
        frames = self.frames
        if self.pending or frames is None:
            return list(range(len(outlets)))
        mine = [outlet for outlet in outlets
                if outlet is not None and outlet.ready and outlet.outbox is self]
        at, others = None, []  # at: where mine are in outlets (None: all of them, in order)
        if len(mine) != len(outlets):
            at = [index for index, outlet in enumerate(outlets)
                  if outlet is not None and outlet.ready and outlet.outbox is self]
            others = sorted(set(range(len(outlets))).difference(at))
            for index in others:  # a connection that needed care may be ready next time
                outlet = outlets[index]
                if outlet is not None and outlet.outbox is self:
                    outlet.ready = outlet.can_take()
        if not mine:
            return others
        if frames.text is not text:
            frames.load(text)
        frame = frames.plain
        taken = send_all(list(map(_SOCK, mine)), frame)
        if taken.count(len(frame)) != len(taken):  # a full socket, a broken connection
            for position, count in enumerate(taken):
                if count == len(frame):
                    continue
                outlet = mine[position]
                outlet.ready = False
                if count:  # the rest waits in the transport, which sends it when it can
                    outlet.transport.write(frame[count:])
                else:  # nothing went: its own send decides (buffer it, or skip a dead one)
                    others.append(position if at is None else at[position])
                    mine[position] = None
            mine = [outlet for outlet in mine if outlet is not None]
            others.sort()
        self.pending.update(dict.fromkeys(map(_TRANSPORT, mine)))
        self._schedule()
        return others

    def flush(self, transport: Any) -> None:
        """Write what waits for ``transport`` now (and let its next frame go at once)."""
        frames = self.pending.pop(transport, None)
        if frames:
            write_now(transport, frames[0] if len(frames) == 1 else b"".join(frames))

    def flush_all(self) -> None:
        """Write what waits for every transport (once per turn of the loop)."""
        self.scheduled = False
        pending, self.pending = self.pending, {}
        for transport, frames in pending.items():
            if frames:
                write_now(transport, frames[0] if len(frames) == 1 else b"".join(frames))


def write_now(transport: Any, data: bytes) -> None:
    """``transport.write(data)``, straight to the socket when nothing waits in the transport.

    One ``send()`` system call per member and chat is the floor; asyncio's
    ``write`` spends about as much Python again around it (its checks, its
    buffer). When the transport has nothing buffered, the bytes go to its
    socket at once; what the socket does not take (a full send buffer) and any
    error go through ``transport.write``, which buffers, retries when the socket
    is writable and reports a broken connection as usual. A closing transport
    gets nothing (its socket may already be closed). Transports that are not
    asyncio's own socket transports (uvloop's) just get ``write``::

        >>> class Socket:
        ...     def send(self, data): return 2            # the kernel took 2 bytes
        >>> class Transport:
        ...     _sock, written = Socket(), []
        ...     def is_closing(self): return False
        ...     def get_write_buffer_size(self): return 0
        ...     def write(self, data): self.written.append(data)
        ...     def get_protocol(self): return None
        >>> transport = Transport()
        >>> write_now(transport, b"hello")
        >>> transport.written                             # the rest, buffered by asyncio
        [b'llo']

    """
    if transport.is_closing():
        return
    sock = getattr(transport, "_sock", None)  # asyncio's selector transports keep their socket here
    if sock is not None and not transport.get_write_buffer_size():
        try:
            sent = sock.send(data)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:  # a broken connection: asyncio's write reports it and closes
            sent = 0
        if sent == len(data):
            return
        data = data[sent:]
    transport.write(data)
    outlet = getattr(transport.get_protocol(), "outlet", None)
    if outlet is not None:  # something waits in the transport now: no sends past it
        outlet.ready = False


def send_all(sockets: list[socket.socket], data: bytes) -> list[int]:
    """``socket.send(data)`` on each of ``sockets``, called from C; how many bytes each
    took (0 where it raised: a full or broken socket)::

        >>> left, right = socket.socketpair()
        >>> right.close()                  # a broken connection raises; the others still get it
        >>> one, two = socket.socketpair()
        >>> send_all([left, one], b"hi"), two.recv(2)
        ([0, 2], b'hi')
        >>> for end in (left, one, two): end.close()

    """
    taken: list[int] = []
    for _ in range(len(sockets)):  # each pass takes at least one socket
        try:
            taken.extend(map(socket.socket.send, sockets[len(taken):] if taken else sockets,
                             itertools.repeat(data)))
            break
        except OSError:  # list.extend keeps what came before the one that raised
            taken.append(0)
    return taken


class Outlet:
    """How an :class:`Outbox` reaches one member together with the rest of a room
    (``send.outlet``; ``ChatUser`` keeps it as ``user.outlet``, ``send_each`` uses it).

    ``ready`` says the outbox may send to its socket directly: the connection is open
    and nothing waits in its transport. Whatever could change that marks it: a write
    the kernel did not take whole (:func:`write_now`), websockets' own frames (pings,
    pongs, close: :meth:`ChatConnection.send_data`), the connection's end.
    """

    __slots__ = ("outbox", "transport", "sock", "protocol", "ready")

    def __init__(self, outbox: Outbox, transport: Any, sock: socket.socket, protocol: Any) -> None:
        self.outbox, self.transport, self.sock, self.protocol = outbox, transport, sock, protocol
        self.ready = self.can_take()

    def can_take(self) -> bool:
        """May a frame go straight to the socket? Open, not closing, nothing waiting."""
        return (self.protocol.state is State.OPEN and not self.transport.is_closing()
                and not self.transport.get_write_buffer_size())

    def send_together(self, outlets: list[Any], text: str) -> list[int]:
        """See :meth:`Outbox.send_together` (what ``send_each`` calls)."""
        return self.outbox.send_together(outlets, text)


#: The most one read of a connection takes (asyncio's own is 256 KiB): see ChatConnection.
READ_BYTES = 64 * 1024

_FIRST = object()  # Outbox.pending's "no frame for it this turn yet"
_SOCK, _TRANSPORT = operator.attrgetter("sock"), operator.attrgetter("transport")


# -- the connection and its send function -----------------------------------------------


class ChatConnection(GuardedConnection):
    """Every connection of a chat server: guarded, and its own frames (pings, pongs,
    close) wait for the chat's.

    Chat frames go through the server's :class:`Outbox`, written at the end of the
    loop's turn; a close frame written before them would cut them off. The server
    makes each one with its guard (``functools.partial(ChatConnection, guard=...)``
    as ``serve``'s ``create_connection``); :func:`make_sender` gives it the outbox.
    """

    __slots__ = ("outbox", "keepalive", "outlet")  # see GuardedConnection's

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.outbox: Outbox | None = None  # the server's, once make_sender is called
        self.outlet: Outlet | None = None  # its Outbox's way to it, once make_sender is called
        self.keepalive: Keepalive | None = None  # the server's, once the handshake is done
        super().__init__(*args, **kwargs)
        # websockets only appends to, iterates over and removes from this (its waiters for
        # a paused transport, nearly always none): an empty list is 56 bytes, a deque 760.
        self.drain_waiters = []  # type: ignore[assignment]
        # The names websockets sets later (connection_made, the router), set now: while
        # handshakes overlap, names added later in a connection's life make CPython give
        # each connection a dict of its own (1,584 bytes) instead of a shared-key one (296).
        for name in _LATER_ATTRIBUTES:
            if name not in self.__dict__:
                setattr(self, name, None)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        # asyncio reads with sock.recv(256 KiB): a bytes object that large comes from its
        # own mmap, shrunk by mremap and freed by munmap -- three system calls and a page
        # fault around each small read, and every chat is a small read (cpython#85451).
        # Below glibc's mmap threshold (128 KiB) it comes from the heap instead.
        if isinstance(getattr(transport, "max_size", None), int):
            transport.max_size = READ_BYTES  # type: ignore[attr-defined]
        # websockets' queue of received frames: an empty deque is 760 bytes, and an idle
        # member's queue is nearly always empty (see FrameQueue). Only where it is what
        # this version of websockets makes: another version keeps its own.
        frames = getattr(self.recv_messages, "frames", None)
        if type(getattr(frames, "queue", None)) is collections.deque and not frames.queue:
            frames.queue = FrameQueue()

    def send_data(self) -> None:
        outbox = self.outbox
        if outbox is not None and self.transport in outbox.pending:
            outbox.flush(self.transport)
        super().send_data()
        outlet = self.outlet
        if outlet is not None and outlet.ready:  # a close frame, or a ping the kernel left
            outlet.ready = outlet.can_take()

    def start_keepalive(self) -> None:
        """After a successful handshake (websockets calls this then): share the
        handshake's strings with the other connections, and join the server's one
        :class:`Keepalive` instead of starting a task of this connection's own."""
        server = self.server
        if self.request is not None:
            share_headers(self.request.headers, _shared(server, "strings", dict))
        if self.response is not None:
            share_headers(self.response.headers, _shared(server, "strings", dict))
        if self.ping_interval is not None:
            self.keepalive = _shared(server, (self.ping_interval, self.ping_timeout),
                                     lambda: Keepalive(self.ping_interval, self.ping_timeout))
            self.keepalive.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.outlet is not None:
            self.outlet.ready = False
        super().connection_lost(exc)
        if self.keepalive is not None:
            self.keepalive.discard(self)


class FrameQueue:
    """The few ``deque`` methods websockets' frame queue uses, on a list: 100 bytes when
    empty instead of a deque's 760, and still O(1) at the front (a read position, not
    ``pop(0)``: a message split into a million tiny frames costs no more than before)::

        >>> queue = FrameQueue()
        >>> queue.append("b"); queue.append("c"); queue.extendleft(reversed(["a"]))
        >>> [queue.popleft() for _ in range(len(queue))], bool(queue)
        (['a', 'b', 'c'], False)

    """

    __slots__ = ("items", "head")

    def __init__(self) -> None:
        self.items: list[Any] = []
        self.head = 0  # items before it were taken

    def __len__(self) -> int:
        return len(self.items) - self.head

    def append(self, item: Any) -> None:
        self.items.append(item)

    def popleft(self) -> Any:
        if self.head >= len(self.items):
            raise IndexError("pop from an empty queue")
        item, self.items[self.head] = self.items[self.head], None
        self.head += 1
        if self.head == len(self.items):
            self.items.clear()  # empty again: back to the start
            self.head = 0
        elif self.head > 64 and 2 * self.head > len(self.items):
            del self.items[: self.head]  # drop what was taken, now and then
            self.head = 0
        return item

    def extendleft(self, items: Any) -> None:
        self.items[self.head : self.head] = list(items)[::-1]


#: The attributes websockets gives a connection after ``__init__`` (in this order).
_LATER_ATTRIBUTES = ("recv_messages", "transport", "handler", "handler_kwargs")
#: What the connections of one websockets server share, made on first use.
_SHARED: weakref.WeakKeyDictionary[Any, dict[Any, Any]] = weakref.WeakKeyDictionary()


def _shared(server: Any, key: Any, make: Callable[[], Any]) -> Any:
    """The object ``key`` the connections of ``server`` share: ``make()`` the first time."""
    shared = _SHARED.setdefault(server, {})
    value = shared.get(key)
    if value is None:
        value = shared[key] = make()
    return value


#: Keepalive pings sent in one turn of the event loop, at most (5,000 at once would hold
#: the room's chats up for tens of milliseconds).
PINGS_PER_TURN = 100


class Keepalive:
    """One task pings every open connection of a server, instead of a task each.

    websockets gives each connection a task that sleeps ``ping_interval`` seconds,
    pings, and closes the connection (1011, "keepalive ping timeout") if no pong
    comes within ``ping_timeout``. A class of idle members is that many sleeping
    tasks, about 1 KiB each. Here one task does the same rounds for all: every
    ``interval`` seconds it pings each connection that has no ping outstanding, and
    ``timeout`` seconds later fails those whose pong has not come. A connection's
    ``latency`` is measured by websockets as before. The task ends with the last
    connection. One per server and loop (:class:`ChatConnection` makes it).
    """

    def __init__(self, interval: float, timeout: float | None) -> None:
        self.interval, self.timeout = interval, timeout
        self.connections: dict[Any, asyncio.Future | None] = {}  # -> its pong, if awaited
        self.task: asyncio.Task | None = None
        self.failing: set[asyncio.Task] = set()

    def add(self, connection: Any) -> None:
        """Ping ``connection`` from now on."""
        self.connections[connection] = None
        if self.task is None:
            self.task = asyncio.get_running_loop().create_task(self.run())

    def discard(self, connection: Any) -> None:
        """Stop pinging ``connection`` (it closed); the task ends with the last one."""
        self.connections.pop(connection, None)
        if not self.connections and self.task is not None:
            self.task.cancel()
            self.task = None

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while self.connections:  # ends when the last connection goes (discard cancels it)
            await asyncio.sleep(self.interval)
            for index, (connection, pong) in enumerate(list(self.connections.items())):
                if index % PINGS_PER_TURN == PINGS_PER_TURN - 1:
                    await asyncio.sleep(0)  # let chats through between batches of pings
                if pong is not None or connection.protocol.state is not State.OPEN:
                    continue  # its last ping is still out: the timeout will judge it
                try:
                    pong = await connection.ping()
                except Exception:  # closing meanwhile: connection_lost discards it
                    continue
                if self.timeout is not None and connection in self.connections:
                    self.connections[connection] = pong
            if self.timeout is not None:
                loop.call_later(self.timeout, self.expire)

    def expire(self) -> None:
        """Fail the connections whose keepalive pong has not come in time."""
        for connection, pong in list(self.connections.items()):
            if pong is None:
                continue
            if pong.done():
                self.connections[connection] = None
            elif connection.protocol.state is State.OPEN:
                self.connections[connection] = None
                task = asyncio.get_running_loop().create_task(_ping_timeout(connection))
                self.failing.add(task)
                task.add_done_callback(self.failing.discard)


async def _ping_timeout(connection: Any) -> None:
    """Close ``connection`` as websockets' keepalive does when a pong is late."""
    async with connection.send_context():
        connection.protocol.fail(CloseCode.INTERNAL_ERROR, "keepalive ping timeout")


#: Header names whose values differ on every connection: not worth sharing.
UNIQUE_HEADERS = ("sec-websocket-key", "sec-websocket-accept")
#: Strings and pairs a server keeps for sharing, at most (then it starts afresh).
SHARED_STRINGS = 1024


def share_headers(headers: Headers, shared: dict[Any, Any]) -> None:
    """Make ``headers`` use the strings (and name-value pairs) other connections' use.

    Every handshake decodes its own copies of ``"Upgrade"``, ``"websocket"``, the
    ``Host`` and ``Origin`` a whole class sends alike...: about 2.4 KiB per idle
    connection that are the same for all. ``shared`` (one per server) keeps one of
    each, at most :data:`SHARED_STRINGS` entries. The headers read as before::

        >>> shared = {}
        >>> one, two = Headers(Upgrade="websocket"), Headers(Upgrade="websocket")
        >>> share_headers(one, shared); share_headers(two, shared)
        >>> one["upgrade"], list(two.raw_items()) == list(one.raw_items())
        ('websocket', True)
        >>> next(one.raw_items()) is next(two.raw_items())     # one pair for both
        True

    """
    if len(shared) > SHARED_STRINGS:
        shared.clear()
    pairs, by_name = [], {}
    for name, value in headers.raw_items():
        pair = shared.get((name, value))
        if pair is None:
            names = shared.get(name)
            if names is None:
                names = shared[name] = (name, name.lower())
            pair = (names[0], value)
            if names[1] not in UNIQUE_HEADERS:
                shared[pair] = pair
        pairs.append(pair)
        by_name.setdefault(shared[pair[0]][1], []).append(pair[1])
    headers._dict, headers._list = by_name, pairs  # websockets' Headers: these two slots


def make_sender(
    websocket: ServerConnection,
    max_buffer: int = MAX_BUFFER_BYTES,
    frames: OutgoingFrames | None = None,
    outbox: Outbox | None = None,
    drop: Callable[[Any, str], None] | None = None,
    every: float = MEMBER_LIST_EVERY,
) -> Callable[[str], None]:
    """Return the plain ``send(text)`` function a ``ChatUser`` is given.

    The twin of ``ws.send.bind(ws)``: it writes the frame at once, without
    waiting. A client that stops reading lets unsent data pile up; past
    ``max_buffer`` bytes its connection is dropped, so one stalled laptop costs
    the server bounded memory and never slows the room.

    ``frames`` (one per server, see :class:`OutgoingFrames`) builds
    each message's frame once for every member a room sends it to; each member's
    ``send`` then only writes those bytes -- at the end of the loop's turn, all of
    this turn's frames in one write, if an ``outbox`` (and a :class:`ChatConnection`)
    is given. A connection that negotiated deflate with context takeover
    (``compression="deflate"``) compresses its own, through websockets.

    With an ``outbox`` that holds these ``frames`` (``Outbox(frames)``, as a server
    makes them) and plain frames, ``send.outlet`` lets a room send to this member
    together with the others (:meth:`Outbox.send_together`).

    ``drop(websocket, why)`` (the server's guard) drops a member that stopped
    reading and says so in the log. ``send.latest(kind, text)`` sends text that
    replaces earlier text of its ``kind`` (member lists): at most one per
    ``every`` seconds, the newest.
    """
    protocol = websocket.protocol
    transport = websocket.transport
    frames = OutgoingFrames() if frames is None else frames
    bits = shared_deflate_bits(protocol.extensions)
    if outbox is not None and isinstance(websocket, ChatConnection):
        websocket.outbox = outbox
        write = outbox.add  # write(transport, frame), at the end of the loop's turn
    else:
        write = write_now

    # What send uses is bound as default values, not closed over: one tuple instead of a
    # cell per name (idle members are many: about 1 KiB less each), and read as fast.
    if bits is not False:  # no compression, or deflate without context takeover

        def send(text: str, _protocol=protocol, _transport=transport, _frames=frames,
                 _write=write, _bits=bits, _max_buffer=max_buffer, _websocket=websocket,
                 _drop=drop, _open=State.OPEN) -> None:
            if (_protocol.state is not _open or _transport.is_closing()
                    or _transport.get_write_buffer_size() > _max_buffer):
                _refuse(_websocket, _max_buffer, _drop)
            if _frames.text is not text:
                _frames.load(text)
            # Straight to the socket, as broadcast() would through protocol.send_text:
            # this connection never sends fragments, and websockets writes its own
            # frames (pings, pongs, close) at once, so nothing waits in the protocol.
            # Every member writes the same bytes: plain, or compressed once for all.
            _write(_transport, _frames.plain if _bits is None else _frames.deflated(_bits))

    else:  # deflate with context takeover: this connection's own compressor

        def send(text: str, _websocket=websocket, _max_buffer=max_buffer,
                 _drop=drop) -> None:
            _refuse(_websocket, _max_buffer, _drop)
            try:
                _websocket.protocol.send_text(text.encode())  # refuses mid-fragmented send
                _websocket.send_data()
            except Exception as exc:  # skipped with a warning, as broadcast does
                _websocket.logger.warning(
                    "skipped broadcast: failed to write message: %s",
                    traceback.format_exception_only(exc)[0].strip(),
                )

    send.latest = Latest(send, every)  # type: ignore[attr-defined]
    sock = getattr(transport, "_sock", None)  # asyncio's socket transports (see write_now)
    if (bits is None and write is not write_now and outbox.frames is frames
            and sock is not None):  # plain frames, this server's: the room may send together
        websocket.outlet = send.outlet = Outlet(outbox, transport, sock, protocol)  # type: ignore[attr-defined]
    return send


def _refuse(websocket: Any, max_buffer: int, drop: Callable[[Any, str], None] | None) -> None:
    """Raise ``ConnectionError`` if ``websocket`` cannot be sent to, dropping it (and
    saying why through ``drop``) if more than ``max_buffer`` bytes wait for it."""
    # The state stays OPEN until the loop runs connection_lost; meanwhile a transport that
    # was aborted or failed is closing, and each write to it is logged by asyncio
    # ("socket.send() raised exception."): thousands when a whole class leaves at once.
    transport = websocket.transport
    if websocket.protocol.state is not State.OPEN or transport.is_closing():
        raise ConnectionError("connection is not open")
    if transport.get_write_buffer_size() > max_buffer:
        if drop is not None:
            drop(websocket, "it stopped reading (or reads too slowly)")
        transport.abort()  # the close frame would wait behind the backlog
        raise ConnectionError("client stopped reading: dropped")


class Latest:
    """``send.latest(kind, text)`` for one connection: the first of a ``kind`` now, then
    at most one per ``every`` seconds, the newest (see :func:`make_sender`).

    Its bookkeeping is made on first use: most members never get a member list.
    """

    __slots__ = ("send", "every", "last", "pending")

    def __init__(self, send: Callable[[str], None], every: float) -> None:
        self.send, self.every = send, every
        self.last: dict[str, float] | None = None  # kind -> when one was last sent
        self.pending: dict[str, str] | None = None  # kind -> the newest text held back

    def __call__(self, kind: str, text: str) -> None:
        loop = asyncio.get_running_loop()  # called on the server's loop, as send is
        if self.last is None:
            self.last, self.pending = {}, {}
        due = self.last.get(kind, -math.inf) + self.every
        if kind in self.pending:
            self.pending[kind] = text  # its timer runs: it will send this one
        elif loop.time() >= due:
            self.last[kind] = loop.time()
            self.send(text)
        else:
            self.pending[kind] = text
            loop.call_at(due, self.flush, kind)

    def flush(self, kind: str) -> None:
        """Send the newest text of ``kind`` held back, if any."""
        text = self.pending.pop(kind, None)
        if text is not None:
            self.last[kind] = asyncio.get_running_loop().time()
            try:
                self.send(text)
            except Exception:  # the connection is gone meanwhile: nothing to tell
                pass
