"""Where one chat's time goes, one at a time: sent, first delivered, last delivered, next sent.

    .venv/bin/python benchmarks/first_delivery.py                    # the original and chatkit
    .venv/bin/python benchmarks/first_delivery.py --kinds seed floor chatkit --rounds 5

W2 (200 members, one chat at a time) is a chain: a chat goes to the server, the server
reads it and writes it to every member, and the next chat leaves once the last member
has it. This splits each chat's period into three parts, measured by the clients:

- **send -> first**: from the sender's ``send()`` to the first member's read: waking the
  server, its work before its first ``send()``, one loopback delivery, waking the reader;
- **first -> last**: the rest of the room's deliveries (nearly all of it: the server's
  ``send()`` per member, the clients' reads beside it on the other core);
- **last -> next**: from the last read to the next chat's ``send()`` (the clients' own).

The clients are one process with one ``epoll`` over plain sockets (no asyncio), offering
permessage-deflate as browsers do; a server that takes the offer is refused (its frames
would be compressed), which the original, the floor and chatkit's default do not. Each
member's bytes are parsed into frames and each frame checked to be the chat due, so a
server that lost, reordered or merged a chat fails the run. The kinds take turns.
"""

from __future__ import annotations

import argparse
import json
import os
import select
import socket
import statistics
import time

from chatkit.bench.clients import client_frame, cpu_seconds, handshake_request
from chatkit.bench.servers import ServerProcess
from chatkit.support.processes import raise_file_limit

__all__ = ["measure", "main"]

KINDS = ("seed", "floor", "chatkit")
ROOM = "/chat/bench"
WARMUP = 100  # chats before the clock starts (the first ones pay for caches and allocations)


def _connect(port: int, members: int, deadline: float) -> list[socket.socket]:
    """``members`` joined members (named m0, m1, ...), each its own connection, blocking."""
    sockets = []
    for number in range(members):
        sock = socket.create_connection(("127.0.0.1", port), timeout=max(deadline - time.monotonic(), 0.1))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(handshake_request(port, ROOM))
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = sock.recv(4096)
            if not chunk:
                raise RuntimeError("the server closed the connection during the handshake")
            response += chunk
        head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
        if not head.startswith("http/1.1 101"):
            raise RuntimeError(f"the handshake was refused: {head.splitlines()[0]}")
        if "sec-websocket-extensions" in head:
            raise RuntimeError("the server took the deflate offer: this probe reads plain frames only")
        sock.sendall(client_frame(json.dumps({"type": "join", "name": f"m{number}"}).encode()))
        sockets.append(sock)
    return sockets


def _drain(sockets: list[socket.socket], deadline: float, quiet: float = 0.3) -> None:
    """Read and drop what the join notes left, until nothing came for ``quiet`` seconds."""
    epoll = select.epoll()
    try:
        for sock in sockets:
            sock.setblocking(False)
            epoll.register(sock.fileno(), select.EPOLLIN)
        while time.monotonic() < deadline:
            ready = epoll.poll(quiet)
            if not ready:
                return
            for fd, _ in ready:
                os.read(fd, 1 << 20)
        raise TimeoutError("the join notes did not stop coming")
    finally:
        epoll.close()


def measure(kind: str, members: int = 200, chats: int = 1000, timeout: float = 60) -> dict:
    """One round: a fresh ``kind`` server, ``members`` joined, ``chats`` sent one at a time.

    Returns the medians of the three parts (microseconds), the period, the rate and the
    server's and the clients' CPU per chat.
    """
    deadline = time.monotonic() + timeout
    server = ServerProcess(kind)
    sockets: list[socket.socket] = []
    epoll = select.epoll()
    try:
        sockets = _connect(server.port, members, deadline)
        _drain(sockets, deadline)
        fds = {sock.fileno(): index for index, sock in enumerate(sockets)}
        for fd in fds:
            epoll.register(fd, select.EPOLLIN)
        buffers = [b""] * members
        frames = [client_frame(json.dumps({"type": "chat", "text": f"hello {k}"}).encode())
                  for k in range(WARMUP + chats)]
        sender, parts = sockets[0], []
        started = cpu = mine = 0.0
        for k in range(WARMUP + chats):
            if k == WARMUP:
                started, cpu, mine = time.perf_counter(), cpu_seconds(server.pid), time.process_time()
            expected = f'"text":"hello {k}"'.encode()
            have, first = 0, 0
            sent = time.perf_counter_ns()
            sender.send(frames[k])
            while have < members:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"chat {k}: {have} of {members} members had it in time")
                for fd, _ in epoll.poll(1):
                    data = os.read(fd, 65536)
                    now = time.perf_counter_ns()
                    if not data:
                        raise RuntimeError(f"the server closed member {fds[fd]}'s connection")
                    first = first or now
                    index = fds[fd]
                    buffer = buffers[index] + data
                    while len(buffer) >= 2 and len(buffer) >= 2 + (buffer[1] & 0x7F):
                        if buffer[0] != 0x81 or buffer[1] > 125:
                            raise RuntimeError(f"member {index}: not a short text frame: {buffer[:8]!r}")
                        size = 2 + buffer[1]
                        if expected not in buffer[2:size]:
                            raise RuntimeError(f"member {index}: {buffer[2:size]!r}, not chat {k}")
                        buffer = buffer[size:]
                        have += 1
                    buffers[index] = buffer
            last = now
            if k >= WARMUP:
                parts.append((sent, first, last))
        elapsed = time.perf_counter() - started
        server_cpu, clients_cpu = cpu_seconds(server.pid) - cpu, time.process_time() - mine
    finally:
        epoll.close()
        for sock in sockets:
            sock.close()
        server.stop()
    gaps = [(parts[i + 1][0] - parts[i][2]) / 1e3 for i in range(len(parts) - 1)]
    return {
        "kind": kind, "members": members, "chats": chats,
        "period_us": elapsed / chats * 1e6,
        "deliveries_per_s": members * chats / elapsed,
        "send_to_first_us": statistics.median((first - sent) / 1e3 for sent, first, _ in parts),
        "first_to_last_us": statistics.median((last - first) / 1e3 for _, first, last in parts),
        "last_to_next_us": statistics.median(gaps),
        "server_cpu_us_per_chat": server_cpu / chats * 1e6,
        "clients_cpu_us_per_chat": clients_cpu / chats * 1e6,
    }


COLUMNS = ("kind", "period_us", "deliveries_per_s", "send_to_first_us", "first_to_last_us",
           "last_to_next_us", "server_cpu_us_per_chat", "clients_cpu_us_per_chat")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kinds", nargs="+", default=["seed", "chatkit"], choices=KINDS)
    parser.add_argument("--members", type=int, default=200)
    parser.add_argument("--chats", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3, help="the kinds take turns this many times")
    args = parser.parse_args(argv)
    raise_file_limit()
    results: dict[str, list[dict]] = {kind: [] for kind in args.kinds}
    load = os.getloadavg()[0]
    for _ in range(args.rounds):
        for kind in args.kinds:
            results[kind].append(measure(kind, args.members, args.chats))
    print(f"{args.members} members, {args.chats} chats one at a time, medians of {args.rounds}"
          f" rounds; load average {load:.2f} before, {os.getloadavg()[0]:.2f} after")
    print("| server | period µs | deliveries/s | send → first µs | first → last µs"
          " | last → next µs | server CPU µs/chat | clients CPU µs/chat |")
    print("| --- " * len(COLUMNS) + "|")
    for kind, rounds in results.items():
        cells = [kind] + [f"{statistics.median(r[c] for r in rounds):,.0f}" for c in COLUMNS[1:]]
        print("| " + " | ".join(cells) + " |")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
