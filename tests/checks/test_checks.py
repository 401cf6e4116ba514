"""The checks a student runs are themselves checked.

Every wrong solution in tests/checks/broken (a beginner's, a careless one's, an attacker's)
must fail, on the group of behaviours it breaks, in plain words with no traceback;
every right solution in another style must pass; the instructor's solutions pass,
the students' blank exercises pass nothing. Route and client checks run real
servers and clients on 127.0.0.1.
"""

from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import nbformat
import pytest

from chatkit import ChatUser, Room, checks
from chatkit.checks.solutions import SOLUTIONS
from tests.checks import broken
from tests.checks.broken import correct, nb1_client, nb2_route, nb3_chat_user, nb4_room, nb5_further
from tests.checks.broken.cases import RIGHT, WRONG
from tests.checks.broken.nb4_room import StudentRoom
from tests.helpers import ROOT
from tests.helpers.kernel import Kernel
GROUPS = {
    "client": {"callbacks", "onerror"},
    "route": {"route", "bye", "disconnect"},
    "chat_user": {"join", "chat", "close"},
    "room": {"registry", "join", "leave", "broadcast"},
    "errors": {"frames", "fields", "join-first"},
    "commands": {"joke", "members", "priv", "name", "commands"},
    "render": {"render", "escape", "as-typed"},
}


@pytest.fixture(autouse=True)
def short_limits(monkeypatch):
    """The reference answers in milliseconds; a broken route or a hang need not make us wait."""
    monkeypatch.setattr(checks.sockets, "TIMEOUT", 0.3)
    monkeypatch.setattr(checks.limits, "LIMIT", 1.0)


def run(check: str, subject) -> checks.Report:
    return getattr(checks, f"run_{check}")(subject)


def failing(report: checks.Report) -> dict[str, str]:
    """Failing behaviours -> their report lines."""
    return {r.behaviour: "\n".join(r.lines) for r in report.results if r.status != checks.OK}


@pytest.mark.parametrize(
    "check, subject",
    [("chat_user", ChatUser), ("errors", ChatUser), ("commands", ChatUser), ("room", Room),
     ("route", broken.route_reference), ("client", broken.client_reference),
     ("render", broken.render_reference)],
)
def test_every_check_passes_on_the_reference(check, subject):
    report = run(check, subject)
    assert report.passed, str(report)
    assert str(report).endswith(f"All {len(report.results)} checks pass.")
    assert {r.group for r in report.results} == GROUPS[check]


@pytest.mark.parametrize("case", WRONG, ids=lambda c: c.id)
def test_each_wrong_solution_fails_on_what_it_breaks(case):
    report = run(case.check, case.subject)
    text = str(report)
    assert not report.passed, f"{case.kind}: passed\n{text}"
    failed_groups = {r.group for r in report.results if r.status != checks.OK}
    assert case.groups <= failed_groups, f"{case.kind}\n{text}"
    assert failed_groups <= GROUPS[case.check]
    assert "Traceback" not in text and "please tell your instructor" not in text, text
    for result in report.results:
        if result.status != checks.OK:
            assert result.lines, result.behaviour  # every failure says what


@pytest.mark.parametrize("case", RIGHT, ids=lambda c: c.id)
def test_each_right_solution_in_another_style_passes(case):
    report = run(case.check, case.subject)
    assert report.passed, f"{case.kind}\n{report}"


def test_every_kind_of_mistake_the_issue_names_is_in_the_battery():
    kinds = " ".join(case.kind for case in WRONG)
    for named in ("registry: leave pops", "every leave forgets", "'empty' before removing",
                  "del self.members[member]", "bytes", '"type"', '"name": 42', "taken or blank",
                  "text[0]", "whole line, tags too", "no tags", "title=", "not &", "prefix",
                  "to yourself", '"join" in raw', "bye by substring", "ConnectionClosed escape",
                  "blocks the event loop", "called at once", "close() without await",
                  "announces before leaving"):
        assert named in kinds, named


# -- the course's own solutions, and its blanks -------------------------------------

PRELUDE = """
import asyncio, html, json, random
import chatkit
from chatkit import ChatUser, Room, checks, reference
from chatkit.core.jokes import JOKES
"""
CHECKS_FOR = {"connect": ["client"], "chat": ["route"], "ChatUser": ["chat_user"],
              "Room": ["room"], "MyChatUser": ["errors", "commands"], "render": ["render"]}


def exercises(path: Path):
    """(name, check, the object its exercise cell defines) for each exercise of a notebook."""
    notebook = nbformat.read(path, as_version=4)
    for number, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or not re.search(r"SOLUTION|NotImplementedError", cell.source):
            continue
        namespace: dict = {}
        exec(PRELUDE, namespace)
        name = re.search(r"^(?:async def|def|class) (\w+)", cell.source, re.M).group(1)
        exec(compile(cell.source, f"<{path.parent.name}/{path.name} cell {number}>", "exec"),
             namespace)
        for check in CHECKS_FOR[name]:
            yield name, check, namespace[name]


INSTRUCTOR = sorted((ROOT / "instructor").glob("0[1-5]*.ipynb"))


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.name)
def test_the_instructor_solutions_pass_every_check(path):
    for name, check, subject in exercises(path):
        report = run(check, subject)
        assert report.passed, f"{name}\n{report}"


@pytest.mark.parametrize("path", INSTRUCTOR, ids=lambda p: p.name)
def test_a_blank_exercise_passes_no_behaviour_at_all(path):
    for name, check, subject in exercises(ROOT / "notebooks" / path.name):
        report = run(check, subject)
        assert all(r.status == checks.NOT_DONE for r in report.results), f"{name}\n{report}"


@pytest.mark.parametrize("name", sorted(CHECKS_FOR))
def test_each_pasteable_solution_passes_its_check(name):
    from chatkit import reference

    namespace: dict = {}
    exec(PRELUDE, namespace)
    exec(compile(reference.solution_text(name), f"<solution {name}>", "exec"), namespace)
    for check in CHECKS_FOR[name]:
        report = run(check, namespace[name])
        assert report.passed, f"{name}\n{report}"


# -- what the messages say ----------------------------------------------------------


def test_the_old_registry_bug_is_explained_with_its_shortest_session():
    text = str(run("room", broken.nb4_room.LeavePopsByName))
    assert "✗ leaving an old, forgotten room never removes the new room of that name" in text
    assert re.search(r'r1 = Room.get\("people"\).*r2 = Room.get\("people"\)\n.*r1.leave\(\w+\)', text,
                     re.S), text
    assert 'Room.rooms is {}\n    expected:  {"people": r2}' in text
    assert "self.rooms.pop(self.name, None)" in text  # the student's own line on that path
    assert "forget a room only if Room.rooms still holds that very room" in text
    assert "Room.rooms.get(self.name) is self" not in text  # a hint never pastes the answer


def test_leaving_when_not_a_member_shows_the_students_own_line():
    text = str(run("room", broken.nb4_room.LeaveDelRaises))
    assert "✗ leave: someone who is not a member may leave; nothing happens" in text
    assert "your code raised KeyError: <member visitor> in leave (nb4_room.py, line" in text
    assert "del self.members[member]" in text


@pytest.mark.parametrize("case, words", [
    (nb3_chat_user.JoinDoubleJSON, "JSON-encoded twice"),
    (nb3_chat_user.JoinBroadcastsBeforeNameIsSet, "the name was not set yet"),
    (nb3_chat_user.JoinNoteWithoutQuotes, "the quotes differ"),
    (nb4_room.BroadcastsBytes, "bytes (a binary frame)"),
    (nb4_room.BroadcastsRepr, "Python's way of writing a dict"),
    (nb3_chat_user.ChatWrongKey, 'the message has the wrong keys (missing "name"; not expected: "user")'),
    (nb5_further.PrivToSelfTwice, "the same message was sent more than once"),
])
def test_the_hint_names_what_actually_differs(case, words):
    check = "room" if issubclass(case, StudentRoom) else (
        "commands" if "Priv" in case.__name__ else "chat_user")
    text = str(run(check, case))
    assert words in text, text


def test_what_the_sender_was_sent_and_from_which_line_is_shown():
    text = str(run("errors", broken.nb5_further.JoinFirstInverted))
    assert re.search(r'\w+ sends  \{"type": "join", "name": "(\w+)"\}\n.*\1 sends  \{"type": "chat"',
                     text, re.S), text  # joined, then chatted...
    assert 'got:      {"type": "error", "text": "join first"}' in text  # ... and was refused
    assert re.search(r"your code sent that to \w+ from _chat_join_first_inverted \(nb5_further.py,"
                     r' line \d+\): return self.error\("join first"\)', text), text
    assert "an error where none is due" in text


def test_a_callback_that_raises_is_reported_once_without_a_traceback(capfd):
    report = run("client", nb1_client.client_callback_raises)
    text = str(report)
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err + text
    assert text.count('can only concatenate str (not "int") to str') == 1, text
    assert "(the same failure as above)" in text
    assert 'ws.onclose = lambda event: log.append("close: " + event.code)' in text


def test_a_missing_await_is_named_with_its_line():
    text = str(run("route", nb2_route.route_close_not_awaited))
    assert "Connection.close was called without await, so it never ran" in text
    assert "nb2_route.py, line" in text and "websocket.close()" in text


def test_a_route_that_blocks_the_event_loop_is_told_so():
    text = str(run("route", nb2_route.route_time_sleep))
    assert "the event loop was held for" in text and "await asyncio.sleep" in text, text
    assert "the event loop was held" not in str(run("route", nb2_route.route_answers_late))


def test_a_non_callable_callback_is_told_what_a_callback_is():
    text = str(run("client", nb1_client.client_onopen_not_callable))
    assert "something was logged before the connection could open" in text
    assert "ws.onopen = log.append('open') appends now" in text
    assert text.count("appends now") == 1  # the same failure, said once


# -- time limits --------------------------------------------------------------------


class HangingRoom(StudentRoom):
    rooms = {}

    def broadcast(self, data):
        while True:  # a loop that never ends
            pass


class SleepingRoom(StudentRoom):
    rooms = {}

    def join(self, member):
        time.sleep(60)


@pytest.mark.parametrize("room, stopped", [(HangingRoom, "broadcast"), (SleepingRoom, "join")])
def test_a_hanging_method_costs_its_behaviours_one_limit_not_the_whole_check(room, stopped):
    start = time.monotonic()
    report = run("room", room)
    assert time.monotonic() - start < 6  # one step stopped; later sessions stop before that kind
    text = str(report)
    assert f"your code took longer than 1 s, and was stopped in {stopped} (test_checks.py, line" in text
    assert text.count("took longer than") == 1, text
    assert report.result("Room.get(name)").status == checks.OK  # what never calls it still passes
    if room is SleepingRoom:  # what needs a join is not tried again
        assert "not tried: a step it needs (join) took too long" in text
    assert report.summary().endswith("fail.")


def test_the_time_limit_also_works_off_the_main_thread():
    reports = []
    thread = threading.Thread(target=lambda: reports.append(run("room", HangingRoom)))
    start = time.monotonic()
    thread.start()
    thread.join(30)
    assert reports and time.monotonic() - start < 20
    assert "took longer than 1 s" in str(reports[0])


@pytest.mark.parametrize("route", [nb2_route.route_busy_waits,
                                   nb1_client.client_blocks_until_open])
def test_a_loop_that_never_awaits_in_the_checks_event_loop_is_stopped_at_its_line(route):
    check = "route" if route.__name__.startswith("route") else "client"
    start = time.monotonic()
    text = str(run(check, route))
    assert time.monotonic() - start < 15
    assert re.search(r"took longer than 1 s, and was stopped in \w+ \(nb[12]_\w+\.py, line \d+\)",
                     text), text


# -- the rest of the contract -------------------------------------------------------


def test_an_unfinished_exercise_is_not_done_yet_not_a_traceback():
    report = checks.run_chat_user(broken.NotDoneYet)
    assert "not done yet: handle_join still raises NotImplementedError" in str(report)
    assert "Traceback" not in str(report)


def test_a_bug_that_raises_says_what_and_where():
    report = checks.run_chat_user(broken.RaisesKeyError)
    assert re.search(r"your code raised KeyError: 'nmae' in handle_join \(__init__\.py, line \d+\):"
                     r" return \{\}\[\"nmae\"\]", str(report)), str(report)


def test_a_chat_user_without_a_room_attribute_is_told_the_contract():
    report = checks.run_chat_user(broken.NoRoomAttribute)
    assert "has no class attribute `Room`" in str(report)


def test_checks_leave_the_registry_as_they_found_it():
    Room.rooms["lobby"] = lobby = Room("lobby")
    found = dict(Room.rooms)  # whatever earlier tests in this process left there, and the lobby
    try:
        checks.run_room(Room)
        checks.run_chat_user(ChatUser)
        assert Room.rooms == found and Room.rooms["lobby"] is lobby
    finally:
        del Room.rooms["lobby"]


def test_check_prints_the_report(capsys):
    checks.check(Room)
    assert capsys.readouterr().out.rstrip().endswith("All 10 checks pass.")
    checks.check(correct.EchoRoute())  # a class-based route is a route
    assert "All 7 checks pass." in capsys.readouterr().out


def test_an_unfinished_route_is_not_done_yet_not_a_closed_connection():
    report = checks.run_route(broken.route_not_done)
    assert report.summary() == "0 of 7 checks pass; 7 not done yet.", str(report)
    assert "not done yet: route_not_done still raises NotImplementedError" in str(report)


def test_a_route_that_raises_is_reported_with_its_error_not_the_close_code():
    report = checks.run_route(broken.route_raises)
    assert "your code raised AttributeError: 'str' object has no attribute 'uper'" in str(report)
    assert "in route_raises (__init__.py, line" in str(report)
    assert "1011" not in str(report)


def test_every_result_carries_a_group_slug_for_grading():
    report = checks.run_room(nb4_room.LeavePopsByName)
    assert [r.group for r in report.results if r.status != checks.OK] == ["registry"]
    assert all(re.fullmatch(r"[a-z-]+", r.group) for r in report.results)
    assert list(report.groups()) == ["registry", "broadcast", "join", "leave"]


def test_reference_shows_the_source_and_diffs_a_class_method_by_method(capsys):
    from chatkit import reference

    reference.show("Room.broadcast")
    shown = capsys.readouterr().out
    assert shown.startswith("# the reference: Room.broadcast\ndef broadcast(self")
    assert "text = encode(data)" in shown
    text = reference.diff_text(broken.SkipsSender, against="ChatUser")
    assert "--- yours: ChatUser.handle_chat" in text
    assert "-        if member is not self:" in text
    assert "+    self.room.broadcast(chat(self.name, text))" in text
    assert reference.diff_text(broken.render_reference, against="chat").startswith("--- yours: chat")
    with pytest.raises(LookupError, match="no reference called 'Rooom.get'"):
        reference.source("Rooom.get")


def test_the_wire_format_does_not_matter_only_the_parsed_json():
    class CompactRoom(StudentRoom):
        rooms = {}

        def broadcast(self, data):
            text = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
            for member in list(self.members):
                try:
                    member.send(text)
                except Exception:
                    pass

    assert run("room", CompactRoom).passed


# -- in a real kernel, as a student runs them ---------------------------------------

# The instructor's Room, as a student pastes it (reference.solution("Room")).
ROOM_CELL = "import json\nfrom chatkit import checks\n\n" + SOLUTIONS["Room"]


def test_in_a_kernel_a_class_cell_that_raised_is_not_checked_as_the_old_class():
    with Kernel.start() as kernel:
        kernel.run(ROOM_CELL)
        assert "All 10 checks pass." in kernel.run("checks.check_room(Room)").stdout
        # The student edits the class, with a typo in its body: the cell raises, the old Room stays.
        broken_cell = ROOM_CELL.replace("    rooms = {}", "    rooms = {}\n    size = lenn(rooms)")
        assert kernel.run(broken_cell, ok=False).status == "error"
        text = kernel.run("checks.check_room(Room)").stdout
        assert "All 10 checks pass." not in text
        assert "this is an older Room: your newest cell that defines Room (In[3]) did not finish" in text
        assert text.rstrip().endswith("0 of 10 checks pass; 10 fail.")
        # Fixed and run again: checked as it is.
        kernel.run(ROOM_CELL.replace("            pass", "            raise"))
        text = kernel.run("checks.check_room(Room)").stdout
        assert "older Room" not in text
        assert "✗ a member whose send fails does not stop the broadcast" in text
        # The student's own line, named as IPython names it.
        assert re.search(r"ConnectionError: \w+'s connection is closed in broadcast"
                         r" \(Cell In\[5\], line \d+\): member.send\(text\)", text), text


def test_in_a_kernel_a_method_that_hangs_is_stopped_and_the_kernel_goes_on():
    with Kernel.start() as kernel:
        kernel.run(ROOM_CELL.replace("        self.members[member] = None",
                                     "        while True:\n            pass"))
        cell = kernel.run("checks.limits.LIMIT = 1\nchecks.check_room(Room)", timeout=30)
        assert "took longer than 1 s, and was stopped in join (Cell In[1], line" in cell.stdout
        assert "while True:" in cell.stdout or "pass" in cell.stdout
        assert kernel.run("print(1 + 1)").stdout == "2\n"


class SwallowingRoom(StudentRoom):
    rooms = {}

    def join(self, member):
        try:
            while True:
                pass
        except:  # noqa: E722  (a beginner's bare except swallows the first stop...)
            pass
        while True:  # ... and the code goes on to hang again
            pass


def test_a_bare_except_that_swallows_the_stop_is_stopped_again():
    start = time.monotonic()
    text = str(run("room", SwallowingRoom))
    assert time.monotonic() - start < 12
    assert "took longer than 1 s, and was stopped in join" in text, text
