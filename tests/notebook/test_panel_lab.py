"""The chat panel end to end: a real JupyterLab, its kernel, headless Chromium.

One JupyterLab for the module runs ``tests/notebooks/panel_demo.ipynb`` (a live
server and two panels, Ann and Bob, in room "people"); a second browser page is
the server's own chat page in that room. Run with ``-s`` to see the latency.
"""

from __future__ import annotations

import re
import statistics
from pathlib import Path

import pytest

from tests.helpers import browser
from tests.helpers.chat import Outside
from tests.helpers.lab import JupyterLab

NOTEBOOK = Path(__file__).parent / "panel_demo.ipynb"
PAYLOAD_NAME = "<img src=x onerror=window.pwned=1>"
PAYLOAD_TEXT = "<img src=y onerror=window.pwned=2><script>window.pwned=3</script><b>bold?</b>"
TIMEOUT = browser.TIMEOUT_MS  # for any one wait in the browser



@pytest.fixture(scope="module")
def lab(chromium, tmp_path_factory):
    """JupyterLab with the demo notebook run: (lab page, the room's chat page URL)."""
    with JupyterLab.start(tmp_path_factory.mktemp("lab"), [NOTEBOOK]) as jupyterlab:
        context = chromium.new_context(viewport={"width": 1200, "height": 1060})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT)
        jupyterlab.open_notebook(page, NOTEBOOK.name)
        jupyterlab.run_all(page)
        for panel in (ann(page), bob(page)):
            panel.locator(".chatkit-members", has_text="In the room (2)").wait_for()
        printed = page.locator(".jp-OutputArea-output", has_text="chatkit server running").first
        room_page = re.search(r"http://127\.0\.0\.1:\d+/people", printed.inner_text()).group()
        yield page, room_page
        context.close()


def ann(page):
    return page.locator(".chatkit-panel").nth(0)


def bob(page):
    return page.locator(".chatkit-panel").nth(1)


def say_in(panel, text: str, key: str = "Enter") -> None:
    box = panel.locator(".chatkit-message input")
    box.fill(text)
    box.press(key)


def test_two_panels_and_the_browser_page_chat_with_each_other(lab, chromium):
    page, room_page = lab
    say_in(ann(page), "hi Bob, from Ann's panel")
    bob(page).locator(".chatkit-messages", has_text="Ann: hi Bob, from Ann's panel").wait_for()
    bob(page).locator(".chatkit-message input").fill("hi Ann, by the Send button")
    bob(page).locator(".chatkit-send").click()
    ann(page).locator(".chatkit-messages", has_text="Bob: hi Ann, by the Send button").wait_for()
    assert ann(page).locator(".chatkit-message input").input_value() == ""
    say_in(ann(page), "/nosuchcommand")
    ann(page).locator(".chatkit-line-error", has_text="error: unknown command").wait_for()

    context = chromium.new_context()
    try:
        chat = context.new_page()
        chat.set_default_timeout(TIMEOUT)
        browser.join(chat, "Dee", room_page)
        for panel in (ann(page), bob(page)):
            panel.locator(".chatkit-members", has_text="In the room (3)").wait_for()
            assert "Dee" in panel.locator(".chatkit-members").inner_text()
        chat.fill("#m", "hello panels, from the page")
        chat.press("#m", "Enter")
        for panel in (ann(page), bob(page)):
            shown = panel.locator(".chatkit-messages", has_text="Dee: hello panels, from the page")
            shown.wait_for()
        say_in(bob(page), "hello page, from Bob's panel")
        chat.locator("#messages li", has_text="hello page, from Bob's panel").wait_for()
    finally:
        context.close()
    ann(page).locator(".chatkit-members", has_text="In the room (2)").wait_for()


def test_html_from_the_page_shows_as_text_in_the_panels_and_runs_nothing(
    lab, chromium, artifacts
):
    page, room_page = lab
    context = chromium.new_context()
    try:
        chat = context.new_page()
        chat.set_default_timeout(TIMEOUT)
        browser.join(chat, PAYLOAD_NAME, room_page)
        chat.fill("#m", PAYLOAD_TEXT)
        chat.press("#m", "Enter")
        for panel in (ann(page), bob(page)):
            shown = panel.locator(".chatkit-messages", has_text=f"{PAYLOAD_NAME}: {PAYLOAD_TEXT}")
            shown.wait_for()
            assert PAYLOAD_NAME in panel.locator(".chatkit-members").inner_text()
        say_in(ann(page), f"/priv {PAYLOAD_NAME} {PAYLOAD_TEXT}")
        bob_private = ann(page).locator(".chatkit-line-private", has_text=PAYLOAD_TEXT)
        bob_private.wait_for()
        page.wait_for_timeout(300)  # time for an <img> to fail loading and run onerror
        assert page.evaluate("window.pwned") is None
        assert page.locator(".jp-OutputArea img, .jp-OutputArea script").count() == 0
        assert page.locator(".chatkit-panel b").count() == 0
        screenshot(page, artifacts / "panel-jupyterlab.png")
    finally:
        context.close()


def test_rerunning_a_panels_cell_replaces_it_and_the_name_is_free_again(lab):
    page, _ = lab
    cell = page.locator(".jp-CodeCell", has=page.locator(".chatkit-panel")).nth(0)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    bob(page).locator(".chatkit-messages", has_text="Ann left people.").wait_for()
    ann(page).locator(".chatkit-status", has_text='connected to room "people" as Ann').wait_for()
    ann(page).locator(".chatkit-members", has_text="In the room (2)").wait_for()
    assert "already taken" not in ann(page).inner_text()
    assert page.locator(".chatkit-panel").count() == 2


def test_enter_in_one_panel_to_shown_in_the_other_latency(lab):
    page, _ = lab
    box = ann(page).locator(".chatkit-message input")
    timings = []
    for n in range(10):
        marker = f"latency probe {n}"
        box.fill(marker)
        # Both clocks in the page: Enter's keydown, and the mutation that shows it in Bob's log.
        box.evaluate(
            """(input, [marker, n]) => {
                const log = document.querySelectorAll('.chatkit-panel')[1]
                    .querySelector('.chatkit-messages');
                window.latency = {};
                input.addEventListener('keydown', (event) => {
                    if (event.key === 'Enter') window.latency.pressed = performance.now();
                }, {capture: true, once: true});
                new MutationObserver((mutations, observer) => {
                    if (log.textContent.includes(marker)) {
                        window.latency.shown = performance.now();
                        observer.disconnect();
                    }
                }).observe(log, {childList: true, subtree: true, characterData: true});
            }""",
            [marker, n],
        )
        box.press("Enter")
        page.wait_for_function("window.latency.shown !== undefined", timeout=TIMEOUT)
        timings.append(page.evaluate("window.latency.shown - window.latency.pressed"))
    print(f"\nEnter in Ann's panel -> shown in Bob's panel, real JupyterLab + Chromium,"
          f" {len(timings)} runs: median {statistics.median(timings):.1f} ms,"
          f" max {max(timings):.1f} ms (all: {', '.join(f'{t:.0f}' for t in timings)})")
    assert bob(page).locator(".chatkit-messages", has_text="Ann: latency probe 9").count() == 1


def screenshot(page, path: Path) -> None:
    """The two panels, with the file browser folded away."""
    toggle_left_sidebar(page)
    page.locator(".jp-CodeCell").nth(0).evaluate("(cell) => cell.scrollIntoView({block: 'start'})")
    page.wait_for_timeout(300)
    page.screenshot(path=str(path))
    toggle_left_sidebar(page)


def toggle_left_sidebar(page) -> None:
    """Click the file browser's tab: it folds away, or comes back."""
    page.locator('.jp-SideBar.jp-mod-left [data-id="filebrowser"]').click()


def test_the_servers_activity_log_shows_a_url_as_text_not_a_link(lab):
    """A name like a URL must not become a link in the teacher's log (streams autolink)."""
    page, room_page = lab
    ws_url = room_page.replace("http://", "ws://").replace("/people", "/chat/people")
    with Outside(ws_url, "http://evil.example"):
        # The log's line (the panels' note says "people" in double quotes).
        line = page.locator(".jp-OutputArea-output", has_text="http://evil.example joined 'people'")
        line.last.wait_for()
        assert page.locator(".jp-OutputArea a[href*='evil.example']").count() == 0
