"""Chat clients for the tests: asyncio ones next to a server under test, and a sync one.

::

    async with chat_server(rate_limit=None) as server:     # chatkit.serve on a free port
        ann = await server.join("Ann")                    # joined, own join note read
        await say(ann, "hi")
        assert await recv_json(ann) == chat("Ann", "hi")

    with Outside(live.ws_url("people"), "Bob") as bob:   # from plain code (or beside a kernel)
        bob.say("hi")
        bob.expect(type="chat", name="Bob", text="hi")

Every read has a deadline (``waiting.DEADLINE``), so nothing hangs. Messages are
built with the protocol's own ``chatkit.core.messages.note`` / ``chat`` / ``error``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import unquote, urlparse

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect as connect_sync

import chatkit
from chatkit.core.messages import chat, note

from .waiting import DEADLINE

__all__ = ["COLT_TRANSCRIPT", "chat_server", "ChatServerUnderTest", "joined", "say", "recv_json",
           "recv_until", "renames_and_lists", "closed_with", "Outside", "room_of",
           "handshake_status"]

#: What a member hears when Colt joins, says "hi all" and leaves: the original's transcript,
#: the same on one server (tests/server/test_app.py) as across servers sharing a room
#: through Redis (tests/redis/test_hub.py).
COLT_TRANSCRIPT = [note('Colt joined "people".'), chat("Colt", "hi all"), note("Colt left people.")]


# -- asyncio clients of a server in this process -------------------------------------


@dataclass
class ChatServerUnderTest:
    """The server ``chat_server`` started: its port, its events, the clients made through it."""

    port: int
    events: list = field(default_factory=list)
    clients: list = field(default_factory=list)

    async def connect(self, path: str, **kwargs: Any) -> ClientConnection:
        """A client connected to ``path`` (cut off when the server's block ends)."""
        client = await connect(self.ws(path), open_timeout=DEADLINE, **kwargs)
        self.clients.append(client)
        return client

    async def join(self, name: str, room: str = "people", **fields: Any) -> ClientConnection:
        """A client that joined ``room`` as ``name`` and read its own join note."""
        client = await joined(self.room(room), name, **fields)
        self.clients.append(client)
        return client

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def room(self, name: str = "people") -> str:
        return self.ws(f"/chat/{name}")

    def kinds(self) -> list[str]:
        return [event.kind for event in self.events]


@contextlib.asynccontextmanager
async def chat_server(**options: Any):
    """``chatkit.serve`` on a free port of 127.0.0.1, closed on exit.

    The clients made through it are cut off first: a client that stopped reading
    would otherwise keep the server's closing handshake waiting for its timeout.
    """
    events: list = []
    options.setdefault("on_event", events.append)
    async with chatkit.serve("127.0.0.1", 0, **options) as server:
        under_test = ChatServerUnderTest(server.sockets[0].getsockname()[1], events)
        try:
            yield under_test
        finally:
            for client in under_test.clients:
                if client.transport is not None:
                    client.transport.abort()


async def joined(url: str, name: str, **fields: Any) -> ClientConnection:
    """Connect to the room at ``url``, join as ``name`` and read up to our own join note."""
    ws = await connect(url, open_timeout=DEADLINE)
    await ws.send(json.dumps({"type": "join", "name": name, **fields}))
    await recv_until(ws, lambda m: m.get("type") == "note"
                     and m["text"].startswith(f"{name} joined "))
    return ws


async def say(ws: ClientConnection, text: str) -> None:
    """Send a chat line (or a command: ``/members``)."""
    await ws.send(json.dumps({"type": "chat", "text": text}))


async def recv_json(ws: ClientConnection, timeout: float = DEADLINE) -> dict:
    """The next message, decoded; fails after ``timeout`` seconds."""
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def recv_until(ws: ClientConnection, done: Callable[[dict], bool],
                     limit: int = 10_000) -> list[dict]:
    """Read messages until ``done(message)`` is true; return them all (the last included)."""
    got = []
    for _ in range(limit):
        message = await recv_json(ws)
        got.append(message)
        if done(message):
            return got
    raise AssertionError(f"no matching message in {limit}")


async def renames_and_lists(ws: ClientConnection, renames: int, names: list[str],
                            limit: int = 10_000) -> list[dict]:
    """Read until ``renames`` rename notes have come and the newest member list is
    ``names`` (in whatever order the two arrive); return all that was read."""
    got: list[dict] = []
    newest = None
    told = 0
    for _ in range(limit):
        if told >= renames and newest == names:
            return got
        message = await recv_json(ws)
        got.append(message)
        told += "is now known as" in message.get("text", "")
        newest = message["names"] if message.get("type") == "members" else newest
    raise AssertionError(f"not {renames} renames and the list {names} in {limit}: {got[-5:]}")


async def closed_with(ws: ClientConnection) -> tuple[int | None, str | None]:
    """Read until the server closes ``ws``; its (close code, reason)."""
    async with asyncio.timeout(DEADLINE):
        with pytest.raises(ConnectionClosed):
            while True:
                await ws.recv()
    return ws.close_code, ws.close_reason


# -- a sync client, for tests without an event loop -----------------------------------


class Outside:
    """A chat client in plain code (``websockets``' sync client), reading JSON with a deadline.

    ::

        with Outside(server.ws_url(), "Bob") as bob:   # joins as Bob, reads its join note
            bob.say("hi")
            bob.expect(type="chat", name="Bob", text="hi")
    """

    def __init__(self, url: str, name: str | None = None, timeout: float = DEADLINE,
                 headers: dict[str, str] | None = None) -> None:
        self.timeout = timeout
        self._exit = contextlib.ExitStack()
        self.connection = self._exit.enter_context(
            connect_sync(url, open_timeout=timeout, additional_headers=headers))
        self.received: list[dict[str, Any]] = []
        if name is not None:
            try:
                self.send({"type": "join", "name": name})
                self.expect(type="note", text=f'{name} joined "{room_of(url)}".')
            except BaseException:
                self._exit.close()
                raise

    def __enter__(self) -> Outside:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._exit.close()

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def say(self, text: str) -> None:
        self.send({"type": "chat", "text": text})

    def expect(self, **fields: Any) -> dict[str, Any]:
        """Read until a message has all of ``fields`` (within the timeout); return it."""
        return self.wait_for(lambda m: all(m.get(k) == v for k, v in fields.items()), fields)

    def wait_for(self, test: Callable[[dict[str, Any]], bool], what: Any = "") -> dict[str, Any]:
        """Read until ``test(message)``; raises ``ConnectionClosed`` if the server closes first."""
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no message like {what} within {self.timeout} s: {self.received}"
            try:
                message = json.loads(self.connection.recv(timeout=left))
            except TimeoutError:
                continue
            self.received.append(message)
            if test(message):
                return message


def room_of(url: str) -> str:
    """The room a chat URL names: ``ws://h:p/chat/my%20room`` -> ``my room``."""
    return unquote(urlparse(url).path.rsplit("/", 1)[-1])


def handshake_status(url: str, headers: dict[str, str] | None = None) -> int:
    """101 if a WebSocket handshake to ``url`` succeeds, else the HTTP status of the refusal."""
    try:
        with connect_sync(url, open_timeout=DEADLINE, additional_headers=headers):
            return 101
    except InvalidStatus as refused:
        return refused.response.status_code
