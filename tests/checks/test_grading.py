"""``chatkit.checks.grading``: what a graded cell scores, and how long a hang may cost it.

Hangs run in a real kernel on the graded cells alone, as nbgrader runs them; the whole
course graded by the real nbgrader is tests/course/test_nbgrader.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import textwrap
import time

import nbformat

from chatkit import checks
from chatkit.checks import grading
from chatkit.checks.limits import WatchedLoop
from tests.checks import broken
from tests.helpers import ROOT
from tests.helpers.kernel import Kernel

def test_a_hanging_method_costs_its_own_behaviours_and_about_a_second_each():
    notebook = nbformat.read(ROOT / "instructor" / "03-chat-user.ipynb", as_version=4)
    graded = [c.source for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert len(graded) == 3
    with Kernel.start() as kernel:
        kernel.run(textwrap.dedent("""\
            from chatkit import Room, ChatUser as Reference

            class ChatUser(Reference):
                Room = Room.new_registry()
                def handle_close(self):
                    while True:  # a loop that never ends
                        pass
        """))
        cells = [kernel.run(source, timeout=60) for source in graded]
    for cell in cells:
        assert cell.status == "ok" and cell.stderr == "", cell.describe()
    assert [cell.displayed("text/plain") for cell in cells] == [["2.0"], ["2.0"], ["0.0"]]
    assert "your code took longer than 1 s, and was stopped in handle_close" in cells[2].stdout
    took = [cell.finished - cell.started for cell in cells]
    assert sum(took) < grading.STALL + 5, took  # one step stopped, once: the others reuse it


def test_checks_that_wait_themselves_are_never_stopped(monkeypatch, capsys):
    # The route's "bye" check waits a whole second for a close that never comes: that is
    # the checks waiting on their own loop, not the student's code running.
    monkeypatch.setattr(grading, "STALL", 0.2)
    assert grading.score(checks.run_route, broken.route_never_closes, "bye", 2) == 1.0
    assert "TookTooLong" not in capsys.readouterr().out


def test_code_that_cannot_be_stopped_costs_the_step_its_limit_once_and_stays_silent():
    with Kernel.start() as kernel:
        kernel.run(textwrap.dedent("""\
            import sys, time
            from chatkit import Room, ChatUser as Reference
            from chatkit.checks import grading, run_chat_user

            class ChatUser(Reference):
                Room = Room.new_registry()
                def handle_join(self, name, want=None):
                    while True:  # swallows even the grader's stop, and talks on stderr
                        try:
                            print("still joining", file=sys.stderr)
                            time.sleep(0.01)
                        except BaseException:
                            pass
        """))
        cells = [kernel.run(f'grading.score(run_chat_user, ChatUser, "{group}", 2, limit=3)',
                            timeout=60) for group in ("join", "chat")]
        after = kernel.run("time.sleep(0.5)\n1 + 1")
    for cell in cells:
        assert cell.status == "ok" and cell.stderr == "", cell.describe()
        assert cell.displayed("text/plain") == ["0.0"], cell.describe()
        assert "never returns" in cell.stdout
    took = [cell.finished - cell.started for cell in cells]
    assert took[0] < 3 + 3 and took[1] < 2, took  # the same step: no second wait
    assert after.displayed("text/plain") == ["2"] and after.stderr == "", after.describe()


def test_a_slow_turn_of_the_checks_loop_as_it_stops_is_not_blamed_on_anyone():
    # On a busy machine the loop may take more than stop()'s 0.2 s to answer; that is
    # the loop being slow, not student code running long: stop() says so and goes on.
    with WatchedLoop() as loop:
        loop.call_soon(time.sleep, 0.6)  # holds the loop as a busy machine does, then returns
    assert not loop.thread.is_alive()


STALLED_STEP = """
import sys
from chatkit.checks.limits import TookTooLong, Watchdog


def step():  # the student's code: it waits for the test's go
    print("waiting", flush=True)
    sys.stdin.readline()


with Watchdog() as watch:  # the main thread: the SIGALRM ticks, as in a notebook
    try:
        with watch.deadline(1.0):
            step()
        print("finished", flush=True)
    except TookTooLong:
        print("stopped", flush=True)
"""


def _step_with(stalled: bool) -> str:
    """Run a step of 1 s that waits 1.5 s for a go; ``stalled``: the process is stopped
    (SIGSTOP) for those 1.5 s, as a busy machine stalls it, rather than waiting itself."""
    child = subprocess.Popen([sys.executable, "-c", STALLED_STEP], cwd=ROOT, text=True,
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    try:
        assert child.stdout.readline().strip() == "waiting"
        if stalled:
            child.send_signal(signal.SIGSTOP)
        time.sleep(1.5)
        if stalled:
            child.send_signal(signal.SIGCONT)
        with contextlib.suppress(BrokenPipeError):  # stopped, it may be gone already
            os.write(child.stdin.fileno(), b"go\n")  # unbuffered: nothing left to flush later
        return child.stdout.readline().strip()
    finally:
        child.kill()
        child.communicate(timeout=10)  # and closes its pipes


def test_a_step_counts_the_time_the_machine_gave_it_so_a_stall_does_not_stop_right_code():
    assert _step_with(stalled=False) == "stopped"  # it waited 1.5 s itself: past its 1 s
    assert _step_with(stalled=True) == "finished"  # stopped from outside for 1.5 s: not its time
