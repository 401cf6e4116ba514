"""Plain HTTP on 127.0.0.1: ask, wait for a server to answer, serve a throwaway page.

::

    status, headers, body = http_get(port, "/people")
    headers["Content-Type"], headers.get_all("Content-Security-Policy")
    wait_http_ok("http://127.0.0.1:8888/api/status", process=lab.process)
    with serve_page("<title>cute cats</title>") as url: ...
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import threading
import urllib.error
import urllib.request
from typing import Any, Iterator

from .waiting import DEADLINE, wait_until

__all__ = ["http_get", "wait_http_ok", "serve_page"]


def http_get(port: int, path: str, method: str = "GET", headers: dict[str, str] | None = None,
             timeout: float = DEADLINE) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request to 127.0.0.1:``port``: (status, headers, body).

    The headers are case-insensitive (``headers["content-type"]``) and keep repeats
    (``headers.get_all("Set-Cookie")``).
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def wait_http_ok(url: str, process: Any = None, timeout: float = 60) -> None:
    """Poll ``url`` until it answers 200; fail at once if ``process`` (a ``Process``) ended."""

    def answered() -> bool:
        if process is not None and process.returncode is not None:
            raise RuntimeError(f"{process.name} exited with code {process.returncode}"
                               f" before {url} answered:\n{process.output[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    try:
        wait_until(answered, f"no answer from {url}", timeout, every=0.1)
    except AssertionError as late:
        if process is None:
            raise
        raise AssertionError(f"{late}:\n{process.output[-3000:]}") from None


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
            thread.join(DEADLINE)
