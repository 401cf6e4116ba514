"""A room across servers that loses nothing without a word (issue 18): Redis restarted
mid-chat, a server stalled past the presence timeout, rooms that come and go.

Real ``python -m chatkit serve --redis`` processes, a real redis-server, real websockets
clients -- each person on an address of their own (127.0.0.N), as a class would be.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal

import redis as redis_py
from websockets.asyncio.client import connect

from chatkit.core.messages import note
from tests.helpers.chat import recv_json, recv_until, say
from tests.helpers.redis import PRESENCE
from tests.helpers.waiting import DEADLINE, eventually, run


async def person(url: str, n: int, name: str | None = None):
    """Person ``n`` (from 127.0.0.n), connected to ``url`` and, with a ``name``, joined."""
    ws = await connect(url, open_timeout=DEADLINE, local_addr=(f"127.0.0.{n}", 0))
    if name is not None:
        await ws.send(json.dumps({"type": "join", "name": name}))
        await recv_until(ws, lambda m: m == note(f'{name} joined "people".'))
    return ws


async def members(ws) -> list[str]:
    """The room's names, as ``/members`` tells ``ws`` (other messages before it skipped)."""
    await say(ws, "/members")
    got = await recv_until(ws, lambda m: m.get("type") == "note"
                           and m["text"].startswith("In room: "))
    return got[-1]["text"].removeprefix("In room: ").split(", ")


def test_chats_between_servers_during_a_redis_restart_all_arrive_and_names_stay_unique(
    redis_server, restart_redis, two_servers
):
    a, b = two_servers

    async def body():
        jenny = await person(a.ws_url(), 2, "jenny")
        ann = await person(b.ws_url(), 4, "ann")
        await recv_until(jenny, lambda m: m == note('ann joined "people".'))

        redis_server.stop()  # Redis goes away for a while, mid-chat
        await a.printed("lost Redis")
        await b.printed("lost Redis")
        sent = [f"chat {i}" for i in range(10)]
        for text in sent:
            await say(jenny, text)
        # Two people join as "carol", one on each server: neither server can ask Redis.
        carol = await person(a.ws_url(), 3, "carol")
        carol2 = await person(b.ws_url(), 5, "carol")
        restart_redis()  # back, empty (persistence off)
        await a.printed("reconnected to Redis", 3 * DEADLINE)
        await b.printed("reconnected to Redis", 3 * DEADLINE)

        # Every chat reaches ann on the other server, or jenny is told it did not.
        got = await recv_until(ann, lambda m: m.get("text") == sent[-1]
                               or (m.get("type") == "error" and "not delivered" in m["text"]))
        heard = [m["text"] for m in got if m.get("type") == "chat" and m.get("name") == "jenny"]
        told = [m for m in await drain(jenny) if m.get("type") == "error"]
        lost = [t for t in sent if t not in heard]
        assert len(lost) <= len(told), (lost, told, a.output, b.output)
        assert lost == [], (lost, a.output, b.output)  # with the bound at 1,000: none lost

        # One carol in the room: the later one was told to pick another name.
        told = [[m for m in await drain(ws) if m.get("type") == "error"
                 and "pick another" in m["text"]] for ws in (carol, carol2)]
        assert sorted(map(len, told)) == [0, 1], (told, a.output, b.output)
        names = await members(ann)
        assert sorted(names) == ["ann", "carol", "jenny"], (names, a.output, b.output)
        assert sorted(await members(jenny)) == ["ann", "carol", "jenny"]
        for ws in (jenny, carol, ann, carol2):
            await ws.close()

    run(body)


def test_a_server_cut_off_from_redis_catches_up_on_what_was_said_meanwhile(
    redis_server, two_servers
):
    a, b = two_servers
    control = redis_py.Redis.from_url(redis_server.url, decode_responses=True)

    async def body():
        jenny = await person(a.ws_url(), 2, "jenny")
        ann = await person(b.ws_url(), 3, "ann")
        await recv_until(jenny, lambda m: m == note('ann joined "people".'))
        b.process.send_signal(signal.SIGSTOP)  # b cannot reconnect until it is woken
        try:
            ports = local_ports(b.process.pid)  # b's connections to Redis, cut by Redis
            theirs = [c["id"] for c in control.client_list() if int(c["addr"].rsplit(":", 1)[1]) in ports]
            assert len(theirs) >= 2, (ports, control.client_list())  # commands, and its reader
            for client_id in theirs:
                control.client_kill_filter(_id=client_id)
            sent = [f"meanwhile {i}" for i in range(5)]
            for text in sent:  # through Redis: jenny hears each back from the stream
                await say(jenny, text)
            await recv_until(jenny, lambda m: m.get("text") == sent[-1])
        finally:
            b.process.send_signal(signal.SIGCONT)
        await say(jenny, "and now")  # b back: every line, once, in order
        got = await recv_until(ann, lambda m: m.get("text") == "and now")
        assert [m["text"] for m in got if m.get("name") == "jenny"] == [*sent, "and now"], (
            got, b.output)
        for ws in (jenny, ann):
            await ws.close()

    try:
        run(body)
    finally:
        control.close()


def local_ports(pid: int) -> set[int]:
    """The local ports of process ``pid``'s TCP sockets (from /proc: Linux)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    ports = set()
    with open(f"/proc/{pid}/net/tcp") as table:
        for line in list(table)[1:]:
            fields = line.split()
            if fields[9] in inodes:
                ports.add(int(fields[1].rsplit(":", 1)[1], 16))
    return ports


async def drain(ws, quiet: float = 0.5) -> list[dict]:
    """What ``ws`` has been sent, up to a pause of ``quiet`` seconds (at most 1,000)."""
    got = []
    for _ in range(1000):
        try:
            got.append(await recv_json(ws, timeout=quiet))
        except TimeoutError:
            break
    return got


def test_a_server_stalled_past_the_grace_takes_its_names_back_or_says_so(two_servers):
    # Stalled past STALL_GRACE timeouts: swept as if dead; when it wakes, it takes its
    # members' names back, or tells the one whose name went to a newcomer.
    a, b = two_servers

    async def body():
        jenny = await person(a.ws_url(), 2, "jenny")
        ann = await person(b.ws_url(), 3, "ann")
        bob = await person(b.ws_url(), 4, "bob")
        await recv_until(jenny, lambda m: m == note('bob joined "people".'))

        b.process.send_signal(signal.SIGSTOP)  # a laptop lid: b stops, its sockets stay open
        try:
            got = await recv_until(jenny, lambda m: m == note("bob left people."))
            assert note("ann left people.") in got
            ann2 = await person(a.ws_url(), 5, "ann")  # a newcomer takes the free name
        finally:
            b.process.send_signal(signal.SIGCONT)


        # b comes back: bob's name is his again; the stalled ann is told hers was taken.
        said = await recv_until(ann, lambda m: m.get("type") == "error")
        assert "pick another" in said[-1]["text"], said
        await recv_until(jenny, lambda m: m == note('bob joined "people".'))
        names = await members(jenny)
        assert sorted(names) == ["ann", "bob", "jenny"], (names, a.output, b.output)
        assert sorted(await members(bob)) == ["ann", "bob", "jenny"]
        await say(bob, "still here")
        await recv_until(ann2, lambda m: m.get("text") == "still here")
        for ws in (jenny, ann, bob, ann2):
            await ws.close()

    run(body, timeout=4 * DEADLINE + 4 * PRESENCE)


def test_a_server_stalled_past_the_presence_timeout_keeps_its_members_and_their_names(
    two_servers
):
    a, b = two_servers

    async def body():
        jenny = await person(a.ws_url(), 2, "jenny")
        ann = await person(b.ws_url(), 3, "ann")
        await recv_until(jenny, lambda m: m == note('ann joined "people".'))

        b.process.send_signal(signal.SIGSTOP)  # 3 timeouts: its alive key expires meanwhile
        try:
            await asyncio.sleep(2 * PRESENCE)
            newcomer = await person(a.ws_url(), 5)
            await newcomer.send(json.dumps({"type": "join", "name": "ann"}))
            refused = await recv_json(newcomer)  # the name is still held: ann is connected
            assert refused["type"] == "error" and "already taken" in refused["text"], refused
            await asyncio.sleep(PRESENCE)
        finally:
            b.process.send_signal(signal.SIGCONT)
        await say(ann, "sorry, my laptop was closed")
        got = await recv_until(jenny, lambda m: m.get("text") == "sorry, my laptop was closed")
        assert [m for m in got if "left" in m.get("text", "")] == [], got  # nobody "left"
        assert sorted(await members(jenny)) == ["ann", "jenny"]
        for ws in (jenny, ann, newcomer):
            await ws.close()

    run(body)
    assert "stopped answering" not in a.output, a.output


def test_rooms_joined_and_left_leave_no_keys_in_redis(redis_server, two_servers):
    a, b = two_servers
    control = redis_py.Redis.from_url(redis_server.url, decode_responses=True)
    rooms = 300

    async def body():
        for i in range(rooms):
            url = (a if i % 2 else b).ws_url(f"room{i}")
            ws = await connect(url, open_timeout=DEADLINE, local_addr=(f"127.0.0.{2 + i % 50}", 0))
            await ws.send(json.dumps({"type": "join", "name": f"visitor{i}"}))
            await recv_until(ws, lambda m: m.get("type") == "note")
            await say(ws, "hello, anyone?")
            await recv_until(ws, lambda m: m.get("type") == "chat")
            await ws.close()

        def keys():
            return sorted(control.keys("chatkit:*"))
        # Only each server's own keys are left: alive, and the set of servers.
        await eventually(lambda: len(keys()) <= 3, timeout=3 * DEADLINE)
        assert all(k.startswith(("chatkit:alive:", "chatkit:servers")) for k in keys()), keys()

    try:
        run(body, timeout=12 * DEADLINE)
    finally:
        control.close()


def test_past_the_backlog_s_bound_each_chat_that_reached_one_server_only_is_told(
    redis_server, restart_redis
):
    from chatkit.redis.hub import RedisHub
    from chatkit.server import ChatServer

    def hub(name):  # a backlog of 3 chats or notes while Redis is away
        return RedisHub(redis_server.url, name=name, presence_timeout=PRESENCE, max_backlog=3)

    async def body():
        hubs = [hub("A"), hub("B")]
        async with ChatServer(rooms=hubs[0], rate_limit=None).serve("127.0.0.1", 0) as a, \
                ChatServer(rooms=hubs[1], rate_limit=None).serve("127.0.0.1", 0) as b:
            url = [f"ws://127.0.0.1:{s.sockets[0].getsockname()[1]}/chat/people" for s in (a, b)]
            jenny = await person(url[0], 2, "jenny")
            ann = await person(url[1], 3, "ann")
            await recv_until(jenny, lambda m: m == note('ann joined "people".'))
            redis_server.stop()
            await eventually(lambda: not any(h.connected for h in hubs))
            sent = [f"chat {i}" for i in range(5)]
            for text in sent:
                await say(jenny, text)
            got = await recv_until(jenny, lambda m: m.get("text") == sent[-1])
            assert [m["text"] for m in got if m.get("type") == "chat"] == sent  # here: all
            told = [m for m in got + await drain(jenny) if m.get("type") == "error"]
            restart_redis()
            await eventually(lambda: all(h.connected for h in hubs), timeout=3 * DEADLINE)
            await say(jenny, "back")
            got = await recv_until(ann, lambda m: m.get("text") == "back")
            heard = [m["text"] for m in got if m.get("name") == "jenny" and m["text"] != "back"]
            assert heard == sent[:3]  # the bound
            assert len(told) == 2 and all("not delivered" in m["text"] for m in told), told
            assert [m["text"].rsplit(": ", 1)[1] for m in told] == sent[3:]  # each one named
            for ws in (jenny, ann):
                await ws.close()

    run(body)
