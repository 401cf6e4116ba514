"""The chat page comes back by itself (headless Chromium, a real server): after the
server process restarts on the same port it rejoins and shows what others said since,
and after its connection is cut it replays what was said meanwhile -- once each."""

from __future__ import annotations

import datetime
import signal

import pytest
from playwright.sync_api import Page, expect

from tests.helpers.browser import join, last_line, say
from tests.helpers.chat import Outside
from tests.helpers.processes import ChatkitServe
from tests.helpers.waiting import wait_until

pytestmark = pytest.mark.timeout(120)


def lines(page: Page) -> list[str]:
    return page.locator("#messages li").all_text_contents()


def uncaught(page: Page) -> list[str]:
    return [line for line in page.console_lines if line.startswith("pageerror")]


def test_the_page_rejoins_a_restarted_server_and_shows_what_was_said_since_once(page):
    first = ChatkitServe("--room", "people").wait_serving()
    try:
        join(page, "Ada", first.page_url)
        with Outside(first.ws_url("people"), "Bob") as bob:
            bob.say("before the restart")
            expect(last_line(page, "li.chat")).to_have_text("Bob: before the restart")
        assert first.stop(signal.SIGINT) == 0
    finally:
        first.kill()
    expect(page.locator("#status")).to_have_text("disconnected (code 1001)")
    expect(page.locator("#retry")).to_contain_text("reconnecting")
    with ChatkitServe("--room", "people", "--port", str(first.port)).wait_serving() as second:
        with Outside(second.ws_url("people"), "Cy") as cy:
            cy.say("after the restart")
            cy.say("and again")
            cy.wait_for(lambda m: m.get("text") == 'Ada joined "people".', "Ada back")
            expect(page.locator("#status")).to_have_text("connected")
            expect(page.locator("#chat-form")).to_be_visible()
            expect(last_line(page, "li.chat")).to_have_text("Cy: and again")
            say(page, "I am back")
            cy.expect(type="chat", name="Ada", text="I am back")
            expect(last_line(page, "li.chat")).to_have_text("Ada: I am back")
        seen = lines(page)
        for line in ["Bob: before the restart", "Cy: after the restart", "Cy: and again",
                     "Ada: I am back"]:
            assert seen.count(line) == 1, (line, seen)
        assert seen.index("Cy: after the restart") < seen.index("Cy: and again")
        missed = page.locator("#messages li.missed")
        expect(missed).to_have_count(1)
        expect(missed).to_contain_text("the server restarted")
        assert page.locator("#retry").text_content() == ""
        assert second.stop(signal.SIGINT) == 0
    assert uncaught(page) == []


def test_a_cut_connection_comes_back_and_replays_what_was_said_meanwhile_once(live_server, page):
    # The page's retry timer runs when the test says so: installed, the clock would still
    # flow (a slow machine let the page come back before the test looked); paused, it waits.
    start = datetime.datetime(2026, 1, 1)
    page.clock.install(time=start)
    page.clock.pause_at(start + datetime.timedelta(seconds=1))
    join(page, "Ada", live_server.page_url("people"))
    with Outside(live_server.ws_url("people"), "Bob") as bob:
        bob.say("before the cut")
        expect(last_line(page, "li.chat")).to_have_text("Bob: before the cut")
        [connection] = [c for c in live_server._ws_server.connections
                        if getattr(getattr(c, "member", None), "name", None) == "Ada"]
        live_server.loop.call_soon_threadsafe(connection.transport.abort)  # no close frame
        bob.expect(type="note", text="Ada left people.")
        expect(page.locator("#status")).to_have_text("disconnected (code 1006)")
        bob.say("meanwhile one")
        bob.say("meanwhile two")
        bob.expect(type="chat", name="Bob", text="meanwhile two")
        assert "Bob: meanwhile one" not in lines(page)  # away: nothing arrived yet
        page.clock.run_for(20_000)  # past the longest first wait: it reconnects
        bob.expect(type="note", text='Ada joined "people".')
        expect(last_line(page, "li.chat")).to_have_text("Bob: meanwhile two")
        expect(page.locator("#chat-form")).to_be_visible()
        bob.say("after")
        expect(last_line(page, "li.chat")).to_have_text("Bob: after")
    seen = lines(page)
    assert [line for line in seen if line.startswith("Bob:")] == [
        "Bob: before the cut", "Bob: meanwhile one", "Bob: meanwhile two", "Bob: after"]
    assert seen.count("Ada left people.") == 1 and seen.count('Ada joined "people".') == 2
    assert page.locator("#messages li.missed").count() == 0  # nothing was lost
    wait_until(lambda: uncaught(page) == [], "no uncaught error")
