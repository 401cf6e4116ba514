"""The command line: ``python -m chatkit serve [--host 127.0.0.1] [--port 3000]``.

Runs the chat server with its page until Ctrl-C, and prints the address to open.
``--redis redis://127.0.0.1:6379`` shares its rooms with every server on that Redis;
``--workers 4`` runs four such servers, as processes sharing the port.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import urllib.parse

from .app import ChatServer
from .rooms import rooms_backend

__all__ = ["main"]


def port_number(text: str) -> int:
    """A TCP port, 0 to 65535 (0: any free port)."""
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535, got {port}")
    return port


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatkit", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="run the chat server and its page")
    run.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only;"
        " 0.0.0.0 lets the whole network in, e.g. a class)",
    )
    run.add_argument("--port", type=port_number, default=3000,
                     help="port (default 3000; 0: any free port)")
    run.add_argument("--room", default="people", help="room whose page address is printed")
    run.add_argument("--random-every", type=float, default=3.0,
                     help="seconds between numbers on the /random demo route")
    run.add_argument("--class-code", nargs="?", const="", default=None, metavar="CODE",
                     help="let in only those who know this code (none given: make one up);"
                     " for a class on a shared network")
    run.add_argument("--quiet", action="store_true", help="print only errors")
    guard = run.add_argument_group("limits and who may connect")
    guard.add_argument("--origin", action="append", default=[], metavar="URL",
                       help="a web origin allowed to open chats besides the server's own,"
                       " e.g. https://hub.example.org (repeatable)")
    guard.add_argument("--host-name", action="append", default=[], metavar="NAME",
                       help="a host name this server answers to when bound to 127.0.0.1"
                       " besides localhost (repeatable)")
    guard.add_argument("--max-connections", type=int, default=None, metavar="N",
                       help="open connections at most (default: from the file limit)")
    guard.add_argument("--max-per-client", type=int, default=64, metavar="N",
                       help="open connections per client address at most (default 64;"
                       " 0: no cap)")
    guard.add_argument("--no-client-limit", action="store_true",
                       help="no budget shared by all the connections of one client address"
                       " (e.g. many people behind one address, or a load test from one"
                       " machine); each connection keeps its own rate limit")
    guard.add_argument("--join-timeout", type=float, default=60.0, metavar="SECONDS",
                       help="close a chat connection that has not joined by then"
                       " (default 60; 0: never)")
    run.add_argument("--redis", metavar="URL",
                     help="share rooms with every server on this Redis"
                     " (e.g. redis://127.0.0.1:6379; see README, One room, many servers)")
    run.add_argument("--workers", type=int, default=1, metavar="N",
                     help="run N server processes sharing the port (needs --redis)")
    run.add_argument("--presence-timeout", type=float, default=5.0, metavar="SECONDS",
                     help="with --redis: a server silent this long is taken for dead and"
                          " its members are announced as gone (default 5)")
    run.add_argument("--reuse-port", action="store_true", help=argparse.SUPPRESS)
    run.add_argument("--worker", default="", help=argparse.SUPPRESS)  # set by --workers
    run.add_argument("--compression", choices=("off", "shared", "deflate"), default="off",
                     help="answer the browsers' permessage-deflate offer: off (default, as"
                          " Node's ws), shared (once per broadcast) or deflate (once per member)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be 1 or more")
    if args.workers > 1 and not args.redis:
        parser.error("--workers needs --redis: without it each process would have rooms of its own")
    return args


def guard_options(args: argparse.Namespace) -> dict:
    """The ChatServer options the limit flags stand for."""
    return {
        "origins": args.origin,
        "hosts": args.host_name,
        "max_connections": args.max_connections,
        "max_per_client": args.max_per_client or None,
        "join_timeout": args.join_timeout or None,
        **({"client_limit": None} if args.no_client_limit else {}),
    }


async def run_server(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    gate = None
    if args.class_code is not None:
        from .class_code import ClassCode

        gate = ClassCode(args.class_code or None)
    rooms = rooms_backend(redis=args.redis or None, presence_timeout=args.presence_timeout,
                          name=f"worker {args.worker}" if args.worker else None)
    compression = None if args.compression == "off" else args.compression
    chat_server = ChatServer(random_every=args.random_every, gate=gate, compression=compression,
                             rooms=rooms, **guard_options(args))
    listen = {"reuse_port": True} if args.reuse_port else {}
    async with chat_server.serve(args.host, args.port, **listen) as server:
        host, port = server.sockets[0].getsockname()[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"chatkit: serving on {host}:{port}", flush=True)
        if args.redis:
            print(f"chatkit: rooms shared through Redis at {args.redis}", flush=True)
        room = urllib.parse.quote(args.room, safe="")
        code = f"?code={gate.code}" if gate is not None else ""
        print(f"chatkit: open http://{shown}:{port}/{room}{code}  (Ctrl-C to stop)", flush=True)
        if gate is not None:
            print(f"chatkit: class code {gate.code}: only those who know it get in", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"chatkit: listening on {args.host}: other machines can connect", flush=True)
        await stop.wait()
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
        print(f"chatkit: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"chatkit: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
