"""Resume with rooms shared through Redis (real ``chatkit serve --redis`` processes): ids
are each server's own (numbered in the order it reads the room's stream), so a client
resumes exactly on the server it left, and on another server it is told
``"missed": null`` -- never a wrong "nothing missed"."""

from __future__ import annotations

import asyncio
import json

from websockets.asyncio.client import connect

from tests.helpers.chat import joined, recv_until, say
from tests.helpers.waiting import DEADLINE, run


async def join_with_ids(url: str, name: str, **fields) -> tuple[object, list[dict]]:
    ws = await connect(url, open_timeout=DEADLINE)
    await ws.send(json.dumps({"type": "join", "name": name, "want": ["ids"], **fields}))
    got = await recv_until(ws, lambda m: m["type"] == "history")
    return ws, got


def test_a_client_resumes_exactly_on_its_server_and_is_told_missed_null_on_another(two_servers):
    a, b = two_servers

    async def body():
        kim = await joined(a.ws_url("resume"), "Kim")  # keeps server A reading the room
        bob = await joined(b.ws_url("resume"), "Bob")
        ann, got = await join_with_ids(a.ws_url("resume"), "Ann")
        epoch = got[-1]["epoch"]
        # Through Redis its own join note comes back after the history: read it first,
        # or Bob's "one" may be numbered before it (both orders are right; the test's is one).
        await recv_until(ann, lambda m: m.get("text") == 'Ann joined "resume".')
        await say(bob, "one")
        one = await recv_until(ann, lambda m: m.get("text") == "one")
        last = one[-1]["id"]
        raw = await asyncio.wait_for(kim.recv(), DEADLINE)
        while '"one"' not in raw:
            raw = await asyncio.wait_for(kim.recv(), DEADLINE)
        assert raw == '{"type":"chat","name":"Bob","text":"one"}'  # no id for who did not ask
        ann.transport.abort()
        await recv_until(kim, lambda m: m.get("text") == "Ann left resume.")
        for text in ["two", "three"]:
            await say(bob, text)
        await recv_until(kim, lambda m: m.get("text") == "three")
        again, got = await join_with_ids(a.ws_url("resume"), "Ann", since=last, epoch=epoch)
        history = got[-1]
        assert history["epoch"] == epoch and history["missed"] == 0
        replayed = history["messages"]
        assert sorted(m["text"] for m in replayed) == ["Ann left resume.", "three", "two"]
        assert [m["id"] for m in replayed] == list(range(last + 1, last + 4))
        await again.close()
        await recv_until(kim, lambda m: m.get("text") == "Ann left resume.")
        _, got = await join_with_ids(b.ws_url("resume"), "Ann", since=last, epoch=epoch)
        assert got[-1]["missed"] is None and got[-1]["epoch"] != epoch
    run(body)
