"""The tests' programs, started the one way chatkit starts its own: ``Process``.

A thin layer over :class:`chatkit.support.processes.ChildProcess` (one launcher for
the package and the tests) with what tests ask of a child: wait for a pattern in
all it printed so far, stop it with a signal given first::

    with ChatkitServe("--room", "people").wait_serving() as server:   # python -m chatkit serve --port 0
        server.port, server.page_url, server.ws_url("people")
    # on leaving: SIGTERM, SIGKILL if it hangs, then what it started

    lab = Process(["jupyter", "lab", ...], name="jupyter lab", tree=True)
    lab.wait_for(r"is running at")          # a regular expression, bounded
    lab.stop()                              # and every process it started

Stdout and stderr are merged into ``output``, read by a thread so that a chatty
child never blocks on a full pipe. Every wait is bounded. Each child runs in a
session of its own; ``stop()`` ends its descendants too (collected before the
signal), and ``kill()`` with ``tree=True`` kills the whole session at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sys
from pathlib import Path
from typing import Any

from chatkit.support.processes import ChildProcess, spawn

from .waiting import DEADLINE, wait_until

__all__ = ["Process", "ChatkitServe", "SERVING", "OPEN"]

#: What ``python -m chatkit serve`` prints once it listens, and where its room page is.
SERVING = re.compile(r"^chatkit: serving on (\S+):(\d+)", re.M)
OPEN = re.compile(r"^chatkit: open (http://\S+)", re.M)


class Process(ChildProcess):
    """A child process (``args``) whose merged stdout and stderr is kept in ``output``.

    ``tree=True``: it starts processes of its own (a hub, JupyterLab), and
    :meth:`kill` ends its whole session at once, as a crash of the machine would.
    """

    def __init__(self, args: list[str], *, name: str | None = None, env: dict[str, str] | None = None,
                 cwd: str | Path | None = None, tree: bool = False) -> None:
        self.args = [str(arg) for arg in args]
        self.tree = tree
        super().__init__(spawn(self.args, env=env, cwd=cwd), name=name or Path(self.args[0]).name)

    @classmethod
    def python(cls, *args: str, **options: Any) -> Process:
        """This Python (the test's venv) with ``args``: ``Process.python("-m", "chatkit", ...)``."""
        options.setdefault("name", " ".join(args[:2]) if args[0] == "-m" else "python")
        return cls([sys.executable, *args], **options)

    def __enter__(self) -> Process:
        return self

    def wait_for(self, pattern: str | re.Pattern, timeout: float = DEADLINE) -> re.Match:
        """Until ``pattern`` (a regular expression, multi-line) is in the output; the match.

        Fails at once if the process exits without printing it.
        """
        regex = re.compile(pattern, re.M) if isinstance(pattern, str) else pattern

        def printed() -> re.Match | None:
            if match := regex.search(self.output):
                return match
            if self.returncode is not None:
                self._finish_reading()  # what it printed last
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

    def wait(self, timeout: float | None = DEADLINE) -> int:
        """Until it exits by itself; its exit code (the output is complete then)."""
        code = super().wait(timeout)
        self._finish_reading()
        return code

    def stop(self, sig: int | None = signal.SIGTERM, timeout: float = DEADLINE) -> int | None:  # type: ignore[override]
        """Send ``sig``, wait up to ``timeout`` s, then SIGKILL, and its descendants; its exit code."""
        return super().stop(timeout, sig)

    def kill(self, timeout: float = DEADLINE) -> int | None:
        """SIGKILL (its whole session with ``tree=True``): it dies saying goodbye to no one."""
        if self.tree and self.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
        return super().stop(timeout, signal.SIGKILL)

    def _finish_reading(self) -> None:
        if self._reader is not None:
            self._reader.join(DEADLINE)


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
