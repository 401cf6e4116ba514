"""The server: the thin I/O shell that gives each connection a ``ChatUser``.

``app`` (the server and its routes), ``pages`` (the chat page over plain HTTP),
``sending`` (each user's ``send``, the connection it writes to, frames built once per
room), ``guard`` (limits and who may connect), ``class_code`` and ``jupyterhub`` (who is
let in), ``workers`` (several processes on one port), ``options`` and ``cli``
(``python -m chatkit serve``). The limits' policy is pure: :mod:`chatkit.core.limits`::

    async with chatkit.server.serve(port=3000) as server:
        await server.serve_forever()

"""

from .app import ChatServer, Event, serve
from .sending import ChatConnection, make_sender
from ..core.limits import ClientLimit, RateLimit

__all__ = ["serve", "ChatServer", "ChatConnection", "Event", "RateLimit", "ClientLimit",
           "make_sender"]
