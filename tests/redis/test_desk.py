"""The instructor's desk with rooms shared through a real Redis (``--redis``): one desk
for every server.

Before, each server's desk saw only its own members, and mute, remove and announce
acted there only: a student on the other server was never muted, a removed one
walked back in through the other server. Now the instructor, on server A, sees the
class on A and B, and what the desk does holds on both -- and on a server that
starts later.
"""

from __future__ import annotations

import asyncio
import json

from websockets.exceptions import InvalidStatus
from websockets.frames import CloseCode

from tests.helpers.chat import chat_server, closed_with, recv_until, say
from tests.helpers.waiting import eventually, run
from tests.server.test_instructor import (CODE, first_answer, instructor as logged_in,
                                          member, roster_until)


def names(rooms, room="people"):
    return sorted(member["name"] for member in rooms.get(room, []))


def test_one_desk_sees_and_acts_on_every_server_sharing_the_class(redis_server):
    options = dict(redis=redis_server.url, instructor_code=CODE, rate_limit=None)

    async def body():
        async with chat_server(**options) as a, chat_server(**options) as b:
            desk = await logged_in(a)
            ann = await member(a, "ann", "127.0.0.2")
            eve = await member(b, "eve", "127.0.0.5")
            bob = await member(b, "bob", "127.0.0.6")
            # The roster: every server's members, each with its server.
            rooms = await roster_until(desk, lambda r: names(r) == ["ann", "bob", "eve"])
            assert len({m["server"] for m in rooms["people"]}) == 2

            # Mute bob (on B) from A's desk: his chats are refused on B.
            await desk.send(json.dumps({"action": "mute", "name": "bob"}))
            await roster_until(desk, lambda r: any(m["name"] == "bob" and m["muted"]
                                                   for m in r.get("people", [])))
            await say(bob, "spam")
            refused = await recv_until(bob, lambda m: m["type"] == "error")
            assert refused[-1]["text"] == "the instructor muted you: your messages are not sent"

            # An announcement reaches both servers' members.
            await desk.send(json.dumps({"action": "announce", "text": "5 minutes left"}))
            for ws in (ann, eve, bob):
                await recv_until(ws, lambda m: m.get("text") ==
                                 "Announcement from the instructor: 5 minutes left")

            # Remove eve (on B) from A's desk: closed on B, out of both, under any name.
            await desk.send(json.dumps({"action": "remove", "name": "eve"}))
            assert await closed_with(eve) == (CloseCode.POLICY_VIOLATION,
                                              "removed by the instructor")
            await roster_until(desk, lambda r: names(r) == ["ann", "bob"])
            for server, name in ((a, "eve"), (b, "eve"), (a, "eve-again"), (b, "someone")):
                answer = await first_answer(server, name, "127.0.0.5")
                assert answer["type"] == "error" and "removed" in answer["text"], (name, answer)

            # A server that starts later knows all of it from Redis.
            async with chat_server(**options) as c:
                assert "removed" in (await first_answer(c, "newname", "127.0.0.5", "lab"))["text"]
                bob_c = await member(c, "Bob", "127.0.0.6", room="lab")
                await say(bob_c, "spam from C")
                refused = await recv_until(bob_c, lambda m: m["type"] == "error")
                assert "muted" in refused[-1]["text"]
                rooms = await roster_until(desk, lambda r: names(r, "lab") == ["Bob"])
                assert names(rooms) == ["ann", "bob"]
            # Gone with its server: C's members leave the roster.
            await roster_until(desk, lambda r: "lab" not in r)

            # The transcript (docs/instructors.md) holds the room as this server saw it:
            # its own members' chats and the other servers', each once; the refused one not.
            await say(ann, "said on A")
            await say(bob, "said on B")  # muted: refused anyway
            await desk.send(json.dumps({"action": "unmute", "name": "bob"}))
            await roster_until(desk, lambda r: not any(m["muted"] for m in r["people"]))
            await say(bob, "said on B")
            await recv_until(ann, lambda m: m.get("text") == "said on B")
            await desk.send(json.dumps({"action": "transcript", "room": "people"}))
            found = await recv_until(desk, lambda m: m.get("type") == "transcript")
            said = [json.loads(line)["text"] for line in found[-1]["jsonl"].splitlines()]
            assert said.count("said on A") == 1 and said.count("said on B") == 1, said
            assert "spam" not in said and "spam from C" not in said

            # Redis away: an action is done on this server only, and the desk says so.
            redis_server.stop()
            await desk.send(json.dumps({"action": "mute", "name": "ann"}))
            told = await recv_until(desk, lambda m: m["type"] == "error")
            assert told[-1]["text"] == ("could not do that: mute was done on this server only:"
                                        " Redis did not answer")
            await say(ann, "muted here")
            assert "muted" in (await recv_until(ann, lambda m: m["type"] == "error"))[-1]["text"]
    run(body)


def test_what_the_desk_keeps_in_redis_goes_when_the_class_s_last_server_stops(redis_server):
    import redis as redis_py

    options = dict(redis=redis_server.url, instructor_code=CODE, rate_limit=None,
                   presence_timeout=0.5)
    control = redis_py.Redis.from_url(redis_server.url, decode_responses=True)

    async def body():
        async with chat_server(**options) as a:
            desk = await logged_in(a)
            await member(a, "eve", "127.0.0.5")
            await desk.send(json.dumps({"action": "remove", "name": "eve"}))
            await roster_until(desk, lambda r: not r)  # eve was seated: gone now
            await eventually(lambda: control.sismember("chatkit:desk:removed", "eve"))
            assert 0 < control.ttl("chatkit:desk:removed") <= 2
        for _ in range(60):  # a server that stopped renews nothing: gone within 1.5 s
            if not control.keys("chatkit:desk*"):
                break
            await asyncio.sleep(0.1)
        assert control.keys("chatkit:desk*") == []

    try:
        run(body)
    finally:
        control.close()


def test_a_machine_shared_with_a_classmate_on_another_server_is_not_kept_out_there(
        redis_server):
    # eve (on B) and ann (on A) come from one address (a NAT). Removing eve keeps the
    # address out of B, where nobody else sits at it; A keeps it open for ann's machine.
    options = dict(redis=redis_server.url, instructor_code=CODE, rate_limit=None)

    async def body():
        async with chat_server(**options) as a, chat_server(**options) as b:
            desk = await logged_in(a)
            await member(a, "ann", "127.0.0.7")
            eve = await member(b, "eve", "127.0.0.7")
            await desk.send(json.dumps({"action": "remove", "name": "eve"}))
            await closed_with(eve)
            assert "removed" in (await first_answer(b, "eve2", "127.0.0.7"))["text"]
            for _ in range(20):  # a moment for the keep-out to reach A (were it to)
                await asyncio.sleep(0.05)
            assert (await first_answer(a, "ann2", "127.0.0.7"))["text"] == 'ann2 joined "people".'
    run(body)


def test_wrong_codes_count_on_every_server_so_one_lockout_holds_on_all(redis_server):
    # --workers N: the kernel spreads an attacker's connections over N servers. Before,
    # each counted its own wrong codes: 5 free guesses per server (10 on two), and N
    # times the long-run rate. Now every server counts every wrong code.
    from chatkit.server.class_code import WRONG_GUESSES_ALLOWED, ClassCode
    from tests.server.test_instructor_attacks import guess

    options = dict(redis=redis_server.url, instructor_code=CODE, rate_limit=None)

    async def class_code_try(server, code):
        try:
            ws = await server.connect(f"/chat/people?code={code}", local_addr=("127.0.0.2", 0))
        except InvalidStatus as refused:
            return refused.response.status_code
        await ws.close()
        return 101

    async def body():
        async with chat_server(gate=ClassCode("k7f3-q9x2-shared"), **options) as a, \
                chat_server(gate=ClassCode("k7f3-q9x2-shared"), **options) as b:
            servers = [a, b]
            statuses = []
            for n in range(2 * WRONG_GUESSES_ALLOWED):  # alternating: A, B, A, B, ...
                statuses.append(await class_code_try(servers[n % 2], f"guess-{n:04d}"))
                await asyncio.sleep(0.05)  # the count reaches the other server
            assert statuses.count(403) == WRONG_GUESSES_ALLOWED, statuses
            assert statuses[WRONG_GUESSES_ALLOWED:] == [429] * WRONG_GUESSES_ALLOWED
        # The instructor code: the same, by the same rule.
        async with chat_server(**options) as a, chat_server(**options) as b:
            servers = [a, b]
            outcomes = []
            for n in range(2 * WRONG_GUESSES_ALLOWED):
                outcomes.append(await guess(servers[n % 2], "127.0.0.3",
                                            f"guess-{n:04d}-xxxxxxxxxxxx"))
                await asyncio.sleep(0.05)
            assert outcomes.count("wrong") == WRONG_GUESSES_ALLOWED, outcomes
    run(body)
