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
import re
import shutil
import socket
import subprocess
from typing import Any

from ..support.processes import ChildExited, ChildProcess, free_port, start_child
from ..support.urls import redacted

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


def _ping(port: int, password: str | None = None, timeout: float = 0.5) -> bool:
    """Send PING in Redis's protocol (AUTH first, with a password); True on ``+PONG``."""
    request = b"*1\r\n$4\r\nPING\r\n"
    if password:
        secret = password.encode()
        request = b"*2\r\n$4\r\nAUTH\r\n$%d\r\n%s\r\n" % (len(secret), secret) + request
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            sock.sendall(request)
            answer = b""
            while answer.count(b"\r\n") < (2 if password else 1):
                chunk = sock.recv(64)
                if not chunk:
                    break
                answer += chunk
            return answer.split(b"\r\n")[-2].startswith(b"+PONG")
    except (OSError, IndexError):
        return False


class RedisServer:
    """A ``redis-server`` child process on ``127.0.0.1:port``; ``stop()`` ends it by PID.

    Made by :func:`start_redis`. ``url`` is what ``chatkit.start(redis=...)`` and
    ``python -m chatkit serve --redis`` take.
    """

    def __init__(self, port: int, child: ChildProcess, password: str | None = None) -> None:
        self.port = port
        self.child = child
        self.process = child.process
        self.password = password

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:<port>``, with ``:<password>@`` when it asks for one."""
        secret = f":{self.password}@" if self.password else ""
        return f"redis://{secret}127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def running(self) -> bool:
        return self.child.running

    def __repr__(self) -> str:
        return f"<RedisServer {redacted(self.url)} pid {self.pid} {'running' if self.running else 'stopped'}>"

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
    port: int = 0, *, args: tuple[str, ...] = (), timeout: float = 10,
    password: str | None = None,
) -> RedisServer:
    """Start ``redis-server`` on ``127.0.0.1:port`` (0: a free port), persistence off.

    Waits until it answers ``PING``. ``args`` are more ``redis-server`` options,
    e.g. ``("--client-output-buffer-limit", "pubsub 256kb 64kb 1")``. With
    ``password``, Redis asks for it (``requirepass``) and ``url`` carries it
    (``redis://:<password>@127.0.0.1:<port>``); Redis reads it from its stdin, a pipe
    (``redis-server -``), never from its command line, which every user can read.
    Raises :class:`RedisMissing` (with :data:`INSTALL` as its message) if Redis is not
    installed.
    """
    program = redis_program()
    if program is None:
        raise RedisMissing(INSTALL)
    if password is not None and not re.fullmatch(r"[A-Za-z0-9._~-]{1,512}", password):
        raise ValueError("a Redis password here is 1 to 512 letters, digits, '-', '.', '_'"
                         " or '~' (what a URL and Redis's config both take as they are)")
    port = port or free_port()
    stdin: Any = subprocess.DEVNULL
    if password:  # the config on a pipe: written in full before Redis starts (far below its size)
        read_end, write_end = os.pipe()
        os.write(write_end, f"requirepass {password}\n".encode())
        os.close(write_end)
        stdin = read_end
    try:
        child = start_child(
            [program, *(["-"] if password else []), "--port", str(port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--protected-mode", "yes", *args],
            ready=lambda: _ping(port, password), timeout=timeout, name="redis-server",
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=stdin,
        )
    except ChildExited as exc:
        raise RuntimeError(f"redis-server exited with code {exc.returncode}"
                           f" (is port {port} free?)") from None
    except TimeoutError:
        raise TimeoutError(f"redis-server did not answer PING within {timeout} s") from None
    finally:
        if password:
            os.close(read_end)
    server = RedisServer(port, child, password)
    atexit.register(server.stop)  # a kernel restarted, a script ended: no Redis left behind
    return server
