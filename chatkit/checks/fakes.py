"""Stand-ins for sockets: members and users that keep what they are sent, and a clean registry."""

from __future__ import annotations

import ast
import json
from typing import Any

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


def decode_sent(who: str, texts: list[Any], hint: str = "") -> list[Any]:
    """Parse what ``who`` was sent; fail, saying what it was, if anything is not JSON text."""
    messages = []
    for text in texts:
        if isinstance(text, (bytes, bytearray)):
            raise Fail(f"{who} was sent bytes (a binary frame), not text", "JSON text (a str)",
                       repr(text), "send a str: json.dumps(data) is one already -- no .encode()"
                       " (a browser's JSON.parse gets a Blob from a binary frame)")
        if not isinstance(text, str):
            raise Fail(f"{who} was sent a {type(text).__name__}, not text", "JSON text (a str)",
                       repr(text), "send json.dumps(data), a str")
        try:
            message = json.loads(text)
        except ValueError:
            raise Fail(f"{who} was sent text that is not JSON", "JSON text", text,
                       _not_json_hint(text)) from None
        if isinstance(message, str) and _is_json(message):
            raise Fail(f"{who} was sent JSON-encoded twice: a JSON string holding JSON",
                       "JSON text of an object: {\"type\": ...}", text,
                       "json.dumps ran twice: broadcast(data) takes the dict and encodes it"
                       " itself -- pass it the dict, not json.dumps(...)")
        messages.append(message)
    return messages


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _not_json_hint(text: str) -> str:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "use json.dumps(data) to turn a dict into JSON text"
    if isinstance(value, dict):
        return ("that is Python's way of writing a dict (str(data), single quotes):"
                " JSON is json.dumps(data)")
    return "use json.dumps(data) to turn a dict into JSON text"


def _expect_sent(who: str, texts: list[Any], expected: list[dict], hint: str = "",
                 also: list[str] | None = None) -> None:
    got = decode_sent(who, texts)
    if got != expected:
        what = f"{who} got {len(got)} message{'s' * (len(got) != 1)}, expected {len(expected)}"
        if len(got) == len(expected):
            what = f"{who} got the wrong message"
        raise Fail(what, _lines(expected), _lines(got), explain_difference(expected, got) or hint, also)


def explain_difference(expected: list[Any], got: list[Any]) -> str:
    """A hint about what actually differs between two lists of messages, or ""."""
    if len(got) > len(expected) and expected and all(m in expected for m in got):
        return "the same message was sent more than once: send each message once"
    for want, have in zip(expected, got):
        if want == have or not isinstance(want, dict) or not isinstance(have, dict):
            continue
        if have.get("type") == "error" and want.get("type") != "error":
            return ("an error where none is due: your code refused what the reference does --"
                    " look at the condition that sends it")
        if want.get("type") == "error" and have.get("type") != "error":
            return f'this needs an error to the sender, not a "{have.get("type")}"'
        missing = [k for k in want if k not in have]
        extra = [k for k in have if k not in want]
        if missing or extra:
            parts = []
            if missing:
                parts.append("missing " + ", ".join(f'"{k}"' for k in missing))
            if extra:
                parts.append("not expected: " + ", ".join(f'"{k}"' for k in extra))
            return f"the message has the wrong keys ({'; '.join(parts)})"
        for key in want:
            if want[key] != have[key]:
                return _explain_value(key, want[key], have[key])
    return ""


def _explain_value(key: str, want: Any, have: Any) -> str:
    if key == "type":
        return f'"type" should be "{want}", not {json.dumps(have)}'
    if not isinstance(want, str) or not isinstance(have, str):
        return f'"{key}" should be {json.dumps(want)}, not {json.dumps(have)}'
    if "None" in have and "None" not in want:
        return ("None where a name should be: the name was not set yet when this message was"
                " made -- set self.name first, then broadcast")
    if want.replace('"', "") == have.replace('"', ""):
        return (f'the quotes differ: "{key}" should be exactly {json.dumps(want)}'
                " (the join note has them around the room name, the leave note has none)")
    if want.rstrip(".") == have.rstrip("."):
        return f'the full stop: "{key}" should be exactly {json.dumps(want)}'
    if want.strip() == have.strip() or want.lower() == have.lower():
        return f'spaces or capitals differ: "{key}" should be exactly {json.dumps(want)}'
    return f'"{key}" should be {json.dumps(want)}, not {json.dumps(have)}'


def _lines(messages: list[Any]) -> str:
    if not messages:
        return "nothing"
    return "\n              ".join(json.dumps(m, ensure_ascii=False) for m in messages)


class _fresh_registry:
    """``with _fresh_registry(Room):`` empties ``Room.rooms`` for one session; puts the rooms back after."""

    def __init__(self, room_class: Any):
        self.rooms = room_class.rooms
        self.saved: dict[Any, Any] = {}

    def __enter__(self) -> None:
        self.saved = dict(self.rooms)
        self.rooms.clear()

    def __exit__(self, *exc_info: Any) -> None:
        self.rooms.clear()
        self.rooms.update(self.saved)
