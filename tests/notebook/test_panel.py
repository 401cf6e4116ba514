"""The chat panel, headless: real servers on 127.0.0.1, real clients, real widgets.

Most tests run the panel in this process on an event loop of their own (as a
notebook runs it on the kernel's loop) and drive its widgets the way the front
end does: set ``value``, ``click()`` a button, and for Enter deliver the custom
message ``{"event": "submit"}`` that the Text widget's front end sends (read in
jupyterlab_widgets' bundle: ``13===e.keyCode&&this.send({event:"submit"})``).
The last tests run it in a real kernel.
"""

from __future__ import annotations

import asyncio
import contextlib
import re

import pytest

import chatkit
from chatkit.notebook.panel import LOG_LINES, ChatPanel, text_html
from tests.helpers.chat import Outside, joined, recv_json, recv_until, say
from tests.helpers.kernel import Kernel
from tests.helpers.sockets import free_port
from tests.helpers.waiting import DEADLINE, eventually, run

PAYLOAD = "<img src=x onerror=alert(1)>"


def press_enter(text_widget) -> None:
    """What the browser does on Enter in a Text widget: a custom message, after the value."""
    text_widget._handle_custom_msg({"event": "submit"}, [])


def html_values(panel: ChatPanel) -> list[str]:
    return [panel.status.value, panel.log.value, panel.member_list.value]


async def closed(panel: ChatPanel) -> None:
    panel.close()
    await panel.wait_closed(DEADLINE)


async def joined_panel(server, name="Ann", room="people", **kwargs) -> ChatPanel:
    panel = ChatPanel(server, room=room, name=name, **kwargs)
    await panel.wait_for(lambda p: name in p.members, DEADLINE)
    return panel


def test_panel_joins_asking_for_members_and_lists_the_room_in_join_order(live_server):
    async def body():
        bob = await joined(live_server.ws_url("people"), "Bob")
        ann = await joined_panel(live_server)
        await ann.wait_for(lambda p: p.members == ["Bob", "Ann"], DEADLINE)
        assert ann.connection_state == "open"
        assert ann.status_text == 'connected to room "people" as Ann'
        await ann.wait_for(lambda p: "In the room (2)" in p.member_list.value, DEADLINE)  # redrawn
        await bob.close()
        await ann.wait_for(lambda p: p.members == ["Ann"], DEADLINE)
        assert "Bob left people." in [line.text for line in ann.lines]
        await closed(ann)

    run(body)


def test_enter_in_the_message_box_sends_a_chat_that_another_client_receives(live_server):
    async def body():
        ann = await joined_panel(live_server)
        bob = await joined(live_server.ws_url("people"), "Bob")
        press_enter(ann.message_box)  # empty box: nothing is sent
        ann.message_box.value = "hello from the panel"
        press_enter(ann.message_box)
        assert await recv_json(bob) == {"type": "chat", "name": "Ann",
                                        "text": "hello from the panel"}
        assert ann.message_box.value == ""
        await ann.wait_for(lambda p: "Ann: hello from the panel" in p.log_text(), DEADLINE)
        await closed(ann)
        await bob.close()

    run(body)


def test_send_button_sends_and_a_client_that_did_not_ask_never_gets_a_member_list(live_server):
    async def body():
        bob = await joined(live_server.ws_url("people"), "Bob")
        ann = await joined_panel(live_server)
        ann.message_box.value = "by button"
        ann.send_button.click()
        got = await recv_until(bob, lambda m: m.get("type") == "chat")
        assert got == [{"type": "note", "text": 'Ann joined "people".'},
                       {"type": "chat", "name": "Ann", "text": "by button"}]
        await closed(ann)
        assert await recv_json(bob) == {"type": "note", "text": "Ann left people."}
        await bob.close()

    run(body)


def test_log_shows_notes_in_italics_chats_with_bold_names_private_and_errors_marked(live_server):
    async def body():
        ann = await joined_panel(live_server)
        bob = await joined(live_server.ws_url("people"), "Bob")
        await say(bob, "hi Ann")
        await say(bob, "/priv Ann just for you")
        ann.send("/nonsense")
        # Lines are drawn at the end of the loop's turn: wait for the drawing too.
        await ann.wait_for(lambda p: [line.kind for line in p.lines][-4:]
                           == ["note", "chat", "private", "error"]
                           and "chatkit-line-error" in p.log.value, DEADLINE)
        note, chat, private, error = list(ann.lines)[-4:]
        assert (chat.name, chat.text) == ("Bob", "hi Ann")
        assert (private.name, private.to, private.text) == ("Bob", "Ann", "just for you")
        assert error.text.startswith("unknown command /nonsense")
        assert text_html('Bob joined "people".', "note") in ann.log.value
        assert "font-style: italic" in text_html("", "note")
        assert text_html("Bob", "name") + text_html(": ") + text_html("hi Ann") in ann.log.value
        assert "font-weight: bold" in text_html("", "name")
        assert "chatkit-line-private" in ann.log.value and "(private): " in ann.log.value
        assert "chatkit-line-error" in ann.log.value and ">error: </span>" in ann.log.value
        assert re.fullmatch(r"\d\d:\d\d:\d\d", chat.clock)
        assert f">{chat.clock}</span>" in ann.log.value
        await closed(ann)
        await bob.close()

    run(body)


def test_html_in_names_rooms_and_text_is_escaped_in_every_widget(live_server):
    async def body():
        ann = await joined_panel(live_server, name=PAYLOAD, room=PAYLOAD)
        bob = await joined(live_server.ws_url(PAYLOAD), f"Bob {PAYLOAD}")
        await say(bob, PAYLOAD)
        await say(bob, f"/priv {PAYLOAD} {PAYLOAD}")
        ann.send(f"/name {PAYLOAD}!")
        await ann.wait_for(lambda p: p.name_box.value == f"{PAYLOAD}!", DEADLINE)
        escaped = "&lt;img src=x onerror=alert(1)&gt;"
        for value in html_values(ann):
            assert "<img" not in value and "onerror=alert(1)>" not in value
        assert ann.log.value.count(escaped) >= 6
        assert escaped in ann.member_list.value and escaped in ann.status.value
        assert text_html('"><script>x</script>', "name") == (
            '<span style="font-weight: bold;">&quot;&gt;&lt;script&gt;x&lt;/script&gt;</span>'
        )
        await closed(ann)
        await bob.close()

    run(body)


def test_log_keeps_only_the_newest_lines():
    async def body():
        with chatkit.start(port=0, show=False, rate_limit=None) as server:
            ann = await joined_panel(server)
            bob = await joined(server.ws_url("people"), "Bob")
            for n in range(LOG_LINES + 50):
                await say(bob, f"message {n}")
            last = f"message {LOG_LINES + 49}"
            await ann.wait_for(lambda p: p.lines[-1].text == last, DEADLINE)
            await recv_until(bob, lambda m: m.get("text") == last)  # read Bob's echoes
            assert len(ann.lines) == LOG_LINES
            # the log redraws at the end of the loop's turn: many lines can arrive in one
            await ann.wait_for(
                lambda p: p.log.value.count('class="chatkit-line ') == LOG_LINES, DEADLINE)
            assert ann.lines[0].text == "message 50"  # the 200 newest: 50..249
            assert "flex-direction: column-reverse" in ann.log.value  # opens at the newest
            await closed(ann)
            await bob.close()

    run(body)


def test_status_follows_the_callbacks_when_the_server_goes_and_one_click_reconnects():
    async def body():
        server = chatkit.start(port=0, show=False)
        port = server.port
        ann = await joined_panel(server, reconnect=False)  # (reconnecting: test_reconnect.py)
        assert [line.text for line in ann.lines if line.kind == "status"] == [
            f"connecting to ws://127.0.0.1:{port}/chat/people",
            'connected to room "people" as Ann',
        ]
        server.stop()
        await ann.wait_for(lambda p: p.connection_state == "closed", DEADLINE)
        assert ann.status_text.startswith("disconnected (code 1001 going away)")
        assert ann.connect_button.description == "Connect"
        assert ann.message_box.disabled and not ann.name_box.disabled
        ann.send("anyone?")
        assert ann.lines[-1].kind == "error" and "not connected" in ann.lines[-1].text
        with chatkit.start(port=port, show=False) as again:
            ann.connect_button.click()
            await ann.wait_for(lambda p: p.members == ["Ann"], DEADLINE)
            assert ann.connection_state == "open" and not ann.message_box.disabled
            assert ann.connect_button.description == "Disconnect"
            ann.connect_button.click()
            await ann.wait_for(lambda p: p.connection_state == "closed", DEADLINE)
            assert ann.status_text.startswith("disconnected (code 1000 normal closure: left)")
            await eventually(lambda: again.server.connections == 0)
        await closed(ann)

    run(body)


def test_an_unreachable_server_shows_the_error_then_closed_1006():
    async def body():
        ann = ChatPanel(f"ws://127.0.0.1:{free_port()}", name="Ann")
        await ann.wait_for(lambda p: p.connection_state == "closed", DEADLINE)
        states = [line.text.split(":")[0].split(" (")[0] for line in ann.lines]
        assert states[0] == "connecting to ws"
        assert states[1] == "error"
        assert ann.status_text.startswith("disconnected (code 1006 abnormal closure) after error: ")
        await closed(ann)

    run(body)


def test_a_taken_name_is_explained_and_the_connection_closed(live_server):
    async def body():
        bob = await joined(live_server.ws_url("people"), "Ann")
        ann = ChatPanel(live_server, room="people", name="Ann")
        await ann.wait_for(lambda p: p.connection_state == "closed", DEADLINE)
        assert '"Ann" is already taken' in ann.status_text
        assert ann.status_text.startswith("disconnected (code 1000 normal closure: could not join)")
        await closed(ann)
        await bob.close()

    run(body)


def test_two_panels_chat_in_one_room_and_rooms_stay_apart(live_server):
    async def body():
        ann = await joined_panel(live_server, "Ann", "people")
        bob = await joined_panel(live_server, "Bob", "people")
        cat = await joined_panel(live_server, "Cat", "other")
        ann.send("hi Bob")
        await bob.wait_for(lambda p: "Ann: hi Bob" in p.log_text(), DEADLINE)
        bob.message_box.value = "hi Ann"
        press_enter(bob.message_box)
        await ann.wait_for(lambda p: "Bob: hi Ann" in p.log_text(), DEADLINE)
        for panel in (ann, bob):  # member lists come at most twice a second: the newest
            await panel.wait_for(lambda p: p.members == ["Ann", "Bob"], DEADLINE)
        assert cat.members == ["Cat"] and "hi" not in cat.log_text()
        for panel in (ann, bob, cat):
            await closed(panel)

    run(body)


def test_a_new_panel_with_the_same_key_closes_the_old_connection_and_reuses_the_name(
    live_server,
):
    async def body():
        old = await joined_panel(live_server, key="cell-1")
        new = await joined_panel(live_server, key="cell-1")
        assert new.members == ["Ann"] and new.connection_state == "open"
        assert old.connection_state == "closed" and old.widget.comm is None
        await eventually(lambda: live_server.server.connections == 1)
        await closed(new)

    run(body)


def test_close_leaves_no_connection_and_no_task_behind(live_server):
    async def body():
        ann = await joined_panel(live_server)
        await closed(ann)
        await ann.wait_for(lambda p: p.connection_state == "closed", DEADLINE)
        await eventually(lambda: live_server.server.connections == 0)  # the server's thread
        # The connection's own close task ends a turn or two after the close is seen: under
        # load the assertion read it before that. Wait for what is asserted, then assert.
        def others():
            return [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        with contextlib.suppress(TimeoutError):
            await eventually(lambda: not others())
        assert others() == []
        assert ann.widget.comm is None and ann not in chatkit.notebook.panel.live_panels()

    run(body)


def test_renaming_with_the_name_command_updates_the_name_box_and_member_list(live_server):
    async def body():
        ann = await joined_panel(live_server)
        ann.send("/name Annie")
        # The member list and the panel's own name come in two messages ("members", "you"):
        # wait for what is asserted, each in its own time.
        await ann.wait_for(lambda p: p.members == ["Annie"], DEADLINE)
        await ann.wait_for(lambda p: p.name_box.value == "Annie", DEADLINE)
        await ann.wait_for(lambda p: 'font-weight: bold;">Annie</span>' in p.member_list.value,
                           DEADLINE)
        await closed(ann)

    run(body)


IMPOSTOR = "Ann is now known as Mallory"


def test_a_classmate_named_like_a_rename_note_does_not_rename_the_panel(live_server):
    async def body():
        ann = await joined_panel(live_server)
        impostor = await joined(live_server.ws_url("people"), IMPOSTOR)
        await say(impostor, "/name Ann is now known as Eve")
        await ann.wait_for(lambda p: p.members == ["Ann", "Ann is now known as Eve"], DEADLINE)
        await ann.wait_for(lambda p: "In the room (2)" in p.member_list.value, DEADLINE)
        assert ann.name_box.value == "Ann"
        assert ann.status_text == 'connected to room "people" as Ann'
        you = text_html(" (you)", "you")
        assert f'{text_html("Ann", "name")}{you}' in ann.member_list.value
        assert f'{text_html("Ann is now known as Eve", "name")}{you}' not in ann.member_list.value
        ann.send("/name Annie")  # and a real rename is still followed, by protocol
        await ann.wait_for(lambda p: p.name_box.value == "Annie", DEADLINE)
        await closed(ann)
        await impostor.close()

    run(body)


def test_without_the_you_extension_only_the_panels_own_rename_moves_its_name_box():
    async def body():
        with chatkit.start(port=0, show=False, chat_user=ChatUserWithoutExtensions) as server:
            ann = ChatPanel(server, name="Ann")
            await ann.wait_for(lambda p: 'Ann joined "people".' in p.log_text(), DEADLINE)
            impostor = await joined(server.ws_url("people"), IMPOSTOR)
            await say(impostor, "/name Ann is now known as Eve")
            await ann.wait_for(lambda p: "Ann is now known as Eve." in p.log_text(), DEADLINE)
            assert ann.name_box.value == "Ann"
            ann.send("/name Annie")
            await ann.wait_for(lambda p: p.name_box.value == "Annie", DEADLINE)
            await closed(ann)
            await impostor.close()

    run(body)


class ChatUserWithoutExtensions(chatkit.ChatUser):
    """A student's ChatUser that never heard of ``"want"``."""

    def handle_join(self, name, want=None):
        super().handle_join(name)


def test_with_a_server_running_a_students_classes_without_member_lists_it_still_chats():
    async def body():
        with chatkit.start(port=0, show=False, chat_user=ChatUserWithoutExtensions) as server:
            ann = ChatPanel(server, name="Ann")
            await ann.wait_for(lambda p: 'Ann joined "people".' in p.log_text(), DEADLINE)
            bob = await joined(server.ws_url("people"), "Bob")
            await ann.wait_for(lambda p: "Bob joined" in p.log_text(), DEADLINE)
            assert not ann.members_known and ann.connection_state == "open"
            assert "no member list from this server (yet): type /members" in ann.member_list.value
            ann.send("/members")
            await ann.wait_for(lambda p: "In room: Ann, Bob" in p.log_text(), DEADLINE)
            await say(bob, "hi")
            await ann.wait_for(lambda p: "Bob: hi" in p.log_text(), DEADLINE)
            await closed(ann)
            await bob.close()

    run(body)


@pytest.mark.parametrize("address, room, expected", [
    ("ws://127.0.0.1:3000", None, "ws://127.0.0.1:3000/chat/people"),
    ("http://127.0.0.1:3000/", "a b", "ws://127.0.0.1:3000/chat/a%20b"),
    ("http://127.0.0.1:3000/lobby", None, "ws://127.0.0.1:3000/chat/lobby"),
    ("ws://127.0.0.1:3000/chat/lobby", None, "ws://127.0.0.1:3000/chat/lobby"),
    ("https://chat.example/x%2Fy", None, "wss://chat.example/chat/x%2Fy"),
])
def test_addresses_a_panel_accepts(address, room, expected):
    panel = ChatPanel(address, room=room)  # no name: no connection
    assert (panel.ws_url, panel.connection_state) == (expected, "idle")
    panel.close()


def test_outside_jupyterlab_only_a_panel_for_the_same_person_and_room_replaces_another():
    url = f"ws://127.0.0.1:{free_port()}"
    first, second = ChatPanel(url), ChatPanel(url)  # no names: two people to be
    ann, ann_again, bob = ChatPanel(url, name="Ann"), ChatPanel(url, name="Ann"), ChatPanel(
        url, name="Bob")
    live = chatkit.notebook.panel.live_panels()
    assert {first, second, ann_again, bob} <= set(live) and ann not in live
    for panel in (first, second, ann_again, bob):
        panel.close()


def test_an_address_that_is_not_a_chat_server_is_refused_with_a_hint():
    with pytest.raises(ValueError, match="try ws://127.0.0.1:3000"):
        ChatPanel("127.0.0.1:3000")


# -- in a real kernel --------------------------------------------------------------


@pytest.fixture(scope="module")
def kernel():
    with Kernel.start() as kernel:
        kernel.run("import asyncio, threading, time, chatkit\n"
                   "from chatkit.notebook.panel import ChatPanel\n"
                   "server = chatkit.start(port=0, show=False)")
        yield kernel
        kernel.run("server.stop()")


def test_in_a_kernel_the_panel_updates_widgets_on_the_kernel_thread_between_cells(
    kernel, tmp_path
):
    kernel.run("ann = ChatPanel(server, room='people', name='Ann')\n"
               "threads = set()\n"
               "ann.log.observe(lambda change: threads.add(threading.current_thread().name),"
               " 'value')\n"
               "on_kernel_loop = ann._loop is asyncio.get_running_loop()")
    assert kernel.value_when("ann.members == ['Ann']", "on_kernel_loop") is True
    url = kernel.value("server.ws_url('people')")
    with Outside(url, "Bob") as bob:
        heard = tmp_path / "bob-heard-himself"
        blocking = kernel.block(  # the kernel's thread is busy until Bob's line went round
            heard, before="print('blocking', flush=True)",
            after="print('seen while blocked:', 'Bob: during' in ann.log_text())")
        assert blocking.seen.wait(DEADLINE)
        bob.say("during")
        bob.expect(type="chat", name="Bob", text="during")
        heard.touch()
        assert "seen while blocked: False" in blocking.wait(3 * DEADLINE).stdout
        assert kernel.value_when("'Bob: during' in ann.log_text()", "sorted(threads)") == [
            "MainThread"]
        kernel.run("ann.message_box.value = 'from the kernel'\n"
                   "ann._send_box()")
        bob.expect(type="chat", name="Ann", text="from the kernel")
    kernel.run("ann.close()")
    assert kernel.value_when("server.server.connections == 0", "len(threads) > 0")


def test_in_a_kernel_rerunning_a_cell_replaces_its_panels_and_frees_their_names(kernel):
    code = ("a = ChatPanel(server, room='rerun', name='Ann')\n"
            "b = ChatPanel(server, room='rerun', name='Bob')")
    kernel.run_as_cell("cell-7", code)
    assert kernel.value_when("len(a.members) == 2 and len(b.members) == 2", "a.members") == [
        "Ann", "Bob"]
    kernel.run("first = (a, b)")
    kernel.run_as_cell("cell-7", code)
    assert kernel.value_when(
        "a.members == ['Ann', 'Bob'] or a.members == ['Bob', 'Ann']",
        "[p.connection_state for p in first] + [a.connection_state, b.connection_state,"
        " server.server.connections]") == ["closed", "closed", "open", "open", 2]
    kernel.run("a.close(); b.close()\nawait a.wait_closed(15); await b.wait_closed(15)")
