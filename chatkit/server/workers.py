"""``python -m chatkit serve --workers N --redis URL``: N server processes, one class, one address.

Each worker is a whole ``python -m chatkit serve --redis URL`` of its own (its own
event loop, its own CPU), and Redis makes their rooms one. They share the port with
``SO_REUSEPORT``: the kernel spreads new connections over the workers, so the class
still gets one address. Where ``SO_REUSEPORT`` does not spread connections (macOS,
Windows), the workers take ports in sequence (``3000``, ``3001``, ...) instead; each
prints its address, and any of them serves every room.

Why processes: one Python process runs its event loop on one core; a room of a
thousand members is CPU-bound in the server (one write per member). Processes, not
threads, put the other cores to work.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import socket
import sys

from .options import worker_argv

__all__ = ["run_workers", "shares_ports"]


def shares_ports() -> bool:
    """True where ``SO_REUSEPORT`` spreads connections over listeners (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _worker_argv(args: argparse.Namespace, number: int, port: int, shared: bool) -> list[str]:
    """Worker ``number``'s command line: this one's options (the same limits and who may
    connect, the same class code), its port, its number."""
    return [sys.executable, "-m", "chatkit", "serve", *worker_argv(args), f"--port={port}",
            f"--worker={number}", *(["--reuse-port"] if shared else [])]


async def _run(args: argparse.Namespace) -> int:
    if args.class_code == "":  # --class-code with none given: one code for every worker
        from .class_code import new_code

        args.class_code = new_code()
    shared = shares_ports()
    reserved = None
    port = args.port
    if shared and port == 0:
        # Pick the port here and hold it (bound, not listening) until the workers listen.
        reserved = socket.socket()
        reserved.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        reserved.bind((args.host, 0))
        port = reserved.getsockname()[1]
    ports = [port] * args.workers if shared else [
        (port + i if port else 0) for i in range(args.workers)]
    workers = [
        await asyncio.create_subprocess_exec(
            *_worker_argv(args, i + 1, ports[i], shared),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        for i in range(args.workers)
    ]
    listening: list[str] = []
    ready = asyncio.Event()

    async def relay(number: int, worker: asyncio.subprocess.Process) -> None:
        """Print the worker's lines, marked with its number; note where it listens."""
        assert worker.stdout is not None
        while line := (await worker.stdout.readline()).decode():
            if line.startswith("chatkit: serving on "):
                listening.append(line.removeprefix("chatkit: serving on ").strip())
                if len(listening) == len(workers):
                    ready.set()
            print(f"[worker {number} pid {worker.pid}] {line}", end="", flush=True)
        code = await worker.wait()
        print(f"chatkit: worker {number} (pid {worker.pid}) exited with code {code}", flush=True)
        ready.set()  # one that fails to start must not leave us waiting

    relays = [asyncio.create_task(relay(i + 1, w)) for i, w in enumerate(workers)]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await ready.wait()
    if reserved is not None:
        reserved.close()
    if len(listening) < len(workers):
        print("chatkit: not every worker started; stopping", file=sys.stderr, flush=True)
        stop.set()
    else:
        shown = "127.0.0.1" if args.host in ("0.0.0.0", "::") else args.host
        if shared:
            print(f"chatkit: serving on {args.host}:{port} ({len(workers)} workers sharing"
                  f" the port; rooms shared through {args.redis})", flush=True)
            print(f"chatkit: open http://{shown}:{port}/{_quote(args.room)}  (Ctrl-C to stop)",
                  flush=True)
        else:
            print(f"chatkit: {len(workers)} workers on {', '.join(listening)};"
                  f" rooms shared through {args.redis}", flush=True)
            for address in listening:
                print(f"chatkit: open http://{shown}:{address.rsplit(':', 1)[1]}/"
                      f"{_quote(args.room)}", flush=True)
    done = asyncio.ensure_future(asyncio.gather(*relays))
    await asyncio.wait({done, asyncio.ensure_future(stop.wait())},
                       return_when=asyncio.FIRST_COMPLETED)
    for worker in workers:
        if worker.returncode is None:
            worker.send_signal(signal.SIGTERM)
    try:
        async with asyncio.timeout(10):
            await done
    except TimeoutError:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
    print("chatkit: stopped", flush=True)
    return 0 if len(listening) == len(workers) else 1


def _quote(room: str) -> str:
    import urllib.parse

    return urllib.parse.quote(room, safe="")


def run_workers(args: argparse.Namespace) -> int:
    """Run ``args.workers`` servers on one Redis until Ctrl-C; return the exit code."""
    return asyncio.run(_run(args))
