"""The server: the thin I/O shell that gives each connection a ``ChatUser``.

``app`` (routes and the page), ``frames`` (what goes on the wire, built once per room),
``guard`` (limits and who may connect), ``class_code`` and ``jupyterhub`` (who is let in),
``workers`` (several processes on one port), ``cli`` (``python -m chatkit serve``)::

    async with chatkit.server.serve(port=3000) as server:
        await server.serve_forever()

"""

from .app import ChatConnection, ChatServer, Event, RateLimit, make_sender, serve
from .guard import ClientLimit

__all__ = ["serve", "ChatServer", "ChatConnection", "Event", "RateLimit", "ClientLimit",
           "make_sender"]
