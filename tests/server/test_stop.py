"""Stopping a server: at once, even with sockets that never sent a request, and with no
traceback from asyncio's back-off when it ran out of file descriptors.

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

import chatkit
from chatkit.support.processes import ChildProcess, start_child
from tests.helpers.processes import ChatkitServe

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

    Its idle sockets still open (they are dropped when it stops: see below), it
    exits while asyncio's back-off may still be pending.
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


# -- sockets that never send a request do not hold a stop ------------------------------------
# websockets waits up to open_timeout (10 s) for a request on every accepted socket, and a
# closing server waited for them all: one idle socket held Ctrl-C or a notebook's
# server.stop() that long (stop() gave up after 5 s with TimeoutError).


def idle_sockets(port: int, count: int = 3) -> list[socket.socket]:
    """``count`` connections from distinct addresses (127.0.0.2, ...) that send nothing."""
    return [socket.create_connection(("127.0.0.1", port), DEADLINE, ("127.0.0.%d" % (2 + n), 0))
            for n in range(count)]


def test_ctrl_c_stops_the_command_line_server_at_once_despite_idle_sockets():
    with ChatkitServe().wait_serving() as server:
        socks = idle_sockets(server.port)
        try:
            server.wait_for(r"serving on")
            server.send_signal(signal.SIGINT)
            server.wait(5)  # websockets alone: about 10 s (open_timeout), TimeoutExpired here
        finally:
            for sock in socks:
                sock.close()
    assert "chatkit: stopped" in server.output and server.returncode == 0, server.output[-3000:]


def test_a_live_server_stops_at_once_despite_idle_sockets_and_says_goodbye_to_the_others():
    import websockets.sync.client

    live = chatkit.start(port=0, show=False)
    socks = idle_sockets(live.port)
    try:
        with websockets.sync.client.connect(f"ws://127.0.0.1:{live.port}/chat/people",
                                            open_timeout=DEADLINE) as client:
            live.stop(timeout=5)  # TimeoutError before: the idle sockets held it
            try:
                client.recv(DEADLINE)
                raise AssertionError("the server sent a message instead of closing")
            except websockets.exceptions.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1001
        assert not live.running
    finally:
        live.stop()
        for sock in socks:
            sock.close()
