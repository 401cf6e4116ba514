"""The command line: ``python -m chatkit serve [--host 127.0.0.1] [--port 3000]``.

Runs the chat server with its page until Ctrl-C, and prints the address to open.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
import urllib.parse

from .server import serve

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
    run.add_argument("--quiet", action="store_true", help="print only errors")
    run.add_argument("--compression", choices=("off", "shared", "deflate"), default="off",
                     help="answer the browsers' permessage-deflate offer: off (default, as"
                          " Node's ws), shared (once per broadcast) or deflate (once per member)")
    return parser.parse_args(argv)


async def run_server(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    compression = None if args.compression == "off" else args.compression
    async with serve(args.host, args.port, random_every=args.random_every,
                     compression=compression) as server:
        host, port = server.sockets[0].getsockname()[:2]
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
        print(f"chatkit: serving on {host}:{port}", flush=True)
        room = urllib.parse.quote(args.room, safe="")
        print(f"chatkit: open http://{shown}:{port}/{room}  (Ctrl-C to stop)", flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(f"chatkit: listening on {args.host}: other machines can connect", flush=True)
        await stop.wait()
    print("chatkit: stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(message)s",
        datefmt="%H:%M:%S",
        stream=sys.stdout,
    )
    logging.getLogger("websockets").setLevel(logging.WARNING)
    try:
        asyncio.run(run_server(args))
    except OSError as exc:
        print(f"chatkit: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
