"""The checks a student runs are themselves checked: they pass on the reference and fail,
on the right behaviour with the right words, on deliberately broken versions (tests/broken).
Route and client checks run real servers and clients on 127.0.0.1."""

from __future__ import annotations

import pytest

import broken
from chatkit import ChatUser, Room, checks


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    """The reference answers in milliseconds; a broken route need not make us wait a second."""
    monkeypatch.setattr(checks.sockets, "TIMEOUT", 0.3)


def failing(report: checks.Report) -> dict[str, str]:
    """Failing behaviours -> their report lines."""
    return {r.behaviour: "\n".join(r.lines) for r in report.results if r.status != checks.OK}


@pytest.mark.parametrize(
    "run, subject",
    [
        (checks.run_chat_user, ChatUser),
        (checks.run_errors, ChatUser),
        (checks.run_commands, ChatUser),
        (checks.run_room, Room),
        (checks.run_room, broken.EncodesPerMember),  # json.dumps per member is fine
        (checks.run_route, broken.route_reference),
        (checks.run_client, broken.client_reference),
        (checks.run_render, broken.render_reference),
    ],
)
def test_every_check_passes_on_the_reference(run, subject):
    report = run(subject)
    assert report.passed, str(report)
    assert str(report).endswith(f"All {len(report.results)} checks pass.")


# (run, broken version, the behaviours that must fail, words the report must hold)
BROKEN = [
    (checks.run_chat_user, broken.SkipsSender, {"the sender too"}, "Colt got 0 messages"),
    (checks.run_chat_user, broken.LeaveAnnouncesNothing, {"Colt left people."},
     '"text": "Colt left people."'),
    (checks.run_chat_user, broken.JoinNoteWithoutQuotes,
     {'Colt joined "people".', "everyone already in the room"}, '"text": "Colt joined people."'),
    (checks.run_chat_user, broken.CloseAnnouncesStrangers, {"without having joined"},
     "None left people."),
    (checks.run_chat_user, broken.CloseWithoutLeaving, {"Colt left people."},
     "self.room.leave(self)"),
    (checks.run_errors, broken.IgnoresUnknownTypes, {"unknown type"}, 'Colt should get one error'),
    (checks.run_errors, broken.ChatBeforeJoin, {"chat before joining"},
     "visitor should get one error message"),
    (checks.run_commands, broken.MembersToEveryone, {"/members"}, "juanita got 1 message, expected 0"),
    (checks.run_commands, broken.PrivToEveryone, {"/priv jenny"}, "jeff got 1 message, expected 0"),
    (checks.run_commands, broken.RenameQuietly, {"/name Jeffrey"}, "jeff is now known as Jeffrey."),
    (checks.run_room, broken.NeverForgets, {"room is forgotten"}, "'people' not in Room.rooms"),
    (checks.run_room, broken.StopsAtFirstFailure, {"send fails"},
     "ConnectionError: gone's connection is closed"),
    (checks.run_room, broken.PythonTextNotJSON,
     {"JSON text", "joins twice", "leave:", "send fails"}, "text that is not JSON"),
    (checks.run_room, broken.SetMembers, {"join order"}, "a Python set forgets the order"),
    (checks.run_room, broken.ListMembersTwice, {"joins twice"}, "got 2 messages, expected 1"),
    (checks.run_room, broken.GetMakesANewRoomEachTime, {"same name"}, "the same Room object"),
    (checks.run_route, broken.route_ignores_room, {"/chat/kitchen", "two clients"},
     "got:      people: is the kettle on?"),
    (checks.run_route, broken.route_never_closes, {"bye"}, "the connection is still open"),
    (checks.run_route, broken.route_not_async, None, "async def chat(websocket, room):"),
    (checks.run_route, broken.route_answers_late, {"hi ->", "kitchen", "in order", "two clients"},
     "no answer to 'hi' within 0.3 s"),
    (checks.run_client, broken.client_without_onerror, {"bad address"}, '["close: 1006"]'),
    (checks.run_client, broken.client_logs_reason_not_code, {"event.code", "bad address"},
     "close: bye"),
    (checks.run_client, broken.client_logs_the_event, {"event.data"}, "MessageEvent("),
    (checks.run_render, broken.render_raw, {"in the text", "in the name"}, '["li", "b", "img"]'),
    (checks.run_render, broken.render_escapes_only_text, {"in the name"}, "the browser would run it"),
    (checks.run_render, broken.render_escapes_twice, {"in the text", "in the name", "as typed"},
     "Tom &amp; Jerry"),
]


@pytest.mark.parametrize(
    "run, subject, behaviours, words", BROKEN, ids=[getattr(b[1], "__name__", "") for b in BROKEN]
)
def test_each_broken_version_fails_on_what_it_breaks(run, subject, behaviours, words):
    report = run(subject)
    failed = failing(report)
    assert not report.passed
    if behaviours is not None:  # exactly these behaviours fail, each named in the report
        assert {b for b in failed if any(f in b for f in behaviours)} == set(failed), str(report)
        assert all(any(f in b for b in failed) for f in behaviours), str(report)
    assert words in str(report), str(report)
    assert "Traceback" not in str(report)
    assert report.summary().startswith(f"{len(report.results) - len(failed)} of {len(report.results)}")


def test_an_unfinished_exercise_is_not_done_yet_not_a_traceback():
    report = checks.run_chat_user(broken.NotDoneYet)
    assert "not done yet: handle_join still raises NotImplementedError" in str(report)
    assert report.summary() == "1 of 7 checks pass; 6 not done yet."
    assert "Traceback" not in str(report)


def test_a_bug_that_raises_says_what_and_where():
    report = checks.run_chat_user(broken.RaisesKeyError)
    assert "your code raised KeyError: 'nmae' in handle_join, line" in str(report)


def test_a_chat_user_without_a_room_attribute_is_told_the_contract():
    report = checks.run_chat_user(broken.NoRoomAttribute)
    assert "has no class attribute `Room`" in str(report)


def test_checks_leave_the_registry_as_they_found_it():
    Room.rooms["lobby"] = lobby = Room("lobby")
    try:
        checks.run_room(Room)
        checks.run_chat_user(ChatUser)
        assert Room.rooms == {"lobby": lobby}
    finally:
        del Room.rooms["lobby"]


def test_check_prints_the_report(capsys):
    checks.check(Room)
    assert capsys.readouterr().out.rstrip().endswith("All 7 checks pass.")


def test_an_unfinished_route_is_not_done_yet_not_a_closed_connection():
    report = checks.run_route(broken.route_not_done)
    assert report.summary() == "0 of 5 checks pass; 5 not done yet.", str(report)
    assert "not done yet: route_not_done still raises NotImplementedError" in str(report)


def test_a_route_that_raises_is_reported_with_its_error_not_the_close_code():
    report = checks.run_route(broken.route_raises)
    assert "your code raised AttributeError: 'str' object has no attribute 'uper'" in str(report)
    assert "in route_raises, line" in str(report)
    assert "1011" not in str(report)


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
