"""The server's limits as plain policy: token buckets, connection caps and their defaults.

Nothing here touches a socket or an event loop: the server (:mod:`chatkit.server.app`,
:mod:`chatkit.server.guard`) asks these objects "may this message go?" and "may this
connection in?", passing the time in when it matters. So a limit runs in a doctest::

    >>> limit = RateLimit(burst=2, per_second=1.0)      # one connection's messages
    >>> allow = limit.bucket()
    >>> [allow(now=0.0), allow(now=0.0), allow(now=0.0), allow(now=1.0)]
    [True, True, False, True]

One :class:`TokenBucket` serves every limit: :class:`RateLimit` (messages per
connection) holds one, :class:`ClientLimit` (messages and bytes shared by all the
connections of one client) holds two, and so does each member's budget of private
messages (:class:`Inboxes`, a ``ClientLimit`` per recipient). :class:`Meter` asks a
connection's limits about one frame at its cost (:func:`message_cost`: a ``/name``
costs more than a chat). The constants below are the defaults of
:class:`chatkit.server.ChatServer` and of ``python -m chatkit serve``.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter
from typing import Callable, Hashable, Iterable

from .grammar import NAME, PRIV, Command, may_be_join_or_command, read, split_priv
from .messages import ProtocolError

__all__ = [
    "TokenBucket",
    "RateLimit",
    "ClientLimit",
    "Admission",
    "Meter",
    "Inboxes",
    "message_cost",
    "frame_size",
    "private_recipient",
    "default_max_connections",
    "RATE_BURST",
    "RATE_PER_SECOND",
    "CLIENT_BURST",
    "CLIENT_PER_SECOND",
    "CLIENT_BYTES_BURST",
    "CLIENT_BYTES_PER_SECOND",
    "MAX_PER_CLIENT",
    "JOIN_TIMEOUT",
    "MAX_BUFFER_BYTES",
    "NAME_COST",
    "PRIVATE_BURST",
    "PRIVATE_PER_SECOND",
    "PRIVATE_BYTES_BURST",
    "PRIVATE_BYTES_PER_SECOND",
    "MEMBER_LIST_EVERY",
]

# -- Limits  (each connection; each client, all its connections together) ---------------

#: Messages one connection may send at once, and refilled per second.
RATE_BURST = 30
RATE_PER_SECOND = 15.0
#: Messages all the connections of one client may send at once, and refilled per second.
CLIENT_BURST = 60
CLIENT_PER_SECOND = 30.0
#: Bytes all the connections of one client may send at once, and refilled per second.
CLIENT_BYTES_BURST = 256 * 1024
CLIENT_BYTES_PER_SECOND = 64 * 1024
#: Open connections one client (by default: one address) may have at once.
MAX_PER_CLIENT = 64
#: Seconds a chat connection has to send its join before it is closed.
JOIN_TIMEOUT = 60.0
#: A member whose unsent data passes this many bytes has stopped reading: drop it.
MAX_BUFFER_BYTES = 1024 * 1024
#: What a ``/name`` costs, in messages, of the connection's rate and the client's budget:
#: a rename tells every member (a note, and a member list to those who asked).
NAME_COST = 5
#: Private messages (``/priv``) one member may be sent at once, by everyone together,
#: and refilled per second; the same in bytes. Past it the sender gets an error.
PRIVATE_BURST = 20
PRIVATE_PER_SECOND = 10.0
PRIVATE_BYTES_BURST = 128 * 1024
PRIVATE_BYTES_PER_SECOND = 32 * 1024
#: Seconds between two member lists to one member, at least: the lists of a burst of
#: joins, leaves and renames wait, and only the newest is sent.
MEMBER_LIST_EVERY = 0.5


class TokenBucket:
    """At most ``capacity`` tokens, refilled at ``rate`` a second; full at first.

    ``take(amount, now)`` spends tokens if there are enough, else spends nothing.
    The clock starts at the first call; ``now`` defaults to ``time.monotonic()``.

    >>> bucket = TokenBucket(capacity=3, rate=1.0)
    >>> [bucket.take(2, now=0.0), bucket.take(2, now=0.0), bucket.take(2, now=1.0)]
    [True, False, True]

    """

    __slots__ = ("capacity", "rate", "tokens", "last")

    def __init__(self, capacity: float, rate: float) -> None:
        self.capacity = capacity
        self.rate = rate
        self.tokens = float(capacity)
        self.last: float | None = None

    def refill(self, now: float) -> float:
        """Add what flowed in since the last call (up to ``capacity``); the tokens now."""
        if self.last is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.last) * self.rate)
        self.last = now
        return self.tokens

    def take(self, amount: float = 1, now: float | None = None) -> bool:
        """Spend ``amount`` tokens if there are that many; False (nothing spent) if not."""
        return take_all(((self, amount),), now)


def take_all(costs: tuple[tuple[TokenBucket, float], ...], now: float | None = None) -> bool:
    """Spend from every bucket at once, or from none: ``((bucket, amount), ...)``.

    >>> messages, size = TokenBucket(5, 1.0), TokenBucket(100, 10.0)
    >>> take_all(((messages, 1), (size, 120)), now=0.0), messages.tokens
    (False, 5.0)

    """
    now = time.monotonic() if now is None else now
    enough = True
    for bucket, amount in costs:
        enough = bucket.refill(now) >= amount and enough  # refill them all, whatever the answer
    if enough:
        for bucket, amount in costs:
            bucket.tokens -= amount
    return enough


@dataclasses.dataclass
class RateLimit:
    """At most ``burst`` messages at once, refilled at ``per_second`` (a token bucket).

    >>> limit = RateLimit(burst=2, per_second=1.0)
    >>> bucket = limit.bucket()
    >>> [bucket(now=0.0), bucket(now=0.0), bucket(now=0.0), bucket(now=1.0)]
    [True, True, False, True]

    """

    burst: int = RATE_BURST
    per_second: float = RATE_PER_SECOND

    def bucket(self) -> Callable[..., bool]:
        """A fresh bucket for one connection: call it per message; False means too fast."""
        return TokenBucket(self.burst, self.per_second).take

    def describe(self) -> str:
        return f"{self.per_second:g} messages a second"

    def pause(self, cost: float = 1) -> float:
        """Seconds to stop reading a connection that went too fast: at most a second."""
        return min(1.0, cost / self.per_second)


@dataclasses.dataclass(frozen=True)
class ClientLimit:
    """A budget shared by all the connections of one client: messages and bytes.

    Ten connections from one script get what one connection gets, not ten times it.
    A token bucket each: ``burst`` at once, refilled at ``per_second``.

    >>> budget = ClientLimit(burst=2, per_second=1.0, bytes_burst=100, bytes_per_second=10)
    >>> spend = budget.spender()
    >>> [spend(60, now=0.0), spend(60, now=0.0), spend(40, now=0.0), spend(1, now=0.0)]
    [True, False, True, False]

    """

    burst: int = CLIENT_BURST
    per_second: float = CLIENT_PER_SECOND
    bytes_burst: int = CLIENT_BYTES_BURST
    bytes_per_second: float = CLIENT_BYTES_PER_SECOND

    def spender(self) -> Callable[..., bool]:
        """A fresh budget for one client: call it with each message's size in bytes
        (and ``messages_cost=``, what it counts for in messages: 1 by default)."""
        messages = TokenBucket(self.burst, self.per_second)
        size = TokenBucket(self.bytes_burst, self.bytes_per_second)

        def spend(nbytes: int, now: float | None = None, messages_cost: float = 1) -> bool:
            return take_all(((messages, messages_cost), (size, nbytes)), now)

        return spend

    def pause(self, nbytes: int, cost: float = 1) -> float:
        """Seconds to stop reading a client that overspent: what its message costs in
        time, at most a second. Unread, its frames wait in TCP (it must slow down)
        instead of costing the server a read, a decode and a refusal each."""
        return min(1.0, max(cost / self.per_second, nbytes / self.bytes_per_second))

    def describe(self) -> str:
        return (f"{self.per_second:g} messages and {self.bytes_per_second / 1024:g} KiB"
                " a second")

    @property
    def refill_seconds(self) -> float:
        """How long an emptied budget takes to be full again: after that, a fresh one is
        the same (``ClientLimit().refill_seconds`` is 4.0: 256 KiB at 64 KiB a second)."""
        return max(self.burst / self.per_second, self.bytes_burst / self.bytes_per_second)


@dataclasses.dataclass
class Admission:
    """Open connections, in total and per client key; refusals past the caps.

    ``admit(key)`` returns None (come in: counted) or the reason for a refusal
    (nothing counted). Each admitted connection is ``release``-d exactly once.
    ``key=None`` counts a connection in the total only (its client is not known yet,
    or is exempt); ``admit_client`` / ``release_client`` count it to a client later.

    >>> admission = Admission(max_connections=2, max_per_client=1)
    >>> admission.admit("10.0.0.7"), admission.admit("10.0.0.7")
    (None, 'too many connections from you (limit 1): try again later')
    >>> admission.release("10.0.0.7")

    """

    max_connections: int | None = None
    max_per_client: int | None = None
    total: int = 0
    per_client: Counter = dataclasses.field(default_factory=Counter)

    def admit(self, key: str | None) -> str | None:
        """Count a connection of client ``key`` in, or say why not."""
        if self.max_connections is not None and self.total >= self.max_connections:
            return f"the server is full ({self.max_connections} connections): try again later"
        refusal = self.admit_client(key)
        if refusal is None:
            self.total += 1
        return refusal

    def admit_client(self, key: str | None) -> str | None:
        """Count an already admitted connection to client ``key``, or say why not."""
        if key is None:
            return None
        if self.max_per_client is not None and self.per_client[key] >= self.max_per_client:
            return (f"too many connections from you (limit {self.max_per_client}):"
                    " try again later")
        self.per_client[key] += 1
        return None

    def release(self, key: str | None) -> None:
        """A counted connection closed."""
        self.total -= 1
        self.release_client(key)

    def release_client(self, key: str | None) -> None:
        if key is not None:
            self.per_client[key] -= 1
            if self.per_client[key] <= 0:
                del self.per_client[key]


def default_max_connections(file_limit: int) -> int:
    """Connections to accept at most, leaving room for the rest of the process.

    >>> default_max_connections(1024), default_max_connections(60)
    (896, 16)

    """
    return max(16, min(file_limit - max(64, file_limit // 8), 100_000))


#: Each member's budget of private messages, from everyone together (:class:`Inboxes`).
PRIVATE_LIMIT = ClientLimit(PRIVATE_BURST, PRIVATE_PER_SECOND, PRIVATE_BYTES_BURST,
                            PRIVATE_BYTES_PER_SECOND)


def frame_size(frame: str | bytes) -> int:
    """A frame's size in bytes, as it came over the wire."""
    return len(frame.encode()) if isinstance(frame, str) else len(frame)


def _command(frame: str | bytes) -> Command | None:
    """The command ``frame`` holds, or None (a chat, a join, or not the protocol at all)."""
    if not may_be_join_or_command(frame):
        return None
    try:
        message = read(frame)
    except ProtocolError:
        return None
    return message if isinstance(message, Command) else None


def message_cost(frame: str | bytes) -> int:
    """What ``frame`` costs, in messages: 1, and :data:`NAME_COST` for a ``/name``
    (a rename tells the whole room: a note each, and a member list to those who asked).

    >>> message_cost('{"type": "chat", "text": "hi"}'), message_cost('{"type": "chat", "text": "/name Bo"}')
    (1, 5)

    """
    command = _command(frame)
    return NAME_COST if command is not None and command.word == NAME else 1


def private_recipient(frame: str | bytes, names: Iterable[str] | Callable[[], Iterable[str]],
                      room: str) -> str | None:
    """Whom ``frame`` would send a private message to (one of ``names``), or None.

    >>> private_recipient('{"type": "chat", "text": "/priv bob hi"}', ["ann", "bob"], "people")
    'bob'
    >>> private_recipient('{"type": "chat", "text": "/priv eve hi"}', ["ann"], "people") is None
    True

    ``names`` may be a function that lists them: it is called only for a ``/priv``
    (a plain chat, the frame nearly every time, costs a substring test).
    """
    command = _command(frame)
    if command is None or command.word != PRIV:
        return None
    try:
        return split_priv(command.rest, names() if callable(names) else names, room)[0]
    except ProtocolError:
        return None  # the handler answers it with the error


@dataclasses.dataclass
class Meter:
    """What one connection may send: its own rate and its client's shared budget, each
    frame at its cost (:func:`message_cost`). The server asks it about every frame a
    client sends on any route (chat or demo), and about every number ``/random`` sends.

    ``charge(frame)`` spends, and returns None, or (what to tell the client, seconds
    to stop reading it) and spends nothing::

        >>> meter = Meter(RateLimit(burst=6, per_second=1.0))
        >>> meter.charge('{"type": "chat", "text": "/name Bo"}', now=0.0) is None
        True
        >>> meter.charge('{"type": "chat", "text": "/name Al"}', now=0.0)[0]
        'slow down: at most 1 messages a second (a /name counts as 5); that message was not sent'

    """

    rate_limit: RateLimit | None = None
    client_limit: ClientLimit | None = None
    spend: Callable[..., bool] | None = None  # the client's budget (client_limit's spender)

    def __post_init__(self) -> None:
        self.allow = self.rate_limit.bucket() if self.rate_limit is not None else None

    def charge(self, frame: str | bytes, now: float | None = None) -> tuple[str, float] | None:
        """Spend what ``frame`` costs, or say why not and how long to stop reading."""
        if self.allow is None and self.spend is None:
            return None
        cost = message_cost(frame)
        counts = f" (a /name counts as {cost})" if cost != 1 else ""
        if self.allow is not None and not self.allow(cost, now):
            assert self.rate_limit is not None
            return (f"slow down: at most {self.rate_limit.describe()}{counts};"
                    " that message was not sent", self.rate_limit.pause(cost))
        size = frame_size(frame)
        if self.spend is not None and not self.spend(size, now, cost):
            limit = self.client_limit or ClientLimit()
            return (f"slow down: your connections together may send at most"
                    f" {limit.describe()}{counts}; that message was not sent",
                    limit.pause(size, cost))
        return None

    def afford(self, nbytes: int, now: float | None = None) -> bool:
        """Spend ``nbytes`` of the client's bytes budget on what the server sends it in
        answer (a room's history), if there are that many; True if spent (or no budget).

        A join of 50 bytes may ask for 32 KiB of history: without this, a client that
        joins again and again could make the server send it far more than it sends.

            >>> meter = Meter(client_limit=ClientLimit(bytes_burst=1000, bytes_per_second=10),
            ...               spend=ClientLimit(bytes_burst=1000, bytes_per_second=10).spender())
            >>> meter.afford(600, now=0.0), meter.afford(600, now=0.0), meter.afford(400, now=0.0)
            (True, False, True)

        """
        return self.spend is None or self.spend(nbytes, now, 0)


class Inboxes:
    """A budget per recipient of private messages, spent by all their senders together:
    twelve classmates within their own budgets cannot drown one reader.

    ``admit(recipient, nbytes)`` spends from that recipient's budget (a
    :class:`ClientLimit`, made on first use); False: refuse the message.

        >>> inboxes = Inboxes(ClientLimit(burst=2, per_second=1.0, bytes_burst=10**6,
        ...                               bytes_per_second=10**6))
        >>> [inboxes.admit("bob", 10, now=0.0) for sender in range(3)]
        [True, True, False]
        >>> inboxes.admit("ann", 10, now=0.0)
        True

    At most ``keep`` recipients are remembered (the oldest forgotten first).
    """

    def __init__(self, limit: ClientLimit = PRIVATE_LIMIT, keep: int = 4096) -> None:
        self.limit = limit
        self.keep = keep
        self.budgets: dict[Hashable, Callable[..., bool]] = {}

    def admit(self, recipient: Hashable, nbytes: int, now: float | None = None) -> bool:
        """Spend one private message of ``nbytes`` to ``recipient``, if its budget allows."""
        spend = self.budgets.pop(recipient, None)
        if spend is None:
            spend = self.limit.spender()
            while len(self.budgets) >= self.keep:
                del self.budgets[next(iter(self.budgets))]
        self.budgets[recipient] = spend  # the newest last
        return spend(nbytes, now)

    def describe(self) -> str:
        return (f"{self.limit.per_second:g} private messages and"
                f" {self.limit.bytes_per_second / 1024:g} KiB a second")
