"""The instructor's page in a real browser (headless Chromium) against ``python -m chatkit serve``.

The server is started as a fresh clone runs it, with the instructor code in its
environment (never in its argv). Students are Python clients; the instructor opens
``/_instructor/``, types the code, and sees, mutes, removes, announces and exports.
A student who opens the page with a guess gets nothing of the class.
"""

from __future__ import annotations

import json
import os
import urllib.parse

import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed

from tests.helpers.browser import page_errors
from tests.helpers.chat import Outside
from tests.helpers.processes import ChatkitServe

pytestmark = pytest.mark.timeout(90)

CODE = "tea-and-biscuits-at-four"
#: A name that would be markup if a page used innerHTML.
MARKUP = "<b>bold</b>"


@pytest.fixture
def server():
    env = {**os.environ, "CHATKIT_INSTRUCTOR_CODE": CODE}
    with ChatkitServe(env=env) as served:
        served.wait_serving()
        yield served


def test_an_instructor_sees_mutes_removes_announces_and_exports_in_the_browser(
    server, page, artifacts
):
    assert CODE not in open(f"/proc/{server.pid}/cmdline").read()
    base = f"http://127.0.0.1:{server.port}"
    page.goto(f"{base}/_instructor/")
    page.fill("#code", CODE)
    page.click("#login")
    expect(page.locator("#status")).to_have_text("connected")
    with Outside(server.ws_url("people"), "ann") as ann, \
            Outside(server.ws_url("people"), MARKUP) as marked, \
            Outside(server.ws_url("lab"), "eve") as eve:
        ann.say("hello")
        people = page.locator('section.room[data-room="people"]')
        expect(people.locator("tr.member")).to_have_count(2)
        ann_row = people.locator('tr[data-name="ann"]')
        expect(ann_row.locator("td").nth(2)).to_have_text("1")  # messages sent
        expect(people.locator("tr.member td.name").nth(1)).to_have_text(MARKUP)  # as text
        expect(page.locator('section.room[data-room="lab"] td.name')).to_have_text("eve")
        page.screenshot(path=artifacts / "instructor-class.png", full_page=True)

        people.locator(f'tr[data-name="{MARKUP}"] button', has_text="Mute").click()
        expect(people.locator(f'tr[data-name="{MARKUP}"] td.name')).to_have_text(
            f"{MARKUP} (muted)")
        marked.say("spam")
        marked.expect(type="error", text="the instructor muted you: your messages are not sent")

        page.locator('section.room[data-room="lab"] button', has_text="Remove").click()
        eve.expect(type="error", text="the instructor removed you from this class")
        with pytest.raises(ConnectionClosed):
            eve.wait_for(lambda m: False, "the close")
        expect(page.locator("#removed")).to_have_text(
            "Removed for the rest of the class: eve")
        expect(page.locator('section.room[data-room="lab"]')).to_have_count(0)

        page.fill("#announcement", "5 minutes left")
        page.click("#announce")
        ann.expect(type="note", text="Announcement from the instructor: 5 minutes left")

        with page.expect_download() as download:
            people.locator("button", has_text="Export transcript").click()
        saved = download.value
        assert saved.suggested_filename == "people.jsonl"
        path = artifacts / "people.jsonl"
        saved.save_as(path)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        assert [(line.get("name"), line["text"]) for line in lines] == [
            (None, 'ann joined "people".'), (None, f'{MARKUP} joined "people".'),
            ("ann", "hello"), (None, "Announcement from the instructor: 5 minutes left")]
        expect(page.locator("#messages li.note").last).to_have_text(
            "Transcript of people exported (4 lines).")
        page.screenshot(path=artifacts / "instructor-after-actions.png", full_page=True)
    assert page_errors(page) == []


def test_a_student_with_a_guess_cannot_reach_the_instructors_view(server, page, artifacts):
    page.goto(f"http://127.0.0.1:{server.port}/_instructor/")
    with Outside(server.ws_url("people"), "ann"):
        page.fill("#code", "the class code?")
        page.click("#login")
        expect(page.locator("#messages li.error")).to_have_text("error: wrong instructor code")
        expect(page.locator("#status")).to_have_text("disconnected: wrong instructor code")
        expect(page.locator("#desk")).to_be_hidden()
        assert page.locator("#rooms *").count() == 0  # nothing of the class arrived
        page.screenshot(path=artifacts / "student-refused.png", full_page=True)
    assert "wrong instructor code from 127.0.0.1" in server.output


#: Student text that would run script if the page ever used innerHTML: room names,
#: names, chats; a right-to-left name (legitimate: shown as text, in its direction).
HOSTILE_ROOM = "<img src=x onerror=window.pwned=1>"
HOSTILE_NAMES = ["<img src=x onerror=window.pwned=2>", '"><svg onload=window.pwned=3>',
                 "שלום"]


def test_student_text_on_the_instructors_page_is_text_and_never_runs(server, page, artifacts):
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"http://127.0.0.1:{server.port}/_instructor/")
    page.fill("#code", CODE)
    page.click("#login")
    expect(page.locator("#status")).to_have_text("connected")
    room_url = server.ws_url(urllib.parse.quote(HOSTILE_ROOM, safe=""))
    with Outside(room_url, HOSTILE_NAMES[0]) as first, Outside(room_url, HOSTILE_NAMES[1]), \
            Outside(room_url, HOSTILE_NAMES[2]) as hebrew:
        first.say("<script>window.pwned=4</script><img src=x onerror=window.pwned=5>")
        # A right-to-left override in a name is refused before any page sees it.
        hebrew.say("/name ann\u202egnp.exe")
        hebrew.expect(type="error", text="a name cannot contain control characters")
        section = page.locator("section.room").first
        expect(section.locator("h2")).to_contain_text(f"Room {HOSTILE_ROOM}")
        expect(section.locator("td.name")).to_have_text(HOSTILE_NAMES)
        expect(section.locator("tr.member").first.locator("td").nth(2)).to_have_text("1")
        section.locator("tr.member").nth(1).locator("button", has_text="Mute").click()
        expect(section.locator("td.name").nth(1)).to_have_text(f"{HOSTILE_NAMES[1]} (muted)")
        section.locator("tr.member").first.locator("button", has_text="Remove").click()
        expect(page.locator("#removed")).to_have_text(
            f"Removed for the rest of the class: {HOSTILE_NAMES[0]}")
        with page.expect_download() as download:
            section.locator("button", has_text="Export transcript").click()
        lines = download.value.path().read_text().splitlines()
        assert any("<script>window.pwned=4</script>" in line for line in lines)
        page.screenshot(path=artifacts / "instructor-hostile-text.png", full_page=True)
        # Nothing ran, no element was made from student text, no dialog opened.
        assert page.evaluate("window.pwned") is None
        assert page.locator("#rooms img, #rooms svg, #rooms script, #removed img").count() == 0
        # Each name in its own direction (<bdi>): "שלום" cannot pull "(muted)" or a
        # neighbour's name into its right-to-left run.
        expect(section.locator("td.name bdi")).to_have_text(HOSTILE_NAMES[1:])
        assert dialogs == []
    assert page_errors(page) == []
