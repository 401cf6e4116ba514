"""One room, many servers: real ``python -m chatkit serve --redis`` processes on one real Redis.

Clients spread over three server processes must see exactly what clients of one
server see (the transcript of tests/server/test_app.py), in one order; ``/priv``,
``/members``, the member lists and name uniqueness work across servers.
"""

from __future__ import annotations

import asyncio

import pytest
from websockets.asyncio.client import connect

from chatkit.core.messages import note
from chatkit.redis.local import start_redis
from tests.helpers import ROOT
from tests.helpers.chat import (COLT_TRANSCRIPT, joined, recv_json, recv_until, renames_and_lists,
                                say)
from tests.helpers.redis import serve_with_redis, stop_all
from tests.helpers.sockets import free_port
from tests.helpers.waiting import DEADLINE, run


def test_this_folder_does_not_hide_redis_py():
    """tests/redis is a package inside ``tests``: ``import redis`` still finds redis-py."""
    import redis

    assert not redis.__file__.startswith(str(ROOT / "tests")), redis.__file__
    assert redis.asyncio.Redis and redis.__name__ == "redis"


@pytest.fixture(scope="module")
def three_servers():
    """Three server processes on one Redis (each test uses rooms of its own)."""
    redis = start_redis(port=free_port())
    servers = serve_with_redis(redis.url, 3)
    yield servers
    stop_all(servers)
    redis.stop()


def test_three_server_processes_one_room_the_single_server_transcript(three_servers):
    a, b, c = three_servers

    async def body():
        jenny = await joined(a.ws_url(), "jenny")
        bob = await joined(b.ws_url(), "bob")
        elsewhere = await joined(b.ws_url("other"), "Ann")
        await recv_until(jenny, lambda m: m == note('bob joined "people".'))
        colt = await connect(c.ws_url(), open_timeout=DEADLINE)
        await colt.send('{"type": "join", "name": "Colt"}')
        await say(colt, "hi all")
        assert await recv_json(colt) == {"type": "note", "text": 'Colt joined "people".'}
        assert await recv_json(colt) == {"type": "chat", "name": "Colt", "text": "hi all"}
        await colt.close()
        for member in (jenny, bob):  # on another server each: the same three lines
            assert [await recv_json(member) for _ in range(3)] == COLT_TRANSCRIPT
        await say(elsewhere, "sentinel")  # the next thing Ann hears is her own line
        assert await recv_json(elsewhere) == {"type": "chat", "name": "Ann", "text": "sentinel"}
        for ws in (jenny, bob, elsewhere):
            await ws.close()

    run(body)


def test_clients_spread_over_three_servers_see_every_line_in_the_same_order(three_servers):
    async def body():
        clients = [await joined(three_servers[i % 3].ws_url("order"), f"user{i}") for i in range(6)]
        for client in clients[:-1]:
            await recv_until(client, lambda m: m.get("text") == 'user5 joined "order".')
        await asyncio.gather(*(say(c, f"line {i}") for i, c in enumerate(clients)))
        transcripts = [[await recv_json(c) for _ in range(6)] for c in clients]
        assert all(t == transcripts[0] for t in transcripts)  # Redis orders the channel
        assert sorted(m["text"] for m in transcripts[0]) == [f"line {i}" for i in range(6)]
        for client in clients:
            await client.close()

    run(body)


def test_priv_members_and_member_lists_reach_across_servers(three_servers):
    a, b, c = three_servers

    async def body():
        juanita = await joined(a.ws_url("study"), "juanita", want=["members"])
        jenny = await joined(b.ws_url("study"), "jenny")
        jeff = await joined(c.ws_url("study"), "jeff", want=["members"])
        assert (await recv_until(juanita, lambda m: m["type"] == "members"
                                 and len(m["names"]) == 3))[-1]["names"] == [
            "juanita", "jenny", "jeff"]
        await recv_until(jenny, lambda m: m == note('jeff joined "study".'))
        await say(jenny, "/members")
        assert await recv_json(jenny) == note("In room: juanita, jenny, jeff")
        await say(jenny, "/priv jeff psst, jeff")
        private = {"type": "chat", "name": "jenny", "text": "psst, jeff", "private": True,
                   "to": "jeff"}
        assert await recv_json(jenny) == private
        assert (await recv_until(jeff, lambda m: m.get("private")))[-1] == private
        await say(jeff, "/priv nobody hi")
        assert await recv_json(jeff) == {"type": "error", "text": 'no one called "nobody" in "study"'}
        await say(jeff, "/name Jeffrey")
        assert (await recv_until(juanita, lambda m: m["type"] == "members"))[-1]["names"] == [
            "juanita", "jenny", "Jeffrey"]
        await say(juanita, "/priv Jeffrey still you?")
        assert (await recv_until(jeff, lambda m: m.get("private")))[-1]["to"] == "Jeffrey"
        await jenny.close()
        got = await recv_until(juanita, lambda m: m["type"] == "members")
        assert note("jenny left study.") in got and got[-1]["names"] == ["juanita", "Jeffrey"]
        # A name that was freed on one server can be taken on another.
        again = await joined(a.ws_url("study"), "jenny")
        for ws in (juanita, jeff, again):
            await ws.close()

    run(body)


def test_member_lists_from_another_server_are_coalesced_and_the_last_is_the_newest(three_servers):
    a, b, _ = three_servers

    async def body():
        panel = await joined(a.ws_url("burst"), "panel", want=["members"])
        movers = []
        for k in range(6):  # six people on another server, an address each
            ws = await connect(b.ws_url("burst"), local_addr=(f"127.0.0.{41 + k}", 0),
                               open_timeout=DEADLINE)
            await ws.send(f'{{"type": "join", "name": "m{k}"}}')
            await recv_until(ws, lambda m, k=k: m.get("text") == f'm{k} joined "burst".')
            movers.append(ws)
        for i in range(5):  # 30 renames, each within its sender's rate
            for k, ws in enumerate(movers):
                await say(ws, f"/name m{k}-{i}")
        final = ["panel", *(f"m{k}-4" for k in range(6))]
        got = await renames_and_lists(panel, 30, final)
        lists = [m for m in got if m["type"] == "members"]
        assert len(lists) <= 8, [m["names"] for m in lists]  # before: a list per roster (15+)
        await say(panel, "/members")  # nothing older comes after the newest list
        rest = await recv_until(panel, lambda m: m.get("text", "").startswith("In room"))
        assert all(m["names"] == final for m in rest if m["type"] == "members")
        await panel.close()
        for ws in movers:  # they read nothing: a polite close would wait for its timeout
            ws.transport.abort()

    run(body)


def test_a_name_is_unique_across_servers_even_when_nine_race_for_it(three_servers):
    async def body():
        clients = [await connect(three_servers[i % 3].ws_url("race"), open_timeout=DEADLINE)
                   for i in range(9)]
        await asyncio.gather(*(c.send('{"type": "join", "name": "Sam"}') for c in clients))
        answers = [await recv_json(c) for c in clients]
        assert answers.count(note('Sam joined "race".')) == 1, (
            answers, [server.output for server in three_servers])
        taken = {"type": "error", "text": '"Sam" is already taken in "race": pick another name'}
        assert answers.count(taken) == 8, answers
        for client in clients:
            await client.close()

    run(body)


def test_a_redis_that_does_not_answer_is_a_clear_error_in_a_notebook_and_on_the_command_line():
    import subprocess
    import sys

    import chatkit

    nowhere = f"redis://127.0.0.1:{free_port()}"
    with pytest.raises(ConnectionError, match="cannot reach Redis at .*is redis-server running"):
        chatkit.start(port=0, show=False, redis=nowhere)
    done = subprocess.run([sys.executable, "-m", "chatkit", "serve", "--port", "0", "--redis", nowhere],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 1
    assert f"cannot reach Redis at {nowhere}" in done.stderr and "Traceback" not in done.stderr
    refused = subprocess.run([sys.executable, "-m", "chatkit", "serve", "--workers", "2"],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 2 and "--workers needs --redis" in refused.stderr
