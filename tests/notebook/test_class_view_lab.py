"""The instructor's ``ClassView`` end to end: a real JupyterLab, its kernel, headless Chromium.

The instructor's notebook starts a server with ``chatkit.start`` and shows ``ClassView``;
students are Python clients on that server. In the browser, the instructor sees them
(a name made of markup shows as text and runs nothing), mutes one, removes one,
announces to every room and exports a room's transcript as JSON lines.
"""

from __future__ import annotations

import json

import nbformat
import pytest
from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed

from tests.helpers import browser
from tests.helpers.chat import Outside
from tests.helpers.lab import JupyterLab
from tests.helpers.sockets import free_port

pytestmark = pytest.mark.timeout(150)

PAYLOAD = "<img src=x onerror=window.pwned=1>"


def test_an_instructor_sees_mutes_removes_announces_and_exports_in_jupyterlab(
    chromium, tmp_path, artifacts
):
    port = free_port()
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(f"import chatkit\nserver = chatkit.start(port={port}, show=False)"),
        nbformat.v4.new_code_cell("from chatkit.notebook.class_view import ClassView\n"
                                  "view = ClassView(server)\nview"),
    ], metadata={"kernelspec": {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                "language": "python"}})
    path = tmp_path / "instructor.ipynb"
    nbformat.write(notebook, path)
    room = f"ws://127.0.0.1:{port}/chat/"
    with JupyterLab.start(tmp_path / "lab", [path]) as lab:
        page = chromium.new_context(viewport={"width": 1200, "height": 900}).new_page()
        page.set_default_timeout(browser.TIMEOUT_MS)
        lab.open_notebook(page, path.name)
        lab.run_all(page)
        view = page.locator(".chatkit-class-view")
        try:
            expect(view).to_contain_text("The class: 0 people in 0 rooms", timeout=60_000)
        finally:  # what the notebook showed, if the view never came
            page.screenshot(path=artifacts / "class-view-started.png")
        with Outside(room + "people", "ann") as ann, \
                Outside(room + "people", PAYLOAD) as payload, \
                Outside(room + "lab", "eve") as eve:
            ann.say("hello")
            expect(view).to_contain_text("The class: 3 people in 2 rooms")
            members = view.locator(".chatkit-class-member")
            expect(members.nth(0)).to_contain_text("eve")  # rooms in order: lab, people
            expect(members.nth(1)).to_contain_text("ann")
            expect(members.nth(1)).to_contain_text("1 messages")
            expect(members.nth(2)).to_contain_text(PAYLOAD)  # as text, not an image
            page.screenshot(path=artifacts / "class-view.png")

            members.nth(1).get_by_role("button", name="Mute").click()
            expect(members.nth(1)).to_contain_text("ann (muted)")
            ann.say("spam")
            ann.expect(type="error", text="the instructor muted you: your messages are not sent")

            members.nth(0).get_by_role("button", name="Remove").click()
            eve.expect(type="error", text="the instructor removed you from this class")
            with pytest.raises(ConnectionClosed):
                eve.wait_for(lambda m: False, "the close")
            expect(view).to_contain_text("The class: 2 people in 1 rooms")

            view.locator("input").fill("pens down in 5 minutes")
            view.get_by_role("button", name="Announce").click()
            payload.expect(type="note",
                           text="Announcement from the instructor: pens down in 5 minutes")

            view.get_by_role("button", name="Export people").click()
            expect(view).to_contain_text("Saved people.jsonl")
            lines = [json.loads(line)
                     for line in (lab.root / "people.jsonl").read_text().splitlines()]
            assert [(line.get("name"), line["text"]) for line in lines] == [
                (None, 'ann joined "people".'), (None, f'{PAYLOAD} joined "people".'),
                ("ann", "hello"),
                (None, "Announcement from the instructor: pens down in 5 minutes")]
            page.screenshot(path=artifacts / "class-view-after-actions.png")
            assert page.evaluate("window.pwned") is None
        page.context.close()
