"""``Resume``, a client's half: ask for ids, resume from the last id seen, show each
message once and in order, and say so when something was lost. ``Backoff``: full jitter."""

from __future__ import annotations

import pytest

from chatkit.core.resume import Backoff, Resume


def chat(text: str, ident: int) -> dict:
    return {"type": "chat", "name": "bob", "text": text, "id": ident}


def history(epoch: str, messages: list, missed: int | None = 0) -> dict:
    return {"type": "history", "room": "people", "epoch": epoch, "messages": messages,
            "missed": missed}


def texts(shown: list) -> list:
    return [m["text"] for m in shown]


def test_the_join_asks_for_ids_keeps_its_other_wishes_and_resumes_once_an_epoch_is_known():
    resume = Resume()
    first = resume.join({"type": "join", "name": "Ann", "want": ["members"], "history": 5})
    assert first == {"type": "join", "name": "Ann", "want": ["members", "ids"], "history": 5}
    resume.take(history("e1", [chat("a", 4)]))
    again = resume.join({"type": "join", "name": "Ann", "want": ["members"], "history": 5})
    assert again == {"type": "join", "name": "Ann", "want": ["members", "ids"], "since": 4,
                     "epoch": "e1"}


def test_live_messages_wait_for_the_history_then_all_go_out_in_id_order_once():
    resume = Resume()
    resume.join({"type": "join", "name": "Ann"})
    assert resume.take(chat("own join note", 5)) == []
    assert resume.take({"type": "error", "text": "x"}) == [{"type": "error", "text": "x"}]
    shown = resume.take(history("e1", [chat("three", 3), chat("four", 4)]))
    assert texts(shown) == ["three", "four", "own join note"]
    assert resume.take(chat("four again", 4)) == [] and resume.take(chat("five", 5)) == []
    assert texts(resume.take(chat("six", 6))) == ["six"]


def test_a_history_that_arrives_before_the_join_note_is_merged_all_the_same():
    resume = Resume()  # through Redis the join note comes back after the history
    resume.join({"type": "join", "name": "Ann"})
    assert texts(resume.take(history("e1", [chat("one", 1)]))) == ["one"]
    assert texts(resume.take(chat("join note", 2))) == ["join note"]


def test_a_loss_is_told_with_a_note_first_too_old_or_unknown():
    resume = Resume()
    resume.join({"type": "join", "name": "Ann"})
    resume.take(history("e1", [chat("one", 1)]))
    resume.join({"type": "join", "name": "Ann"})
    shown = resume.take(history("e1", [chat("five", 5)], missed=3))
    assert shown[0]["missed"] == 3 and "3 messages" in shown[0]["text"]
    assert texts(shown[1:]) == ["five"]
    resume.join({"type": "join", "name": "Ann"})
    shown = resume.take(history("e2", [chat("new life", 1)], missed=None))
    assert shown[0]["missed"] is None and "restarted" in shown[0]["text"]
    assert texts(shown[1:]) == ["new life"]  # id 1 again, but of a new epoch: shown
    assert resume.last_id == 1 and resume.epoch == "e2"


def test_without_a_history_held_messages_are_not_kept_forever():
    resume = Resume()
    resume.join({"type": "join", "name": "Ann"})
    shown = [m for n in range(1, 1100) for m in resume.take(chat(str(n), n))]
    assert texts(shown) == [str(n) for n in range(1, 1100)]


def test_backoff_waits_grow_exponentially_up_to_the_cap_with_full_jitter():
    assert list(Backoff(4, base=0.5, cap=2.0, random=lambda: 1.0).delays()) == [0.5, 1, 2, 2]
    assert list(Backoff(3, random=lambda: 0.0).delays()) == [0.0, 0.0, 0.0]
    waits = list(Backoff(200).delays())
    assert len(waits) == 200 and all(0 <= w <= 15.0 for w in waits)
    assert len(set(waits)) > 190  # jittered: a class does not come back all at once
    with pytest.raises(ValueError):
        Backoff(0)
