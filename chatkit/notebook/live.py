"""A live chat server beside a notebook's kernel, started in one cell.

::

    import chatkit
    server = chatkit.start()      # shows a link to the room page and what the server does
    ...
    server.stop()                 # the port is free again

The server runs on an event loop of its own, in a thread: it keeps serving the
browser page and your classmates while one of your cells runs, even a cell that
blocks (``time.sleep(5)``). Re-running the cell that started it just works: the
old server on that port is stopped first. The same call works in a script::

    with chatkit.start(port=3000) as server:
        input("Press Enter to stop")
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import errno
import html
import logging
import urllib.parse
from typing import Any

from . import hosting
from ..support.loop_thread import LoopThread, running_loop
from ..server.app import ChatServer, Event
from ..core.messages import one_line
from ..core.user import ChatUser

__all__ = ["start", "LiveServer", "running_servers", "stop_all"]

#: Live servers of this process, by port: ``start`` replaces the one on its port.
_live: dict[int, LiveServer] = {}

LOG_LINES = 100  # lines the activity log keeps on screen
LOG_TEXT_CHARS = 300  # characters of one event's line shown, at most
LOG_DETAIL_CHARS = 3000  # characters of one traceback shown (its end: where it broke)
LOG_DETAILS = 3  # tracebacks shown in full: the newest ones


def start(
    port: int = 3000,
    host: str = "127.0.0.1",
    *,
    chat_user: type = ChatUser,
    room: str = "people",
    show: bool | None = None,
    **options: Any,
) -> LiveServer:
    """Start the chat server in the background and return a handle to it.

    Args:
        port: where to listen; 0 picks a free port. A live server this process
            already runs on that port is stopped first, so re-running a cell is safe.
        host: the address to listen on. ``127.0.0.1`` (the default) lets in only
            this machine; ``"0.0.0.0"`` lets in the whole network, e.g. a class.
        chat_user: the ``ChatUser`` class to run -- the reference one, or yours.
        room: the room the shown link opens.
        show: display the server's panel (default: when in a notebook).
        options: passed to :class:`chatkit.server.ChatServer` (``random_every``,
            ``rate_limit``, ...; ``redis="redis://127.0.0.1:6379"`` shares the rooms
            with every server on that Redis: notebook 7).

    >>> server = start(port=0, show=False)  # doctest: +ELLIPSIS
    chatkit server running: open http://127.0.0.1:.../people
    >>> server.running
    True
    >>> server.stop()
    >>> server.running
    False

    """
    # By port, whatever host it listens on (you may have just edited host= in the
    # cell): "0.0.0.0" and "127.0.0.1" on one port would collide.
    replaced = _live.pop(port, None) if port else None
    if replaced is not None:
        replaced.stop()
    live = LiveServer(ChatServer(chat_user, **options), host, port, room=room)
    live._start()
    if replaced is not None:
        live.server.report("listen", f"replaced the server that was running on port {port}")
    _live[live.port] = live
    if show is None:
        show = _in_notebook()
    if show:
        from IPython.display import display

        # The panel shows the server's activity, tracebacks included; without a
        # handler of its own, the logger would print them into whichever cell runs.
        _quiet_logger()
        display(live)
    else:
        note = live.page_note()  # where no link can work (Colab), it says so instead
        print(f"chatkit server running at {live.url}. {note}" if note
              else f"chatkit server running: open {live.page_url()}")
    return live


def running_servers() -> list[LiveServer]:
    """The live servers this process runs now."""
    return [live for live in _live.values() if live.running]


def stop_all() -> None:
    """Stop every live server of this process."""
    for live in list(_live.values()):
        live.stop()


atexit.register(stop_all)


class LiveServer:
    """A chat server running on its own event loop in a background thread.

    Made by :func:`start`. ``url``, ``page_url(room)`` and ``ws_url(room)`` say
    where it is; ``stop()`` stops it; ``events`` is its recent activity;
    ``cut(room, name)`` drops one member's connection as a lost network does.
    """

    def __init__(self, server: ChatServer, host: str, port: int, *, room: str = "people"):
        self.server = server
        self.host = host
        self.port = port
        self.room = room
        self._runner: LoopThread | None = None  # the server's own loop, in a thread
        self._ws_server: Any = None
        self._panel: Any = None
        self._kernel_loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[Event] = []
        server.on_event = self._on_event

    # -- where it is ---------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:3000``: the server's address for a browser."""
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    def page_url(self, room: str | None = None) -> str:
        """The chat page of a room, as this notebook's browser opens it.

        ``http://127.0.0.1:3000/people`` on your own machine; on JupyterHub or
        Binder ``/user/ann/proxy/3000/people``, beside the notebook (see
        :mod:`chatkit.notebook.hosting`).
        """
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return hosting.page_link(self.port, room or self.room, host=host) + self._code_query()

    def _code_query(self) -> str:
        """``?code=k7f3-q9x2`` when the server asks for a class code (:mod:`chatkit.server.class_code`)."""
        code = getattr(self.server.gate, "code", None)
        return f"?code={urllib.parse.quote(code, safe='')}" if code else ""

    def page_note(self) -> str:
        """What to tell the person about that link where it cannot work, or ""."""
        place = hosting.where()
        if place == "colab":
            return hosting.COLAB_NOTE
        if place == "hub" and not hosting.proxy_installed():
            return hosting.NO_PROXY_NOTE
        return ""

    def ws_url(self, room: str | None = None) -> str:
        """The WebSocket address of a room: ``ws://127.0.0.1:3000/chat/people``."""
        return (f"ws{self.url[4:]}{self.server.prefix}/chat/"
                f"{urllib.parse.quote(room or self.room, safe='')}{self._code_query()}")

    @property
    def running(self) -> bool:
        return self._runner is not None and self._runner.running

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The server's own event loop (it runs in a thread of its own), or None."""
        return self._runner.loop if self._runner is not None else None

    _loop = loop  # the name tests used before ``loop``

    @property
    def events(self) -> list[Event]:
        """What the server did recently, oldest first."""
        return list(self.server.events)

    def __repr__(self) -> str:
        state = f"{self.server.connections} open connections" if self.running else "stopped"
        return f"<LiveServer {self.url} {state}>"

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- starting and stopping ----------------------------------------------

    def _start(self, timeout: float = 10) -> None:
        self._kernel_loop = running_loop()  # in a notebook: the kernel's
        runner = LoopThread(f"chatkit-server-{self.port}").start(timeout)

        async def listen() -> Any:  # on the server's loop: its guards watch that loop
            return await self.server.serve(self.host, self.port)

        try:
            self._ws_server = runner.run(listen(), timeout)
        except BaseException as exc:
            runner.stop(timeout)
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
                raise OSError(
                    exc.errno,
                    f"port {self.port} is already in use on {self.host}: another notebook"
                    f" or program is serving there. Stop it, or pick another port:"
                    f" chatkit.start(port={self.port + 1})",
                ) from exc
            if isinstance(exc, TimeoutError):
                raise TimeoutError(f"the chat server did not start within {timeout} s") from None
            raise
        self._runner = runner
        self.port = self._ws_server.sockets[0].getsockname()[1]
        self.server.report("listen", f"listening on {self.url} (room page: {self.page_url()})")

    def stop(self, timeout: float = 5) -> None:
        """Stop the server: close every connection (code 1001) and free the port."""
        if not self.running:
            return
        runner = self._runner
        assert runner is not None

        async def close() -> None:
            await self.server.close(self._ws_server)
            await self.server.shutdown()  # a shared room's link to Redis, if any

        try:
            runner.run(close(), timeout)
        except TimeoutError:
            # A busy machine, a peer that does not answer its close frame, a Redis that does
            # not answer: the listener is closed already, and what is left is cut below --
            # said in the activity log, not raised into the student's cell.
            self.server.report("stop", f"not everything closed within {timeout:g} s:"
                                       " the rest was cut")
            with contextlib.suppress(TimeoutError):
                runner.run(self._cut(), 1.0)
        finally:
            runner.stop(timeout)  # what is left is cancelled, the loop closed
            if _live.get(self.port) is self:
                del _live[self.port]
        self.server.report("stop", "stopped; the port is free")

    # -- a network failure, on purpose ---------------------------------------

    def cut(self, room: str, name: str, timeout: float = 5) -> int:
        """Drop ``name``'s connection to ``room`` with no close frame, as a lost network does.

        ::

            server.cut("people", "Ann")   # Ann's Wi-Fi goes away: her client sees 1006

        The server aborts that member's TCP connection: no close frame goes either
        way, the client sees code 1006, and the server says "Ann left people." as
        for any connection lost. Notebook 8 uses it to show a client resume. Only
        members who joined ``room`` under that name (as it is now: ``/name``
        counts) are cut; a namesake in another room is not. Returns how many
        connections were cut (0 if nobody of that name is in that room).
        """
        if not self.running:
            raise RuntimeError("the server is not running: start it first")
        assert self._runner is not None

        async def abort() -> int:  # on the server's loop, which owns the connections
            seats = self.server.desk.roster.seats
            members = {id(user) for user, seat in seats.items()
                       if seat.room == room and seat.name == name}
            cut = 0
            for connection in list(self._ws_server.connections):
                if (id(getattr(connection, "member", None)) in members
                        and connection.transport is not None):
                    connection.transport.abort()
                    cut += 1
            if cut:
                self.server.report("cut", f"cut {name}'s connection to {room!r}"
                                          " (no close frame: a lost network)")
            await asyncio.sleep(0)  # their connection_lost runs
            return cut

        return self._runner.run(abort(), timeout)

    async def _cut(self) -> None:
        """On the server's loop: close the listener, drop every connection at once."""
        server = self._ws_server
        if server is None:
            return
        server.server.close()  # asyncio's: no new connections (done already, as a rule)
        for connection in list(server.connections):
            if connection.transport is not None:
                connection.transport.abort()
        await asyncio.sleep(0)  # their connection_lost runs

    # -- the panel in a notebook --------------------------------------------

    def _on_event(self, event: Event) -> None:
        """Called on the server's thread: hand the event to the kernel's thread."""
        loop = self._kernel_loop
        if loop is None or self._panel is None or loop.is_closed():
            return
        self._pending.append(event)
        if len(self._pending) == 1:  # one refresh per burst of events
            loop.call_soon_threadsafe(loop.call_later, 0.2, self._refresh)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.panel())

    def panel(self) -> Any:
        """The widget that shows the server's link, state and activity."""
        if self._panel is None:
            import ipywidgets as widgets

            header = widgets.HTML()
            log = widgets.Output(layout={"max_height": "14em", "overflow": "auto",
                                         "border": "1px solid #ddd"})
            self._panel = widgets.VBox([header, log])
            self._refresh()
        return self._panel

    def _refresh(self) -> None:
        """Redraw the panel from the server's state (on the kernel's thread)."""
        self._pending.clear()
        if self._panel is None:
            return
        header, log = self._panel.children
        # Every piece of text goes through html.escape: the HTML widget renders markup.
        link, note = html.escape(self.page_url()), html.escape(self.page_note())
        if self.running:
            header.value = (
                f"<b>chatkit server</b> running at <code>{html.escape(self.url)}</code>"
                f" &middot; room <code>{html.escape(self.room)}</code>:"
                + (f" {note}" if note else f" open <a href=\"{link}\" target=\"_blank\">{link}</a>")
                + f" &middot; {self.server.connections} open connections"
            )
        else:
            header.value = f"<b>chatkit server</b> at <code>{html.escape(self.url)}</code> stopped"
        log.outputs = ({
            "output_type": "display_data", "metadata": {},
            "data": {"text/html": activity_html(list(self.server.events)[-LOG_LINES:])},
        },)


def inert(text: str, limit: int) -> str:
    """User text made inert for the activity log: controls as ``\\x1b``, bounded; its own
    line breaks kept (a traceback's), each line as :func:`~chatkit.core.messages.one_line`.

    >>> inert("fake\\rserver stopped\\x1b[31m", 100)
    'fake\\\\rserver stopped\\\\x1b[31m'

    """
    if len(text) > limit:
        text = "..." + text[-limit:]
    return "\n".join(one_line(line) for line in text.split("\n"))


def activity_html(events: list[Event]) -> str:
    """The activity log as one ``<pre>``: every piece escaped, nothing autolinked.

    A stream output would be friendlier to copy, but JupyterLab turns URLs in
    streams into links and interprets terminal colour codes and carriage
    returns -- all of which a student's name or chat text can hold. Only the
    newest ``LOG_DETAILS`` tracebacks are shown, each cut to its end: a 60 KB
    traceback does not make every redraw megabytes.
    """
    with_detail = {id(e) for e in [e for e in events if e.kind == "exception"][-LOG_DETAILS:]}
    lines = []
    for event in events:
        line = html.escape(inert(str(event), LOG_TEXT_CHARS))
        if event.kind == "exception":
            line = f'<span style="color: #c62828;">{line}</span>'
            if id(event) in with_detail and event.detail:
                detail = inert(event.detail, LOG_DETAIL_CHARS)
                line += f'\n<span style="color: #c62828;">{html.escape(detail.rstrip())}</span>'
        lines.append(line)
    return ('<pre class="chatkit-activity" style="margin: 0; white-space: pre-wrap;'
            f' overflow-wrap: anywhere;">{chr(10).join(lines)}</pre>')


def _quiet_logger() -> None:
    """Give the "chatkit" logger a NullHandler (once): logging's last resort stays silent."""
    chatkit_logger = logging.getLogger("chatkit")
    if not any(isinstance(h, logging.NullHandler) for h in chatkit_logger.handlers):
        chatkit_logger.addHandler(logging.NullHandler())


def _in_notebook() -> bool:
    """True inside a Jupyter kernel (where widgets can show)."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and "IPKernelApp" in getattr(shell, "config", {})
