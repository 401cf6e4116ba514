"""Fixtures for the tests of rooms shared through Redis (``redis_server`` is tests/conftest.py's)."""

from __future__ import annotations

import pytest

from chatkit.redis.local import start_redis
from tests.helpers.redis import serve_with_redis, stop_all


@pytest.fixture
def two_servers(redis_server):
    """Two ``python -m chatkit serve --redis`` processes on the test's own Redis."""
    servers = serve_with_redis(redis_server.url, 2)
    yield servers
    stop_all(servers)


@pytest.fixture
def restart_redis(redis_server):
    """``restart_redis()``: the test's Redis again, on its port, empty (no persistence)."""
    started = []

    def restart():
        started.append(start_redis(port=redis_server.port))
        return started[-1]

    yield restart
    for server in started:
        server.stop()
