"""Helpers for tests that drive a real Jupyter kernel and talk to it from outside.

- :class:`Kernel`: a real ipykernel (``jupyter_client``), run cell by cell;
- :func:`free_port`: a port the OS says is free on 127.0.0.1;
- :class:`Outside`: a chat client in the test process (``websockets``' sync client).

::

    with Kernel.start() as kernel:
        cell = kernel.run("print(1 + 1)")
        assert cell.stdout == "2\\n"
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable

from websockets.sync.client import ClientConnection, connect

from chat_helpers import free_port

__all__ = ["Kernel", "Cell", "RunningCell", "free_port", "port_is_free", "Outside"]

ROOT = Path(__file__).resolve().parent.parent
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


# -- a real kernel --------------------------------------------------------------


@dataclasses.dataclass
class Cell:
    """What one executed cell produced: its reply status and its iopub outputs."""

    code: str
    status: str = ""
    outputs: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    error: dict[str, Any] | None = None
    started: float = 0.0  # time.time() when the request was sent
    finished: float = 0.0  # time.time() when the reply arrived

    def stream(self, name: str) -> str:
        return "".join(o["text"] for o in self.outputs if o.get("name") == name)

    @property
    def stdout(self) -> str:
        return self.stream("stdout")

    @property
    def stderr(self) -> str:
        return self.stream("stderr")

    def displayed(self, mime: str) -> list[Any]:
        """The ``mime`` data of every display_data/execute_result output."""
        return [o["data"][mime] for o in self.outputs if mime in o.get("data", {})]

    def describe(self) -> str:
        error = self.error or {}
        return (
            f"cell {self.code!r}: status {self.status}; stdout {self.stdout!r};"
            f" stderr {self.stderr!r}; error {error.get('ename')}: {error.get('evalue')}"
        )


class RunningCell:
    """A cell executing in a background thread: ``wait()`` for its :class:`Cell`."""

    def __init__(self, kernel: Kernel, code: str, timeout: float) -> None:
        self.cell = Cell(code)
        self.seen = threading.Event()  # set when the cell prints its first output
        self._thread = threading.Thread(
            target=kernel._execute, args=(self.cell, timeout, self.seen), daemon=True
        )
        self._thread.start()

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def wait(self, timeout: float) -> Cell:
        self._thread.join(timeout)
        assert self.done, f"cell still running after {timeout} s: {self.cell.code!r}"
        return self.cell


class Kernel:
    """A real ipykernel, started with the kernelspec of this environment."""

    def __init__(self, manager: Any, client: Any) -> None:
        self.manager = manager
        self.client = client

    @classmethod
    def start(cls, startup_timeout: float = 30) -> Kernel:
        """Start ipykernel of this Python (not a ``python3`` kernelspec of the user's)."""
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        kernels = Path(sys.prefix, "share", "jupyter", "kernels")
        specs = KernelSpecManager(kernel_dirs=[str(kernels)])
        manager = KernelManager(kernel_name="python3", kernel_spec_manager=specs)
        ipython_dir = tempfile.mkdtemp(prefix="chatkit-ipython-")  # no profile startup files
        manager.start_kernel(cwd=str(ROOT), env={**os.environ, "IPYTHONDIR": ipython_dir})
        client = manager.client()
        client.start_channels()
        kernel = cls(manager, client)
        kernel._ipython_dir = ipython_dir
        try:
            client.wait_for_ready(timeout=startup_timeout)
        except BaseException:
            kernel.shutdown()
            raise
        return kernel

    def shutdown(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)
        shutil.rmtree(getattr(self, "_ipython_dir", ""), ignore_errors=True)

    def __enter__(self) -> Kernel:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.shutdown()

    def is_alive(self) -> bool:
        return self.manager.is_alive()

    def _execute(self, cell: Cell, timeout: float, seen: threading.Event | None = None) -> None:
        def hook(message: dict[str, Any]) -> None:
            kind = message["header"]["msg_type"]
            if kind in ("stream", "display_data", "execute_result", "error"):
                cell.outputs.append({"output_type": kind, **message["content"]})
                if seen is not None:
                    seen.set()

        cell.started = time.time()
        reply = self.client.execute_interactive(cell.code, timeout=timeout, output_hook=hook)
        cell.finished = time.time()
        cell.status = reply["content"]["status"]
        if cell.status == "error":
            cell.error = reply["content"]

    def run(self, code: str, timeout: float = 15, *, ok: bool = True) -> Cell:
        """Execute one cell and wait for it; with ``ok``, fail the test if it raised."""
        cell = Cell(code)
        self._execute(cell, timeout)
        if ok:
            assert cell.status == "ok", cell.describe()
        return cell

    def run_in_background(self, code: str, timeout: float = 15) -> RunningCell:
        """Start executing a cell and return at once (do not run another meanwhile)."""
        return RunningCell(self, code, timeout)

    def value(self, expression: str, timeout: float = 15) -> Any:
        """Evaluate a JSON-able expression in the kernel (a cell may ``await`` in it)."""
        marker = "@@value@@"
        cell = self.run(
            f"import json as _json\nprint({marker!r} + _json.dumps({expression}))", timeout
        )
        lines = [line for line in cell.stdout.splitlines() if line.startswith(marker)]
        assert lines, cell.describe()
        return json.loads(lines[-1][len(marker):])

    def value_when(self, condition: str, expression: str, timeout: float = 5) -> Any:
        """Await (bounded, on the kernel's loop) until ``condition`` holds; then ``value``."""
        steps = int(timeout / 0.01)
        self.run(
            "import asyncio as _asyncio\n"
            f"for _ in range({steps}):\n"
            f"    if {condition}: break\n"
            "    await _asyncio.sleep(0.01)",
            timeout + 10,
        )
        return self.value(expression)


# -- ports ----------------------------------------------------------------------


def port_is_free(port: int) -> bool:
    """True if a new server could listen on 127.0.0.1:``port`` now.

    Like every server (asyncio, ``http.server``, Node) it sets SO_REUSEADDR, so
    closed connections lingering in TIME_WAIT do not count; a listening socket does.
    """
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
        return True


# -- a chat client outside the kernel -------------------------------------------


class Outside:
    """A chat client in the test process, reading JSON messages with a deadline::

        with Outside(server.ws_url(), "Bob") as bob:   # joins as Bob
            bob.say("hi")
            bob.expect(type="chat", name="Bob", text="hi")
    """

    def __init__(self, url: str, name: str | None = None, timeout: float = 5) -> None:
        self.timeout = timeout
        self._exit = contextlib.ExitStack()
        self.connection: ClientConnection = self._exit.enter_context(
            connect(url, open_timeout=timeout)
        )
        self.received: list[dict[str, Any]] = []
        if name is not None:
            self.send({"type": "join", "name": name})
            self.expect(type="note", text=f'{name} joined "{_room_of(url)}".')

    def __enter__(self) -> Outside:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._exit.close()

    def send(self, message: dict[str, Any]) -> None:
        self.connection.send(json.dumps(message))

    def say(self, text: str) -> None:
        self.send({"type": "chat", "text": text})

    def expect(self, **fields: Any) -> dict[str, Any]:
        """Read until a message has all of ``fields`` (within the timeout); return it."""
        return self.wait_for(lambda m: all(m.get(k) == v for k, v in fields.items()), fields)

    def wait_for(self, test: Callable[[dict[str, Any]], bool], what: Any = "") -> dict[str, Any]:
        deadline = time.monotonic() + self.timeout
        while True:
            left = deadline - time.monotonic()
            assert left > 0, f"no message like {what} within {self.timeout} s: {self.received}"
            try:
                message = json.loads(self.connection.recv(timeout=left))
            except TimeoutError:
                continue
            self.received.append(message)
            if test(message):
                return message


def _room_of(url: str) -> str:
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(url).path.rsplit("/", 1)[-1])
