"""chatkit: a live group chat over WebSockets, built step by step in Jupyter.

The finished, reference version of everything the course builds:

- :class:`ChatUser` and :class:`Room`, the protocol core, free of I/O;
- :func:`serve`, the server (``/chat/<room>`` and the chat page on one port);
- :func:`start`, the same server live inside a notebook, in one cell;
- :class:`WebSocket`, a browser-style client with ``onopen``, ``onmessage``,
  ``onerror`` and ``onclose``;
- :class:`ChatPanel`, a chat client made of ipywidgets, for notebooks.

Quick start in a notebook::

    import chatkit
    server = chatkit.start()        # prints a link to open in the browser
    server.stop()

"""

from .core.messages import ProtocolError
from .core.room import Room
from .core.user import ChatUser

__all__ = [
    "ChatUser",
    "Room",
    "ProtocolError",
    "serve",
    "start",
    "WebSocket",
    "InvalidStateError",
    "LiveServer",
    "ChatPanel",
    "class_room",
]

__version__ = "0.1.0"


def __getattr__(name):
    # The I/O shells import websockets; the core above does not need it.
    if name == "serve":
        from .server.app import serve

        return serve
    if name in ("start", "LiveServer"):
        from .notebook import live

        return getattr(live, name)
    if name in ("WebSocket", "InvalidStateError"):
        from .notebook import client

        return getattr(client, name)
    if name == "class_room":
        from .server.jupyterhub import class_room

        return class_room
    if name == "ChatPanel":
        from .notebook.panel import ChatPanel

        return ChatPanel
    raise AttributeError(f"module 'chatkit' has no attribute {name!r}")
