"""A Redis server of your own, on a free port of 127.0.0.1, for a notebook, a test or a benchmark.

Notebook 7 and the tests need a real Redis, not a stand-in; this starts Debian's (or
Homebrew's) ``redis-server`` as a child process with persistence off, waits until it
answers ``PING``, and stops it by its process id (:mod:`chatkit.support.processes`)::

    >>> from chatkit.redis.local import start_redis, redis_installed
    >>> if redis_installed():
    ...     with start_redis() as redis_server:
    ...         print(redis_server.url.startswith("redis://127.0.0.1:"))
    ... else:
    ...     print(True)
    True

No Redis installed? :data:`INSTALL` says how to get one.
"""

from __future__ import annotations

import atexit
import os
import shutil
import socket
import subprocess
from typing import Any

from ..support.processes import ChildExited, ChildProcess, free_port, start_child

__all__ = ["RedisServer", "start_redis", "redis_installed", "INSTALL", "RedisMissing"]

#: What to do when ``redis-server`` is not found, in plain words.
INSTALL = (
    "Redis is not installed here. Notebook 7 needs the redis-server program:\n"
    "  Debian/Ubuntu:  make redis   (or: sudo apt-get install redis-server)\n"
    "  macOS:          brew install redis\n"
    "  Windows:        run the course inside WSL (Ubuntu) and use the Debian line,\n"
    "                  or point REDIS_URL at a Redis you already have.\n"
    "Or set CHATKIT_REDIS_URL=redis://host:port to use a Redis that is already running."
)


class RedisMissing(RuntimeError):
    """``redis-server`` is not installed: the message says how to install it."""


def redis_program() -> str | None:
    """The path of ``redis-server`` (``$CHATKIT_REDIS_SERVER`` first), or None."""
    return shutil.which(os.environ.get("CHATKIT_REDIS_SERVER", "redis-server"))


def redis_installed() -> bool:
    """True if ``redis-server`` can be started here."""
    return redis_program() is not None


def _ping(port: int, timeout: float = 0.5) -> bool:
    """Send PING in Redis's protocol; True on ``+PONG``."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(b"*1\r\n$4\r\nPING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` child process on ``127.0.0.1:port``; ``stop()`` ends it by PID.

    Made by :func:`start_redis`. ``url`` is what ``chatkit.start(redis=...)`` and
    ``python -m chatkit serve --redis`` take.
    """

    def __init__(self, port: int, child: ChildProcess) -> None:
        self.port = port
        self.child = child
        self.process = child.process

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def running(self) -> bool:
        return self.child.running

    def __repr__(self) -> str:
        return f"<RedisServer {self.url} pid {self.pid} {'running' if self.running else 'stopped'}>"

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    def stop(self, timeout: float = 5) -> None:
        """Stop the server (SIGTERM, then SIGKILL after ``timeout`` seconds)."""
        self.child.stop(timeout)

    def kill(self) -> None:
        """Kill it at once (SIGKILL), as a crash would."""
        self.child.kill()


def start_redis(
    port: int = 0, *, args: tuple[str, ...] = (), timeout: float = 10
) -> RedisServer:
    """Start ``redis-server`` on ``127.0.0.1:port`` (0: a free port), persistence off.

    Waits until it answers ``PING``. ``args`` are more ``redis-server`` options,
    e.g. ``("--client-output-buffer-limit", "pubsub 256kb 64kb 1")``. Raises
    :class:`RedisMissing` (with :data:`INSTALL` as its message) if Redis is not installed.
    """
    program = redis_program()
    if program is None:
        raise RedisMissing(INSTALL)
    port = port or free_port()
    try:
        child = start_child(
            [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--protected-mode", "yes", *args],
            ready=lambda: _ping(port), timeout=timeout, name="redis-server",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
    except ChildExited as exc:
        raise RuntimeError(f"redis-server exited with code {exc.returncode}"
                           f" (is port {port} free?)") from None
    except TimeoutError:
        raise TimeoutError(f"redis-server did not answer PING within {timeout} s") from None
    server = RedisServer(port, child)
    atexit.register(server.stop)  # a kernel restarted, a script ended: no Redis left behind
    return server
