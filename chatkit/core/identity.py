"""Names tied to logins: behind a login (a JupyterHub), the chat name is the login's name.

A connection that came in through a login carries that login's name; a join or a
``/name`` that claims any other name is refused before the room sees it. Any
``ChatUser`` (the reference or a student's own) is held to it, because the server
asks :func:`claim_refusal` before it hands the frame on::

    >>> claim_refusal("alice", '{"type": "join", "name": "bob"}')
    'you are logged in as "alice": join as "alice", not "bob"'
    >>> claim_refusal("alice", '{"type": "join", "name": "alice"}') is None
    True
    >>> claim_refusal("alice", '{"type": "chat", "text": "/name carol"}')
    'you are logged in as "alice": your name in the chat is your login, not "carol"'
    >>> claim_refusal("alice", '{"type": "chat", "text": "hi all"}') is None
    True

Why refuse rather than quietly join as the login: a client of the original shows
the name its user typed; a name swapped behind its back would show one name on the
screen and another to the class. The refusal says which name to use.
"""

from __future__ import annotations

from .grammar import NAME, Command, Join, read
from .messages import ProtocolError, check_name

__all__ = ["claim_refusal"]


def claim_refusal(login: str, raw: str | bytes) -> str | None:
    """Why this frame may not be sent by ``login``'s connection, or None if it may.

    Only a join and ``/name`` claim a name; every other frame (a frame the
    protocol refuses too) goes on to the handler, which answers it as usual.
    """
    try:
        message = read(raw)
    except ProtocolError:
        return None
    if isinstance(message, Join):
        if not isinstance(message.name, str) or _as_name(message.name) != login:
            return f'you are logged in as "{login}": join as "{login}", not "{message.name}"'
    elif isinstance(message, Command) and message.word == NAME:
        if _as_name(message.rest) != login:
            return (f'you are logged in as "{login}": your name in the chat is your login,'
                    f' not "{message.rest.strip()}"')
    return None


def _as_name(text: str) -> str | None:
    """``text`` as the handler would take it for a name, or None if it cannot be one."""
    try:
        return check_name(text)
    except ProtocolError:
        return None
