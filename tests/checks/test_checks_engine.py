"""The differential engine itself: what it blames, what it shows, what it lets through.

- every solution the kit ships passes (the notebooks' SOLUTIONS, alone and as the
  notebooks combine them, the reference ``chatkit`` classes, notebook 7's with Redis);
- the hint is the shortest failing session in plain words, with the student's own
  line, and never pastes an answer line;
- "the check could not run" is said for the checker's own failure and never for the
  student's bug -- a failure planted in the checker, and the same exception raised by
  the student's code, prove which is which;
- one timeout mechanism; a fixed seed (the same words twice); a wrong solution never
  earns full marks under grading;
- the reference model agrees with the shipped solutions over Hypothesis's sessions
  too, not only over the engine's own.
"""

from __future__ import annotations

import json
import re
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chatkit import ChatUser, Room, checks
from chatkit.checks import chat_user as chat_user_checks
from chatkit.checks import engine, grading, limits, protocol_model, report
from chatkit.checks.solutions import SOLUTIONS
from tests.checks import broken
from tests.checks.broken import nb1_client, nb2_route, nb3_chat_user, nb4_room, nb5_further  # noqa: F401  (registers the cases)
from tests.checks.broken.cases import WRONG

PRELUDE = """
import asyncio, html, json, random
import chatkit
from chatkit import ChatUser, Room, checks, reference
from chatkit.core.jokes import JOKES
"""
CHECKS_FOR = {"connect": ["client"], "chat": ["route"], "ChatUser": ["chat_user"],
              "Room": ["room"], "MyChatUser": ["errors", "commands"], "render": ["render"]}


@pytest.fixture(autouse=True)
def short_limits(monkeypatch):
    monkeypatch.setattr(checks.sockets, "TIMEOUT", 0.3)
    monkeypatch.setattr(checks.limits, "LIMIT", 1.0)
    report._reports.clear()


def pasted(*names: str) -> dict:
    """A notebook's namespace after these solutions' cells ran, in order."""
    namespace: dict = {}
    exec(PRELUDE, namespace)
    for name in names:
        exec(compile(SOLUTIONS[name], f"<solution {name}>", "exec"), namespace)
    return namespace


# -- every solution the kit ships passes ------------------------------------------------


@pytest.mark.parametrize("name", sorted(CHECKS_FOR))
def test_each_shipped_solution_passes_its_checks(name):
    namespace = pasted(name)
    for check in CHECKS_FOR[name]:
        result = getattr(checks, f"run_{check}")(namespace[name])
        assert result.passed, f"{name}\n{result}"


def test_the_solutions_pass_as_the_notebooks_combine_them():
    # Notebook 4: the ChatUser of notebook 3 over the Room of notebook 4; notebook 5: the
    # commands over the student's own ChatUser (pasted) instead of the reference's.
    namespace = pasted("ChatUser", "Room")
    mine = type("MyChatUser", (namespace["ChatUser"],), {"Room": namespace["Room"]})
    assert checks.run_chat_user(mine).passed, checks.run_chat_user(mine)
    own = pasted("Room", "ChatUser", "MyChatUser")["MyChatUser"]
    for run in (checks.run_chat_user, checks.run_errors, checks.run_commands):
        assert run(own).passed, run(own)


def test_the_reference_classes_pass_every_check_of_their_kind():
    for run in (checks.run_chat_user, checks.run_errors, checks.run_commands):
        assert run(ChatUser).passed, run(ChatUser)
    assert checks.run_room(Room).passed, checks.run_room(Room)
    assert checks.run_room(Room.new_registry()).passed


def test_notebook_7s_solution_and_the_reference_pass_against_a_real_redis():
    from chatkit.redis.local import start_redis
    from chatkit.redis.room import RedisRoom

    server = start_redis()
    try:
        namespace = {"RedisRoom": RedisRoom, "json": json}
        exec(SOLUTIONS["SharedRoom"], namespace)
        for room_class in (namespace["SharedRoom"], RedisRoom):
            result = checks.run_redis_room(room_class, server.url)
            assert result.passed, str(result)
    finally:
        server.stop()


def test_notebook_3s_old_solution_is_caught_for_the_dead_room_it_leaves():
    old = SOLUTIONS["ChatUser"].replace(
        "        self.room = self.Room.get(self.room.name)  # it may have emptied out since we connected\n", "")
    assert old != SOLUTIONS["ChatUser"]
    namespace = pasted()
    exec(old, namespace)
    text = str(checks.run_chat_user(namespace["ChatUser"]))
    assert "✗ joining: everyone already in the room gets the note too" in text
    assert "emptied out and was forgotten" in text  # the hint says why, not the answer line
    assert "self.Room.get(self.room.name)" not in text


# -- the hint: the shortest failing session, in plain words --------------------------------


def test_the_hint_is_the_shortest_session_with_the_students_own_line():
    text = str(checks.run_chat_user(broken.nb3_chat_user.ChatSkipsSender))
    failed = checks.run_chat_user(broken.nb3_chat_user.ChatSkipsSender).result("a chat goes to")
    lines = failed.lines
    assert lines[0].startswith("the shortest session that shows it (300 sessions tried):")
    steps = [line for line in lines if re.match(r"  \d+\. ", line)]
    assert 3 <= len(steps) <= 6, lines  # connect, join, say: shrunk from sessions of up to 14
    assert any("got 0 messages, expected 1" in line for line in lines)
    assert any(line.startswith("your code on that path ran up to _chat_skips_sender")
               and line.endswith("if member is not self:") for line in lines), lines
    for word in ("Falsifying", "state.", "Traceback", "run_state_machine"):
        assert word not in text


ANSWER_LINES = {line.strip() for source in SOLUTIONS.values() for line in source.splitlines()
                if len(line.strip()) > 24 and not line.strip().startswith(('"""', "#", "def "))}


@pytest.mark.parametrize("case", [c for c in WRONG if c.check not in ("client", "route")],
                         ids=lambda c: c.id)
def test_a_hint_never_pastes_an_answer_line(case):
    result = getattr(checks, f"run_{case.check}")(case.subject)
    hints = [line for r in result.results for line in r.lines if line.startswith("hint:")]
    for hint in hints:
        for answer in ANSWER_LINES:
            assert answer not in hint, (hint, answer)


def test_the_same_code_gets_the_same_words_twice():
    first = str(checks.run_commands(broken.nb5_further.PrivByNamePrefix))
    report._reports.clear()
    assert str(checks.run_commands(broken.nb5_further.PrivByNamePrefix)) == first


# -- who is to blame ----------------------------------------------------------------------


def test_a_failure_of_the_checker_itself_says_could_not_run(monkeypatch):
    def broken_model(self, who, raw):
        raise RuntimeError("the model broke")

    monkeypatch.setattr(protocol_model.World, "expect_frame", broken_model)
    result = checks.run_chat_user(ChatUser)
    assert all(r.lines == ["the check could not run (RuntimeError: the model broke):"
                           " please tell your instructor"] for r in result.results), result


def test_the_same_exception_from_the_students_code_is_the_students():
    class Raising(ChatUser):
        Room = Room.new_registry()

        def handle_join(self, name, want=None):
            raise RuntimeError("the model broke")

    text = str(checks.run_chat_user(Raising))
    assert "could not run" not in text
    assert re.search(r"your code raised RuntimeError: the model broke in handle_join"
                     r" \(test_checks_engine.py, line \d+\)", text), text


def test_a_socket_checks_own_failure_says_could_not_run_and_a_students_does_not(monkeypatch):
    def connect(url, log):
        raise LookupError("no such thing")

    text = str(checks.run_client(connect))
    assert "your code raised LookupError: no such thing in connect" in text
    assert "could not run" not in text
    report._reports.clear()
    monkeypatch.setattr(checks.sockets, "_client_behaviour",
                        lambda *args: (_ for _ in ()).throw(LookupError("the checker broke")))
    text = str(checks.run_client(broken.nb1_client.client_logs_event))
    assert "the check could not run (LookupError: the checker broke)" in text


def test_redis_that_is_not_there_is_the_checkers_failure_not_the_students():
    from chatkit.redis.room import RedisRoom

    text = str(checks.run_redis_room(RedisRoom, "redis://127.0.0.1:1"))
    assert "the check could not run: cannot reach Redis" in text and "your code" not in text


def test_one_timeout_mechanism_for_checks_and_grading():
    assert grading.TookTooLong is limits.TookTooLong is report.TookTooLong
    assert issubclass(limits.TookTooLong, BaseException)
    assert not hasattr(grading, "_in_student_code")


# -- grading --------------------------------------------------------------------------------

POINTS = {"chat_user": {"join": 2, "chat": 2, "close": 2},
          "room": {"registry": 2, "join": 1, "leave": 2, "broadcast": 2},
          "errors": {"frames": 2, "fields": 2, "join-first": 1},
          "commands": {"joke": 1, "members": 1, "priv": 2, "name": 1, "commands": 1},
          "render": {"render": 1, "escape": 2, "as-typed": 1}}


@pytest.mark.parametrize("case", [c for c in WRONG if c.check in POINTS], ids=lambda c: c.id)
def test_a_wrong_solution_never_earns_full_marks(case, capsys):
    run = getattr(checks, f"run_{case.check}")
    earned = sum(grading.score(run, case.subject, group, points)
                 for group, points in POINTS[case.check].items())
    capsys.readouterr()
    assert earned < sum(POINTS[case.check].values()), case.kind


def test_a_graded_cell_reuses_the_check_cells_report():
    first = checks.run_room(broken.nb4_room.NeverForgets)
    start = time.monotonic()
    assert grading.score(checks.run_room, broken.nb4_room.NeverForgets, "registry", 2) < 2
    assert time.monotonic() - start < 0.05  # the same report: nothing ran again
    assert checks.run_room(broken.nb4_room.NeverForgets) is first


# -- the model agrees with the shipped solutions beyond the engine's own sessions ---------

USERS = ("u1", "u2", "u3", "u4")


@st.composite
def sessions(draw):
    names = chat_user_checks.NAMES + chat_user_checks.REFUSABLE[:4]
    steps = []
    for _ in range(draw(st.integers(2, 16))):
        who = draw(st.sampled_from(USERS))
        kind = draw(st.sampled_from(["connect", "join", "chat", "command", "close", "break"]))
        if kind == "connect":
            steps.append(chat_user_checks.connect(who, draw(st.sampled_from(chat_user_checks.ROOMS))))
        elif kind == "join":
            steps.append(chat_user_checks.join(who, draw(st.sampled_from(names))))
        elif kind == "chat":
            steps.append(chat_user_checks.say(who, draw(st.sampled_from(chat_user_checks.TEXTS))))
        elif kind == "command":
            command = draw(st.sampled_from(["/joke", "/members", "/priv", "/name", "/x"]))
            rest = draw(st.sampled_from(["", *names[:12]]))
            text = draw(st.sampled_from(["", " hi", " two  spaces"]))
            steps.append(chat_user_checks.say(who, f"{command} {rest}{text}".rstrip()))
        elif kind == "close":
            steps.append(chat_user_checks.close(who))
        else:
            steps.append(chat_user_checks.broken(who))
    return steps


def shipped_users():
    namespace = pasted("ChatUser", "Room")
    nb4 = type("MyChatUser", (namespace["ChatUser"],), {"Room": namespace["Room"]})
    return {"reference": ChatUser, "notebook 5": pasted("MyChatUser")["MyChatUser"],
            "notebook 4": nb4}


@settings(max_examples=300, derandomize=True, database=None, deadline=None,
          suppress_health_check=list(HealthCheck))
@given(sessions())
def test_the_reference_model_agrees_with_the_shipped_solutions_on_hypothesis_sessions(steps):
    exercises = {"reference": chat_user_checks.CommandChecks(),
                 "notebook 5": chat_user_checks.CommandChecks(),
                 "notebook 4": chat_user_checks.ChatUserChecks()}
    with limits.Watchdog() as watch:
        for name, users in SHIPPED.items():
            run = engine.replay(exercises[name], users, steps, watch)
            assert not run.mismatches, (name, [str(s) for s in run.steps], run.mismatches[0])


SHIPPED = shipped_users()
