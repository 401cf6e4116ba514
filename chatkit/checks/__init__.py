"""Behaviour checks for the course's exercises: run one after each exercise.

Each check runs your code the way the server would -- beside the reference,
through generated sessions -- and prints, in plain words, a line per behaviour:
what works (✓) and what does not yet (✗)::

    from chatkit import checks
    checks.check_chat_user(ChatUser)     # notebook 3
    checks.check_room(Room)              # notebook 4
    checks.check_history(History)        # notebook 8

How: a session is people connecting, joining, chatting, leaving and losing their
connection in any order, in rooms and under names that differ only in case,
accents, hyphens or spaces (:mod:`.engine`). After every step, what each member
received from your code is compared with what the reference sends -- as parsed
JSON, so key order and spacing are yours -- and where the protocol leaves a choice
(an error's wording, a name the reference refuses) any answer it allows passes
(:mod:`.freedoms`, the one place that says what is free). A ✗ shows the shortest
session that goes wrong: its steps, what the reference sent to whom, what yours
sent, and the line of your code on that path. The sessions are the same on every
run (a fixed seed), so a check says the same thing twice.

An exercise you have not written yet (it still raises ``NotImplementedError``)
is reported as "not done yet", never as a traceback. The last line sums up:
``All 6 checks pass.`` or ``3 of 6 checks pass ...``.

What the checks expect of your classes (the contract):

- ``Room`` keeps every room in a dict class attribute ``rooms`` (name -> room),
  filled by the classmethod ``Room.get(name)``; a room has ``name``,
  ``members`` (a dict or list, in join order), ``join(member)``,
  ``leave(member)`` and ``broadcast(data)`` (``data`` a dict, sent as JSON text,
  a ``str``, encoded once for all the members). Leaving when not a member is
  harmless; an empty room is forgotten, but only if ``Room.rooms`` still holds
  *that* room.
- ``ChatUser(send, room_name)`` finds its room with ``self.Room.get(room_name)``
  (``Room`` is a class attribute: where rooms come from), keeps it in
  ``self.room`` -- and asks again when it joins, as the room may have emptied out
  meanwhile -- and has ``name`` (None until it joins), ``send(text)``,
  ``handle_message(raw)``, ``handle_join(name)``, ``handle_chat(text)`` and
  ``handle_close()``. Nothing escapes ``handle_message`` in notebook 5: every row
  of docs/protocol.md's bad input gets an error to the sender.

Each session starts from an empty registry: the check empties ``Room.rooms`` (of
your ``Room``, or of ``ChatUser.Room``) and puts the rooms back afterwards. Each
step of your code has :data:`LIMIT` seconds (3): code that hangs is stopped and
reported as "took longer than 3 s", at its own line (:mod:`.limits`). If the
cell that defines the class raised, the check says it would be testing the
older class, and tests nothing. A line that says "the check could not run" is
the check's own failure, never yours: tell your instructor. Each result has a
``group`` ("join", "leave", "registry", ...) for graders.

Stuck? ``reference.solution("Room")`` prints a solution to paste into the
exercise cell (see :mod:`chatkit.reference`).

Every ``check_*`` function prints its report; the matching ``run_*`` function
returns it (a :class:`Report`) without printing.
"""

from __future__ import annotations

from typing import Any

from .chat_user import (check_chat_user, check_commands, check_errors, run_chat_user,
                        run_commands, run_errors)
from .report import FAIL, LIMIT, NOT_DONE, OK, Report, Result
from .render import check_render, run_render
from .room import check_room, run_room
from .sockets import _is_async_handler, check_client, check_route, run_client, run_route
from .redis_room import check_redis_room, run_redis_room  # notebook 7 (needs redis-py)
from .backoff import check_backoff, run_backoff  # notebook 8
from .replay import check_history, run_history
from .reconnecting import check_reconnecting, run_reconnecting

__all__ = [
    "check",
    "check_client",
    "check_route",
    "check_chat_user",
    "check_room",
    "check_errors",
    "check_commands",
    "check_render",
    "run_client",
    "run_route",
    "run_chat_user",
    "run_room",
    "run_errors",
    "run_commands",
    "run_render",
    "check_redis_room",
    "run_redis_room",
    "check_backoff",
    "run_backoff",
    "check_history",
    "run_history",
    "check_reconnecting",
    "run_reconnecting",
    "LIMIT",
    "Report",
    "Result",
    "OK",
    "FAIL",
    "NOT_DONE",
]


def check(subject: Any) -> None:
    """Print the checks that fit ``subject``: a Room, a ChatUser, a route handler ...

    ... and notebook 8's History, Reconnecting and backoff."""
    import inspect

    if isinstance(subject, type) and hasattr(subject, "since"):
        check_history(subject)
    elif isinstance(subject, type) and hasattr(subject, "handle_close"):
        check_reconnecting(subject)
    elif inspect.isfunction(subject) and "attempt" in inspect.signature(subject).parameters:
        check_backoff(subject)
    elif isinstance(subject, type) and hasattr(subject, "broadcast"):
        check_room(subject)
    elif isinstance(subject, type) and hasattr(subject, "handle_message"):
        check_chat_user(subject)
    elif _is_async_handler(subject):
        check_route(subject)
    elif callable(subject):
        check_client(subject)
    else:
        raise TypeError(f"no checks for {subject!r}: pass a Room, a ChatUser, a handler, a History,"
                        " a Reconnecting or backoff")
