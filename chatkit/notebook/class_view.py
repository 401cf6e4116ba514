"""``ClassView``: the instructor's view of a class, as ipywidgets in the instructor's notebook.

For a server this kernel started with :func:`chatkit.start`::

    server = chatkit.start(port=3000, host="0.0.0.0")
    from chatkit.notebook.class_view import ClassView
    ClassView(server)               # who is in each room, live; Mute, Remove, Announce, Export

The same actions from code (they run on the server's own loop)::

    view = ClassView(server)
    view.rooms()                    # {"people": [{"name": "ann", "since": ..., "messages": 3, ...}]}
    view.mute("bob"); view.remove("eve"); view.announce("5 minutes left")
    view.export("people")           # writes people.jsonl here; returns its path

It is a thin shell over the server's :class:`~chatkit.server.instructor.InstructorDesk`,
the same desk the instructor's page (``/_instructor/``) drives. Names and rooms are
other people's text: they go into ``Label`` widgets only, which show text and never
markup.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any, Callable

__all__ = ["ClassView"]

#: Seconds between two looks at the roster while the view is shown.
REFRESH_EVERY = 0.5


class ClassView:
    """The class of a live server (:func:`chatkit.start`'s), for its instructor.

    One view of a server refreshes at a time: showing a new one (re-running the
    cell) stops the old one's refreshing, and so does ``close()``.

    Args:
        server: what ``chatkit.start()`` returned.
        folder: where :meth:`export` writes transcripts (default: the current folder).
    """

    def __init__(self, server: Any, folder: str | Path = ".") -> None:
        self.server = server
        self.desk = server.server.desk
        self.folder = Path(folder)
        self._widget: Any = None
        self._seen = -1
        self._timer: asyncio.TimerHandle | None = None

    #: The view of each server that refreshes now (by the server's id).
    _showing: dict[int, ClassView] = {}

    def close(self) -> None:
        """Stop refreshing and close the widgets."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if ClassView._showing.get(id(self.server)) is self:
            del ClassView._showing[id(self.server)]
        if self._widget is not None:
            self._widget.close()

    # -- the actions (any thread) ----------------------------------------------------

    def _on_server(self, make: Callable[[], Any], timeout: float = 5) -> Any:
        """Run ``make()`` (a value or a coroutine) on the server's loop; its result."""
        async def call() -> Any:
            result = make()
            return await result if asyncio.iscoroutine(result) else result

        loop = self.server.loop
        if loop is None:
            raise RuntimeError("the server is not running: chatkit.start() it first")
        return asyncio.run_coroutine_threadsafe(call(), loop).result(timeout)

    def rooms(self) -> dict[str, list[dict[str, Any]]]:
        """Each room's members now: name, since (epoch seconds), messages, muted."""
        return self._on_server(self.desk.roster.rooms)

    def mute(self, name: str) -> None:
        """What ``name`` says is not sent, until :meth:`unmute`."""
        self._on_server(lambda: self.desk.mute(name))

    def unmute(self, name: str) -> None:
        self._on_server(lambda: self.desk.unmute(name))

    def remove(self, name: str, room: str | None = None) -> int:
        """Close ``name``'s connections (in ``room`` only, if given) and keep the name
        out while the server runs."""
        return self._on_server(lambda: self.desk.remove(name, room))

    def announce(self, text: str) -> list[str]:
        """Say ``text`` to every room; returns the rooms."""
        return self._on_server(lambda: self.desk.announce(text))

    def export(self, room: str) -> Path:
        """Write the room's transcript (JSON lines) to ``<folder>/<room>.jsonl``; its path."""
        text = self._on_server(lambda: self.desk.roster.transcript(room))
        safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in room) or "room"
        path = self.folder / f"{safe}.jsonl"
        path.write_text(text, encoding="utf-8")
        return path

    # -- the widget (the kernel's thread) ----------------------------------------------

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget())

    def widget(self) -> Any:
        """The view: a table of rooms and members with buttons, an announcement box."""
        if self._widget is None:
            import ipywidgets as widgets

            previous = ClassView._showing.get(id(self.server))
            if previous is not None and previous is not self:
                previous.close()
            ClassView._showing[id(self.server)] = self

            self._title = widgets.Label()
            self._table = widgets.VBox()
            self._announcement = widgets.Text(placeholder="An announcement to every room")
            announce = widgets.Button(description="Announce")
            announce.on_click(lambda _: self._announce())
            self._announcement.on_submit(lambda _: self._announce())
            self._said = widgets.Label()
            self._widget = widgets.VBox([
                self._title, widgets.HBox([self._announcement, announce]), self._table,
                self._said])
            self._widget.add_class("chatkit-class-view")
            self._refresh()
        return self._widget

    def _announce(self) -> None:
        text = self._announcement.value.strip()
        if text:
            rooms = self.announce(text)
            self._said.value = f"Announced to {len(rooms)} rooms: {text}"
            self._announcement.value = ""

    def _act(self, action: Callable[[], Any], done: str) -> None:
        action()
        self._said.value = done
        self._refresh()

    def _refresh(self) -> None:
        """Redraw if the roster moved; look again in a moment while the server runs."""
        import ipywidgets as widgets

        if self._timer is not None:
            self._timer.cancel()
        if ClassView._showing.get(id(self.server)) is not self:
            return  # closed, or another view took over
        if not self.server.running:
            self._title.value = "The class: the server is stopped"
            return
        version = self._on_server(lambda: self.desk.roster.version)
        if version != self._seen:
            self._seen = version
            rooms = self.rooms()
            people = sum(len(members) for members in rooms.values())
            self._title.value = f"The class: {people} people in {len(rooms)} rooms"
            rows = []
            for room, members in rooms.items():
                export = widgets.Button(description=f"Export {room}"[:40])
                export.on_click(lambda _, r=room: self._act(
                    lambda: None, f"Saved {self.export(r)}"))
                rows.append(widgets.HBox([widgets.Label(f"Room {room}"), export]))
                for member in members:
                    name = member["name"]
                    mute = widgets.Button(description="Unmute" if member["muted"] else "Mute")
                    mute.on_click(lambda _, n=name, m=member["muted"]: self._act(
                        (lambda: self.unmute(n)) if m else (lambda: self.mute(n)),
                        f"{'Unmuted' if m else 'Muted'} {n}"))
                    remove = widgets.Button(description="Remove", button_style="danger")
                    remove.on_click(lambda _, n=name, r=room: self._act(
                        lambda: self.remove(n, r), f"Removed {n} for the rest of the class"))
                    row = widgets.HBox([
                        widgets.Label(name + (" (muted)" if member["muted"] else ""),
                                      layout={"width": "14em"}),
                        widgets.Label(time.strftime("%H:%M:%S", time.localtime(member["since"])),
                                      layout={"width": "6em"}),
                        widgets.Label(f"{member['messages']} messages", layout={"width": "8em"}),
                        mute, remove])
                    row.add_class("chatkit-class-member")
                    rows.append(row)
            self._table.children = rows
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            try:
                loop = asyncio.get_event_loop()
            except RuntimeError:
                return
        self._timer = loop.call_later(REFRESH_EVERY, self._refresh)
