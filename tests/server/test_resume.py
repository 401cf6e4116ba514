"""Resume over real sockets: a client that asked for ids and lost its connection joins
again with ``"since"`` and gets exactly what it missed -- or how many are gone, or
``"missed": null`` when the server restarted. A client that did not ask sees the
original's frames, byte for byte.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from websockets.asyncio.client import connect

from chatkit.core.limits import ClientLimit, RateLimit
from chatkit.core.messages import chat, encode, note
from chatkit.server import ChatServer
from tests.helpers.chat import recv_json, recv_until, say
from tests.helpers.waiting import DEADLINE, eventually, run


@contextlib.asynccontextmanager
async def serving(port: int = 0, **options: Any):
    """A ChatServer on 127.0.0.1 (``port`` 0: a free one); yields (ChatServer, port, server)."""
    options.setdefault("rate_limit", None)
    chat_server = ChatServer(**options)
    server = await chat_server.serve("127.0.0.1", port, reuse_address=True)
    try:
        yield chat_server, server.sockets[0].getsockname()[1], server
    finally:
        await chat_server.close(server)


async def join(port: int, name: str, **fields: Any) -> tuple[Any, list[dict]]:
    """A client joined as ``name``; what it got up to its join note (and its history, if asked)."""
    ws = await connect(f"ws://127.0.0.1:{port}/chat/people", open_timeout=DEADLINE)
    await ws.send(json.dumps({"type": "join", "name": name, **fields}))
    asked = "want" in fields or "since" in fields
    got = await recv_until(ws, (lambda m: m["type"] == "history") if asked else
                           (lambda m: m.get("text", "").startswith(f"{name} joined")))
    return ws, got


def drop(server: Any, name: str) -> None:
    """Cut ``name``'s connection from the server's side, as a dead Wi-Fi would (no close frame)."""
    [connection] = [c for c in server.connections
                    if getattr(getattr(c, "member", None), "name", None) == name]
    connection.transport.abort()


def test_a_client_that_did_not_ask_gets_the_very_same_bytes_and_one_that_did_gets_ids():
    async def body():
        async with serving() as (_, port, _server):
            bob, _ = await join(port, "Bob")
            ann, got = await join(port, "Ann", want=["ids"])
            assert got[0] == {**note('Ann joined "people".'), "id": 2}
            assert got[1]["type"] == "history" and got[1]["messages"] == [] and got[1]["missed"] == 0
            await say(bob, "hi Ann")
            frames = [await asyncio.wait_for(bob.recv(), DEADLINE) for _ in range(2)]
            assert frames == [encode(note('Ann joined "people".')), encode(chat("Bob", "hi Ann"))]
            assert frames[1] == '{"type":"chat","name":"Bob","text":"hi Ann"}'  # the original's
            numbered = await asyncio.wait_for(ann.recv(), DEADLINE)
            assert numbered == '{"type":"chat","name":"Bob","text":"hi Ann","id":3}'
            assert len(numbered) - len(frames[1]) == len(',"id":3')  # 7 bytes more, for Ann only
            await ann.close()
            assert await recv_json(bob) == note("Ann left people.")  # and nothing else
            await say(bob, "/members")
            assert await asyncio.wait_for(bob.recv(), DEADLINE) == encode(note("In room: Bob"))
    run(body)


def test_resuming_after_a_dropped_connection_gets_exactly_what_was_missed_once():
    async def body():
        async with serving() as (_, port, server):
            bob, _ = await join(port, "Bob")
            ann, got = await join(port, "Ann", want=["ids"])
            epoch = got[-1]["epoch"]
            await say(bob, "one")
            seen = await recv_json(ann)
            assert seen["text"] == "one"
            drop(server, "Ann")
            await recv_until(bob, lambda m: m.get("text") == "Ann left people.")
            for text in ["two", "three"]:
                await say(bob, text)
            await recv_until(bob, lambda m: m.get("text") == "three")
            ann, got = await join(port, "Ann", want=["ids"], since=seen["id"], epoch=epoch)
            rejoined, history = got[0], got[-1]
            assert len(got) == 2 and rejoined["text"] == 'Ann joined "people".'
            assert history["epoch"] == epoch and history["missed"] == 0
            replayed = history["messages"]
            assert [m["text"] for m in replayed] == ["Ann left people.", "two", "three"]
            assert [m["id"] for m in replayed] == list(range(seen["id"] + 1, seen["id"] + 4))
            assert rejoined["id"] == replayed[-1]["id"] + 1  # live from here on: no gap, no overlap
            await say(bob, "four")
            assert await recv_json(ann) == {**chat("Bob", "four"), "id": rejoined["id"] + 1}
    run(body)


def test_a_resume_from_too_long_ago_says_how_many_are_gone():
    async def body():
        async with serving(history=3) as (_, port, server):
            bob, _ = await join(port, "Bob")
            ann, got = await join(port, "Ann", want=["ids"])
            epoch, last = got[-1]["epoch"], got[0]["id"]  # 2: Ann's own join note
            drop(server, "Ann")
            for n in range(6):
                await say(bob, f"line {n}")
            await recv_until(bob, lambda m: m.get("text") == "line 5")
            # since 2: "Ann left" (3), line 0..5 (4..9) said; 3 kept: 7, 8, 9
            _, got = await join(port, "Ann", want=["ids"], since=last, epoch=epoch)
            history = got[-1]
            assert [m["text"] for m in history["messages"]] == ["line 3", "line 4", "line 5"]
            assert history["missed"] == 4
    run(body)


def test_a_resume_after_the_server_restarted_gets_missed_null_and_what_the_new_one_kept():
    async def body():
        async with serving() as (_, port, _server):
            ann, got = await join(port, "Ann", want=["ids"])
            epoch, last = got[-1]["epoch"], got[0]["id"]
        async with serving(port) as (_, same_port, _server):  # restarted, on the same port
            assert same_port == port
            bob, _ = await join(port, "Bob")
            await say(bob, "said after the restart")
            await recv_until(bob, lambda m: m.get("text") == "said after the restart")
            _, got = await join(port, "Ann", want=["ids"], since=last, epoch=epoch)
            history = got[-1]
            assert history["epoch"] != epoch and history["missed"] is None
            assert [m["text"] for m in history["messages"]] == [
                'Bob joined "people".', "said after the restart"]
    run(body)


def test_an_unreadable_since_is_an_error_and_the_whole_history_with_missed_null():
    async def body():
        async with serving() as (_, port, _server):
            bob, _ = await join(port, "Bob")
            ws = await connect(f"ws://127.0.0.1:{port}/chat/people", open_timeout=DEADLINE)
            await ws.send(json.dumps({"type": "join", "name": "Ann", "want": ["ids"],
                                      "since": "57", "epoch": "x"}))
            got = await recv_until(ws, lambda m: m["type"] == "history")
            assert [m["type"] for m in got] == ["note", "error", "history"]
            assert '"since" must be a whole number' in got[1]["text"]
            assert got[-1]["missed"] is None
            assert [m["text"] for m in got[-1]["messages"]] == ['Bob joined "people".']
    run(body)


def test_private_messages_and_answers_to_one_member_carry_no_id_and_are_not_replayed():
    async def body():
        async with serving() as (chat_server, port, server):
            bob, _ = await join(port, "Bob")
            ann, got = await join(port, "Ann", want=["ids"])
            epoch, last = got[-1]["epoch"], got[0]["id"]
            await say(bob, "/priv Ann psst")
            assert "id" not in await recv_json(ann)
            await say(ann, "/members")
            assert await recv_json(ann) == note("In room: Bob, Ann")
            drop(server, "Ann")
            await say(bob, "/priv Bob note to self")
            await recv_until(bob, lambda m: m.get("text") == "note to self")
            _, got = await join(port, "Ann", want=["ids"], since=last, epoch=epoch)
            assert [m["text"] for m in got[-1]["messages"]] == ["Ann left people."]
            assert "psst" not in chat_server.desk.roster.transcript("people")
    run(body)


def test_history_options_reach_the_rooms_and_the_roster_writes_nothing_twice():
    async def body():
        async with serving(history=5, history_seconds=60) as (chat_server, port, _server):
            ann, _ = await join(port, "Ann")
            await say(ann, "hi")
            await eventually(lambda: len(chat_server.histories.get("people")) == 2)
            history = chat_server.histories.get("people")
            assert (history.limit, history.seconds) == (5, 60)
            assert [m["id"] for m in history] == [1, 2]  # the join note and "hi", once each
            assert chat_server.desk.roster.history("people") == list(history)
    run(body)


def test_an_announcement_carries_its_id_and_is_replayed_to_a_client_that_resumes():
    async def body():
        async with serving() as (chat_server, port, server):
            bob, _ = await join(port, "Bob")
            ann, got = await join(port, "Ann", want=["ids"])
            epoch, last = got[-1]["epoch"], got[0]["id"]
            await chat_server.desk.announce("5 minutes left")
            text = "Announcement from the instructor: 5 minutes left"
            assert await recv_json(ann) == {**note(text), "id": last + 1}
            assert (await recv_until(bob, lambda m: "Announcement" in m.get("text", "")))[-1] == note(text)
            drop(server, "Ann")
            await recv_until(bob, lambda m: m.get("text") == "Ann left people.")
            await chat_server.desk.announce("time is up")
            _, got = await join(port, "Ann", want=["ids"], since=last + 1, epoch=epoch)
            assert [m["text"] for m in got[-1]["messages"]] == [
                "Ann left people.", "Announcement from the instructor: time is up"]
    run(body)


def test_the_command_line_takes_the_history_options_with_the_server_defaults():
    import pytest

    from chatkit.core.history import HISTORY, HISTORY_SECONDS
    from chatkit.server.options import parse, server_options

    defaults = parse([], ChatServer)
    assert (defaults.history, defaults.history_seconds) == (HISTORY, HISTORY_SECONDS)
    given = server_options(parse(["--history", "5", "--history-seconds", "0"], ChatServer))
    assert (given["history"], given["history_seconds"]) == (5, None)  # 0: however old
    for bad in (["--history", "-1"], ["--history", "x"], ["--history-seconds", "-2"],
                ["--history-seconds", "inf"]):
        with pytest.raises(SystemExit):
            parse(bad, ChatServer)


def test_rooms_that_do_not_number_offer_no_resume_rather_than_a_wrong_one():
    async def body():  # a ChatUser whose rooms are not the server's own: no ids anywhere
        async with serving(new_rooms=False) as (chat_server, port, _server):
            ws = await connect(f"ws://127.0.0.1:{port}/chat/unnumbered", open_timeout=DEADLINE)
            await ws.send(json.dumps({"type": "join", "name": "Ann", "want": ["ids"],
                                      "since": 3, "epoch": "e", "history": 5}))
            got = await recv_until(ws, lambda m: m["type"] == "history")
            assert got == [note('Ann joined "unnumbered".'),
                           {"type": "history", "room": "unnumbered", "messages": []}]
            await say(ws, "hi")
            assert await recv_json(ws) == chat("Ann", "hi")  # no id
            await eventually(lambda: len(chat_server.desk.roster.history("unnumbered")) == 2)
    run(body)


def test_history_answers_come_out_of_the_clients_budget_so_joining_again_and_again_is_bounded():
    # One address joins 40 times asking for 200 messages (about 40 KB each); another asks once.
    budget = ClientLimit()  # the default: 64 KiB a second, 256 KiB at once, shared with what it sends

    async def take_history(port: int, address: str) -> tuple[int, list[dict]]:
        async with connect(f"ws://127.0.0.1:{port}/chat/people", open_timeout=DEADLINE,
                           local_addr=(address, 0), max_size=None) as ws:
            await ws.send(json.dumps({"type": "join", "name": "Mallory", "history": 200}))
            frames = []
            for _ in range(5):  # its join note, maybe an error, the history
                frames.append(await asyncio.wait_for(ws.recv(), DEADLINE))
                if json.loads(frames[-1])["type"] == "history":
                    break
            return sum(len(f.encode()) for f in frames), [json.loads(f) for f in frames]

    async def body():
        async with serving(rate_limit=RateLimit(), client_limit=budget) as (chat_server, port, _):
            history = chat_server.histories.get("people")
            for n in range(200):
                history.add(chat("Colt", f"{n} " + "words " * 25))
            start = asyncio.get_running_loop().time()
            sizes, cut = [], 0
            for _ in range(40):
                size, got = await take_history(port, "127.0.0.3")
                sizes.append(size)
                cut += any(m["type"] == "error" and "history was not sent" in m["text"] for m in got)
                assert got[-1]["type"] == "history"
            elapsed = asyncio.get_running_loop().time() - start
            _, honest = await take_history(port, "127.0.0.4")  # a classmate: a budget of its own
        return sizes, cut, elapsed, honest

    sizes, cut, elapsed, honest = run(body)
    bound = budget.bytes_burst + budget.bytes_per_second * elapsed + max(sizes)
    assert sum(sizes) <= bound, f"{sum(sizes)} bytes sent to one address in {elapsed:.1f} s"
    assert cut >= 20  # most of the 40 answers carried no messages, and said why
    assert len(honest[-1]["messages"]) > 100 and not any(m["type"] == "error" for m in honest)
