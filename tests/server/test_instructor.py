"""The instructor's desk over real sockets on 127.0.0.1: the live roster, mute, remove,
announce, export, history for late joiners who ask -- and nobody without the code.

The core (``chatkit.core.classroom.ClassRoster``) is tested with plain data first.
"""

from __future__ import annotations

import asyncio
import json

import pytest
from websockets.asyncio.client import connect
from websockets.frames import CloseCode

from chatkit.core.classroom import ClassRoster
from chatkit.server.instructor import check_code
from tests.helpers.chat import chat_server, closed_with, recv_json, recv_until, say
from tests.helpers.http import http_get
from tests.helpers.waiting import DEADLINE, run

CODE = "instructor-code-for-tests"


# -- the pure core ------------------------------------------------------------------


def test_the_roster_counts_messages_keeps_a_bounded_history_and_remembers_removed_names():
    clock = iter(range(100, 200)).__next__
    roster = ClassRoster(history=4, clock=lambda: float(clock()))
    roster.joined("a", "people", "ann")
    for n in range(5):
        roster.said("a", f"line {n}")
    assert roster.rooms()["people"][0]["messages"] == 5
    kept = roster.history("people")
    assert [line["id"] for line in kept] == [3, 4, 5, 6]  # the oldest two are gone
    assert [json.loads(line)["text"] for line in roster.transcript("people").splitlines()] == [
        "line 1", "line 2", "line 3", "line 4"]
    assert roster.remove("ANN") == ["a"]  # names match as they look: any case
    assert roster.refusal("new", '{"type": "join", "name": "ann"}') is not None
    roster.joined("b", "people", "bob")
    assert roster.refusal("b", '{"type": "chat", "text": "/name Ann"}') is not None
    roster.mute("bob")
    assert roster.refusal("b", '{"type": "chat", "text": "/priv ann hi"}') is not None
    assert roster.refusal("b", '{"type": "chat", "text": "/members"}') is None
    with pytest.raises(ValueError):
        ClassRoster(history=-1)


def test_the_history_is_bounded_in_characters_in_rooms_and_in_what_one_joiner_gets():
    from chatkit.core.classroom import HISTORY_BYTES, HISTORY_ROOMS

    roster = ClassRoster(history=1000)
    roster.joined("a", "people", "ann")
    for _ in range(200):
        roster.said("a", "x" * 4000)  # 800,000 characters said
    assert sum(len(line["text"]) for line in roster.history("people")) <= HISTORY_BYTES
    assert [len(line["text"]) for line in roster.history("people", 50, chars=10_000)] == [4000] * 2
    for n in range(HISTORY_ROOMS + 50):  # a script opening room after room
        roster.joined(n, f"room{n}", "bot")
    assert len(roster.histories) == HISTORY_ROOMS
    assert roster.history("people") == []  # the quietest went first


def test_an_instructor_code_shorter_than_twelve_characters_is_refused_with_advice():
    with pytest.raises(ValueError, match="secrets.token_urlsafe"):
        check_code("1234")


# -- over sockets -------------------------------------------------------------------


async def instructor(server, code=CODE, source="127.0.0.1"):
    """The instructor's WebSocket from ``source``, logged in (its welcome read)."""
    desk = await connect(server.ws("/_instructor/ws"), open_timeout=DEADLINE,
                         local_addr=(source, 0))
    server.clients.append(desk)
    assert await recv_json(desk) == {"type": "code"}
    await desk.send(json.dumps({"type": "login", "code": code}))
    assert await recv_json(desk) == {"type": "welcome"}
    return desk


async def visitor(server, source: str, room: str = "people"):
    """A chat connection to ``room`` from ``source`` (another machine: 127.0.0.N)."""
    return await server.connect(f"/chat/{room}", local_addr=(source, 0))


async def first_answer(server, name: str, source: str, room: str = "people") -> dict:
    """What a join as ``name`` in ``room`` from ``source`` is answered first."""
    ws = await visitor(server, source, room)
    await ws.send(json.dumps({"type": "join", "name": name}))
    return await recv_json(ws)


async def member(server, name: str, source: str, room: str = "people"):
    """A member of ``room`` from ``source``, joined as ``name`` (its join note read)."""
    ws = await visitor(server, source, room)
    await ws.send(json.dumps({"type": "join", "name": name}))
    await recv_until(ws, lambda m: m.get("text") == f'{name} joined "{room}".')
    return ws


async def roster_until(desk, test):
    found = await recv_until(desk, lambda m: m.get("type") == "class" and test(m["rooms"]))
    return found[-1]["rooms"]


def test_an_instructor_sees_the_class_live_mutes_removes_announces_and_exports():
    async def body():
        async with chat_server(rate_limit=None, instructor_code=CODE) as server:
            desk = await instructor(server)
            ann = await server.join("ann")
            bob = await server.join("bob")
            eve = await server.join("eve", "other")
            await say(ann, "hi all")
            rooms = await roster_until(desk, lambda r: r.get("people", [{}])[0].get("messages"))
            assert [m["name"] for m in rooms["people"]] == ["ann", "bob"]
            assert rooms["people"][0]["messages"] == 1 and rooms["other"][0]["name"] == "eve"

            # Mute bob: his chats are an error to him, and nobody hears them.
            await desk.send(json.dumps({"action": "mute", "name": "bob"}))
            await roster_until(desk, lambda r: r["people"][1]["muted"])
            await say(bob, "spam")
            assert (await recv_until(bob, lambda m: m["type"] == "error"))[-1]["text"] == (
                "the instructor muted you: your messages are not sent")
            await say(ann, "after the mute")
            heard = await recv_until(bob, lambda m: m.get("text") == "after the mute")
            assert not [m for m in heard if m.get("text") == "spam"]

            # Remove eve: closed, and kept out under that name.
            await desk.send(json.dumps({"action": "remove", "name": "eve"}))
            assert await closed_with(eve) == (CloseCode.POLICY_VIOLATION, "removed by the instructor")
            again = await connect(server.room("other"), open_timeout=DEADLINE)
            server.clients.append(again)
            await again.send(json.dumps({"type": "join", "name": "Eve"}))
            assert await recv_json(again) == {
                "type": "error", "text": 'the instructor removed "Eve" from this class'}

            # An announcement to every room with members.
            await desk.send(json.dumps({"action": "announce", "text": "5 minutes left"}))
            for member in (ann, bob):
                await recv_until(member, lambda m: m == {
                    "type": "note", "text": "Announcement from the instructor: 5 minutes left"})

            # The transcript: JSON lines of what the room said.
            await desk.send(json.dumps({"action": "transcript", "room": "people"}))
            found = await recv_until(desk, lambda m: m.get("type") == "transcript")
            lines = [json.loads(line) for line in found[-1]["jsonl"].splitlines()]
            assert [(line["type"], line.get("name"), line["text"]) for line in lines] == [
                ("note", None, 'ann joined "people".'), ("note", None, 'bob joined "people".'),
                ("chat", "ann", "hi all"), ("chat", "ann", "after the mute"),
                ("note", None, "Announcement from the instructor: 5 minutes left")]
            assert "the instructor muted 'bob'" in [e.text for e in server.events]
    run(body)


def test_a_late_joiner_who_asks_gets_the_history_and_a_client_of_the_original_sees_no_change():
    async def body():
        async with chat_server(rate_limit=None, history=3) as server:
            ann = await server.join("ann")
            for n in range(4):
                await say(ann, f"line {n}")
            await recv_until(ann, lambda m: m.get("text") == "line 3")
            late = await connect(server.room("people"), open_timeout=DEADLINE)
            server.clients.append(late)
            await late.send(json.dumps({"type": "join", "name": "late", "history": 50}))
            got = await recv_until(late, lambda m: m["type"] == "history")
            assert [m["type"] for m in got] == ["note", "history"]
            assert [m["text"] for m in got[-1]["messages"]] == ["line 1", "line 2", "line 3"]
            plain = await server.join("plain")  # no "history": only what the original sends
            await say(ann, "bye")
            heard = await recv_until(plain, lambda m: m.get("text") == "bye")
            assert {m["type"] for m in heard} <= {"note", "chat"}
    run(body)


def test_nobody_reaches_the_desk_without_the_instructor_code():
    async def body():
        async with chat_server(instructor_code=CODE) as server:
            student = await connect(server.ws("/_instructor/ws"), open_timeout=DEADLINE)
            server.clients.append(student)
            assert await recv_json(student) == {"type": "code"}
            await student.send(json.dumps({"type": "login", "code": "the class code"}))
            started = asyncio.get_running_loop().time()
            assert await recv_json(student) == {"type": "error", "text": "wrong instructor code"}
            assert asyncio.get_running_loop().time() - started >= 0.9  # guessing is slow
            assert await closed_with(student) == (CloseCode.POLICY_VIOLATION,
                                                  "wrong instructor code")
            assert "wrong instructor code from 127.0.0.1" in [e.text for e in server.events]
            ann = await server.join("ann")
            await say(ann, "secret")  # nothing of the class leaked to the student
        async with chat_server(instructor_code=None) as server:  # no code: no desk at all
            status, _, _ = await asyncio.to_thread(http_get, server.port, "/_instructor/")
            assert status == 404
            with pytest.raises(Exception, match="404"):
                await connect(server.ws("/_instructor/ws"), open_timeout=DEADLINE)
    run(body)
