"""``RedisHub``: one server's link to Redis -- the rooms' streams, names, presence.

The I/O shell of :mod:`chatkit.redis.room`, as :mod:`chatkit.server.app` is the shell of ``ChatUser``:
the rooms stay free of I/O, the hub moves their messages to and from Redis. A server
gets one when it is given a Redis address::

    python -m chatkit serve --redis redis://127.0.0.1:6379
    server = chatkit.start(port=0, redis="redis://127.0.0.1:6379")

What lives in Redis (``chatkit`` is the key prefix):

``chatkit:stream:<room>``     the room's stream: every message for it, added once
                              (``XADD MAXLEN ~ 10000``); each server reads it from the
                              last id it saw (:mod:`chatkit.redis.streams`)
``chatkit:names:<room>``      hash name -> "<join number> <member id>": who is in the room,
                              across servers; ``HSETNX`` in a Lua script makes a name
                              unique, with no race between two servers
``chatkit:seq:<room>``        the room's counter: join numbers and roster versions
``chatkit:alive:<server>``    set every ``presence_timeout/3`` s, expires after ``presence_timeout``
``chatkit:servers``           the servers that hold names, and ``chatkit:rooms-of:<server>``

A server whose ``alive`` key expired has died: any other server sweeps its names out
(one Lua script, so only one sweeper announces each) and publishes "<name> left <room>."
for each; a server that finds it was swept (it had stalled) takes its members' names
back, and tells a member whose name went to someone else to pick another. If Redis goes
away, each server keeps its own members chatting (local delivery) and keeps what they
say for the others (bounded: past it, each sender is told), says so in its activity log,
reconnects with backoff, puts its members back into Redis, passes on what it kept, and
reads on from the last id it saw. A room's keys go when its last member leaves.

The hub reads frames with the core's grammar (:mod:`chatkit.core.grammar`), writes and
reads what it adds to the streams with :mod:`chatkit.redis.envelope`, and runs the Lua of
:mod:`chatkit.redis.scripts`; what is left here is I/O. To a ``ChatServer`` it is a
rooms backend (:mod:`chatkit.server.rooms`): ``chat_user``, ``prepare``, ``serving``, ``close``.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import itertools
import json
import logging
import random
import time
import traceback
import uuid
from typing import Any, Callable

from ..core import grammar
from ..core.grammar import MEMBERS, NAME, PRIV, Command, Join, may_be_join_or_command, read
from ..core.messages import ProtocolError, check_name, encode, error
from ..core.room import send_member_lists
from ..support.urls import redacted
from .envelope import All, Late, Roster, To, decode
from .room import RedisRoom
from .scripts import SCRIPTS, roster
from .streams import FIELD, MAXLEN, StreamReader

__all__ = ["RedisHub", "Flow"]

logger = logging.getLogger("chatkit")

#: Seconds between reconnection attempts: doubled after each failure, up to the maximum.
BACKOFF_START, BACKOFF_MAX = 0.1, 5.0
#: Operations waiting for Redis, at most; past that a chat is delivered here only.
MAX_OUTBOX = 10_000
#: Chats and notes said here while Redis was away, kept for the other servers until it is
#: back; past that each sender is told that its chat reached only this server.
MAX_BACKLOG = 1_000
#: A server whose alive key expired but whose connection to Redis is still open has
#: stalled (a paused VM, a laptop lid), not died: it is swept only after this many
#: presence timeouts. A dead process's connections close at once (its kernel says so).
STALL_GRACE = 6

@dataclasses.dataclass(frozen=True)
class Flow:
    """One step of a message's way, for the message-flow picture.

    ``action`` is "publish" (this server sent it to Redis), "deliver" (Redis brought
    it; ``count`` members here got it) or "local" (Redis was away: delivered here only).
    """

    time: float
    server: str  # the id of the hub that recorded it (``RedisHub.sid``)
    action: str
    room: str
    origin: str  # the id of the hub that published it
    text: str
    count: int = 0


class RedisHub:
    """One server's link to Redis: makes its rooms, adds to their streams, reads them.

    >>> hub = RedisHub("redis://127.0.0.1:6379", name="A")   # nothing connects yet
    >>> people = hub.Room.get("people")
    >>> people, people.hub is hub
    (<RedisRoom 'people': 0 members, 0 here>, True)

    Args:
        url: the Redis server, ``redis://host:port``.
        room: the room class (``RedisRoom`` or a subclass: its ``broadcast`` and
            ``listen`` are the two halves a student writes in notebook 7).
        name: this server's name in the activity log and the flow picture.
        presence_timeout: seconds after which a server that stopped answering is
            taken for dead, and its members are announced as gone.
        prefix: the start of every key and channel.
        report: called with ``(kind, text)`` or ``(kind, text, detail)`` for the
            activity log (``ChatServer.report``).
        max_backlog: chats and notes kept for the other servers while Redis is away,
            at most; past that, the sender of each chat is told it reached this server only.
        stall_grace: presence timeouts a silent server that still holds its connection
            to Redis (stalled, not dead) keeps its members' names before it is swept.
    """

    def __init__(
        self,
        url: str,
        *,
        room: type[RedisRoom] = RedisRoom,
        name: str | None = None,
        presence_timeout: float = 5.0,
        prefix: str = "chatkit",
        report: Callable[..., Any] | None = None,
        max_backlog: int = MAX_BACKLOG,
        stall_grace: float = STALL_GRACE,
    ) -> None:
        self.url = url
        self.shown_url = redacted(url)  # in every message and repr: no password
        self.sid = uuid.uuid4().hex[:12]  # this server's id in Redis
        self.name = name or self.sid
        self.presence_timeout = presence_timeout
        self.max_backlog = max_backlog
        self.stall_grace = stall_grace
        self._silent_since: dict[str, float] = {}  # server id -> when its alive key was missed
        self.prefix = prefix
        self.report = report or (lambda kind, text, detail="": logger.info("%s", text))
        self.Room = room.new_registry()  # this server's rooms
        self.Room.hub = self
        self.connected = False
        self.flow: collections.deque[Flow] = collections.deque(maxlen=1000)
        self.members: dict[str, Any] = {}  # member id -> member of this server
        self._ids: dict[Any, str] = {}  # member -> member id
        self._claims: dict[Any, tuple[str, str]] = {}  # member -> (room, name held in Redis)
        self._next_id = itertools.count(1)
        self._outbox: collections.deque[tuple] = collections.deque()
        self._backlog: collections.deque[tuple[str, str]] = collections.deque()  # (room, text)
        self._listening: asyncio.Future | None = None  # the room's listen loop, running
        self._positions: dict[str, str] = {}  # stream key -> the last id read from it
        self._reader: StreamReader | None = None
        self._clock_offset = 0.0  # Redis's clock minus ours, in seconds
        self._seqs: dict[str, int] = {}  # member id -> join number, as Redis last said
        self._room_channel = f"{prefix}:stream:"
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wakeup: asyncio.Event | None = None
        self._connected_since = 0.0
        self._full = False  # the outbox overflowed (reported once per episode)
        self._sending = False  # a batch is on its way to Redis
        self.client: Any = None
        #: Parts that run with the hub (the shared desk: :mod:`chatkit.redis.desk`):
        #: ``await part.start()`` once connected, ``await part.close()`` first on close.
        self.parts: list[Any] = []

    def attach(self, part: Any) -> None:
        """Run ``part`` with the hub: started once it is connected, closed before it."""
        self.parts.append(part)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "not connected"
        return f"<RedisHub {self.name!r} {self.shown_url} {state}>"

    def chat_user(self, chat_user: type) -> type:
        """``chat_user``, with its rooms made by this hub (shared through Redis)."""
        return type(chat_user.__name__, (chat_user,),
                    {"Room": self.Room, "__module__": chat_user.__module__})

    # -- keys --------------------------------------------------------------------------

    def channel(self, room: str) -> str:
        return self._room_channel + room

    def _keys(self, room: str) -> list[str]:
        p = self.prefix
        return [f"{p}:names:{room}", f"{p}:seq:{room}", f"{p}:rooms-of:{self.sid}",
                f"{p}:stream:{room}"]

    # -- starting and stopping -------------------------------------------------------

    async def start(self, timeout: float = 5.0) -> None:
        """Connect, and run the stream reader, publisher and heartbeat tasks.

        Raises ``ConnectionError`` if Redis does not answer within ``timeout`` seconds.
        """
        import redis.asyncio as aioredis
        from redis.asyncio.retry import Retry
        from redis.backoff import NoBackoff

        self._loop = asyncio.get_running_loop()
        self._wakeup = asyncio.Event()
        self._claiming = asyncio.Lock()
        # No retries of its own (one, for a pooled connection Redis closed): the
        # supervisor below reconnects with backoff and says so in the activity log.
        self.client = aioredis.Redis.from_url(
            self.url, decode_responses=True, socket_connect_timeout=2.0, socket_timeout=5.0,
            retry=Retry(NoBackoff(), 1), socket_keepalive=True,
        )
        self._scripts = {name: self.client.register_script(text)
                         for name, text in SCRIPTS.items()}
        try:
            await asyncio.wait_for(self.client.ping(), timeout)
        except Exception as exc:
            await self.client.aclose()
            raise ConnectionError(
                f"cannot reach Redis at {self.shown_url} ({_reason(exc)}): is redis-server running?"
                " (see `make redis`, or chatkit.redis.local.start_redis())") from None
        ready = asyncio.Event()
        self._tasks = [self._loop.create_task(coro) for coro in
                       (self._supervise(ready), self._publisher(), self._heartbeat())]
        try:
            await asyncio.wait_for(ready.wait(), timeout)
            for part in self.parts:
                await asyncio.wait_for(part.start(), timeout)
        except TimeoutError:
            await self.close()
            raise ConnectionError(f"could not start reading at {self.shown_url} within {timeout} s") from None

    async def close(self, timeout: float = 2.0) -> None:
        """Send what is waiting, take this server out of Redis, and disconnect."""
        if self.client is None:
            return
        for part in self.parts:
            await part.close()
        try:
            async with asyncio.timeout(timeout):
                while (self._outbox or self._sending) and self.connected:
                    await asyncio.sleep(0.01)
                if self.connected:
                    pipe = self.client.pipeline(transaction=False)
                    pipe.delete(f"{self.prefix}:alive:{self.sid}")
                    if not self._claims:  # nothing left to sweep: leave no trace
                        pipe.srem(f"{self.prefix}:servers", self.sid)
                        pipe.delete(f"{self.prefix}:rooms-of:{self.sid}")
                    await pipe.execute()
        except Exception:
            pass
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        try:
            await self.client.aclose()
        except Exception:
            pass
        self.connected = False

    def serving(self, serve: Any) -> Any:
        """Wrap a websockets ``serve(...)``: the hub starts before it listens, stops after."""
        return _Serving(self, serve)

    # -- what rooms call (sync, on the server's loop) -------------------------------------

    def publish(self, room: RedisRoom, text: str) -> None:
        """Add ``text`` to ``room``'s stream; while Redis is away, deliver it here and keep it."""
        if not room.members:
            return  # nobody left anywhere (the last one's goodbye): the room's keys go
        if self.connected and self._put(("publish", room.name, All(self.sid, text).encode(), text)):
            return
        self._local(room, text)
        self._keep(room, text)

    def send_to(self, room: RedisRoom, member_id: str, name: str, text: str) -> None:
        """Send ``text`` to one member on another server (``/priv``)."""
        if not self.connected or not self._put(
                ("publish", room.name, To(self.sid, member_id, text).encode(), None)):
            raise room.unreachable(name)

    def joined(self, room: RedisRoom, member: Any) -> None:
        """``member`` joined ``room`` here: the other servers hear it after the join note."""
        if member not in self._ids:
            self._ids[member] = self._new_id(member)
        key = self.channel(room.name)
        if key not in self._positions and self.connected:
            # Joined without a claim (room.join called directly): read from now on,
            # now as Redis's clock says (stream ids are its milliseconds), a little before.
            now = time.time() + self._clock_offset
            self._positions[key] = f"{max(0, int(now * 1000) - 50)}-0"
            self._put(("wake", room.name))
        if self.connected and self._loop is not None:
            self._loop.call_soon(self._put, ("roster", room.name))

    def left(self, room: RedisRoom, member: Any) -> None:
        """``member`` left: free its name, then (after the leave note) tell the others."""
        member_id = self._ids.pop(member, None)
        self.members.pop(member_id, None)
        self._seqs.pop(member_id, None)
        claim = self._claims.pop(member, None)
        if not room.local:  # no member here any more: stop reading its stream
            self._positions.pop(self.channel(room.name), None)
        if claim is not None and self.connected:
            self._put(("release", claim[0], claim[1], member_id, "" if room.local else "last"))
            if len(room.members) > 0:
                self._loop.call_soon(self._put, ("roster", room.name))

    # -- what the server calls before each frame (async: Redis answers first) ----------

    async def prepare(self, user: Any, raw: str | bytes) -> None:
        """Before ``user.handle_message(raw)``: claim a name in Redis, or refresh the roster.

        A ``join`` or ``/name`` claims the name atomically (``HSETNX``); the room's
        member list is then Redis's, so ``ChatUser``'s own check ("already taken")
        gives the answer. ``/members`` and ``/priv`` read the list fresh. Anything
        else costs nothing. A claim the handler did not use is released after it.
        """
        if not self.connected:
            return  # names are checked against what this server last heard
        if not may_be_join_or_command(raw):
            return  # a plain chat: most frames stop here
        try:
            frame = read(raw)  # the core's grammar, as ChatUser reads it
            room = self.Room.get(user.room.name)
            if isinstance(frame, Join) and user.name is None:
                await self._claim(room, user, check_name(frame.name), None)
            elif isinstance(frame, Command) and user.name is not None:
                if frame.word == NAME:
                    new_name = check_name(frame.rest)
                    if new_name != user.name:
                        await self._claim(room, user, new_name, user.name)
                elif frame.word in (MEMBERS, PRIV):
                    await self._refresh(room)
        except ProtocolError:
            return  # the handler itself will say what is wrong
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # Redis went away: go on with what this server knows
            self._lost(exc)

    async def _claim(self, room: RedisRoom, user: Any, name: str, old: str | None) -> None:
        member_id = self._ids.get(user) or self._new_id(user)
        self._ids[user] = member_id
        # One claim at a time on this server: its handler (which joins) runs before the
        # next claim's answer is read, so a name claimed here is never taken twice here.
        async with self._claiming:
            if old is None:
                ok, version, flat, last = await self._scripts["claim"](
                    keys=self._keys(room.name), args=[name, member_id, room.name])
                await self._read(room.name, last)
            else:
                ok, version, flat = await self._scripts["rename"](
                    keys=self._keys(room.name)[:2], args=[old, name, member_id])
        room.load_roster(int(version), self._roster(flat), self.members)
        if ok:
            self._claims[user] = (room.name, name)
            self._loop.call_soon(self._settle, user, room.name, name, old)

    def _settle(self, user: Any, room: str, name: str, old: str | None) -> None:
        """After the handler: keep the claim it used, undo the one it did not."""
        if self._claims.get(user) != (room, name):
            return  # the member left meanwhile: its name is released already
        if user.name == name:
            if old is not None:
                self._put(("roster", room))  # renamed: after the "is now known as" note
            return
        member_id = self._ids[user]
        if old is None or user.name is None:
            self._claims.pop(user, None)
            self._put(("release", room, name, member_id, ""))
        else:
            self._claims[user] = (room, user.name)
            self._put(("rename", room, name, user.name, member_id))

    async def _refresh(self, room: RedisRoom) -> None:
        _, version, flat = await self._scripts["roster"](keys=self._keys(room.name)[:2])
        room.load_roster(int(version), self._roster(flat), self.members)

    def _roster(self, flat: list[str]) -> list[tuple[str, str]]:
        """The roster in ``flat``; remember the join numbers of members here."""
        seqs: dict[str, int] = {}
        entries = roster(flat, seqs)
        self._seqs.update((k, v) for k, v in seqs.items() if k in self.members)
        return entries

    def _new_id(self, member: Any) -> str:
        member_id = f"{self.sid}:{next(self._next_id)}"
        self.members[member_id] = member
        return member_id

    # -- receiving: the reading loop's deliver ------------------------------------------

    def receive(self, message: dict[str, Any]) -> None:
        """Handle one entry of a room's stream: deliver it to this server's members."""
        if message.get("type") not in ("pmessage", "message"):
            return  # not a message (a subscription's confirmation)
        room = self.Room.rooms.get(message["channel"][len(self._room_channel):])
        if room is None:
            return  # no member of this room here
        match decode(message["data"]):
            case All(origin, text):  # most messages: a chat or a note for the whole room
                count = room.deliver(text)
            case Late(origin, text):  # said while Redis was away; its own server had it then
                if origin == self.sid:
                    return
                count = room.deliver(text)
            case To(origin, member_id, text):
                count = 0
                member = self.members.get(member_id)
                if member is not None and member in room.local:
                    member.send(text)
                    count = 1
            case Roster(origin, version, entries):  # [name, member id, join number], in join order
                before = [m.name for m in room.members]
                self._seqs.update((e[1], e[2]) for e in entries if e[1] in self.members)
                if room.load_roster(version, [(e[0], e[1]) for e in entries], self.members):
                    if [m.name for m in room.members] != before:
                        send_member_lists(room.members)
                return
        self._record("deliver", room.name, origin, text, count)

    # -- sending: the publisher task --------------------------------------------------

    def _put(self, op: tuple) -> bool:
        """Queue one operation for Redis; False if the queue is full."""
        if len(self._outbox) >= MAX_OUTBOX:
            if not self._full:
                self._full = True
                self.report("error", f"Redis is not keeping up: over {MAX_OUTBOX} messages"
                                     " waiting; delivering on this server only meanwhile")
            return False
        self._full = False
        self._outbox.append(op)
        if self._wakeup is not None:
            self._wakeup.set()
        return True

    async def _publisher(self) -> None:
        """Send queued operations in order; publishes in a row go in one round trip."""
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._outbox and self.connected:
                batch: list[tuple] = []
                while self._outbox and len(batch) < 500 and (
                        not batch or batch[-1][0] == "publish" == self._outbox[0][0]):
                    batch.append(self._outbox.popleft())
                self._sending = True
                try:
                    await self._send(batch)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._lost(exc)
                    for op in [*batch, *self._outbox]:
                        if op[0] == "publish" and op[3] is not None:
                            room = self.Room.rooms.get(op[1])
                            if room is not None:
                                self._local(room, op[3])
                                self._keep(room, op[3])
                    self._outbox.clear()
                finally:
                    self._sending = False

    async def _send(self, batch: list[tuple]) -> None:
        kind = batch[0][0]
        if kind == "publish":
            pipe = self.client.pipeline(transaction=False)
            for _, room, payload, text in batch:
                pipe.xadd(self.channel(room), {FIELD: payload}, maxlen=MAXLEN, approximate=True)
                if text is not None:  # recorded first: Redis may deliver it before it answers
                    self._record("publish", room, self.sid, text)
            await pipe.execute()
            return
        (op,) = batch
        room = op[1]
        if kind == "release":
            await self._scripts["release"](keys=self._keys(room), args=[op[2], op[3], room, op[4]])
        elif kind == "rename":
            await self._scripts["rename"](keys=self._keys(room)[:2], args=[op[2], op[3], op[4]])
        elif kind == "wake":
            await self._wake()
        elif kind == "roster":
            _, version, flat = await self._scripts["roster"](keys=self._keys(room)[:2])
            await self._publish_roster(room, int(version), flat)

    async def _publish_roster(self, room: str, version: int, flat: list[str]) -> None:
        seqs: dict[str, int] = {}
        entries = [[name, member_id, seqs[member_id]] for name, member_id in roster(flat, seqs)]
        await self.client.xadd(self.channel(room), {FIELD: Roster(self.sid, version, entries).encode()},
                               maxlen=MAXLEN, approximate=True)

    # -- Redis away and back: the supervisor --------------------------------------------

    async def _supervise(self, ready: asyncio.Event) -> None:
        """Read the rooms' streams through the room's ``listen``; on failure, reconnect with backoff."""
        import redis.asyncio as aioredis

        delay = BACKOFF_START
        while True:
            # A connection of its own for the blocking XREAD (socket timeout past its block).
            reader_client = aioredis.Redis.from_url(
                self.url, decode_responses=True, socket_connect_timeout=2.0,
                socket_timeout=10.0, single_connection_client=True,
                client_name=self._reader_name(self.sid))  # others see a stall by it
            try:
                # Connections pooled before a loss may lead to a Redis that restarted:
                # close them all, so no command of ours fails on a dead socket later.
                await self.client.connection_pool.disconnect()
                self._reader = StreamReader(reader_client, self._positions)
                await self._reader.connect()
                await self._came_back()
                ready.set()
                delay = BACKOFF_START
                self._listening = asyncio.ensure_future(self.Room.listen(self._reader, self.receive))
                try:  # until it fails, or _lost (a command failed) cancels it
                    await asyncio.wait({self._listening})
                finally:
                    self._listening.cancel()  # and let it finish before its connection closes
                    await asyncio.wait({self._listening}, timeout=1.0)
                if self._listening.cancelled():
                    raise ConnectionError("a command to Redis failed")
                self._listening.result()
                raise ConnectionError("the reading loop (listen) returned")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc)
            finally:
                self._reader = None
                try:
                    await reader_client.aclose()
                except Exception:  # a cancellation goes through: close() is stopping us
                    pass
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, BACKOFF_MAX)

    def _reader_name(self, sid: str) -> str:
        return f"{self.prefix}:reader:{sid}"

    async def _read(self, room: str, last: str) -> None:
        """Read ``room``'s stream from ``last`` on, if this server does not read it yet."""
        key = self.channel(room)
        if key in self._positions:
            return
        self._positions[key] = last
        await self._wake()

    async def _wake(self) -> None:
        """The streams to read changed: the reader's waiting XREAD starts again."""
        if self._reader is not None and self._reader.id is not None:
            self._reader.wake()
            await self.client.client_unblock(self._reader.id)

    async def _came_back(self, swept: bool = False) -> None:
        """(Re)connected, or found swept: put this server's members back into Redis.

        Each member gets its name back, in its place, unless another server gave
        the name away meanwhile: then that member is told to pick another (it must
        join again). Chats said here meanwhile go to the other servers after.
        """
        was_away = self._connected_since != 0.0
        before = time.time()
        seconds, micros = await self.client.time()
        self._clock_offset = seconds + micros / 1e6 - (before + time.time()) / 2
        await self._beat()
        await self.client.sadd(f"{self.prefix}:servers", self.sid)
        for room in self.Room.rooms.values():
            room.roster_version = 0  # a Redis that restarted counts from 0 again
        rooms = set(self.Room.rooms) | set(
            await self.client.smembers(f"{self.prefix}:rooms-of:{self.sid}"))
        for name in sorted(rooms):
            room = self.Room.rooms.get(name)
            pairs: list[str] = []
            for member in (room.local if room is not None else ()):
                if getattr(member, "name", None) is not None:
                    member_id = self._ids.get(member) or self._new_id(member)
                    self._ids[member] = member_id
                    self._claims[member] = (name, member.name)
                    pairs += [member_id, member.name, str(self._seqs.get(member_id, 0))]
            version, clashes, flat, last, back = await self._scripts["resync"](
                keys=self._keys(name), args=[self.sid, name, *pairs])
            if room is None:
                continue
            if room.local:
                key = self.channel(name)
                self._positions.setdefault(key, last)
            for clash in clashes:
                self._turn_away(room, clash)
            room.load_roster(int(version), self._roster(flat), self.members)
            await self._publish_roster(name, int(version), flat)
            if swept:  # the others were told they left: they are back
                for member_name in back:
                    self._put(("publish", name, All(self.sid, encode(grammar.joined(member_name, name))).encode(), None))
        # What was said here while Redis was away, for the other servers (here: said already).
        late = list(self._backlog)
        self._backlog.clear()
        if late:
            pipe = self.client.pipeline(transaction=False)
            for room_name, text in late:
                pipe.xadd(self.channel(room_name), {FIELD: Late(self.sid, text).encode()},
                          maxlen=MAXLEN, approximate=True)
            await pipe.execute()
        self.connected = True
        self._connected_since = time.monotonic()
        if not swept:
            self.report("listen", f"{'reconnected to' if was_away else 'connected to'} Redis at"
                                  f" {self.shown_url}: rooms shared with other servers"
                                  + (f" ({len(late)} messages passed on)" if late else ""))
        if self._outbox and self._wakeup is not None:
            self._wakeup.set()

    def _turn_away(self, room: RedisRoom, name: str) -> None:
        """``name`` was given to a member elsewhere while ours could not say it was taken."""
        for member in list(room.local):
            if getattr(member, "name", None) == name:
                self.report("error", f"{name!r} in {room.name!r} was taken on another server"
                                     " meanwhile: told ours to pick another name")
                member.send(encode(error(
                    f'"{name}" was taken on another server while this one could not reach'
                    ' Redis: pick another name and join again')))
                self._claims.pop(member, None)  # the name is the other's: release nothing
                room.local.pop(member, None)
                room.members.pop(member, None)
                member.name = None

    def _keep(self, room: RedisRoom, text: str) -> None:
        """Keep ``text`` (said while Redis was away) for the other servers, or tell its sender.

        Kept even if no member elsewhere is known: this server may not have heard of
        one who joined just before Redis went away.
        """
        if len(self._backlog) < self.max_backlog:
            self._backlog.append((room.name, text))
            return
        try:
            data = json.loads(text)
        except ValueError:
            return
        if data.get("type") == "chat":  # tell the one who said it
            for member in room.local:
                if getattr(member, "name", None) == data.get("name"):
                    member.send(encode(error(
                        f"not delivered to the other servers (Redis is away and {self.max_backlog}"
                        f" messages are waiting): {data.get('text', '')[:40]}")))

    def _lost(self, exc: BaseException) -> None:
        """Redis stopped answering: say so once, deliver locally until it is back."""
        if self._listening is not None:
            self._listening.cancel()  # the supervisor reconnects
        if not self.connected:
            return
        self.connected = False
        if isinstance(exc, (ConnectionError, OSError, TimeoutError)) or type(exc).__module__.startswith("redis"):
            self.report("error", f"lost Redis at {self.shown_url} ({_reason(exc)}): members here"
                                 " keep chatting with each other; reconnecting")
        else:  # the room's listen loop raised: show where
            self.report("exception", f"the reading loop (listen) raised {_reason(exc)}; reconnecting",
                        "".join(traceback.format_exception(exc)))

    # -- presence: heartbeat and sweeper --------------------------------------------

    async def _beat(self) -> None:
        await self.client.set(f"{self.prefix}:alive:{self.sid}", self.name,
                              px=max(1, int(self.presence_timeout * 1000)))

    async def _heartbeat(self) -> None:
        """Refresh this server's ``alive`` key; sweep servers whose key expired."""
        while True:
            await asyncio.sleep(self.presence_timeout / 3)
            if not self.connected:
                continue
            try:
                await self._beat()
                if not await self.client.sismember(f"{self.prefix}:servers", self.sid):
                    # Swept: stalled past the timeout (a paused VM), taken for dead.
                    self.report("error", "this server was swept (it stalled past the presence"
                                         " timeout): taking its members' names back")
                    await self._came_back(swept=True)
                # Just back? Others may not have beaten yet: wait a whole timeout first.
                if time.monotonic() - self._connected_since >= self.presence_timeout:
                    await self._sweep()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._lost(exc)

    async def _sweep(self) -> None:
        """Sweep the servers that stopped beating: dead, or stalled past the grace."""
        others = sorted(await self.client.smembers(f"{self.prefix}:servers") - {self.sid})
        pipe = self.client.pipeline(transaction=False)
        for sid in others:
            pipe.exists(f"{self.prefix}:alive:{sid}")
        silent = [sid for sid, alive in zip(others, await pipe.execute()) if not alive]
        self._silent_since = {sid: t for sid, t in self._silent_since.items() if sid in silent}
        if not silent:
            return
        # A stalled server's process still holds its reader's connection (named after it).
        holding = {c.get("name") for c in await self.client.client_list()}
        now = time.monotonic()
        for sid in silent:
            since = self._silent_since.setdefault(sid, now)
            if (self._reader_name(sid) in holding
                    and now - since < self.stall_grace * self.presence_timeout):
                continue  # stalled, not dead (yet): its members keep their names
            self._silent_since.pop(sid, None)
            swept = await self._scripts["sweep"](
                keys=[f"{self.prefix}:servers"], args=[sid, self.prefix])
            for room, version, gone, flat in swept:
                self.report("drop", f"server {sid} stopped answering: {', '.join(gone)}"
                                    f" left {room!r}")
                for name in gone:  # as each would have said it, leaving: ChatUser's note
                    payload = All(self.sid, encode(grammar.left(name, room))).encode()
                    self._put(("publish", room, payload, None))
                self._put(("roster", room))

    # -- the flow picture's record ---------------------------------------------------

    def _local(self, room: RedisRoom, text: str) -> None:
        count = room.deliver(text)
        self._record("local", room.name, self.sid, text, count)

    def _record(self, action: str, room: str, origin: str, text: str, count: int = 0) -> None:
        self.flow.append(Flow(time.time(), self.sid, action, room, origin, text, count))


class _Serving:
    """``await`` or ``async with`` it like websockets' ``serve``; the hub runs alongside."""

    def __init__(self, hub: RedisHub, serve: Any) -> None:
        self.hub, self.serve = hub, serve

    async def _start(self) -> Any:
        await self.hub.start()
        try:
            server = await self.serve
        except BaseException:
            await self.hub.close()
            raise
        if self.hub.name == self.hub.sid:
            self.hub.name = f":{server.sockets[0].getsockname()[1]}"
        return server

    def __await__(self):
        return self._start().__await__()

    async def __aenter__(self) -> Any:
        self.server = await self._start()
        return self.server

    async def __aexit__(self, *exc_info: Any) -> None:
        self.server.close()
        await self.server.wait_closed()
        await self.hub.close()


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
