"""``ChatUser``: every row of docs/protocol.md, with a list as ``send`` (no sockets).

Each test takes a fresh room registry (``ChatUser.with_new_rooms()``), so no test
sees another's rooms.
"""

from __future__ import annotations

import json

import pytest

from chatkit import ChatUser
from chatkit.core.jokes import JOKES

KNOWN_TYPES = {"note", "chat", "error"}


class Client:
    """One connection: a ChatUser and the frames it was sent, decoded on demand."""

    def __init__(self, users, room="people", name=None, **join_fields):
        self.sent = []
        self.user = users(self.sent.append, room)
        if name is not None:
            self.join(name, **join_fields)

    def join(self, name, **fields):
        self.frame({"type": "join", "name": name, **fields})

    def say(self, text):
        self.frame({"type": "chat", "text": text})

    def frame(self, message):
        self.user.handle_message(json.dumps(message))

    def close(self):
        self.user.handle_close()

    @property
    def got(self):
        return [json.loads(text) for text in self.sent]

    def take(self):
        """The messages received since the last ``take``."""
        got = self.got
        self.sent.clear()
        return got


@pytest.fixture
def users():
    return ChatUser.with_new_rooms()


@pytest.fixture
def connect(users):
    return lambda *args, **kwargs: Client(users, *args, **kwargs)


def quiet(*clients):
    for client in clients:
        client.take()


def error_to_sender_only(sender, *others, says=""):
    """``sender`` got exactly one error, saying ``says``; ``others`` heard nothing."""
    [reply] = sender.take()
    assert reply["type"] == "error" and says in reply["text"] and reply["text"], reply
    for other in others:
        assert other.got == [], other.got


# -- the protocol's table -----------------------------------------------------


def test_join_note_quotes_the_room_and_reaches_everyone_including_the_joiner(connect):
    juanita = connect(name="juanita")
    juanita.take()
    colt = connect(name="Colt")
    expected = [{"type": "note", "text": 'Colt joined "people".'}]
    assert colt.got == expected
    assert juanita.got == expected


def test_chat_reaches_everyone_in_the_room_the_sender_too(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say("hi all")
    expected = [{"type": "chat", "name": "Colt", "text": "hi all"}]
    assert colt.got == expected and jenny.got == expected


def test_leave_note_has_no_quotes_and_reaches_those_left(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.close()
    assert jenny.got == [{"type": "note", "text": "Colt left people."}]
    assert colt.got == []


def test_the_exact_transcript_of_one_session(connect):
    colt = connect()
    colt.join("Colt")
    colt.say("hi all")
    colt.close()
    assert colt.sent == [
        '{"type":"note","text":"Colt joined \\"people\\"."}',
        '{"type":"chat","name":"Colt","text":"hi all"}',
    ]


def test_rooms_are_isolated(connect):
    colt, other = connect("people", name="Colt"), connect("other", name="Ann")
    quiet(colt, other)
    colt.say("hi")
    assert other.got == []
    assert colt.got == [{"type": "chat", "name": "Colt", "text": "hi"}]


def test_room_name_with_spaces_and_unicode_is_quoted_as_is(connect):
    colt = connect("my room ✓", name="Colt")
    assert colt.got == [{"type": "note", "text": 'Colt joined "my room ✓".'}]


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[1, 2]",
        '"join"',
        '{"type": "shout"}',
        '{"name": "Colt"}',
        '{"type": "join"}',
        '{"type": "join", "name": 3}',
        '{"type": "chat"}',
        '{"type": "chat", "text": null}',
        b"\xc3\x28",  # invalid UTF-8
    ],
)
def test_a_bad_frame_is_an_error_to_that_client_only_and_nothing_is_broadcast(connect, raw):
    jenny = connect(name="jenny")
    colt = connect(name="Colt")
    quiet(jenny, colt)
    colt.user.handle_message(raw)
    error_to_sender_only(colt, jenny)
    colt.say("still here")  # the connection goes on
    assert jenny.got == [{"type": "chat", "name": "Colt", "text": "still here"}]


def test_a_utf8_bytes_frame_works_like_a_text_frame(connect):
    colt = connect(name="Colt")
    colt.take()
    colt.user.handle_message(json.dumps({"type": "chat", "text": "héllo"}).encode())
    assert colt.got == [{"type": "chat", "name": "Colt", "text": "héllo"}]


def test_chat_before_join_gets_an_error_and_is_not_broadcast(connect):
    jenny = connect(name="jenny")
    jenny.take()
    stranger = connect()
    stranger.say("hello?")
    error_to_sender_only(stranger, jenny, says="join first")


def test_command_before_join_gets_an_error(connect):
    stranger = connect()
    stranger.say("/members")
    assert [m["type"] for m in stranger.got] == ["error"]


def test_close_without_join_broadcasts_nothing(connect):
    jenny = connect(name="jenny")
    jenny.take()
    stranger = connect()
    stranger.close()
    assert jenny.got == [] and stranger.got == []


def test_blank_chat_is_an_error_and_not_broadcast(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say("   ")
    assert [m["type"] for m in colt.got] == ["error"]
    assert jenny.got == []


def test_html_in_chat_text_is_passed_on_verbatim_as_data(connect):
    colt = connect(name="Colt")
    colt.take()
    payload = '<img src=x onerror="alert(1)">'
    colt.say(payload)
    assert colt.got == [{"type": "chat", "name": "Colt", "text": payload}]


# -- names --------------------------------------------------------------------


def test_a_taken_name_is_an_error_and_the_room_hears_nothing(connect):
    colt = connect(name="Colt")
    colt.take()
    second = connect(name="Colt")
    error_to_sender_only(second, colt, says="already taken")
    second.join("Colt2")  # may try again
    assert second.got == [{"type": "note", "text": 'Colt2 joined "people".'}]


def test_the_same_name_in_another_room_is_fine(connect):
    connect("people", name="Colt")
    other = connect("other", name="Colt")
    assert other.got == [{"type": "note", "text": 'Colt joined "other".'}]


def test_joining_twice_is_an_error_and_keeps_the_first_name(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.join("Other")
    error_to_sender_only(colt, jenny, says="already joined")
    colt.say("/members")
    assert colt.got == [{"type": "note", "text": "In room: Colt, jenny"}]


def test_a_name_is_stripped_of_surrounding_spaces(connect):
    colt = connect(name="  Colt  ")
    assert colt.got == [{"type": "note", "text": 'Colt joined "people".'}]


def test_an_empty_name_is_an_error_and_nobody_joins(connect):
    jenny = connect(name="jenny")
    jenny.take()
    blank = connect(name="  ")
    assert [m["type"] for m in blank.got] == ["error"]
    assert jenny.got == []
    blank.take()
    blank.close()
    assert jenny.got == []


# -- commands -----------------------------------------------------------------


def test_joke_goes_to_the_sender_only_from_server(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say("/joke")
    [reply] = colt.got
    assert reply["type"] == "chat" and reply["name"] == "Server"
    assert reply["text"] in JOKES
    assert jenny.got == []


def test_members_lists_names_in_join_order_to_the_sender_only(connect):
    juanita, jenny, jeff = connect(name="juanita"), connect(name="jenny"), connect(name="jeff")
    quiet(juanita, jenny, jeff)
    jenny.say("/members")
    assert jenny.got == [{"type": "note", "text": "In room: juanita, jenny, jeff"}]
    assert juanita.got == [] and jeff.got == []


def test_priv_reaches_the_recipient_and_the_sender_only(connect):
    colt, jenny, jeff = connect(name="Colt"), connect(name="jenny"), connect(name="jeff")
    quiet(colt, jenny, jeff)
    colt.say("/priv jenny see you at 5")
    expected = [
        {"type": "chat", "name": "Colt", "text": "see you at 5", "private": True, "to": "jenny"}
    ]
    assert jenny.got == expected and colt.got == expected
    assert jeff.got == []


def test_priv_to_a_name_with_spaces(connect):
    colt, mary = connect(name="Colt"), connect(name="Mary Ann")
    quiet(colt, mary)
    colt.say("/priv Mary Ann hello there")
    expected = [
        {"type": "chat", "name": "Colt", "text": "hello there", "private": True, "to": "Mary Ann"}
    ]
    assert mary.got == expected and colt.got == expected


def test_priv_tolerates_extra_spaces_around_the_name(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say("/priv   jenny   hi  there ")
    expected = [
        {"type": "chat", "name": "Colt", "text": "hi  there", "private": True, "to": "jenny"}
    ]
    assert jenny.got == expected and colt.got == expected


def test_priv_picks_the_longest_matching_name(connect):
    colt, mary, mary_ann = connect(name="Colt"), connect(name="Mary"), connect(name="Mary Ann")
    quiet(colt, mary, mary_ann)
    colt.say("/priv Mary Ann hi")
    assert mary.got == []
    assert [m["to"] for m in mary_ann.got] == ["Mary Ann"]


def test_priv_to_oneself_arrives_once(connect):
    colt = connect(name="Colt")
    colt.take()
    colt.say("/priv Colt note to self")
    assert len(colt.got) == 1 and colt.got[0]["to"] == "Colt"


def test_priv_to_an_unknown_name_is_an_error_to_the_sender_only(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say("/priv nobody hi")
    error_to_sender_only(colt, jenny, says='"nobody"')


@pytest.mark.parametrize("text", ["/priv", "/priv ", "/priv jenny", "/priv jenny   "])
def test_priv_without_a_message_is_a_usage_error(connect, text):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say(text)
    error_to_sender_only(colt, jenny, says="usage")


def test_name_renames_and_tells_the_room(connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say("/name Colt Steele")
    expected = [{"type": "note", "text": "Colt is now known as Colt Steele."}]
    assert colt.got == expected and jenny.got == expected
    quiet(colt, jenny)
    colt.say("hi")
    assert jenny.got == [{"type": "chat", "name": "Colt Steele", "text": "hi"}]
    colt.close()
    assert jenny.got[-1] == {"type": "note", "text": "Colt Steele left people."}


@pytest.mark.parametrize(
    "command, says",
    [("/name jenny", "already taken"), ("/name Colt", "already"), ("/name", "empty")],
)
def test_name_to_a_taken_same_or_empty_name_is_an_error_and_the_room_hears_nothing(
    connect, command, says
):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say(command)
    error_to_sender_only(colt, jenny, says=says)


def test_a_renamed_members_old_name_is_free_again(connect):
    colt = connect(name="Colt")
    colt.say("/name Steele")
    newcomer = connect(name="Colt")
    assert newcomer.got == [{"type": "note", "text": 'Colt joined "people".'}]


@pytest.mark.parametrize("command", ["/shout hi", "/", "/JOKE"])
def test_an_unknown_command_is_an_error_and_not_broadcast(connect, command):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    quiet(colt, jenny)
    colt.say(command)
    error_to_sender_only(colt, jenny, says="unknown command")


# -- failures and the registry ----------------------------------------------


def test_a_member_whose_send_raises_does_not_stop_the_others(users, connect):
    jenny = connect(name="jenny")

    def broken(text):
        raise ConnectionResetError("laptop lid closed")

    ghost = users(broken, "people")
    ghost.handle_message('{"type": "join", "name": "ghost"}')
    jeff = connect(name="jeff")
    quiet(jenny, jeff)
    jenny.say("anyone?")
    assert jenny.got == jeff.got == [{"type": "chat", "name": "jenny", "text": "anyone?"}]


def test_rooms_that_empty_out_are_forgotten(users, connect):
    colt, jenny = connect(name="Colt"), connect(name="jenny")
    colt.close()
    assert "people" in users.Room.rooms
    jenny.close()
    assert "people" not in users.Room.rooms


def test_a_visitor_who_never_joins_leaves_no_room_behind(users, connect):
    visitor = connect("nobody-here")
    visitor.close()
    assert "nobody-here" not in users.Room.rooms


def test_a_visitor_who_joins_after_the_room_emptied_shares_it_with_newcomers(connect):
    visitor = connect()  # connected, not joined yet
    colt = connect(name="Colt")
    colt.close()  # the room empties out and is forgotten
    visitor.join("late")
    newcomer = connect(name="new")
    assert visitor.got[-1] == {"type": "note", "text": 'new joined "people".'}
    newcomer.take()
    newcomer.say("/members")
    assert newcomer.got == [{"type": "note", "text": "In room: late, new"}]


def test_two_registries_share_no_rooms(connect):
    other_users = ChatUser.with_new_rooms()
    colt = connect(name="Colt")
    colt.take()
    elsewhere = Client(other_users, name="Colt")  # same room name, same user name
    assert elsewhere.got == [{"type": "note", "text": 'Colt joined "people".'}]
    assert colt.got == []


def test_a_broadcast_is_encoded_once_for_all_members(connect):
    colt, jenny, jeff = connect(name="Colt"), connect(name="jenny"), connect(name="jeff")
    quiet(colt, jenny, jeff)
    colt.say("same bytes for all")
    assert colt.sent[0] is jenny.sent[0] is jeff.sent[0]


# -- the members extension ----------------------------------------------------


def test_members_list_reaches_only_the_clients_that_asked(connect):
    panel = connect(name="panel", want=["members"])
    assert panel.got == [
        {"type": "note", "text": 'panel joined "people".'},
        {"type": "members", "names": ["panel"]},
    ]
    plain = connect(name="plain")
    assert plain.got == [{"type": "note", "text": 'plain joined "people".'}]
    assert panel.take()[-1] == {"type": "members", "names": ["panel", "plain"]}
    plain.say("/name renamed")
    assert panel.take()[-1] == {"type": "members", "names": ["panel", "renamed"]}
    plain.close()
    assert panel.take() == [
        {"type": "note", "text": "renamed left people."},
        {"type": "members", "names": ["panel"]},
    ]


@pytest.mark.parametrize("want", [None, "members", [1, None], ["history", "typing"], {}])
def test_a_client_that_did_not_ask_for_members_never_gets_an_unknown_type(connect, want):
    fields = {} if want is None else {"want": want}
    plain = connect(name="plain", **fields)
    other = connect(name="other", want=["members"])
    plain.say("hello")
    plain.say("/members")
    plain.say("/joke")
    plain.say("/priv other psst")
    plain.say("/nope")
    other.say("/name renamed")
    other.close()
    plain.frame({"type": "shout"})
    types = {message["type"] for message in plain.got}
    assert types <= KNOWN_TYPES
    assert types == KNOWN_TYPES  # the session did produce all three
