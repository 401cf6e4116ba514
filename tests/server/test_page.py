"""The chat page in a real browser (headless Chromium), against a live server.

The page is opened at ``/<room>``, a person types a name and chats; a Python
client in the same room is the classmate on the other side. User text of every
kind (chat, names, the room name) must show as text and never run.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any, Iterator

import pytest
from playwright.sync_api import Page, expect

import chatkit
from tests.helpers.browser import join, last_line, page_errors, say
from tests.helpers.chat import Outside
from tests.helpers.http import serve_page
from tests.helpers.processes import ChatkitServe
from tests.helpers.sockets import free_port

pytestmark = pytest.mark.timeout(60)


def test_the_page_joins_and_chats_both_ways_with_a_python_client(live_server, page, artifacts):
    page.goto(live_server.page_url("people"))
    expect(page.locator("#room")).to_have_text("people")
    expect(page.locator("#chat-form")).to_be_hidden()
    page.fill("#name", "Ada")
    page.click("#join")
    joined = page.locator("#messages li.note").first
    expect(joined).to_have_text('Ada joined "people".')
    expect(joined).to_have_css("font-style", "italic")
    expect(page.locator("#status")).to_have_text("connected")
    expect(page.locator("#join-form")).to_be_hidden()

    with Outside(live_server.ws_url("people"), "Bob") as bob:
        expect(last_line(page, "li.note")).to_have_text('Bob joined "people".')
        # page -> Python
        say(page, "hello from the browser")
        bob.expect(type="chat", name="Ada", text="hello from the browser")
        expect(last_line(page, "li.chat")).to_have_text("Ada: hello from the browser")
        # Python -> page
        bob.say("hi Ada")
        expect(last_line(page, "li.chat")).to_have_text("Bob: hi Ada")
        expect(last_line(page, "li.chat .name")).to_have_text("Bob: ")
        # a private message is marked as such
        bob.say("/priv Ada just between us")
        private = last_line(page, "li.private")
        expect(private).to_have_text("Bob → Ada (private): just between us")
        expect(page.locator("#messages li.private")).to_have_count(1)
        # errors are shown, and the page goes on
        say(page, "/nope")
        expect(last_line(page, "li.error")).to_contain_text("unknown command /nope")
        say(page, "/members")
        expect(last_line(page, "li.note")).to_have_text("In room: Ada, Bob")
    expect(last_line(page, "li.note")).to_have_text("Bob left people.")
    expect(page.locator("#m")).to_have_value("")
    page.screenshot(path=artifacts / "page-chat.png")
    assert page_errors(page) == []


# -- HTML in user text ------------------------------------------------------------

ROOM = "<img src=x onerror=\"window.pwned='room'\">"
NAME = "<img src=x onerror=window.pwned=1>"
TEXT = "<script>window.pwned=2</script><img src=x onerror=\"window.pwned=3\"><b>bold</b>"
OTHER_NAME = "<svg onload=window.pwned=4>"
OTHER_TEXT = "<img src=x onerror=window.pwned=5>"


def send_payloads(
    page: Page, server: chatkit.LiveServer, screenshot: Path | None = None
) -> dict[str, Any]:
    """Chat with HTML in the room, both names and both texts; report what ran."""
    page.goto(server.page_url(ROOM))
    page.fill("#name", NAME)
    page.click("#join")
    expect(page.locator("#messages li.note")).to_have_count(1)  # whatever it shows
    with Outside(server.ws_url(ROOM), OTHER_NAME) as other:
        say(page, TEXT)
        other.expect(type="chat", name=NAME, text=TEXT)
        other.say(OTHER_TEXT)
        expect(page.locator("#messages li.chat")).to_have_count(2)
    expect(page.locator("#messages li.note")).to_have_count(3)  # ... left
    # An image that fails to load, made now: once its onerror fired, so had
    # those of any payload image the page made earlier.
    page.evaluate(
        "new Promise(done => { const probe = new Image(); probe.onerror = done;"
        " probe.src = 'x?probe'; })"
    )
    if screenshot is not None:
        page.screenshot(path=screenshot)
    return {
        "pwned": page.evaluate("typeof window.pwned === 'undefined' ? null : window.pwned"),
        "elements": page.evaluate(
            "[...document.querySelectorAll('#room *, #messages *')]"
            ".map(e => e.tagName.toLowerCase())"
            ".filter(tag => tag !== 'li' && tag !== 'span')"
        ),
        "room": page.locator("#room").text_content(),
        "title": page.title(),
        "lines": page.locator("#messages li").all_text_contents(),
    }


def test_html_in_chat_text_names_and_the_room_name_shows_as_text_and_runs_nothing(
    chromium, live_server, artifacts
):
    # Bypass the page's Content-Security-Policy: its rendering alone must hold.
    context = chromium.new_context(bypass_csp=True)
    try:
        seen = send_payloads(context.new_page(), live_server, artifacts / "page-html-payloads.png")
    finally:
        context.close()
    assert seen["pwned"] is None
    assert seen["elements"] == []
    assert seen["room"] == ROOM
    assert seen["title"] == f"{ROOM} - chatkit"
    assert seen["lines"] == [
        f'{NAME} joined "{ROOM}".',
        f'{OTHER_NAME} joined "{ROOM}".',
        f"{NAME}: {TEXT}",
        f"{OTHER_NAME}: {OTHER_TEXT}",
        f"{OTHER_NAME} left {ROOM}.",
    ]


def test_the_html_check_catches_a_page_that_renders_user_text_as_html(chromium, live_server):
    """The test above can fail: the same payloads do run in a page using innerHTML."""
    context = chromium.new_context(bypass_csp=True)

    def unsafe_chat_js(route: Any) -> None:
        body = route.fetch().text()
        assert "span.textContent = text;" in body
        route.fulfill(
            body=body.replace("span.textContent = text;", "span.innerHTML = text;"),
            content_type="text/javascript",
        )

    try:
        page = context.new_page()
        page.route("**/_static/chat.js", unsafe_chat_js)
        seen = send_payloads(page, live_server)
    finally:
        context.close()
    assert seen["pwned"] is not None
    assert "img" in seen["elements"]


# -- where the page connects ------------------------------------------------------


def test_the_page_talks_to_the_server_and_port_it_was_served_from(page):
    with chatkit.start(port=0, show=False) as one, \
            chatkit.start(port=0, show=False) as two:
        other_page = page.context.new_page()
        with Outside(one.ws_url("people"), "Watcher1") as watcher1, \
                Outside(two.ws_url("people"), "Watcher2") as watcher2:
            join(page, "Ada", one.page_url("people"))
            join(other_page, "Bea", two.page_url("people"))
            watcher1.expect(type="note", text='Ada joined "people".')
            watcher2.expect(type="note", text='Bea joined "people".')
            assert page.evaluate("address") == one.ws_url("people")
            assert other_page.evaluate("address") == two.ws_url("people")
        assert not any(m.get("text", "").startswith("Bea") for m in watcher1.received)
        assert not any(m.get("text", "").startswith("Ada") for m in watcher2.received)


def test_the_page_shows_disconnected_with_the_code_when_the_server_stops(live_server, page):
    join(page, "Ada", live_server.page_url("people"))
    live_server.stop()
    expect(page.locator("#status")).to_have_text("disconnected (code 1001)")
    expect(last_line(page, "li.note")).to_have_text("disconnected (code 1001)")
    expect(page.locator("#chat-form")).to_be_hidden()
    expect(page.locator("#join-form")).to_be_visible()


# -- the original exercise's client, unchanged ------------------------------------

# The original chat.js's logic (jQuery swapped for the DOM, as there is no
# network here), served as the original's page. Like the original it asks the
# name with prompt() and renders with innerHTML; only its address changes, from
# ws://localhost:3000 to the test server's.
ORIGINAL_PAGE = """<!doctype html>
<html><head><title>Chat</title></head><body>
<ul id="messages"></ul>
<form id="msg-form"><input id="m" autocomplete="off"><button>Send</button></form>
<script>
/** Client-side of groupchat. */
const urlParts = document.URL.split("/");
const roomName = urlParts[urlParts.length - 1];
const ws = new WebSocket(`ws://localhost:3000/chat/${roomName}`);
const name = prompt("Username?");

/** called when connection opens, sends join info to server. */
ws.onopen = function (evt) {
  console.log("open", evt);
  let data = {type: "join", name: name};
  ws.send(JSON.stringify(data));
};

/** called when msg received from server; displays it. */
ws.onmessage = function (evt) {
  console.log("message", evt);
  let msg = JSON.parse(evt.data);
  let item = document.createElement("li");
  if (msg.type === "note") {
    item.innerHTML = `<i>${msg.text}</i>`;
  } else if (msg.type === "chat") {
    item.innerHTML = `<b>${msg.name}: </b>${msg.text}`;
  } else {
    return console.error(`bad message: ${evt.data}`);
  }
  document.getElementById("messages").append(item);
};

/** called on error; logs it. */
ws.onerror = function (evt) { console.error(`err ${evt}`); };

/** called on connection-closed; logs it. */
ws.onclose = function (evt) { console.log("close", evt); };

/** send message when button pushed. */
document.getElementById("msg-form").addEventListener("submit", function (evt) {
  evt.preventDefault();
  let data = {type: "chat", text: document.getElementById("m").value};
  ws.send(JSON.stringify(data));
  document.getElementById("m").value = "";
});
</script>
</body></html>
"""


def test_the_original_exercise_client_works_against_our_server_unchanged(page):
    # Served by a server of its own here, the original page is another origin: the
    # server lets it in because it is named in origins=[...], as an instructor would.
    page_port = free_port()
    with chatkit.start(port=0, show=False, origins=[f"http://127.0.0.1:{page_port}"]) as server:
        run_the_original_client(server, page, page_port)


def run_the_original_client(live_server, page, page_port):
    html = ORIGINAL_PAGE.replace("localhost:3000", f"127.0.0.1:{live_server.port}")
    page.on("dialog", lambda dialog: dialog.accept("Colt"))
    with serve_page(html, page_port) as url:
        page.goto(f"{url}/people")
    lines = page.locator("#messages li")
    expect(lines.first).to_have_text('Colt joined "people".')
    expect(page.locator("#messages li i").first).to_have_text('Colt joined "people".')

    with Outside(live_server.ws_url("people"), "Bob") as bob:
        expect(lines.last).to_have_text('Bob joined "people".')
        page.fill("#m", "hi from the original client")
        page.press("#m", "Enter")
        bob.expect(type="chat", name="Colt", text="hi from the original client")
        expect(lines.last).to_have_text("Colt: hi from the original client")
        expect(page.locator("#messages li b").last).to_have_text("Colt: ")
        bob.say("hi Colt")
        expect(lines.last).to_have_text("Bob: hi Colt")
        page.fill("#m", "/joke")  # the further-study commands speak its language too
        page.press("#m", "Enter")
        expect(lines.last).to_contain_text("Server: ")
    expect(lines.last).to_have_text("Bob left people.")
    assert not [line for line in page.console_lines if "bad message" in line or "err " in line]


def test_a_long_room_name_wraps_on_a_phone_sized_screen(live_server, page):
    page.set_viewport_size({"width": 400, "height": 700})
    room = "a-long-room-name-without-spaces-" + "x" * 48  # 80 characters, the limit
    join(page, "Ada", live_server.page_url(room))
    assert page.evaluate("document.documentElement.scrollWidth") <= 400
    expect(page.locator("#status")).to_be_in_viewport()


def test_a_hand_typed_room_url_with_a_stray_percent_sign_still_joins(live_server, page):
    with Outside(live_server.ws_url("100%"), "Bob") as bob:
        join(page, "Ada", f"{live_server.url}/100%")  # typed as is, not "100%25"
        expect(page.locator("#room")).to_have_text("100%")
        bob.expect(type="note", text='Ada joined "100%".')
    assert not [line for line in page.console_lines if line.startswith("pageerror")]


def test_a_refused_join_shows_the_error_and_lets_the_person_pick_another_name(
    live_server, page
):
    with Outside(live_server.ws_url("people"), "Bob") as bob:
        page.goto(live_server.page_url("people"))
        page.fill("#name", "Bob")
        page.click("#join")
        expect(last_line(page, "li.error")).to_contain_text('"Bob" is already taken')
        expect(page.locator("#join-form")).to_be_visible()
        expect(page.locator("#chat-form")).to_be_hidden()
        expect(page.locator("#status")).to_have_text("not connected")
        page.fill("#name", "Bobby")
        page.click("#join")
        bob.expect(type="note", text='Bobby joined "people".')
        expect(page.locator("#chat-form")).to_be_visible()
        say(page, "second try")
        bob.expect(type="chat", name="Bobby", text="second try")
    assert page.locator("#messages li.note", has_text="disconnected").count() == 0


@contextlib.contextmanager
def cli_server(*options: str) -> Iterator[str]:
    """``python -m chatkit serve --port 0`` as a real process; yields the room page it prints."""
    with ChatkitServe("--room", "people", *options).wait_serving() as server:
        yield server.page_url
        assert server.stop(signal.SIGINT) == 0


def test_the_command_line_server_serves_a_room_a_browser_and_a_python_client_chat_in(page):
    with cli_server() as page_url:
        assert page_url.startswith("http://127.0.0.1:") and page_url.endswith("/people")
        join(page, "Ann", page_url)
        ws_url = page_url.replace("http://", "ws://").replace("/people", "/chat/people")
        with Outside(ws_url, "Colt") as colt:
            expect(page.locator("#messages li.note").last).to_have_text('Colt joined "people".')
            say(page, "hello from the browser")
            colt.expect(type="chat", name="Ann", text="hello from the browser")
            colt.say("hello from Python")
            expect(page.locator("#messages li.chat").last).to_have_text("Colt: hello from Python")
        expect(page.locator("#messages li.note").last).to_have_text("Colt left people.")


# -- under a path prefix: JupyterHub, Binder, a hub service ---------------------------


def test_a_server_under_a_prefix_serves_the_page_and_its_room_there_only(page):
    """As the hub service runs: /services/chatkit/<room> and /services/chatkit/chat/<room>."""
    with chatkit.start(port=0, show=False, prefix="/services/chatkit/") as server:
        base = f"{server.url}/services/chatkit"
        assert server.ws_url("people") == f"ws://127.0.0.1:{server.port}/services/chatkit/chat/people"
        join(page, "Ann", f"{base}/people")
        with Outside(server.ws_url("people"), "Bob") as bob:
            say(page, "under a prefix")
            bob.expect(type="chat", name="Ann", text="under a prefix")
        assert page.goto(f"{server.url}/people").status == 404
        assert page.goto(base).url == f"{base}/"
        expect(page.locator("a", has_text="people")).to_have_attribute("href", "people")


# -- a class code, off a hub ------------------------------------------------------------


