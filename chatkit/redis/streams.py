"""``StreamReader``: a server's reading of its rooms' Redis Streams, from the last id it saw.

Each room's messages go into one stream, ``chatkit:stream:<room>``
(``XADD ... MAXLEN ~ 10000``). A server reads the streams of the rooms it has members
in, with one blocking ``XREAD`` from the last id it saw in each -- so a server whose
connection dropped (or whose Redis restarted) picks up where it stopped, instead of
losing what was said meanwhile as with publish/subscribe::

    positions = {"chatkit:stream:people": "0-0"}
    reader = StreamReader(redis_client, positions)
    async for message in reader.listen():      # what RedisRoom.listen loops over
        message  # {"type": "message", "channel": "chatkit:stream:people", "data": "all a7f3\\n..."}

It yields the same dicts as redis-py's ``PubSub.listen()``, so a room's ``listen(pubsub,
deliver)`` (notebook 7's) runs over it unchanged. ``positions`` is shared with the hub: a
room the server just joined is added there, and ``wake()`` (``CLIENT UNBLOCK``, sent
by the hub on another connection) makes the waiting ``XREAD`` start again with it.
"""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator

__all__ = ["StreamReader", "MAXLEN", "FIELD"]

#: Entries each room's stream keeps, about (``MAXLEN ~``: Redis trims whole nodes).
MAXLEN = 10_000
#: The one field of each entry: the payload (:mod:`chatkit.redis.envelope`).
FIELD = "m"


class StreamReader:
    """Read the streams in ``positions`` (key -> last id seen) and yield each entry.

    Args:
        client: a redis-py asyncio client with a connection of its own (a blocking
            ``XREAD`` holds it).
        positions: stream key -> the last id read; updated as entries are yielded.
        block: seconds one ``XREAD`` waits for news.
        count: entries one ``XREAD`` takes per stream, at most.
    """

    def __init__(self, client: Any, positions: dict[str, str], *, block: float = 2.0,
                 count: int = 500) -> None:
        self.client = client
        self.positions = positions
        self.block = block
        self.count = count
        self.changed = asyncio.Event()
        self.id: int | None = None  # this connection's CLIENT ID, for CLIENT UNBLOCK

    async def connect(self) -> None:
        """Open the connection and learn its id (``wake`` needs it)."""
        self.id = await self.client.client_id()

    async def listen(self) -> AsyncIterator[dict[str, Any]]:
        """Every entry of every stream in ``positions``, in each stream's order, forever."""
        while True:
            if not self.positions:  # no room here yet: wait for one (bounded waits)
                self.changed.clear()
                try:
                    await asyncio.wait_for(self.changed.wait(), self.block)
                except TimeoutError:
                    pass
                continue
            answer = await self.client.xread(dict(self.positions), count=self.count,
                                             block=max(1, int(self.block * 1000)))
            for stream, entries in answer or ():
                for entry_id, fields in entries:
                    if stream in self.positions:
                        self.positions[stream] = entry_id
                        yield {"type": "message", "channel": stream, "data": fields.get(FIELD, "")}

    def wake(self) -> None:
        """A stream was added to ``positions``: read it from now on."""
        self.changed.set()
