"""Other web pages cannot join a room: a cross-origin page and a DNS-rebinding page, in Chromium.

The student's browser is the way in for a web attacker: any page it opens can run
``new WebSocket("ws://127.0.0.1:3000/chat/people")``. The attacker's page here is
served from another port of 127.0.0.1 (another origin); the rebinding page is
served, through Playwright, at ``http://attacker.test:<port>/`` while Chromium
resolves ``attacker.test`` to 127.0.0.1 -- as a rebinding DNS server would.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import chatkit
from tests.helpers import browser
from tests.helpers.chat import Outside, chat_server
from tests.helpers.http import serve_page
from tests.helpers.sockets import raw_connect, read_head, upgrade_request
from tests.helpers.waiting import DEADLINE, run

pytestmark = pytest.mark.timeout(60)

ATTACK = """<!doctype html><title>cute cats</title><script>
window.result = "pending";
window.tryJoin = (url) => {  // what the attacker's page does with the student's browser
  const ws = new WebSocket(url);
  ws.onopen = () => {
    window.result = "open";
    ws.send(JSON.stringify({type: "join", name: "Mallory"}));
  };
  ws.onmessage = (event) => { window.result = "heard: " + event.data; };
  ws.onclose = (event) => {
    if (!window.result.startsWith("heard")) window.result = "closed " + event.code;
  };
};
%s
</script>"""


@pytest.fixture(scope="module")
def chromium():
    """Chromium that resolves ``attacker.test`` to 127.0.0.1, as after a DNS rebinding.

    (It stands in for the suite's ``chromium`` in this module: ``page`` uses it.)
    """
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = browser.launch(playwright, "--host-resolver-rules=MAP attacker.test 127.0.0.1")
        yield launched
        launched.close()


def outcome(page: Page) -> str:
    page.wait_for_function("window.result && window.result !== 'pending'", timeout=30_000)
    return page.evaluate("window.result")


# -- Origin and Host, in the handshake (first: asyncio.run fails while Chromium runs) --


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


# -- pages in Chromium ----------------------------------------------------------------


def test_a_page_from_another_origin_cannot_join_a_room(page):
    with chatkit.start(port=0, show=False) as server, \
            Outside(server.ws_url("people"), "Ann") as ann, \
            serve_page(ATTACK % f"tryJoin({server.ws_url('people')!r});") as site:
        page.goto(f"{site}/cats")  # another port of 127.0.0.1: another origin
        assert outcome(page) == "closed 1006"  # refused in the handshake: the page learns nothing
        ann.say("sentinel")
        ann.expect(type="chat", name="Ann", text="sentinel")  # no "Mallory joined" before it
        assert not [e for e in server.events if e.kind == "join" and "Mallory" in e.text]
        assert any(e.kind == "refuse" and "another site" in e.text for e in server.events)
        # The server's own page, in the same browser, still chats.
        browser.join(page, "Ada", server.page_url("people"))
        ann.expect(type="note", text='Ada joined "people".')


# Called once the attacker's DNS points attacker.test at the student's 127.0.0.1:
# the same origin, as far as the browser can tell.
REBINDING = ATTACK % ""
SAME_ORIGIN_JOIN = "tryJoin(`ws://${location.host}/chat/people`)"


def test_a_dns_rebinding_page_cannot_join_a_room(page):
    # The attacker's site serves its page at attacker.test:PORT ...
    with serve_page(REBINDING) as site:
        port = int(site.rsplit(":", 1)[1])
        page.goto(f"http://attacker.test:{port}/cats")
    # ... then rebinds: attacker.test:PORT is now the student's chat server.
    with chatkit.start(port=port, show=False) as server, \
            Outside(server.ws_url("people"), "Ann") as ann:
        page.evaluate(SAME_ORIGIN_JOIN)
        assert outcome(page) == "closed 1006"
        ann.say("sentinel")
        ann.expect(type="chat", name="Ann", text="sentinel")  # no "Mallory joined" before it
        assert not [e for e in server.events if e.kind == "join" and "Mallory" in e.text]
        assert any(e.kind == "refuse" and "DNS rebinding" in e.text for e in server.events)
        # And the room page itself, asked for under that name, is refused too.
        assert page.goto(f"http://attacker.test:{port}/people").status == 403
