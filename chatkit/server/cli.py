"""The command line: ``python -m chatkit serve [--host 127.0.0.1] [--port 3000]``.

Runs the chat server with its page until Ctrl-C, and prints the address to open.
``--redis redis://127.0.0.1:6379`` shares its rooms with every server on that Redis;
``--workers 4`` runs four such servers behind one port (a dead one is restarted). Secrets need
not be typed on the command line (which every user of the machine can read):
``--class-code-file PATH`` or ``$CHATKIT_CLASS_CODE`` with ``--class-code``, and
``$CHATKIT_REDIS_URL`` with ``--redis``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import urllib.parse

from .app import ChatServer
from .links import hand_out_links
from .options import add_options, port_number, read_secrets, server_options
from ..support.urls import redacted

__all__ = ["main", "parse_args", "port_number"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatkit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    add_options(commands.add_parser("serve", help="run the chat server and its page"), ChatServer)
    args = parser.parse_args(argv)
    try:
        read_secrets(args, os.environ)  # --class-code-file, $CHATKIT_CLASS_CODE, $CHATKIT_REDIS_URL
    except ValueError as exc:
        parser.error(str(exc))
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    if args.workers > 1 and not args.redis:
        parser.error("--workers needs --redis: without it each process would have rooms of its own")
    return args


async def run_server(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gate = None
    if args.class_code is not None:
        from .class_code import ClassCode

        gate = ClassCode(args.class_code or None)
    chat_server = ChatServer(gate=gate, **server_options(args))
    if args.worker and args.redis:
        chat_server.hub.name = f"worker {args.worker}"
    if args.handoff is not None:  # a worker of --workers N: its supervisor accepts
        await _serve_handed_over(chat_server, args, stop)
        return
    async with chat_server.serve(args.host, args.port) as server:
        host, port = server.sockets[0].getsockname()[:2]
        print(f"chatkit: serving on {host}:{port}", flush=True)
        if args.redis:
            print(f"chatkit: rooms shared through Redis at {redacted(args.redis)}", flush=True)
        code = f"?code={gate.code}" if gate is not None else ""
        first, *others = hand_out_links(host, port, args.room, code)
        print(f"chatkit: open {first}  (Ctrl-C to stop)", flush=True)
        for link in others:  # on every address: the network's link first, then this machine's
            print(f"chatkit: on this machine: {link}", flush=True)
        if gate is not None:
            print(f"chatkit: class code {gate.code}: only those who know it get in", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"chatkit: listening on {args.host}: other machines can connect", flush=True)
        await stop.wait()
        await chat_server.close(server)
    print("chatkit: stopped", flush=True)


async def _serve_handed_over(chat_server: ChatServer, args: argparse.Namespace,
                             stop: asyncio.Event) -> None:
    """A worker of ``--workers N``: serve the sockets its supervisor hands down the
    channel ``--handoff FD`` (:mod:`chatkit.server.handoff`) until told to stop, or
    until the supervisor is gone."""
    from .handoff import HandedSockets

    channel = HandedSockets(args.handoff, on_end=stop.set)
    serving = chat_server.serve(None, None, sock=channel)  # asyncio: no host with a sock
    chat_server.guard.bound_host = args.host  # the Host header check: as bound by the supervisor
    async with serving as server:
        print(f"chatkit: serving connections handed over on {args.host}", flush=True)
        await stop.wait()
        if channel.on_end is None:
            print("chatkit: the supervisor is gone; stopping", flush=True)
        await chat_server.close(server)
    print("chatkit: stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.class_code:
        from .class_code import ClassCode

        try:
            ClassCode(args.class_code)
        except ValueError as exc:
            print(f"chatkit: {exc}", file=sys.stderr)
            return 2
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        if args.workers > 1:
            from .workers import run_workers

            return run_workers(args)
        asyncio.run(run_server(args))
    except ConnectionError as exc:  # Redis did not answer
        print(f"chatkit: {_without_password(str(exc), args.redis)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"chatkit: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


def _without_password(text: str, url: str | None) -> str:
    """``text`` with the Redis URL's password (if any) as ``***``."""
    password = urllib.parse.urlsplit(url).password if url else None
    return text.replace(password, "***") if password else text


if __name__ == "__main__":
    sys.exit(main())
