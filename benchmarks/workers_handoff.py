"""What ``serve --workers N`` costs per connection and per message: the figures of docs/redis.md.

Starts a real redis-server and ``python -m chatkit serve --workers 2`` (whichever
chatkit ``PYTHONPATH`` names), then measures:

- **per connection**: N WebSocket connections opened (TCP, the upgrade) and closed, one
  after another and 8 at a time; the supervisor's CPU time per connection;
- **per message, the road not taken**: a budget shared in Redis would cost every message
  a Redis round trip (a token-bucket script, EVALSHA); its time, from redis.asyncio.

Run it: ``python benchmarks/workers_handoff.py [--connections 400]``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import time

import redis.asyncio as redis_async
from websockets.asyncio.client import connect

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from chatkit.bench.clients import cpu_seconds  # noqa: E402
from chatkit.redis.local import start_redis  # noqa: E402
from chatkit.support.processes import start_child  # noqa: E402

__all__ = ["main"]

#: A token bucket in Lua, as a budget shared in Redis would run one per message.
BUCKET = """
local now = tonumber(ARGV[1]); local rate = tonumber(ARGV[2]); local burst = tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst; local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + (now - at) * rate)
local ok = tokens >= 1
if ok then tokens = tokens - 1 end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 60)
return ok and 1 or 0
"""


async def open_close(url: str, count: int) -> None:
    for _ in range(count):
        client = await connect(url, open_timeout=10, close_timeout=2)
        await client.close()


async def per_connection(url: str, count: int, parallel: int) -> float:
    """Milliseconds per connection, ``parallel`` clients at a time."""
    started = time.perf_counter()
    await asyncio.gather(*(open_close(url, count // parallel) for _ in range(parallel)))
    return (time.perf_counter() - started) / count * 1000


async def per_message_in_redis(url: str, count: int) -> float:
    """Microseconds per token-bucket EVALSHA round trip."""
    client = redis_async.Redis.from_url(url)
    sha = await client.script_load(BUCKET)
    started = time.perf_counter()
    for _ in range(count):
        await client.evalsha(sha, 1, "bench:budget:127.0.0.1", time.time(), 30, 60)
    elapsed = time.perf_counter() - started
    await client.aclose()
    return elapsed / count * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=400)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with start_redis() as redis_server:
        argv = [sys.executable, "-m", "chatkit", "serve", "--port", "0", "--quiet",
                "--redis", redis_server.url, "--workers", str(args.workers),
                "--max-per-client", "0"]
        with start_child(argv, ready_line=re.compile(r"^chatkit: serving on \S+:(\d+) \("),
                         name="serve --workers") as server:
            port = int(server.ready_match[1])
            url = f"ws://127.0.0.1:{port}/echo"
            asyncio.run(per_connection(url, 40, 1))  # warm up
            before = cpu_seconds(server.pid)
            one = asyncio.run(per_connection(url, args.connections, 1))
            eight = asyncio.run(per_connection(url, args.connections, 8))
            supervisor = (cpu_seconds(server.pid) - before) / (2 * args.connections) * 1e6
            server.stop()
        redis_us = asyncio.run(per_message_in_redis(redis_server.url, 2000))
    print(f"{args.workers} workers, {args.connections} connections each way")
    print(f"per connection, one at a time: {one:.2f} ms")
    print(f"per connection, 8 at a time:   {eight:.2f} ms")
    print(f"supervisor CPU per connection: {supervisor:.0f} us")
    print(f"a budget in Redis, per message: {redis_us:.0f} us (one EVALSHA round trip)")


if __name__ == "__main__":
    main()
