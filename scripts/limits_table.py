"""Print docs/security.md's two tables -- the limits and the server's options -- from the code.

The figures come from chatkit's own defaults (``ChatServer``'s keyword arguments,
``RateLimit()``, ``ClientLimit()``, the message limits of :mod:`chatkit.core.messages`)
and from websockets (its fragment cap, its close codes), so the page cannot drift
from what the server does; ``tests/docs/test_limits_table.py`` fails when it has::

    .venv/bin/python scripts/limits_table.py            # print both tables
    .venv/bin/python scripts/limits_table.py --write    # rewrite them in docs/security.md

In docs/security.md each table sits between ``<!-- begin NAME: ... -->`` and
``<!-- end NAME -->`` (NAME: ``limits`` or ``options``); ``--write`` replaces only that.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from markdown_blocks import ROOT, markdown_table, run  # noqa: E402  (scripts/, beside this one)

__all__ = ["limits_table", "options_table", "TABLES", "main"]

PAGE = ROOT / "docs" / "security.md"


def _defaults() -> dict:
    """What a server started with no options uses: ``ChatServer``'s keyword defaults."""
    from chatkit.server import ChatServer

    return {name: p.default for name, p in inspect.signature(ChatServer).parameters.items()}


def _size(n: int) -> str:
    """``65536`` -> ``"64 KiB"``; ``1048576`` -> ``"1 MiB"``."""
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= scale and n % scale == 0:
            return f"{n // scale:,} {unit}"
    return f"{n:,} bytes"


def _seconds(value: float) -> str:
    """``60.0`` -> ``"60 s"``; ``1 / 15`` -> ``"1/15 s"``."""
    if 0 < value < 1 and abs(1 / value - round(1 / value)) < 1e-9:
        return f"1/{round(1 / value)} s"
    return f"{value:g} s"


def _code(code) -> str:
    """A close code as a reader meets it: ``1009 (`MESSAGE_TOO_BIG`)``."""
    return f"{int(code)} (`{code.name}`)"


def limits_table() -> str:
    """The limits, each with what a client meets when it passes one."""
    from websockets.asyncio.messages import MAX_FRAGMENTS
    from websockets.frames import CloseCode

    from chatkit.core import limits, messages
    from chatkit.server import ClientLimit
    from chatkit.server.guard import default_max_connections

    defaults = _defaults()
    rate, budget = defaults["rate_limit"], ClientLimit()
    files = [(n, default_max_connections(n)) for n in (1024, 4096)]
    most = default_max_connections(1 << 40)
    reserved = ", ".join(f"`{name}`" for name in messages.RESERVED_NAMES)
    too_big, policy = _code(CloseCode.MESSAGE_TOO_BIG), _code(CloseCode.POLICY_VIOLATION)
    not_sent = "error message; that message is not sent, and that connection is not read for"
    rows = [
        ("frame size", _size(messages.MAX_MESSAGE_BYTES), f"connection closed with {too_big}"),
        ("fragments of one message", f"{MAX_FRAGMENTS:,} (websockets' limit)",
         f'connection closed with {int(CloseCode.MESSAGE_TOO_BIG)} ("too many fragments")'),
        ("name", f"{messages.MAX_NAME_LENGTH:,} characters, printable, not starting with `/`,"
         " unique in the room (compared after NFKC and case folding), not " + reserved
         + ", no look-alikes (see below)", "error message"),
        ("chat text", f"{messages.MAX_TEXT_LENGTH:,} characters", "error message"),
        ("room name", f"{messages.MAX_ROOM_NAME_LENGTH:,} characters (after percent-decoding),"
         " printable: no NUL, CR/LF, right-to-left overrides; no mix of Latin, Cyrillic"
         " and Greek letters (the names' rule)",
         f"connection closed with {policy} and the reason"),
        ("message rate, per connection",
         f"bursts of {rate.burst:,}, then {rate.per_second:g} a second; a `/name` counts as"
         f" {limits.NAME_COST}; on every route (`/echo` too, and each number `/random` sends)",
         f"{not_sent} {_seconds(min(1.0, 1 / rate.per_second))} (a `/name`:"
         f" {_seconds(rate.pause(limits.NAME_COST))})"),
        ("budget per client (all its connections together, on every route)",
         f"bursts of {budget.burst:,} messages and {_size(budget.bytes_burst)}, then"
         f" {budget.per_second:g} messages and {_size(int(budget.bytes_per_second))} a second;"
         f" a `/name` counts as {limits.NAME_COST} messages; the bytes of a room's history"
         " sent to it (a join that asks for it) count too; closing and connecting again"
         f" does not refill it (it is kept {_seconds(budget.refill_seconds)} after the last"
         " connection closes)",
         f"{not_sent} what the message costs (at most {_seconds(budget.pause(1 << 40))});"
         " `/random` waits; a history answer over it carries no messages (counted as"
         " missed) after an error that says why"),
        ("private messages (`/priv`) to one member, from everyone together",
         f"bursts of {limits.PRIVATE_BURST:,} and {_size(limits.PRIVATE_BYTES_BURST)}, then"
         f" {limits.PRIVATE_PER_SECOND:g} and {_size(limits.PRIVATE_BYTES_PER_SECOND)} a second"
         " (on when the budget per client is)",
         "error message to the sender; that message is not delivered"),
        ("member lists (`\"want\": [\"members\"]`), to one member",
         f"at most one per {limits.MEMBER_LIST_EVERY:g} s: the first at once, then the"
         " newest", "the lists between are never sent (the newest always is)"),
        ("a client that stops reading",
         f"{_size(defaults['max_buffer'])} of unsent data, whatever filled it"
         " (chats, pongs to its own pings)", "that client is dropped; the room goes on; the log"
         " says who, from where, how much was unsent, and why"),
        ("connections per client", f"{defaults['max_per_client']:,} open at once",
         "the page: 503 with `Retry-After`; a WebSocket: closed with "
         + _code(CloseCode.TRY_AGAIN_LATER)),
        ("connections in total",
         "from the open-file limit (the soft limit is raised to the hard one at start): "
         + ", ".join(f"{n:,} with {limit:,} files" for limit, n in files)
         + f"; {most:,} at most", "the same 503 / " + str(int(CloseCode.TRY_AGAIN_LATER))),
        ("joining", f"within {_seconds(defaults['join_timeout'])} of connecting to"
         " `/chat/<room>`", f"connection closed with {int(CloseCode.POLICY_VIOLATION)}:"
         f' "no join within {_seconds(defaults["join_timeout"])}"'),
    ]
    return markdown_table(("limit", "value", "on breach"), rows)


def options_table() -> str:
    """The options that change those limits: on ``chatkit.serve``, ``chatkit.start``,
    ``ChatServer``, and the flags of ``python -m chatkit serve``."""
    from chatkit.server import ClientLimit
    from chatkit.server.guard import LOOPBACK_NAMES

    defaults = _defaults()
    rate, budget = defaults["rate_limit"], ClientLimit()
    loopback = ", ".join(f"`{name}`" for name in LOOPBACK_NAMES)
    rows = [
        ('`origins=["https://hub.example.org"]`', "`--origin URL` (repeatable)",
         "only the server's own origin"),
        ('`hosts=["chat.example.org"]`', "`--host-name NAME` (repeatable)",
         f"loopback names ({loopback}), when bound to loopback"),
        ("`max_connections=N`", "`--max-connections N`", "from the open-file limit"),
        ("`max_per_client=N` (None: no cap)", "`--max-per-client N` (0: no cap)",
         f"{defaults['max_per_client']:,}"),
        ("`join_timeout=SECONDS` (None: never)", "`--join-timeout SECONDS` (0: never)",
         _seconds(defaults["join_timeout"])),
        ("`client_limit=ClientLimit(...)` (None: off)", "`--no-client-limit` (off)",
         f"{budget.burst:,} messages / {_size(budget.bytes_burst)} at once,"
         f" {budget.per_second:g} / {_size(int(budget.bytes_per_second))} a second"),
        ("`rate_limit=RateLimit(...)` (None: off)", "—",
         f"{rate.burst:,} messages at once, {rate.per_second:g} a second, per connection;"
         " None also turns off the per-client budget (and each member's budget of private"
         " messages) unless `client_limit` is given (the benchmark's setting)"),
        ("`max_buffer=BYTES`", "—", _size(defaults["max_buffer"])),
        ("`client_key=callable`", "—", "the peer's IP address"),
    ]
    return markdown_table(("option", "CLI flag", "default"), rows)


#: Each generated table by its block name in docs/security.md.
TABLES = {"limits": limits_table, "options": options_table}


def main(argv: list[str]) -> int:
    return run(argv, PAGE, TABLES, __doc__)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # run from a checkout: this tree's chatkit
    sys.exit(main(sys.argv[1:]))
