"""Behaviour checks for the course's exercises: run one after each exercise.

Each check runs your code the way the server would and prints, in plain words,
a line per behaviour -- what works (✓) and what does not yet (✗), with what was
expected, what happened, and a hint::

    from chatkit import checks
    checks.check_chat_user(ChatUser)     # notebook 3
    checks.check_room(Room)              # notebook 4

An exercise you have not written yet (it still raises ``NotImplementedError``)
is reported as "not done yet", never as a traceback. The last line sums up:
``All 7 checks pass.`` or ``3 of 7 checks pass ...``.

What the checks expect of your classes (the contract):

- ``Room`` keeps every room in a dict class attribute ``rooms`` (name -> room),
  filled by the classmethod ``Room.get(name)``; a room has ``name``,
  ``members`` (a dict or list, in join order), ``join(member)``,
  ``leave(member)`` and ``broadcast(data)`` (``data`` a dict, sent as JSON text,
  a ``str``: never bytes). Leaving when not a member is harmless; an empty room
  is forgotten, but only if ``Room.rooms`` still holds *that* room.
- ``ChatUser(send, room_name)`` finds its room with ``self.Room.get(room_name)``
  (``Room`` is a class attribute: where rooms come from), keeps it in
  ``self.room``, and has ``name`` (None until it joins), ``send(text)``,
  ``handle_message(raw)``, ``handle_join(name)``, ``handle_chat(text)`` and
  ``handle_close()``. Nothing escapes ``handle_message`` in notebook 5: every row
  of PROTOCOL.md's bad input gets an error to the sender.
- Messages are compared as parsed JSON, never as text: ``json.dumps``'s default
  output and compact separators are both right.

Each check starts from an empty registry: it empties ``Room.rooms`` (of your
``Room``, or of ``ChatUser.Room``) before it runs and puts the rooms back
afterwards. Each behaviour has :data:`LIMIT` seconds (3): code that hangs is
stopped and reported as "took longer than 3 s", at its own line. A failing line
points at the line of *your* cell that raised. If the cell that defines the class
raised, the check says it would be testing the older class, and tests nothing.
Each result has a ``group`` ("join", "leave", "registry", ...) for graders.

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
try:
    from .redis_room import check_redis_room, run_redis_room  # notebook 7 (needs redis-py)
except ImportError:
    pass

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
    "LIMIT",
    "Report",
    "Result",
    "OK",
    "FAIL",
    "NOT_DONE",
]


def check(subject: Any) -> None:
    """Print the checks that fit ``subject``: a Room, a ChatUser, a route handler."""
    if isinstance(subject, type) and hasattr(subject, "broadcast"):
        check_room(subject)
    elif isinstance(subject, type) and hasattr(subject, "handle_message"):
        check_chat_user(subject)
    elif _is_async_handler(subject):
        check_route(subject)
    elif callable(subject):
        check_client(subject)
    else:
        raise TypeError(f"no checks for {subject!r}: pass a Room, a ChatUser or a handler")
