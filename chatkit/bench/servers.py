"""The servers under test, each in a process of its own: the floor, chatkit by ``serve``,
chatkit by ``start`` beside an idle main loop, chatkit in a real Jupyter kernel, and the
peers (the express-ws original, the FastAPI chat).

``python -m chatkit.bench --serve KIND`` runs one of them until its stdin closes;
:class:`ServerProcess` and :class:`KernelServer` start them and say where they listen::

    >>> server = ServerProcess("floor")      # a free port of 127.0.0.1
    >>> server.port > 0 and server.pid > 0
    True
    >>> server.stop()
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import urllib.parse
from typing import Any

from ..support.processes import ChildExited, free_port, start_child

__all__ = ["ServerProcess", "KernelServer", "serve_main", "until_stdin_closes", "SERVED_KINDS",
           "FASTAPI_KINDS"]

#: The kinds ``--serve`` can run in a process of its own, and their compression policy.
SERVED_KINDS = ("floor", "chatkit", "shared", "deflate", "live", "uvloop", "unbatched")
COMPRESSION = {"shared": "shared", "deflate": "deflate"}  # others: the server's default
#: The FastAPI peer: uvicorn's defaults (permessage-deflate accepted), and compression off.
FASTAPI_KINDS = ("fastapi", "fastapi-off")



async def _floor_chat(websocket: Any) -> None:
    """The floor: the protocol's join, chat and leave, straight on ``broadcast``."""
    from websockets.asyncio.server import broadcast
    from websockets.exceptions import ConnectionClosed

    from ..core.messages import encode  # the same wire text as chatkit's: JSON.stringify's

    room = urllib.parse.unquote(websocket.request.path.rsplit("/", 1)[-1])
    members = _FLOOR_ROOMS.setdefault(room, {})
    name = None
    try:
        async for message in websocket:
            data = json.loads(message)
            if data["type"] == "join":
                name = data["name"]
                members[websocket] = None
                broadcast(members, encode({"type": "note", "text": f'{name} joined "{room}".'}))
            elif data["type"] == "chat":
                broadcast(members, encode({"type": "chat", "name": name, "text": data["text"]}))
    except ConnectionClosed:
        pass
    finally:
        if name is not None:
            members.pop(websocket, None)
            broadcast(members, encode({"type": "note", "text": f"{name} left {room}."}))


_FLOOR_ROOMS: dict[str, dict[Any, None]] = {}


async def _serve_until_stdin_closes(kind: str) -> None:
    from websockets.asyncio.server import serve as ws_serve

    from ..core.messages import MAX_MESSAGE_BYTES
    from ..server.app import ChatServer

    if kind == "floor":
        # When a whole room disconnects at once, broadcast keeps writing to transports
        # already lost until their connection_lost runs, and asyncio logs each such write
        # (thousands of "socket.send() raised exception."). Quiet: that is the floor's way.
        logging.getLogger("asyncio").setLevel(logging.ERROR)
        server = await ws_serve(_floor_chat, "127.0.0.1", 0, max_size=MAX_MESSAGE_BYTES,
                                compression=None)
    else:
        options: dict[str, Any] = {"compression": COMPRESSION[kind]} if kind in COMPRESSION else {}
        chat_server = ChatServer(rate_limit=None, max_per_client=None, **options)
        if kind == "unbatched":  # no Outbox: one write per frame, at once
            chat_server.outbox = None
        server = await chat_server.serve("127.0.0.1", 0)
    print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
    await until_stdin_closes()
    server.close()
    await server.wait_closed()


async def until_stdin_closes() -> None:
    """Return once this process's stdin is closed: how a server under test is told to stop."""
    loop = asyncio.get_running_loop()
    closed = loop.create_future()

    def readable() -> None:
        if not os.read(sys.stdin.fileno(), 4096) and not closed.done():
            closed.set_result(None)

    loop.add_reader(sys.stdin.fileno(), readable)
    await closed


def _serve_live() -> None:
    """Like a kernel: ``chatkit.start()`` from a process whose main loop goes on running."""
    from ..notebook.live import start

    live = start(port=0, show=False, rate_limit=None, max_per_client=None)
    print(f"port {live.port}", flush=True)
    asyncio.run(until_stdin_closes())  # the "kernel's" own loop, idle, as between cells
    live.stop()


def serve_main(kind: str) -> int:
    """``python -m chatkit.bench --serve KIND``: run one server under test until stdin closes."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if kind == "live":
        _serve_live()
    elif kind == "uvloop":  # chatkit.serve as is, on uvloop's event loop
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_serve_until_stdin_closes(kind))
    else:
        asyncio.run(_serve_until_stdin_closes(kind))
    return 0


class ServerProcess:
    """A server under test in a subprocess; ``port`` once it listens.

    ``kind`` is one of :data:`SERVED_KINDS` (``python -m chatkit.bench --serve kind``),
    ``"seed"``: the express-ws original, run by Node, or one of :data:`FASTAPI_KINDS`:
    the FastAPI peer under uvicorn, in its own environment (see :mod:`chatkit.bench.peers`).
    Started and stopped by :mod:`chatkit.support.processes`.
    """

    def __init__(self, kind: str, timeout: float = 20) -> None:
        self.kind = kind
        cwd, env, port = None, None, 0
        ready_port = None
        if kind == "seed":
            from .peers import node_command

            command, cwd = node_command()
            port = free_port()  # the seed prints its PORT back, not the port it got
            env = {**os.environ, "PORT": str(port)}
            ready = r"^listening"
        elif kind in FASTAPI_KINDS:
            from .peers import fastapi_command

            port = ready_port = free_port()
            command, cwd = fastapi_command(port, compression=kind == "fastapi")
            env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # its venv only
            ready = None
        else:
            command = [sys.executable, "-m", "chatkit.bench", "--serve", kind]
            ready = r"^port (\d+)"
        try:
            self.child = start_child(command, cwd=cwd, env=env, stdin=subprocess.PIPE,
                                     stderr=None, ready_line=ready, ready_port=ready_port,
                                     timeout=timeout,
                                     name=f"the {kind} server")
        except (ChildExited, TimeoutError) as exc:
            raise RuntimeError(f"the {kind} server did not start: {exc}") from None
        self.process = self.child.process
        self.pid = self.child.pid
        self.port = port or int(self.child.ready_match[1])

    def stop(self) -> None:
        # Ours stop when their stdin closes; Node and uvicorn do not watch theirs.
        peer = self.kind == "seed" or self.kind in FASTAPI_KINDS
        self.child.stop(timeout=5, sig=signal.SIGTERM if peer else None)


class KernelServer:
    """``chatkit.start()`` in a real, idle Jupyter kernel, as a student runs it."""

    def __init__(self, kind: str = "kernel", timeout: float = 30) -> None:
        from jupyter_client.manager import start_new_kernel

        self.kind = kind
        self.manager, self.client = start_new_kernel(
            kernel_name="python3", stderr=subprocess.DEVNULL  # its "running over TCP" warning
        )
        lines: list[str] = []

        def output(message: dict[str, Any]) -> None:
            if message["header"]["msg_type"] == "stream":
                lines.append(message["content"]["text"])

        code = ("import os, chatkit\n"
                "_bench_server = chatkit.start(port=0, show=False, rate_limit=None, max_per_client=None)\n"
                "print('bench-server', os.getpid(), _bench_server.port)\n")
        self.client.execute_interactive(code, timeout=timeout, output_hook=output)
        found = [line.split() for line in "".join(lines).splitlines()
                 if line.startswith("bench-server ")]
        if not found:
            self.stop()
            raise RuntimeError(f"the kernel did not start chatkit: {''.join(lines)!r}")
        self.pid, self.port = int(found[0][1]), int(found[0][2])

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)

