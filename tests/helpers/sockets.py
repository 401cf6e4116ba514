"""Ports and raw sockets on 127.0.0.1.

- ``free_port()``: a port where nothing listens, from this pytest worker's own block;
- ``port_is_free(port)``: could a server listen there now?
- ``raw_connect(port)``: a plain TCP socket to a server (from another loopback address if asked);
- ``upgrade_request(port)``: the bytes of a WebSocket upgrade, to send by hand;
- ``read_head(sock)``, ``read_all(sock)``: read an HTTP answer off a raw socket.

All of 127.0.0.0/8 is loopback on Linux: a client bound to ``127.0.0.2`` is
"another machine" to a server on 127.0.0.1, without leaving this host.
"""

from __future__ import annotations

import base64
import itertools
import os
import socket

from .waiting import DEADLINE

__all__ = ["free_port", "port_is_free", "raw_connect", "upgrade_request", "read_head",
           "read_all", "client_frame", "ATTACKER"]

#: Another loopback address: a second client, as far as the server can tell.
ATTACKER = "127.0.0.2"

#: Ports handed out by ``free_port``: a block per pytest-xdist worker, all below Linux's
#: ephemeral range (32768-60999), where the kernel picks ``bind(0)`` ports and clients'
#: source ports. So no other worker, and no connection, takes a port between the moment
#: a test picks it and the moment its server listens there.
FIRST_PORT, BLOCK = 20_000, 400

_handed_out = itertools.count()


def _worker_number() -> int:
    """0 without xdist, N + 1 in worker ``gwN``."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    return int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0


def free_port() -> int:
    """A port of 127.0.0.1 where nothing listens, not handed out before in this process.

    Use it where a test must know the port before the server starts (a server
    restarted on the same port, JupyterLab's ``--port``); elsewhere let the
    server bind port 0 and ask it which port it got.
    """
    base = FIRST_PORT + _worker_number() * BLOCK
    for _ in range(BLOCK):
        port = base + next(_handed_out) % BLOCK
        if port_is_free(port):
            return port
    raise RuntimeError(f"no free port in {base}-{base + BLOCK - 1}")


def port_is_free(port: int) -> bool:
    """True if a new server could listen on 127.0.0.1:``port`` now.

    Like every server (asyncio, ``http.server``, Node, Redis) it sets SO_REUSEADDR,
    so closed connections lingering in TIME_WAIT do not count; a listening socket does.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


def raw_connect(port: int, source: str = "127.0.0.1", rcvbuf: int | None = None) -> socket.socket:
    """A plain TCP socket to 127.0.0.1:``port``, from ``source``, with a read deadline."""
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.bind((source, 0))
    sock.settimeout(DEADLINE)
    sock.connect(("127.0.0.1", port))
    return sock


def upgrade_request(port: int, path: str = "/chat/people", host: str | None = None,
                    extra: str = "") -> bytes:
    """A WebSocket upgrade request; ``host=""`` leaves the Host header out."""
    key = base64.b64encode(os.urandom(16)).decode()
    host_line = f"Host: {host or f'127.0.0.1:{port}'}\r\n" if host != "" else ""
    return (f"GET {path} HTTP/1.1\r\n{host_line}Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n").encode()


def client_frame(payload: bytes, first: int = 0x81) -> bytes:
    """A client's frame (a text frame by default), masked with a zero key: the payload
    stays as it is. ``client_frame(b'{"type": "join", "name": "Ann"}')``"""
    n = len(payload)
    length = bytes((0x80 | n,)) if n < 126 else bytes((0x80 | 126,)) + n.to_bytes(2, "big")
    return bytes((first,)) + length + b"\0\0\0\0" + payload


def read_head(sock: socket.socket) -> bytes:
    """Read an HTTP response's head (up to the blank line), or what came before a close."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def read_all(sock: socket.socket) -> bytes:
    """Read until the server closes the connection."""
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data
