"""The instructor's desk attacked as a student would: each test is an attack, and fails
on the desk that let it through.

Distinct people are distinct clients: a socket bound to ``127.0.0.N`` (all of 127/8 is
loopback on Linux) is another machine to the server. Figures before and after each
fix are in docs/security.md ("The instructor's desk").
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.frames import CloseCode

from chatkit.server.class_code import WRONG_GUESSES_ALLOWED
from tests.helpers.chat import chat_server, closed_with, recv_json, recv_until, say
from tests.helpers.waiting import DEADLINE, run
from tests.server.test_instructor import first_answer, instructor as logged_in, member, visitor

CODE = "instructor-code-for-tests"


async def desk_socket(server, source: str = "127.0.0.1"):
    """The instructor's WebSocket from ``source``, asked for its code."""
    desk = await connect(server.ws("/_instructor/ws"), open_timeout=DEADLINE,
                         local_addr=(source, 0))
    server.clients.append(desk)
    assert await recv_json(desk) == {"type": "code"}
    return desk


async def guess(server, source: str, code: str) -> str:
    """One try at the instructor code from ``source``: "in", "wrong", "locked" (the
    handshake answered 429) or "refused" (closed unread: locked out meanwhile)."""
    try:
        desk = await desk_socket(server, source)
    except InvalidStatus as refused:
        assert refused.response.status_code == 429, refused.response.status_code
        assert int(refused.response.headers["Retry-After"]) >= 1
        return "locked"
    await desk.send(json.dumps({"type": "login", "code": code}))
    try:
        answer = await recv_json(desk)
    except ConnectionClosed:
        return "refused"
    if answer == {"type": "welcome"}:
        return "in"
    assert answer["type"] == "error", answer
    return "locked" if "too many" in answer["text"] else "wrong"


def compared(server, address: str) -> int:
    """How many of ``address``'s codes the desk compared (each wrong one is logged)."""
    return sum(e.text == f"wrong instructor code from {address}" for e in server.events)


def test_sixty_four_guesses_at_once_from_one_address_are_locked_out_after_a_few():
    # Before: a wrong code waited 1 s on its own connection, and nothing else: 64
    # connections at once from one address compared 64 codes a second.
    async def body():
        async with chat_server(instructor_code=CODE) as server:
            outcomes = await asyncio.gather(
                *(guess(server, "127.0.0.2", f"guess-{n:04d}-xxxxxxxx") for n in range(64)))
            assert compared(server, "127.0.0.2") <= WRONG_GUESSES_ALLOWED, outcomes
            assert outcomes.count("wrong") <= WRONG_GUESSES_ALLOWED
            # Locked out, the right code is refused too, at the handshake: a lockout
            # tells nothing about the code.
            assert await guess(server, "127.0.0.2", CODE) == "locked"
            # The lockout is one line with the address; never a code.
            lockouts = [e.text for e in server.events if "locked out" in e.text]
            assert lockouts == [f"127.0.0.2: {WRONG_GUESSES_ALLOWED} wrong instructor codes;"
                                " locked out for 2 s"], lockouts
            assert not [e for e in server.events if "guess-" in e.text]
            # The instructor, at another address, gets in at once.
            started = asyncio.get_running_loop().time()
            assert await guess(server, "127.0.0.3", CODE) == "in"
            assert asyncio.get_running_loop().time() - started < 1.0
    run(body)


def test_many_addresses_guessing_each_get_a_few_tries_and_no_more():
    # Before: 32 addresses x 8 connections compared every one of their 256 codes.
    async def body():
        async with chat_server(instructor_code=CODE, max_per_client=None) as server:
            addresses = [f"127.0.1.{n}" for n in range(1, 33)]
            await asyncio.gather(*(guess(server, address, f"guess-{n:04d}-{address}")
                                   for address in addresses for n in range(8)))
            counts = [compared(server, address) for address in addresses]
            assert max(counts) <= WRONG_GUESSES_ALLOWED, counts
            assert sum(counts) <= WRONG_GUESSES_ALLOWED * len(addresses)
    run(body)


def test_the_class_code_and_the_instructor_code_lock_out_by_one_rule():
    # One rule, not a copy: the desk keeps a table of the class code's kind (its own
    # table: a wrong class code does not count against the instructor code).
    from chatkit.server.class_code import ClassCode, WrongGuesses
    from chatkit.server.instructor import InstructorDesk

    desk, gate = InstructorDesk(print, code=CODE), ClassCode("k7f3-q9x2")
    assert type(desk.wrong_codes) is type(gate.wrong_guesses) is WrongGuesses
    assert desk.wrong_codes is not gate.wrong_guesses
    assert (desk.wrong_codes.what, gate.wrong_guesses.what) == ("instructor codes", "class codes")


def test_a_login_frame_nested_too_deep_is_a_wrong_code_not_a_traceback(caplog):
    # Before: json.loads raised RecursionError: the handler crashed (1011), a traceback
    # in the server's log for every such frame, and no wrong code counted.
    async def body():
        async with chat_server(instructor_code=CODE) as server:
            desk = await desk_socket(server, "127.0.0.4")
            await desk.send("[" * 60_000)
            code, reason = await closed_with(desk)
            assert (code, reason) == (CloseCode.POLICY_VIOLATION, "wrong instructor code")
            assert compared(server, "127.0.0.4") == 1
    with caplog.at_level(logging.ERROR):
        run(body)
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def test_malformed_and_oversized_actions_are_errors_and_the_desk_stays_open(caplog):
    async def body():
        async with chat_server(instructor_code=CODE) as server:
            desk = await logged_in(server)
            for bad in ["not json", "[" * 60_000, "[]", "3", '{"action": 3}',
                        '{"action": "mute"}', '{"action": "mute", "name": ["x"]}',
                        '{"action": "announce", "text": "   "}',
                        json.dumps({"action": "announce", "text": "x" * 5000}),
                        json.dumps({"action": "mute", "name": "x" * 500}),
                        json.dumps({"action": "transcript", "room": "x" * 500}),
                        '{"action": "shutdown"}']:
                await desk.send(bad)
                answer = await recv_until(desk, lambda m: m["type"] == "error")
                assert answer[-1]["text"].startswith("could not do that: "), (bad, answer)
            too_big = "x" * (64 * 1024 + 1)  # past the frame limit: 1009, as any route
            await desk.send(too_big)
            assert (await closed_with(desk))[0] == CloseCode.MESSAGE_TOO_BIG
            # Nothing was announced, nobody muted.
            assert not [e for e in server.events if e.kind == "moderate"
                        and "logged in" not in e.text]
    with caplog.at_level(logging.ERROR):
        run(body)
    assert not [r for r in caplog.records if r.exc_info], caplog.text


def test_a_removed_student_stays_out_under_another_name_and_in_another_room():
    # Off a hub a name is not a person: a removed student came back as "eve2", or
    # walked into another room. The desk now keeps out the address too (unless
    # classmates who were not removed share it: one machine, a NAT).
    async def body():
        async with chat_server(instructor_code=CODE, rate_limit=None) as server:
            desk = await logged_in(server)
            eve = await member(server, "eve", "127.0.0.5", "people")
            ann = await member(server, "ann", "127.0.0.6", "people")
            await desk.send(json.dumps({"action": "remove", "name": "eve"}))
            assert await closed_with(eve) == (CloseCode.POLICY_VIOLATION,
                                              "removed by the instructor")
            for room, name in [("other", "eve"), ("people", "eve2"), ("other", "totally-new")]:
                answer = await first_answer(server, name, "127.0.0.5", room)
                assert answer["type"] == "error" and "removed" in answer["text"], (room, name)
            # The classmate on another address is not touched; a new student joins.
            await say(ann, "still here")
            await recv_until(ann, lambda m: m.get("text") == "still here")
            await server.join("newcomer")
    run(body)


def test_every_close_the_server_makes_says_who_and_why_in_the_log():
    # Before: "a visitor disconnected from 'people' (code 1008; 0 open)" -- no address,
    # no reason -- and a refused room name was not logged at all.
    async def body():
        async with chat_server(instructor_code=CODE, join_timeout=0.3) as server:
            lurker = await visitor(server, "127.0.0.7", "people")
            assert (await closed_with(lurker))[0] == CloseCode.POLICY_VIOLATION
            odd = await visitor(server, "127.0.0.8", "ab%E2%80%AEcd")
            assert (await closed_with(odd))[0] == CloseCode.POLICY_VIOLATION
            desk = await logged_in(server)
            eve = await member(server, "eve", "127.0.0.5", "people")
            await desk.send(json.dumps({"action": "remove", "name": "eve"}))
            await closed_with(eve)
            for _ in range(100):
                texts = [e.text for e in server.events]
                if sum(t.startswith(("a visitor disconnected", "eve disconnected")) for t in texts) >= 2:
                    break
                await asyncio.sleep(0.02)
            assert any(t.startswith("a visitor disconnected from 'people' (127.0.0.7, code 1008;"
                                    " closed by the server: 1008 no join within 0.3 s: send")
                       for t in texts), texts
            assert any(t.startswith("refused room 'ab\\u202ecd' (127.0.0.8): ") for t in texts), texts
            assert any(t.startswith("eve disconnected from 'people' (127.0.0.5, code 1008;"
                                    " closed by the server: 1008 removed by the instructor;")
                       for t in texts), texts
    run(body)


def test_a_student_who_takes_a_classmates_name_in_another_room_cannot_get_them_removed():
    # Off a hub, names are unique per room: "sam" in people and "Sam" in lab are two
    # people. Before, Remove on lab's Sam closed people's sam too (and, with addresses
    # kept out, would have kept the honest sam's machine out). The page's button says
    # its row's room; only that seat is removed (the name stays out class-wide).
    async def body():
        async with chat_server(instructor_code=CODE, rate_limit=None) as server:
            desk = await logged_in(server)
            honest = await member(server, "sam", "127.0.0.9", "people")
            fake = await member(server, "Sam", "127.0.0.10", "lab")
            await desk.send(json.dumps({"action": "remove", "name": "Sam", "room": "lab"}))
            assert (await closed_with(fake))[0] == CloseCode.POLICY_VIOLATION
            await say(honest, "still here")
            await recv_until(honest, lambda m: m.get("text") == "still here")
            # The honest machine may come back (under another name); the fake's may not.
            back = await first_answer(server, "sam2", "127.0.0.9")
            assert back["text"] == 'sam2 joined "people".'
            assert "removed" in (await first_answer(server, "other", "127.0.0.10"))["text"]
    run(body)


def test_a_transcript_students_filled_with_escapes_stays_one_bounded_frame():
    # Before: 200 chats of 4,000 control characters (the room keeps the last 65, 256 K
    # characters; each one "\u0001" in its JSON line, escaped again in the frame) made
    # the export one frame of 1.74 MiB -- past the 1 MiB of unsent data after which the
    # guard drops a connection (the instructor's, on a slow link). Now its newest lines
    # within 512 KiB, and how many were left out.
    from chatkit.server.instructor import TRANSCRIPT_FRAME_BYTES

    async def body():
        async with chat_server(instructor_code=CODE, rate_limit=None) as server:
            desk = await logged_in(server)
            filler = await member(server, "filler", "127.0.0.11")
            for n in range(200):
                await say(filler, f"{n:03d}" + "\x01" * 3997)
            await recv_until(filler, lambda m: m.get("text", "").startswith("199"))
            await desk.send(json.dumps({"action": "transcript", "room": "people"}))
            for _ in range(100):
                frame = await desk.recv()
                if json.loads(frame)["type"] == "transcript":
                    break
            assert len(frame.encode()) <= TRANSCRIPT_FRAME_BYTES
            message = json.loads(frame)
            lines = [json.loads(line) for line in message["jsonl"].splitlines()]
            assert message["omitted"] > 0  # of the 65 chats the room's history holds
            assert lines[-1]["text"].startswith("199")  # the newest kept, in order
            assert [line["id"] for line in lines] == list(range(lines[0]["id"],
                                                                lines[-1]["id"] + 1))
    run(body)


def test_another_web_page_cannot_open_the_desk_from_the_instructors_browser():
    # A page a student sends the instructor (cross-site WebSocket hijacking): on a hub the
    # browser would carry the instructor's login cookie. Refused before any login, as the
    # chat's: the desk's WebSocket passes the same Origin check (no hole found: 403 before
    # and after).
    async def body():
        async with chat_server(instructor_code=CODE) as server:
            with pytest.raises(InvalidStatus) as refused:
                await server.connect("/_instructor/ws", origin="http://evil.example")
            assert refused.value.response.status_code == 403
            own = f"http://127.0.0.1:{server.port}"
            assert await recv_json(await server.connect("/_instructor/ws", origin=own)) == {
                "type": "code"}
    run(body)
