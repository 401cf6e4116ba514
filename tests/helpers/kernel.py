"""A real Jupyter kernel (ipykernel through jupyter_client), run cell by cell from a test.

::

    with Kernel.start() as kernel:
        cell = kernel.run("print(1 + 1)")
        assert cell.stdout == "2\\n"
        kernel.value("[1, 2]")                          # a JSON-able value, from the kernel
        kernel.value_when("server.running", "server.port")  # after awaiting a condition

The classmates a kernel's server talks to are ``helpers.chat.Outside`` clients.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from . import ROOT
from .waiting import DEADLINE

__all__ = ["Kernel", "Cell", "RunningCell", "WIDGET_MIME"]

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
    def start(cls, startup_timeout: float = 60) -> Kernel:
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

    def run(self, code: str, timeout: float = 30, *, ok: bool = True) -> Cell:
        """Execute one cell and wait for it; with ``ok``, fail the test if it raised."""
        cell = Cell(code)
        self._execute(cell, timeout)
        if ok:
            assert cell.status == "ok", cell.describe()
        return cell

    def run_in_background(self, code: str, timeout: float = 30) -> RunningCell:
        """Start executing a cell and return at once (do not run another meanwhile)."""
        return RunningCell(self, code, timeout)

    def value(self, expression: str, timeout: float = 30) -> Any:
        """Evaluate a JSON-able expression in the kernel (a cell may ``await`` in it)."""
        marker = "@@value@@"
        cell = self.run(
            f"import json as _json\nprint({marker!r} + _json.dumps({expression}))", timeout
        )
        lines = [line for line in cell.stdout.splitlines() if line.startswith(marker)]
        assert lines, cell.describe()
        return json.loads(lines[-1][len(marker):])

    def value_when(self, condition: str, expression: str, timeout: float = DEADLINE) -> Any:
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

    def block(self, until: Path, before: str = "", after: str = "",
              timeout: float = 60) -> RunningCell:
        """Start a cell that holds the kernel's thread in ``time.sleep`` until the file
        ``until`` exists (at most ``timeout`` s): a student's blocking cell, for exactly as
        long as the test needs. ``before`` runs first (print something: it sets ``seen``),
        ``after`` once released.
        """
        code = (f"{before}\nimport os as _os, time as _time\n"
                f"for _ in range({int(timeout / 0.05)}):\n"
                f"    if _os.path.exists({str(until)!r}):\n"
                "        break\n"
                "    _time.sleep(0.05)\n"
                f"{after}")
        return self.run_in_background(code, timeout + 30)

    def run_as_cell(self, cell_id: str, code: str, timeout: float = 30) -> dict[str, Any]:
        """Execute ``code`` as JupyterLab does, naming its cell (``metadata.cellId``)."""
        message = self.client.session.msg(
            "execute_request",
            {"code": code, "silent": False, "store_history": True, "user_expressions": {},
             "allow_stdin": False, "stop_on_error": True},
            metadata={"cellId": cell_id},
        )
        self.client.shell_channel.send(message)
        for _ in range(100):
            reply = self.client.get_shell_msg(timeout=timeout)
            if reply["parent_header"].get("msg_id") == message["header"]["msg_id"]:
                assert reply["content"]["status"] == "ok", reply["content"]
                return reply
        raise AssertionError("no execute_reply")
