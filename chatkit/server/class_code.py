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

import collections
import hmac
import http
import http.cookies
import ipaddress
import logging
import math
import re
import secrets
import time
import urllib.parse
from typing import Any, Callable

from websockets.asyncio.server import ServerConnection
from websockets.http11 import Request, Response

from .guard import peer_address
from .pages import HTML, is_public_file, respond, static_file, wants_websocket

__all__ = ["ClassCode", "WrongGuesses", "client_network", "new_code", "COOKIE", "MIN_LENGTH",
           "WRONG_GUESSES_ALLOWED", "FIRST_LOCKOUT", "LONGEST_LOCKOUT", "MAX_ADDRESSES"]

logger = logging.getLogger("chatkit")

#: The cookie the page keeps the code in.
COOKIE = "chatkit_class_code"

#: Letters and digits nobody misreads when a teacher writes them on the board.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
#: Characters a class code has at least: a 4-digit code fell to guessing in 6 s.
MIN_LENGTH = 8
#: Wrong codes one address may try before it must wait.
WRONG_GUESSES_ALLOWED = 5
#: Seconds the first wait lasts; each further wrong code doubles it, up to LONGEST_LOCKOUT.
FIRST_LOCKOUT = 2.0
LONGEST_LOCKOUT = 300.0
#: Addresses whose wrong codes are remembered, at most (the least recent forgotten first):
#: an attacker with many addresses cannot grow the server's memory without bound.
MAX_ADDRESSES = 4096
#: Seconds after its last wrong code an address starts afresh.
FORGET_AFTER = 3600.0


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
        if len(code) < MIN_LENGTH:
            raise ValueError(
                f"a class code needs at least {MIN_LENGTH} characters, got {len(code)}: a short"
                " code falls to guessing in seconds. Use --class-code with no value to get a"
                " generated one (with $CHATKIT_CLASS_CODE unset; ClassCode() in Python), or"
                " choose a longer code"
            )
        if not re.fullmatch(r"[A-Za-z0-9_-]{%d,64}" % MIN_LENGTH, code):
            raise ValueError(
                f"a class code is {MIN_LENGTH} to 64 letters, digits, '-' or '_'; use"
                " --class-code with no value to get a generated one"
            )
        self.code = code
        #: Wrong codes per client address: after a few, that address waits (HTTP 429).
        self.wrong_guesses = WrongGuesses(what="class codes")

    @property
    def report(self) -> Callable[[str, str], Any]:
        """Where a lockout is reported: ``report(kind, text)``; the chat server sets its own."""
        return self.wrong_guesses.report

    @report.setter
    def report(self, report: Callable[[str, str], Any]) -> None:
        self.wrong_guesses.report = report

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
        if in_query is not None or in_cookie is not None:  # a try: the right code, or a guess
            address = client_network(peer_address(connection))
            locked_out = self.wrong_guesses.refusal(connection, address)
            if locked_out is not None:  # refused at once, right or wrong, before any comparison
                return locked_out
            self.wrong_guesses.tried(address, self.admits(in_query) or self.admits(in_cookie))
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


def client_network(address: str) -> str:
    """What wrong codes are counted by: an IPv4 address, or an IPv6 address's /64 (one
    machine is often given a whole /64: it could change address for every guess).

    >>> client_network("10.0.0.7"), client_network("2001:db8::1:2:3:4")
    ('10.0.0.7', '2001:db8::/64')
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:  # ::ffff:10.0.0.7, a dual-stack socket's IPv4 peer
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


class WrongGuesses:
    """Wrong class codes per client address: after a few, the address must wait, twice as
    long after each further one (exponential backoff).

    >>> now = [0.0]
    >>> guesses = WrongGuesses(allowed=2, first=2.0, clock=lambda: now[0])
    >>> guesses.wrong("10.0.0.7"), guesses.wrong("10.0.0.7")   # the second starts a wait
    (0.0, 2.0)
    >>> guesses.wait("10.0.0.7"), guesses.wait("10.0.0.8")    # another address: no wait
    (2.0, 0.0)
    >>> now[0] = 2.0; guesses.wrong("10.0.0.7")               # its next wrong code: 4 s
    4.0

    Only ``size`` addresses are remembered (the least recently wrong forgotten first),
    so the table stays small whatever number of addresses an attacker has. A right code
    forgets the address: a classmate who mistyped starts afresh.

    The one rule for every secret a client may guess -- the class code
    (:class:`ClassCode`) and the instructor code (:mod:`chatkit.server.instructor`),
    each with a table of its own -- through two calls: :meth:`refusal` before a code
    is looked at, :meth:`tried` after it was compared.
    """

    def __init__(self, allowed: int = WRONG_GUESSES_ALLOWED, first: float = FIRST_LOCKOUT,
                 longest: float = LONGEST_LOCKOUT, size: int = MAX_ADDRESSES,
                 forget_after: float = FORGET_AFTER,
                 clock: Callable[[], float] = time.monotonic, what: str = "codes") -> None:
        self.allowed, self.first, self.longest = allowed, first, longest
        self.size, self.forget_after, self.clock = size, forget_after, clock
        #: What is guessed, for the log and the refusal: ``"class codes"``.
        self.what = what
        #: Where a lockout is reported: ``report(kind, text)``; the chat server sets its own.
        self.report: Callable[[str, str], Any] = lambda kind, text: logger.warning("%s", text)
        #: Told of each wrong code counted here: with Redis, the instructor's desk passes it
        #: to the class's other servers, which count it with :meth:`wrong` (``--workers``).
        self.on_wrong: Callable[[str], Any] | None = None
        # address -> [wrong codes, when the last was, when its wait ends]
        self._table: collections.OrderedDict[str, list[float]] = collections.OrderedDict()

    def refusal(self, connection: ServerConnection, address: str) -> Response | None:
        """429 with ``Retry-After`` if ``address`` must wait, else None: ask this before
        looking at its code, so that a lockout tells nothing about the code."""
        wait = self.wait(address)
        if not wait:
            return None
        response = connection.respond(
            http.HTTPStatus.TOO_MANY_REQUESTS,
            f"too many wrong {self.what} from your address: try again later\n")
        response.headers["Retry-After"] = str(math.ceil(wait))
        return response

    def tried(self, address: str, right: bool) -> bool:
        """Count a code compared from ``address``; log a lockout it starts (the address,
        never the code). Returns ``right``."""
        if right:
            self.right(address)
            return right
        if lockout := self.wrong(address):
            self.report("refuse", f"{address}: {self.count(address)} wrong {self.what};"
                                  f" locked out for {lockout:g} s")
        if self.on_wrong is not None:  # the other servers of the class count it too
            self.on_wrong(address)
        return right

    def wait(self, address: str) -> float:
        """Seconds ``address`` must still wait before its code is even looked at (0: none)."""
        entry = self._table.get(address)
        return max(0.0, entry[2] - self.clock()) if entry else 0.0

    def count(self, address: str) -> int:
        """Wrong codes remembered for ``address``."""
        entry = self._table.get(address)
        return int(entry[0]) if entry else 0

    def wrong(self, address: str) -> float:
        """Count a wrong code from ``address``; the wait it starts, in seconds (0: none yet)."""
        now = self.clock()
        entry = self._table.pop(address, None)
        if entry is None or now - entry[1] > self.forget_after:
            entry = [0, now, 0.0]
        entry[0] += 1
        entry[1] = now
        lockout = 0.0
        if entry[0] >= self.allowed:
            lockout = min(self.first * 2 ** min(entry[0] - self.allowed, 32), self.longest)
            entry[2] = now + lockout
        self._table[address] = entry  # the most recent, last
        while len(self._table) > self.size:
            self._table.popitem(last=False)
        return lockout

    def right(self, address: str) -> None:
        """The right code from ``address``: forget its wrong ones."""
        self._table.pop(address, None)

    def __len__(self) -> int:
        return len(self._table)
