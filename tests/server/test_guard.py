"""The guard (``chatkit.server.guard``): attacks a student's script could make on the class server.

Each test is an attack that worked on the first class server (see docs/attacks.md) and
pins the defence: a ping flood that never reads, idle sockets that hoard file
descriptors, connections past a cap, a lurker that never joins, ten connections that
flood from one address, a class behind one proxy address. A second loopback address
(127.0.0.2, loopback on Linux like all of 127/8) plays "another machine", so the
attacker and the honest member are two clients without leaving this host. Origin and
Host checks are in test_origin.py, HTTP edge cases in test_http.py.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
import signal
import time

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode

import chatkit
from tests.helpers.chat import Outside, chat_server, closed_with, joined, recv_json, recv_until, say
from tests.helpers.http import http_get
from tests.helpers.processes import SERVING, Process
from tests.helpers.sockets import ATTACKER, client_frame, raw_connect, read_head, upgrade_request
from tests.helpers.waiting import DEADLINE, eventually, run


# -- High 1: memory ------------------------------------------------------------------


PING = b"\x89\xfd" + b"\0\0\0\0" + b"p" * 125  # a masked (with zeros) ping, 125 bytes


def test_a_client_that_pings_and_never_reads_is_dropped_and_the_room_goes_on():
    batch = PING * 500
    with chatkit.start(port=0, show=False) as server:
        sock = raw_connect(server.port, rcvbuf=4096)  # reads nothing, and holds little
        sock.sendall(upgrade_request(server.port))
        assert read_head(sock).startswith(b"HTTP/1.1 101")
        sent, dropped, started = 0, False, time.monotonic()
        while sent < 64 * 2**20 and time.monotonic() - started < 10:  # bounded: 64 MiB, 10 s
            try:
                sock.sendall(batch)
            except TimeoutError:
                break  # the server stopped reading us, without dropping: not what we want
            except OSError:  # ECONNRESET / EPIPE: dropped
                dropped = True
                break
            sent += len(batch)
        sock.close()
        assert dropped, f"still connected after {sent / 2**20:.0f} MiB of pings"
        # Dropped after about max_buffer of pongs (1 MiB), plus what the sockets hold.
        assert sent < 24 * 2**20
        drops = [e for e in server.events if e.kind == "drop"]
        assert drops and "stopped reading" in drops[0].text
        with Outside(server.ws_url("people"), "Ann") as ann:
            ann.say("still here")
            ann.expect(type="chat", name="Ann", text="still here")


def test_a_ping_flooder_that_hangs_up_leaves_no_line_per_pong_in_the_log(caplog):
    with caplog.at_level(logging.WARNING), chatkit.start(port=0, show=False) as server:
        for _ in range(3):
            sock = raw_connect(server.port, rcvbuf=4096)
            sock.sendall(upgrade_request(server.port))
            assert read_head(sock).startswith(b"HTTP/1.1 101")
            sock.sendall(PING * 3000)  # 400 KB: under the cap, more than the sockets hold
            sock.close()  # unread pongs: the kernel resets the connection
        run(lambda: eventually(lambda: sum(e.kind == "close" for e in server.events) == 3))
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text[:2000]


def test_a_member_that_stops_reading_is_dropped_and_the_log_says_who_and_why():
    async def body():
        async with chat_server(rate_limit=None, max_buffer=64 * 1024) as server:
            slow = await asyncio.to_thread(raw_connect, server.port, "127.0.0.5", 4096)
            slow.sendall(upgrade_request(server.port))
            assert (await asyncio.to_thread(read_head, slow)).startswith(b"HTTP/1.1 101")
            slow.sendall(client_frame(b'{"type": "join", "name": "slow reader"}'))  # never reads
            talker = await server.join("talker")  # reads all it is sent: never dropped
            drained = asyncio.create_task(_drain(talker))
            line = "x" * 4000
            for i in range(3000):  # bounded: 12 MB, far past what loopback's buffers hold
                await say(talker, line)
                if i % 20 == 0:
                    await asyncio.sleep(0.01)
                    if "drop" in server.kinds():
                        break
            await eventually(lambda: "drop" in server.kinds())
            drained.cancel()
            slow.close()
            drop = next(e.text for e in server.events if e.kind == "drop")
            # Before: no "drop" line at all, only "slow... disconnected (code 1006)".
            assert drop.startswith("dropped 'slow reader' (127.0.0.5): "), drop  # its name quoted
            assert "MiB unsent" in drop and "stopped reading" in drop
            await eventually(lambda: any("dropped:" in e.text for e in server.events
                                         if e.kind == "close"))

    run(body)


async def _drain(ws) -> None:
    async for _ in ws:
        pass


# -- High 2: file descriptors, caps, deadlines, a quiet log ------------------------------------


def test_the_server_raises_its_soft_file_limit_to_the_hard_one():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard <= 256:
        pytest.skip(f"the hard limit here is {hard}: nothing to raise")
    resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))
    try:
        with chatkit.start(port=0, show=False):
            raised = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert raised > 256 and (raised == hard or hard == resource.RLIM_INFINITY)


def test_one_address_past_its_cap_gets_503_and_1013_and_other_addresses_still_get_in():
    async def body():
        async with chat_server(max_per_client=3) as server:
            hoard = [await connect(server.room(), local_addr=(ATTACKER, 0)) for _ in range(3)]
            # The page, from the same address: 503 with a hint to retry.
            reader, writer = await asyncio.open_connection(
                "127.0.0.1", server.port, local_addr=(ATTACKER, 0))
            writer.write(f"GET /people HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode())
            head = await asyncio.wait_for(reader.read(4096), DEADLINE)
            writer.close()
            assert head.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in head
            # A WebSocket, from the same address: open, then 1013 "try again later".
            extra = await connect(server.room(), local_addr=(ATTACKER, 0))
            code, reason = await closed_with(extra)
            assert code == CloseCode.TRY_AGAIN_LATER and "too many connections" in reason
            # Everyone else is not locked out.
            ann = await server.join("Ann")
            await say(ann, "hi")
            assert (await recv_json(ann))["text"] == "hi"
            for ws in hoard:
                await ws.close()
            # Once some close, that address may connect again.
            again = await joined(server.room(), "Mallory")
            await again.close()

    run(body)


def test_idle_sockets_that_never_speak_are_cut_past_the_cap_and_cost_nothing_to_others():
    with chatkit.start(port=0, show=False, max_per_client=5) as server:
        idle = [raw_connect(server.port, source=ATTACKER) for _ in range(40)]
        try:
            # Past the cap, idle sockets are closed within the refusal grace (2 s).
            deadline = time.monotonic() + DEADLINE
            cut = 0
            for sock in idle[5:]:
                sock.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    cut += sock.recv(1) == b""
                except ConnectionResetError:
                    cut += 1
                except TimeoutError:
                    pass
            assert cut == 35
            status, _, _ = http_get(server.port, "/people")
            assert status == 200
            with Outside(server.ws_url("people"), "Ann") as ann:
                ann.say("in")
                ann.expect(type="chat", name="Ann", text="in")
        finally:
            for sock in idle:
                sock.close()


def test_the_total_cap_refuses_politely_with_503_and_1013():
    async def body():
        async with chat_server(max_connections=3, max_per_client=None) as server:
            held = [await server.connect("/chat/people") for _ in range(3)]
            extra = await connect(server.room(), open_timeout=DEADLINE)
            code, reason = await closed_with(extra)
            assert code == CloseCode.TRY_AGAIN_LATER and "server is full" in reason
            status, _, body_ = await asyncio.to_thread(http_get, server.port, "/people")
            assert status == 503 and b"server is full" in body_
            await held[0].close()
            async with asyncio.timeout(DEADLINE):  # the server counts the close on its side
                while True:
                    try:
                        late = await joined(server.room(), "Late")
                        break
                    except (ConnectionClosed, TimeoutError):
                        await asyncio.sleep(0.05)
            await late.close()

    run(body)


def test_a_chat_connection_that_never_joins_is_closed_with_a_reason_and_one_that_joins_stays():
    async def body():
        async with chat_server(join_timeout=0.3) as server:
            lurker = await server.connect("/chat/people")
            ann = await server.join("Ann")
            code, reason = await closed_with(lurker)
            assert code == CloseCode.POLICY_VIOLATION and reason.startswith("no join within 0.3 s")
            await asyncio.sleep(0.4)
            await say(ann, "still in")
            assert (await recv_json(ann))["text"] == "still in"

    run(body)


QUIET_SERVER = """
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (60, 60))  # soft = hard: nothing to raise
from chatkit.server.cli import main
sys.exit(main(["serve", "--port", "0"]))
"""


def test_running_out_of_file_descriptors_keeps_the_log_quiet_and_the_server_recovers():
    """Under a tiny file limit, 150 idle sockets: no traceback per failed accept."""
    socks = []
    with Process.python("-c", QUIET_SERVER, name="a server with 60 file descriptors") as server:
        port = int(server.wait_for(SERVING, 3 * DEADLINE)[2])
        try:
            for _ in range(150):
                try:
                    socks.append(raw_connect(port))
                except OSError:
                    break
            time.sleep(3)  # long enough for asyncio to retry accepting, and fail, a few times
        finally:
            for sock in socks:
                sock.close()
        status = None
        deadline = time.monotonic() + 3 * DEADLINE  # the server retries accepting every second
        while status != 200 and time.monotonic() < deadline:
            try:
                status, _, _ = http_get(port, "/people")
            except OSError:
                time.sleep(0.2)
        assert status == 200
        server.stop(signal.SIGINT)
    assert "Traceback" not in server.output, server.output[-3000:]
    assert len(server.output) < 5000, server.output[-3000:]  # a line now and then, not one per accept


# -- Medium 3: a budget per client ------------------------------------------------------------


def test_ten_connections_from_one_address_share_one_budget_and_others_are_not_slowed():
    from chatkit.server.guard import ClientLimit

    async def body():
        budget = ClientLimit(burst=10, per_second=0.001, bytes_burst=10**6, bytes_per_second=1)
        async with chat_server(client_limit=budget) as server:
            ann = await server.join("Ann")
            flooders = []
            for i in range(5):
                ws = await connect(server.room(), local_addr=(ATTACKER, 0))
                await ws.send(json.dumps({"type": "join", "name": f"bot{i}"}))  # 5 of 10
                flooders.append(ws)
            for ws in flooders:
                for _ in range(2):
                    await say(ws, "spam")
            # Each flooder's own view: its join note or a refusal, then chats or refusals.
            async def replies_to(ws) -> list[dict]:
                got = []
                while True:
                    try:  # a refused client is not read for a moment: wait longer than that
                        got.append(json.loads(await asyncio.wait_for(ws.recv(), 1.5)))
                    except TimeoutError:
                        return got
            replies = [m for got in await asyncio.gather(*map(replies_to, flooders)) for m in got]
            errors = [m for m in replies if m["type"] == "error"]
            assert len(errors) == 5, replies  # 15 frames, 10 allowed between them all
            assert all("your connections together" in m["text"] for m in errors)
            # Ann (another address) has a budget of her own, untouched by theirs.
            for i in range(9):
                await say(ann, f"a{i}")
            got = await recv_until(ann, lambda m: m.get("text") == "a8")
            assert [m["text"] for m in got if m.get("name") == "Ann"] == [f"a{i}" for i in range(9)]

    run(body)


def test_closing_and_connecting_again_does_not_refill_a_spent_budget():
    from chatkit.server.guard import ClientLimit

    async def body():
        budget = ClientLimit(burst=3, per_second=0.01, bytes_burst=10**6, bytes_per_second=1000)
        async with chat_server(client_limit=budget) as server:
            replies = []
            for attempt in range(3):  # join (1 of 3) and a chat (2 of 3), then out; again
                async with connect(server.room(), local_addr=(ATTACKER, 0)) as ws:
                    await ws.send(json.dumps({"type": "join", "name": f"bot{attempt}"}))
                    await say(ws, "spam")
                    replies.append(await recv_until(
                        ws, lambda m: m["type"] == "error" or m.get("text") == "spam"))
            said = [[m["type"] for m in got if m["type"] in ("chat", "error")] for got in replies]
            assert said[0] == ["chat"]  # its first two frames were within the budget
            assert said[1] == ["error"] and said[2] == ["error"], said  # not a fresh budget

    run(body)


def test_the_budget_counts_bytes_too():
    from chatkit.server.guard import ClientLimit

    async def body():
        budget = ClientLimit(burst=1000, per_second=1000, bytes_burst=20_000, bytes_per_second=1)
        async with chat_server(client_limit=budget) as server:
            big = await server.join("Big")
            frame = json.dumps({"type": "chat", "text": "😀" * 3000}, ensure_ascii=False)
            await big.send(frame)  # 12,000 bytes of UTF-8 text: within the budget
            assert (await recv_json(big))["type"] == "chat"
            await big.send(frame)  # the budget has under 8,000 bytes left: refused
            reply = await recv_json(big)
            assert reply["type"] == "error" and "KiB a second" in reply["text"]

    run(body)


def test_twelve_classmates_within_their_budgets_cannot_flood_one_reader_with_priv():
    async def body():
        async with chat_server() as server:
            reader = await server.join("reader")  # from 127.0.0.1
            senders = []
            for k in range(12):  # twelve people: an address each
                ws = await connect(server.room(), local_addr=(f"127.0.0.{30 + k}", 0))
                await ws.send(json.dumps({"type": "join", "name": f"mate{k}"}))
                await recv_until(ws, lambda m, k=k: m.get("text") == f'mate{k} joined "people".')
                senders.append(ws)
            text = "/priv reader " + "x" * 1000
            for _ in range(10):  # 120 in all, 10 each: within every sender's own budget
                for ws in senders:
                    await say(ws, text)

            async def answers(ws) -> list[dict]:  # its copy of each /priv, or an error
                got: list[dict] = []
                while len(got) < 10:
                    message = await recv_json(ws)
                    if message.get("private") or message["type"] == "error":
                        got.append(message)
                return got

            replies = [m for got in await asyncio.gather(*map(answers, senders)) for m in got]
            delivered = [m for m in replies if m.get("private")]
            refused = [m for m in replies if m["type"] == "error"]
            # Before: all 120 delivered. Now the reader's budget: 20 at once, 10 a second.
            assert len(delivered) <= 60 and len(refused) >= 60, (len(delivered), len(refused))
            assert '"reader" is being sent too many private messages' in refused[0]["text"]
            heard = 0
            while heard < len(delivered):  # what was delivered reaches the reader
                heard += bool((await recv_json(reader)).get("private"))
            await say(reader, "/members")  # and nothing refused reaches it after
            rest = await recv_until(reader, lambda m: m.get("text", "").startswith("In room"))
            assert not [m for m in rest if m.get("private")]

    run(body)


# -- behind a proxy: clients keyed by what the proxy vouches for ---------------------------------


def test_a_client_key_lets_a_class_behind_one_proxy_address_in_and_caps_each_user():
    """On JupyterHub every connection comes from the proxy's 127.0.0.1: key by user."""

    def user(connection):
        return connection.request.headers.get("X-Test-User")  # a hub service: the hub's user

    async def body():
        async with chat_server(client_key=user, max_per_client=1) as server:
            class_ = []
            for name in ("ann", "bob", "cy"):  # one address, three users: all in
                ws = await connect(server.room(), additional_headers={"X-Test-User": name})
                await ws.send(json.dumps({"type": "join", "name": name}))
                class_.append(ws)
            for ws, name in zip(class_, ("ann", "bob", "cy")):
                await recv_until(ws, lambda m, n=name: m.get("text", "").startswith(f"{n} joined"))
            second = await connect(server.room(), additional_headers={"X-Test-User": "ann"})
            code, reason = await closed_with(second)
            assert code == CloseCode.TRY_AGAIN_LATER and "too many connections" in reason
            status, _, _ = await asyncio.to_thread(http_get, server.port, "/people")
            assert status == 200  # no user header: exempt (client_key returned None)

    run(body)




def test_a_plain_chat_never_lists_the_room_for_the_priv_budget():
    # The budget of private messages is asked about every frame: before, it listed
    # every member's name first (0.84 us a chat in a room of 30, 3.5 us in one of
    # 200); now only a /priv does (0.36-0.38 us whatever the room's size).
    from chatkit.core.limits import ClientLimit
    from chatkit.core.user import ChatUser
    from chatkit.server.guard import Guard

    class Counted(dict):  # the room's own members, counting who lists them
        listed = 0

        def __iter__(self):
            Counted.listed += 1
            return super().__iter__()

    guard = Guard(lambda *a: None, max_buffer=2**20, client_limit=ClientLimit(),
                  max_connections=None, max_per_client=None, client_key=None, join_timeout=None)
    User = ChatUser.with_new_rooms()
    users = [User(lambda text: None, "people") for _ in range(3)]
    for n, user in enumerate(users):
        user.handle_message(json.dumps({"type": "join", "name": f"m{n}"}))
    room = users[0].room
    room.members = Counted(room.members)
    for _ in range(100):
        assert guard.private_refusal(users[0], json.dumps({"type": "chat", "text": "hi"})) is None
    assert Counted.listed == 0
    assert guard.private_refusal(users[0], json.dumps({"type": "chat", "text": "/priv m1 hi"})) is None
    assert Counted.listed == 1
