"""Chat servers sharing rooms through a real Redis (tests/redis/).

::

    servers = serve_with_redis(redis_server.url, 3)   # python -m chatkit serve --redis, x3
    servers[0].ws_url("people")
    stop_all(servers)

The ``redis_server`` fixture (tests/conftest.py) starts ``redis-server`` on a free port
of 127.0.0.1 with persistence off, ready when it answers PING, stopped by PID.
"""

from __future__ import annotations

from .processes import ChatkitServe

__all__ = ["PRESENCE", "serve_with_redis", "stop_all"]

#: Presence timeout for the servers under test: short, so a dead one is noticed fast.
PRESENCE = 1.5


def serve_with_redis(url: str, count: int, *extra: str) -> list[ChatkitServe]:
    """``count`` chat servers on one Redis, as real processes on free ports of 127.0.0.1."""
    servers = [ChatkitServe("--redis", url, "--presence-timeout", str(PRESENCE), *extra)
               for _ in range(count)]
    try:
        for server in servers:
            server.wait_serving()
    except BaseException:
        stop_all(servers)
        raise
    return servers


def stop_all(servers: list[ChatkitServe]) -> None:
    """SIGTERM each (a clean stop: its members' goodbyes), SIGKILL if one hangs."""
    for server in servers:
        server.stop()
