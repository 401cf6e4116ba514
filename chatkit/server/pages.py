"""The chat page over plain HTTP, on the chat's own port; the headers every answer carries.

The Python twin of the exercise's ``app.get("/:roomName", ...)``: a browser that asks
for ``/people`` gets ``chat.html``, which loads ``_static/chat.js`` and
``_static/chat.css`` and opens the WebSocket ``chat/people`` beside it. WebSocket
upgrades are not answered here: the router matches them::

    /               index.html          /<room>          chat.html
    /_static/chat.js, /_static/chat.css                  /favicon.ico     204, empty

Every answer the server gives -- a page, a refusal, a redirect -- leaves through
:func:`secure`, which adds :data:`SECURITY_HEADERS` once and drops the body of a
``HEAD``.
"""

from __future__ import annotations

import dataclasses
import http
import urllib.parse
from importlib import resources

from websockets.asyncio.server import ServerConnection
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

__all__ = ["answer_page", "respond", "secure", "static_file", "wants_websocket",
           "is_public_file", "SECURITY_HEADERS", "STATIC_TYPES", "PUBLIC_FILES", "HTML"]

HTML = "text/html; charset=utf-8"
#: The page's files under ``_static/``, and their types.
STATIC_TYPES = {
    "chat.js": "text/javascript; charset=utf-8",
    "chat.css": "text/css; charset=utf-8",
}
#: What the page loads before anyone is let in (its styles, its script, an empty icon):
#: nothing of a class in them, so a gate may serve them to anyone -- as plain HTTP only.
PUBLIC_FILES = (*(f"/_static/{name}" for name in STATIC_TYPES), "/favicon.ico")
SECURITY_HEADERS = {
    # Defence in depth: even if user text reached the DOM as HTML, no script
    # but ours could run, and the page can only talk to its own origin.
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; "
        "connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


def wants_websocket(request: Request) -> bool:
    """Does this request ask for a WebSocket (``Upgrade: websocket``)? The one test the
    page, the guard and the gates share, so none of them can read a request otherwise."""
    return "websocket" in request.headers.get("Upgrade", "").lower()


def is_public_file(request: Request) -> bool:
    """A plain request (never an upgrade) for one of :data:`PUBLIC_FILES`, under any prefix.

    >>> from websockets.datastructures import Headers
    >>> is_public_file(Request("/services/chat/_static/chat.js", Headers()))
    True
    >>> is_public_file(Request("/chat/favicon.ico", Headers({"Upgrade": "websocket"})))
    False

    """
    if wants_websocket(request):
        return False
    path = urllib.parse.urlsplit(request.path).path
    return any(path.endswith(public) for public in PUBLIC_FILES)


def static_file(name: str) -> bytes:
    """A file of ``chatkit/static`` (the page, its script and styles), as bytes."""
    return resources.files("chatkit").joinpath("static", name).read_bytes()


def respond(connection: ServerConnection, body: bytes, content_type: str,
            status: http.HTTPStatus = http.HTTPStatus.OK) -> Response:
    """An answer with ``body`` of type ``content_type`` (websockets' ``respond`` makes
    plain text only)."""
    response = connection.respond(status, "")
    headers = Headers(response.headers)
    del headers["Content-Type"]
    del headers["Content-Length"]
    headers["Content-Type"] = content_type
    headers["Content-Length"] = str(len(body))
    return dataclasses.replace(response, headers=headers, body=body)


def answer_page(
    connection: ServerConnection, request: Request, prefix: str = ""
) -> Response | None:
    """The page, its files, or 404, for a plain HTTP request; None for a WebSocket upgrade.

    ``prefix`` is the path the server lives under (``"/services/chatkit"``): the page's
    links are relative, so they keep it.
    """
    if wants_websocket(request):
        return None  # the router matches /chat/<room>, /random, /echo
    path = urllib.parse.urlparse(request.path).path
    if prefix:
        if path == prefix:
            response = connection.respond(http.HTTPStatus.FOUND, "")
            response.headers["Location"] = f"{prefix}/"
            return response
        if not path.startswith(f"{prefix}/"):
            return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")
        path = path[len(prefix):]
    segments = path.split("/")[1:]
    if path == "/":
        return respond(connection, static_file("index.html"), HTML)
    if len(segments) == 2 and segments[0] == "_static" and segments[1] in STATIC_TYPES:
        return respond(connection, static_file(segments[1]), STATIC_TYPES[segments[1]])
    if path == "/favicon.ico":
        return connection.respond(http.HTTPStatus.NO_CONTENT, "")
    if len(segments) == 1 and segments[0]:
        return respond(connection, static_file("chat.html"), HTML)
    return connection.respond(http.HTTPStatus.NOT_FOUND, "Not Found\n")


def secure(response: Response, request: Request) -> Response:
    """The answer as it leaves: :data:`SECURITY_HEADERS` added (once: those it has
    already are kept), and no body for ``HEAD`` (its ``Content-Length`` stays)."""
    for key, value in SECURITY_HEADERS.items():
        if key not in response.headers:
            response.headers[key] = value
    if request.method == "HEAD":
        response = dataclasses.replace(response, body=b"")
    return response
