"""``chatkit.WebSocket``, the browser-style client, against the live reference server.

Callbacks in the browser's order, close codes and reasons, the errors the browser
raises, and both ways of running: inside an event loop (a notebook) and from plain
synchronous code (a background loop thread).
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest

import chatkit
from chatkit.notebook.client import CloseEvent, InvalidStateError, MessageEvent, WebSocket
from tests.helpers.sockets import free_port
from tests.helpers.waiting import DEADLINE, eventually, run


class Recorder:
    """Wires all four callbacks of a WebSocket to a list of (kind, event)."""

    def __init__(self, ws=None, on_open=None, on_message=None):
        self.ws = ws
        self.log = []
        self.states = []
        self.done = threading.Event()

        def record(kind, then=None):
            def callback(event):
                self.log.append((kind, event))
                self.states.append(event.target.ready_state)
                if then is not None:
                    then(event)
                if kind == "close":
                    self.done.set()

            return callback

        self.callbacks = {
            "onopen": record("open", on_open),
            "onmessage": record("message", on_message),
            "onerror": record("error"),
            "onclose": record("close"),
        }
        if ws is not None:
            for name, callback in self.callbacks.items():
                setattr(ws, name, callback)

    @classmethod
    def connect(cls, url, on_open=None, on_message=None):
        """From plain code the loop is another thread and may open the connection before
        the next line runs: the callbacks go to the constructor, as a script's would."""
        recorder = cls(on_open=on_open, on_message=on_message)
        recorder.ws = WebSocket(url, **recorder.callbacks)
        return recorder

    @property
    def kinds(self):
        return [kind for kind, _ in self.log]

    @property
    def messages(self):
        return [json.loads(event.data) for kind, event in self.log if kind == "message"]

    @property
    def close_event(self) -> CloseEvent:
        [event] = [event for kind, event in self.log if kind == "close"]
        return event


def join(ws, name):
    ws.send(json.dumps({"type": "join", "name": name}))


def random_url(server, query):
    return f"ws{server.url[4:]}/random?{query}"


# -- inside a running event loop ---------------------------------------------


def test_callbacks_fire_in_order_open_messages_close(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("people"))
        closing_states = []

        def close_now(event):
            ws.close(4000, "done here")
            closing_states.append(ws.ready_state)

        recorder = Recorder(ws, on_open=lambda event: join(ws, "Colt"), on_message=close_now)
        assert ws.ready_state == WebSocket.CONNECTING
        await ws.wait_closed(DEADLINE)
        assert recorder.kinds == ["open", "message", "close"]
        assert recorder.messages == [{"type": "note", "text": 'Colt joined "people".'}]
        assert recorder.states == [WebSocket.OPEN, WebSocket.OPEN, WebSocket.CLOSED]
        assert closing_states == [WebSocket.CLOSING]
        close = recorder.close_event
        assert (close.code, close.reason, close.was_clean) == (4000, "done here", True)
        assert close.type == "close" and close.target is ws
        assert isinstance(recorder.log[1][1], MessageEvent)
        assert ws.ready_state == WebSocket.CLOSED

    run(body)


def test_the_server_hears_the_close_code_the_client_chose(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("people"))
        ws.onopen = lambda event: join(ws, "Colt")
        ws.onmessage = lambda event: ws.close(4001, "bye")
        await ws.wait_closed(DEADLINE)
        await eventually(lambda: any("Colt disconnected" in e.text for e in live_server.events))
        assert any("Colt disconnected" in e.text and "code 4001" in e.text
                   for e in live_server.events)

    run(body)


def test_a_server_initiated_close_gives_code_1000_and_the_reason(live_server):
    async def body():
        ws = WebSocket(random_url(live_server, "count=2&every=0.01"))
        recorder = Recorder(ws)
        await ws.wait_closed(DEADLINE)
        assert recorder.kinds == ["open", "message", "message", "close"]
        assert all(1 <= n <= 100 for n in recorder.messages)
        close = recorder.close_event
        assert (close.code, close.reason, close.was_clean) == (1000, "sent 2 numbers, bye", True)

    run(body)


def test_a_room_name_too_long_closes_1008_with_a_reason(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("r" * 81))
        recorder = Recorder(ws)
        await ws.wait_closed(DEADLINE)
        assert recorder.kinds == ["open", "close"]
        assert recorder.close_event.code == 1008
        assert "too long" in recorder.close_event.reason

    run(body)


def test_a_refused_address_fires_error_then_close_1006(live_server):
    async def body():
        ws = WebSocket(f"ws://127.0.0.1:{free_port()}/chat/people")
        recorder = Recorder(ws)
        assert await ws.wait_open(DEADLINE) is False
        await ws.wait_closed(DEADLINE)
        assert recorder.kinds == ["error", "close"]
        assert isinstance(recorder.log[0][1].error, OSError)
        close = recorder.close_event
        assert (close.code, close.was_clean) == (1006, False)
        assert ws.ready_state == WebSocket.CLOSED

    run(body)


def test_send_while_connecting_raises_invalid_state_error(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("people"))
        with pytest.raises(InvalidStateError):
            ws.send('{"type": "join", "name": "Colt"}')
        assert await ws.wait_open(DEADLINE) is True
        ws.close()
        await ws.wait_closed(DEADLINE)

    run(body)


def test_close_while_connecting_fires_error_then_close_1006(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("people"))
        recorder = Recorder(ws)
        ws.close()
        await ws.wait_closed(DEADLINE)
        assert recorder.kinds == ["error", "close"]
        assert recorder.close_event.code == 1006
        assert ws.ready_state == WebSocket.CLOSED

    run(body)


def test_close_after_close_and_send_after_close_are_harmless(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("people"))
        recorder = Recorder(ws)
        await ws.wait_open(DEADLINE)
        ws.close()
        ws.close()
        await ws.wait_closed(DEADLINE)
        ws.send("ignored, as a browser would")
        assert recorder.kinds == ["open", "close"]
        assert ws.buffered_amount == 0

    run(body)


def test_an_exception_in_a_callback_is_printed_and_later_callbacks_still_fire(
    live_server, capsys
):
    async def body():
        ws = WebSocket(random_url(live_server, "count=3&every=0.01"))
        seen = []

        def onopen(event):
            raise ValueError("student bug in onopen")

        def onmessage(event):
            seen.append(event.data)
            raise KeyError("student bug in onmessage")

        async def onclose(event):
            seen.append(event.code)
            raise RuntimeError("student bug in an async onclose")

        ws.onopen, ws.onmessage, ws.onclose = onopen, onmessage, onclose
        await ws.wait_closed(DEADLINE)
        await eventually(lambda: len(seen) == 4)  # the async onclose runs as a task of its own
        assert seen[-1] == 1000

    run(body)
    printed = capsys.readouterr()
    text = printed.out + printed.err
    assert "Exception in onopen callback" in text and "student bug in onopen" in text
    assert text.count("Exception in onmessage callback") == 3
    assert "student bug in an async onclose" in text


def test_the_server_stopping_closes_clients_with_1001(live_server):
    async def body():
        ws = WebSocket(live_server.ws_url("people"))
        recorder = Recorder(ws)
        await ws.wait_open(DEADLINE)
        await asyncio.to_thread(live_server.stop)
        await ws.wait_closed(DEADLINE)
        assert recorder.close_event.code == 1001

    run(body)


# -- from plain synchronous code --------------------------------------------


def test_from_sync_code_with_no_loop_a_background_thread_runs_the_callbacks(live_server):
    with pytest.raises(RuntimeError):
        asyncio.get_running_loop()  # really no loop here
    threads = set()

    def on_message(event):
        threads.add(threading.current_thread().name)
        message = json.loads(event.data)
        if message["type"] == "note":
            event.target.send(json.dumps({"type": "chat", "text": "from sync code"}))
        else:
            event.target.close()

    recorder = Recorder.connect(
        live_server.ws_url("sync room"),
        on_open=lambda event: join(event.target, "Sync"),
        on_message=on_message,
    )
    assert recorder.done.wait(DEADLINE)
    assert recorder.kinds == ["open", "message", "message", "close"]
    assert recorder.messages == [
        {"type": "note", "text": 'Sync joined "sync room".'},
        {"type": "chat", "name": "Sync", "text": "from sync code"},
    ]
    assert recorder.close_event.code == 1000
    assert threads == {"chatkit-client"}


def test_close_while_connecting_from_sync_code(live_server):
    ws = WebSocket(live_server.ws_url("people"))
    recorder = Recorder(ws)
    ws.close()
    assert recorder.done.wait(DEADLINE)
    assert recorder.kinds[-1] == "close"
    assert recorder.close_event.code in (1000, 1006)


def test_two_clients_chat_with_each_other(live_server):
    async def body():
        first, second = WebSocket(live_server.ws_url()), WebSocket(live_server.ws_url())
        heard = []
        second.onmessage = lambda event: heard.append(json.loads(event.data))
        assert await first.wait_open(DEADLINE) and await second.wait_open(DEADLINE)
        join(second, "second")
        await eventually(lambda: heard)  # joined: second is in the room before first joins
        join(first, "first")
        first.send(json.dumps({"type": "chat", "text": "hello second"}))
        await eventually(lambda: len(heard) >= 3)
        assert heard == [
            {"type": "note", "text": 'second joined "people".'},
            {"type": "note", "text": 'first joined "people".'},
            {"type": "chat", "name": "first", "text": "hello second"},
        ]
        first.close()
        second.close()
        await first.wait_closed(DEADLINE)
        await second.wait_closed(DEADLINE)

    run(body)


def test_websocket_is_exported_at_the_top_level():
    assert chatkit.WebSocket is WebSocket


def test_bytes_frames_arrive_as_bytes_and_text_as_str(live_server):
    async def body():
        ws = WebSocket(f"ws{live_server.url[4:]}/echo")
        got = []
        ws.onmessage = lambda event: got.append(event.data)
        assert await ws.wait_open(DEADLINE)
        ws.send(b"\x00\xff")
        ws.send("héllo")
        await eventually(lambda: len(got) >= 2)
        assert got == [b"\x00\xff", "héllo"]
        ws.close()
        await ws.wait_closed(DEADLINE)

    run(body)


def test_a_malformed_url_fails_with_error_then_close_instead_of_hanging():
    async def body():
        ws = WebSocket("http://127.0.0.1/not-a-websocket-url")
        recorder = Recorder(ws)
        await ws.wait_closed(DEADLINE)
        assert recorder.kinds == ["error", "close"]
        assert recorder.close_event.code == 1006

    run(body)


@pytest.mark.parametrize("code, reason", [(999, ""), (1001, ""), (2999, ""), (5000, ""),
                                          (1000, "é" * 62)])
def test_close_with_a_code_or_reason_the_browser_refuses_raises_and_stays_open(
    live_server, code, reason
):
    async def body():
        ws = WebSocket(f"ws{live_server.url[4:]}/echo")
        assert await ws.wait_open(DEADLINE)
        with pytest.raises(ValueError):
            ws.close(code, reason)
        assert ws.ready_state == WebSocket.OPEN
        ws.close(3000, "é" * 61)  # 122 bytes: the longest reason the browser allows
        await ws.wait_closed(DEADLINE)
        assert ws.ready_state == WebSocket.CLOSED

    run(body)


def test_sending_a_dict_raises_a_type_error_that_suggests_json_dumps(live_server):
    # From plain code the loop is another thread: it may open the connection before the
    # next line runs, so the callbacks go to the constructor (as the next test explains).
    opened, closed = threading.Event(), threading.Event()
    ws = WebSocket(
        live_server.ws_url("people"),
        onopen=lambda event: opened.set(),
        onclose=lambda event: closed.set(),
    )
    assert opened.wait(DEADLINE)
    with pytest.raises(TypeError, match="json.dumps"):
        ws.send({"type": "join", "name": "Colt"})
    ws.close()
    assert closed.wait(DEADLINE)


def test_callbacks_given_to_the_constructor_hear_an_immediate_failure_in_plain_code():
    # No running loop: the background loop may fail the connection before the
    # next line runs, so a script passes its callbacks to the constructor.
    heard = []
    done = threading.Event()
    ws = WebSocket(
        f"ws://127.0.0.1:{free_port()}/chat/people",
        onerror=lambda event: heard.append("error"),
        onclose=lambda event: (heard.append(("close", event.code)), done.set()),
    )
    assert done.wait(DEADLINE)
    assert heard == ["error", ("close", 1006)]
    assert ws.ready_state == WebSocket.CLOSED
