"""Helpers for the tests of rooms shared through a real Redis (tests/test_redis*.py).

- ``redis_server`` fixture: ``redis-server --port P --bind 127.0.0.1 --save "" --appendonly no``
  on a free port, ready when it answers PING, stopped by PID.
- ``start_servers(url, n)``: ``python -m chatkit serve --port 0 --redis url`` processes.
- ``ServerProcess``: one of them, its port, its output so far, ``kill()``.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import threading
import time

import pytest

from chatkit.redis.local import redis_installed, start_redis
from chat_helpers import DEADLINE

SERVING = re.compile(r"^chatkit: serving on (\S+):(\d+)", re.M)
#: Presence timeout for the servers under test: short, so a dead one is noticed fast.
PRESENCE = 1.5


@pytest.fixture
def redis_server():
    """A real Redis of our own on a free port of 127.0.0.1, persistence off."""
    if not redis_installed():
        pytest.fail("redis-server is not installed: run `make test-setup` (scripts/install-redis)")
    server = start_redis()
    yield server
    server.stop()


class ServerProcess:
    """``python -m chatkit serve --port 0 --redis URL`` as a real process; its output kept."""

    def __init__(self, url: str, *extra: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "chatkit", "serve", "--port", "0", "--redis", url,
             "--presence-timeout", str(PRESENCE), *extra],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.port = 0
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    def ws(self, room: str = "people") -> str:
        return f"ws://127.0.0.1:{self.port}/chat/{room}"

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_listening(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not (match := SERVING.search(self.output)):
            if self.process.poll() is not None:
                self.reader.join(1)
                raise AssertionError(f"a server exited: {self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"a server did not start in {timeout} s: {self.output}")
            time.sleep(0.02)
        self.port = int(match[2])

    async def wait_for_line(self, fragment: str, timeout: float = DEADLINE) -> None:
        async with asyncio.timeout(timeout):
            while fragment not in self.output:
                await asyncio.sleep(0.02)

    def kill(self) -> None:
        """SIGKILL: the server dies mid-chat, saying goodbye to no one."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(DEADLINE)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(DEADLINE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(DEADLINE)
        self.reader.join(DEADLINE)


def start_servers(url: str, count: int, *extra: str) -> list[ServerProcess]:
    """``count`` chat servers on one Redis, as real processes on free ports of 127.0.0.1."""
    servers = [ServerProcess(url, *extra) for _ in range(count)]
    try:
        for server in servers:
            server.wait_listening(3 * DEADLINE)  # a loaded machine starts Python slowly
    except BaseException:
        stop_servers(servers)
        raise
    return servers


def stop_servers(servers: list[ServerProcess]) -> None:
    for server in servers:
        server.stop()
