"""Stand-ins for sockets: members and users that keep what they are sent, and a clean registry."""

from __future__ import annotations

import contextlib
import json
from typing import Any, Callable, Iterator

from .report import Fail


class Member:
    """A room member that keeps what it is sent: ``member.sent`` is a list of texts."""

    def __init__(self, name: str, hash_value: int | None = None):
        self.name = name
        self.sent: list[str] = []
        self._hash = hash_value

    def send(self, data: str) -> None:
        self.sent.append(data)

    def __hash__(self) -> int:
        return id(self) if self._hash is None else self._hash

    def __repr__(self) -> str:
        return f"<member {self.name}>"


class FailingMember(Member):
    """A member whose connection is gone: ``send`` raises."""

    def send(self, data: str) -> None:
        raise ConnectionError(f"{self.name}'s connection is closed")


def _decode(who: str, texts: list[Any]) -> list[Any]:
    """Parse what ``who`` was sent; fail if anything is not JSON text."""
    messages = []
    for text in texts:
        if not isinstance(text, (str, bytes)):
            raise Fail(f"{who} was sent a {type(text).__name__}, not text", "JSON text", text,
                       "send json.dumps(data), a str")
        try:
            messages.append(json.loads(text))
        except ValueError:
            raise Fail(f"{who} was sent text that is not JSON", "JSON text", text,
                       "use json.dumps(data) to turn a dict into JSON text") from None
    return messages


def _expect_sent(who: str, texts: list[Any], expected: list[dict], hint: str = "") -> None:
    got = _decode(who, texts)
    if got != expected:
        what = f"{who} got {len(got)} message{'s' * (len(got) != 1)}, expected {len(expected)}"
        if len(got) == len(expected):
            what = f"{who} got the wrong message"
        raise Fail(what, _lines(expected), _lines(got), hint)


def _lines(messages: list[Any]) -> str:
    if not messages:
        return "nothing"
    return "\n              ".join(json.dumps(m, ensure_ascii=False) for m in messages)


@contextlib.contextmanager
def _fresh_rooms(room_class: Any) -> Iterator[None]:
    """Empty ``room_class.rooms`` for one check; put the rooms back afterwards."""
    rooms = getattr(room_class, "rooms", None)
    if not isinstance(rooms, dict):
        raise Fail(f"{getattr(room_class, '__name__', room_class)} has no dict `rooms`",
                   "a class attribute: rooms = {}", rooms,
                   "the registry of rooms, by name, that Room.get reads and fills")
    saved = dict(rooms)
    rooms.clear()
    try:
        yield
    finally:
        rooms.clear()
        rooms.update(saved)


def _isolated(room_class_of: Callable[[], Any], test: Callable[[], None]) -> Callable[[], None]:
    def run() -> None:
        with _fresh_rooms(room_class_of()):
            test()
    return run
