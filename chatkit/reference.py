"""See the reference for a step, and how your code differs from it, in one call.

The reference is chatkit itself: the finished version of everything the course
builds. In a notebook::

    from chatkit import reference
    reference.solution("Room")               # stuck: a Room that passes the check, to paste
    reference.show("Room.leave", exercise=True)  # one method of that solution
    reference.show("ChatUser.handle_join")   # the finished kit's source
    reference.diff(ChatUser)                 # each of your methods beside the reference's

Two kinds of answer: ``solution`` is the exercise's own solution, as short as
the exercise (it pastes into the exercise cell and passes its check: "connect",
"chat", "ChatUser", "Room", "MyChatUser", "render", "SharedRoom", and notebook 8's
"backoff", "History", "Reconnecting"); ``show`` and ``diff`` show
the finished kit -- how chatkit itself does it, with more than the exercise asks.

``diff`` prints a unified diff per method: lines starting with ``-`` are yours,
lines starting with ``+`` are the reference's. The reference also does things
the exercises leave out (checking names, the commands of notebook 5): a longer
reference is not a sign that yours is wrong -- the checks say that.
"""

from __future__ import annotations

import difflib
import inspect
import textwrap
from typing import Any

__all__ = ["show", "diff", "source", "solution", "solution_text", "NAMES"]

#: What ``show`` and ``diff`` know, by the name the notebooks use.
NAMES = {
    "ChatUser": ("chatkit.core.user", "ChatUser"),
    "Room": ("chatkit.core.room", "Room"),
    "ChatServer": ("chatkit.server", "ChatServer"),
    "WebSocket": ("chatkit.notebook.client", "WebSocket"),
    "chat": ("chatkit.server", "ChatServer.chat"),  # the route, notebook 2
    "RedisRoom": ("chatkit.redis.room", "RedisRoom"),  # notebook 7
    "History": ("chatkit.core.history", "RoomHistory"),  # notebook 8: the server's replay
}


def _lookup(name: str) -> Any:
    """``"ChatUser.handle_join"`` -> the reference's function."""
    import importlib

    head, _, rest = name.partition(".")
    if head not in NAMES:
        raise LookupError(f"no reference called {name!r}: try one of {', '.join(NAMES)}")
    module, path = NAMES[head]
    obj: Any = importlib.import_module(module)
    for part in (path + ("." + rest if rest else "")).split("."):
        try:
            obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else getattr(obj, part)
        except AttributeError:
            raise LookupError(f"the reference {head} has no {part!r}") from None
    if isinstance(obj, (classmethod, staticmethod)):
        obj = obj.__func__
    return obj


def source(name: str) -> str:
    """The reference's source for ``name``, e.g. ``"Room.broadcast"`` or ``"ChatUser"``."""
    return textwrap.dedent(inspect.getsource(_lookup(name)))


def show(name: str, exercise: bool = False) -> None:
    """Print the reference's source for ``name``: ``show("ChatUser.handle_join")``.

    ``exercise=True`` shows the exercise's solution instead of the finished kit's:
    ``show("Room.leave", exercise=True)``.
    """
    if exercise:
        print(f"# the exercise's solution: {name}\n{_exercise_part(name)}")
    else:
        print(f"# the reference: {name}\n{source(name)}")


def solution_text(name: str) -> str:
    """The exercise's solution for ``name`` ("Room", "connect", ...), as its cell holds it."""
    from .checks.solutions import SOLUTIONS

    if name not in SOLUTIONS:
        raise LookupError(f"no exercise called {name!r}: try one of {', '.join(SOLUTIONS)}")
    return SOLUTIONS[name]


def solution(name: str) -> None:
    """Print a solution to the exercise ``name`` that passes its check: paste it over your cell.

    >>> solution("render")  # doctest: +ELLIPSIS
    # a solution to the exercise: paste it over your exercise cell, run it, then the check
    def render(message):
    ...

    """
    print("# a solution to the exercise: paste it over your exercise cell, run it, then the check")
    print(solution_text(name), end="")


def _exercise_part(name: str) -> str:
    """``"Room.leave"`` -> the method ``leave`` of the exercise's ``Room`` solution."""
    import ast

    head, _, rest = name.partition(".")
    text = solution_text(head)
    if not rest:
        return text
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == rest:
            return textwrap.dedent(ast.get_source_segment(text, node, padded=True) or "") + "\n"
    raise LookupError(f"the exercise's {head} has no {rest!r}")


def _methods(cls: type) -> dict[str, Any]:
    """The functions a class defines itself, in the order it defines them."""
    methods = {}
    for attr, value in vars(cls).items():
        if isinstance(value, (classmethod, staticmethod)):
            value = value.__func__
        if inspect.isfunction(value):
            methods[attr] = value
    return methods


def _reference_for(obj: Any, against: str | None) -> str:
    if against is not None:
        return against
    name = getattr(obj, "__name__", "")
    for known in ("ChatUser", "Room", "WebSocket"):
        if known.lower() in name.lower():
            return known
    if inspect.iscoroutinefunction(obj):
        return "chat"
    raise LookupError(f"which reference is {name!r}? say it: diff({name}, against='ChatUser')")


SOLUTION_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")


def _unified(mine: str, theirs: str, label: str) -> str:
    mine_lines = [line for line in mine.splitlines() if line.strip() not in SOLUTION_MARKERS]
    lines = list(difflib.unified_diff(
        mine_lines, theirs.splitlines(),
        fromfile=f"yours: {label}", tofile=f"reference: {label}", lineterm="", n=2,
    ))
    return "\n".join(lines) if lines else f"{label}: the same as the reference"


def diff_text(obj: Any, against: str | None = None) -> str:
    """The text :func:`diff` prints."""
    ref_name = _reference_for(obj, against)
    if inspect.isclass(obj):
        parts = []
        for attr, function in _methods(obj).items():
            label = f"{ref_name}.{attr}"
            try:
                theirs = source(label)
            except LookupError:
                parts.append(f"{label}: yours only (the reference has no {attr})")
                continue
            try:
                mine = textwrap.dedent(inspect.getsource(function))
            except (OSError, TypeError):
                parts.append(f"{label}: cannot read your source (run its cell again)")
                continue
            parts.append(_unified(mine, theirs, label))
        if not parts:
            return f"{obj.__name__} defines no methods of its own"
        return "\n\n".join(parts)
    mine = textwrap.dedent(inspect.getsource(obj))
    return _unified(mine, source(ref_name), ref_name)


def diff(obj: Any, against: str | None = None) -> None:
    """Print how ``obj`` (your class or function) differs from the reference, method by method.

    ``against`` names the reference when the name does not say it:
    ``diff(MyRoom)`` finds ``Room`` by itself; ``diff(Lobby, against="Room")``.
    """
    print(diff_text(obj, against))
