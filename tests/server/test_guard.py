"""Attacks a student's script could make on the class server, over real sockets on 127.0.0.1.

Each test is an attack that worked on the first class server (see NOTES.md) and
pins the defence: a ping flood that never reads, idle sockets that hoard file
descriptors, ten connections that flood from one address, web pages from other
origins and DNS-rebinding hosts, malformed HTTP. A second loopback address
(127.0.0.2, loopback on Linux like all of 127/8) plays "another machine", so the
attacker and the honest member are two clients without leaving this host.
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
from websockets.exceptions import InvalidStatus
from websockets.frames import CloseCode

import chatkit
from tests.helpers.chat import Outside, chat_server, closed_with, joined, recv_json, recv_until, say
from tests.helpers.http import http_get
from tests.helpers.processes import SERVING, ChatkitServe, Process
from tests.helpers.sockets import ATTACKER, raw_connect, read_all, read_head, upgrade_request
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


# -- Medium 4: Origin and Host ---------------------------------------------------------------


def test_a_websocket_from_another_origin_is_refused_and_the_servers_own_origin_is_not():
    async def body():
        async with chat_server(origins=["https://hub.example.org"]) as server:
            own = f"http://127.0.0.1:{server.port}"
            for origin in ("http://evil.example", f"http://127.0.0.1:{server.port + 1}",
                           "null", f"http://localhost:{server.port}"):
                with pytest.raises(InvalidStatus) as refused:
                    await connect(server.room(), origin=origin, open_timeout=DEADLINE)
                assert refused.value.response.status_code == 403, origin
            for origin in (own, "https://hub.example.org", None):  # None: not a browser
                ws = await connect(server.room(), origin=origin, open_timeout=DEADLINE)
                await ws.close()
            assert not [e for e in server.events if e.kind == "join"]

    run(body)


def test_a_dns_rebinding_host_is_refused_when_bound_to_loopback_and_a_proxy_is_let_through():
    with chatkit.start(port=0, show=False) as server:
        rebound = f"attacker.example:{server.port}"
        origin = f"Origin: http://{rebound}\r\n"
        sock = raw_connect(server.port)
        sock.sendall(upgrade_request(server.port, host=rebound, extra=origin))
        assert read_head(sock).startswith(b"HTTP/1.1 403")
        sock.close()
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}"):
            sock = raw_connect(server.port)
            origin = f"Origin: http://{host}\r\n"
            sock.sendall(upgrade_request(server.port, host=host, extra=origin))
            assert read_head(sock).startswith(b"HTTP/1.1 101"), host
            sock.close()
        # Behind jupyter-server-proxy on a hub, Host is the hub's, and the proxy says so.
        sock = raw_connect(server.port)
        sock.sendall(upgrade_request(
            server.port, host="hub.example.org",
            extra="Origin: https://hub.example.org\r\nX-Forwarded-For: 10.0.0.7\r\n"))
        assert read_head(sock).startswith(b"HTTP/1.1 101")
        sock.close()


# -- Low: HTTP edge cases ---------------------------------------------------------------------


def test_an_upgrade_without_a_host_header_gets_a_clean_400(caplog):
    with caplog.at_level(logging.ERROR), chatkit.start(port=0, show=False) as server:
        sock = raw_connect(server.port)
        sock.sendall(upgrade_request(server.port, host=""))
        head = read_head(sock)
        sock.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


def test_pipelined_gets_are_answered_or_closed_cleanly_without_errors_in_the_log(caplog):
    with caplog.at_level(logging.WARNING), chatkit.start(port=0, show=False) as server:
        for _ in range(5):
            sock = raw_connect(server.port)
            request = f"GET /people HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
            sock.sendall(request * 3)
            answer = read_all(sock)
            sock.close()
            assert answer.startswith(b"HTTP/1.1 200")
        status, _, _ = http_get(server.port, "/people")
        assert status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not errors, caplog.text


def test_the_page_cannot_be_framed_head_has_no_body_and_other_methods_get_405():
    with chatkit.start(port=0, show=False) as server:
        status, headers, body = http_get(server.port, "/people")
        assert status == 200 and body
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Server"] == "chatkit"  # no versions to look up
        status, head_headers, head_body = http_get(server.port, "/people", "HEAD")
        assert status == 200 and head_body == b""
        assert head_headers["Content-Length"] == str(len(body))
        for method in ("PUT", "DELETE", "TRACE", "POST", "OPTIONS"):
            status, headers, body = http_get(server.port, "/people", method)
            assert status == 405 and headers["Allow"] == "GET, HEAD", method
            assert b"<html" not in body.lower()
        status, headers, _ = http_get(server.port, "/nowhere/at/all")
        assert status == 404 and headers["X-Frame-Options"] == "DENY"


# -- Low: names and room names ------------------------------------------------------------------


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


@pytest.mark.parametrize("room", ["a%00b", "a%0D%0Ab", "a%E2%80%AEb", "%E2%80%8B", "a%E2%80%8Db"])
def test_room_names_with_nul_crlf_or_bidi_overrides_are_closed_with_1008(room):
    async def body():
        async with chat_server() as server:
            ws = await server.connect(f"/chat/{room}")
            code, reason = await closed_with(ws)
            assert code == CloseCode.POLICY_VIOLATION and "room name" in reason, reason

    run(body)


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


# -- Low: the teacher's activity log ----------------------------------------------------------


class UncheckedChatUser(chatkit.ChatUser):
    """A student's ChatUser that takes any name, and breaks with a huge message on "boom"."""

    def handle_join(self, name, want=None):
        self.name = name
        self.room.join(self)

    def handle_chat(self, text):
        if text == "boom":
            raise ValueError("x" * 60_000)
        super().handle_chat(text)


def test_the_activity_log_shows_user_text_inert_and_bounds_what_it_redraws():
    with chatkit.start(port=0, show=False, chat_user=UncheckedChatUser) as server:
        panel = server.panel()
        with Outside(server.ws_url("people")) as link, Outside(server.ws_url("people")) as fake:
            link.send({"type": "join", "name": "http://evil.example"})
            fake.send({"type": "join", "name": "\x1b[31mserver stopped\r"})
            fake.say("boom")
            fake.expect(type="error")
            for _ in range(30):  # a student's loop hitting the same bug, again and again
                fake.say("boom")
            for _ in range(30):
                fake.expect(type="error")
        server._refresh()
        [output] = panel.children[1].outputs
        html_text = output["data"]["text/html"]
        assert output["output_type"] == "display_data"  # not a stream: nothing autolinked
        assert "http://evil.example" in html_text and "<a " not in html_text
        assert "\x1b" not in html_text and "\r" not in html_text
        assert "\\x1b[31mserver stopped\\r" in html_text  # shown, as escapes
        assert len(html_text) < 40_000, len(html_text)  # 31 tracebacks of 60 KB each


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


def test_the_command_line_flags_set_the_limits_and_the_allowed_origins():
    async def body(url):
        hub = await connect(url, origin="https://hub.example.org", open_timeout=DEADLINE)
        with pytest.raises(InvalidStatus):
            await connect(url, origin="https://evil.example", open_timeout=DEADLINE)
        lurker = await connect(url, open_timeout=DEADLINE)  # the second of two
        third = await connect(url, open_timeout=DEADLINE)
        assert (await closed_with(third))[0] == CloseCode.TRY_AGAIN_LATER
        code, reason = await closed_with(lurker)
        assert code == CloseCode.POLICY_VIOLATION and "no join within 0.5 s" in reason
        await hub.close()

    with ChatkitServe("--origin", "https://hub.example.org", "--max-per-client", "2",
                      "--join-timeout", "0.5").wait_serving() as server:
        run(lambda: body(server.ws_url("people")))
        assert server.stop(signal.SIGINT) == 0
