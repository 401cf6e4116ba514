"""The one launcher (chatkit.support.processes) and the one loop-in-a-thread
(chatkit.support.loop_thread), with real child processes and real threads."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from chatkit.support.loop_thread import LoopThread
from chatkit.support.processes import (ChildExited, descendants, free_port, port_answers,
                                       start_child)

PYTHON = sys.executable


def gone(pid: int) -> bool:
    """No such process, or only its zombie (dead, waiting for its parent to collect it)."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            return file.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_child_is_ready_when_its_line_comes_and_stops_by_sigterm_in_a_group_of_its_own():
    script = ("import time; time.sleep(0.3); print('serving on 127.0.0.1:4242', flush=True);"
              " time.sleep(60)")
    with start_child([PYTHON, "-c", script], ready_line=r"serving on \S+:(\d+)") as child:
        assert child.ready_match[1] == "4242" and child.running
        assert os.getpgid(child.pid) == child.pid != os.getpgid(0)  # Ctrl-C is not sent to it
    assert child.returncode == -signal.SIGTERM and gone(child.pid)


def test_a_child_is_ready_when_its_port_answers():
    port = free_port()
    script = (f"import socket, time; time.sleep(0.3); s = socket.socket();"
              f" s.bind(('127.0.0.1', {port})); s.listen(); time.sleep(60)")
    assert not port_answers(port)
    started = time.monotonic()
    with start_child([PYTHON, "-c", script], ready_port=port, timeout=20) as child:
        assert time.monotonic() - started >= 0.3 and port_answers(port)
    assert not child.running


def test_a_child_that_exits_before_it_is_ready_says_so_with_its_last_words():
    with pytest.raises(ChildExited, match=r"exited with code 3 .*\n.*address in use"):
        start_child([PYTHON, "-c", "import sys; print('address in use'); sys.exit(3)"],
                    ready_line="serving on")
    with pytest.raises(ChildExited, match="exited with code 4"):
        start_child([PYTHON, "-c", "import sys; sys.exit(4)"], ready_port=free_port())


def test_a_child_not_ready_in_time_is_stopped_and_the_error_says_how_long():
    pids = []
    with pytest.raises(TimeoutError, match="within 0.5 s"):
        start_child([PYTHON, "-c", "import os, time; print(os.getpid(), flush=True);"
                     " time.sleep(60)"], ready_line="never", timeout=0.5,
                    on_line=lambda line: pids.append(int(line)))
    assert pids and gone(pids[0])


def test_stop_kills_a_child_that_ignores_sigterm_and_the_descendants_it_started_elsewhere():
    # The child starts a grandchild in a session of its own (as JupyterHub starts its
    # proxy), then ignores SIGTERM: both must be gone after stop().
    script = ("import signal, subprocess, sys, time; signal.signal(signal.SIGTERM, signal.SIG_IGN);"
              " g = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'],"
              " start_new_session=True); print('grandchild', g.pid, flush=True); time.sleep(60)")
    child = start_child([PYTHON, "-c", script], ready_line=r"grandchild (\d+)")
    grandchild = int(child.ready_match[1])
    assert grandchild in [pid for pid, _ in descendants(child.pid)]
    started = time.monotonic()
    child.stop(timeout=1)
    assert child.returncode == -signal.SIGKILL
    assert gone(grandchild) and gone(child.pid)
    assert time.monotonic() - started < 5


def test_lines_come_as_they_are_printed_and_the_wait_for_them_is_bounded():
    script = ("import time\nfor i in range(3):\n    print('line', i, flush=True); time.sleep(0.1)\n"
              "time.sleep(60)")
    with start_child([PYTHON, "-c", script], stdin=subprocess.PIPE) as child:
        seen = []
        with pytest.raises(TimeoutError):
            for line in child.iter_lines(timeout=1.5):
                seen.append(line.strip())
        assert seen == ["line 0", "line 1", "line 2"]
        assert child.wait_for_line(r"line (\d)", timeout=1)[1] == "0"


# -- the loop in a thread ---------------------------------------------------------------


def test_a_loop_thread_runs_coroutines_from_another_thread_and_hands_back_their_exceptions():
    async def where() -> str:
        return threading.current_thread().name

    async def fail() -> None:
        raise ValueError("bad")

    with LoopThread("test-loop") as runner:
        assert runner.run(where(), timeout=5) == "test-loop"
        with pytest.raises(ValueError, match="bad"):
            runner.run(fail(), timeout=5)
    assert runner.loop.is_closed() and not runner.thread.is_alive()


def test_a_coroutine_past_its_timeout_is_cancelled_and_the_loop_goes_on():
    cancelled = threading.Event()

    async def forever() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    with LoopThread() as runner:
        with pytest.raises(TimeoutError):
            runner.run(forever(), timeout=0.2)
        assert cancelled.wait(5)
        assert runner.responsive(1)


def test_stop_cancels_what_is_left_as_asyncio_run_does():
    finished = []

    async def background() -> None:
        try:
            await asyncio.sleep(60)
        finally:
            finished.append("cleaned up")

    runner = LoopThread().start()
    runner.call_soon(lambda: runner.loop.create_task(background()))
    runner.run(asyncio.sleep(0.05), timeout=5)
    assert runner.stop(timeout=5)
    assert finished == ["cleaned up"] and runner.loop.is_closed()


def test_a_loop_held_by_blocking_code_is_not_responsive_and_stop_says_it_did_not_end():
    release = threading.Event()
    runner = LoopThread().start()
    runner.call_soon(release.wait, 10)  # a callback that never gives the loop back
    try:
        assert not runner.responsive(0.2)
        assert not runner.stop(timeout=0.2)
    finally:
        release.set()
    runner.thread.join(5)
    assert not runner.thread.is_alive() and runner.loop.is_closed()
