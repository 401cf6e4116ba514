"""Helpers for the tests that talk to a real server on 127.0.0.1.

- ``run(coroutine_function)``: run an async test body under ``asyncio.run`` with a deadline.
- ``chat_server(**options)``: ``chatkit.serve`` on a free port, its address and its events;
  ``await server.connect(path)`` and ``await server.join(name, room)`` make clients that
  are cut off when the block ends (a client that stopped reading would otherwise keep
  the server's close handshake waiting for its timeout).
- ``joined(url, name)``: a client connected to a room that has joined and read its own note.
- ``recv_json``, ``recv_until``: read with a deadline, so nothing hangs.
- ``free_port()``: a free port of 127.0.0.1 where nothing listens.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import socket
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator

from websockets.asyncio.client import ClientConnection, connect

import chatkit

__all__ = ["run", "chat_server", "ChatServerUnderTest", "joined", "recv_json",
           "recv_until", "say", "free_port", "DEADLINE"]

#: Seconds any single wait may take before the test fails instead of hanging.
DEADLINE = 5.0

#: What a member hears when Colt joins, says "hi all" and leaves: the original's transcript,
#: the same on one server (test_server) as across servers sharing a room (test_redis).
COLT_TRANSCRIPT = [
    {"type": "note", "text": 'Colt joined "people".'},
    {"type": "chat", "name": "Colt", "text": "hi all"},
    {"type": "note", "text": "Colt left people."},
]


def run(body, timeout: float = 10.0) -> Any:
    """Run ``await body()`` in a fresh event loop, failing after ``timeout`` seconds."""

    async def bounded():
        async with asyncio.timeout(timeout):
            return await body()

    return asyncio.run(bounded())


@dataclass
class ChatServerUnderTest:
    port: int
    events: list = field(default_factory=list)
    clients: list = field(default_factory=list)

    async def connect(self, path: str, **kwargs) -> ClientConnection:
        client = await connect(self.ws(path), open_timeout=DEADLINE, **kwargs)
        self.clients.append(client)
        return client

    async def join(self, name: str, room: str = "people", **fields) -> ClientConnection:
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
async def chat_server(**options):
    """The reference server on a free port of 127.0.0.1, closed on exit."""
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


async def recv_json(ws: ClientConnection, timeout: float = DEADLINE) -> dict:
    async with asyncio.timeout(timeout):
        return json.loads(await ws.recv())


async def recv_until(ws: ClientConnection, done, limit: int = 10_000) -> list[dict]:
    """Read messages until ``done(message)`` is true; return them all (the last included)."""
    got = []
    for _ in range(limit):
        message = await recv_json(ws)
        got.append(message)
        if done(message):
            return got
    raise AssertionError(f"no matching message in {limit}")


async def joined(url: str, name: str, **fields) -> ClientConnection:
    """Connect, join as ``name`` and read up to our own join note."""
    ws = await connect(url, open_timeout=DEADLINE)
    await ws.send(json.dumps({"type": "join", "name": name, **fields}))
    await recv_until(ws, lambda m: m.get("type") == "note"
                     and m["text"].startswith(f"{name} joined "))
    return ws


async def say(ws: ClientConnection, text: str) -> None:
    await ws.send(json.dumps({"type": "chat", "text": text}))


def free_port() -> int:
    """A port of 127.0.0.1 that was free a moment ago (nothing listens there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_page(html: str, port: int = 0) -> Iterator[str]:
    """A throwaway HTTP server on 127.0.0.1 answering every GET with ``html``; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    with http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join(5)
