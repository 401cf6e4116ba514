"""``WebSocket``: the browser's WebSocket API, in Python.

The browser's code and its Python twin, line for line::

    const ws = new WebSocket("ws://localhost:3000/chat/people");   ws = WebSocket("ws://127.0.0.1:3000/chat/people")
    ws.onopen = function (evt) { ... };                            ws.onopen = lambda evt: ...
    ws.onmessage = function (evt) { console.log(evt.data); };      ws.onmessage = lambda evt: print(evt.data)
    ws.onerror = function (evt) { ... };                           ws.onerror = lambda evt: ...
    ws.onclose = function (evt) { console.log(evt.code); };        ws.onclose = lambda evt: print(evt.code)
    ws.send(JSON.stringify({type: "chat", text: "hi"}));           ws.send(json.dumps({"type": "chat", "text": "hi"}))
    ws.close();                                                    ws.close()

As in a browser, making a ``WebSocket`` does not wait: it connects in the
background, and the callbacks run later, on the event loop -- in a notebook,
the kernel's loop, once your cell has finished (or while it ``await``s).
Outside a running loop (a plain script), a background loop thread runs them,
and it may start at once: pass the callbacks to the constructor there, so none
is set too late to hear an early error::

    ws = WebSocket(url, onmessage=print, onclose=lambda evt: print(evt.code))

**Reconnecting** (Python's extra; a browser's WebSocket never does): with
``reconnect=True`` a chat client comes back by itself when its connection drops
(Wi-Fi, a sleeping laptop, a server restart) and shows what was said meanwhile,
once each::

    ws = WebSocket(url, reconnect=True, onmessage=lambda evt: print(evt.data),
                   onreconnect=lambda evt: print(evt.type, evt.attempt, evt.delay))
    ws.onopen = lambda evt: ws.send(json.dumps({"type": "join", "name": "Ann"}))

It joins asking for ids (``"want": ["ids"]``) and, after a drop, waits (exponential
backoff with full jitter, :class:`chatkit.core.resume.Backoff`), connects again and
re-sends the join with the last id it saw (``"since"``); ``onmessage`` then gets
what it missed, in order and never twice, and a note if some of it was lost (too old,
or the server restarted). ``onopen`` fires once; each drop and return fires
``onreconnect`` (``"reconnecting"``, then ``"reconnected"``); ``onclose`` fires when
you close it, when the server closes it for good (1000, 1008) or when it gives up.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import json
import threading
import traceback
from typing import Any, Callable

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import broadcast
from websockets.exceptions import ConnectionClosed

from ..core.grammar import WANT_YOU
from ..core.messages import encode
from ..core.resume import RECONNECT_CODES, Backoff, Resume
from ..support.loop_thread import LoopThread, call_on_loop, running_loop

__all__ = ["WebSocket", "Event", "MessageEvent", "CloseEvent", "ReconnectEvent",
           "InvalidStateError", "InvalidAccessError", "background_loop"]

CONNECTING, OPEN, CLOSING, CLOSED = 0, 1, 2, 3
STATE_NAMES = {CONNECTING: "CONNECTING", OPEN: "OPEN", CLOSING: "CLOSING", CLOSED: "CLOSED"}


class InvalidStateError(RuntimeError):
    """``send`` before the connection is open (the browser's ``InvalidStateError``)."""


class InvalidAccessError(ValueError):
    """``close(code)`` with a code other than 1000 or 3000-4999 (the browser's error)."""


@dataclasses.dataclass
class Event:
    """What ``onopen`` and ``onerror`` receive. ``error`` is Python's extra: what failed."""

    type: str
    target: WebSocket | None = dataclasses.field(default=None, repr=False)
    error: BaseException | None = None


@dataclasses.dataclass
class MessageEvent(Event):
    """What ``onmessage`` receives: the message is ``event.data``."""

    data: str | bytes = ""


@dataclasses.dataclass
class CloseEvent(Event):
    """What ``onclose`` receives: ``event.code``, ``event.reason``, ``event.was_clean``."""

    code: int = 1006
    reason: str = ""
    was_clean: bool = False


@dataclasses.dataclass
class ReconnectEvent(Event):
    """What ``onreconnect`` receives: ``type`` is ``"reconnecting"`` (before the wait of
    try number ``attempt``: ``delay`` seconds) or ``"reconnected"``; ``code``: the
    close code of the drop."""

    attempt: int = 0
    delay: float = 0.0
    code: int = 1006


class WebSocket:
    """A WebSocket client with the browser's API: four callbacks, ``send``, ``close``.

    >>> ws = WebSocket("ws://127.0.0.1:1/chat/people")   # returns at once; nothing listens there
    >>> asyncio.run(ws.wait_open())                      # so it fails, a moment later
    False
    >>> ws.ready_state == WebSocket.CLOSED
    True

    Args:
        url: ``ws://host:port/path``.
        onopen, onmessage, onerror, onclose: the callbacks, if you would rather
            set them here than as attributes (do, in a plain script).
        loop: the event loop to run on (default: the running one, or a
            background loop when there is none).
        headers: extra HTTP headers for the handshake (Python's extra: a
            browser cannot set them), e.g. a hub token for the class room
            (:func:`chatkit.server.jupyterhub.class_room`).
        compression: ``None`` (the default) offers no compression, as chatkit's
            servers leave it off (see docs/benchmark.md); ``"deflate"`` offers
            permessage-deflate, as a browser does.
        reconnect: ``True`` (or a :class:`~chatkit.core.resume.Backoff`, for other
            waits and tries) to come back after a drop and resume the chat (see the
            module's doc); ``False`` by default, as a browser.
        onreconnect: called with a :class:`ReconnectEvent` at each drop and return.
    """

    CONNECTING, OPEN, CLOSING, CLOSED = CONNECTING, OPEN, CLOSING, CLOSED

    def __init__(
        self,
        url: str,
        *,
        onopen: Callable[[Event], Any] | None = None,
        onmessage: Callable[[MessageEvent], Any] | None = None,
        onerror: Callable[[Event], Any] | None = None,
        onclose: Callable[[CloseEvent], Any] | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        headers: Any = None,
        compression: str | None = None,
        reconnect: bool | Backoff = False,
        onreconnect: Callable[[ReconnectEvent], Any] | None = None,
    ) -> None:
        self.url = url
        self.headers = headers
        self.compression = compression
        self.ready_state = CONNECTING
        self.onopen = onopen
        self.onmessage = onmessage
        self.onerror = onerror
        self.onclose = onclose
        self.onreconnect = onreconnect
        #: With ``reconnect``: the wait before each try, and what it resumes from.
        self.backoff = (Backoff() if reconnect is True else reconnect) or None
        self.resume = Resume() if self.backoff is not None else None
        self._join: dict[str, Any] | None = None  # the join to send again, name kept current
        self._hide_you = False  # "you" messages: asked for by us, not by the caller
        self._wake = asyncio.Event()  # close() during a wait between tries
        self._delays: Any = None  # the tries left since the drop: (number, wait)
        self._rejoining = False  # joined again; its history has not come yet
        self._retry_join = False  # that join was refused: try again
        self._connection: ClientConnection | None = None
        self._connecting: asyncio.Future[ClientConnection] | None = None
        self._close_request: tuple[int, str] | None = None
        self._opened = threading.Event()
        self._closed = threading.Event()
        self._loop = loop = loop or running_loop() or background_loop()
        self._on_loop(lambda: setattr(self, "_task", loop.create_task(self._run())))

    def __repr__(self) -> str:
        return f"<WebSocket {self.url} {STATE_NAMES[self.ready_state]}>"

    # -- the browser's API ---------------------------------------------------

    @property
    def buffered_amount(self) -> int:
        """Bytes sent with ``send`` but not yet written to the network."""
        connection = self._connection
        if connection is None or connection.transport is None:
            return 0
        return connection.transport.get_write_buffer_size()

    def send(self, data: str | bytes) -> None:
        """Send a message. Like the browser, it does not wait for the network."""
        if not isinstance(data, (str, bytes, bytearray, memoryview)):
            raise TypeError(
                f"send() takes str or bytes, not {type(data).__name__}:"
                " to send a message, send(json.dumps(message))"
            )
        if self.ready_state == CONNECTING:
            raise InvalidStateError(
                "still connecting: send from onopen, or once ready_state is OPEN"
            )
        if self.resume is not None:
            data = self._asking_for_ids(data)
        self._on_loop(lambda: self._send_now(data))

    def close(self, code: int = 1000, reason: str = "") -> None:
        """Start closing the connection; ``onclose`` fires when it is closed.

        As in a browser, ``code`` is 1000 or 3000-4999 and ``reason`` at most
        123 bytes of UTF-8; anything else raises and leaves the connection as it is.
        """
        if code != 1000 and not 3000 <= code <= 4999:
            raise InvalidAccessError(f"close code must be 1000 or 3000-4999, got {code}")
        if len(reason.encode()) > 123:
            raise ValueError(
                f"close reason must be at most 123 bytes of UTF-8, got {len(reason.encode())}"
            )
        if self.ready_state in (CLOSING, CLOSED):
            return
        self._close_request = (code, reason)
        self._on_loop(self._close_now)

    # -- Python's extras, for notebooks and tests ----------------------------

    async def wait_open(self, timeout: float = 10) -> bool:
        """Wait until the connection is open (True) or failed (False)."""
        await self._wait(lambda: self._opened.is_set() or self._closed.is_set(), timeout)
        return self._opened.is_set() and not self._closed.is_set()

    async def wait_closed(self, timeout: float = 10) -> None:
        """Wait until ``onclose`` has fired."""
        await self._wait(self._closed.is_set, timeout)

    async def _wait(self, done: Callable[[], bool], timeout: float) -> None:
        # Works from any loop or thread: the flags are threading.Events.
        async with asyncio.timeout(timeout):
            while not done():
                await asyncio.sleep(0.005)

    # -- on the loop ---------------------------------------------------------

    def _on_loop(self, callback: Callable[[], Any]) -> None:
        call_on_loop(self._loop, callback)

    def _send_now(self, data: str | bytes) -> None:
        if self.ready_state == OPEN and self._connection is not None:
            broadcast((self._connection,), data)  # writes now; never waits

    def _close_now(self) -> None:
        if self.ready_state == CONNECTING:
            # The browser fails the connection: error, then close (1006). If the
            # handshake is under way, stop it; if it has not started yet, _run
            # sees _close_request first thing. (Cancelling _run itself before it
            # starts would skip its callbacks: onclose would never fire.)
            if self._connecting is not None:
                self._connecting.cancel()
            self._wake.set()  # between two tries of a reconnect: stop waiting
        elif self.ready_state == OPEN and self._connection is not None:
            self.ready_state = CLOSING
            code, reason = self._close_request or (1000, "")
            self._loop.create_task(self._connection.close(code, reason))

    async def _run(self) -> None:
        try:
            if self._close_request is not None:
                raise asyncio.CancelledError
            self._connecting = asyncio.ensure_future(self._connect())
            self._connection = await self._connecting
        except (Exception, asyncio.CancelledError) as exc:
            if self._close_request is not None and isinstance(exc, asyncio.CancelledError):
                exc = ConnectionAbortedError("close() was called before the connection opened")
            self.ready_state = CLOSED
            self._fire("onerror", Event("error", self, error=exc))
            self._fire("onclose", CloseEvent("close", self, code=1006))
            self._closed.set()
            return
        if self._close_request is not None:  # close() was called while connecting
            await self._connection.close(*self._close_request)
        else:
            self.ready_state = OPEN
            self._opened.set()
            self._fire("onopen", Event("open", self))
            while True:
                try:
                    async for message in self._connection:
                        for data in self._shown(message):
                            self._fire("onmessage", MessageEvent("message", self, data=data))
                except ConnectionClosed:
                    pass
                if not self._should_reconnect() or not await self._reconnect():
                    break
        connection = self._connection
        self.ready_state = CLOSED
        code = connection.close_code
        if code is None or code == 1006:
            self._fire("onerror", Event("error", self))
        self._fire(
            "onclose",
            CloseEvent(
                "close",
                self,
                code=1006 if code is None else code,
                reason=connection.close_reason or "",
                was_clean=code is not None and code != 1006,
            ),
        )
        self._closed.set()

    # -- reconnecting (reconnect=True) -----------------------------------------

    def _asking_for_ids(self, data: Any) -> Any:
        """A join, as :class:`Resume` sends it (asking for ids, and for "you": the name
        to join with next time); anything else as it is."""
        try:
            join = json.loads(data)
        except (ValueError, TypeError):
            return data
        if not isinstance(join, dict) or join.get("type") != "join":
            return data
        want = join.get("want") if isinstance(join.get("want"), list) else []
        self._hide_you = WANT_YOU not in want
        self._join = {**join, "want": [*want, WANT_YOU] if self._hide_you else want}
        return encode(self.resume.join(self._join))

    def _shown(self, message: str | bytes) -> list[str | bytes]:
        """What ``onmessage`` gets of ``message``: itself, or (reconnecting) the
        messages a history brings, nothing for a duplicate, a note for a loss."""
        if self.resume is None:
            return [message]
        try:
            parsed = json.loads(message)
        except (ValueError, TypeError):
            return [message]
        if isinstance(parsed, dict) and self._rejoining and parsed.get("type") == "error":
            # Our name may still be held by the connection that dropped, until the
            # server notices (its keepalive): try again after the next wait.
            self._retry_join = True
            self._loop.create_task(self._connection.close(1000, "join refused, trying again"))
            return []
        if isinstance(parsed, dict) and self._rejoining:
            self._rejoining, self._delays = False, None  # back in: a next drop starts over
        if isinstance(parsed, dict) and parsed.get("type") == "you" and self._join is not None:
            if isinstance(parsed.get("name"), str):
                self._join["name"] = parsed["name"]  # after a /name: join as that next time
            if self._hide_you:
                return []
        return [message if item is parsed else encode(item) for item in self.resume.take(parsed)]

    def _should_reconnect(self) -> bool:
        code = self._connection.close_code if self._connection is not None else None
        retry, self._retry_join = self._retry_join, False
        return (self.resume is not None and self._close_request is None
                and self._join is not None and (retry or (code or 1006) in RECONNECT_CODES))

    async def _reconnect(self) -> bool:
        """Try again, waiting :attr:`backoff`'s delays; True once joined again."""
        code = self._connection.close_code or 1006
        if self._delays is None:  # a new drop (not a refused rejoin): the tries start over
            self._delays = enumerate(self.backoff.delays(), 1)
        for attempt, delay in self._delays:
            self.ready_state = CONNECTING
            self._fire("onreconnect", ReconnectEvent("reconnecting", self, attempt=attempt,
                                                     delay=delay, code=code))
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
            if self._close_request is not None:
                return False
            try:
                self._connecting = asyncio.ensure_future(self._connect())
                connection = await self._connecting
            except (Exception, asyncio.CancelledError):
                if self._close_request is not None:
                    return False
                continue
            self._connection = connection
            if self._close_request is not None:
                await connection.close(*self._close_request)
                return False
            self.ready_state = OPEN
            self._rejoining = True
            self._send_now(encode(self.resume.join(self._join)))
            self._fire("onreconnect", ReconnectEvent("reconnected", self, attempt=attempt,
                                                     code=code))
            return True
        self._fire("onerror", Event("error", self, error=ConnectionError(
            f"gave up reconnecting after {self.backoff.attempts} tries")))
        return False

    def _connect(self) -> Any:
        return connect(self.url, open_timeout=10, max_size=2**20,
                       additional_headers=self.headers, compression=self.compression)

    def _fire(self, name: str, event: Event) -> None:
        """Call a callback; an exception in it is printed, as a browser's console would."""
        callback = getattr(self, name)
        if callback is None:
            return
        try:
            result = callback(event)
            if inspect.isawaitable(result):
                self._loop.create_task(_report_failure(result, name))
        except Exception:
            print(f"Exception in {name} callback:")
            traceback.print_exc()


async def _report_failure(awaitable: Any, name: str) -> None:
    try:
        await awaitable
    except Exception:
        print(f"Exception in {name} callback:")
        traceback.print_exc()


_background: LoopThread | None = None
_background_lock = threading.Lock()


def background_loop() -> asyncio.AbstractEventLoop:
    """One event loop in a daemon thread, for clients made outside a running loop."""
    global _background
    with _background_lock:
        if _background is None or not _background.running:
            _background = LoopThread("chatkit-client").start()
        assert _background.loop is not None
        return _background.loop
