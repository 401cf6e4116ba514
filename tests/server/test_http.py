"""Plain HTTP on the chat port: the page, its static files, 404/405/400, HEAD, pipelining, headers.

Each test talks to its own server on a free port of 127.0.0.1, with ``http.client``
or with raw bytes where a browser or a script could send something odd.
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

import chatkit
from tests.helpers.chat import chat_server
from tests.helpers.http import http_get
from tests.helpers.sockets import raw_connect, read_all, read_head, upgrade_request
from tests.helpers.waiting import DEADLINE, run


def test_http_serves_the_page_static_files_and_404():
    async def body():
        async with chat_server() as server:
            get = lambda path: asyncio.to_thread(http_get, server.port, path)  # noqa: E731

            status, headers, page = await get("/people")
            assert status == 200
            assert headers.get_all("Content-Type") == ["text/html; charset=utf-8"]
            [csp] = headers.get_all("Content-Security-Policy")
            assert "script-src 'self'" in csp and "default-src 'none'" in csp
            assert headers.get_all("X-Content-Type-Options") == ["nosniff"]
            assert b'<script src="_static/chat.js"' in page  # relative: works under any prefix
            assert int(headers.get_all("Content-Length")[0]) == len(page)

            status, headers, _ = await get("/my%20room?x=1")
            assert status == 200 and headers.get_all("Content-Type") == ["text/html; charset=utf-8"]

            status, headers, index = await get("/")
            assert status == 200 and headers.get_all("Content-Type") == ["text/html; charset=utf-8"]

            status, headers, script = await get("/_static/chat.js")
            assert status == 200 and script
            assert headers.get_all("Content-Type") == ["text/javascript; charset=utf-8"]
            status, headers, _ = await get("/_static/chat.css")
            assert status == 200 and headers.get_all("Content-Type") == ["text/css; charset=utf-8"]

            for path in ("/_static/nope.js", "/_static/../server.py", "/a/b", "/chat/people"):
                assert (await get(path))[0] == 404, path
            assert (await get("/favicon.ico"))[0] == 204

    run(body)


def test_a_websocket_upgrade_to_an_unknown_path_is_refused_with_404():
    async def body():
        async with chat_server() as server:
            with pytest.raises(InvalidStatus) as refused:
                await connect(server.ws("/nowhere"), open_timeout=DEADLINE)
            assert refused.value.response.status_code == 404

    run(body)


def test_an_upgrade_without_a_host_header_gets_a_clean_400(caplog):
    with caplog.at_level(logging.ERROR), chatkit.start(port=0, show=False) as server:
        sock = raw_connect(server.port)
        sock.sendall(upgrade_request(server.port, host=""))
        head = read_head(sock)
        sock.close()
    assert head.startswith(b"HTTP/1.1 400"), head
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text


@pytest.mark.parametrize("gate", [None, "class code"])
@pytest.mark.parametrize("request_text", [
    "GET /people HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: evil.example\r\n\r\n",
    "GET /_static/chat.js HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nHost: 127.0.0.1:{port}\r\n\r\n",
    "{upgrade}",  # an upgrade with two Host headers
    "{upgrade_two_origins}",
    "{upgrade_two_upgrades}",
])
def test_repeated_host_or_origin_headers_get_a_clean_400(caplog, request_text, gate):
    """RFC 7230 (5.4): a request with more than one Host is a bad request; so is an
    upgrade with two Origins (RFC 6455 asks for one). Before: 500 and a traceback."""
    from chatkit.server.class_code import ClassCode

    options = {"gate": ClassCode("k7f3-q9x2")} if gate else {}
    with caplog.at_level(logging.WARNING), chatkit.start(port=0, show=False, **options) as server:
        port = server.port
        origin = f"Origin: http://127.0.0.1:{port}\r\n"
        text = request_text.format(
            port=port,
            upgrade=upgrade_request(port, extra=f"Host: 127.0.0.1:{port}\r\n").decode(),
            upgrade_two_origins=upgrade_request(
                port, "/chat/people?code=k7f3-q9x2", extra=origin * 2).decode(),
            upgrade_two_upgrades=upgrade_request(port, extra="Upgrade: websocket\r\n").decode())
        with raw_connect(port) as sock:
            sock.sendall(text.encode())
            head = read_head(sock)
    assert head.startswith(b"HTTP/1.1 400"), head
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


def test_pipelined_gets_are_answered_or_closed_cleanly_without_errors_in_the_log(caplog):
    with caplog.at_level(logging.WARNING), chatkit.start(port=0, show=False) as server:
        for _ in range(5):
            sock = raw_connect(server.port)
            request = f"GET /people HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n\r\n".encode()
            sock.sendall(request * 3)
            answer = read_all(sock)
            sock.close()
            assert answer.startswith(b"HTTP/1.1 200")
        status, _, _ = http_get(server.port, "/people")
        assert status == 200
    errors = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert not errors, caplog.text


def test_the_page_cannot_be_framed_head_has_no_body_and_other_methods_get_405():
    with chatkit.start(port=0, show=False) as server:
        status, headers, body = http_get(server.port, "/people")
        assert status == 200 and body
        assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["Server"] == "chatkit"  # no versions to look up
        status, head_headers, head_body = http_get(server.port, "/people", "HEAD")
        assert status == 200 and head_body == b""
        assert head_headers["Content-Length"] == str(len(body))
        for method in ("PUT", "DELETE", "TRACE", "POST", "OPTIONS"):
            status, headers, body = http_get(server.port, "/people", method)
            assert status == 405 and headers["Allow"] == "GET, HEAD", method
            assert b"<html" not in body.lower()
        status, headers, _ = http_get(server.port, "/nowhere/at/all")
        assert status == 404 and headers["X-Frame-Options"] == "DENY"
