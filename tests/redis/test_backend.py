"""The rooms backend (``chatkit.server.rooms``): the server talks to whichever it is given
through one interface, and the Redis backend reads frames with the core's grammar --
also for a student's own ``ChatUser``, which may know nothing of that grammar.
Real servers on 127.0.0.1, a real Redis.
"""

from __future__ import annotations

import json

import redis as redis_py
from websockets.asyncio.client import connect

import chatkit
from chatkit import Room
from chatkit.checks.solutions import SOLUTIONS
from chatkit.server.rooms import LocalRooms
from tests.helpers.chat import joined, recv_json, recv_until, say
from tests.helpers.waiting import DEADLINE, run


class RecordingRooms(LocalRooms):
    """Local rooms that write down, in order, every call the server makes of them."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: list = []

    def chat_user(self, chat_user: type) -> type:
        calls = self.calls

        class Recorded(chat_user):
            def handle_message(self, raw):
                calls.append(("handle_message", raw))
                super().handle_message(raw)

        self.calls.append(("chat_user", chat_user.__name__))
        return super().chat_user(Recorded)

    async def prepare(self, user, frame):
        self.calls.append(("prepare", frame))

    def serving(self, serve):
        self.calls.append(("serving",))
        return serve

    async def close(self):
        self.calls.append(("close",))


def test_the_server_calls_its_backend_around_each_frame_and_closes_it_when_it_stops():
    rooms = RecordingRooms()
    live = chatkit.start(port=0, show=False, rooms=rooms)
    join, chat = '{"type": "join", "name": "Colt"}', '{"type": "chat", "text": "hi all"}'
    try:
        assert live.server.rooms is rooms and live.server.hub is rooms

        async def body():
            async with connect(live.ws_url("people"), open_timeout=DEADLINE) as ws:
                for frame in (join, chat):
                    await ws.send(frame)
                assert [await recv_json(ws) for _ in range(2)] == [
                    {"type": "note", "text": 'Colt joined "people".'},
                    {"type": "chat", "name": "Colt", "text": "hi all"}]

        run(body)
        rooms.report("listen", "a word from the backend")  # the server's activity log
        assert "a word from the backend" in [event.text for event in live.events]
    finally:
        live.stop()
    assert rooms.calls == [
        ("chat_user", "ChatUser"), ("serving",),
        ("prepare", join), ("handle_message", join),
        ("prepare", chat), ("handle_message", chat),
        ("close",),
    ]


def notebook_3_chat_user() -> type:
    """The ChatUser a student writes in notebook 3 (json.loads, no grammar, no checks)."""
    namespace = {"json": json, "Room": Room}
    exec(SOLUTIONS["ChatUser"], namespace)
    return namespace["ChatUser"]


def test_a_students_own_chat_user_shares_a_room_through_redis(redis_server):
    student = notebook_3_chat_user()
    a = chatkit.start(port=0, show=False, chat_user=student, redis=redis_server.url)
    b = chatkit.start(port=0, show=False, chat_user=student, redis=redis_server.url)
    names = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    try:
        async def body():
            ann = await joined(a.ws_url("people"), "ann")
            bob = await joined(b.ws_url("people"), "bob")
            await recv_until(ann, lambda m: m == {"type": "note", "text": 'bob joined "people".'})
            assert sorted(names.hgetall("chatkit:names:people")) == ["ann", "bob"]  # claimed
            await say(bob, "hi from server B")
            assert await recv_json(ann) == {
                "type": "chat", "name": "bob", "text": "hi from server B"}
            await bob.close()
            assert await recv_json(ann) == {"type": "note", "text": "bob left people."}
            await ann.close()

        run(body, timeout=20)
    finally:
        a.stop()
        b.stop()
        names.close()


def test_a_join_written_with_json_escapes_still_claims_its_name_in_redis(redis_server):
    # {"type": "\u006aoin"} is a join: the Redis path must not take it for a plain chat
    # (and skip the claim), or two servers could both give the name out.
    a = chatkit.start(port=0, show=False, redis=redis_server.url)
    b = chatkit.start(port=0, show=False, redis=redis_server.url)
    names = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    escaped = '{"type": "\\u006a\\u006f\\u0069\\u006e", "name": "\\u0053am"}'
    try:
        async def body():
            async with connect(a.ws_url("race"), open_timeout=DEADLINE) as sam:
                await sam.send(escaped)
                assert await recv_json(sam) == {"type": "note", "text": 'Sam joined "race".'}
                assert list(names.hgetall("chatkit:names:race")) == ["Sam"]
                async with connect(b.ws_url("race"), open_timeout=DEADLINE) as other:
                    await other.send('{"type": "join", "name": "Sam"}')
                    assert await recv_json(other) == {"type": "error", "text":
                                                      '"Sam" is already taken in "race":'
                                                      " pick another name"}

        run(body, timeout=20)
    finally:
        a.stop()
        b.stop()
        names.close()
