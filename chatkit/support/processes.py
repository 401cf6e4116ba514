"""Child processes, started and stopped one way: a server under test, a Redis, a worker.

:func:`start_child` starts a program in a process group of its own, reads its output
in a thread (every line kept, up to a bound), and returns once the child is *ready*:
it printed a line that matches ``ready_line``, its ``ready_port`` answers, ``ready()``
says so -- all within ``timeout`` seconds, or it is stopped and an error says why.
:meth:`ChildProcess.stop` stops it by its PID: stdin closed, a signal (``SIGTERM``),
a wait, ``SIGKILL`` if it must, then whatever descendants it left behind::

    >>> import sys
    >>> server = "import sys; print('port 4242', flush=True); sys.stdin.read()"
    >>> child = start_child([sys.executable, "-c", server], ready_line=r"port (\\d+)",
    ...                     stdin=subprocess.PIPE)
    >>> int(child.ready_match[1]), child.running
    (4242, True)
    >>> child.stop(sig=None)   # EOF on its stdin is enough: it ends, exit code 0
    0

A child in a group of its own does not receive the terminal's Ctrl-C: the parent
decides when it stops (and a notebook's "interrupt" does not kill its Redis).
Nothing here imports chatkit: the tests' harnesses (JupyterLab, JupyterHub, servers on
Redis) can start their children with it too.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
import subprocess
import threading
import time
from typing import IO, Any, Callable, Iterator, Sequence

__all__ = [
    "ChildProcess",
    "ChildExited",
    "start_child",
    "spawn",
    "stop_process",
    "descendants",
    "free_port",
    "port_answers",
    "raise_file_limit",
]

#: Lines of output a child keeps, at most (the oldest go first).
MAX_LINES = 100_000
#: Seconds between two looks at a port or a ``ready()`` check.
POLL = 0.02


class ChildExited(RuntimeError):
    """The child exited before it was ready; the message ends with its last output.

    ``returncode`` is its exit code.
    """

    def __init__(self, message: str, returncode: int | None = None) -> None:
        super().__init__(message)
        self.returncode = returncode


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port free on ``host`` right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_answers(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Does something accept TCP connections on ``host:port``?"""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class ChildProcess:
    """A child process started by :func:`start_child`; its output, its readiness, its stop.

    ``pid``, ``process`` (the ``subprocess.Popen``), ``lines`` (its output so far, when
    it goes to a pipe), ``ready_match`` (the match of ``ready_line``). A ``with`` block
    stops it at the end.
    """

    def __init__(self, process: subprocess.Popen, *, name: str = "",
                 on_line: Callable[[str], Any] | None = None,
                 max_lines: int = MAX_LINES) -> None:
        self.process = process
        self.pid = process.pid
        self.name = name or str(process.args[0] if isinstance(process.args, (list, tuple))
                                else process.args)
        self.ready_match: re.Match | None = None
        self.lines: list[str] = []
        self._first = 0  # the number of the first line kept (older ones were dropped)
        self._ended = process.stdout is None  # no pipe: nothing to read
        self._on_line = on_line
        self._max_lines = max_lines
        self._changed = threading.Condition()
        self._reader: threading.Thread | None = None
        if process.stdout is not None:
            self._reader = threading.Thread(target=self._read, name=f"{self.name}-output",
                                            daemon=True)
            self._reader.start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        try:
            for line in stream:
                if self._on_line is not None:
                    try:
                        self._on_line(line)
                    except Exception:  # the reader must go on: a pipe left unread blocks the child
                        pass
                with self._changed:
                    self.lines.append(line)
                    if len(self.lines) > self._max_lines:
                        drop = len(self.lines) // 2
                        del self.lines[:drop]
                        self._first += drop
                    self._changed.notify_all()
        except (OSError, ValueError):  # the pipe was closed under us
            pass
        finally:
            with self._changed:
                self._ended = True
                self._changed.notify_all()

    # -- state ---------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    @property
    def returncode(self) -> int | None:
        return self.process.poll()

    @property
    def output(self) -> str:
        """Its output so far (what was kept), as one string."""
        with self._changed:
            return "".join(self.lines)

    def __repr__(self) -> str:
        state = "running" if self.running else f"exited {self.process.returncode}"
        return f"<ChildProcess {self.name} pid {self.pid} {state}>"

    def __enter__(self) -> ChildProcess:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    # -- its output ----------------------------------------------------------------

    def iter_lines(self, timeout: float, start: int = 0) -> Iterator[str]:
        """Each line of output from line number ``start`` on, as it comes, until the
        output ends; ``TimeoutError`` once ``timeout`` seconds have passed."""
        deadline = time.monotonic() + timeout
        number = start
        while True:
            with self._changed:
                while number >= self._first + len(self.lines) and not self._ended:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"{self.name}: no more output within {timeout} s")
                    self._changed.wait(min(left, 1.0))
                if number >= self._first + len(self.lines):
                    return  # the output ended
                number = max(number, self._first)
                line = self.lines[number - self._first]
            number += 1
            yield line

    def wait_for_line(self, pattern: str | re.Pattern, timeout: float) -> re.Match:
        """The first line of output that matches ``pattern`` (``re.search``), waiting up
        to ``timeout`` seconds; :class:`ChildExited` if the output ends first."""
        pattern = re.compile(pattern) if isinstance(pattern, str) else pattern
        try:
            for line in self.iter_lines(timeout):
                if match := pattern.search(line):
                    return match
        except TimeoutError:
            raise TimeoutError(f"{self.name} printed no line matching {pattern.pattern!r}"
                               f" within {timeout:g} s{self._tail()}") from None
        self.process.wait(5)
        raise ChildExited(f"{self.name} exited with code {self.process.returncode} before"
                          f" printing a line matching {pattern.pattern!r}{self._tail()}",
                          self.process.returncode)

    def _tail(self, lines: int = 20) -> str:
        with self._changed:
            tail = "".join(self.lines[-lines:])
        return f":\n{tail}" if tail else ""

    # -- talking to it, stopping it ------------------------------------------------

    def write(self, text: str) -> None:
        """Write ``text`` to its stdin (started with ``stdin=subprocess.PIPE``)."""
        assert self.process.stdin is not None, "start it with stdin=subprocess.PIPE"
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def send_signal(self, sig: int) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)

    def wait(self, timeout: float | None = None) -> int:
        """Wait until it exits (``subprocess.TimeoutExpired`` after ``timeout``)."""
        return self.process.wait(timeout)

    def stop(self, timeout: float = 5, sig: int | None = signal.SIGTERM) -> int | None:
        """Stop it by PID (see :func:`stop_process`); return its exit code.

        Its last words are read before its output pipe is closed.
        """
        code = stop_process(self.process, timeout, sig, close_pipes=False)
        if self._reader is not None:
            self._reader.join(timeout)  # to the end of its output, unless a descendant holds it
            if self._reader.is_alive():  # closing the pipe would wait for the reader: leave it
                return code
        _close(self.process.stdout, self.process.stderr)
        return code

    def kill(self, timeout: float = 5) -> int | None:
        """``SIGKILL`` at once, as a crash would; its descendants too."""
        return self.stop(timeout, signal.SIGKILL)


def spawn(argv: Sequence[str], *, stdout: int | IO[Any] | None = subprocess.PIPE,
          stderr: int | IO[Any] | None = subprocess.STDOUT,
          stdin: int | IO[Any] | None = subprocess.DEVNULL, **popen: Any) -> subprocess.Popen:
    """``subprocess.Popen(argv)`` as every child here starts: in a session of its own,
    stdin ``/dev/null``, stdout and stderr merged into one text pipe (UTF-8, line by
    line). Wrap it in :class:`ChildProcess` to read and stop it; :func:`start_child`
    does both and waits until it is ready."""
    text = {"text": True, "encoding": "utf-8", "errors": "replace"}
    piped = stdout == subprocess.PIPE or stdin == subprocess.PIPE
    return subprocess.Popen(
        list(argv), stdin=stdin, stdout=stdout,
        stderr=stderr if (stdout is not None or stderr != subprocess.STDOUT) else None,
        start_new_session=True, **({**text, "bufsize": 1} if piped else {}), **popen)


def start_child(
    argv: Sequence[str],
    *,
    ready_line: str | re.Pattern | None = None,
    ready_port: int | None = None,
    ready: Callable[[], bool] | None = None,
    timeout: float = 30,
    stdout: int | IO[Any] | None = subprocess.PIPE,
    stderr: int | IO[Any] | None = subprocess.STDOUT,
    stdin: int | IO[Any] | None = subprocess.DEVNULL,
    on_line: Callable[[str], Any] | None = None,
    max_lines: int = MAX_LINES,
    name: str = "",
    **popen: Any,
) -> ChildProcess:
    """Start ``argv`` in a process group of its own; return it once it is ready.

    Ready means, in this order and within ``timeout`` seconds in all: it printed a line
    that matches ``ready_line`` (``child.ready_match``), ``ready_port`` on 127.0.0.1
    accepts connections, ``ready()`` returns True. If it exits first:
    :class:`ChildExited`; if time runs out: ``TimeoutError``; either way it is stopped.

    Its output goes to a pipe read by a thread (``stdout=subprocess.PIPE``, the default;
    stderr with it): ``child.lines``, and ``on_line(line)`` for each line, on that
    thread; the newest ``max_lines`` are kept. Or pass ``stdout=`` a file,
    ``subprocess.DEVNULL`` or None (inherited).
    Its stdin is ``/dev/null`` unless ``stdin=subprocess.PIPE``. Other keywords
    (``cwd``, ``env``, ``preexec_fn`` ...) go to ``subprocess.Popen``.
    """
    piped = stdout == subprocess.PIPE
    process = spawn(argv, stdout=stdout, stderr=stderr, stdin=stdin, **popen)
    child = ChildProcess(process, name=name, on_line=on_line, max_lines=max_lines)
    deadline = time.monotonic() + timeout
    try:
        if ready_line is not None:
            if not piped:
                raise ValueError("ready_line needs the output in a pipe (stdout=subprocess.PIPE)")
            try:
                child.ready_match = child.wait_for_line(ready_line,
                                                        max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                wanted = getattr(ready_line, "pattern", ready_line)
                raise TimeoutError(f"{child.name} was not ready within {timeout:g} s: it printed"
                                   f" no line matching {wanted!r}{child._tail()}") from None
        while ready_port is not None or ready is not None:
            if ((ready_port is None or port_answers(ready_port))
                    and (ready is None or ready())):
                break
            if process.poll() is not None:
                if child._reader is not None:
                    child._reader.join(1)
                raise ChildExited(f"{child.name} exited with code {process.returncode}"
                                  f" before it was ready{child._tail()}", process.returncode)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{child.name} was not ready within {timeout:g} s"
                                   f"{child._tail()}")
            time.sleep(POLL)
    except BaseException:
        child.stop()
        raise
    return child


def stop_process(process: subprocess.Popen, timeout: float = 5,
                 sig: int | None = signal.SIGTERM, *, close_pipes: bool = True) -> int | None:
    """Stop a child by its PID; return its exit code.

    Its stdin is closed (a server that waits for EOF stops there), ``sig`` is sent
    (None: none; EOF is enough), and after ``timeout`` seconds it is killed. The
    descendants it had when this began (a hub's proxy, a worker's children; they may
    live in sessions of their own) get ``timeout`` seconds more to end, then
    ``SIGKILL``. Its output pipes are closed (unless ``close_pipes=False``).
    """
    family = descendants(process.pid) if process.poll() is None else []
    if process.stdin is not None:
        try:
            process.stdin.close()
        except OSError:  # a broken pipe: it is gone already
            pass
    if process.poll() is None:
        try:
            if sig is not None:
                process.send_signal(sig)
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout)
        except ProcessLookupError:
            process.wait(timeout)
    family = _wait_gone(family, timeout)
    for pid, started in family:
        if _alive(pid, started):
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
    _wait_gone(family, timeout)  # SIGKILL takes a moment too
    if close_pipes:
        _close(process.stdout, process.stderr)
    return process.returncode


def _wait_gone(family: list[tuple[int, int]], timeout: float) -> list[tuple[int, int]]:
    """Wait up to ``timeout`` seconds for these processes to end; those still alive."""
    deadline = time.monotonic() + timeout
    while True:
        family = [member for member in family if _alive(*member)]
        if not family or time.monotonic() >= deadline:
            return family
        time.sleep(POLL)


def _close(*streams: IO[Any] | None) -> None:
    for stream in streams:
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


def descendants(pid: int) -> list[tuple[int, int]]:
    """The processes below ``pid`` (children, theirs ...), as ``(pid, start time)`` pairs.

    Read from ``/proc`` (Linux); elsewhere, an empty list. The start time tells a
    process from a later one that got its PID back.
    """
    children: dict[int, list[tuple[int, int]]] = {}
    try:
        entries = os.listdir("/proc")
    except OSError:
        return []
    for entry in entries:
        if entry.isdigit():
            stat = _stat(int(entry))
            if stat is not None:
                children.setdefault(stat[1], []).append((int(entry), stat[2]))
    found: list[tuple[int, int]] = []
    parents = [pid]
    while parents and len(found) < 10_000:
        below = [child for parent in parents for child in children.get(parent, [])]
        found += below
        parents = [child for child, _ in below]
    return found


def _stat(pid: int) -> tuple[str, int, int] | None:
    """``(state, parent pid, start time)`` of ``pid`` from ``/proc/<pid>/stat``, or None."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            fields = file.read().rsplit(")", 1)[1].split()  # after "pid (name)"
        return fields[0], int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _alive(pid: int, started: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z" and stat[2] == started


def raise_file_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit; return the limit.

    Desktops often start programs with a soft limit of 1,024 and a hard one far above:
    a class server should use what it is allowed, and a benchmark's room of 5,000
    members needs as many sockets (children inherit the limit).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft if soft != resource.RLIM_INFINITY else target
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        return target
    except (ValueError, OSError):
        return soft
