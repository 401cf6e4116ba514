"""Faults of a room shared through Redis: Redis going away and back, a server dying,
a reader that stops reading. Real ``serve --redis`` processes, a real Redis.
"""

from __future__ import annotations

import asyncio
import socket
import time

import redis as redis_py

from chatkit.core.messages import chat, error, note
from chatkit.redis.local import start_redis
from tests.helpers.chat import joined, recv_json, recv_until, say
from tests.helpers.redis import PRESENCE, serve_with_redis, stop_all
from tests.helpers.sockets import free_port
from tests.helpers.waiting import DEADLINE, eventually, run


def test_redis_stopped_and_restarted_mid_chat_each_server_goes_on_then_resumes(
    redis_server, restart_redis, two_servers
):
    a, b = two_servers

    async def body():
        jenny = await joined(a.ws_url(), "jenny")
        colt = await joined(a.ws_url(), "colt")
        ann = await joined(b.ws_url(), "ann")
        await recv_until(jenny, lambda m: m == note('ann joined "people".'))
        await recv_until(colt, lambda m: m == note('ann joined "people".'))

        redis_server.stop()  # Redis goes away mid-chat
        await a.printed("lost Redis")
        await b.printed("lost Redis")
        assert "keep chatting" in a.output
        await say(jenny, "still here?")  # members of one server keep chatting
        assert await recv_json(colt) == chat("jenny", "still here?")
        assert await recv_json(jenny) == chat("jenny", "still here?")
        await say(jenny, "/priv ann are you there?")  # a member elsewhere is out of reach
        assert await recv_json(jenny) == error('"ann" is on another server,'
                                               " out of reach while Redis is down: try again soon")
        await colt.close()  # and leave: those here hear it at once
        assert await recv_json(jenny) == note("colt left people.")

        restart_redis()  # back, empty (no persistence)
        await a.printed("reconnected to Redis", 3 * DEADLINE)
        await b.printed("reconnected to Redis", 3 * DEADLINE)
        # Ann, on the other server, hears what was said while Redis was away, in order
        # (the chat she missed, who left); then the room is one again, both ways.
        assert await recv_json(ann) == chat("jenny", "still here?")
        assert await recv_json(ann) == note("colt left people.")
        await say(jenny, "back")
        assert await recv_json(ann) == chat("jenny", "back")
        await say(ann, "welcome back")
        assert await recv_json(jenny) == chat("jenny", "back")
        assert await recv_json(jenny) == chat("ann", "welcome back")
        await say(ann, "/members")  # Redis knows both again
        assert await recv_json(ann) == chat("ann", "welcome back")
        members = await recv_json(ann)
        assert members == note("In room: jenny, ann"), (members, a.output, b.output)
        for ws in (jenny, ann):
            await ws.close()

    run(body)


def test_a_server_killed_mid_chat_its_members_leave_within_the_presence_timeout(two_servers):
    a, b = two_servers

    async def body():
        jenny = await joined(a.ws_url(), "jenny", want=["members"])
        colt = await joined(b.ws_url(), "colt")
        bob = await joined(b.ws_url(), "bob")
        await recv_until(jenny, lambda m: m == {"type": "members", "names": ["jenny", "colt", "bob"]})
        await say(bob, "bye, my laptop is dying")
        await recv_until(jenny, lambda m: m.get("text") == "bye, my laptop is dying")
        b.kill()  # SIGKILL: no close frames, no goodbyes, its heartbeat just stops
        killed = time.monotonic()
        assert [await recv_json(jenny, timeout=3 * PRESENCE) for _ in range(3)] == [
            note("colt left people."),
            note("bob left people."),
            {"type": "members", "names": ["jenny"]},
        ]
        waited = time.monotonic() - killed
        # The key expires PRESENCE s after the last beat; a sweep runs every PRESENCE/3 s.
        assert waited < PRESENCE + PRESENCE / 3 + 1.0, waited
        again = await joined(a.ws_url(), "bob")  # the dead server's names are free again
        for ws in (jenny, again):
            await ws.close()
        for ws in (colt, bob):
            ws.transport.abort()

    run(body)
    a.wait_for("stopped answering: colt, bob left 'people'")


def test_a_reader_that_stops_reading_is_cut_off_by_redis_and_stalls_no_one():
    # A client that asks for a room's stream again and again and never reads the answers:
    # Redis cuts it off past 16 MiB waiting (8 MiB for 1 s); nobody else waits for it.
    # The kernel's socket buffers hold the first few MB, so it asks for ~35 MB.
    redis = start_redis(port=free_port(),
                        args=("--client-output-buffer-limit", "normal 16mb 8mb 1"))
    # 40 senders from one address stand for 40 people: no budget per address.
    servers = serve_with_redis(redis.url, 2, "--no-client-limit")
    a, b = servers
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", redis.port))
    control = redis_py.Redis.from_url(redis.url, decode_responses=True)
    port = stalled.getsockname()[1]

    def stalled_connected():
        return any(c["addr"].endswith(f":{port}") for c in control.client_list())

    async def body():
        ann = await joined(b.ws_url("room0"), "ann")
        senders = [await joined(a.ws_url(f"room{i}"), f"sender{i}") for i in range(40)]
        await recv_until(ann, lambda m: m == note('sender0 joined "room0".'))
        text = "x" * 3900  # under the 4,000-character limit; 30 a sender: the rate limit's burst
        for round_ in range(29):
            await asyncio.gather(*(say(sender, f"{round_} {text}") for sender in senders))
        got = [(await recv_json(ann))["text"].split(" ")[0] for _ in range(29)]
        assert got == [str(r) for r in range(29)]  # ann, on the other server, got all, in order
        key = b"chatkit:stream:room0"
        xread = b"*6\r\n$5\r\nXREAD\r\n$5\r\nCOUNT\r\n$4\r\n1000\r\n$7\r\nSTREAMS\r\n" + (
            b"$%d\r\n%s\r\n$3\r\n0-0\r\n" % (len(key), key))
        assert stalled_connected()
        stalled.setblocking(False)
        for _ in range(300):  # each answer: the room's ~30 entries, ~120 KB
            try:
                stalled.send(xread)
            except (BlockingIOError, ConnectionError):
                break
        await eventually(lambda: not stalled_connected(), every=0.05)  # Redis cut it off
        assert control.ping()
        await say(senders[0], "after")
        assert (await recv_json(ann))["text"] == "after"
        for ws in (ann, *senders):  # cut off: they read none of their own lines
            ws.transport.abort()

    try:
        run(body)
    finally:
        stalled.close()
        control.close()
        stop_all(servers)
        redis.stop()
    assert "lost Redis" not in a.output + b.output, a.output + b.output  # the servers kept up


def test_member_lists_stay_right_when_redis_restarts_empty_after_much_coming_and_going(
    redis_server, restart_redis, two_servers
):
    a, b = two_servers

    async def body():
        ann = await joined(b.ws_url(), "ann", want=["members"])
        for i in range(8):  # churn: the room's counter in Redis runs up
            visitor = await joined(a.ws_url(), f"visitor{i}")
            await visitor.close()
        await recv_until(ann, lambda m: m.get("text") == "visitor7 left people.")
        redis_server.stop()
        await a.printed("lost Redis")
        await b.printed("lost Redis")
        restart_redis()  # empty: its counters start from 0 again
        await a.printed("reconnected to Redis", 3 * DEADLINE)
        await b.printed("reconnected to Redis", 3 * DEADLINE)
        dora = await joined(a.ws_url(), "dora")
        got = await recv_until(ann, lambda m: m.get("type") == "members" and "dora" in m["names"])
        assert got[-1] == {"type": "members", "names": ["ann", "dora"]}
        await dora.close()
        got = await recv_until(ann, lambda m: m.get("type") == "members" and "dora" not in m["names"])
        assert got[-1] == {"type": "members", "names": ["ann"]}
        await ann.close()

    run(body)


def test_a_server_stopped_with_sigterm_says_its_members_left_at_once(two_servers):
    a, b = two_servers

    async def body():
        jenny = await joined(a.ws_url(), "jenny")
        await joined(b.ws_url(), "colt")
        await recv_until(jenny, lambda m: m == note('colt joined "people".'))
        stopping = time.monotonic()
        await asyncio.get_running_loop().run_in_executor(None, b.stop)  # SIGTERM: a clean stop
        assert await recv_json(jenny) == note("colt left people.")
        assert time.monotonic() - stopping < PRESENCE  # not the sweeper: colt's own goodbye
        await jenny.close()

    run(body)
    assert "stopped answering" not in a.output
