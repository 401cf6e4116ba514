"""``python -m chatkit serve --workers N --redis URL``: N server processes, one class, one address.

Each worker is a whole ``python -m chatkit serve --redis URL`` of its own (its own
event loop, its own CPU), and Redis makes their rooms one. This process, the
*supervisor*, listens on the class's one port, accepts each connection and hands the
socket itself to the worker chosen by the client's address
(:mod:`chatkit.server.handoff`): all the connections of one client go to one worker,
so its per-client caps (``--max-per-client``) and its message budget hold across the
workers -- with the kernel spreading connections (``SO_REUSEPORT``) each worker kept a
budget of its own, and a client got N times its share. After the hand-over the
supervisor is out of the way: messages go from client to worker directly.

The supervisor also keeps the workers alive: a worker that dies (a crash, the OOM
killer, a ``kill -9``) is restarted, after a pause that doubles each time it dies
again soon after its start (:data:`FIRST_PAUSE`, up to :data:`LONGEST_PAUSE`); each death
is logged with the worker's number, its pid and its exit code or signal. A worker that
dies within :data:`DIED_AT_ONCE` seconds of its start :data:`GIVE_UP_AFTER` times in a row
(it cannot start: Redis gone, a bug) makes the supervisor stop everything and exit 1,
so a service manager (systemd's ``Restart=on-failure``) sees the failure. Ctrl-C or
SIGTERM stop every worker and exit 0. A supervisor that is killed outright leaves no
worker behind: each notices its channel end and stops.

Where sockets cannot be handed between processes (Windows), the workers take ports
in sequence (``3000``, ``3001``, ...) instead; each prints its address, any of them
serves every room, and caps count per worker.

Why processes: one Python process runs its event loop on one core; a room of a
thousand members is CPU-bound in the server (one write per member). Processes, not
threads, put the other cores to work.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import math
import os
import signal
import socket
import sys
import threading
import time
from typing import Callable

from .handoff import can_hand_over, channel_pair, hand_over, worker_for
from .links import hand_out_links
from .options import worker_argv, worker_env
from ..support.urls import redacted
from ..support.processes import ChildProcess, start_child

__all__ = ["run_workers", "Supervisor", "FIRST_PAUSE", "LONGEST_PAUSE", "DIED_AT_ONCE",
           "GIVE_UP_AFTER", "exit_status"]

#: Seconds before a dead worker is restarted; doubled each time it dies again soon.
FIRST_PAUSE = 0.5
#: The longest pause before a restart.
LONGEST_PAUSE = 30.0
#: A worker that dies within this many seconds of its start died "at once".
DIED_AT_ONCE = 10
#: Deaths at once in a row after which the supervisor gives up (exit code 1).
GIVE_UP_AFTER = 5
#: Seconds the workers get to stop after Ctrl-C / SIGTERM, before SIGKILL.
STOP_GRACE = 10.0
#: Connections waiting to be accepted by the supervisor.
BACKLOG = 1024
#: The line a worker prints once it serves (``cli._serve_handed_over``, ``cli.run_server``).
READY = "chatkit: serving "


def exit_status(code: int) -> str:
    """How a process ended, from its exit code (``Popen.returncode``).

    >>> exit_status(1), exit_status(-9)
    ('exited with code 1', 'was killed by SIGKILL')
    """
    if code >= 0:
        return f"exited with code {code}"
    try:
        return f"was killed by {signal.Signals(-code).name}"
    except ValueError:
        return f"was killed by signal {-code}"


@dataclasses.dataclass(eq=False)
class _Worker:
    """One worker's place: its number, the process now in it, its channel, its record."""

    number: int
    port: int = 0  # without hand-over: its own port
    child: ChildProcess | None = None
    channel: socket.socket | None = None  # the supervisor's end (None without hand-over)
    next_end: socket.socket | None = None  # the other end, for the process to come
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)
    started: float = 0.0
    ready: bool = False
    deaths_at_once: int = 0
    restart_at: float | None = None
    last_status: str = ""
    address: str = ""  # where it listens (without hand-over)

    def take(self, connection: socket.socket) -> bool:
        """Hand ``connection`` to this worker; False if it cannot take it (stalled).

        While the worker is dead or restarting, connections wait in a new channel (the
        kernel holds them) for the process to come: its clients wait, none is refused.
        """
        with self.lock:
            if self.channel is None:
                return False
            try:
                return hand_over(self.channel, connection)
            except ConnectionError:  # the process is gone: a channel for the next one
                self.renew()
                return hand_over(self.channel, connection)

    def renew(self) -> socket.socket:
        """A new channel, its other end kept for the next process (called holding ``lock``)."""
        if self.next_end is None:
            if self.channel is not None:
                self.channel.close()  # sockets still in it go with it: those clients see a reset
            self.channel, self.next_end = channel_pair()
        return self.next_end


def _worker_argv(args: argparse.Namespace, number: int, port: int | None,
                 handoff: int | None) -> list[str]:
    """Worker ``number``'s command line: this one's options (the same limits and who may
    connect; the class code and Redis URL as bare flags, their values in its
    environment), its number, and either its channel (``--handoff FD``) or its port."""
    where = [f"--handoff={handoff}"] if handoff is not None else [f"--port={port}"]
    return [sys.executable, "-m", "chatkit", "serve", *worker_argv(args), *where,
            f"--worker={number}"]


class Supervisor:
    """Starts ``args.workers`` workers, hands them connections, restarts the dead ones.

    ``run()`` returns the exit code: 0 once stopped by a signal, 1 if the workers did not
    all start or one kept dying at once. ``print`` is where its own lines go.
    """

    def __init__(self, args: argparse.Namespace, print: Callable[..., None] = print) -> None:
        self.args = args
        self.print = print
        self.handing_over = can_hand_over()
        self.stopping = threading.Event()
        self.signals: list[int] = []  # the signals that asked us to stop (safe in a handler)
        self.listener: socket.socket | None = None
        self.refused = 0  # connections no worker could take (stalled, or kept dying)
        self.workers = [_Worker(number) for number in range(1, args.workers + 1)]
        if not self.handing_over and args.port:
            for offset, worker in enumerate(self.workers):
                worker.port = args.port + offset
        # Round robin when no per-client limit is on: nothing to keep together.
        self.spread = itertools.count() if (not args.max_per_client and args.no_client_limit) \
            else None

    # -- the workers -------------------------------------------------------------

    def start(self, worker: _Worker) -> None:
        """Start (or restart) ``worker``: a new process, with a new channel."""
        theirs = None
        if self.handing_over:
            with worker.lock:
                theirs, worker.next_end = worker.renew(), None
        argv = _worker_argv(self.args, worker.number, worker.port,
                            theirs.fileno() if theirs is not None else None)
        this: list[ChildProcess] = []  # this process, once started (its lines may come first)
        known = threading.Event()

        def relay(line: str) -> None:
            """A line of this worker's, printed here marked with its number and pid."""
            known.wait(5)
            child = this[0] if this else None
            if line.startswith(READY) and child is worker.child:
                worker.ready = True
                if line.startswith("chatkit: serving on "):
                    worker.address = line.removeprefix("chatkit: serving on ").strip()
            pid = child.pid if child is not None else "?"
            self.print(f"[worker {worker.number} pid {pid}] {line}", end="", flush=True)

        worker.ready, worker.restart_at = False, None
        try:
            # Its secrets (the class code, the Redis URL) in its environment, readable by
            # this user only; its command line is anyone's (ps, /proc/<pid>/cmdline).
            child = start_child(argv, name=f"worker {worker.number}",
                                env={**os.environ, **worker_env(self.args)},
                                pass_fds=(theirs.fileno(),) if theirs is not None else (),
                                on_line=relay)
        finally:
            if theirs is not None:
                theirs.close()  # the worker holds its own copy: at its end, EOF is its end
        worker.child, worker.started = child, time.monotonic()
        this.append(child)
        known.set()

    def check(self, worker: _Worker) -> int | None:
        """Notice a dead worker and schedule its restart; 1 if it is time to give up."""
        child = worker.child
        if child is None or worker.restart_at is not None or child.running:
            return None
        code = child.wait()
        if self.handing_over:
            with worker.lock:
                worker.renew()  # its clients' new connections wait there for the next one
        lived = time.monotonic() - worker.started
        worker.last_status = exit_status(code)
        worker.deaths_at_once = worker.deaths_at_once + 1 if lived < DIED_AT_ONCE else 1
        if worker.deaths_at_once >= GIVE_UP_AFTER:
            self.print(f"chatkit: worker {worker.number} died within {DIED_AT_ONCE} s of its"
                       f" start {worker.deaths_at_once} times in a row (last:"
                       f" {worker.last_status.removeprefix('was ')}); giving up: stopping"
                       " every worker", file=sys.stderr, flush=True)
            return 1
        pause = min(LONGEST_PAUSE, FIRST_PAUSE * 2 ** (worker.deaths_at_once - 1))
        worker.restart_at = time.monotonic() + pause
        self.print(f"chatkit: worker {worker.number} (pid {child.pid}) {worker.last_status};"
                   f" restarting it in {pause:g} s", flush=True)
        return None

    # -- the connections ---------------------------------------------------------

    def listen(self) -> int:
        """Listen on ``--host``/``--port`` (port 0: a free one); the port."""
        host, port = self.args.host, self.args.port
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        self.listener = socket.create_server((host, port), family=family, backlog=BACKLOG)
        self.listener.settimeout(0.25)  # to see `stopping` while no one connects
        return self.listener.getsockname()[1]

    def accept(self) -> None:
        """Accept connections and hand each to its client's worker (a thread's loop)."""
        listener = self.listener
        assert listener is not None
        last_report = -math.inf
        while not self.stopping.is_set():
            try:
                connection, address = listener.accept()
            except TimeoutError:
                continue
            except OSError as exc:  # out of file descriptors, or closed under us
                if self.stopping.is_set():
                    return
                if time.monotonic() - last_report > 10:
                    last_report = time.monotonic()
                    self.print(f"chatkit: cannot accept connections: {exc}", flush=True)
                time.sleep(0.1)
                continue
            with connection:
                if not self.choose(address[0]).take(connection):
                    self.refused += 1
                    if time.monotonic() - last_report > 10:
                        last_report = time.monotonic()
                        self.print(f"chatkit: a worker cannot take connections (stalled, or"
                                   f" restarting); {self.refused} refused so far", flush=True)

    def choose(self, address: str) -> _Worker:
        """The worker for a connection from ``address``: by address, or in turn."""
        if self.spread is not None:
            return self.workers[next(self.spread) % len(self.workers)]
        return self.workers[worker_for(address, len(self.workers))]

    # -- the whole ---------------------------------------------------------------

    def run(self) -> int:
        """Until Ctrl-C, SIGTERM, or giving up; the exit code."""
        previous = {sig: signal.signal(sig, lambda number, _: self.signals.append(number))
                    for sig in (signal.SIGINT, signal.SIGTERM)}
        accepting = None
        code = 0
        try:
            port = self.listen() if self.handing_over else None
            for worker in self.workers:
                self.start(worker)
            if self.handing_over:
                accepting = threading.Thread(target=self.accept, name="chatkit-accept",
                                             daemon=True)
                accepting.start()
            # Until every worker serves -- or one exits, failing to start: no waiting forever.
            while (not all(w.ready for w in self.workers) and not self.signals
                   and all(w.child is not None and w.child.running for w in self.workers)):
                time.sleep(0.05)
            if not all(w.ready for w in self.workers):
                if not self.signals:
                    self.print("chatkit: not every worker started; stopping", file=sys.stderr,
                               flush=True)
                    code = 1
                return code
            self._print_addresses(port)
            while not self.signals:
                for worker in self.workers:
                    if self.check(worker):
                        return 1
                    if worker.restart_at is not None and time.monotonic() >= worker.restart_at:
                        try:
                            self.start(worker)
                        except OSError as exc:  # no fork: out of memory or processes
                            worker.restart_at = time.monotonic() + LONGEST_PAUSE
                            self.print(f"chatkit: cannot start worker {worker.number}: {exc};"
                                       f" trying again in {LONGEST_PAUSE:g} s", flush=True)
                time.sleep(0.05)
            return 0
        finally:
            self.stopping.set()
            self._stop_all()
            if accepting is not None:
                accepting.join(1)
            if self.listener is not None:
                self.listener.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self.print("chatkit: stopped", flush=True)

    def _stop_all(self) -> None:
        """SIGTERM to every worker at once, then each gets what is left of ``STOP_GRACE``."""
        running = [w for w in self.workers if w.child is not None and w.child.running]
        for worker in running:
            worker.child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE
        for worker in running:
            # Sent above: a second SIGTERM could land after the worker restored the default handler.
            code = worker.child.stop(timeout=max(0.1, deadline - time.monotonic()), sig=None)
            if code is not None:
                self.print(f"chatkit: worker {worker.number} (pid {worker.child.pid})"
                           f" {exit_status(code)}", flush=True)
        for worker in self.workers:
            for end in (worker.channel, worker.next_end):
                if end is not None:
                    end.close()

    def _print_addresses(self, port: int | None) -> None:
        args = self.args
        code = f"?code={args.class_code}" if getattr(args, "class_code", None) else ""
        if port is not None:
            self.print(f"chatkit: serving on {args.host}:{port} ({len(self.workers)} workers; each"
                   f" client's connections on one of them; rooms shared through"
                   f" {redacted(args.redis)})", flush=True)
            ports = [port]
        else:
            listening = [w.address for w in self.workers]
            self.print(f"chatkit: {len(listening)} workers on {', '.join(listening)};"
                       f" rooms shared through {redacted(args.redis)}", flush=True)
            ports = [int(address.rsplit(":", 1)[1]) for address in listening]
        for number, each in enumerate(ports):
            first, *others = hand_out_links(args.host, each, args.room, code)
            self.print(f"chatkit: open {first}" + ("  (Ctrl-C to stop)" if number == 0 else ""),
                       flush=True)
            for link in others:  # on every address: the network's link first, then this machine's
                self.print(f"chatkit: on this machine: {link}", flush=True)
        if getattr(args, "class_code", None):
            self.print(f"chatkit: class code {args.class_code}: only those who know it get in",
                       flush=True)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            self.print(f"chatkit: listening on {args.host}: other machines can connect",
                       flush=True)


def run_workers(args: argparse.Namespace) -> int:
    """Run ``args.workers`` servers on one Redis until Ctrl-C; return the exit code.

    Each worker is a child process of its own (:mod:`chatkit.support.processes`); its
    lines are printed here, marked with its number. Ctrl-C (or SIGTERM) stops them all.
    """
    if args.class_code == "":  # --class-code with none given: one code for every worker
        from .class_code import new_code

        args.class_code = new_code()
    return Supervisor(args).run()
