"""Plain HTTP on the chat's port (chatkit.server.pages), and the one connection class
(chatkit.server.sending.ChatConnection), against a real server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import http.client

from websockets.asyncio.client import connect

import chatkit
from chatkit.server import ChatServer
from chatkit.server.class_code import ClassCode
from chatkit.server.pages import SECURITY_HEADERS
from chatkit.server.sending import ChatConnection

DEADLINE = 10.0


def request(port: int, path: str, method: str = "GET", headers: dict | None = None):
    """(status, [(header, value), ...], body) of one plain HTTP request."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        connection.close()


def once_each(headers: list[tuple[str, str]]) -> dict[str, int]:
    """How many times each security header came (1 each is right)."""
    return {name: sum(key.lower() == name.lower() for key, _ in headers)
            for name in SECURITY_HEADERS}


def test_every_answer_carries_each_security_header_exactly_once():
    with chatkit.start(port=0, show=False, max_per_client=1) as server:
        held = http.client.HTTPConnection("127.0.0.1", server.port, timeout=DEADLINE)
        answers = {
            "page": request(server.port, "/people"),
            "script": request(server.port, "/_static/chat.js"),
            "not found": request(server.port, "/a/b"),
            "other origin": request(server.port, "/chat/people", headers={
                "Upgrade": "websocket", "Connection": "Upgrade", "Origin": "https://evil.example",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==", "Sec-WebSocket-Version": "13"}),
        }
        held.connect()  # one connection is this address's cap: the next is refused
        try:
            answers["over the cap"] = request(server.port, "/people")
        finally:
            held.close()
    with chatkit.start(port=0, show=False, gate=ClassCode("k7f3-q9x2")) as server:
        answers["class code form"] = request(server.port, "/people")
    statuses = {name: status for name, (status, _, _) in answers.items()}
    assert statuses == {"page": 200, "script": 200, "not found": 404, "other origin": 403,
                        "over the cap": 503, "class code form": 401}
    for name, (_, headers, _) in answers.items():
        assert once_each(headers) == dict.fromkeys(SECURITY_HEADERS, 1), name


def test_head_gets_the_headers_and_length_of_the_page_without_its_body():
    with chatkit.start(port=0, show=False) as server:
        _, got, page = request(server.port, "/people")
        status, headers, body = request(server.port, "/people", method="HEAD")
    assert status == 200 and body == b"" and page
    assert dict(headers)["Content-Length"] == str(len(page))
    assert once_each(headers) == dict.fromkeys(SECURITY_HEADERS, 1)


def test_every_connection_is_the_one_chat_connection_class_with_the_servers_guard():
    async def body() -> None:
        chat_server = ChatServer()
        async with chat_server.serve("127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/chat/people"):
                await asyncio.sleep(0.05)
                [connection] = server.connections
        assert type(connection) is ChatConnection
        assert connection.guard is chat_server.guard

    asyncio.run(asyncio.wait_for(body(), DEADLINE))
