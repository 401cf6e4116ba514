"""The chat page in a real browser on one server, a classmate on another, one room through Redis."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import chatkit
from kernel_support import Outside
from redis_helpers import redis_server  # noqa: F401 (fixture)

pytestmark = pytest.mark.timeout(60)


def test_the_page_on_server_a_chats_with_a_classmate_on_server_b(redis_server, page):
    a = chatkit.start(port=0, show=False, redis=redis_server.url)
    b = chatkit.start(port=0, show=False, redis=redis_server.url)
    try:
        page.goto(a.page_url("people"))
        page.fill("#name", "Ada")
        page.click("#join")
        messages = page.locator("#messages li")
        expect(messages.last).to_have_text('Ada joined "people".')
        with Outside(b.ws_url("people"), "Bob") as bob:  # on the other server
            expect(messages.last).to_have_text('Bob joined "people".')
            page.fill("#m", "hello from server A's page")
            page.click("#send")
            bob.expect(type="chat", name="Ada", text="hello from server A's page")
            bob.say("hi Ada, from server B")
            expect(messages.last).to_have_text("Bob: hi Ada, from server B")
            bob.say("/priv Ada just between us")
            expect(messages.last).to_have_text("Bob → Ada (private): just between us")
            page.fill("#m", "/members")
            page.click("#send")
            expect(messages.last).to_have_text("In room: Ada, Bob")
        expect(messages.last).to_have_text("Bob left people.")
        assert not [line for line in page.console_lines if line.startswith(("error", "pageerror"))]
    finally:
        a.stop()
        b.stop()
