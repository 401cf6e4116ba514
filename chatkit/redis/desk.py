"""``SharedDesk``: the instructor's desk across every server on one Redis.

With ``--redis`` a class is spread over several servers; the instructor opens the desk
of one of them. What the desk does must hold on all of them, and it must show all of
the class. In Redis (``chatkit`` is the key prefix):

``chatkit:desk``                 a stream of the instructor's actions: mute, unmute,
                                 remove, keep-out (the clients a remove kept out),
                                 announce, and each wrong class or instructor code
                                 (what, the address: every server counts it, so a
                                 lockout holds on all); every server does the same
``chatkit:desk:muted``           sets of name keys, and of clients (addresses; on a hub,
``chatkit:desk:removed``         logins) kept out: a server that starts later reads
``chatkit:desk:kept-out``        them first, so a removed student is out there too
``chatkit:desk:seats:<server>``  that server's members (JSON), renewed while it lives
``chatkit:desk:servers``         the servers that publish seats (none: no keys)

The actions and the sets last as long as the class's servers run: each renews their
expiry (three presence timeouts); the next class, on the same Redis, starts afresh --
as a single server's desk forgets when the server stops.

Each server runs one: :meth:`act` publishes an action; every other server's
:meth:`_follow` loop hands it to ``apply(kind, names, clients, room)`` (the server's own
desk acts at once, and skips its echo); :meth:`class_rooms` merges every server's
seats for the roster::

    shared = SharedDesk(hub, apply=desk.apply_shared, seats=desk.seats_here)
    hub.attach(shared)                      # started and stopped with the hub
    await shared.act("mute", ["bob"])       # bob is muted on every server
    await shared.class_rooms()              # {"people": [{"name": "ann", "server": ":3001", ...}]}
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any, Awaitable, Callable

__all__ = ["SharedDesk", "ACTIONS"]

logger = logging.getLogger("chatkit")

#: What an instructor's action may be, and the set it changes (add, or discard).
ACTIONS = {"mute": ("muted", True), "unmute": ("muted", False), "remove": ("removed", True),
           "keep-out": ("kept-out", True), "announce": (None, True), "wrong": (None, True)}
#: Entries the action stream keeps, about (a class's worth of actions, many times over).
MAXLEN = 1000
#: Seconds one XREAD of the action stream waits; seconds between two looks at the seats.
BLOCK, SEATS_EVERY = 2.0, 0.3
#: Members one server's seats list at most (its roster in the instructor's view).
MAX_SEATS = 5000


class SharedDesk:
    """One server's part of the shared desk (see the module's doc).

    Args:
        hub: the server's :class:`~chatkit.redis.hub.RedisHub` (its URL, prefix, id, name).
        apply: ``apply(kind, names, clients, room)``, called on the server's loop for each
            action another server published (and for the sets, at start).
        seats: ``seats() -> (version, {room: [member, ...]})``, this server's roster.
    """

    def __init__(self, hub: Any, apply: Callable[[str, list[str], list[str]], Awaitable[Any]],
                 seats: Callable[[], tuple[int, dict[str, list[dict[str, Any]]]]]) -> None:
        self.hub = hub
        self.apply = apply
        self.seats = seats
        self.key = f"{hub.prefix}:desk"
        self.client: Any = None
        self._tasks: list[asyncio.Task] = []

    def _set(self, name: str) -> str:
        return f"{self.key}:{name}"

    async def start(self) -> None:
        """Connect; apply what the sets hold; follow the stream; publish this server's seats."""
        import redis.asyncio as aioredis

        self.client = aioredis.Redis.from_url(
            self.hub.url, decode_responses=True, socket_connect_timeout=2.0,
            socket_timeout=BLOCK + 5.0)
        newest = await self.client.xrevrange(self.key, count=1)
        last = newest[0][0] if newest else "0-0"  # actions before it: in the sets already
        muted, removed, kept_out = await asyncio.gather(*(self.client.smembers(self._set(s))
                                                          for s in ("muted", "removed", "kept-out")))
        for kind, names in (("mute", muted), ("remove", removed)):
            if names:
                await self.apply(kind, sorted(names), [])
        if kept_out:
            await self.apply("keep-out", [], sorted(kept_out))
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._follow(last)), loop.create_task(self._publish())]

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self.client is not None:
            try:
                pipe = self.client.pipeline(transaction=False)
                pipe.delete(self._set(f"seats:{self.hub.sid}"))
                pipe.srem(self._set("servers"), self.hub.sid)
                await asyncio.wait_for(pipe.execute(), 2.0)
            except Exception:
                pass
            try:
                await self.client.aclose()
            except Exception:
                pass
            self.client = None

    async def act(self, kind: str, names: list[str] = (), clients: list[str] = (),
                  room: str | None = None) -> None:
        """Publish an action to every server (and keep it in its set for later ones);
        ``room``: where a remove closes connections (None: every room)."""
        which, add = ACTIONS[kind]
        values = list(clients) if kind == "keep-out" else list(names)
        pipe = self.client.pipeline(transaction=True)
        if values and which is not None:
            (pipe.sadd if add else pipe.srem)(self._set(which), *values)
            pipe.expire(self._set(which), self.ttl)
        pipe.xadd(self.key, {"a": kind, "o": self.hub.sid, "n": json.dumps(list(names)),
                             "c": json.dumps(list(clients)), "r": json.dumps(room)},
                  maxlen=MAXLEN, approximate=True)
        pipe.expire(self.key, self.ttl)
        await pipe.execute()

    @property
    def ttl(self) -> int:
        """Seconds the desk's keys outlive the last server that renews them."""
        return max(2, int(self.hub.presence_timeout * 3))

    async def class_rooms(self) -> dict[str, list[dict[str, Any]]]:
        """Every server's members, merged: ``{room: [member, ...]}``, each with its ``server``."""
        sids = sorted(await self.client.smembers(self._set("servers")))
        found: dict[str, list[dict[str, Any]]] = {}
        if not sids:
            return found
        values = await self.client.mget([self._set(f"seats:{sid}") for sid in sids])
        gone = [sid for sid, value in zip(sids, values) if value is None]
        if gone:
            await self.client.srem(self._set("servers"), *gone)
        for value in values:
            if value is None:
                continue
            try:
                published = json.loads(value)
                server, rooms = published["server"], published["rooms"]
                for room, members in rooms.items():
                    found.setdefault(room, []).extend(
                        {**member, "server": server} for member in members)
            except (ValueError, KeyError, TypeError, AttributeError):
                continue  # not ours, or from another version: skipped
        for members in found.values():
            members.sort(key=lambda member: member.get("since", 0))
        return dict(sorted(found.items()))

    async def _follow(self, last: str) -> None:
        """Apply every action another server publishes; on a failure, retry (bounded waits)."""
        while True:
            try:
                answer = await self.client.xread({self.key: last}, count=100,
                                                 block=int(BLOCK * 1000))
                for _, entries in answer or ():
                    for entry_id, fields in entries:
                        last = entry_id
                        if fields.get("o") == self.hub.sid:
                            continue  # ours: done already
                        kind = fields.get("a")
                        if kind not in ACTIONS:
                            continue
                        room = _strings(f'[{fields.get("r", "null")}]')
                        await self.apply(kind, _strings(fields.get("n")),
                                         _strings(fields.get("c")), room[0] if room else None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the hub says so in the log; we wait
                logger.debug("the shared desk could not read its actions: %s", exc)
                await asyncio.sleep(1.0)

    async def _publish(self) -> None:
        """This server's members, for the instructor's view on every server, while it lives."""
        seen = None
        ttl = self.ttl
        renewed = 0.0
        loop = asyncio.get_running_loop()
        while True:
            try:
                version, rooms = self.seats()
                now = loop.time()
                if version != seen or now - renewed > ttl / 3:
                    rooms = _bounded(rooms, MAX_SEATS)
                    pipe = self.client.pipeline(transaction=False)
                    if rooms:
                        pipe.set(self._set(f"seats:{self.hub.sid}"),
                                 json.dumps({"server": self.hub.name, "rooms": rooms}), ex=ttl)
                        pipe.sadd(self._set("servers"), self.hub.sid)
                    else:  # nobody here: no keys left behind
                        pipe.delete(self._set(f"seats:{self.hub.sid}"))
                        pipe.srem(self._set("servers"), self.hub.sid)
                    # The class's actions live as long as one of its servers does: each
                    # renews them; once the last stops, they go after ``ttl`` seconds.
                    for key in (self.key, *map(self._set, ("muted", "removed", "kept-out"))):
                        pipe.expire(key, ttl)
                    await pipe.execute()
                    seen, renewed = version, now
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.debug("the shared desk could not publish its seats: %s", exc)
            await asyncio.sleep(SEATS_EVERY)


def _strings(raw: Any) -> list[str]:
    """A JSON list of strings from a stream entry, or [] for anything else."""
    try:
        values = json.loads(raw)
    except (TypeError, ValueError, RecursionError):
        return []
    return [v for v in values if isinstance(v, str)] if isinstance(values, list) else []


def _bounded(rooms: dict[str, list[Any]], limit: int) -> dict[str, list[Any]]:
    """``rooms`` with at most ``limit`` members in all."""
    kept: dict[str, list[Any]] = {}
    for room, members in rooms.items():
        if limit <= 0:
            break
        kept[room], limit = members[:limit], limit - len(members[:limit])
    return kept
