"""A class on a real JupyterHub: each student's own room, and the class's room on the hub.

One hub for the module (its proxy is the npm configurable-http-proxy; DummyAuthenticator;
SimpleLocalProcessSpawner), driven by Playwright in Debian's Chromium. Ann and Bob log
in, run notebook 4 up to its start cell in their own servers, click the link the
server's panel shows (``/user/<name>/proxy/<port>/people``, through jupyter-server-proxy)
and chat on their page. Then both open the class's room on the chatkit service
(``/services/chatkit/people``, logged in through the hub's OAuth) and see each other,
and a panel in Ann's notebook joins it too with her server's token. A browser that is
not logged in is sent to the hub's login; a WebSocket without a login is refused.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
from playwright.sync_api import Page, expect

from tests.helpers import ROOT
from tests.helpers.browser import join, say
from tests.helpers.chat import handshake_status
from tests.helpers.hub import Hub
from tests.helpers.lab import KERNEL_IDLE, JupyterLab

pytestmark = pytest.mark.timeout(150)

NOTEBOOK = "04-room-and-broadcast.ipynb"

#: Ann's notebook ends with this cell: a panel in a room of the class's service, from her
#: kernel. On the hub her chat name is her login, ``ann``, wherever she joins from, and a
#: name is one member's in a room: the panel is in a room of its own, her page in "people".
CLASS_PANEL_CELL = (
    "from chatkit.notebook.panel import ChatPanel\n"
    "class_panel = ChatPanel(chatkit.class_room('notebooks'), name='ann')\n"
    "class_panel"
)


def notebook_up_to_its_start_cell(folder: Path, extra_cell: str | None = None) -> Path:
    """Notebook 4 as students get it, up to its cell that calls chatkit.start()."""
    notebook = nbformat.read(ROOT / "notebooks" / NOTEBOOK, as_version=4)
    start = next(i for i, cell in enumerate(notebook.cells)
                 if cell.cell_type == "code" and "chatkit.start(" in cell.source)
    notebook.cells = notebook.cells[: start + 1]
    if extra_cell:
        notebook.cells.append(nbformat.v4.new_code_cell(extra_cell))
    path = folder / NOTEBOOK
    nbformat.write(notebook, path)
    return path


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub")
    for user in ("ann", "bob"):
        (folder / user).mkdir()
    ann = notebook_up_to_its_start_cell(folder / "ann", CLASS_PANEL_CELL)
    bob = notebook_up_to_its_start_cell(folder / "bob")
    started = time.monotonic()
    hub = Hub.start(folder / "hub", users={"ann": [ann], "bob": [bob]})
    print(f"hub up in {time.monotonic() - started:.1f} s")
    try:
        yield hub
    finally:
        stopping = time.monotonic()
        hub.stop()
        print(f"hub, proxy, service and user servers stopped in {time.monotonic() - stopping:.1f} s")


def test_hub_students_chat_on_their_own_page_and_the_class_shares_a_room_on_the_service(
    hub, chromium, artifacts
):
    started = time.monotonic()
    people = {"ann": "Ann", "bob": "Bob"}  # what each types first; the chat says ann, bob
    pages: dict[str, Page] = {}
    for user in people:  # both log in: their servers spawn side by side
        pages[user] = chromium.new_context(viewport={"width": 1200, "height": 900}).new_page()
        hub.log_in(pages[user], user)
    for user, page in pages.items():
        page.wait_for_url(f"**/user/{user}/lab**", timeout=60_000)
        page.goto(f"{hub.url}/user/{user}/lab/tree/{NOTEBOOK}")
        page.get_by_text(KERNEL_IDLE).wait_for(timeout=60_000)
        JupyterLab.run_all(page)
    print(f"both notebooks running after {time.monotonic() - started:.1f} s")

    # The start cell's panel links to the room page through jupyter-server-proxy.
    own_pages: dict[str, Page] = {}
    for user, page in pages.items():
        link = page.locator(".jp-OutputArea a", has_text="/proxy/").first
        expect(link).to_be_visible(timeout=60_000)
        href = link.get_attribute("href")
        assert re.fullmatch(rf"/user/{user}/proxy/\d+/people", href), href
        with page.context.expect_page() as opened:
            link.click()
        own = own_pages[user] = opened.value
        own.wait_for_load_state()
        assert own.url == f"{hub.url}{href}"
        expect(own.locator("#room")).to_have_text("people")
        join(own, people[user])
        expect(own.locator("#status")).to_have_text("connected")
        say(own, f"{people[user]} here, in my own kernel's room")
        expect(own.locator("#messages li.chat").last).to_have_text(
            f"{people[user]}: {people[user]} here, in my own kernel's room"
        )
    own_pages["ann"].screenshot(path=artifacts / "hub-own-room.png")
    # Each student's room is their own: Ann's page never heard Bob.
    expect(own_pages["ann"].locator("#messages")).not_to_contain_text("Bob")

    # The panel in Ann's notebook is in a room of the class's service, from her kernel.
    expect(pages["ann"].locator(".chatkit-panel .chatkit-status")).to_contain_text(
        'connected to room "notebooks" as ann', timeout=30_000
    )
    # The class's room, on the hub's chatkit service: both log in through the hub's OAuth.
    class_pages = {}
    for user, page in pages.items():
        class_page = class_pages[user] = page.context.new_page()
        class_page.goto(f"{hub.url}/services/chatkit/people")
        expect(class_page.locator("#room")).to_have_text("people", timeout=15_000)
        assert class_page.url == f"{hub.url}/services/chatkit/people"
        # The hub login decides the chat name: "Ann" for ann is refused, and says why.
        class_page.fill("#name", people[user])
        class_page.click("#join")
        expect(class_page.locator("#messages li.error").last).to_have_text(
            f'error: you are logged in as "{user}": join as "{user}", not "{people[user]}"')
        join(class_page, user)
        expect(class_page.locator("#status")).to_have_text("connected")
    ann, bob = class_pages["ann"], class_pages["bob"]
    expect(ann.locator("#messages")).to_contain_text('bob joined "people".')
    say(ann, "hello class")
    expect(bob.locator("#messages li.chat").last).to_have_text("ann: hello class")
    say(bob, "hi Ann")
    expect(ann.locator("#messages li.chat").last).to_have_text("bob: hi Ann")
    say(bob, "/name Ann")  # nor can a student rename himself
    expect(bob.locator("#messages li.error").last).to_contain_text(
        'you are logged in as "bob": your name in the chat is your login')
    say(bob, "/members")
    expect(bob.locator("#messages li.note").last).to_have_text("In room: ann, bob")
    # The panel in Ann's notebook joined from her kernel with her server's token, as ann.
    expect(pages["ann"].locator(".chatkit-panel .chatkit-messages")).to_contain_text(
        'ann joined "notebooks".'
    )
    bob.screenshot(path=artifacts / "hub-class-room.png")

    # What the service saw of each handshake, through the hub's proxy (for the origin check).
    seen = re.findall(r"joins /services/chatkit/chat/people as \w+ \(Host: (.*?), Origin: (.*?)\)",
                      hub.output)
    print("service saw Host, Origin:", seen)
    assert (f"127.0.0.1:{hub.ports['public']}", hub.url) in seen

    # Nobody gets in without logging in to the hub.
    stranger = chromium.new_context().new_page()
    stranger.goto(f"{hub.url}/services/chatkit/people")
    expect(stranger.locator("#username_input")).to_be_visible()
    assert "/hub/login" in stranger.url
    stranger.goto(f"{hub.url}{own_pages['ann'].url[len(hub.url):]}")
    assert "/hub/login" in stranger.url
    stranger.context.close()

    ws_room = f"ws{hub.url[4:]}/services/chatkit/chat/people"
    assert handshake_status(ws_room) == 403
    assert handshake_status(ws_room, {"Cookie": "chatkit-hub-token=not-a-token"}) == 403
    assert handshake_status(ws_room, {"Authorization": "token not-a-token"}) == 403
    for page in pages.values():
        page.context.close()
    print(f"test body took {time.monotonic() - started:.1f} s")


