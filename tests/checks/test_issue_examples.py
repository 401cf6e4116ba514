"""The mistakes issue 17 reports by name, each told in the check's words -- never blamed on the check.

Notebook 7's (against a real Redis): ``self.publish(str(data))``, ``deliver(message["data"])``,
a busy loop without ``await`` in ``listen`` (stopped, at its line, in seconds), a sync
``for`` in ``listen`` (blamed on ``listen``, not on ``broadcast``); notebook 1's ``async def
connect`` and ``ws.on_open``; notebooks 4 and 6: a broadcast that encodes once per member, and
notebook 6's room that sends dicts.
"""

from __future__ import annotations

import json
import time

import pytest

from chatkit import Room, bench, checks
from chatkit.checks import report
from chatkit.checks.solutions import SOLUTIONS
from chatkit.redis.local import start_redis
from chatkit.redis.room import RedisRoom
from tests.checks import broken
from tests.checks.broken import nb4_room  # noqa: F401

SHARED = SOLUTIONS["SharedRoom"]
LOOP = "async for message in pubsub.listen():\n            deliver(message)"


@pytest.fixture(scope="module")
def redis_url():
    server = start_redis()
    yield server.url
    server.stop()


@pytest.fixture(autouse=True)
def fresh():
    report._reports.clear()


def shared_room(source: str) -> type:
    namespace = {"RedisRoom": RedisRoom, "json": json}
    exec(compile(source, "<cell 8>", "exec"), namespace)
    return namespace["SharedRoom"]


def check_7(source: str, url: str) -> tuple[str, float]:
    start = time.monotonic()
    text = str(checks.run_redis_room(shared_room(source), url))
    assert "could not run" not in text and "tell your instructor" not in text, text
    return text, time.monotonic() - start


def test_publishing_str_of_the_data_is_said_as_python_text_not_json(redis_url):
    text, _ = check_7(SHARED.replace("json.dumps(data)", "str(data)"), redis_url)
    assert "✗ broadcast publishes the message once, as JSON" in text
    assert "Python's way of writing a dict (str(data), single quotes)" in text
    assert "✓ listen hands every message" in text


def test_delivering_the_data_instead_of_the_message_is_said_at_listens_line(redis_url):
    text, _ = check_7(SHARED.replace("deliver(message)", 'deliver(message["data"])'), redis_url)
    assert "✗ listen hands every message" in text
    assert "listen handed deliver something other than a message from pubsub.listen()" in text
    assert 'your code: listen (<cell 8>, line 12)' in text
    assert "✓ broadcast publishes the message once" in text


def test_a_busy_loop_without_await_is_stopped_at_its_line_within_seconds(redis_url):
    text, took = check_7(SHARED.replace(LOOP, "while True:\n            pass"), redis_url)
    assert "listen took longer than 3 s, and was stopped in listen (<cell 8>, line" in text
    assert "not tried: your listen took too long (above)" in text
    assert "✓ broadcast publishes the message once" in text
    assert took < 10, took  # it was 150 s and a kernel at 100% CPU


def test_a_sync_for_in_listen_is_blamed_on_listen_not_on_broadcast(redis_url):
    text, _ = check_7(SHARED.replace("async for message", "for message"), redis_url)
    assert "your listen raised TypeError: 'async_generator' object is not iterable in listen" in text
    assert "async for, not for" in text
    assert "✓ broadcast publishes the message once" in text
    across = text[text.index("✗ a message published on server A or B"):]
    assert "your listen, on both servers:" in across


def test_an_async_def_connect_is_told_to_be_a_plain_def():
    async def connect(url, log):
        return None

    text = str(checks.run_client(connect))
    assert "connect is a coroutine function (async def)" in text
    assert "write connect as a plain def" in text
    assert "onopen = log.append" not in text  # not the hint about calling append at once


def test_callbacks_under_names_no_browser_calls_are_named():
    import chatkit

    def connect(url, log):
        ws = chatkit.WebSocket(url)
        ws.on_open = lambda event: log.append("open")
        ws.on_message = lambda event: log.append(f"message: {event.data}")
        return ws

    text = str(checks.run_client(connect))
    assert "you set ws.on_open, which no browser calls" in text
    assert "all lower case, no underscore" in text


class SendsDicts(Room):
    def broadcast(self, data):
        for member in list(self.members):
            member.send(data)


def test_a_broadcast_that_encodes_per_member_fails_notebook_4s_check():
    result = checks.run_room(broken.nb4_room.BroadcastEncodesPerMember)
    failed = result.result("encoded once for all of them")
    assert failed.status == checks.FAIL
    assert any("the data was encoded once per member, not once for all" in line for line in failed.lines)


def test_notebook_6_says_what_is_wrong_in_the_checks_words_not_a_raw_type_error():
    (row,) = bench.compare_broadcast(SendsDicts, sizes=[5], messages=3, repeat=1)
    assert not row["correct"]
    assert row["problem"] == "a member was sent a dict, not text -- send json.dumps(data), a str"
    (row,) = bench.compare_broadcast(broken.EncodesPerMember, sizes=[5], messages=3, repeat=1)
    assert not row["correct"] and "encoded once per member" in row["problem"]
    (row,) = bench.compare_broadcast(Room, sizes=[5], messages=3, repeat=1)
    assert row["correct"] and row["problem"] == ""
