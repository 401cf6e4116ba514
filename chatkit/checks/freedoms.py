"""What the protocol leaves free -- the one place that says it, for every check.

The checks compare what every member receives from your code with what the
reference sends, message by message, as parsed JSON (key order and spacing are
free: ``json.dumps(data)`` and ``JSON.stringify``'s compact text are both right).
Everything else is fixed -- except what this module lists:

- values the protocol does not fix: an error's wording (any non-empty text), the
  joke ``/joke`` tells (any non-empty text);
- choices the protocol leaves to the server (:data:`CHOICES`): when one comes up,
  the check accepts any of the answers listed, and goes on with the one your
  code gave.

The notebooks say the same in their words (notebooks 3 and 5, before the checks).

    >>> ERROR_TEXT.matches("unknown command /dance"), ERROR_TEXT.matches("")
    (True, False)
    >>> same({"type": "error", "text": "not JSON"}, error_message())
    True
    >>> same({"private": 1}, {"private": True})      # JSON's true is not 1
    False
"""

from __future__ import annotations

from typing import Any

__all__ = ["Free", "ERROR_TEXT", "JOKE_TEXT", "CHOICES", "error_message", "joke_message", "same",
           "show"]


class Free:
    """A value the protocol does not fix: any non-empty string matches it."""

    def __init__(self, what: str):
        self.what = what

    def matches(self, value: Any) -> bool:
        return isinstance(value, str) and bool(value.strip())

    def __repr__(self) -> str:
        return f"<{self.what}>"


#: An error's text: say what was wrong, in any words (never empty).
ERROR_TEXT = Free("what was wrong")
#: The text of a joke from ``/joke``: any joke (never empty).
JOKE_TEXT = Free("a joke")

#: Choices the protocol leaves to the server, by the name the checks use; each
#: lists the answers the checks accept. A choice that changes what follows (a name
#: taken or refused) is followed: the check goes on as your code chose.
CHOICES = {
    "refuse-name": "a name the reference refuses (blank, reserved, already taken in the room"
                   " -- even in another case or with look-alike letters -- or invisible"
                   " characters): an error to the sender, or the name taken as it was typed",
    "join-again": "a second join on the same connection: an error to the sender, or a join"
                  " again under the new name (the note goes to the room)",
    "blank-chat": "a chat whose text is empty or only spaces: an error to the sender, or the chat"
                  " broadcast as it is",
    "priv-no-text": "/priv with a name and no message: an error to the sender, or the private"
                    " message with an empty text",
    "priv-spaces": "/priv to a member whose name holds a space (jean luc): that member, or an"
                   " error that nobody is called by the first word (jean)",
    "rename-refused": "/name to a name the reference refuses (blank, the same, taken): an error"
                      " to the sender, or the rename",
}


def error_message() -> dict[str, Any]:
    """What an error looks like to the checks: ``{"type": "error", "text": <any words>}``."""
    return {"type": "error", "text": ERROR_TEXT}


def joke_message() -> dict[str, Any]:
    """What ``/joke`` sends the sender: a chat from ``Server`` with any joke."""
    return {"type": "chat", "name": "Server", "text": JOKE_TEXT}


def same(got: Any, expected: Any) -> bool:
    """Is ``got`` (parsed JSON) what ``expected`` says, :class:`Free` values matching anything
    allowed? Types count: JSON's ``true`` is not ``1``."""
    if isinstance(expected, Free):
        return expected.matches(got)
    if type(got) is not type(expected):
        return False
    if isinstance(expected, dict):
        return got.keys() == expected.keys() and all(same(got[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        return len(got) == len(expected) and all(same(g, e) for g, e in zip(got, expected))
    return got == expected


def show(value: Any) -> str:
    """A message as JSON text, free values written as ``<what was wrong>``.

    >>> show(error_message())
    '{"type": "error", "text": <what was wrong>}'
    """
    import json

    if isinstance(value, Free):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)}: {show(v)}"
                               for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(show(v) for v in value) + "]"
    try:
        return json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        return repr(value)
