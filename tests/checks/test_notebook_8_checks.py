"""Notebook 8's checks: backoff, History and the reconnecting client, judged right and wrong.

Right solutions in other styles than the notebook's pass; wrong ones -- written as
a student would slip, not from the checks' lists -- fail with the behaviour they
break and the session that shows it, in words. The client runs over real sockets
against the check's own resume server on 127.0.0.1.
"""

from __future__ import annotations


import pytest

from chatkit import checks
from chatkit.checks.backoff import full_jitter
from chatkit.checks.reconnecting import ReferenceClient
from chatkit.checks.replay import HistoryModel
from chatkit.checks.solutions import SOLUTIONS

PRELUDE = """
import asyncio, collections, itertools, json, random
import chatkit
from chatkit.checks.backoff import full_jitter as backoff
"""


def define(source: str, name: str):
    namespace: dict = {}
    exec(PRELUDE, namespace)
    exec(compile(source, f"<{name} cell>", "exec"), namespace)
    return namespace[name]


def failing(report) -> dict[str, str]:
    """Behaviour -> its lines, for each that does not pass."""
    return {r.behaviour: "\n".join(r.lines) for r in report.results if r.status != checks.OK}


# -- the kit's own answers pass ----------------------------------------------------------

@pytest.mark.parametrize("name, run", [("backoff", "run_backoff"), ("History", "run_history"),
                                       ("Reconnecting", "run_reconnecting")])
def test_the_notebooks_solution_passes_its_check(name, run):
    report = getattr(checks, run)(define(SOLUTIONS[name], name))
    assert report.passed, str(report)


def test_the_references_the_notebook_falls_back_on_pass():
    assert checks.run_backoff(full_jitter).passed
    assert checks.run_history(HistoryModel).passed
    assert checks.run_reconnecting(ReferenceClient).passed


# -- backoff ---------------------------------------------------------------------------

def test_backoff_in_other_styles_passes():
    assert checks.run_backoff(define('''
def backoff(attempt, random=random.random, base=0.5, cap=30.0):
    ceiling = base * (2 ** attempt)
    if ceiling > cap:
        ceiling = cap
    return ceiling * random()
''', "backoff")).passed
    assert checks.run_backoff(define('''
def backoff(attempt, random=random.random, base=0.5, cap=30.0):
    return random() * min(cap, base * (1 << attempt))
''', "backoff")).passed


@pytest.mark.parametrize("what, body, behaviour", [
    ("no cap", "return random() * base * 2 ** attempt", "never more than cap"),
    ("no jitter", "return min(cap, base * 2 ** attempt)", "full jitter"),
    ("the jitter added, not multiplied", "return min(cap, base * 2 ** attempt) + random()",
     "full jitter"),
    ("grows linearly", "return random() * min(cap, base * (attempt + 1))", "the ceiling doubles"),
    ("two draws", "return min(cap, base * 2 ** attempt) * (random() + random()) / 2",
     "full jitter"),
    ("the cap jittered apart", "return min(cap, random() * base * 2 ** attempt)",
     "never more than cap"),
    ("an attempt too many", "return random() * min(cap, base * 2 ** (attempt + 1))",
     "the ceiling doubles"),
])
def test_a_wrong_backoff_fails_with_the_call_that_shows_it(what, body, behaviour):
    report = checks.run_backoff(define(
        f"def backoff(attempt, random=random.random, base=0.5, cap=30.0):\n    {body}\n", "backoff"))
    failed = failing(report)
    assert any(behaviour in b for b in failed), (what, str(report))
    text = "\n".join(failed.values())
    assert "the shortest session that shows it" in text and "backoff(" in text
    assert "hint:" in text and "Traceback" not in text and "could not run" not in text


def test_a_backoff_not_written_yet_is_not_done():
    report = checks.run_backoff(define(
        "def backoff(attempt, random=random.random, base=0.5, cap=30.0):\n"
        "    raise NotImplementedError()\n", "backoff"))
    assert all(r.status == checks.NOT_DONE for r in report.results)


# -- History ---------------------------------------------------------------------------

def test_a_history_in_other_styles_passes():
    deque_history = '''
class History:
    def __init__(self, limit=200):
        self.messages = collections.deque(maxlen=limit)
        self.count = itertools.count(1)
        self.added = 0

    def add(self, message):
        message["id"] = self.added = next(self.count)
        self.messages.append(message)
        return message

    def since(self, last_id):
        gone = self.added - len(self.messages)
        return [m for m in self.messages if m["id"] > last_id], max(0, gone - last_id)
'''
    assert checks.run_history(define(deque_history, "History")).passed


HISTORY = SOLUTIONS["History"]


@pytest.mark.parametrize("what, before, after, behaviour", [
    ("ids from 0", "        self.last_id += 1\n", "", "add gives each message the next id"),
    ("since includes last_id", 'message["id"] > last_id', 'message["id"] >= last_id',
     "since(last_id) returns"),
    ("never bounded", "del self.messages[0]", "pass", "only the last `limit`"),
    ("keeps one too many", "len(self.messages) > self.limit", "len(self.messages) > self.limit + 1",
     "only the last `limit`"),
    ("missed off by one", "max(0, oldest - 1 - last_id)", "max(0, oldest - last_id)",
     "missed counts"),
    ("missed never said", "max(0, oldest - 1 - last_id)", "0", "missed counts"),
    ("newest first", "return kept,", "return kept[::-1],", "since(last_id) returns"),
])
def test_a_wrong_history_fails_with_the_shortest_session(what, before, after, behaviour):
    assert before in HISTORY, before
    report = checks.run_history(define(HISTORY.replace(before, after, 1), "History"))
    failed = failing(report)
    assert any(behaviour in b for b in failed), (what, str(report))
    text = failed[next(b for b in failed if behaviour in b)]
    assert "history = History(limit=" in text and "expected:" in text and "hint:" in text, text
    assert "could not run" not in text


def test_the_history_hint_is_the_shortest_session():
    report = checks.run_history(define(HISTORY.replace(
        'message["id"] > last_id', 'message["id"] >= last_id'), "History"))
    lines = report.result("since(last_id)").lines
    steps = [line for line in lines if line.startswith("  ") and ". " in line]
    assert len(steps) == 3, lines  # make one, add one, ask since its id
    assert steps[-1].endswith("history.since(1)")


# -- the reconnecting client -------------------------------------------------------------

CLIENT = SOLUTIONS["Reconnecting"]


@pytest.mark.parametrize("what, before, after, behaviour", [
    ("never reconnects", "        asyncio.get_running_loop().call_later(delay, self.connect)\n",
     "", "after a drop it reconnects"),
    ("reconnects at once, no wait",
     "asyncio.get_running_loop().call_later(delay, self.connect)", "self.connect()",
     "after a drop it reconnects"),
    ("never starts counting again", "        self.attempt = 0\n", "",
     "after a drop it reconnects"),
    ("no since", 'join["since"], join["epoch"] = self.last_id, self.epoch', "pass",
     "joins again with since"),
    ("no dedupe", 'message["id"] <= self.last_id', 'message["id"] < self.last_id',
     "every room message once"),
    ("does not hold", "self.held.append(message)", "self.deliver(message)",
     "every room message once"),
    ("keeps ids across epochs", 'self.epoch, self.last_id = message["epoch"], None',
     'self.epoch = message["epoch"]', "a new epoch"),
    ("ignores close()", "        if self.closed:\n            return\n", "", "close() stops it"),
    ("close() leaves the connection open", "        self.ws.close()\n", "", "close() stops it"),
    ("held after history", "message[\"messages\"] + held", "held + message[\"messages\"]",
     "every room message once"),
])
def test_a_wrong_client_fails_what_it_breaks(what, before, after, behaviour):
    assert before in CLIENT, before
    report = checks.run_reconnecting(define(CLIENT.replace(before, after), "Reconnecting"))
    failed = failing(report)
    assert any(behaviour in b for b in failed), (what, str(report))
    text = failed[next(b for b in failed if behaviour in b)]
    assert "hint:" in text and "Traceback" not in text and "could not run" not in text, text


def test_a_client_whose_callback_raises_is_told_where_not_the_check():
    source = CLIENT.replace('message = json.loads(event.data)', 'message = json.loads(event)')
    report = checks.run_reconnecting(define(source, "Reconnecting"))
    text = str(report)
    assert not report.passed and "your handle_message raised TypeError" in text, text
    assert "could not run" not in text


def test_a_client_not_written_yet_is_not_done():
    stub = CLIENT
    for method in ("handle_open", "handle_message", "deliver", "handle_close"):
        start = stub.index(f"    def {method}(")
        doc_end = stub.index('"""\n', stub.index('"""', start) + 3) + 4
        end = stub.find("\n    def ", doc_end)
        end = len(stub) if end < 0 else end + 1
        stub = stub[:doc_end] + "        raise NotImplementedError()\n" + stub[end:]
    report = checks.run_reconnecting(define(stub, "Reconnecting"))
    assert all(r.status == checks.NOT_DONE for r in report.results), str(report)


def test_check_finds_notebook_8s_checks_by_what_it_is_given(capsys):
    checks.check(define(SOLUTIONS["backoff"], "backoff"))
    checks.check(define(SOLUTIONS["History"], "History"))
    checks.check(define(SOLUTIONS["Reconnecting"], "Reconnecting"))
    out = capsys.readouterr().out
    for title in ("Checking backoff (notebook 8, step 1", "Checking History (notebook 8, step 2",
                  "Checking Reconnecting (notebook 8, step 3"):
        assert title in out, out
    assert out.count("checks pass.") == 3
