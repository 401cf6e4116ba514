"""``chatkit.WebSocket(reconnect=True)`` against a real server: after its connection is
cut, and after the server restarts on the same port, it comes back by itself and its
``onmessage`` gets what was said meanwhile exactly once, with a note for what is lost."""

from __future__ import annotations

import json

from chatkit.core.resume import Backoff
from chatkit.notebook.client import WebSocket
from tests.helpers.chat import recv_until, say
from tests.helpers.waiting import eventually, run
from tests.server.test_resume import drop, join, serving

QUICK = Backoff(attempts=40, base=0.05, cap=0.3)


class Ann:
    """A reconnecting client that joined as Ann; what its callbacks got."""

    def __init__(self, port: int) -> None:
        self.shown: list[dict] = []
        self.events: list[str] = []
        self.ws = WebSocket(f"ws://127.0.0.1:{port}/chat/people", reconnect=QUICK,
                            onmessage=lambda evt: self.shown.append(json.loads(evt.data)),
                            onreconnect=lambda evt: self.events.append(evt.type),
                            onclose=lambda evt: self.events.append(f"close {evt.code}"))
        self.ws.onopen = lambda evt: self.ws.send(json.dumps({"type": "join", "name": "Ann"}))

    def texts(self) -> list[str]:
        return [m["text"] for m in self.shown if m["type"] in ("chat", "note")]

    async def heard(self, text: str) -> None:
        await eventually(lambda: text in self.texts())


def test_a_dropped_connection_comes_back_and_shows_what_was_said_meanwhile_once():
    async def body():
        async with serving() as (_, port, server):
            bob, _ = await join(port, "Bob")
            ann = Ann(port)
            await ann.heard('Ann joined "people".')
            await say(bob, "before")
            await ann.heard("before")
            drop(server, "Ann")
            await recv_until(bob, lambda m: m.get("text") == "Ann left people.")
            for text in ["meanwhile 1", "meanwhile 2"]:
                await say(bob, text)
            await eventually(lambda: "reconnected" in ann.events)
            await ann.heard("meanwhile 2")
            await say(bob, "after")
            await ann.heard("after")
            assert ann.texts() == [
                'Ann joined "people".', "before", "Ann left people.", "meanwhile 1",
                "meanwhile 2", 'Ann joined "people".', "after"]
            ids = [m["id"] for m in ann.shown]
            assert ids == sorted(set(ids))  # in order, none twice
            assert not any(m["type"] in ("history", "you") for m in ann.shown)
            ann.ws.close()
            await ann.ws.wait_closed()
            assert ann.events[-1] == "close 1000"
    run(body)


def test_after_a_server_restart_it_rejoins_shows_the_news_and_says_some_may_be_missing():
    async def body():
        async with serving() as (_, port, _server):
            ann = Ann(port)
            await ann.heard('Ann joined "people".')
        assert "reconnecting" in ann.events  # 1001 from the stopping server: it tries again
        async with serving(port) as (_, _port, _server):
            bob, _ = await join(port, "Bob")
            await say(bob, "after the restart")
            await ann.heard("after the restart")
            notes = [m for m in ann.shown if "missed" in m]
            assert len(notes) == 1 and notes[0]["missed"] is None
            assert "restarted" in notes[0]["text"]
            assert ann.texts().count("after the restart") == 1
            ann.ws.close()
            await ann.ws.wait_closed()
    run(body)


def test_it_gives_up_after_its_tries_and_then_closes():
    async def body():
        async with serving() as (_, port, _server):
            ann = WebSocket(f"ws://127.0.0.1:{port}/chat/people",
                            reconnect=Backoff(attempts=3, base=0.01, cap=0.02))
            closes = []
            ann.onclose = lambda evt: closes.append(evt.code)
            ann.onopen = lambda evt: ann.send(json.dumps({"type": "join", "name": "Ann"}))
            assert await ann.wait_open()
            await eventually(lambda: ann.resume.epoch is not None)
        await ann.wait_closed()  # nobody on the port any more: three tries, then onclose
        assert closes == [1001]
    run(body)


def test_without_reconnect_nothing_changes_a_drop_closes_it():
    async def body():
        async with serving() as (_, port, server):
            got, closes = [], []
            ws = WebSocket(f"ws://127.0.0.1:{port}/chat/people",
                           onmessage=lambda evt: got.append(evt.data),
                           onclose=lambda evt: closes.append(evt.code))
            ws.onopen = lambda evt: ws.send(json.dumps({"type": "join", "name": "Ann"}))
            await eventually(lambda: got)
            assert got == ['{"type":"note","text":"Ann joined \\"people\\"."}']
            drop(server, "Ann")
            await ws.wait_closed()
            assert closes == [1006]
    run(body)


def test_a_rejoin_refused_while_its_name_is_still_held_is_tried_again_not_shown():
    async def body():
        async with serving() as (_, port, server):
            bob, _ = await join(port, "Bob")
            ann = Ann(port)
            ann.ws.backoff = Backoff(attempts=40, base=0.3, cap=0.3, random=lambda: 1.0)
            await ann.heard('Ann joined "people".')
            drop(server, "Ann")
            await recv_until(bob, lambda m: m.get("text") == "Ann left people.")
            ghost, _ = await join(port, "Ann")  # holds the name, as a dropped one would
            await say(bob, "while the name was held")
            await eventually(lambda: ann.events.count("reconnected") >= 2)  # refused, retried
            await ghost.close()
            await ann.heard("while the name was held")
            await eventually(lambda: ann.texts().count('Ann joined "people".') == 3)
            assert not [m for m in ann.shown if m["type"] == "error"]
            assert ann.texts().count("while the name was held") == 1
            ann.ws.close()
            await ann.ws.wait_closed()
    run(body)


def test_the_panel_comes_back_after_a_cut_and_shows_what_was_said_meanwhile_once():
    from chatkit.notebook.panel import ChatPanel

    async def body():
        async with serving() as (_, port, server):
            bob, _ = await join(port, "Bob")
            panel = ChatPanel(f"ws://127.0.0.1:{port}", room="people", name="Ann",
                              reconnect=QUICK)
            try:
                await panel.wait_for(lambda p: p.members == ["Bob", "Ann"])
                drop(server, "Ann")
                await recv_until(bob, lambda m: m.get("text") == "Ann left people.")
                await say(bob, "meanwhile")
                await panel.wait_for(lambda p: "(back after a drop)" in p.status_text)
                await panel.wait_for(lambda p: p.members == ["Bob", "Ann"])
                chats = [line.text for line in panel.lines if line.kind == "chat"]
                assert chats == ["meanwhile"]
                assert [line.text for line in panel.lines if line.kind == "status"
                        ][-2].startswith("connection lost (code 1006")
                assert panel.connection_state == "open" and not panel.message_box.disabled
            finally:
                panel.close()
                await panel.wait_closed()
    run(body)
