"""``chatkit.core.messages``: what a frame may hold, and the error each bad frame earns.

Pure functions, no I/O: each bad input of docs/protocol.md's table is a ``ProtocolError``
whose text tells the client what was wrong, never another exception.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from chatkit.core.messages import (
    MAX_NAME_LENGTH,
    MAX_TEXT_LENGTH,
    ProtocolError,
    chat,
    check_name,
    check_room_name,
    encode,
    error,
    name_key,
    note,
    parse,
)


def test_join_and_chat_parse_to_their_fields():
    assert parse('{"type": "join", "name": "Colt"}') == {"type": "join", "name": "Colt"}
    assert parse('{"text": "hi all", "type": "chat"}') == {"type": "chat", "text": "hi all"}


def test_utf8_bytes_frames_parse_like_text():
    raw = json.dumps({"type": "chat", "text": "héllo ✓"}, ensure_ascii=False).encode()
    assert parse(raw) == {"type": "chat", "text": "héllo ✓"}
    assert parse(bytearray(raw)) == parse(memoryview(raw)) == parse(raw)


def test_extra_fields_are_kept_for_extensions():
    message = parse('{"type": "join", "name": "Colt", "want": ["members"]}')
    assert message["want"] == ["members"]


def test_server_messages_have_the_protocols_exact_shape():
    assert note("hi") == {"type": "note", "text": "hi"}
    assert chat("Colt", "hi all") == {"type": "chat", "name": "Colt", "text": "hi all"}
    assert error("oops") == {"type": "error", "text": "oops"}
    assert ProtocolError("join first").reply() == {"type": "error", "text": "join first"}


@pytest.mark.parametrize(
    "raw, says",
    [
        ("hello", "not JSON"),
        ("", "not JSON"),
        ('{"type": "chat", "text": "hi"', "not JSON"),
        (b"\xff\xfe{}", "UTF-8"),
        ('["join", "Colt"]', "got a list"),
        ('"join"', "got a string"),
        ("42", "got a number"),
        ("null", "got null"),
        ('{"name": "Colt"}', 'missing "type"'),
        ('{"type": 7}', '"type" must be a string, got a number'),
        ('{"type": "shout"}', 'unknown message type "shout"'),
        ('{"type": "join"}', '"join" needs a "name"'),
        ('{"type": "join", "name": null}', '"name" must be a string, got null'),
        ('{"type": "join", "name": ["Colt"]}', '"name" must be a string, got a list'),
        ('{"type": "chat"}', '"chat" needs a "text"'),
        ('{"type": "chat", "text": 5}', '"text" must be a string, got a number'),
        ('{"type": "chat", "text": true}', '"text" must be a string, got a boolean'),
        ('{"type": "chat", "text": {}}', '"text" must be a string, got an object'),
    ],
)
def test_each_bad_frame_is_a_protocol_error_that_says_what_was_wrong(raw, says):
    with pytest.raises(ProtocolError) as caught:
        parse(raw)
    assert says in str(caught.value)


def test_text_over_the_limit_is_refused_and_at_the_limit_accepted():
    assert parse(json.dumps({"type": "chat", "text": "x" * MAX_TEXT_LENGTH}))
    with pytest.raises(ProtocolError, match="too long"):
        parse(json.dumps({"type": "chat", "text": "x" * (MAX_TEXT_LENGTH + 1)}))


def test_deeply_nested_json_is_a_protocol_error_not_a_recursion_error():
    with pytest.raises(ProtocolError):
        parse("[" * 60_000)


def test_a_huge_number_is_a_protocol_error_not_a_value_error():
    raw = '{"type": "chat", "text": "hi", "n": ' + "1" * 5000 + "}"
    with pytest.raises(ProtocolError):
        parse(raw)


def test_check_name_strips_spaces_and_keeps_inner_ones():
    assert check_name("  Colt Steele ") == "Colt Steele"


@pytest.mark.parametrize("name", ["👩\u200d💻 Ana", "می\u200cخواهم", "José María", "❤️", "🇫🇷",
                                  "Наташа", "Σοφία", "李雷 Li", "Bob :)", "👨\u200d👩\u200d👧"])
def test_emoji_sequences_and_joiners_make_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize(
    "name, says",
    [
        ("", "empty"),
        ("   ", "empty"),
        ("\u200d \u200c", "empty"),  # only invisible joiners
        ("x" * (MAX_NAME_LENGTH + 1), f"at most {MAX_NAME_LENGTH}"),
        ("Co\nlt", "control characters"),
        ("a\u202eb", "control characters"),  # right-to-left override: spoofs other names
        ("/joke", 'start with "/"'),
        ("Ann\u200d", "joiner"),  # invisible: "Ann" twice over
        ("\u200dAnn", "joiner"),
        ("A\u200dnn", "joiner"),  # a joiner glues emoji, not letters
        ("Ann\u200c", "joiner"),
        ("Ann\u200b", "control characters"),  # zero-width space
        ("\u0410nn", "mix Latin, Cyrillic"),  # Cyrillic А, Latin nn
        ("Ρaul", "mix Latin"),  # Greek Rho
        ("Server", "reserved"),
        ("ＳＥＲＶＥＲ", "reserved"),  # full width: NFKC makes it "SERVER"
        ("Ann → Bob (private)", "private message"),
        ("Ann (PRIVATE)", "private message"),
        ("\u3164", "blank"),  # Hangul filler: a letter that shows as nothing
    ],
)
def test_check_name_refuses_what_cannot_be_a_name(name, says):
    with pytest.raises(ProtocolError, match=says):
        check_name(name)


def test_name_key_makes_look_alikes_equal():
    assert name_key("Ann") == name_key("ANN") == name_key("ａｎｎ") == name_key("An\u200cn")
    assert name_key("Ann") != name_key("Anne")


@pytest.mark.parametrize("room, says", [
    ("a\x00b", "control characters"),
    ("a\r\nb", "control characters"),
    ("a\u202eb", "control characters"),
    ("\u200b", "control characters"),
    ("x\u200d", "joiner"),
    ("   ", "empty"),
    ("r" * 81, "too long"),
])
def test_check_room_name_refuses_what_names_refuse(room, says):
    with pytest.raises(ProtocolError, match=says):
        check_room_name(room)


@pytest.mark.parametrize("room", ["people", "my room ✓", "👩\u200d💻", "r" * 80, "100%"])
def test_check_room_name_accepts_ordinary_room_names(room):
    assert check_room_name(room) == room


ORIGINAL_MESSAGES = [
    note('Colt joined "people".'),
    chat("José", "héllo ✓ 👩\u200d💻 <b>&</b> \\ \t tab"),
    error("slow down: at most 15 messages a second"),
    {"type": "chat", "name": "Colt", "text": "psst", "private": True, "to": "jenny"},
    {"type": "members", "names": ["juanita", "jenny", "jeff"]},
    note("\ud800 alone"),  # a lone surrogate, as a client's "\ud800" decodes
]


def test_encode_writes_byte_for_byte_what_the_originals_json_stringify_writes():
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: nothing to compare with")
    script = "for (const line of require('fs').readFileSync(0, 'utf8').split('\\n'))" \
             " if (line) console.log(JSON.stringify(JSON.parse(line)));"
    lines = "\n".join(json.dumps(message) for message in ORIGINAL_MESSAGES)
    stringified = subprocess.run([node, "-e", script], input=lines.encode(), capture_output=True,
                                 check=True, timeout=30).stdout.decode().splitlines()
    assert [encode(message) for message in ORIGINAL_MESSAGES] == stringified
    assert encode(ORIGINAL_MESSAGES[0]) == '{"type":"note","text":"Colt joined \\"people\\"."}'
    assert all(json.loads(encode(message)) == message for message in ORIGINAL_MESSAGES)
    assert all(encode(message).encode() for message in ORIGINAL_MESSAGES)  # all UTF-8-able
