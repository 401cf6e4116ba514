"""``RoomHistory``: ids 1, 2, 3 per room; ``since`` gives what came after and how many
are gone; bounds in messages, characters and seconds; an epoch per life; and the
``history`` answer a join gets (``replay``)."""

from __future__ import annotations

import pytest

from chatkit.core.history import Ask, RoomHistories, RoomHistory, replay


def chat(text: str) -> dict:
    return {"type": "chat", "name": "bob", "text": text}


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_ids_count_up_from_one_and_add_returns_a_new_dict_with_the_id():
    history = RoomHistory()
    message = chat("hi")
    assert [history.add(message)["id"] for _ in range(3)] == [1, 2, 3]
    assert "id" not in message  # the caller's dict is not changed
    assert history.last_id == 3


def test_since_gives_what_came_after_oldest_first_and_counts_what_is_gone():
    history = RoomHistory(limit=3)
    for n in range(1, 8):
        history.add(chat(str(n)))
    assert [(m["id"], m["text"]) for m in history.since(4)[0]] == [(5, "5"), (6, "6"), (7, "7")]
    assert history.since(4)[1] == 0
    messages, missed = history.since(1)  # 2, 3, 4 are no longer kept
    assert [m["id"] for m in messages] == [5, 6, 7] and missed == 3
    assert history.since(0) == (messages, 4)
    assert history.since(7) == ([], 0) and history.since(99) == ([], 0)
    for bad in (-1, "3", 2.0, True, None):
        with pytest.raises(ValueError):
            history.since(bad)


def test_the_character_bound_drops_the_oldest_and_they_count_as_missed():
    history = RoomHistory(limit=100, chars=10)
    for text in ["aaaa", "bbbb", "cccc"]:
        history.add(chat(text))
    messages, missed = history.since(0)
    assert [m["text"] for m in messages] == ["bbbb", "cccc"] and missed == 1


def test_the_time_bound_forgets_messages_older_than_its_seconds():
    clock = Clock()
    history = RoomHistory(seconds=60, clock=clock)
    history.add(chat("old"))
    clock.now += 30
    history.add(chat("newer"))
    clock.now += 31  # "old" is 61 s old now
    messages, missed = history.since(0)
    assert [m["text"] for m in messages] == ["newer"] and missed == 1
    assert messages[0]["time"] == 1030.0
    clock.now += 60
    assert history.since(0) == ([], 2) and len(history) == 0
    assert history.add(chat("again"))["id"] == 3  # ids go on counting


def test_a_history_that_keeps_nothing_still_numbers():
    history = RoomHistory(limit=0)
    assert [history.add(chat("x"))["id"] for _ in range(2)] == [1, 2]
    assert history.since(0) == ([], 2)


def test_bad_bounds_are_refused_with_a_clear_error():
    with pytest.raises(ValueError, match="0 or more messages"):
        RoomHistory(limit=-1)
    with pytest.raises(ValueError, match="seconds"):
        RoomHistory(seconds=0)
    with pytest.raises(TypeError):
        RoomHistory().add("hi")


def test_each_life_of_a_room_has_its_own_epoch_and_the_quietest_room_goes_first():
    histories = RoomHistories(rooms=2)
    people = histories.get("people")
    assert histories.get("people") is people and histories.find("nobody") is None
    histories.get("other").add(chat("x"))
    histories.get("people").add(chat("y"))
    histories.get("third")  # "other" was the quietest
    assert histories.names() == ["people", "third"]
    again = histories.get("other")
    assert again.epoch != people.epoch and again.last_id == 0
    histories.forget("people")
    assert histories.get("people").epoch != people.epoch
    assert len({RoomHistory().epoch for _ in range(50)}) == 50


def test_ask_reads_what_a_join_asks_and_nothing_from_other_frames():
    assert Ask.read('{"type": "join", "name": "Ann"}') == Ask()
    assert not Ask.read('{"type": "chat", "text": "x", "since": 3}').wanted
    assert not Ask.read("not json").wanted
    ask = Ask.read({"type": "join", "name": "Ann", "want": ["ids"], "since": 0, "epoch": "e"})
    assert (ask.ids, ask.since, ask.epoch, ask.error) == (True, 0, "e", None)
    assert Ask.read({"type": "join", "name": "Ann", "history": 500}, limit=200).count == 200
    assert "since" in Ask.read({"type": "join", "name": "A", "since": -1}).error
    assert "epoch" in Ask.read({"type": "join", "name": "A", "since": 1, "epoch": 5}).error
    assert "epoch" in Ask.read({"type": "join", "name": "A", "since": 1, "epoch": "e" * 65}).error


def test_replay_answers_each_kind_of_join():
    history = RoomHistory(epoch="e1")
    for n in range(1, 6):
        history.add(chat(str(n)))
    ids = lambda answer: [m["id"] for m in answer["messages"]]  # noqa: E731
    fresh = replay(history, Ask(ids=True), "people")
    assert fresh == {"type": "history", "room": "people", "epoch": "e1", "messages": [],
                     "missed": 0}
    resumed = replay(history, Ask(ids=True, since=3, epoch="e1"), "people")
    assert ids(resumed) == [4, 5] and resumed["missed"] == 0
    other_life = replay(history, Ask(ids=True, since=3, epoch="e0"), "people")
    assert ids(other_life) == [1, 2, 3, 4, 5] and other_life["missed"] is None
    last_two = replay(history, Ask(count=2), "people")  # the older extension: its old shape
    assert last_two == {"type": "history", "room": "people", "messages": list(history)[-2:]}
    squeezed = replay(history, Ask(ids=True, since=0, epoch="e1"), "people", chars=2)
    assert ids(squeezed) == [4, 5] and squeezed["missed"] == 3  # did not fit: missed too


def test_a_room_with_histories_numbers_what_it_broadcasts_and_a_new_registry_starts_without():
    from chatkit.core.room import Room

    class Member:
        def __init__(self, wants=()):
            self.wants, self.sent = frozenset(wants), []

        def send(self, text):
            self.sent.append(text)

    Rooms = Room.new_registry()
    Rooms.histories = RoomHistories()
    ann, bob = Member({"ids"}), Member()
    people = Rooms.get("people")
    people.join(ann)
    people.join(bob)
    people.broadcast({"type": "note", "text": "hi"})
    people.leave(ann)
    people.leave(bob)  # the room is forgotten; its history is not
    Rooms.get("people").broadcast({"type": "note", "text": "again"})
    assert ann.sent == ['{"type":"note","text":"hi","id":1}']
    assert bob.sent == ['{"type":"note","text":"hi"}']
    assert [m["id"] for m in Rooms.histories.get("people")] == [1, 2]
    assert Rooms.new_registry().histories is None and Room.histories is None
