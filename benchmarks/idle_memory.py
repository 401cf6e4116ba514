"""Memory per idle connection: N browsers that finished the WebSocket handshake and sent nothing.

    .venv/bin/python benchmarks/idle_memory.py                       # 1,000 and 5,000; all four
    .venv/bin/python benchmarks/idle_memory.py --sizes 1000 --kinds seed chatkit
    .venv/bin/python benchmarks/idle_memory.py --rounds 3 --kinds seed chatkit   # taking turns

Each server (:mod:`chatkit.bench.servers`: the express-ws original, chatkit, the FastAPI
peer with and without deflate) starts in a process of its own; the handshakes offer
permessage-deflate as browsers do, 50 at a time, all to 127.0.0.1; the server's resident
memory after them, less before, over N, is the figure. Nobody joins, so no join notes
(joining 5,000 members is 12.5 million deliveries: :mod:`chatkit.bench` measures that).
"""

from __future__ import annotations

import argparse
import asyncio

from chatkit.bench.clients import CONNECT_BATCH, current_memory, handshake_request
from chatkit.bench.servers import ServerProcess
from chatkit.support.processes import raise_file_limit

__all__ = ["idle_kib_per_connection", "main"]

KINDS = ("seed", "chatkit", "fastapi", "fastapi-off")


async def idle_kib_per_connection(kind: str, size: int, timeout: float = 120) -> float:
    """Open ``size`` idle WebSockets to a fresh ``kind`` server; KiB of its memory per one."""
    server = ServerProcess(kind)
    connections = []
    try:
        await asyncio.sleep(0.5)  # let it settle before the first reading
        before = current_memory(server.pid)
        async with asyncio.timeout(timeout):
            for start in range(0, size, CONNECT_BATCH):
                batch = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", server.port)
                                               for _ in range(min(CONNECT_BATCH, size - start))))
                for reader, writer in batch:
                    writer.write(handshake_request(server.port, "/chat/bench"))
                for reader, _ in batch:
                    await reader.readuntil(b"\r\n\r\n")  # 101 Switching Protocols
                connections += batch
        await asyncio.sleep(1.0)
        return (current_memory(server.pid) - before) / size
    finally:
        for _, writer in connections:
            writer.close()
        server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 5000])
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    parser.add_argument("--rounds", type=int, default=1,
                        help="the kinds take turns this many times (a fresh server each)")
    args = parser.parse_args(argv)
    raise_file_limit()
    for round_ in range(1, args.rounds + 1):
        for size in args.sizes:
            for kind in args.kinds:
                kib = asyncio.run(idle_kib_per_connection(kind, size))
                print(f"round {round_}: {kind:>11} {size:>5} idle connections: {kib:.1f} KiB each",
                      flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
