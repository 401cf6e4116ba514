"""The chat page in a real browser on one server, a classmate on another, one room through Redis."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

import chatkit
from tests.helpers.browser import join, page_errors, say
from tests.helpers.chat import Outside

pytestmark = pytest.mark.timeout(60)


def test_the_page_on_server_a_chats_with_a_classmate_on_server_b(redis_server, page):
    a = chatkit.start(port=0, show=False, redis=redis_server.url)
    b = chatkit.start(port=0, show=False, redis=redis_server.url)
    try:
        join(page, "Ada", a.page_url("people"))
        messages = page.locator("#messages li")
        expect(messages.last).to_have_text('Ada joined "people".')
        with Outside(b.ws_url("people"), "Bob") as bob:  # on the other server
            expect(messages.last).to_have_text('Bob joined "people".')
            say(page, "hello from server A's page")
            bob.expect(type="chat", name="Ada", text="hello from server A's page")
            bob.say("hi Ada, from server B")
            expect(messages.last).to_have_text("Bob: hi Ada, from server B")
            bob.say("/priv Ada just between us")
            expect(messages.last).to_have_text("Bob → Ada (private): just between us")
            say(page, "/members")
            expect(messages.last).to_have_text("In room: Ada, Bob")
        expect(messages.last).to_have_text("Bob left people.")
        assert page_errors(page) == []
    finally:
        a.stop()
        b.stop()


def test_the_instructors_page_on_server_a_shows_and_mutes_the_class_on_both(
        redis_server, page, artifacts):
    code = "instructor-code-for-tests"
    a = chatkit.start(port=0, show=False, redis=redis_server.url, instructor_code=code)
    b = chatkit.start(port=0, show=False, redis=redis_server.url, instructor_code=code)
    try:
        page.goto(a.page_url("_instructor") + "/")
        page.fill("#code", code)
        page.click("#login")
        expect(page.locator("#status")).to_have_text("connected")
        with Outside(a.ws_url("people"), "Ada"), Outside(b.ws_url("people"), "Bob") as bob:
            people = page.locator('section.room[data-room="people"]')
            expect(people.locator("td.name")).to_have_text(["Ada", "Bob"])
            servers = people.locator("td.server").all_inner_texts()
            assert len(set(servers)) == 2, servers  # each member's own server
            people.locator('tr[data-name="Bob"] button', has_text="Mute").click()
            expect(people.locator('tr[data-name="Bob"] td.name')).to_have_text("Bob (muted)")
            bob.say("spam")  # on server B
            bob.expect(type="error", text="the instructor muted you: your messages are not sent")
            page.screenshot(path=artifacts / "instructor-redis-class.png", full_page=True)
        assert page_errors(page) == []
    finally:
        a.stop()
        b.stop()
