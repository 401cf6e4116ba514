"""The one way the tests start a program: ``Process``, its output kept as it comes.

::

    with ChatkitServe("--room", "people").wait_serving() as server:   # python -m chatkit serve --port 0
        server.port, server.page_url, server.ws_url("people")
    # on leaving: SIGTERM, SIGKILL if it hangs

    lab = Process(["jupyter", "lab", ...], name="jupyter lab", tree=True)
    lab.wait_for(r"is running at")          # a regular expression, bounded
    lab.stop()                              # and every process it started (tree=True)

Stdout and stderr are merged into ``output``, read by a thread so that a chatty
child never blocks on a full pipe. Every wait is bounded; ``stop()`` signals the
child (by PID, or its whole session with ``tree=True``), waits, and kills what is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import psutil

from .waiting import DEADLINE, wait_until

__all__ = ["Process", "ChatkitServe", "SERVING", "OPEN"]

#: What ``python -m chatkit serve`` prints once it listens, and where its room page is.
SERVING = re.compile(r"^chatkit: serving on (\S+):(\d+)", re.M)
OPEN = re.compile(r"^chatkit: open (http://\S+)", re.M)

#: A process that ended just before we signalled it is no error.
_GONE = contextlib.suppress(ProcessLookupError, psutil.NoSuchProcess)


class Process:
    """A child process (``args``) whose merged stdout and stderr is kept in ``output``.

    With ``tree=True`` it runs in a session of its own, and ``stop()`` also ends
    every process it started (collected by PID before the signal).
    """

    def __init__(self, args: list[str], *, name: str | None = None, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, tree: bool = False) -> None:
        self.args = [str(arg) for arg in args]
        self.name = name or Path(self.args[0]).name
        self.tree = tree
        self.lines: list[str] = []
        self.popen = subprocess.Popen(
            self.args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, errors="replace", env=env, cwd=cwd, start_new_session=tree)
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"{self.name} output")
        self._reader.start()

    @classmethod
    def python(cls, *args: str, **options: Any) -> Process:
        """This Python (the test's venv) with ``args``: ``Process.python("-m", "chatkit", ...)``."""
        options.setdefault("name", " ".join(args[:2]) if args[0] == "-m" else "python")
        return cls([sys.executable, *args], **options)

    def _read(self) -> None:
        for line in self.popen.stdout:
            self.lines.append(line)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def returncode(self) -> int | None:
        """The exit code, or None while it runs."""
        return self.popen.poll()

    @property
    def output(self) -> str:
        """Everything it printed so far, stdout and stderr together."""
        return "".join(self.lines)

    def wait_for(self, pattern: str | re.Pattern, timeout: float = DEADLINE) -> re.Match:
        """Until ``pattern`` (a regular expression, multi-line) is in the output; the match.

        Fails at once if the process exits without printing it.
        """
        regex = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern

        def printed() -> re.Match | None:
            if match := regex.search(self.output):
                return match
            if self.returncode is not None:
                self._reader.join(DEADLINE)  # what it printed last
                if match := regex.search(self.output):
                    return match
                raise AssertionError(f"{self.name} exited with code {self.returncode} before"
                                     f" printing {regex.pattern!r}:\n{self.output[-3000:]}")
            return None

        try:
            return wait_until(printed, f"{self.name} did not print {regex.pattern!r}", timeout)
        except AssertionError as late:
            if self.returncode is not None:
                raise
            raise AssertionError(f"{late}:\n{self.output[-3000:]}") from None

    async def printed(self, pattern: str | re.Pattern, timeout: float = DEADLINE) -> re.Match:
        """``wait_for`` from a coroutine, without blocking its event loop."""
        return await asyncio.to_thread(self.wait_for, pattern, timeout)

    def wait(self, timeout: float = DEADLINE) -> int:
        """Until it exits by itself; its exit code (the output is complete then)."""
        self.popen.wait(timeout)
        self._reader.join(DEADLINE)
        return self.popen.returncode

    def stop(self, sig: int = signal.SIGTERM, timeout: float = DEADLINE) -> int:
        """Send ``sig``, wait up to ``timeout`` s, then SIGKILL; its exit code."""
        family = self._descendants() if self.tree else []
        if self.returncode is None:
            self.popen.send_signal(sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        _, alive = psutil.wait_procs(family, timeout=5)
        for process in alive:
            with _GONE:
                process.kill()
        psutil.wait_procs(alive, timeout=5)
        self._reader.join(DEADLINE)
        return self.popen.returncode

    def kill(self) -> None:
        """SIGKILL (its whole session with ``tree=True``): it dies saying goodbye to no one."""
        if self.returncode is None:
            with _GONE:
                if self.tree:
                    os.killpg(self.pid, signal.SIGKILL)
                else:
                    self.popen.kill()
        self.popen.wait(DEADLINE)

    def _descendants(self) -> list[psutil.Process]:
        with _GONE:
            return psutil.Process(self.pid).children(recursive=True)
        return []


class ChatkitServe(Process):
    """``python -m chatkit serve --port 0 ARGS``; ``wait_serving()`` learns its port.

    ::

        server = ChatkitServe("--redis", url).wait_serving()
        server.ws_url("people")     # ws://127.0.0.1:<port>/chat/people
        server.stop(signal.SIGINT)  # Ctrl-C: 0, and "chatkit: stopped" in its output
    """

    def __init__(self, *args: str, **options: Any) -> None:
        super().__init__([sys.executable, "-m", "chatkit", "serve", "--port", "0", *args],
                         name="chatkit serve", **options)
        self.host, self.port = "", 0

    def wait_serving(self, timeout: float = 3 * DEADLINE) -> ChatkitServe:
        """Until it says where it listens (a loaded machine starts Python slowly)."""
        match = self.wait_for(SERVING, timeout)
        self.host, self.port = match[1], int(match[2])
        return self

    @property
    def page_url(self) -> str:
        """The room page it printed (``chatkit: open http://...``)."""
        return self.wait_for(OPEN)[1]

    def ws_url(self, room: str = "people") -> str:
        return f"ws://127.0.0.1:{self.port}/chat/{room}"
