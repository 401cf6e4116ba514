"""``ChatPanel``: a chat client made of ipywidgets, to chat from inside a notebook.

::

    from chatkit.notebook.panel import ChatPanel
    server = chatkit.start()
    ChatPanel(server, room="people", name="Ann")        # a live server of this kernel
    ChatPanel("ws://127.0.0.1:3000", name="Bob")         # or any chat server, by URL

The panel shows your name and room with a Connect/Disconnect button, the
connection's status (it follows the four callbacks: connecting, open, error,
closed -- with the close code and reason), the room's messages (notes in
italics, chats as **name**: text, private messages and errors marked, each
with its time), who is in the room, and a box that sends on Enter or on Send.

It is a client like the browser page: a :class:`chatkit.WebSocket` with the
four callbacks -- and, like the page, it comes back by itself when its connection
drops (``reconnect=True``, the default: backoff with jitter, then it resumes from
the last message it showed; what was said meanwhile appears once, with a note if
some of it was lost). Its join asks for the member list extension
(``"want": ["members", "you"]``), so the server keeps it told who is in the room,
and which of them is this panel: after a ``/name``, the Name box follows what the
server says (``{"type": "you", ...}``), never the text of a note -- a classmate
who joins as ``Ann is now known as Mallory`` renames nobody. With a server that
does not know ``"you"`` (a student's own class), the box follows only the rename
note this panel's own ``/name`` asked for, matched exactly.

**Where the code runs.** The panel's WebSocket runs on the kernel's event loop:
its callbacks, and so every change to the widgets, happen on the kernel's own
thread, between your cells -- never on a thread of their own. The buttons and
the text box call the panel on that same thread. ``connect``, ``disconnect``,
``send`` and ``close`` may be called from any thread: they hand their work to
the loop. While a cell runs and blocks (``time.sleep(5)``), the loop waits, and
so does the panel: what arrives meanwhile is shown as soon as the kernel is idle
again, in order, with nothing lost. The server itself (``chatkit.start``) runs
on a thread of its own and keeps serving everyone else. A cell that blocks for
more than about 40 s lets the server's keepalive give up on the panel (close
code 1011): the status says so, and Connect reconnects.

**Re-running a cell** replaces the panels it made the previous time: the old
panel's connection is closed (and the new one waits for that, so the same name
is free again) and its widgets are closed. Give ``key=`` to choose what counts
as "the same panel" yourself, and call ``panel.close()`` to remove one.

**User text is text.** Names, room names and messages come from other people.
Every piece of them reaches the widgets' markup through one function,
:func:`text_html`, which escapes it: ``<img src=x onerror=alert(1)>`` shows as
those characters and runs nothing.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import html
import json
import threading
import time
import urllib.parse
from typing import Any, Callable, Hashable

from websockets.frames import CloseCode

from ..core.grammar import NAME, WANT_MEMBERS, WANT_YOU, Command, renamed
from ..core.resume import Backoff
from .client import (
    CLOSED,
    CONNECTING,
    OPEN,
    CloseEvent,
    Event,
    ReconnectEvent,
    WebSocket,
    background_loop,
    call_on_loop,
    running_loop,
)

__all__ = ["ChatPanel", "Line", "text_html", "live_panels", "close_all", "LOG_LINES"]

#: Lines the message log keeps: a long class stays light in the browser.
LOG_LINES = 200

#: The panels alive in this process, by key: a new panel with the same key replaces the old.
_panels: dict[Hashable, ChatPanel] = {}

#: Styles of the pieces of text, by role. Fixed here: no user text ever reaches a style.
STYLES = {
    "time": "color: var(--jp-ui-font-color3, #999); font-size: 85%;"
            " font-variant-numeric: tabular-nums; margin-right: 0.6em;",
    "note": "font-style: italic; color: var(--jp-ui-font-color2, #666);",
    "name": "font-weight: bold;",
    "text": "",
    "private": "font-weight: bold; color: #7b3fb5;",
    "error": "font-weight: bold; color: #c62828;",
    "status": "color: var(--jp-ui-font-color2, #666);",
    "heading": "font-weight: bold; color: var(--jp-ui-font-color2, #666); font-size: 85%;"
               " text-transform: uppercase; letter-spacing: 0.05em;",
    "you": "color: var(--jp-ui-font-color3, #999); font-size: 85%;",
}

#: Backgrounds of whole log lines, by kind.
LINE_STYLES = {
    "note": "",
    "chat": "",
    "private": "background: rgba(123, 63, 181, 0.10); border-left: 3px solid #7b3fb5;",
    "error": "background: rgba(198, 40, 40, 0.08); border-left: 3px solid #c62828;",
    "status": "",
}

#: The status dot's colour, by connection state.
STATE_COLOURS = {
    "idle": "#9e9e9e",
    "connecting": "#f9a825",
    "open": "#2e7d32",
    "error": "#c62828",
    "closed": "#9e9e9e",
}


def text_html(text: str, role: str = "text") -> str:
    """Markup for one piece of text: escaped, in a span styled for its ``role``.

    Every piece of user text -- chat text, names, room names, close reasons --
    reaches the panel's HTML through this function and no other way.

    >>> text_html("<img src=x onerror=alert(1)>", "name")
    '<span style="font-weight: bold;">&lt;img src=x onerror=alert(1)&gt;</span>'

    """
    return f'<span style="{STYLES[role]}">{html.escape(str(text), quote=True)}</span>'


@dataclasses.dataclass(frozen=True)
class Line:
    """One line of the message log.

    ``kind`` is ``"note"``, ``"chat"``, ``"private"``, ``"error"`` or
    ``"status"`` (the panel's own news: connecting, disconnected, ...).
    """

    kind: str
    text: str
    name: str = ""
    to: str = ""
    time: float = dataclasses.field(default_factory=time.time)

    @property
    def clock(self) -> str:
        return time.strftime("%H:%M:%S", time.localtime(self.time))

    def __str__(self) -> str:
        """The line as plain text: ``12:00:01 Ann: hi``."""
        if self.kind == "chat":
            return f"{self.clock} {self.name}: {self.text}"
        if self.kind == "private":
            return f"{self.clock} {self.name} → {self.to} (private): {self.text}"
        if self.kind == "error":
            return f"{self.clock} error: {self.text}"
        return f"{self.clock} {self.text}"

    def html(self) -> str:
        """The line as markup, every piece of text through :func:`text_html`."""
        parts = [text_html(self.clock, "time")]
        if self.kind == "chat":
            parts += [text_html(self.name, "name"), text_html(": "), text_html(self.text)]
        elif self.kind == "private":
            parts += [
                text_html(f"{self.name} → {self.to}", "name"),
                text_html(" (private): ", "private"),
                text_html(self.text),
            ]
        elif self.kind == "error":
            parts += [text_html("error: ", "error"), text_html(self.text)]
        elif self.kind == "note":
            parts += [text_html(self.text, "note")]
        else:
            parts += [text_html(self.text, "status")]
        style = "padding: 1px 6px; white-space: pre-wrap; overflow-wrap: anywhere; "
        style += LINE_STYLES[self.kind]
        return f'<div class="chatkit-line chatkit-line-{self.kind}" style="{style}">' \
               f'{"".join(parts)}</div>'


def live_panels() -> list[ChatPanel]:
    """The panels of this process that have not been closed."""
    return list(_panels.values())


def close_all() -> None:
    """Close every panel of this process."""
    for panel in list(_panels.values()):
        panel.close()


class ChatPanel:
    """A chat client in a notebook: name, room, status, messages, members, a text box.

    >>> panel = ChatPanel("ws://127.0.0.1:3000", room="people")   # no name: not connected yet
    >>> panel.connection_state, panel.ws_url
    ('idle', 'ws://127.0.0.1:3000/chat/people')
    >>> panel.close()

    Args:
        url_or_server: a :class:`chatkit.LiveServer` (from ``chatkit.start``), or
            the address of a chat server: ``ws://host:port``, ``http://host:port``,
            a room's page ``http://host:port/people`` or its ``ws://host:port/chat/people``.
        room: the room to join (default: the one in the address, or the server's).
        name: your name; given, the panel connects at once.
        key: panels with equal keys replace each other. Default: the cell that
            made the panel (re-running it replaces its panels), or, outside
            JupyterLab, the address, room and name (a panel without a name
            replaces none).
        log_lines: how many lines the message log keeps.
        reconnect: come back by itself after a drop and show what was said
            meanwhile, once each (``True``, the default, or a
            :class:`~chatkit.core.resume.Backoff`); ``False``: a drop closes it.
    """

    def __init__(
        self,
        url_or_server: Any,
        room: str | None = None,
        name: str | None = None,
        *,
        key: Hashable | None = None,
        log_lines: int = LOG_LINES,
        reconnect: bool | Backoff = True,
    ) -> None:
        self.reconnect = reconnect
        self._server, self._base, url_room = _target(url_or_server)
        # A class code (?code=...) in the address goes with every connection.
        query = "" if self._server is not None else urllib.parse.urlsplit(url_or_server).query
        self._query = f"?{query}" if query else ""
        room = room or url_room or getattr(self._server, "room", None) or "people"
        # In a notebook, the kernel's loop; in a script, a loop thread of chatkit's.
        self._loop = running_loop() or background_loop()
        self.lines: collections.deque[Line] = collections.deque(maxlen=log_lines)
        self.members: list[str] = []
        self.members_known = False  # the server sends member lists (it knows the extension)
        self.connection_state = "idle"
        self.status_text = "not connected"
        self._ws: WebSocket | None = None
        self._joined_as: str | None = None  # the name the server knows us by
        self._you_known = False  # the server tells us our name ("want": ["you"])
        self._renaming_to: str | None = None  # the /name we sent, while unanswered
        self._join_answered = False
        self._error_text = ""
        self._previous: WebSocket | None = None  # a replaced panel's socket, still closing
        self._pending: asyncio.Task | None = None
        self._redraw_scheduled = False
        self._closed = False
        self._build(room, name or "")
        if key is None:  # the cell's n-th panel; else the same person in the same room
            key = _cell_key() or ((self._base_name(), room, name) if name else id(self))
        self.key = key
        replaced = _panels.pop(self.key, None)
        if replaced is not None:
            self._previous = replaced._ws
            replaced.close()
        _panels[self.key] = self
        self._redraw()
        if name:
            self.connect()

    # -- widgets ---------------------------------------------------------------

    def _build(self, room: str, name: str) -> None:
        import ipywidgets as widgets

        self.name_box = widgets.Text(
            value=name, placeholder="your name", description="Name",
            layout=widgets.Layout(width="13em"), style={"description_width": "3em"},
        )
        self.room_box = widgets.Text(
            value=room, placeholder="room", description="Room",
            layout=widgets.Layout(width="13em"), style={"description_width": "3em"},
        )
        self.connect_button = widgets.Button(
            description="Connect", icon="plug", layout=widgets.Layout(width="9em"),
        )
        self.status = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", margin="0 0 0 0.8em"))
        self.log = widgets.HTML(layout=widgets.Layout(flex="1 1 auto", width="auto"))
        self.member_list = widgets.HTML(
            layout=widgets.Layout(flex="0 0 12em", width="12em", margin="0 0 0 6px"),
        )
        self.message_box = widgets.Text(
            placeholder="Say something, or try /joke, /members, /priv NAME TEXT, /name NEW",
            layout=widgets.Layout(flex="1 1 auto", width="auto"),
        )
        self.send_button = widgets.Button(
            description="Send", icon="paper-plane", button_style="primary",
            layout=widgets.Layout(width="7em"),
        )
        self.connect_button.on_click(lambda _: self._toggle())
        self.send_button.on_click(lambda _: self._send_box())
        # Enter in a Text widget: its front end sends {"event": "submit"}, after the value.
        self.message_box.on_msg(_on_enter(self._send_box))
        self.name_box.on_msg(_on_enter(self.connect))
        self.room_box.on_msg(_on_enter(self.connect))
        row = {"align_items": "center", "width": "100%"}
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.name_box, self.room_box, self.connect_button, self.status],
                             layout=widgets.Layout(**row)),
                widgets.HBox([self.log, self.member_list], layout=widgets.Layout(width="100%")),
                widgets.HBox([self.message_box, self.send_button], layout=widgets.Layout(**row)),
            ],
            layout=widgets.Layout(
                border="1px solid var(--jp-border-color1, #ccc)", padding="6px",
                width="100%", max_width="60em",
            ),
        )
        self.widget.add_class("chatkit-panel")
        for widget, css_class in [
            (self.name_box, "name"), (self.room_box, "room"), (self.connect_button, "connect"),
            (self.status, "status"), (self.log, "messages"), (self.member_list, "members"),
            (self.message_box, "message"), (self.send_button, "send"),
        ]:
            widget.add_class(f"chatkit-{css_class}")  # for your CSS, and for tests

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<ChatPanel {self.ws_url} {self.connection_state}: {self.status_text}>"

    # -- where it connects -----------------------------------------------------

    def _base_name(self) -> str:
        return self._server.url if self._server is not None else self._base

    @property
    def ws_url(self) -> str:
        """The WebSocket address of the room in the Room box."""
        room = self.room_box.value.strip()
        if self._server is not None:
            return self._server.ws_url(room)
        return f"{self._base}/chat/{urllib.parse.quote(room, safe='')}{self._query}"

    # -- what you can do (from any thread) ---------------------------------------

    def connect(self) -> None:
        """Connect and join with the name in the Name box (nothing if already connected)."""
        self._on_loop(self._connect_now)

    def disconnect(self) -> None:
        """Close the connection (code 1000); Connect opens a new one."""
        self._on_loop(lambda: self._disconnect_now(1000, "left"))

    def send(self, text: str) -> None:
        """Say ``text`` to the room (or run a ``/command``), as if typed in the box."""
        self._on_loop(lambda: self._send_now(text))

    def close(self) -> None:
        """Close the connection and the widgets: nothing of the panel is left running."""
        if _panels.get(self.key) is self:
            del _panels[self.key]
        self._closed = True
        self._on_loop(self._close_now)

    def log_text(self) -> str:
        """The message log as plain text, one line each: ``12:00:01 Ann: hi``."""
        return "\n".join(map(str, list(self.lines)))  # list(): a copy, safe from any thread

    async def wait_closed(self, timeout: float = 5) -> None:
        """Wait until the panel's connection (if any) is closed.

        ``panel.close(); await panel.wait_closed()``
        """
        await self.wait_for(lambda p: p._ws is None or p._ws.ready_state == CLOSED, timeout)

    async def wait_for(self, predicate: Callable[[ChatPanel], bool], timeout: float = 5) -> None:
        """Wait until ``predicate(panel)`` is true (for notebooks and tests)."""
        async with asyncio.timeout(timeout):
            while not predicate(self):
                await asyncio.sleep(0.005)

    # -- on the loop -------------------------------------------------------------

    def _on_loop(self, callback: Callable[[], Any]) -> None:
        call_on_loop(self._loop, callback)

    def _toggle(self) -> None:
        ws = self._ws
        if ws is not None and ws.ready_state in (CONNECTING, OPEN):
            self._disconnect_now(1000, "left")
        else:
            self._connect_now()

    def _connect_now(self) -> None:
        if self._closed or (self._ws is not None and self._ws.ready_state in (CONNECTING, OPEN)):
            return
        if self._pending is not None and not self._pending.done():
            return
        name, room = self.name_box.value.strip(), self.room_box.value.strip()
        if not name or not room:
            self._set_state("idle", "type your name and a room, then Connect")
            return
        previous = self._previous
        if previous is not None and previous.ready_state != CLOSED:
            # The panel this one replaces is still leaving: join once its name is free.
            self._pending = self._loop.create_task(self._connect_when_closed(previous))
            return
        self._previous = None
        url = self.ws_url
        ws = self._ws = WebSocket(url, loop=self._loop,
                                  headers=getattr(self._server, "headers", None),
                                  reconnect=self.reconnect)
        ws.onreconnect = lambda event: self._reconnecting(ws, event)
        self._joined_as, self._join_answered, self._error_text = None, False, ""
        ws.onopen = lambda event: self._opened(ws, name, room)
        ws.onmessage = lambda event: self._received(ws, event.data)
        ws.onerror = lambda event: self._failed(ws, event)
        ws.onclose = lambda event: self._closed_by(ws, event)
        self.members, self.members_known = [], False
        self._set_state("connecting", f"connecting to {url}")

    async def _connect_when_closed(self, previous: WebSocket) -> None:
        with contextlib.suppress(TimeoutError):
            await previous.wait_closed(timeout=3)
        self._previous = None
        self._pending = None
        self._connect_now()

    def _disconnect_now(self, code: int, reason: str) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self._ws is not None:
            self._ws.close(code, reason)

    def _close_now(self) -> None:
        self._disconnect_now(1000, "panel closed")
        for child in (self.name_box, self.room_box, self.connect_button, self.status, self.log,
                      self.member_list, self.message_box, self.send_button, *self.widget.children):
            child.close()
        self.widget.close()

    def _send_box(self) -> None:
        text = self.message_box.value
        if text.strip() and self._send_now(text):
            self.message_box.value = ""

    def _send_now(self, text: str) -> bool:
        ws = self._ws
        if ws is None or ws.ready_state != OPEN:
            self._add(Line("error", "not connected: click Connect first"))
            return False
        ws.send(json.dumps({"type": "chat", "text": text}))
        command = Command(text)
        if command.word == NAME and command.rest.strip():
            self._renaming_to = command.rest.strip()
        return True

    # -- the four callbacks --------------------------------------------------------

    def _opened(self, ws: WebSocket, name: str, room: str) -> None:
        if ws is not self._ws:
            return
        ws.send(json.dumps({"type": "join", "name": name, "want": [WANT_MEMBERS, WANT_YOU]}))
        self._joined_as, self._you_known, self._renaming_to = name, False, None
        self._set_state("open", f'connected to room "{room}" as {name}')

    def _received(self, ws: WebSocket, data: str | bytes) -> None:
        if ws is not self._ws:
            return
        try:
            message = json.loads(data)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._add(Line("error", f"the server sent something not a message: {data!r:.200}"))
            return
        kind, text = message.get("type"), str(message.get("text", ""))
        answered_join, self._join_answered = self._join_answered, True
        if kind == "error" and not answered_join:
            self._add(Line("error", text))
            self._set_state("error", f"could not join: {text}")
            self._error_text = f"could not join: {text}"
            ws.close(1000, "could not join")
        elif kind == "you":
            self._you_known = True
            self._follow_name(str(message.get("name", "")))
        elif kind == "members":
            names = message.get("names")
            self.members = [str(n) for n in names] if isinstance(names, list) else []
            self.members_known = True
            self._schedule_redraw()
        elif kind == "note":
            self._add(Line("note", text))
            self._follow_rename_note(text)
        elif kind == "chat" and message.get("private"):
            self._add(Line("private", text, str(message.get("name")), str(message.get("to"))))
        elif kind == "chat":
            self._add(Line("chat", text, str(message.get("name"))))
        elif kind == "error":
            self._add(Line("error", text))
            self._renaming_to = None  # (if we were renaming, that was refused)
        else:
            self._add(Line("error", f"a message of unknown type: {data!r:.200}"))

    def _failed(self, ws: WebSocket, event: Event) -> None:
        if ws is not self._ws:
            return
        self._error_text = f"error: {event.error}" if event.error else "error: connection lost"
        if isinstance(event.error, asyncio.CancelledError):
            self._error_text = "error: gave up connecting"
        self._set_state("error", self._error_text)

    def _reconnecting(self, ws: WebSocket, event: ReconnectEvent) -> None:
        if ws is not self._ws:
            return
        if event.type == "reconnected":
            self._set_state("open", f'connected to room "{self.room_box.value.strip()}" as'
                                    f" {self._joined_as} (back after a drop)")
            return
        self.members = []
        self._set_state("connecting", f"connection lost (code {event.code}"
                        f" {_meaning(event.code)}): reconnecting, try {event.attempt} of"
                        f" {ws.backoff.attempts} in {event.delay:.1f} s")

    def _closed_by(self, ws: WebSocket, event: CloseEvent) -> None:
        if ws is not self._ws:
            return
        self._joined_as = None
        self.members = []
        text = f"disconnected (code {event.code} {_meaning(event.code)}"
        text += f": {event.reason})" if event.reason else ")"
        if self._error_text:
            text += f" after {self._error_text}"
        self._set_state("closed", text + (" -- Connect to reconnect" if not self._closed else ""))

    # -- state and drawing -----------------------------------------------------

    def _follow_name(self, name: str) -> None:
        """The server says what we are called now: the Name box follows."""
        self._renaming_to = None
        if name and name != self._joined_as:
            self._joined_as = name
            self.name_box.value = name
            self._schedule_redraw()

    def _follow_rename_note(self, text: str) -> None:
        """Without ``"you"``: only the exact note our own ``/name`` asked for renames us."""
        if self._you_known or self._joined_as is None or self._renaming_to is None:
            return
        if text == renamed(self._joined_as, self._renaming_to)["text"]:
            self._follow_name(self._renaming_to)

    def _set_state(self, state: str, text: str) -> None:
        self.connection_state, self.status_text = state, text
        self._add(Line("status", text))

    def _add(self, line: Line) -> None:
        self.lines.append(line)
        self._schedule_redraw()

    def _schedule_redraw(self) -> None:
        """One redraw per turn of the loop, however many messages came in at once."""
        if not self._redraw_scheduled:
            self._redraw_scheduled = True
            self._loop.call_soon(self._redraw)

    def _redraw(self) -> None:
        self._redraw_scheduled = False
        if self._closed and self.widget.comm is None:
            return
        connected = self.connection_state in ("connecting", "open")
        self.connect_button.description = "Disconnect" if connected else "Connect"
        self.connect_button.icon = "times" if connected else "plug"
        self.connect_button.button_style = "" if connected else "success"
        self.name_box.disabled = self.room_box.disabled = connected
        self.message_box.disabled = self.send_button.disabled = self.connection_state != "open"
        dot = (f'<span style="color: {STATE_COLOURS[self.connection_state]};'
               f' font-size: 120%;">&#9679;</span> ')
        self.status.value = dot + text_html(self.status_text, "status")
        # column-reverse: the box opens scrolled to its end, at the newest line.
        self.log.value = (
            '<div class="chatkit-log" style="height: 16em; overflow-y: auto; display: flex;'
            " box-sizing: border-box;"
            " flex-direction: column-reverse; border: 1px solid var(--jp-border-color2, #ddd);"
            ' background: var(--jp-layout-color0, #fff); line-height: 1.45;">'
            f'<div>{"".join(line.html() for line in self.lines)}</div></div>'
        )
        if self.connection_state == "open" and not self.members_known:
            heading = "In the room"
            names = text_html("no member list from this server (yet): type /members", "note")
        else:
            heading = f"In the room ({len(self.members)})"
            names = self._member_html()
        self.member_list.value = (
            '<div class="chatkit-member-list" style="height: 16em; overflow-y: auto;'
            " box-sizing: border-box; line-height: 1.6; overflow-wrap: anywhere;"
            " border: 1px solid var(--jp-border-color2, #ddd); padding: 2px 6px;"
            ' background: var(--jp-layout-color1, #fafafa);">'
            f'<div style="margin: 2px 0 4px;">{text_html(heading, "heading")}</div>{names}</div>'
        )

    def _member_html(self) -> str:
        you = text_html(" (you)", "you")
        return "".join(
            f'<div class="chatkit-member">{text_html(name, "name")}{you}</div>'
            if name == self._joined_as
            else f'<div class="chatkit-member">{text_html(name)}</div>'
            for name in self.members
        )


def _meaning(code: int) -> str:
    """``1001`` -> ``"going away"``: what a close code means, in words."""
    try:
        return CloseCode(code).name.lower().replace("_", " ")
    except ValueError:
        return "set by the application" if 4000 <= code < 5000 else "unknown"


def _on_enter(callback: Callable[[], Any]) -> Callable[..., None]:
    """A ``Text.on_msg`` handler that calls ``callback`` when Enter is pressed."""

    def handle(widget: Any, content: dict[str, Any], buffers: Any) -> None:
        if content.get("event") == "submit":
            callback()

    return handle


def _target(url_or_server: Any) -> tuple[Any, str, str | None]:
    """(live server or None, ``ws://host:port``, room named in the address or None)."""
    if hasattr(url_or_server, "ws_url"):
        return url_or_server, "", None
    if not isinstance(url_or_server, str):
        raise TypeError(
            f"ChatPanel needs a LiveServer (chatkit.start()) or a URL, got {url_or_server!r}"
        )
    parts = urllib.parse.urlsplit(url_or_server)
    schemes = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}
    if parts.scheme not in schemes or not parts.netloc:
        raise ValueError(
            f"not a chat server address: {url_or_server!r}; try ws://127.0.0.1:3000"
        )
    # Under a path prefix too (a hub service: .../services/chatkit/chat/people):
    # a room's page is <prefix>/<room>, its WebSocket <prefix>/chat/<room>.
    segments = [s for s in parts.path.split("/") if s]
    room = None
    if segments and not parts.path.endswith("/"):
        room = urllib.parse.unquote(segments.pop())
        if segments and segments[-1] == "chat":
            segments.pop()
    prefix = "".join(f"/{segment}" for segment in segments)
    return None, f"{schemes[parts.scheme]}://{parts.netloc}{prefix}", room


_cell_runs: dict[str, Any] = {"msg_id": None, "count": 0}
_cell_lock = threading.Lock()


def _cell_key() -> tuple[str, str, int] | None:
    """("cell", cell id, n) for the n-th panel made by the cell running now, if known.

    JupyterLab names the cell in each execute request (``metadata.cellId``).
    """
    try:
        from IPython import get_ipython

        kernel = getattr(get_ipython(), "kernel", None)
        parent = kernel.get_parent() if kernel is not None else None
        cell_id = (parent or {}).get("metadata", {}).get("cellId")
        msg_id = (parent or {}).get("header", {}).get("msg_id")
    except Exception:
        return None
    if not cell_id:
        return None
    with _cell_lock:
        if _cell_runs["msg_id"] != msg_id:
            _cell_runs.update(msg_id=msg_id, count=0)
        count = _cell_runs["count"]
        _cell_runs["count"] += 1
    return ("cell", cell_id, count)
