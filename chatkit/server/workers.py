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
import math
import os
import signal
import socket
import sys
import threading
import time

from .links import hand_out_links
from .options import worker_argv, worker_env
from ..support.urls import redacted
from ..support.processes import ChildProcess, start_child

__all__ = ["run_workers", "shares_ports"]


def shares_ports() -> bool:
    """True where ``SO_REUSEPORT`` spreads connections over listeners (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _worker_argv(args: argparse.Namespace, number: int, port: int, shared: bool) -> list[str]:
    """Worker ``number``'s command line: this one's options (the same limits and who may
    connect; the class code and Redis URL as bare flags, their values in its
    environment), its port, its number."""
    return [sys.executable, "-m", "chatkit", "serve", *worker_argv(args), f"--port={port}",
            f"--worker={number}", *(["--reuse-port"] if shared else [])]


def run_workers(args: argparse.Namespace) -> int:
    """Run ``args.workers`` servers on one Redis until Ctrl-C; return the exit code.

    Each worker is a child process of its own (:mod:`chatkit.support.processes`); its
    lines are printed here, marked with its number. Ctrl-C (or SIGTERM) stops them all.
    """
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
    stop: list[int] = []  # the signal that asked us to stop (a list: safe in a handler)
    previous = {sig: signal.signal(sig, lambda number, _: stop.append(number))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    listening: list[str] = []
    workers: list[ChildProcess] = []
    relays: list[threading.Thread] = []

    def relay(number: int, worker: ChildProcess) -> None:
        """Print the worker's lines, marked with its number; note where it listens."""
        for line in worker.iter_lines(timeout=math.inf):
            if line.startswith("chatkit: serving on "):
                listening.append(line.removeprefix("chatkit: serving on ").strip())
            print(f"[worker {number} pid {worker.pid}] {line}", end="", flush=True)
        code = worker.wait()
        print(f"chatkit: worker {number} (pid {worker.pid}) exited with code {code}", flush=True)

    try:
        for number, worker_port in enumerate(ports, start=1):
            # Its secrets (the class code, the Redis URL) in its environment, readable by
            # this user only; its command line is anyone's (ps, /proc/<pid>/cmdline).
            worker = start_child(_worker_argv(args, number, worker_port, shared),
                                 name=f"worker {number}", env={**os.environ, **worker_env(args)})
            workers.append(worker)
            relays.append(threading.Thread(target=relay, args=(number, worker),
                                           name=f"chatkit-worker-{number}", daemon=True))
            relays[-1].start()
        # Until every worker listens -- or one exits, failing to start: no waiting forever.
        while len(listening) < len(workers) and all(w.running for w in workers) and not stop:
            time.sleep(0.05)
        if reserved is not None:
            reserved.close()
        if len(listening) < len(workers):
            if not stop:
                print("chatkit: not every worker started; stopping", file=sys.stderr, flush=True)
        else:
            _print_addresses(args, port, shared, listening)
        while not stop and any(w.running for w in workers):
            time.sleep(0.1)
    finally:
        for worker in workers:  # all at once, then each gets what is left of 10 seconds
            worker.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for worker in workers:
            worker.stop(timeout=max(0.1, deadline - time.monotonic()), sig=None)  # sent above: a second SIGTERM could land after the worker restored the default handler
        for thread in relays:  # their last lines (and exit codes) before ours
            thread.join(max(0.1, deadline - time.monotonic()))
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("chatkit: stopped", flush=True)
    return 0 if len(listening) == len(workers) else 1


def _print_addresses(args: argparse.Namespace, port: int, shared: bool,
                     listening: list[str]) -> None:
    code = f"?code={args.class_code}" if getattr(args, "class_code", None) else ""
    if shared:
        print(f"chatkit: serving on {args.host}:{port} ({len(listening)} workers sharing"
              f" the port; rooms shared through {redacted(args.redis)})", flush=True)
        ports = [port]
    else:
        print(f"chatkit: {len(listening)} workers on {', '.join(listening)};"
              f" rooms shared through {redacted(args.redis)}", flush=True)
        ports = [int(address.rsplit(":", 1)[1]) for address in listening]
    for number, each in enumerate(ports):
        first, *others = hand_out_links(args.host, each, args.room, code)
        print(f"chatkit: open {first}" + ("  (Ctrl-C to stop)" if number == 0 else ""),
              flush=True)
        for link in others:  # on every address: the network's link first, then this machine's
            print(f"chatkit: on this machine: {link}", flush=True)
