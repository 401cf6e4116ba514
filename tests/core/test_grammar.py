"""The protocol's grammar (``chatkit.core.grammar``): frames read into values, the command
table, how ``/priv`` splits, and the exact wire text of every answer. Pure: no sockets.
"""

from __future__ import annotations

import json

import pytest

from chatkit import ChatUser
from chatkit.core.grammar import (
    COMMANDS,
    FEATURES,
    Chat,
    Command,
    Join,
    features,
    in_room,
    joined,
    joke,
    left,
    may_be_join_or_command,
    member_list,
    priv_recipient,
    private,
    read,
    renamed,
    split_priv,
    you,
)
from chatkit.core.messages import ProtocolError, encode, parse

# -- reading frames -------------------------------------------------------------------


def test_a_join_reads_as_a_join_with_what_the_client_wants_as_sent():
    assert read('{"type": "join", "name": "Colt"}') == Join("Colt", None)
    assert read('{"type": "join", "name": " Colt ", "want": ["members", 7]}') == Join(
        " Colt ", ["members", 7])  # read, not checked: check_name and features say what counts


def test_a_chat_reads_as_a_chat_and_a_slash_chat_as_a_command_which_is_a_chat_too():
    assert read('{"type": "chat", "text": "hi all"}') == Chat("hi all")
    frame = read('{"type": "chat", "text": "/priv jenny hi"}')
    assert type(frame) is Command and isinstance(frame, Chat)
    assert (frame.text, frame.word, frame.rest) == ("/priv jenny hi", "/priv", "jenny hi")
    assert type(read('{"type": "chat", "text": " /joke"}')) is Chat  # only a leading "/"


def test_a_utf8_bytes_frame_reads_like_its_text():
    text = '{"type": "chat", "text": "héllo ✓ /not a command"}'
    assert read(text.encode()) == read(text) == Chat("héllo ✓ /not a command")


@pytest.mark.parametrize("raw", [
    "not json", "[1, 2]", '{"type": "leave"}', '{"type": "join"}', '{"type": "chat", "text": 5}',
    '{"text": "hi"}', b"\xff\xfe", '{"type": "chat", "text": "' + "x" * 4001 + '"}',
])
def test_a_frame_the_protocol_refuses_raises_the_same_error_as_parse(raw):
    with pytest.raises(ProtocolError) as parsed:
        parse(raw)
    with pytest.raises(ProtocolError) as got:
        read(raw)
    assert str(got.value) == str(parsed.value) and str(got.value)


def test_a_command_with_an_unknown_word_is_read_and_refused_only_by_check():
    frame = read('{"type": "chat", "text": "/shout HELLO"}')  # "join first" must win over it
    assert frame == Command("/shout HELLO")
    with pytest.raises(ProtocolError, match="^unknown command /shout: try /joke, /members,"
                                            " /priv or /name$"):
        frame.check()
    for word in COMMANDS:
        assert Command(f"{word} x").check().word == word


@pytest.mark.parametrize("text, word, rest", [
    ("/joke", "/joke", ""),
    ("/name  Jenny Lee ", "/name", " Jenny Lee "),  # the rest as typed: /name strips it itself
    ("/priv\tjenny hi", "/priv\tjenny", "hi"),       # only a space ends the word
    ("/", "/", ""),
])
def test_the_command_word_ends_at_the_first_space_and_the_rest_is_kept_as_typed(text, word, rest):
    assert (Command(text).word, Command(text).rest) == (word, rest)


def escape_everything(frame: str) -> str:
    """The same JSON, with every character inside its strings written as ``\\uXXXX``."""
    data = json.loads(frame)

    def string(value):
        return '"' + "".join(f"\\u{ord(c):04x}" for c in value) + '"'

    return "{" + ", ".join(f"{string(k)}: {string(v) if isinstance(v, str) else json.dumps(v)}"
                           for k, v in data.items()) + "}"


JOINS_AND_COMMANDS = [
    {"type": "join", "name": "Sam"},
    {"type": "join", "name": "Zoë", "want": ["members"]},
    {"want": ["you"], "name": "x", "type": "join"},
    {"type": "chat", "text": "/name Samuel"},
    {"type": "chat", "text": "/members"},
    {"type": "chat", "text": "/priv jenny hi"},
    {"type": "chat", "text": "/shout"},
]


@pytest.mark.parametrize("message", JOINS_AND_COMMANDS)
def test_every_join_and_command_passes_the_quick_test_however_its_json_is_written(message):
    # The Redis path skips frames that fail the quick test: a join it skipped would
    # take a name without claiming it in Redis, and two servers could both give it out.
    spellings = {
        json.dumps(message),
        json.dumps(message, ensure_ascii=False, separators=(",", ":")),
        json.dumps(message).replace("/", "\\/"),  # JSON allows "\/" for "/"
        escape_everything(json.dumps(message)),
    }
    for raw in spellings:
        assert isinstance(read(raw), (Join, Command)), raw
        assert may_be_join_or_command(raw), raw
        assert may_be_join_or_command(raw.encode()), raw


@pytest.mark.parametrize("text", ["hi all", "héllo ✓", "x" * 4000, "a.b:c?d", "  spaced  "])
def test_plain_chats_fail_the_quick_test_so_the_redis_path_skips_them(text):
    raw = json.dumps({"type": "chat", "text": text}, ensure_ascii=False)
    assert type(read(raw)) is Chat
    assert not may_be_join_or_command(raw) and not may_be_join_or_command(raw.encode())


# -- /priv ---------------------------------------------------------------------------


@pytest.mark.parametrize("rest, names, expected", [
    ("jenny hi there", ["jenny", "jeff"], ("jenny", "hi there")),
    ("  jenny   hi  ", ["jenny"], ("jenny", "hi")),
    ("mary ann hello", ["mary", "mary ann"], ("mary ann", "hello")),  # the longest name
    ("mary annie hi", ["mary", "mary ann"], ("mary", "annie hi")),     # a whole name only
    ("jenny jenny", ["jenny"], ("jenny", "jenny")),
])
def test_priv_picks_the_longest_member_name_that_starts_the_rest(rest, names, expected):
    assert split_priv(rest, names, "people") == expected
    assert priv_recipient(rest, names, "people") == expected[0]


@pytest.mark.parametrize("rest, error", [
    ("", "usage: /priv <name> <message>"),
    ("   ", "usage: /priv <name> <message>"),
    ("bob hi", 'no one called "bob" in "study"'),
    ("jennyhi", 'no one called "jennyhi" in "study"'),
    ("jenny", "usage: /priv jenny <message>"),
    ("jenny    ", "usage: /priv jenny <message>"),
])
def test_priv_without_a_known_name_or_a_message_says_what_is_wrong(rest, error):
    with pytest.raises(ProtocolError) as raised:
        split_priv(rest, ["jenny", "jeff"], "study")
    assert str(raised.value) == error


# -- what the server says ------------------------------------------------------------


def test_every_answer_is_written_byte_for_byte_as_the_protocol_says():
    # docs/protocol.md's rows, as JSON.stringify writes them: the original client reads these.
    assert encode(joined("Colt", "people")) == '{"type":"note","text":"Colt joined \\"people\\"."}'
    assert encode(left("Colt", "people")) == '{"type":"note","text":"Colt left people."}'
    assert encode(renamed("jenny", "Jen Lee")) == (
        '{"type":"note","text":"jenny is now known as Jen Lee."}')
    assert encode(in_room(["juanita", "jenny", "jeff"])) == (
        '{"type":"note","text":"In room: juanita, jenny, jeff"}')
    assert encode(private("jenny", "psst", "jeff")) == (
        '{"type":"chat","name":"jenny","text":"psst","private":true,"to":"jeff"}')
    assert encode(joke("knock knock")) == '{"type":"chat","name":"Server","text":"knock knock"}'
    assert encode(member_list(iter(["ann", "bob"]))) == '{"type":"members","names":["ann","bob"]}'
    assert encode(you("Zoë")) == '{"type":"you","name":"Zoë"}'


def test_features_keep_only_the_known_strings_of_a_list():
    assert features(["members", "you", "ids", "typing", 3, None, ["members"]]) == FEATURES
    assert features(["you", "you"]) == {"you"}
    for not_a_list in (None, "members", {"members": True}, 1):
        assert features(not_a_list) == frozenset()


def test_chat_user_says_exactly_what_the_grammar_builds():
    users = ChatUser.with_new_rooms()
    jenny_sent, jeff_sent = [], []
    jenny, jeff = users(jenny_sent.append, "people"), users(jeff_sent.append, "people")
    frames = [
        (jenny, {"type": "join", "name": "jenny", "want": ["members", "you"]}),
        (jeff, {"type": "join", "name": "jeff"}),
        (jenny, {"type": "chat", "text": "/members"}),
        (jeff, {"type": "chat", "text": "/priv  jenny  psst"}),
        (jeff, {"type": "chat", "text": "/name Jeffrey"}),
    ]
    for user, message in frames:
        user.handle_message(json.dumps(message))
    jeff.handle_close()
    assert jenny_sent == [encode(m) for m in [
        joined("jenny", "people"), you("jenny"), member_list(["jenny"]),
        joined("jeff", "people"), member_list(["jenny", "jeff"]),
        in_room(["jenny", "jeff"]),
        private("jeff", "psst", "jenny"),
        renamed("jeff", "Jeffrey"), member_list(["jenny", "Jeffrey"]),
        left("Jeffrey", "people"), member_list(["jenny"]),
    ]]
    assert jeff_sent == [encode(m) for m in [
        joined("jeff", "people"), private("jeff", "psst", "jenny"), renamed("jeff", "Jeffrey"),
    ]]
