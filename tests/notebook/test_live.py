"""``chatkit.start`` inside a real Jupyter kernel, driven cell by cell.

A student's notebook does: start the server in a cell, re-run that cell, chat
from a ``chatkit.WebSocket`` in the kernel with classmates outside it, run a cell
that blocks, plug in a broken ``ChatUser``, stop the server. Each step here runs
in a real ipykernel (jupyter_client), and the classmates are real clients in the
test process talking to 127.0.0.1. The same ``start`` also runs in a plain script,
and its activity log shows what students type as inert text.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import textwrap
import time

import pytest
from websockets.exceptions import ConnectionClosed

import chatkit

from tests.helpers.chat import Outside
from tests.helpers.http import http_get
from tests.helpers.kernel import WIDGET_MIME, Kernel
from tests.helpers.sockets import free_port, port_is_free
from tests.helpers.waiting import DEADLINE, wait_until

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def kernel():
    """One real kernel for this module (it starts in well under a second)."""
    with Kernel.start() as kernel:
        kernel.run("import asyncio, json, time\nimport chatkit")
        yield kernel


@pytest.fixture(autouse=True)
def stop_servers_in_the_kernel(kernel):
    """Each test leaves the kernel with no server running."""
    yield
    if kernel.is_alive():
        kernel.run("import chatkit.notebook.live; chatkit.notebook.live.stop_all()")


def start_cell(port: int, extra: str = "") -> str:
    return f"server = chatkit.start(port={port}{extra})"


def start_broken_cell(port: int) -> str:
    """A student's ChatUser that raises on every message, started live."""
    return textwrap.dedent(
        f"""
        class Broken(chatkit.ChatUser):
            def handle_message(self, message):
                raise ValueError("forgot to parse the JSON")

        server = chatkit.start(port={port}, chat_user=Broken)
        """
    )


def test_rerunning_the_start_cell_replaces_the_server_instead_of_failing(kernel):
    port = free_port()
    cell = start_cell(port)
    kernel.run(cell)
    kernel.run("first = server")
    with Outside(f"ws://127.0.0.1:{port}/chat/people", "Ann") as ann:
        again = kernel.run(cell, ok=False)
        assert again.status == "ok", again.describe()
        assert "already in use" not in again.stderr
        # The first server closed its connections as "going away".
        with pytest.raises(ConnectionClosed) as closed:
            ann.wait_for(lambda message: False, "the server closing")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert kernel.value("[first.running, server.running, server.port]") == [False, True, port]
    with Outside(f"ws://127.0.0.1:{port}/chat/people", "Bea") as bea:
        bea.say("the new server serves")
        bea.expect(type="chat", name="Bea", text="the new server serves")


def test_editing_the_host_in_the_start_cell_and_rerunning_it_still_replaces_the_server(kernel):
    port = free_port()
    kernel.run(f"server = chatkit.start(port={port}, host='localhost', show=False)")
    edited = kernel.run(start_cell(port, ", show=False"), ok=False)  # host= removed
    assert edited.status == "ok", edited.describe()
    assert kernel.value("[s.url for s in chatkit.notebook.live.running_servers()]") == [
        f"http://127.0.0.1:{port}"
    ]


def test_a_websocket_in_the_kernel_and_a_client_outside_chat_both_ways(kernel):
    port = free_port()
    kernel.run(start_cell(port, ", show=False"))
    kernel.run(
        textwrap.dedent(
            """
            got = []
            ws = chatkit.WebSocket(server.ws_url("people"))
            ws.onopen = lambda evt: ws.send(json.dumps({"type": "join", "name": "Kay"}))
            ws.onmessage = lambda evt: got.append(json.loads(evt.data))
            """
        )
    )
    assert kernel.value("await ws.wait_open(5)") is True
    assert kernel.value_when("got", "got") == [{"type": "note", "text": 'Kay joined "people".'}]

    with Outside(f"ws://127.0.0.1:{port}/chat/people", "Otto") as otto:
        # kernel -> outside
        kernel.run('ws.send(json.dumps({"type": "chat", "text": "hello from the kernel"}))')
        otto.expect(type="chat", name="Kay", text="hello from the kernel")
        # outside -> kernel
        otto.say("hello from outside")
        received = kernel.value_when(
            "any(m.get('text') == 'hello from outside' for m in got)", "got"
        )
    assert {"type": "chat", "name": "Otto", "text": "hello from outside"} in received
    assert {"type": "note", "text": 'Otto joined "people".'} in received

    # Stopping blocks the kernel's loop, where Kay's socket lives: it must not hang.
    kernel.run("closed = []\nws.onclose = lambda evt: closed.append(evt.code)")
    stopped = kernel.run("server.stop()", ok=False)
    assert stopped.status == "ok" and stopped.stderr == "", stopped.describe()
    assert kernel.value_when("closed", "closed") == [1001]


def test_the_server_keeps_serving_while_a_cell_blocks_in_time_sleep(kernel, tmp_path):
    port = free_port()
    kernel.run(start_cell(port, ", show=False"))
    done_talking = tmp_path / "done-talking"
    sleeping = kernel.block(  # time.sleep in a loop, until the talk below is over
        done_talking, before='print("sleeping", flush=True)\nt0 = time.time()',
        after="print(json.dumps([t0, time.time()]))")
    assert sleeping.seen.wait(DEADLINE), "the sleeping cell never started"
    # New connections (handshake, join) and chat round trips, while the cell sleeps.
    url = f"ws://127.0.0.1:{port}/chat/sleepers"
    with Outside(url, "Una") as una, Outside(url, "Vic") as vic:
        for n in range(5):
            una.say(f"ping {n}")
            vic.expect(type="chat", name="Una", text=f"ping {n}")
            vic.say(f"pong {n}")
            una.expect(type="chat", name="Vic", text=f"pong {n}")
        talked = time.time()
        cell_still_running = not sleeping.done
    done_talking.touch()
    cell = sleeping.wait(3 * DEADLINE)
    assert cell.status == "ok", cell.describe()
    t0, t1 = json.loads(cell.stdout.splitlines()[-1])
    assert cell_still_running
    assert t0 < talked < t1, f"the talk ended {talked - t0:.2f} s into a {t1 - t0:.2f} s sleep"


def test_an_exception_in_a_students_chat_user_is_shown_and_the_server_keeps_serving(kernel):
    port = free_port()
    kernel.run(start_broken_cell(port))
    url = f"ws://127.0.0.1:{port}/chat/people"
    with Outside(url) as ann:
        ann.send({"type": "join", "name": "Ann"})
        reply = ann.expect(type="error")
        assert "ValueError: forgot to parse the JSON" in reply["text"]
        ann.send({"type": "join", "name": "Ann"})  # the connection stayed open
        ann.expect(type="error")

    # The person sees it: in the events, with the traceback, and in the panel's log.
    exceptions = kernel.value(
        "[[e.text, e.detail] for e in server.events if e.kind == 'exception']"
    )
    assert len(exceptions) == 2
    text, detail = exceptions[0]
    assert "Broken.handle_message" in text and "ValueError" in text
    assert detail.startswith("Traceback (most recent call last):")
    assert 'raise ValueError("forgot to parse the JSON")' in detail
    log_html = kernel.value_when(  # one HTML output: user text inert (see live.activity_html)
        "'Traceback' in ''.join(o['data']['text/html'] for o in server.panel().children[1].outputs)",
        "server.panel().children[1].outputs[0]['data']['text/html']",
    )
    assert "Traceback" in log_html and "forgot to parse the JSON" in log_html
    assert 'color: #c62828;">' in log_html  # shown in red

    # The kernel is alive and the server still serves the page and new connections.
    assert kernel.is_alive() and kernel.value("1 + 1") == 2
    assert http_get(port, "/people")[0] == 200
    with Outside(url) as bob:
        bob.send({"type": "join", "name": "Bob"})
        bob.expect(type="error")


def test_a_students_exception_goes_to_the_panel_not_into_the_cell_that_happens_to_run(
    kernel, tmp_path
):
    port = free_port()
    kernel.run(start_broken_cell(port))
    answered = tmp_path / "answered"
    working = kernel.block(answered, before='print("working", flush=True)', after='print("done")')
    assert working.seen.wait(DEADLINE), "the working cell never started"
    with Outside(f"ws://127.0.0.1:{port}/chat/people") as ann:
        ann.send({"type": "join", "name": "Ann"})
        assert "forgot to parse the JSON" in ann.expect(type="error")["text"]
        assert not working.done  # the exception happened while that cell ran
    answered.touch()
    cell = working.wait(3 * DEADLINE)
    assert cell.status == "ok", cell.describe()
    assert "Traceback" not in cell.stderr + cell.stdout, cell.describe()
    assert kernel.value("sum(e.kind == 'exception' for e in server.events)") == 1


def test_stop_in_a_cell_frees_the_port(kernel):
    port = free_port()
    kernel.run(start_cell(port, ", show=False"))
    assert not port_is_free(port)
    with Outside(f"ws://127.0.0.1:{port}/chat/people", "Ann") as ann:
        kernel.run("server.stop()")
        with pytest.raises(ConnectionClosed) as closed:
            ann.wait_for(lambda message: False, "the server closing")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1001
    assert kernel.value("server.running") is False
    assert port_is_free(port)


def test_a_port_taken_by_another_program_gets_a_clear_error(kernel):
    with socket.socket() as other_program:
        other_program.bind(("127.0.0.1", 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        cell = kernel.run(start_cell(port), ok=False)
    assert cell.status == "error"
    assert cell.error["ename"] == "OSError"
    assert f"port {port} is already in use" in cell.error["evalue"]
    assert f"chatkit.start(port={port + 1})" in cell.error["evalue"]
    assert kernel.value("[s.port for s in chatkit.notebook.live.running_servers()]") == []


def test_the_handle_displays_as_a_widget_in_a_notebook(kernel):
    started = kernel.run(start_cell(0))  # shown by default inside a kernel
    assert started.displayed(WIDGET_MIME), started.outputs
    shown = kernel.run("server")  # the handle as a cell's last expression
    (view,) = shown.displayed(WIDGET_MIME)
    assert view["model_id"] == kernel.value("server.panel().model_id")
    assert "chatkit server" in kernel.value("server.panel().children[0].value")


def test_the_panel_header_escapes_html_in_the_room_name(kernel):
    kernel.run("server = chatkit.start(port=0, room='<img src=x onerror=alert(1)>')")
    header = kernel.value("server.panel().children[0].value")
    assert "&lt;img src=x onerror=alert(1)&gt;" in header
    assert "<img" not in header
    # and the link opens that room, percent-encoded
    assert "/%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E" in header


SCRIPT = """
import json, threading
import chatkit

with chatkit.start(port=0) as server:
    got, done = [], threading.Event()

    def onmessage(evt):
        got.append(json.loads(evt.data))
        if got[-1]["type"] == "note":
            evt.target.send(json.dumps({"type": "chat", "text": "hi from a script"}))
        else:
            done.set()

    # In a script the connection opens on a thread of its own, maybe before a line after
    # this one runs: callbacks go to the constructor (the client's docstring says so).
    ws = chatkit.WebSocket(server.ws_url(), onmessage=onmessage, onopen=lambda evt:
                           evt.target.send(json.dumps({"type": "join", "name": "Scripty"})))
    assert done.wait(15), got
    ws.close()
print(json.dumps({"got": got, "running": server.running}))
"""


def test_start_works_the_same_in_a_plain_python_script(tmp_path):
    script = tmp_path / "chat_script.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    first, last = done.stdout.splitlines()[0], done.stdout.splitlines()[-1]
    assert first.startswith("chatkit server running: open http://127.0.0.1:")
    assert json.loads(last) == {
        "got": [
            {"type": "note", "text": 'Scripty joined "people".'},
            {"type": "chat", "name": "Scripty", "text": "hi from a script"},
        ],
        "running": False,
    }


class UncheckedChatUser(chatkit.ChatUser):
    """A student's ChatUser that takes any name, and breaks with a huge message on "boom"."""

    def handle_join(self, name, want=None):
        self.name = name
        self.room.join(self)

    def handle_chat(self, text):
        if text == "boom":
            raise ValueError("x" * 60_000)
        super().handle_chat(text)


def test_the_activity_log_shows_user_text_inert_and_bounds_what_it_redraws():
    with chatkit.start(port=0, show=False, chat_user=UncheckedChatUser) as server:
        panel = server.panel()
        with Outside(server.ws_url("people")) as link, Outside(server.ws_url("people")) as fake:
            link.send({"type": "join", "name": "http://evil.example"})
            fake.send({"type": "join", "name": "\x1b[31mserver stopped\r"})
            fake.say("boom")
            fake.expect(type="error")
            for _ in range(30):  # a student's loop hitting the same bug, again and again
                fake.say("boom")
            for _ in range(30):
                fake.expect(type="error")
        server._refresh()
        [output] = panel.children[1].outputs
        html_text = output["data"]["text/html"]
        assert output["output_type"] == "display_data"  # not a stream: nothing autolinked
        assert "http://evil.example" in html_text and "<a " not in html_text
        assert "\x1b" not in html_text and "\r" not in html_text
        assert "\\x1b[31mserver stopped\\r" in html_text  # shown, as escapes
        assert len(html_text) < 40_000, len(html_text)  # 31 tracebacks of 60 KB each


def test_a_stop_that_runs_out_of_time_cuts_the_rest_says_so_and_frees_the_port():
    # A peer that never answers the close frame: the server waits for it (its grace, 1 s)
    # longer than this stop may take. The student's cell gets no TimeoutError: the rest is
    # cut, the log says so, and the port is free.
    server = chatkit.start(port=0, show=False)
    port = server.port
    silent = socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.7", 0))
    try:
        silent.sendall(b"GET /chat/people HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                       b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                       b"Sec-WebSocket-Version: 13\r\n\r\n")
        assert silent.recv(4096).startswith(b"HTTP/1.1 101")
        server.stop(timeout=0.3)
        assert port_is_free(port)
        wait_until(lambda: not server.running, "the server's thread ends")
        said = [event.text for event in server.server.events if event.kind == "stop"]
        assert said[0] == "not everything closed within 0.3 s: the rest was cut", said
    finally:
        silent.close()


def test_cut_drops_only_that_members_connection_and_sends_no_close_frame():
    # Notebook 8's Wi-Fi going away, on the real server: Ann's connection to "people" is
    # aborted. She gets no close frame (1006); Bob in her room hears that she left and
    # goes on; her namesake in another room and Anna are not touched.
    with chatkit.start(port=0, show=False) as server, \
            Outside(server.ws_url("people"), "Ann") as ann, \
            Outside(server.ws_url("people"), "Bob") as bob, \
            Outside(server.ws_url("people"), "Anna") as anna, \
            Outside(server.ws_url("other"), "Ann") as other_ann:
        assert server.cut("people", "Ann") == 1
        with pytest.raises(ConnectionClosed) as closed:
            ann.wait_for(lambda message: False, "the connection dropping")
        assert closed.value.rcvd is None, closed.value.rcvd  # no close frame came
        assert closed.value.sent is None  # and the client sent none: it was cut
        bob.expect(type="note", text="Ann left people.")
        bob.say("still here")
        bob.expect(type="chat", name="Bob", text="still here")
        anna.expect(type="chat", name="Bob", text="still here")
        other_ann.say("me too")
        other_ann.expect(type="chat", name="Ann", text="me too")
        assert server.cut("people", "Nobody") == 0
        assert server.cut("people", "Ann") == 0  # gone already
        wait_until(lambda: any("Ann disconnected from 'people'" in event.text
                               and "code 1006" in event.text for event in server.events),
                   "the server logs Ann's connection as lost")
        assert [event.text for event in server.events if event.kind == "cut"] == [
            "cut Ann's connection to 'people' (no close frame: a lost network)"]
    with pytest.raises(RuntimeError, match="not running"):
        server.cut("people", "Bob")
