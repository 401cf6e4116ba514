"""Step 7: a room shared through Redis -- your ``broadcast`` (publish) and ``listen`` (subscriber loop).

Checked against a real Redis (the one the notebook uses), with keys and channels of
its own, so the check never disturbs the servers that run beside it::

    checks.check_redis_room(SharedRoom, REDIS_URL)
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from typing import Any, Callable

from ..core.messages import note
from .report import Fail, Report, _report

__all__ = ["run_redis_room", "check_redis_room"]

TIMEOUT = 1.2  # seconds one wait may take: a behaviour waits at most twice, within the checks' 3 s limit


class _Member:
    """A member of a room that records what it is sent."""

    def __init__(self, name: str) -> None:
        self.name, self.sent, self.wants = name, [], frozenset()

    def send(self, text: str) -> None:
        self.sent.append(text)

    def __repr__(self) -> str:
        return self.name


def _in_a_loop(coroutine_function: Callable[[], Any]) -> Any:
    """Run ``coroutine_function()`` on an event loop of its own, in a thread (a notebook's
    loop is busy running the cell); return its result or raise its exception."""
    result: list[Any] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result.append(asyncio.run(asyncio.wait_for(coroutine_function(), 3 * TIMEOUT)))
        except BaseException as exc:  # handed to the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="chatkit-check-redis", daemon=True)
    thread.start()
    thread.join(4 * TIMEOUT)
    if failure:
        raise failure[0]
    if not result:
        raise Fail("the check did not finish in time", hint="does listen() ever return or block?")
    return result[0]


async def _until(done: Callable[[], bool], timeout: float = TIMEOUT) -> bool:
    for _ in range(int(timeout / 0.01)):
        if done():
            return True
        await asyncio.sleep(0.01)
    return done()


def _redis_room_checks(room_class: type, url: str) -> list[tuple[str, Callable[[], None]]]:
    import redis.asyncio as aioredis

    from ..redis.hub import RedisHub

    def hubs(count: int) -> tuple[str, list[RedisHub]]:
        prefix = f"check-{uuid.uuid4().hex[:8]}"  # keys of our own: the live servers never see them
        return prefix, [RedisHub(url, room=room_class, prefix=prefix, name=f"server {c}",
                                 report=lambda *args: None) for c in "AB"[:count]]

    def listen_loop() -> None:
        async def scenario() -> list[Any]:
            client = aioredis.Redis.from_url(url, decode_responses=True)
            pubsub = client.pubsub()
            channel = f"check-{uuid.uuid4().hex[:8]}"
            await pubsub.subscribe(channel)
            got: list[Any] = []
            task = asyncio.ensure_future(room_class.listen(pubsub, got.append))
            try:
                await _until(lambda: any(m.get("type") == "subscribe" for m in got) or task.done(), 1)
                for text in ("one", "two", "three"):
                    await client.publish(channel, text)
                await _until(lambda: len([m for m in got if m.get("type") == "message"]) >= 3
                             or task.done())
                if task.done():
                    task.result()  # raises what listen raised (NotImplementedError: not done)
                    raise Fail("listen returned: it should go on until it is cancelled",
                               "async for message in pubsub.listen(): deliver(message)", "it ended")
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
                await pubsub.aclose()
                await client.aclose()
            return got

        got = _in_a_loop(scenario)
        data = [m.get("data") for m in got if isinstance(m, dict) and m.get("type") == "message"]
        if data != ["one", "two", "three"]:
            raise Fail("listen should hand every message pubsub.listen() yields to deliver, in order",
                       ["one", "two", "three"], data,
                       "async for message in pubsub.listen(): deliver(message)")

    def publishes_once() -> None:
        async def scenario() -> tuple[list[str], list[str]]:
            prefix, (hub,) = hubs(1)
            await hub.start()
            spy = aioredis.Redis.from_url(url, decode_responses=True)
            pubsub = spy.pubsub()
            await pubsub.subscribe(hub.channel("people"))
            await pubsub.get_message(timeout=1)  # the subscription's confirmation
            try:
                room = hub.Room.get("people")
                jenny = _Member("jenny")
                room.join(jenny)
                room.broadcast(note("hello"))
                sent_before_redis = list(jenny.sent)  # Redis has not answered yet
                published = []
                for _ in range(10):  # a second's worth: what else did it publish?
                    message = await pubsub.get_message(timeout=0.1)
                    if message and message["type"] == "message" and message["data"].startswith("all "):
                        published.append(message["data"].partition("\n")[2])
                return published, sent_before_redis
            finally:
                await pubsub.aclose()
                await spy.aclose()
                await hub.close()

        published, sent_at_once = _in_a_loop(scenario)
        text = json.dumps(note("hello"))
        if sent_at_once:
            raise Fail("broadcast should not send to members itself: Redis brings it back",
                       "nothing sent before Redis delivers", sent_at_once,
                       "self.publish(json.dumps(data)) -- the hub delivers what Redis sends")
        if len(published) != 1 or json.loads(published[0]) != json.loads(text):
            raise Fail("broadcast should publish the message once, as JSON, to the room's channel",
                       [text], published, "self.publish(json.dumps(data))")

    def every_server_delivers() -> None:
        async def scenario() -> dict[str, list[str]]:
            _, (a, b) = hubs(2)
            await a.start()
            await b.start()
            try:
                juanita, jenny, jeff = _Member("juanita"), _Member("jenny"), _Member("jeff")
                a.Room.get("people").join(juanita)
                a.Room.get("people").join(jenny)
                b.Room.get("people").join(jeff)
                everyone = (juanita, jenny, jeff)
                for text in ("one", "two"):
                    a.Room.get("people").broadcast(note(text))
                # Two servers' publishes race to Redis: "three" goes once "two" is everywhere,
                # so one order is right for everyone.
                await _until(lambda: all(len(m.sent) >= 2 for m in everyone))
                b.Room.get("people").broadcast(note("three"))
                await _until(lambda: all(len(m.sent) >= 3 for m in everyone))
                await asyncio.sleep(0.05)  # and nothing more
                return {m.name: m.sent for m in everyone} | {
                    "same": [str(juanita.sent[i] is jenny.sent[i]) for i in range(min(
                        len(juanita.sent), len(jenny.sent)))]}
            finally:
                await a.close()
                await b.close()

        got = _in_a_loop(scenario)
        expected = [json.dumps(note(t)) for t in ("one", "two", "three")]
        for name in ("juanita", "jenny", "jeff"):
            if [json.loads(t) for t in got[name]] != [json.loads(t) for t in expected]:
                raise Fail(f"every server should deliver each message once to its members: {name}"
                           f" ({'server B' if name == 'jeff' else 'server A'})",
                           expected, got[name],
                           "broadcast publishes once (self.publish); listen hands every message"
                           " to deliver and keeps going")
        if "False" in got["same"]:
            raise Fail("each server should encode a message once: its members get the same text",
                       "the same str object for juanita and jenny", "different objects")

    return [
        ("listen hands every message from Redis to deliver, in order, and keeps going",
         "listen", listen_loop),
        ("broadcast publishes the message once, as JSON, to the room's channel",
         "publish", publishes_once),
        ("a message published on server A reaches the members of A and of B, once, in order",
         "across-servers", every_server_delivers),
    ]


def run_redis_room(room_class: type, redis_url: str) -> Report:
    """Check ``room_class`` (a ``RedisRoom`` with your ``broadcast`` and ``listen``); return the report."""
    name = getattr(room_class, "__name__", type(room_class).__name__)
    return _report(f"Checking {name} (a room shared through Redis)",
                   _redis_room_checks(room_class, redis_url))


def check_redis_room(room_class: type, redis_url: str) -> None:
    """Print the checks of ``room_class`` against the Redis at ``redis_url``."""
    print(run_redis_room(room_class, redis_url))
