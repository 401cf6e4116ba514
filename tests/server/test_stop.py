"""Stopping a server that ran out of file descriptors: no traceback from asyncio's back-off.

When ``accept()`` fails for want of file descriptors, asyncio stops watching the
listening socket and schedules ``_start_serving`` one second later
(``asyncio.constants.ACCEPT_RETRY_DELAY``). A server closed within that second
closes the socket first; the timer then fires on a closed socket and asyncio
logged ``ValueError: Invalid file descriptor: -1`` with a traceback (issue 21: CI
failed once in two on the attack test that runs out of descriptors). Each test
runs the server in a child process with a tiny ``RLIMIT_NOFILE``, fills it with
idle sockets, closes the server while the back-off is pending and lets the loop
run past it.
"""

from __future__ import annotations

import signal
import socket
import sys
import time

from chatkit.support.processes import ChildProcess, start_child

#: The child's file limit: a few for Python itself, the rest fill up at once.
LIMIT = 48
#: Idle sockets opened to the child: more than it has descriptors.
SOCKETS = 120
DEADLINE = 30.0

ON_ITS_OWN_LOOP = f"""
import asyncio, resource, sys
from asyncio.constants import ACCEPT_RETRY_DELAY
resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT}))
from chatkit.server import ChatServer

async def main():
    refused = asyncio.Event()
    def on_event(event):
        if event.kind == "error" and "cannot accept connections" in event.text:
            refused.set()
    server = await ChatServer(on_event=on_event).serve("127.0.0.1", 0)
    print("port", server.sockets[0].getsockname()[1], flush=True)
    loop = asyncio.get_running_loop()
    await asyncio.wait_for(refused.wait(), {DEADLINE})
    refused_at = loop.time()  # asyncio's back-off timer is pending from now on
    server.close()
    while server.server.sockets:  # websockets closes the listening socket in a task
        await asyncio.sleep(0)
    print(f"closed {{loop.time() - refused_at:.3f}} s after the refusal", flush=True)
    print("back-off", ACCEPT_RETRY_DELAY, flush=True)
    await asyncio.sleep(ACCEPT_RETRY_DELAY + 0.5)  # the loop lives on past the back-off
    print("stopped", flush=True)

asyncio.run(main())
"""

BY_THE_COMMAND_LINE = f"""
import resource, sys
resource.setrlimit(resource.RLIMIT_NOFILE, ({LIMIT}, {LIMIT}))
from chatkit.server.cli import main
sys.exit(main(["serve", "--port", "0"]))
"""


def fill(port: int) -> list[socket.socket]:
    """Open ``SOCKETS`` idle TCP connections to ``port`` (the kernel completes them)."""
    socks = []
    for _ in range(SOCKETS):
        sock = socket.socket()
        sock.settimeout(DEADLINE)
        try:
            sock.connect(("127.0.0.1", port))
        except OSError:
            sock.close()
            break
        socks.append(sock)
    return socks


def start(script: str) -> ChildProcess:
    """The server ``script`` in a child process, its output (stderr too) kept."""
    return start_child([sys.executable, "-c", script], name="the server")


def test_closing_while_the_accept_back_off_is_pending_logs_no_traceback():
    """The server's own stop path: close it within the back-off, keep the loop running."""
    with start(ON_ITS_OWN_LOOP) as server:
        socks = fill(int(server.wait_for_line(r"^port (\d+)", DEADLINE)[1]))
        try:
            gap = float(server.wait_for_line(r"^closed ([\d.]+) s after", DEADLINE)[1])
            delay = float(server.wait_for_line(r"^back-off ([\d.]+)", DEADLINE)[1])
            server.wait(DEADLINE)
        finally:
            for sock in socks:
                sock.close()
    output = server.output
    assert gap < delay, f"closed {gap} s after the refusal: the back-off had already fired"
    assert "stopped" in output, output[-3000:]
    assert "Traceback" not in output and "Invalid file descriptor" not in output, output[-3000:]
    assert server.returncode == 0, output[-3000:]


def test_ctrl_c_on_the_command_line_while_the_back_off_is_pending_logs_no_traceback():
    """``python -m chatkit serve`` stopped by Ctrl-C right after a refused accept.

    Its idle sockets still open, the server's close waits for them (their handshake
    never comes) for longer than the back-off; then they close and it exits.
    """
    with start(BY_THE_COMMAND_LINE) as server:
        socks = fill(int(server.wait_for_line(r"serving on \S+:(\d+)", DEADLINE)[1]))
        try:
            server.wait_for_line("cannot accept connections", DEADLINE)
            server.send_signal(signal.SIGINT)
            time.sleep(1.5)  # past asyncio's one-second back-off, the server still closing
        finally:
            for sock in socks:
                sock.close()
        server.wait(DEADLINE)
    output = server.output
    assert "chatkit: stopped" in output, output[-3000:]
    assert "Traceback" not in output and "Invalid file descriptor" not in output, output[-3000:]
    assert server.returncode == 0, output[-3000:]
