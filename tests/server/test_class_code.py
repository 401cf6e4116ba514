"""A class code (``chatkit.server.class_code``): off a hub, only whoever has the code gets in.

The links and panels a live server gives carry the code; the command line's page asks
for it, and a WebSocket without it is refused in the handshake.
"""

from __future__ import annotations

import signal

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
    assert routes == ["/chat/<room>", "/random", "/echo"]  # a new route: add it below
    upgrades = [f"/chat/{room}" for room in ("people", *PUBLIC_LOOKING)]
    upgrades += ["/random", "/echo", "/random?count=1", "/echo?x=/favicon.ico"]
    with ChatkitServe("--class-code", "k7f3-q9x2").wait_serving() as server:
        base = f"ws://127.0.0.1:{server.port}"
        for path in upgrades:
            assert handshake_status(base + path) == 403, path
            joined = "&" if "?" in path else "?"
            assert handshake_status(f"{base}{path}{joined}code=k7f3-q9x2") == 101, path
        # Upgrades to the public files' own paths: refused too (the code is asked first).
        for path in ("/favicon.ico", "/_static/chat.js", "/_static/chat.css", "/x/favicon.ico"):
            assert handshake_status(base + path) == 403, path
        http = f"http://127.0.0.1:{server.port}"
        for path in ("/", "/people", "/chat/people", "/random", "/echo", "/_static/nope.js"):
            assert http_get(server.port, path)[0] == 401, path
        # Ends like the public icon (under a prefix it could be it): served as such, 404.
        assert http_get(server.port, "/chat/favicon.ico")[0] == 404
        # The page's own files stay public: its styles, its script, an empty icon.
        assert http_get(server.port, "/_static/chat.js")[0] == 200
        assert http_get(server.port, "/_static/chat.css")[0] == 200
        assert http_get(server.port, "/favicon.ico")[0] == 204
        assert "k7f3" not in http_get(server.port, "/_static/chat.js")[2].decode()
        assert server.stop(signal.SIGINT) == 0
