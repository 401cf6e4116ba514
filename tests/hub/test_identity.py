"""On a real JupyterHub, the chat name is the hub login: nobody speaks as anyone else.

Two students (ann, bob) and an admin (teach) reach the class's room on the chatkit
service with tokens the hub made for each of them. Before, ann could join as ``bob``,
chat as ``bob``, lock the real bob out of his name ("already taken") and rename herself
``carol``; now each of those is an ``error`` to her, and the room never hears of it.
The service knows the admin as an instructor (asked of the hub's API): only the admin
reaches the instructor's desk (``/services/chatkit/_instructor/``), page and WebSocket.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from websockets.sync.client import connect as connect_sync

from tests.helpers.chat import Outside, handshake_status
from tests.helpers.hub import Hub

pytestmark = pytest.mark.timeout(150)

#: teach is a hub admin; tutor is in the group docs/jupyterhub_config.py names as instructors.
INSTRUCTORS = """
c.Authenticator.admin_users = {'teach'}
c.JupyterHub.load_groups = {'instructors': {'users': ['tutor']}}
"""


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    folder = tmp_path_factory.mktemp("hub-identity")
    started = time.monotonic()
    hub = Hub.start(folder, users={}, extra_config=Hub.API_CONFIG + INSTRUCTORS)
    print(f"hub up in {time.monotonic() - started:.1f} s")
    try:
        yield hub
    finally:
        hub.stop()


def test_a_hub_user_cannot_join_chat_or_rename_as_another_and_admins_are_instructors(hub):
    room = f"ws{hub.url[4:]}/services/chatkit/chat/people"
    tokens = {user: hub.token_for(user) for user in ("ann", "bob", "teach", "tutor")}

    def as_user(user: str, name: str | None = None) -> Outside:
        return Outside(room, name, headers={"Authorization": f"token {tokens[user]}"})

    with as_user("ann") as ann:
        # ann, logged in as ann, claims bob's name before bob is there: refused.
        ann.send({"type": "join", "name": "bob"})
        refused = ann.expect(type="error")
        assert refused["text"] == 'you are logged in as "ann": join as "ann", not "bob"'
        ann.say("hi, I am bob")  # not joined: nothing is said in anyone's name
        ann.expect(type="error", text='join first: send {"type": "join", "name": "..."}')
        # So the real bob gets his own name.
        with as_user("bob", "bob") as bob:
            ann.send({"type": "join", "name": "ann"})
            ann.expect(type="note", text='ann joined "people".')
            bob.expect(type="note", text='ann joined "people".')
            for new_name in ("carol", "bob", " Bob "):
                ann.say(f"/name {new_name}")
                assert ann.expect(type="error")["text"].startswith(
                    'you are logged in as "ann": your name in the chat is your login, not')
            ann.say("still ann")
            assert bob.expect(type="chat", text="still ann")["name"] == "ann"
            assert not [m for m in bob.received if "known as" in m.get("text", "")]
            # A second connection of bob's (another tab) cannot take a name either.
            with as_user("bob") as bob_again:
                bob_again.send({"type": "join", "name": "ann"})
                bob_again.expect(type="error",
                                 text='you are logged in as "bob": join as "bob", not "ann"')
            with as_user("teach", "teach") as teach, as_user("tutor", "tutor"):
                teach.say("hello class")
                bob.expect(type="chat", name="teach", text="hello class")

    # The service asked the hub who is an instructor: the admin and the group, nobody else.
    roles = dict(re.findall(r"'(\w+)' joins /services/chatkit/chat/people as (\w+)", hub.output))
    print("roles the service saw:", roles)
    assert roles == {"ann": "student", "bob": "student", "teach": "instructor",
                     "tutor": "instructor"}


def test_only_a_hub_admin_reaches_the_instructors_desk(hub):
    import urllib.error
    import urllib.request

    tokens = {user: hub.token_for(user) for user in ("ann", "teach")}
    desk = f"ws{hub.url[4:]}/services/chatkit/_instructor/ws"
    page = f"{hub.url}/services/chatkit/_instructor/"

    def page_status(user: str) -> int:
        request = urllib.request.Request(page, headers={"Authorization": f"token {tokens[user]}"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 (loopback)
                return response.status
        except urllib.error.HTTPError as refused:
            return refused.code

    assert page_status("ann") == 403
    assert handshake_status(desk, {"Authorization": f"token {tokens['ann']}"}) == 403
    assert page_status("teach") == 200
    with Outside(f"ws{hub.url[4:]}/services/chatkit/chat/people", "ann",
                 headers={"Authorization": f"token {tokens['ann']}"}):
        with connect_sync(desk, additional_headers={"Authorization": f"token {tokens['teach']}"},
                          open_timeout=30) as teach:
            assert json.loads(teach.recv(timeout=30)) == {"type": "welcome"}
            state = json.loads(teach.recv(timeout=30))
            assert [m["name"] for m in state["rooms"]["people"]] == ["ann"]


def test_in_the_browser_the_hub_admin_opens_the_desk_and_a_student_gets_403(hub, chromium, artifacts):
    from playwright.sync_api import expect

    ann_token = hub.token_for("ann")
    desk_url = f"{hub.url}/services/chatkit/_instructor/"
    pages = {}
    for user in ("teach", "bob"):
        pages[user] = chromium.new_context(viewport={"width": 1100, "height": 700}).new_page()
        hub.log_in(pages[user], user)
        pages[user].wait_for_url(lambda url: "/hub/login" not in url, timeout=60_000)
    with Outside(f"ws{hub.url[4:]}/services/chatkit/chat/people", "ann",
                 headers={"Authorization": f"token {ann_token}"}) as ann:
        ann.say("hello from ann")
        teach = pages["teach"]
        teach.goto(desk_url)  # the hub's OAuth, then the desk: no code to type
        expect(teach.locator("#status")).to_have_text("connected", timeout=30_000)
        row = teach.locator('section.room[data-room="people"] tr[data-name="ann"]')
        expect(row.locator("td").nth(2)).to_have_text("1")
        expect(teach.locator("#login-form")).to_be_hidden()
        teach.fill("#announcement", "welcome, class")
        teach.click("#announce")
        ann.expect(type="note", text="Announcement from the instructor: welcome, class")
        teach.screenshot(path=artifacts / "hub-admin-desk.png")

        bob = pages["bob"]
        response = bob.goto(desk_url)
        assert response.status == 403
        expect(bob.locator("body")).to_have_text("only the class's instructors may open this page")
        bob.screenshot(path=artifacts / "hub-student-403.png")
    for page in pages.values():
        page.context.close()


def test_the_hub_gate_lets_in_only_the_pages_public_files_and_never_an_upgrade(hub):
    # One rule for the side door (chatkit.server.pages.is_public_file), as the class
    # code's: before, anything under a "_static" folder passed the hub's login, a
    # WebSocket upgrade too (404 from the router, behind the gate), and any path
    # ending in /_static/<x> (/_instructor/_static/ws).
    service = f"{hub.url}/services/chatkit"
    import urllib.request

    for public in ("/_static/chat.js", "/_static/chat.css"):
        with urllib.request.urlopen(service + public, timeout=30) as answer:  # noqa: S310
            assert answer.status == 200
    for path in ("/_static/chat.js", "/_static/people", "/_instructor/_static/ws"):
        assert handshake_status(f"ws{service[4:]}{path}") == 403, path
