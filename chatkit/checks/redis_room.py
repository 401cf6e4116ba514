"""Step 7: a room shared through Redis -- your ``broadcast`` (publish) and ``listen`` (subscriber loop).

Checked against a real Redis (the one the notebook uses), with keys and channels of
its own, so the check never disturbs the servers that run beside it::

    checks.check_redis_room(SharedRoom, REDIS_URL)

Each half is checked beside the reference's other half (your ``listen`` with the
reference's ``broadcast``, and the other way round), then both together on two
servers through generated sessions: members on either server, messages of every
kind from either server -- each must reach every member once, in order. What your
``listen`` hands to ``deliver`` is looked at as it happens, so a mistake there is
said there (with your line), not blamed on ``broadcast``; a ``listen`` that holds
the event loop is stopped at its line.
"""

from __future__ import annotations

import asyncio
import gc
import inspect
import json
import uuid
from typing import Any, Callable

from ..core.messages import chat, note
from .engine import Behaviour, sender_line
from .fakes import decode_sent
from .freedoms import same
from .limits import TookTooLong, WatchedLoop, step_limit, where
from .report import FAIL, NOT_DONE, OK, Fail, Report, Result, fail_lines, not_done_lines, checked

__all__ = ["run_redis_room", "check_redis_room", "DATA"]

TIMEOUT = 1.2  # seconds one wait for Redis may take

#: What the sessions broadcast: text of every kind, in every key a message may have.
DATA = [note("hello"), chat("José", "héllo ✓ 😀"), chat("Colt", 'say "hi" & <b>bye</b>'),
        {**chat("juanita", "psst"), "private": True, "to": "jenny"}, note("line one\nline two"),
        chat("jeff", ""), {"type": "members", "names": ["juanita", "jenny"]}, note("all a\nb x")]

_BEHAVIOURS = [
    Behaviour("listen hands every message from Redis to deliver, in order, and keeps going",
              "listen", "async for message in pubsub.listen(): hand each message to deliver"),
    Behaviour("broadcast publishes the message once, as JSON, to the room's channel", "publish",
              "encode the data as JSON once and publish it (self.publish): Redis brings it back"
              " to every server, this one too"),
    Behaviour("a message published on server A or B reaches the members of A and of B, once,"
              " in order -- whatever its text", "across-servers",
              "broadcast publishes once; listen hands every message to deliver and keeps going"),
]


class _Member:
    """A member of a room that records what it is sent."""

    def __init__(self, name: str) -> None:
        self.name, self.sent, self.wants = name, [], frozenset()

    def send(self, text: str) -> None:
        self.sent.append(text)

    def __repr__(self) -> str:
        return self.name


class _Listening:
    """What your ``listen`` did: what it handed to ``deliver``, what it raised, where."""

    def __init__(self) -> None:
        self.problem: Fail | None = None
        self.raised: BaseException | None = None
        self.returned = False

    def deliver(self, real: Callable[[Any], Any]) -> Callable[[Any], Any]:
        """``real``, taking only what ``pubsub.listen()`` yields: a message dict."""
        def deliver(message: Any) -> Any:
            if isinstance(message, dict) and "type" in message and "data" in message:
                return real(message)
            if self.problem is None:
                what = ("a coroutine -- a call without await (await pubsub.get_message(...))"
                        if inspect.iscoroutine(message) else
                        f"{type(message).__name__} {message!r}"[:120])
                hint = ("a call without await makes a coroutine and never runs it: await it"
                        if inspect.iscoroutine(message) else
                        "deliver takes the whole message, as pubsub.listen() yields it -- not its"
                        " data")
                self.problem = Fail(
                    "listen handed deliver something other than a message from pubsub.listen()",
                    "the message dict itself: {'type': 'pmessage', 'channel': ..., 'data': ...}",
                    what, hint, [f"your code:{sender_line() or ' listen'}"])
            if inspect.iscoroutine(message):
                message.close()
        return deliver

    @property
    def over(self) -> bool:
        """Has listen failed already (the session stops: it would only wait in vain)?"""
        return self.raised is not None or self.problem is not None or self.returned

    def wrap(self, listen: Callable[..., Any]) -> Callable[..., Any]:
        async def watched(pubsub: Any, deliver: Any) -> None:
            if isinstance(self.raised, TookTooLong):
                await asyncio.sleep(3600)  # stopped once: the hub must not run it again
            try:
                await listen(pubsub, self.deliver(deliver))
                self.returned = True
            except asyncio.CancelledError:
                raise
            except BaseException as exc:
                if self.raised is None:
                    self.raised = exc
                if isinstance(exc, TookTooLong):
                    return  # stopped: the hub must not take it as its own failure
                raise
        return watched

    def lines(self, loop: Any) -> list[str]:
        """What went wrong in listen, in the checks' words ([] if nothing did)."""
        if isinstance(self.raised, TookTooLong):
            exc = self.raised
            stopped = [f"listen took longer than {exc.seconds or step_limit():.2g} s, and was"
                       f" stopped{exc.where or loop.watch.where or ' (waiting)'}"]
            if self.problem is not None:  # what it did meanwhile is the clue
                return stopped + fail_lines(self.problem)
            return stopped + ["hint: a loop that never awaits holds the event loop -- every"
                              " server's connection waits: async for message in pubsub.listen()"]
        if self.raised is not None:
            hint = ""
            if isinstance(self.raised, TypeError) and "async_generator" in str(self.raised):
                hint = ("hint: pubsub.listen() is an async generator: loop over it with"
                        " async for, not for")
            return [f"your listen raised {type(self.raised).__name__}: {self.raised}"
                    f"{where(self.raised)}", *([hint] if hint else [])]
        if self.problem is not None:
            return fail_lines(self.problem)
        if self.returned:
            return ["listen returned: it should go on until it is cancelled",
                    "hint: hand every message to deliver, for as long as pubsub.listen() yields"]
        return []


def _preflight(room_class: Any) -> Fail | None:
    """A ``SharedRoom`` the hub cannot even call: said in the check's words."""
    from ..redis.room import RedisRoom

    if not (isinstance(room_class, type) and issubclass(room_class, RedisRoom)):
        return Fail("the check takes your class, a subclass of RedisRoom", "class SharedRoom(RedisRoom)",
                    repr(room_class))
    listen = inspect.getattr_static(room_class, "listen")
    function = getattr(listen, "__func__", listen)
    if not isinstance(listen, staticmethod):
        return Fail("listen should be a static method: the hub calls Room.listen(pubsub, deliver)",
                    "@staticmethod above async def listen(pubsub, deliver)",
                    f"listen{inspect.signature(function)}",
                    "no self: listen is the loop of the whole server, not of one room")
    if not inspect.iscoroutinefunction(function):
        return Fail("listen should be a coroutine function (async def): the hub runs it on its"
                    " event loop", "async def listen(pubsub, deliver):", f"def listen{inspect.signature(function)}",
                    "async def, so it can wait for Redis without holding the server")
    try:
        inspect.signature(function).bind(None, None)
        inspect.signature(room_class.broadcast).bind(None, {})
    except TypeError as exc:
        return Fail("listen(pubsub, deliver) or broadcast(self, data) takes other arguments",
                    "listen(pubsub, deliver) and broadcast(self, data)", str(exc))
    return None


def _explore(room_class: type, url: str) -> list[Result]:
    import redis.asyncio as aioredis

    from ..redis.hub import RedisHub
    from ..redis.room import RedisRoom
    from .sockets import _NotAwaited

    fail = _preflight(room_class)
    if fail is not None:
        return [Result(b.text, FAIL, fail_lines(fail), b.group) for b in _BEHAVIOURS]

    def hubs(count: int, listening: _Listening, **halves: Any) -> list[RedisHub]:
        prefix = f"check-{uuid.uuid4().hex[:8]}"  # keys of our own: the live servers never see them
        theirs = staticmethod(listening.wrap(room_class.listen))
        klass = type(room_class.__name__, (room_class,), {"listen": theirs, **halves})
        return [RedisHub(url, room=klass, prefix=prefix, name=f"server {c}",
                         report=lambda *args: None) for c in "AB"[:count]]

    async def until(done: Callable[[], bool], timeout: float = TIMEOUT,
                    listening: _Listening | None = None) -> bool:
        for _ in range(int(timeout / 0.005)):
            if done() or (listening is not None and listening.over):
                return done()
            await asyncio.sleep(0.005)
        return done()

    listen_alone = _Listening()

    async def listen_loop() -> list[Any]:
        """Your listen over a real subscription: every message, in order, and it goes on."""
        client = aioredis.Redis.from_url(url, decode_responses=True)
        pubsub = client.pubsub()
        channel = f"check-{uuid.uuid4().hex[:8]}"
        await pubsub.psubscribe(channel + ":*")  # as the hub subscribes: to a pattern
        got: list[Any] = []
        task = asyncio.ensure_future(listen_alone.wrap(room_class.listen)(pubsub, got.append))
        texts = [json.dumps(d, ensure_ascii=False) for d in DATA[:5]]
        try:
            await until(lambda: any(m.get("type") == "psubscribe" for m in got) or task.done(), 1,
                        listen_alone)
            for text in texts:
                await client.publish(channel + ":people", text)
            await until(lambda: len([m for m in got if m.get("type") == "pmessage"]) >= len(texts)
                        or task.done(), TIMEOUT, listen_alone)
            await asyncio.sleep(0.02)  # and nothing more
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await pubsub.aclose()
            await client.aclose()
        return [[m.get("data") for m in got if m.get("type") == "pmessage"], texts]

    async def publishes_once() -> list[Any]:
        """Your broadcast beside the reference's listen, watched by a spy subscriber."""
        (hub,) = hubs(1, _Listening(), listen=staticmethod(RedisRoom.listen))
        await hub.start(timeout=TIMEOUT)
        spy = aioredis.Redis.from_url(url, decode_responses=True)
        stream, last = hub.channel("people"), "0-0"  # the room's stream, read as the hub does
        sessions = []
        try:
            room = hub.Room.get("people")
            jenny = _Member("jenny")
            room.join(jenny)
            for data in DATA:
                before = len(jenny.sent)
                room.broadcast(json.loads(json.dumps(data)))
                at_once = jenny.sent[before:]  # Redis has not answered yet
                published = []
                for _ in range(40):  # what it published, until it is quiet
                    answer = await spy.xread({stream: last}, count=100, block=20)
                    entries = answer[0][1] if answer else []
                    for entry_id, fields in entries:
                        last = entry_id
                        if fields.get("m", "").startswith("all "):
                            published.append(fields["m"].partition("\n")[2])
                    if published and not entries:
                        break
                sessions.append((data, published, at_once))
        finally:
            await spy.aclose()
            await hub.close()
        return sessions

    across = _Listening()

    def scenarios(loop: Any) -> list[Any]:
        return [(_BEHAVIOURS[0], listen_loop, lambda got: _judge_listen(got, listen_alone, loop)),
                (_BEHAVIOURS[1], publishes_once, _judge_publish),
                (_BEHAVIOURS[2], every_server_delivers,
                 lambda got: _judge_across(got, across, loop))]

    async def every_server_delivers() -> list[Any]:
        """Both halves, yours, on two servers: each message reaches every member once."""
        a, b = hubs(2, across)
        await a.start(timeout=TIMEOUT)
        await b.start(timeout=TIMEOUT)
        steps = []
        try:
            members = {"juanita": (a, _Member("juanita")), "jenny": (a, _Member("jenny")),
                       "jeff": (b, _Member("jeff"))}
            for hub, member in members.values():
                hub.Room.get("people").join(member)
            everyone = [m for _, m in members.values()]
            for i, data in enumerate(DATA):
                hub = (a, b)[i % 2]  # from either server, in turn
                counts = [len(m.sent) for m in everyone]
                hub.Room.get("people").broadcast(json.loads(json.dumps(data)))
                # The next goes once this one is everywhere: one order is right for everyone.
                arrived = await until(lambda: all(len(m.sent) > c for m, c in zip(everyone, counts)),
                                      TIMEOUT, across)
                await asyncio.sleep(0.01)  # and nothing more
                steps.append((f"server {'AB'[i % 2]}", data,
                              {m.name: m.sent[c:] for m, c in zip(everyone, counts)}))
                if not arrived or across.over:
                    break  # the first message that went wrong is the one to show
        finally:
            await a.close()
            await b.close()
        return steps

    gc.collect()  # coroutines an earlier check left behind warn now, not in this report
    with _NotAwaited() as not_awaited:
        try:
            return _run_all(scenarios, listen_alone, across, not_awaited)
        finally:
            for listening in (listen_alone, across):
                listening.raised = listening.problem = None  # their frames hold your coroutines
            gc.collect()  # your coroutines left unawaited warn here, while warnings are ours


def _run_all(scenarios: Callable[[Any], list[Any]], listen_alone: _Listening, across: _Listening,
             not_awaited: Any) -> list[Result]:
    from redis.exceptions import RedisError

    results: list[Result] = []
    with WatchedLoop() as loop:
        for behaviour, scenario, judge in scenarios(loop):
            if behaviour.group == "across-servers" and isinstance(listen_alone.raised, TookTooLong):
                results.append(Result(behaviour.text, FAIL, [
                    "not tried: your listen took too long (above), and would again"],
                    behaviour.group))
                continue
            try:
                lines = judge(loop.run(scenario(), 4 * TIMEOUT + step_limit()))
            except NotImplementedError as exc:
                results.append(Result(behaviour.text, NOT_DONE, not_done_lines(exc), behaviour.group))
                continue
            except TookTooLong as exc:
                lines = [f"took longer than {exc.seconds:.2g} s, and was stopped"
                         f"{exc.where or ' (waiting)'}",
                         "hint: a loop that never awaits holds the event loop, or code that waits"
                         " for something that never comes"]
            except (ConnectionError, OSError, RedisError) as exc:  # Redis is not there: not yours
                lines = [f"the check could not run: cannot reach Redis ({exc}) -- is redis-server"
                         " running? (the notebook's first cell starts one) If it is, tell your"
                         " instructor"]
            except Exception as exc:
                if not where(exc):
                    raise
                lines = [f"your code raised {type(exc).__name__}: {exc}{where(exc)}"]
            if lines and behaviour.group != "publish":
                gc.collect()
                lines = [*lines, *not_awaited.lines()[:4]]
            if lines and isinstance(lines[0], str) and lines[0].startswith("not done yet"):
                results.append(Result(behaviour.text, NOT_DONE, lines, behaviour.group))
            else:
                results.append(Result(behaviour.text, FAIL if lines else OK, lines,
                                      behaviour.group))
    return results


def _judge_listen(got: list[Any], listening: _Listening, loop: Any) -> list[str]:
    if isinstance(listening.raised, NotImplementedError):
        return not_done_lines(listening.raised)
    lines = listening.lines(loop)
    data, texts = got
    if lines and not (listening.returned and data == texts):
        return lines
    if data != texts:
        return ["listen should hand every message pubsub.listen() yields to deliver, in order",
                f"expected: {texts}", f"got:      {data}",
                "hint: every message, as it comes -- the hub subscribes to a pattern, so they"
                " come as \"pmessage\": hand each one to deliver, whatever its type"]
    return lines


def _judge_publish(sessions: list[Any]) -> list[str]:
    for data, published, at_once in sessions:
        said = json.dumps(data, ensure_ascii=False)
        if at_once:
            return [f"broadcast({said}) sent to a member itself, before Redis brought it back",
                    f"got:      {at_once}",
                    "hint: do not send to the members yourself: Redis brings the message back to"
                    " every server, this one too, and each delivers it to its own members"]
        if len(published) != 1:
            return [f"broadcast({said}) published {len(published)} messages, expected 1",
                    f"expected: [{said}]", f"got:      {published}",
                    "hint: publish once, whoever is in the room"]
        try:
            (message,) = decode_sent("the channel", published)
        except Fail as fail:
            return [f"broadcast({said}) published text that is not the JSON of the data",
                    f"expected: {said}", f"got:      {published[0]}",
                    f"hint: {fail.hint}"]
        if not same(message, data):
            return [f"broadcast({said}) published another message",
                    f"expected: {said}", f"got:      {published[0]}",
                    "hint: publish the data itself, encoded as JSON"]
    return []


def _judge_across(steps: list[Any], listening: _Listening, loop: Any) -> list[str]:
    if isinstance(listening.raised, NotImplementedError):
        return not_done_lines(listening.raised)
    said = listening.lines(loop)
    if said:
        return ["your listen, on both servers:", *said]
    for i, (server, data, received) in enumerate(steps):
        for name, texts in received.items():
            try:
                got = decode_sent(name, texts)
            except Fail as fail:
                return _session(steps, i) + fail_lines(fail)
            if len(got) != 1 or not same(got[0], data):
                on = "server A" if name != "jeff" else "server B"
                return _session(steps, i) + [
                    f"{name} ({on}) got {len(got)} message{'s' * (len(got) != 1)}, expected 1",
                    f"expected: {json.dumps(data, ensure_ascii=False)}",
                    f"got:      {texts}",
                    "hint: broadcast publishes once (and sends to nobody itself); listen hands"
                    " every message to deliver and keeps going"]
    return []


def _session(steps: list[Any], last: int) -> list[str]:
    lines = ["the shortest session that shows it:",
             "  juanita and jenny join people on server A, jeff on server B"]
    for server, data, _ in steps[: last + 1]:
        lines.append(f"  {server} broadcasts {json.dumps(data, ensure_ascii=False)}")
    return lines


def run_redis_room(room_class: type, redis_url: str) -> Report:
    """Check ``room_class`` (a ``RedisRoom`` with your ``broadcast`` and ``listen``); return the report."""
    return checked("redis_room", room_class, (redis_url,), "a room shared through Redis",
                   _BEHAVIOURS, lambda: _explore(room_class, redis_url))


def check_redis_room(room_class: type, redis_url: str) -> None:
    """Print the checks of ``room_class`` against the Redis at ``redis_url``."""
    print(run_redis_room(room_class, redis_url))
