"""``python -m chatkit serve --workers N`` (``chatkit.server.workers``): processes sharing a port.

The kernel spreads connections over the workers; a room stays one because Redis holds
the members of all of them.
"""

from __future__ import annotations

import redis as redis_py

from tests.helpers.chat import joined, recv_until, say
from tests.helpers.processes import SERVING, ChatkitServe
from tests.helpers.redis import PRESENCE
from tests.helpers.waiting import run


def test_two_workers_share_one_port_and_one_room(redis_server):
    """``serve --workers 2``: the kernel spreads connections; Redis holds members of both."""
    with ChatkitServe("--redis", redis_server.url, "--presence-timeout", str(PRESENCE),
                      "--workers", "2").wait_serving() as parent:

        async def body():
            await parent.printed("workers sharing the port")
            port = int(SERVING.findall(parent.output)[-1][1])
            url = f"ws://127.0.0.1:{port}/chat/people"
            clients = [await joined(url, f"student{i}") for i in range(12)]
            names = redis_py.Redis.from_url(redis_server.url, decode_responses=True).hgetall(
                "chatkit:names:people")
            servers = {value.split(" ")[1].split(":")[0] for value in names.values()}
            assert len(names) == 12 and len(servers) == 2, names  # both workers got members
            await say(clients[0], "hello, both workers")
            for client in clients:
                await recv_until(client, lambda m: m.get("text") == "hello, both workers")
                await client.close()

        run(body)
    assert "chatkit: stopped" in parent.output
    assert parent.output.count("exited with code 0") == 2
