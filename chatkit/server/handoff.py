"""Connections handed from the supervisor of ``serve --workers N`` to its workers.

The supervisor listens on the class's one port and accepts each connection itself;
it hands the accepted socket -- the open file descriptor, not its bytes -- to the
worker that serves every connection of that client's address, over a Unix socket
(``SCM_RIGHTS``: :func:`socket.send_fds`). The worker serves it as if it had
accepted it; the supervisor is then out of the way, and each message goes from the
client to the worker directly. One client, one worker: its per-client caps and its
message budget (:mod:`chatkit.server.guard`) count all of its connections.

Supervisor::

    channel, worker_end = channel_pair()         # worker_end goes to the worker (pass_fds)
    connection, (address, _) = listener.accept()
    hand_over(channel, connection)               # False: the worker is gone or stalled
    connection.close()                           # the worker holds its own copy now

Worker (asyncio's own accept loop reads the channel)::

    await loop.create_server(factory, sock=HandedSockets(fd, on_end=stop.set))

>>> worker_for("127.0.0.2", 3) == worker_for("127.0.0.2", 3)   # the same in every process
True
"""

from __future__ import annotations

import asyncio
import socket
import zlib
from typing import Callable

__all__ = ["HandedSockets", "channel_pair", "hand_over", "worker_for", "can_hand_over"]


def can_hand_over() -> bool:
    """True where sockets can be sent between processes (``socket.send_fds``: Unix)."""
    return hasattr(socket, "send_fds") and hasattr(socket, "AF_UNIX")


def worker_for(address: str, workers: int) -> int:
    """The worker (``0`` to ``workers - 1``) for every connection from ``address``.

    A stable hash (CRC-32, not Python's ``hash``, which each process salts), so a
    restarted supervisor routes a client as before.

    >>> worker_for("10.0.0.7", 1)
    0
    """
    return zlib.crc32(address.encode()) % workers


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """A connected pair of Unix stream sockets: (the supervisor's end, the worker's end).

    The supervisor's end does not block: a stalled worker whose channel is full makes
    :func:`hand_over` return False at once instead of holding every other client up.
    The worker's end is inheritable, for ``subprocess.Popen(pass_fds=...)``.
    """
    mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    mine.setblocking(False)
    theirs.set_inheritable(True)
    return mine, theirs


def hand_over(channel: socket.socket, connection: socket.socket) -> bool:
    """Send ``connection`` down ``channel`` (one byte, one descriptor); True if sent.

    False if the worker cannot take it now: its channel is full (a stalled worker, or
    one that is not back yet). ``ConnectionError`` if the worker's end is closed: it is
    dead. The caller closes its own ``connection`` either way (the worker has a copy).
    """
    try:
        return socket.send_fds(channel, [b"\0"], [connection.fileno()]) == 1
    except ConnectionError:  # BrokenPipeError, ConnectionResetError: nobody at the other end
        raise
    except OSError:  # BlockingIOError (full), ETOOMANYREFS (too many sockets in flight)
        return False


class HandedSockets(socket.socket):
    """The worker's end of its channel, dressed as a listening socket for asyncio.

    ``loop.create_server(factory, sock=HandedSockets(fd))`` reads it with asyncio's own
    accept loop (a batch per wake-up, and its handling of running out of file
    descriptors): each :meth:`accept` takes one socket the supervisor sent. When the
    supervisor is gone (the channel ends) ``on_end()`` is called once: a worker
    without its supervisor gets no new connections, so it should stop.
    """

    def __init__(self, fileno: int, on_end: Callable[[], object] | None = None) -> None:
        super().__init__(fileno=fileno)
        self.on_end = on_end

    def listen(self, backlog: int = 0) -> None:
        """Nothing to do: the supervisor listens."""

    def accept(self) -> tuple[socket.socket, object]:  # type: ignore[override]
        """The next socket handed over, and its peer's address.

        ``BlockingIOError`` when none waits (asyncio then waits for the next);
        ``ConnectionAbortedError`` for one whose client already left, or at the end.
        """
        message, fds, _flags, _address = socket.recv_fds(self, 1, 1)
        if not fds:
            if message:
                raise ConnectionAbortedError("a byte without a socket")
            self._ended()
            raise ConnectionAbortedError("the supervisor is gone")
        connection = socket.socket(fileno=fds[0])
        try:
            peer = connection.getpeername()
        except OSError:  # the client left before the worker got to it
            connection.close()
            raise ConnectionAbortedError("the client left") from None
        return connection, peer

    def _ended(self) -> None:
        try:  # no more wake-ups for a channel at its end
            asyncio.get_running_loop().remove_reader(self.fileno())
        except RuntimeError:  # not on a loop: a direct call
            pass
        on_end, self.on_end = self.on_end, None
        if on_end is not None:
            on_end()
