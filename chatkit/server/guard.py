"""What keeps one client from taking the class server down, and other web pages out.

The chat server (:mod:`chatkit.server.app`) asks this module four questions:

- **May this connection in?** :class:`~chatkit.core.limits.Admission` counts open
  connections in total and per *client* (by default a client is a peer address; a hub
  service keys by user name), and :class:`Guard` says no politely past the caps.
- **How much may this client say?** :class:`~chatkit.core.limits.ClientLimit` is a
  budget in messages and bytes shared by all the connections of one client.
- **Is this the server's own page asking?** :func:`origin_allowed` and
  :func:`host_allowed` refuse WebSocket upgrades from other web sites and from
  DNS-rebinding pages.
- **Is a connection hoarding memory?** :class:`GuardedConnection` drops a client whose
  unsent data passes the cap, whatever filled it (pongs to a ping flood included).

The limits themselves are plain policy, in :mod:`chatkit.core.limits`; this module
applies them to real connections.
"""

from __future__ import annotations

import asyncio
import http
import ipaddress
import logging
import re
import socket
import time
import urllib.parse
from typing import Any, Callable, Iterable

from websockets.asyncio.server import ServerConnection
from websockets.frames import CloseCode
from websockets.http11 import Request, Response
from websockets.protocol import State

from .pages import wants_websocket
from ..core.limits import (Admission, ClientLimit, Inboxes, Meter, RateLimit,
                           default_max_connections, frame_size, private_recipient)
from ..core.messages import name_key
from ..support.processes import raise_file_limit

__all__ = [
    "GuardedConnection",
    "peer_address",
    "server_closing",
    "origin_allowed",
    "host_allowed",
    "quiet_accept_errors",
    "stale_accept_retry",
    "Guard",
    "LOOPBACK_NAMES",
    "SINGLE_HEADERS",
    "repeated_header",
]

logger = logging.getLogger("chatkit")

#: Refused connections waiting for their polite answer (a 503 or a 1013), at most.
MAX_REFUSING = 64
#: Seconds a refused connection may take to send its request before it is cut.
REFUSAL_GRACE = 2.0
#: Seconds a refused or timed-out connection has to answer our close frame.
CLOSE_GRACE = 1.0
#: The ``Server`` header: no versions for an attacker to look up.
SERVER_HEADER = "chatkit"
#: Resting budgets (of clients with no open connection) kept before expired ones are
#: dropped, at least: past it, they are pruned each time their number doubles.
RESTING_PRUNE = 1024
#: Host names that always mean "this machine".
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
#: Headers a request may carry once at most: two ``Host`` are a bad request (RFC 7230,
#: 5.4), and with two ``Origin``, ``Upgrade``, ``Cookie`` or ``Authorization`` the guards
#: and gates could read one and websockets another.
SINGLE_HEADERS = ("Host", "Origin", "Upgrade", "Cookie", "Authorization")
#: Headers a proxy adds and a browser's WebSocket handshake cannot carry.
PROXY_HEADERS = ("X-Forwarded-For", "X-Forwarded-Host", "Forwarded")


def peer_address(connection: ServerConnection) -> str:
    """The default client key: the peer's IP address (``"127.0.0.1"``)."""
    peer = connection.transport.get_extra_info("peername") if connection.transport else None
    return str(peer[0]) if peer else "unknown"


def server_closing(connection: Any) -> str | None:
    """Why the server closed ``connection`` (its close code and reason), if the server
    closed it first; None if the client did, or nobody (a cut connection).

    For the closing line of the log: ``eve disconnected from 'people' (127.0.0.5, code
    1008; closed by the server: 1008 removed by the instructor; ...)``.
    """
    protocol = getattr(connection, "protocol", None)
    sent = getattr(protocol, "close_sent", None)
    if sent is None or getattr(protocol, "close_rcvd_then_sent", None):
        return None
    return f"{int(sent.code)} {sent.reason}".rstrip()


# -- who may connect: Origin and Host -------------------------------------------------


def repeated_header(request: Request) -> str | None:
    """The first of :data:`SINGLE_HEADERS` this request repeats, or None.

    >>> from websockets.datastructures import Headers
    >>> repeated_header(Request("/", Headers([("Host", "a"), ("Host", "b")])))
    'Host'

    """
    for name in SINGLE_HEADERS:
        if len(request.headers.get_all(name)) > 1:
            return name
    return None


def _authority(value: str) -> tuple[str, int | None]:
    """``"Example.org:80"`` -> ``("example.org", 80)``; IPv6 brackets dropped."""
    parts = urllib.parse.urlsplit("//" + value.strip())
    try:
        port = parts.port
    except ValueError:
        port = -1  # matches nothing
    return (parts.hostname or "").lower(), port


def origin_allowed(request: Request, origins: Iterable[str] = ()) -> bool:
    """May the page that opened this WebSocket talk to us?

    Allowed: no ``Origin`` at all (Python's client, curl: not a browser page), an
    origin listed in ``origins`` (``"https://hub.example.org"``), or the server's own
    origin -- the one whose host and port are the request's ``Host`` (so it also holds
    behind a proxy that keeps ``Host``, as jupyter-server-proxy and JupyterHub's do).
    """
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin.rstrip("/").lower() in {o.rstrip("/").lower() for o in origins}:
        return True
    parts = urllib.parse.urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (a sandboxed frame, a file), or garbage
    host = request.headers.get("Host")
    if host is None:
        return False
    default = 443 if parts.scheme == "https" else 80
    origin_host, origin_port = _authority(parts.netloc)
    host_name, host_port = _authority(host)
    return origin_host == host_name and (origin_port or default) == (host_port or default)


def _is_loopback_name(hostname: str) -> bool:
    if hostname in LOOPBACK_NAMES or hostname.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(hostname).is_loopback
    except ValueError:
        return False


def host_allowed(request: Request, bound_host: str | None, hosts: Iterable[str] = ()) -> bool:
    """Is the ``Host`` header a name of this server? (The DNS-rebinding check.)

    Only for a server bound to loopback (``127.0.0.1``, the default): there every
    honest browser says ``Host: 127.0.0.1:3000`` or ``localhost:3000``, while a
    rebinding page says its own host name. Also allowed: the hosts in ``hosts``,
    and requests that came through a proxy (they carry ``X-Forwarded-For`` or
    ``Forwarded``, which a browser's WebSocket cannot add). A server bound to a
    network address is reachable by name from the whole network: not checked.
    """
    if bound_host is None or not _is_loopback_name(bound_host.lower().strip("[]")):
        return True
    host = request.headers.get("Host")
    if host is None:
        return False
    hostname, _ = _authority(host)
    if _is_loopback_name(hostname):
        return True
    if hostname in {_authority(h)[0] for h in hosts}:
        return True
    return any(header in request.headers for header in PROXY_HEADERS)


# -- the accept loop, out of file descriptors ------------------------------------------


#: asyncio's message when accept() fails for want of file descriptors.
ACCEPT_ERROR = "socket.accept() out of system resource"


def stale_accept_retry(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> bool:
    """Is this error asyncio's accept back-off firing for a listening socket closed since?

    When ``accept()`` fails for want of file descriptors, asyncio stops watching the
    listening socket and calls ``loop._start_serving(..., sock, ...)`` again after
    ``asyncio.constants.ACCEPT_RETRY_DELAY`` (a second; Python 3.11 schedules one
    such timer per failed try, up to the backlog). A server closed within that
    second has closed the socket: the timer then fails with ``ValueError: Invalid
    file descriptor: -1``. Nothing is lost -- the server is gone -- so it is not an
    error worth a traceback. Anything else, even from the same timer, is.
    """
    handle = context.get("handle")
    callback = getattr(handle, "_callback", None)  # asyncio.Handle's, as it reports it
    if (not isinstance(context.get("exception"), ValueError)
            or getattr(callback, "__name__", None) != "_start_serving"
            or getattr(callback, "__self__", None) is not loop):
        return False
    sockets = [arg for arg in getattr(handle, "_args", ()) if isinstance(arg, socket.socket)]
    return bool(sockets) and all(sock.fileno() == -1 for sock in sockets)


def quiet_accept_errors(
    loop: asyncio.AbstractEventLoop, report: Callable[[str], Any], every: float = 10.0
) -> None:
    """Turn asyncio's traceback per failed accept (out of file descriptors) into one line
    every ``every`` seconds; asyncio itself pauses accepting for a second each time.

    A server closed during that pause leaves asyncio's retry to fire on a closed
    socket: that retry is dropped in silence (:func:`stale_accept_retry`). Other
    errors go to the loop's previous handler, unchanged.
    """
    previous = loop.get_exception_handler()
    if getattr(previous, "_chatkit_quiet_accept", False):
        return  # one filter per loop is enough
    state = {"last": -every, "count": 0}

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == ACCEPT_ERROR:
            state["count"] += 1
            now = time.monotonic()
            if now - state["last"] >= every:
                state["last"] = now
                exc = context.get("exception")
                report(f"cannot accept connections ({exc}): {state['count']} refused so far;"
                       " retrying every second")
            return
        if stale_accept_retry(loop, context):
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    handler._chatkit_quiet_accept = True  # type: ignore[attr-defined]
    loop.set_exception_handler(handler)


#: Bytes of a request head we look at, at most (websockets refuses longer ones).
HEAD_LIMIT = 64 * 1024
_UPGRADE = re.compile(rb"(?im)^upgrade:[ \t]*websocket")


# -- a connection that watches its own backlog -------------------------------------------


class GuardedConnection(ServerConnection):
    """A ``ServerConnection`` that is dropped once its unsent data passes ``max_buffer``.

    The server answers every ping with a pong written straight to the socket, outside
    any send function of ours: a client that pings and never reads would grow the
    server's memory without end. After each read (where pongs are written) the backlog
    is checked; past the cap the connection is aborted.

    With the default client key (the peer address) it is also counted in as soon as
    it is accepted, before it sends a byte: one address cannot hoard file descriptors.
    """

    # Slots, not the instance's dict: websockets' own attributes keep that dict within
    # CPython's shared-key limit (30 names), about 1.2 KiB less per idle connection.
    __slots__ = ("guard", "_head", "_ignoring", "client_key", "admitted", "refusal", "member")

    def __init__(self, *args: Any, guard: Any = None, **kwargs: Any) -> None:
        self.guard = guard  # the server's Guard, given as guard= when the server makes it
        super().__init__(*args, **kwargs)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self._head: bytes | None = b""  # the request's head, until its blank line
        self._ignoring = False  # what follows a plain HTTP request: pipelined, unanswered
        self.client_key: str | None = None
        self.admitted = False
        self.refusal: str | None = None
        guard = self.guard
        if guard is not None:
            guard.connection_made(self)

    def data_received(self, data: bytes) -> None:
        if self._ignoring:
            return
        if self._head is not None:
            data = self._cut_after_head(data)
        super().data_received(data)
        guard = self.guard
        if guard is not None and self.transport.get_write_buffer_size() > guard.max_buffer:
            guard.drop(self, "it sent data but stopped reading what it was sent")

    def send_data(self) -> None:
        """Write what the protocol has to send -- unless the peer is gone.

        A read can queue hundreds of pongs at once; once one write fails, asyncio
        logs every later write to that socket ("socket.send() raised exception."):
        thousands of lines when a ping flooder hangs up. Nothing is left to say.
        """
        if self.transport.is_closing():
            self.protocol.data_to_send()  # discarded
            return
        for data in self.protocol.data_to_send():
            if self.transport.is_closing():
                continue
            if data:
                self.transport.write(data)
            elif self.transport.can_write_eof():  # as websockets does: half-close
                try:
                    self.transport.write_eof()
                except Exception:
                    pass
            else:
                self.transport.close()

    def _cut_after_head(self, data: bytes) -> bytes:
        """Pipelined requests after a plain HTTP one: not parsed as frames, ignored.

        websockets answers one request per connection (with ``Connection: close``);
        fed a second request, it read it as WebSocket frames and failed an assertion.
        After an upgrade request, bytes that follow at once are frames: kept.
        """
        assert self._head is not None
        start = max(0, len(self._head) - 3)
        self._head += data
        end = self._head.find(b"\r\n\r\n", start)
        if end >= 0:
            head, extra = self._head[: end + 4], len(self._head) - (end + 4)
            self._head = None
            if extra and not _UPGRADE.search(head):
                self._ignoring = True
                return data[: len(data) - extra]
        elif len(self._head) > HEAD_LIMIT:
            self._head = None  # websockets refuses heads this long by itself
        return data

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        guard = self.guard
        if guard is not None:
            guard.connection_lost(self)


# -- the guards of one server --------------------------------------------------------------


class Guard:
    """The guards of one chat server, and the state they keep.

    Made by :class:`chatkit.server.ChatServer` with its options (see there);
    ``report(kind, text)`` goes to the server's activity log. ``listen`` wires the
    guards into ``serve()``'s options; the chat route asks ``budget`` and
    ``join_deadline``; every request passes ``screen`` before any route.
    """

    def __init__(
        self,
        report: Callable[[str, str], Any],
        *,
        max_buffer: int,
        client_limit: ClientLimit | None,
        max_connections: int | None,
        max_per_client: int | None,
        client_key: Callable[[ServerConnection], str | None] | None,
        join_timeout: float | None,
        origins: Iterable[str] = (),
        hosts: Iterable[str] = (),
    ) -> None:
        self.report = report
        self.max_buffer = max_buffer
        self.client_limit = client_limit
        self.admission = Admission(max_connections, max_per_client)
        self.client_key = client_key
        self.join_timeout = join_timeout
        self.origins = tuple(origins)
        self.hosts = tuple(hosts)
        self.bound_host: str | None = None  # set by listen()
        self._budgets: dict[str, Callable[..., bool]] = {}
        # The budgets of clients whose last connection closed, until they would be full
        # again (when, budget): closing and connecting again does not refill one.
        self._resting: dict[str, tuple[float, Callable[..., bool]]] = {}
        self._prune_at = RESTING_PRUNE
        #: Each member's budget of private messages (on whenever client budgets are).
        self.inboxes = Inboxes() if client_limit is not None else None
        self._refusing = 0  # refused connections waiting for their answer
        self.connections: set[Any] = set()  # every socket accepted and not yet lost
        self._quiet: dict[str, float] = {}  # kind -> when it was last reported

    def listen(self, host: str | None, kwargs: dict[str, Any]) -> None:
        """Wire the guards into ``serve``'s options, for a server about to bind ``host``.

        Raises the soft file limit to the hard one, sizes ``max_connections`` from it,
        quiets asyncio's accept errors on the running loop, and sets
        ``process_response`` and ``server_header``. (The server makes each connection
        with ``guard=self``: see :class:`GuardedConnection`.)
        """
        file_limit = raise_file_limit()
        if self.admission.max_connections is None:
            self.admission.max_connections = default_max_connections(file_limit)
        self.bound_host = host
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            loop = None
        if loop is not None:
            quiet_accept_errors(loop, lambda text: self.quietly("accept", text))
        kwargs.setdefault("process_response", self.process_response)
        kwargs.setdefault("server_header", SERVER_HEADER)

    def budget(self, websocket: ServerConnection) -> Callable[..., bool] | None:
        """The message budget of this connection's client (one per client key)."""
        key = getattr(websocket, "client_key", None)
        if self.client_limit is None or key is None:
            return None
        if key not in self._budgets:
            now = time.monotonic()
            until, budget = self._resting.pop(key, (now, None))
            self._budgets[key] = budget if budget is not None and until > now else (
                self.client_limit.spender())
        return self._budgets[key]

    def _rest(self, key: str) -> None:
        """``key``'s last connection closed: keep its budget while it is not full again."""
        budget = self._budgets.pop(key, None)
        if budget is None or self.client_limit is None:
            return
        now = time.monotonic()
        self._resting[key] = (now + self.client_limit.refill_seconds, budget)
        if len(self._resting) >= self._prune_at:  # now and then: amortized, bounded
            self._resting = {k: v for k, v in self._resting.items() if v[0] > now}
            self._prune_at = max(RESTING_PRUNE, 2 * len(self._resting))

    def meter(self, websocket: ServerConnection, rate_limit: RateLimit | None) -> Meter:
        """What this connection may send: its rate and its client's budget, each frame
        at its cost (every route charges it: chat, ``/echo``, ``/random``)."""
        return Meter(rate_limit, self.client_limit, self.budget(websocket))

    def private_refusal(self, user: Any, frame: str | bytes) -> str | None:
        """Why the ``/priv`` in ``frame`` may not go (its recipient's budget of private
        messages is spent: from everyone together), or None: let it through."""
        room = getattr(user, "room", None)
        if self.inboxes is None or getattr(user, "name", None) is None or room is None:
            return None
        try:  # the members' names are listed only for a /priv: chats are the hot path
            recipient = private_recipient(
                frame, lambda: [member.name for member in room.members], room.name)
        except Exception:  # a student's own Room: we cannot tell
            return None
        if recipient is None or self.inboxes.admit((room.name, name_key(recipient)),
                                                    frame_size(frame)):
            return None
        return (f'"{recipient}" is being sent too many private messages (at most'
                f" {self.inboxes.describe()}, from everyone together): that message"
                " was not sent; try again later")

    def join_deadline(self, websocket: ServerConnection, user: Any) -> Any:
        """Close this chat connection if it has not joined within ``join_timeout``."""
        if self.join_timeout is None or not hasattr(user, "name"):
            return None  # a student's class without .name: we cannot tell

        def check() -> None:
            if getattr(user, "name", None) is None and websocket.state is State.OPEN:
                reason = (f"no join within {self.join_timeout:g} s: send"
                          ' {"type": "join", "name": ...} first')
                task = asyncio.ensure_future(
                    _close_soon(websocket, CloseCode.POLICY_VIOLATION, reason))
                # Retrieve its outcome: a close that failed has nothing left to say.
                task.add_done_callback(lambda t: t.cancelled() or t.exception())

        return asyncio.get_running_loop().call_later(self.join_timeout, check)

    def quietly(self, kind: str, text: str, every: float = 10.0) -> None:
        """Report ``text`` at most once every ``every`` seconds per ``kind``: an attack
        must not flood the activity log."""
        now = time.monotonic()
        if now - self._quiet.get(kind, -every) >= every:
            self._quiet[kind] = now
            self.report("refuse" if kind.startswith("refuse") else "error", text)

    def connection_made(self, connection: Any) -> None:
        """A socket was accepted (GuardedConnection): count it in, or mark it refused."""
        self.connections.add(connection)
        key = peer_address(connection) if self.client_key is None else None
        refusal = self.admission.admit(key)
        if refusal is None:
            connection.admitted, connection.client_key = True, key
            return
        self.refuse(connection, refusal)

    def refuse(self, connection: Any, refusal: str) -> None:
        """Answer politely (503, or 1013 after the handshake) -- unless too many wait."""
        connection.refusal = refusal
        self.quietly("refuse", f"refused connections: {refusal}")
        if self._refusing >= MAX_REFUSING:
            connection.transport.abort()  # no fd for politeness under a flood
            return
        self._refusing += 1
        connection.refusing = True
        loop = asyncio.get_running_loop()
        connection.refusal_timer = loop.call_later(
            REFUSAL_GRACE, lambda: connection.request is None and connection.transport.abort())

    def connection_lost(self, connection: Any) -> None:
        self.connections.discard(connection)
        if getattr(connection, "refusing", False):
            connection.refusing = False
            self._refusing -= 1
            connection.refusal_timer.cancel()
        if connection.admitted:
            connection.admitted = False
            key = connection.client_key
            self.admission.release(key)
            if key is not None and key not in self.admission.per_client:
                self._rest(key)  # its last connection closed

    def drop_waiting(self) -> int:
        """Abort the connections that have sent no request yet; how many.

        For a server that is stopping: it will answer no more requests, and
        websockets would wait for each such socket up to its ``open_timeout``.
        """
        waiting = [connection for connection in self.connections
                   if connection.request is None and not connection.transport.is_closing()]
        for connection in waiting:
            connection.transport.abort()
        return len(waiting)

    def drop(self, connection: Any, why: str) -> None:
        """Abort a connection that hoards memory, and say who and why; the room goes on.

        The log says ``dropped 'ann' (127.0.0.5): 1.2 MiB unsent: it stopped reading
        ...``; the chat route's closing line repeats why (``connection.dropped``).
        """
        if connection.transport.is_closing():
            return
        unsent = connection.transport.get_write_buffer_size()
        connection.transport.abort()  # a close frame would wait behind the backlog
        name = getattr(getattr(connection, "member", None), "name", None)
        who = "a client" if not isinstance(name, str) else repr(name)
        connection.dropped = f"{unsent / 2**20:.1f} MiB unsent: {why}"
        self.report("drop", f"dropped {who} ({peer_address(connection)}): {connection.dropped}")

    def malformed(self, connection: Any, request: Request) -> Response | None:
        """Before anything reads a header (the gate too): no ``Host``, or a header that
        must come once repeated (:data:`SINGLE_HEADERS`), is answered 400 -- not a 500
        and a traceback."""
        if "Host" not in request.headers:
            return connection.respond(http.HTTPStatus.BAD_REQUEST, "Bad Request: no Host header\n")
        repeated = repeated_header(request)
        if repeated is not None:
            self.quietly("refuse-bad", f"refused a request with more than one {repeated} header"
                                       f" ({peer_address(connection)})")
            return connection.respond(http.HTTPStatus.BAD_REQUEST,
                                      f"Bad Request: more than one {repeated} header\n")
        return None

    def screen(self, connection: Any, request: Request) -> Response | None:
        """Before any route: other hosts and origins, the caps."""
        if request.method not in ("GET", "HEAD"):
            response = connection.respond(http.HTTPStatus.METHOD_NOT_ALLOWED,
                                          "Method Not Allowed\n")
            response.headers["Allow"] = "GET, HEAD"
            return response
        if not host_allowed(request, self.bound_host, self.hosts):
            self.quietly("refuse-host", f"refused a request for host {request.headers['Host']!r}"
                          " (not this server's name: DNS rebinding?)")
            return connection.respond(http.HTTPStatus.FORBIDDEN, "Forbidden: unknown host\n")
        upgrade = wants_websocket(request)
        if upgrade and not origin_allowed(request, self.origins):
            self.quietly("refuse-origin", f"refused a WebSocket from the web page at"
                          f" {request.headers.get('Origin')!r} (another site)")
            return connection.respond(http.HTTPStatus.FORBIDDEN,
                                      "Forbidden: this page's origin may not connect\n")
        if self.client_key is not None and connection.refusal is None and connection.admitted:
            key = self.client_key(connection)
            refusal = self.admission.admit_client(key)
            if refusal is None:
                connection.client_key = key
            else:
                connection.refusal = refusal
                self.quietly("refuse", f"refused connections: {refusal}")
        if connection.refusal is not None and not upgrade:
            response = connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE,
                                          f"Service Unavailable: {connection.refusal}\n")
            response.headers["Retry-After"] = "5"
            return response
        return None  # an upgrade over a cap is closed with 1013 (see process_response)

    def process_response(
        self, connection: Any, request: Request, response: Response
    ) -> Response | None:
        """An upgrade over a cap completes its handshake, then closes with 1013."""
        refusal = getattr(connection, "refusal", None)
        if refusal is not None and response.status_code == http.HTTPStatus.SWITCHING_PROTOCOLS:

            async def try_again_later(websocket: ServerConnection) -> None:
                await _close_soon(websocket, CloseCode.TRY_AGAIN_LATER, refusal[:120])

            connection.handler, connection.handler_kwargs = try_again_later, {}
        return None


async def _close_soon(websocket: ServerConnection, code: int, reason: str) -> None:
    """Close with ``code``; a peer that does not answer (a hoarder) is cut after
    ``CLOSE_GRACE`` seconds, not websockets' 10."""
    websocket.close_timeout = CLOSE_GRACE
    await websocket.close(code, reason)
