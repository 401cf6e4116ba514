"""A class code: off a hub, let into the chat only those who were told the code.

A class on one network (``python -m chatkit serve --host 0.0.0.0 --class-code``)
shares one server; a class code keeps out whoever else is on that network. The
teacher gives out the link with the code in it, ``http://10.0.0.5:3000/people?code=k7f3-q9x2``;
the page takes it once, keeps it in a cookie of its own (and drops it from the
address bar), and its WebSocket carries that cookie. A Python client puts the
code in the WebSocket's address: ``ws://10.0.0.5:3000/chat/people?code=k7f3-q9x2``.

::

    gate = ClassCode("k7f3-q9x2")
    async with serve(host="0.0.0.0", gate=gate):
        ...

Without a class code (the default) nothing changes: every client of the
original exercise works as before. On JupyterHub the hub's own login does this
job instead (:mod:`chatkit.server.jupyterhub`).
"""

from __future__ import annotations

import hmac
import http
import http.cookies
import re
import secrets
import urllib.parse

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .pages import HTML, is_public_file, respond, static_file, wants_websocket

__all__ = ["ClassCode", "new_code", "COOKIE"]

#: The cookie the page keeps the code in.
COOKIE = "chatkit_class_code"

#: Letters and digits nobody misreads when a teacher writes them on the board.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_code() -> str:
    """A fresh class code to write on the board: ``"k7f3-q9x2"`` (about 40 bits)."""
    letters = [secrets.choice(ALPHABET) for _ in range(8)]
    return "".join(letters[:4]) + "-" + "".join(letters[4:])


class ClassCode:
    """A gate for :class:`chatkit.server.ChatServer`: the code, or no entry.

    >>> gate = ClassCode("k7f3-q9x2")
    >>> gate.admits("k7f3-q9x2"), gate.admits("guess"), gate.admits(None)
    (True, False, False)

    A request brings the code as ``?code=`` in its address or in the page's
    cookie. Without it, the page is a short form that asks for the code, and a
    WebSocket handshake is refused (HTTP 403) -- every upgrade, whatever its path.
    Only the page's own styles, script and icon need no code, as plain HTTP
    (:func:`~chatkit.server.pages.is_public_file`): they hold nothing of the class.
    """

    def __init__(self, code: str | None = None) -> None:
        code = code or new_code()
        if not re.fullmatch(r"[A-Za-z0-9_-]{4,64}", code):
            raise ValueError(
                f"a class code is 4 to 64 letters, digits, '-' or '_', got {code!r}"
            )
        self.code = code

    def admits(self, given: str | None) -> bool:
        """Is ``given`` the class code? (Compared in constant time.)"""
        return given is not None and hmac.compare_digest(given.encode(), self.code.encode())

    async def __call__(self, connection: ServerConnection, request: Request) -> Response | None:
        if is_public_file(request):
            return None
        url = urllib.parse.urlsplit(request.path)
        segments = url.path.split("/")
        in_query = urllib.parse.parse_qs(url.query).get("code", [None])[0]
        cookies = http.cookies.SimpleCookie()
        try:
            cookies.load(request.headers.get("Cookie", ""))
        except http.cookies.CookieError:
            pass
        in_cookie = cookies[COOKIE].value if COOKIE in cookies else None
        if wants_websocket(request):
            if self.admits(in_query) or self.admits(in_cookie):
                return None
            return connection.respond(
                http.HTTPStatus.FORBIDDEN,
                "this class's chat needs its class code: add ?code=... to the address\n",
            )
        if self.admits(in_query):
            # Keep the code in a cookie for the page's WebSocket; drop it from the address.
            response = connection.respond(http.HTTPStatus.FOUND, "")
            response.headers["Location"] = urllib.parse.quote(
                urllib.parse.unquote(segments[-1]), safe=""
            ) or "./"
            response.headers["Set-Cookie"] = (
                f"{COOKIE}={self.code}; Path=/; HttpOnly; SameSite=Strict"
            )
            return response
        if self.admits(in_cookie):
            return None
        return respond(connection, static_file("class_code.html"), HTML,
                       http.HTTPStatus.UNAUTHORIZED)
