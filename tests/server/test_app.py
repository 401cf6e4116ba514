"""The app (``chatkit.server.app``) over real sockets on 127.0.0.1: rooms, names, the size and
rate limits, a student's failing ChatUser, the event log, the demo routes.

Each test runs its own ``chatkit.serve`` on a free port under ``asyncio.run`` with a
deadline (``helpers.waiting.run``), and talks to it with ``websockets`` clients.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from websockets.frames import CloseCode
from websockets.protocol import State

import chatkit
from chatkit import ChatUser
from chatkit.core.messages import (MAX_MESSAGE_BYTES, MAX_ROOM_NAME_LENGTH, ProtocolError,
                                   check_name, check_room_name)
from chatkit.server import ClientLimit, RateLimit
from tests.helpers.chat import (COLT_TRANSCRIPT, chat_server, closed_with, recv_json, recv_until,
                                renames_and_lists, say)
from tests.helpers.waiting import DEADLINE, eventually, run

NO_LIMIT = {"rate_limit": None}


def is_chat(text):
    return lambda message: message.get("type") == "chat" and message.get("text") == text


async def join_from(server, address: str, name: str, **fields):
    """A client from ``address`` (another person, as far as the server can tell), joined
    as ``name``, its own join note read."""
    ws = await server.connect("/chat/people", local_addr=(address, 0))
    await ws.send(json.dumps({"type": "join", "name": name, **fields}))
    await recv_until(ws, lambda m: m.get("text") == f'{name} joined "people".')
    return ws


# -- chat over sockets ----------------------------------------------------


def test_transcript_over_sockets_join_chat_leave_and_other_rooms_hear_nothing():
    async def body():
        async with chat_server() as server:
            jenny = await server.join("jenny")
            elsewhere = await server.join("Ann", "other")
            colt = await server.connect("/chat/people")
            await colt.send('{"type": "join", "name": "Colt"}')
            await say(colt, "hi all")
            assert await recv_json(colt) == {"type": "note", "text": 'Colt joined "people".'}
            assert await recv_json(colt) == {"type": "chat", "name": "Colt", "text": "hi all"}
            await colt.close()
            assert [await recv_json(jenny) for _ in range(3)] == COLT_TRANSCRIPT
            await say(elsewhere, "sentinel")  # the next thing Ann hears is her own line
            assert await recv_json(elsewhere) == {"type": "chat", "name": "Ann", "text": "sentinel"}

    run(body)


def test_five_clients_all_see_every_line_in_the_same_order():
    async def body():
        async with chat_server(**NO_LIMIT) as server:
            clients = [await server.join(f"user{i}") for i in range(5)]
            for client in clients[:-1]:  # drain the later join notes
                await recv_until(client, lambda m: m["text"] == 'user4 joined "people".')
            await asyncio.gather(*(say(c, f"line {i}") for i, c in enumerate(clients)))
            transcripts = [[await recv_json(c) for _ in range(5)] for c in clients]
            assert all(t == transcripts[0] for t in transcripts)
            assert sorted(m["text"] for m in transcripts[0]) == [f"line {i}" for i in range(5)]

    run(body)


def test_a_client_that_vanishes_mid_broadcast_costs_the_others_nothing():
    count = 300

    async def body():
        async with chat_server(**NO_LIMIT) as server:
            talker = await server.join("talker")
            listener = await server.join("listener")
            victim = await server.join("victim")

            async def talk():
                for i in range(count):
                    await say(talker, f"m{i}")
                    if i % 50 == 0:
                        await asyncio.sleep(0)

            sending = asyncio.create_task(talk())
            await recv_until(listener, is_chat("m20"))
            victim.transport.abort()  # no close frame: the lid slams shut
            await sending
            got = await recv_until(listener, is_chat(f"m{count - 1}"))
            chats = [m["text"] for m in got if m["type"] == "chat"]
            assert chats == [f"m{i}" for i in range(21, count)]
            left = {"type": "note", "text": "victim left people."}
            if left not in got:  # the server may notice the loss after the last line
                assert await recv_json(listener) == left

    run(body)


def test_bad_frames_from_one_client_lose_nothing_for_the_others():
    rounds = 40
    bad = ["not json", "[]", '{"type": "shout"}', '{"type": "chat"}', b"\xff\xfe"]

    async def body():
        async with chat_server(**NO_LIMIT) as server:
            rogue = await server.join("rogue")
            good = await server.join("good")
            await recv_json(rogue)  # good's join note

            async def spray():
                for i in range(rounds):
                    await rogue.send(bad[i % len(bad)])
                    await say(rogue, f"r{i}")

            async def chatter():
                for i in range(rounds):
                    await say(good, f"g{i}")

            await asyncio.gather(spray(), chatter())
            heard = [await recv_json(good) for _ in range(2 * rounds)]
            assert {m["type"] for m in heard} == {"chat"}
            assert [m["text"] for m in heard if m["name"] == "rogue"] == [f"r{i}" for i in range(rounds)]
            assert [m["text"] for m in heard if m["name"] == "good"] == [f"g{i}" for i in range(rounds)]
            rogue_heard = [await recv_json(rogue) for _ in range(3 * rounds)]
            assert sum(m["type"] == "error" for m in rogue_heard) == rounds
            assert rogue.state is State.OPEN

    run(body)


def test_a_frame_over_the_size_limit_closes_that_client_with_1009_and_the_room_goes_on():
    async def body():
        async with chat_server() as server:
            stays = await server.join("stays")
            big = await server.join("big")
            await recv_json(stays)  # big's join note
            at_limit = '{"type": "chat", "text": "' + "x" * (MAX_MESSAGE_BYTES - 28) + '"}'
            assert len(at_limit.encode()) == MAX_MESSAGE_BYTES
            await big.send(at_limit)  # accepted as a frame, refused as too long a text
            reply = await recv_json(big)
            assert reply["type"] == "error" and "too long" in reply["text"]
            await big.send(at_limit[:-2] + 'x"}')  # one byte more
            code, _ = await closed_with(big)
            assert code == 1009
            assert await recv_json(stays) == {"type": "note", "text": "big left people."}
            await say(stays, "still on")
            assert await recv_json(stays) == {"type": "chat", "name": "stays", "text": "still on"}

    run(body)


def test_room_names_are_percent_decoded():
    async def body():
        async with chat_server() as server:
            ws = await server.connect("/chat/my%20room%20%E2%9C%93")
            await ws.send('{"type": "join", "name": "Colt"}')
            assert await recv_json(ws) == {"type": "note", "text": 'Colt joined "my room ✓".'}

    run(body)


def test_a_room_name_over_the_limit_is_closed_with_1008_and_at_the_limit_works():
    async def body():
        async with chat_server() as server:
            ok = await server.join("Colt", "r" * MAX_ROOM_NAME_LENGTH)
            assert ok.state is State.OPEN
            refused = await server.connect("/chat/" + "r" * (MAX_ROOM_NAME_LENGTH + 1))
            code, reason = await closed_with(refused)
            assert code == 1008 and "too long" in reason

    run(body)


def test_the_rate_limit_answers_with_an_error_and_keeps_the_connection():
    async def body():
        async with chat_server(rate_limit=RateLimit(burst=3, per_second=0.001)) as server:
            fast = await server.join("fast")  # the join took one token
            for i in range(4):
                await say(fast, f"m{i}")
            got = [await recv_json(fast) for _ in range(4)]
            assert [m["type"] for m in got] == ["chat", "chat", "error", "error"]
            assert "slow down" in got[2]["text"]
            async with asyncio.timeout(DEADLINE):
                await (await fast.ping())  # still open and answering
            assert fast.state is State.OPEN

    run(body)


def test_a_client_that_floods_and_vanishes_ends_its_handler_cleanly(caplog):
    # Over the limit, the server answers with an error; if the client is gone by
    # then, that answer fails, and the handler must end as for any closed
    # connection -- not with "connection handler failed".
    async def body():
        async with chat_server(rate_limit=RateLimit(burst=1, per_second=0.001)) as server:
            for _ in range(5):
                ws = await server.connect("/chat/people")
                for text in ("one", "two, over the limit", "three, over the limit"):
                    await ws.send(f'{{"type": "chat", "text": "{text}"}}')
                ws.transport.abort()
            await eventually(lambda: server.kinds().count("close") >= 5)

    with caplog.at_level(logging.ERROR, logger="websockets"):
        run(body)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_a_rename_costs_five_messages_of_the_rate_so_a_burst_of_renames_is_cut_short():
    async def body():  # a bucket that does not refill during the test: counts are exact
        async with chat_server(rate_limit=RateLimit(burst=30, per_second=0.001)) as server:
            ann = await server.join("ann")  # the join took one token: 29 left, 5 renames
            for i in range(8):
                await say(ann, f"/name ann{i}")
            got = [await recv_json(ann) for _ in range(8)]
            renamed = [m for m in got if "is now known as" in m.get("text", "")]
            refused = [m for m in got if m["type"] == "error"]
            assert len(refused) == 3 and len(renamed) == 5, got  # before: 8 renames, 0 refused
            assert "a /name counts as 5" in refused[0]["text"]

    run(body)


# -- a student's broken ChatUser ---------------------------------------------


class BrokenChatUser(ChatUser):
    """Raises on the chat text "boom", like a student's half-finished method."""

    def handle_chat(self, text):
        if text == "boom":
            return 1 / 0
        return super().handle_chat(text)


def test_a_handler_exception_is_reported_with_its_traceback_and_the_server_goes_on():
    async def body():
        async with chat_server(chat_user=BrokenChatUser) as server:
            student = await server.join("student")
            other = await server.join("other")
            await recv_json(student)  # other's join note
            await say(student, "boom")
            reply = await recv_json(student)
            assert reply["type"] == "error" and "ZeroDivisionError" in reply["text"]
            [event] = [e for e in server.events if e.kind == "exception"]
            assert "Traceback" in event.detail and "1 / 0" in event.detail
            assert "handle_message" in event.text
            await say(student, "after")  # the same connection still works
            for ws in (student, other):
                assert await recv_json(ws) == {"type": "chat", "name": "student", "text": "after"}

    run(body)


def test_a_student_class_without_send_that_raises_still_gets_its_client_an_error():
    class Bare:
        """A student's first draft: keeps send, has no send method, and throws."""

        def __init__(self, send, room_name):
            self._send = send

        def handle_message(self, raw):
            raise ValueError("not written yet")

        def handle_close(self):
            pass

    async def body():
        async with chat_server(chat_user=Bare) as server:
            ws = await server.connect("/chat/people")
            await ws.send('{"type": "join", "name": "Ann"}')
            reply = await recv_json(ws)
            assert reply == {
                "type": "error",
                "text": "the server could not handle that message: ValueError: not written yet",
            }
            assert [e.kind for e in server.events].count("exception") == 1

    run(body)


def test_a_chat_user_that_cannot_even_start_closes_with_1011_and_is_reported():
    class NoInit(ChatUser):
        def __init__(self, send, room_name):
            raise NotImplementedError("write __init__ first")

    async def body():
        async with chat_server(chat_user=NoInit) as server:
            ws = await server.connect("/chat/people")
            code, reason = await closed_with(ws)
            assert code == 1011 and "NotImplementedError" in reason
            [event] = [e for e in server.events if e.kind == "exception"]
            assert "write __init__ first" in event.detail

    run(body)


def test_an_exception_in_handle_close_is_reported_and_the_room_goes_on():
    class BadClose(ChatUser):
        def handle_close(self):
            raise RuntimeError("forgot to leave")

    async def body():
        async with chat_server(chat_user=BadClose) as server:
            leaver = await server.join("leaver")
            await leaver.close()
            stays = await server.join("stays")
            await eventually(lambda: "exception" in server.kinds())
            assert "forgot to leave" in [e for e in server.events if e.kind == "exception"][0].detail
            await say(stays, "hi")
            assert (await recv_json(stays))["text"] == "hi"

    run(body)


def test_join_and_close_are_in_the_event_log():
    async def body():
        async with chat_server() as server:
            ws = await server.join("Colt")
            await ws.close()
            await eventually(lambda: "close" in server.kinds())
            texts = [e.text for e in server.events]
            assert "connect" in server.kinds()
            assert "Colt joined 'people'" in texts
            assert any("Colt disconnected" in t and "code 1000" in t for t in texts)

    run(body)


# -- the demo routes ---------------------------------------------------------


def test_random_sends_count_numbers_then_closes_1000():
    async def body():
        async with chat_server() as server:
            ws = await server.connect("/random?count=3&every=0.01")
            numbers = []
            async with asyncio.timeout(DEADLINE):
                async for message in ws:
                    numbers.append(int(message))
            assert len(numbers) == 3 and all(1 <= n <= 100 for n in numbers)
            assert ws.close_code == 1000 and ws.close_reason == "sent 3 numbers, bye"

    run(body)


@pytest.mark.parametrize("query", ["count=three", "every=soon", "count=2&every=nan",
                                   "count=2&every=inf"])
def test_random_with_a_bad_count_or_interval_closes_1008(query):
    async def body():
        async with chat_server() as server:
            ws = await server.connect(f"/random?{query}")
            code, reason = await closed_with(ws)
            assert code == 1008 and "number" in reason

    run(body)


def test_a_nan_interval_on_random_does_not_stall_the_servers_other_timers():
    async def body():
        async with chat_server() as server:
            attacker = await server.connect("/random?count=3&every=nan")
            victim = await server.connect("/random?count=3&every=0.01")
            async with asyncio.timeout(DEADLINE):
                numbers = [message async for message in victim]
            assert len(numbers) == 3 and victim.close_code == 1000
            assert attacker.state is not State.CONNECTING

    run(body)


def test_echo_sends_text_and_bytes_straight_back():
    async def body():
        async with chat_server() as server:
            ws = await server.connect("/echo")
            for message in ("hello", "héllo ✓", b"\x00\x01\xff"):
                await ws.send(message)
                async with asyncio.timeout(DEADLINE):
                    assert await ws.recv() == message

    run(body)


def test_two_servers_in_one_process_share_no_rooms():
    async def body():
        async with chat_server() as first, chat_server() as second:
            colt = await first.join("Colt")
            twin = await second.join("Colt")  # same name is free there
            await say(twin, "/members")
            assert await recv_json(twin) == {"type": "note", "text": "In room: Colt"}
            await say(colt, "/members")
            assert await recv_json(colt) == {"type": "note", "text": "In room: Colt"}

    run(body)


def test_serve_listens_on_127_0_0_1_by_default():
    async def body():
        async with chatkit.serve(port=0) as server:
            assert {s.getsockname()[0] for s in server.sockets} == {"127.0.0.1"}

    run(body)


def test_the_members_extension_over_sockets_reaches_only_the_client_that_asked():
    async def body():
        async with chat_server() as server:
            panel = await server.connect("/chat/people")
            await panel.send('{"type": "join", "name": "panel", "want": ["members"]}')
            assert [await recv_json(panel) for _ in range(2)] == [
                {"type": "note", "text": 'panel joined "people".'},
                {"type": "members", "names": ["panel"]},
            ]
            plain = await server.join("plain")
            assert [await recv_json(panel) for _ in range(2)] == [
                {"type": "note", "text": 'plain joined "people".'},
                {"type": "members", "names": ["panel", "plain"]},
            ]
            await say(plain, "sentinel")  # plain's next message is its own line, no list
            assert await recv_json(plain) == {"type": "chat", "name": "plain", "text": "sentinel"}

    run(body)


def test_a_burst_of_renames_costs_a_listener_a_few_member_lists_and_the_last_is_the_newest():
    async def body():
        async with chat_server() as server:
            panel = await server.join("panel", want=["members"])
            movers = [await join_from(server, f"127.0.0.{11 + k}", f"m{k}") for k in range(3)]
            for i in range(5):  # 15 renames by three people, each within its rate (25 of 29)
                for k, mover in enumerate(movers):
                    await say(mover, f"/name m{k}-{i}")
            final = ["panel", "m0-4", "m1-4", "m2-4"]
            got = await renames_and_lists(panel, 15, final)  # every rename is told
            lists = [m for m in got if m["type"] == "members"]
            # Before: a list per join and per rename (18); now one, then the newest per
            # half second: a few, however long the machine took over the burst.
            assert len(lists) <= 8, [m["names"] for m in lists]
            await say(panel, "/members")  # nothing older comes after the newest list
            rest = await recv_until(panel, lambda m: m.get("text", "").startswith("In room"))
            assert all(m["names"] == final for m in rest if m["type"] == "members")

    run(body)


def test_echo_and_random_spend_the_same_budget_as_the_clients_chat():
    async def body():
        budget = ClientLimit(burst=4, per_second=0.001, bytes_burst=10**6, bytes_per_second=1)
        async with chat_server(client_limit=budget) as server:
            ann = await join_from(server, "127.0.0.21", "ann")  # 1 of 4
            for i in range(2):
                await say(ann, f"hi {i}")  # 3 of 4
            await recv_until(ann, is_chat("hi 1"))
            echo = await server.connect("/echo", local_addr=("127.0.0.21", 0))
            for text in ("one", "two"):
                await echo.send(text)
            async with asyncio.timeout(DEADLINE):
                replies = [await echo.recv() for _ in range(2)]
            assert replies[0] == "one"  # 4 of 4; before: "two" came back as well
            assert json.loads(replies[1])["type"] == "error"
            assert "your connections together" in json.loads(replies[1])["text"]
            # /random, from an address of its own: 4 numbers, then none while the budget is spent
            numbers = await server.connect("/random?every=0.01", local_addr=("127.0.0.22", 0))
            async with asyncio.timeout(DEADLINE):
                got = [await numbers.recv() for _ in range(4)]
            with pytest.raises(TimeoutError):  # before: a hundred a second
                async with asyncio.timeout(1.5):
                    got.append(await numbers.recv())
            assert len(got) == 4

    run(body)


def test_echo_is_within_the_rate_of_a_connection_too():
    async def body():
        async with chat_server(rate_limit=RateLimit(burst=5, per_second=0.001)) as server:
            echo = await server.connect("/echo", local_addr=("127.0.0.23", 0))
            for i in range(7):
                await echo.send(f"m{i}")
            async with asyncio.timeout(DEADLINE):
                replies = [await echo.recv() for _ in range(7)]
            assert replies[:5] == [f"m{i}" for i in range(5)]
            assert all("slow down" in json.loads(r)["text"] for r in replies[5:]), replies

    run(body)


# -- names and room names: look-alikes, control characters, the extensions that follow them --


@pytest.mark.parametrize("name, says", [
    ("Ann\u200d", "joiner"),
    ("\u0410nn", "mix Latin, Cyrillic and Greek"),
    ("Server", "reserved"),
    ("server", "reserved"),
    ("Ann → Bob (private)", "private message"),
    ("ＡＮＮ", "already taken"),
    ("ann", "already taken"),
    ("\u0410\u0441\u0435", "already taken"),  # all Cyrillic, drawn as "Ace"
])
def test_look_alike_names_are_refused_over_sockets(name, says):
    async def body():
        async with chat_server() as server:
            await server.join("Ann")
            await server.join("Ace")
            ws = await server.connect("/chat/people")
            await ws.send(json.dumps({"type": "join", "name": name}))
            reply = await recv_json(ws)
            assert reply["type"] == "error" and says in reply["text"], reply

    run(body)


@pytest.mark.parametrize("room", ["a%00b", "a%0D%0Ab", "a%E2%80%AEb", "%E2%80%8B", "a%E2%80%8Db",
                                  "pe%D0%BEple"])  # the last: "peоple" with a Cyrillic о
def test_room_names_with_nul_crlf_or_bidi_overrides_are_closed_with_1008(room):
    async def body():
        async with chat_server() as server:
            ws = await server.connect(f"/chat/{room}")
            code, reason = await closed_with(ws)
            assert code == CloseCode.POLICY_VIOLATION and "room name" in reason, reason

    run(body)


def test_a_room_name_follows_the_look_alike_rule_of_names():
    """One rule for both (``chatkit.core.messages``): no mix of Latin, Cyrillic and Greek."""
    for text in ("pe\u043eple", "\u0410nn"):
        with pytest.raises(ProtocolError) as as_name:
            check_name(text)
        with pytest.raises(ProtocolError) as as_room:
            check_room_name(text)
        assert str(as_room.value) == str(as_name.value).replace("a name", "a room name")
    assert check_room_name("\u0440\u0435\u043e\u0440\u0435") == "\u0440\u0435\u043e\u0440\u0435"


#: A line a student's name or exception could try to slip into the server's logs.
FORGED = "12:34:56  chatkit server stopped"


class ForgingChatUser(ChatUser):
    """A student's ChatUser that takes any name and raises with a line break in the text."""

    def handle_message(self, raw):
        message = json.loads(raw)
        if message["type"] == "join":
            self.name = message["name"]  # no check_name: a student's own class
            return
        raise ValueError(f"bad message\n{FORGED}")


def test_line_breaks_in_a_name_or_an_exception_cannot_forge_a_line_in_the_logs(caplog):
    """The server's log and the live server's activity log show them escaped."""
    from chatkit.notebook.live import activity_html

    async def body():
        async with chat_server(chat_user=ForgingChatUser) as server:
            ws = await server.connect("/chat/people")
            await ws.send(json.dumps({"type": "join", "name": f"Ann\n{FORGED}"}))
            await ws.send(json.dumps({"type": "chat", "text": "boom"}))
            await recv_until(ws, lambda m: m.get("type") == "error")
            await ws.close()
            await eventually(lambda: "close" in server.kinds())
            return list(server.events)

    with caplog.at_level(logging.INFO, logger="chatkit"):
        events = run(body)
    assert {"join", "exception"} <= {event.kind for event in events}
    logged = [line for record in caplog.records for line in record.getMessage().splitlines()]
    activity = activity_html(events).splitlines()
    for lines in (logged, activity, [line for e in events for line in str(e).splitlines()]):
        assert not [line for line in lines if line.startswith(FORGED)], lines
    assert any("\\n" + FORGED in line for line in logged), logged  # shown, escaped


def test_the_you_extension_reaches_only_a_client_that_asked_and_follows_renames():
    async def body():
        async with chat_server() as server:
            ann = await server.connect("/chat/people")
            await ann.send('{"type": "join", "name": " Ann ", "want": ["you"]}')
            assert [await recv_json(ann) for _ in range(2)] == [
                {"type": "note", "text": 'Ann joined "people".'},
                {"type": "you", "name": "Ann"},
            ]
            plain = await server.join("plain")
            await say(ann, "/name Annie")
            got = await recv_until(ann, lambda m: m["type"] == "you")
            assert got[-1] == {"type": "you", "name": "Annie"}
            await say(plain, "sentinel")
            got = await recv_until(plain, lambda m: m.get("text") == "sentinel")
            assert {m["type"] for m in got} <= {"note", "chat"}

    run(body)
