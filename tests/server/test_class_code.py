"""A class code (``chatkit.server.class_code``): off a hub, only whoever has the code gets in.

The links and panels a live server gives carry the code; the command line's page asks
for it, and a WebSocket without it is refused in the handshake.
"""

from __future__ import annotations

import re
import signal
import socket
import time

import pytest
from playwright.sync_api import expect

import chatkit
import chatkit.server
from chatkit.notebook.panel import ChatPanel
from chatkit.server.class_code import ClassCode
from tests.helpers.browser import join, say
from tests.helpers.chat import Outside, handshake_status
from tests.helpers.http import http_get
from tests.helpers.processes import ChatkitServe
from tests.helpers.sockets import raw_connect, read_head, upgrade_request
from tests.helpers.waiting import DEADLINE

pytestmark = pytest.mark.timeout(60)


def test_a_live_server_with_a_class_code_gives_links_and_panels_that_carry_it():
    with chatkit.start(port=0, show=False, gate=ClassCode("abcd-efgh")) as server:
        assert server.page_url() == f"http://127.0.0.1:{server.port}/people?code=abcd-efgh"
        assert server.ws_url() == f"ws://127.0.0.1:{server.port}/chat/people?code=abcd-efgh"
        with Outside(server.ws_url(), "Ann") as ann:
            ann.say("with the code")
            ann.expect(type="chat", name="Ann", text="with the code")
        assert handshake_status(server.ws_url().split("?")[0]) == 403
        panel = ChatPanel(f"ws://127.0.0.1:{server.port}/?code=abcd-efgh", room="lab")
        assert panel.ws_url == f"ws://127.0.0.1:{server.port}/chat/lab?code=abcd-efgh"
        panel.close()


def test_a_class_code_keeps_out_whoever_lacks_it_and_lets_in_whoever_has_the_link(page):
    with ChatkitServe("--room", "people", "--class-code", "k7f3-q9x2").wait_serving() as server:
        page_url = server.page_url
        assert page_url.endswith("/people?code=k7f3-q9x2")
        bare = page_url.split("?")[0]
        # Without the code: a form that asks for it, and no WebSocket.
        assert page.goto(bare).status == 401
        page.fill("#code", "a-guess")
        page.click("#enter")
        expect(page.locator("#code")).to_be_visible()
        assert handshake_status(server.ws_url("people")) == 403
        # With it: typed into the form, the page opens (the code leaves the address bar).
        page.fill("#code", "k7f3-q9x2")
        page.click("#enter")
        page.wait_for_url(bare)
        join(page, "Ann", bare)
        with Outside(f"{server.ws_url('people')}?code=k7f3-q9x2", "Colt") as colt:
            say(page, "only the class hears this")
            colt.expect(type="chat", name="Ann", text="only the class hears this")
        assert server.stop(signal.SIGINT) == 0
    with ChatkitServe("--room", "people").wait_serving() as server:
        assert "?" not in server.page_url  # without a class code, the original's way still works


#: Paths whose last segment is one of the page's public files: a WebSocket route with such a
#: room (``/chat/favicon.ico``) was once let in without the code.
PUBLIC_LOOKING = ("favicon.ico", "_static", "chat.js", "_static%2Fchat.js", "chat.css")


def test_every_websocket_route_and_every_page_needs_the_code_and_only_the_public_files_do_not():
    """Every route of the server, each with room names that look like the public files:
    an upgrade without the code is refused (403), with it let in; plain pages ask for it."""
    routes = [rule.rule for rule in chatkit.server.ChatServer().url_map.iter_rules()]
    assert routes == ["/chat/<room>", "/random", "/echo", "/_instructor/ws"]  # a new one: below
    upgrades = [f"/chat/{room}" for room in ("people", *PUBLIC_LOOKING)]
    upgrades += ["/random", "/echo", "/random?count=1", "/echo?x=/favicon.ico"]
    with ChatkitServe("--class-code", "k7f3-q9x2").wait_serving() as server:
        base = f"ws://127.0.0.1:{server.port}"
        for path in upgrades:
            assert handshake_status(base + path) == 403, path
            joined = "&" if "?" in path else "?"
            assert handshake_status(f"{base}{path}{joined}code=k7f3-q9x2") == 101, path
        # The instructor's desk: the class code first, then (no instructor code set) nothing.
        assert handshake_status(base + "/_instructor/ws") == 403
        assert handshake_status(base + "/_instructor/ws?code=k7f3-q9x2") == 404
        # Upgrades to the public files' own paths: refused too (the code is asked first).
        for path in ("/favicon.ico", "/_static/chat.js", "/_static/chat.css", "/x/favicon.ico"):
            assert handshake_status(base + path) == 403, path
        for path in ("/", "/people", "/chat/people", "/random", "/echo", "/_static/nope.js",
                     "/_instructor/", "/_instructor/instructor.js"):
            assert http_get(server.port, path)[0] == 401, path
        # Ends like the public icon (under a prefix it could be it): served as such, 404.
        assert http_get(server.port, "/chat/favicon.ico")[0] == 404
        # The page's own files stay public: its styles, its script, an empty icon.
        assert http_get(server.port, "/_static/chat.js")[0] == 200
        assert http_get(server.port, "/_static/chat.css")[0] == 200
        assert http_get(server.port, "/favicon.ico")[0] == 204
        assert "k7f3" not in http_get(server.port, "/_static/chat.js")[2].decode()
        assert server.stop(signal.SIGINT) == 0


def answer(port: int, request: bytes, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """Send one raw request from ``source``; the answer's status and head."""
    with raw_connect(port, source) as sock:
        sock.sendall(request)
        head = read_head(sock)
    return int(head.split(b" ", 2)[1]), head


def get_request(port: int, path: str, extra: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{extra}\r\n".encode()


# -- short codes are refused --------------------------------------------------------------------


@pytest.mark.parametrize("code", ["abc", "1234", "abcd-ef"])
def test_a_class_code_shorter_than_8_characters_is_refused_with_advice(code):
    with pytest.raises(ValueError, match="at least 8") as refused:
        ClassCode(code)
    assert "--class-code with no value" in str(refused.value)
    for args in (("--class-code", code), ("--workers", "2", "--redis", "redis://127.0.0.1:1",
                                          f"--class-code={code}")):
        with ChatkitServe(*args) as server:
            assert server.wait() == 2
        assert "at least 8" in server.output and "--class-code with no value" in server.output
        assert "serving on" not in server.output and code not in server.output
    generated = ClassCode()  # the generated code: 8 letters of the board's alphabet, and a dash
    assert re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}", generated.code), generated.code


# -- wrong guesses are slowed and logged ----------------------------------------------------------


def test_wrong_guesses_lock_out_their_address_quickly_and_an_honest_classmate_gets_in_at_once():
    from chatkit.server.class_code import WRONG_GUESSES_ALLOWED

    with ChatkitServe("--class-code", "k7f3-q9x2").wait_serving() as server:
        port = server.port
        guesses = [answer(port, upgrade_request(port, f"/chat/people?code=guess{i:04d}"),
                          source="127.0.0.2") for i in range(WRONG_GUESSES_ALLOWED)]
        assert [status for status, _ in guesses] == [403] * WRONG_GUESSES_ALLOWED
        started = time.monotonic()
        status, head = answer(port, upgrade_request(port, "/chat/people?code=guess9999"),
                              source="127.0.0.2")
        assert status == 429 and b"\r\nRetry-After: " in head, head
        # Locked out, even the right code is refused: a lockout must not tell right from wrong.
        status, _ = answer(port, upgrade_request(port, "/chat/people?code=k7f3-q9x2"),
                           source="127.0.0.2")
        assert status == 429
        assert time.monotonic() - started < 1.0  # answered at once, no connection held open
        # A classmate on another address: in at once, by the link and by the page's cookie.
        started = time.monotonic()
        assert answer(port, upgrade_request(port, "/chat/people?code=k7f3-q9x2"),
                      source="127.0.0.3")[0] == 101
        assert answer(port, get_request(port, "/people?code=k7f3-q9x2"), source="127.0.0.3")[0] == 302
        assert time.monotonic() - started < 1.0
        server.stop(signal.SIGINT)
    lockouts = [line for line in server.output.splitlines() if "127.0.0.2" in line]
    assert len(lockouts) == 1 and "wrong class code" in lockouts[0], server.output
    assert "guess" not in server.output  # never the guessed code


def test_the_table_of_wrong_guesses_stays_bounded_whatever_the_number_of_addresses():
    from chatkit.server.class_code import WrongGuesses, client_network

    guesses = WrongGuesses(allowed=1, size=100)
    for i in range(10_000):  # an attacker with ten thousand addresses
        guesses.wrong(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert len(guesses) == 100  # the least recently wrong were forgotten
    assert guesses.wait("10.0.39.15") > 0 and guesses.wait("10.0.0.0") == 0
    # One IPv6 machine often holds a whole /64: it is one client.
    assert client_network("2001:db8::1") == client_network("2001:db8::ffff:1") == "2001:db8::/64"


# -- the link to hand out ----------------------------------------------------------------------------


def test_a_server_on_all_addresses_prints_its_lan_link_and_its_local_one():
    from chatkit.server.links import lan_address

    lan = lan_address()
    with ChatkitServe("--host", "0.0.0.0", "--class-code", "k7f3-q9x2").wait_serving() as server:
        # The links come after "serving on": wait for the line printed after them.
        server.wait_for(r"^chatkit: class code ")
        links = re.findall(r"http://(\S+?):(\d+)/people\?code=k7f3-q9x2", server.output)
        hosts = [host for host, _ in links]
        assert hosts[:2] == [lan, "127.0.0.1"], server.output
        assert lan != "127.0.0.1" or not _has_a_lan_interface()
        # The printed LAN link reaches this server (its own address: the traffic stays here).
        with socket.create_connection((lan, server.port), timeout=DEADLINE) as sock:
            sock.sendall(get_request(server.port, "/people?code=k7f3-q9x2"))
            assert read_head(sock).startswith(b"HTTP/1.1 302")


def _has_a_lan_interface() -> bool:
    """Does this machine have an IPv4 address besides loopback? (Asked of the kernel:
    ``hostname -I`` lists them all, sending nothing.)"""
    import subprocess

    listed = subprocess.run(["hostname", "-I"], capture_output=True, text=True, timeout=DEADLINE)
    return any(not address.startswith("127.") and ":" not in address
               for address in listed.stdout.split())
