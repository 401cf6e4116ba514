"""Notebook 8, step 3: a client that reconnects, resumes from the last id, and drops duplicates.

The check starts a chat server of its own on 127.0.0.1 that speaks resume (the
wire format of docs/protocol.md: ids on every chat and note, a ``history``
message right after a member's own join note), and plays generated sessions
against your client class, all at once, one room each: people chat, the check
drops the connection at chosen points (a cut cable, a close with 1001 or 1012),
refuses the next tries for a while, restarts the room (a new *epoch*: ids start
again at 1), lets the room forget old messages, and sends the member's own join
note inside the history or only before it (the protocol allows both). It then
compares, session by session, with what a correct client must do:

- reconnect after every drop, waiting ``backoff(attempt)`` (the check hands in
  its own ``backoff``, fast, and records the attempts: 0, 1, 2 while tries fail,
  0 again once a connection opened);
- join again with ``since`` = the last id delivered and the ``epoch`` of the
  history it came from (the first join has neither);
- hand ``onmessage`` every room message once, in order: nothing lost, nothing twice;
- stop for good once ``close()`` was called.

Sessions are listed shortest first; a ✗ shows the first that fails, in words.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import json
import logging
import time
import warnings
from typing import Any, Callable

from .engine import Behaviour
from .limits import TookTooLong, WatchedLoop, step_limit, where
from .replay import HistoryModel
from .report import FAIL, NOT_DONE, OK, Fail, Report, Result, checked, fail_lines, named, \
    not_done_lines

__all__ = ["run_reconnecting", "check_reconnecting", "ReferenceClient", "SESSIONS", "DELAY"]

#: What the check's own ``backoff`` returns: seconds to wait before a retry.
DELAY = 0.03
#: Seconds the check waits for something a correct client does at once.
TIMEOUT = 1.0
NAME = "Ann"

_quiet = logging.getLogger("chatkit.checks.reconnecting")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


class ReferenceClient:
    """The reference reconnecting client: what the notebooks run until yours passes.

    ``ReferenceClient(url, "Ann", onmessage)`` connects, joins with ``"want": ["ids"]``,
    hands ``onmessage`` each room message (a dict) once, in order, and after a drop
    comes back after ``backoff(attempt)`` seconds, resuming from the last id it saw.
    """

    def __init__(self, url: str, name: str, onmessage: Callable[[dict], Any],
                 backoff: Callable[[int], float] | None = None):
        from .backoff import full_jitter

        self.url, self.name, self.onmessage = url, name, onmessage
        self.backoff = backoff or full_jitter
        self.attempt, self.last_id, self.epoch = 0, None, None
        self.held: list[dict] | None = None  # what came before this connection's history
        self.closed = False
        self.connect()

    def connect(self) -> None:
        from ..notebook.client import WebSocket

        if self.closed:
            return
        self.ws = WebSocket(self.url)
        self.ws.onopen, self.ws.onmessage = self.handle_open, self.handle_message
        self.ws.onclose = self.handle_close

    def close(self) -> None:
        self.closed = True
        self.ws.close()

    def handle_open(self, event: Any) -> None:
        self.attempt, self.held = 0, []
        join: dict[str, Any] = {"type": "join", "name": self.name, "want": ["ids"]}
        if self.last_id is not None:
            join.update(since=self.last_id, epoch=self.epoch)
        self.ws.send(json.dumps(join))

    def handle_message(self, event: Any) -> None:
        message = json.loads(event.data)
        if message.get("type") == "history":
            if message["epoch"] != self.epoch:  # a new run of the server: ids start again
                self.epoch, self.last_id = message["epoch"], None
            held, self.held = self.held or [], None
            for each in message["messages"] + held:
                self.deliver(each)
        elif self.held is not None:
            self.held.append(message)
        else:
            self.deliver(message)

    def deliver(self, message: dict) -> None:
        if "id" in message:
            if self.last_id is not None and message["id"] <= self.last_id:
                return  # delivered already
            self.last_id = message["id"]
        self.onmessage(message)

    def handle_close(self, event: Any) -> None:
        if self.closed:
            return
        delay = self.backoff(self.attempt)
        self.attempt += 1
        asyncio.get_running_loop().call_later(delay, self.connect)


@dataclasses.dataclass(frozen=True)
class Session:
    """One member's session: ``events`` run in order once the first join is answered.

    Events: ``("say", n)`` n chats in the room; ``("drop", how)`` the server cuts the
    connection ("cut": no close frame; or a close code); ``("refuse", n)`` the next n
    tries are refused (HTTP 503); ``("restart",)`` a new epoch, then a drop;
    ``("close-away",)`` the program calls ``close()`` while the client waits to come back.
    ``before`` chats are in the room before the member comes; ``limit`` is the
    room's history; ``own_note`` says whether the history holds the join note;
    ``refuse_first`` tries are refused before the first connection opens.
    """

    events: tuple[tuple, ...]
    before: int = 0
    limit: int = 50
    own_note: bool = True
    refuse_first: int = 0

    def says(self) -> list[str]:
        words = [f"the room keeps its last {self.limit} messages"] if self.limit < 50 else []
        if self.before:
            words.append(f"{self.before} chat{'s' * (self.before > 1)} in the room before Ann comes")
        if self.refuse_first:
            words.append(f"the server is not up yet: it refuses Ann's first {self.refuse_first}"
                         " tries (HTTP 503)")
        words.append("Ann's client connects and joins" + (
            "" if self.own_note else " (the server's history leaves out her own join note)"))
        for event in self.events:
            kind = event[0]
            if kind == "say":
                words.append(f"{event[1]} chat{'s' * (event[1] > 1)} in the room")
            elif kind == "drop":
                words.append({"cut": "the connection breaks (no close frame)",
                              1001: "the server closes the connection (1001, going away)",
                              1012: "the server closes the connection (1012, restarting)"}[event[1]])
            elif kind == "refuse":
                words.append(f"the server refuses the next {event[1]} tries (HTTP 503)")
            elif kind == "restart":
                words.append("the server restarts: a new epoch, ids start again at 1,"
                             " the connection breaks")
            elif kind == "away":
                words.append(f"while Ann is away: {event[1]} chat{'s' * (event[1] > 1)}")
            elif kind == "close-away":
                words.append("while the client waits to come back, Ann's program calls"
                             " client.close()")
                return words
        words.append("Ann's program calls client.close()")
        return words

    def attempts(self) -> list[int]:
        """The attempts a correct client asks ``backoff`` about, in order."""
        wanted, refuse = list(range(self.refuse_first)), 0
        for event in self.events:
            if event[0] == "refuse":
                refuse = event[1]
            elif event[0] in ("drop", "restart"):
                wanted += list(range(refuse + 1))
                refuse = 0
        return wanted


#: The sessions, shortest first: the report shows the first that fails.
SESSIONS = [
    Session(()),
    Session((), before=2),
    Session((("say", 1),), refuse_first=2),
    Session((("say", 1), ("drop", "cut"), ("close-away",))),
    Session((("say", 2), ("drop", "cut"), ("say", 1))),
    Session((("say", 1), ("drop", 1001), ("away", 2), ("say", 1))),
    Session((("drop", 1012), ("away", 1)), own_note=False),
    Session((("say", 1), ("refuse", 2), ("drop", "cut"), ("say", 1))),
    Session((("say", 2), ("drop", "cut"), ("away", 3), ("drop", 1001), ("away", 1), ("say", 2))),
    Session((("say", 2), ("restart",), ("away", 2), ("say", 1))),
    Session((("say", 3), ("restart",), ("say", 1), ("drop", "cut"), ("away", 1)), before=1,
            own_note=False),
    Session((("say", 1), ("drop", "cut"), ("away", 6), ("say", 1)), limit=4),
    Session((("say", 2), ("refuse", 1), ("drop", 1001), ("away", 2), ("restart",), ("say", 1),
             ("drop", "cut"), ("away", 2), ("say", 1)), before=2, own_note=False),
]

_BEHAVIOURS = [
    Behaviour("after a drop it reconnects, waiting backoff(attempt): 0, 1, 2 ... while tries"
              " fail, 0 again once open", "reconnect",
              "in handle_close, ask self.backoff(self.attempt) how long to wait, count the try,"
              " and schedule self.connect for then (the loop's call_later is setTimeout's twin);"
              " a connection that opens starts the count again"),
    Behaviour("it joins again with since = the last id it delivered, and the epoch", "resume",
              'in handle_open: {"type": "join", "name": ..., "want": ["ids"]}, and once a message'
              ' with an id was delivered, "since": that id and "epoch": the history\'s epoch'),
    Behaviour("onmessage gets every room message once, in order: none lost, none twice",
              "duplicates",
              "deliver a message only if its id is above the last id delivered, then remember"
              " its id; messages that come before this connection's history may be in it: hold"
              " them, and deliver them after the history's"),
    Behaviour("after a server restart (a new epoch) the ids start again: nothing is dropped",
              "epoch",
              "when the history's epoch is not the one you knew, the ids start again at 1:"
              " forget the last id before delivering"),
    Behaviour("close() stops it for good: the connection closes, and it never comes back",
              "reconnect",
              "close() closes the connection and sets self.closed; once it is set, neither"
              " handle_close nor a timer already running may open a new connection"),
]


class _Room:
    """The check's server side of one session: a history, an epoch, who is connected."""

    def __init__(self, index: int, session: Session):
        self.index, self.session = index, session
        self.epoch_count = 0
        self.history = HistoryModel(session.limit)
        self.epoch = self.new_epoch()
        self.connection: Any = None
        self.joined = asyncio.Event()
        self.refuse = session.refuse_first
        self.ended = asyncio.Event()  # the connection the server holds has closed
        self.tries: list[float] = []  # when each connection attempt reached the server
        self.dropped_at: list[float] = []
        self.joins: list[Any] = []  # (join frame as received, the join expected)
        self.offered: list[tuple[str, int, dict]] = []  # (epoch, id, message), first offer
        self.offered_keys: set[tuple[str, int]] = set()
        self.restarted_at: int | None = None  # len(offered) at the restart
        self.problems: list[tuple[int, list[str]]] = []  # (behaviour, lines)
        self.last_seen: int | None = None  # what a correct client delivered last (its id)
        self.last_epoch: str | None = None
        self.finished = False  # the session ran to its end (the waits can be judged)

    def new_epoch(self) -> str:
        self.epoch_count += 1
        return f"e{self.index}-{self.epoch_count}"

    def offer(self, message: dict) -> None:
        key = (self.epoch, message["id"])
        if key not in self.offered_keys:
            self.offered_keys.add(key)
            self.offered.append((self.epoch, message["id"], message))

    def expected_join(self) -> dict:
        join: dict[str, Any] = {"type": "join", "name": NAME, "want": ["ids"]}
        if self.last_seen is not None:
            join.update(since=self.last_seen, epoch=self.last_epoch)
        return join

    def problem(self, behaviour: int, *lines: str) -> None:
        self.problems.append((behaviour, list(lines)))


def _join_ok(got: Any, want: dict) -> bool:
    if not isinstance(got, dict):
        return False
    if "since" in want:
        return got == want
    extra = {k: v for k, v in got.items() if k not in ("type", "name", "want")}
    return {k: got.get(k) for k in ("type", "name", "want")} == want and all(
        v in (None, 0) for k, v in extra.items() if k in ("since", "epoch")) and all(
        k in ("since", "epoch") for k in extra)


def _explore(client_class: Any) -> list[Result]:
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    behaviours = _BEHAVIOURS
    if not isinstance(client_class, type):
        return [Result(b.text, FAIL, fail_lines(Fail(
            "check_reconnecting takes the client class", "class Reconnecting: ...",
            repr(client_class), "pass the class itself: checks.check_reconnecting(Reconnecting)")),
            b.group) for b in behaviours]
    rooms = [_Room(i, s) for i, s in enumerate(SESSIONS)]
    for room in rooms:
        for _ in range(room.session.before):
            room.history.add({"type": "chat", "name": "Bob", "text": f"before {_ + 1}"})
    raised: list[tuple[str, BaseException]] = []
    attempts: dict[int, list[int]] = {i: [] for i in range(len(rooms))}
    delivered: dict[int, list[Any]] = {i: [] for i in range(len(rooms))}

    class Watched(client_class):  # type: ignore[misc, valid-type]
        """The student's class, each callback's exceptions kept for the report."""

        def _guard(self, name: str, event: Any) -> Any:
            try:
                return getattr(super(), name)(event)
            except Exception as exc:
                raised.append((name, exc))

        def handle_open(self, event: Any) -> Any:
            return self._guard("handle_open", event)

        def handle_message(self, event: Any) -> Any:
            return self._guard("handle_message", event)

        def handle_close(self, event: Any) -> Any:
            return self._guard("handle_close", event)

    def process_request(connection: Any, request: Any) -> Any:
        room = rooms[int(request.path.rsplit("s", 1)[1])]
        room.tries.append(time.monotonic())
        if room.refuse > 0:
            room.refuse -= 1
            return Response(503, "Service Unavailable", Headers(), b"try again later\n")
        return None

    async def handler(websocket: Any) -> None:
        room = rooms[int(websocket.request.path.rsplit("s", 1)[1])]
        try:
            raw = await asyncio.wait_for(websocket.recv(), TIMEOUT)
        except Exception:
            room.problem(1, "the server waited for a join after the connection opened: none came")
            return
        try:
            join = json.loads(raw)
        except ValueError:
            join = raw
        want = room.expected_join()
        room.joins.append((join, want))
        if not _join_ok(join, want):
            room.problem(1, f"join #{len(room.joins)}: the client sent {raw}",
                         f"expected:  {json.dumps(want, ensure_ascii=False)}"
                         + ("  (the first join: no since, no epoch)" if "since" not in want else ""))
            await websocket.close(1008, "not the join the check expected")
            return
        note = room.history.add({"type": "note", "text": f'{NAME} joined "people".'})
        since, epoch = (join.get("since"), join.get("epoch")) if isinstance(join, dict) else (None, None)
        if since is None or since == 0 and epoch is None:
            messages, missed = list(room.history.messages), 0
        elif epoch != room.epoch:
            messages, missed = list(room.history.messages), None
        else:
            messages, missed = room.history.since(since)
        if not room.session.own_note:
            messages = [m for m in messages if m["id"] != note["id"]]
        room.connection = websocket
        room.ended.clear()
        await websocket.send(json.dumps(note))
        for message in sorted(messages, key=lambda m: m["id"]):
            room.offer(message)  # a correct client delivers the history first,
        room.offer(note)  # then what it held (its own join note, if the history left it out)
        await websocket.send(json.dumps({"type": "history", "room": "people", "epoch": room.epoch,
                                         "messages": messages, "missed": missed}))
        room.joined.set()
        try:
            async for _ in websocket:
                pass
        except Exception:
            pass
        finally:
            if room.connection is websocket or room.connection is None:
                room.ended.set()

    async def deliveries(room: _Room, count: int) -> bool:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            if len(delivered[room.index]) >= count:
                return True
            await asyncio.sleep(0.005)
        return False

    def say(room: _Room, count: int) -> None:
        for _ in range(count):
            message = room.history.add({"type": "chat", "name": "Bob",
                                        "text": f"chat {room.history.last_id + 1}"})
            if room.connection is not None:
                from websockets.asyncio.server import broadcast
                broadcast((room.connection,), json.dumps(message))
                room.offer(message)

    def settle(room: _Room) -> None:
        """A correct client has now delivered everything offered: its last id and epoch."""
        if room.offered:
            room.last_epoch, room.last_seen = room.offered[-1][0], room.offered[-1][1]

    async def play(room: _Room, client: Any) -> None:
        session = room.session
        if not await _wait(room.joined, TIMEOUT + session.refuse_first * DELAY * 3):
            room.problem(1 if len(room.tries) > session.refuse_first else 0,
                         "the client never joined the room" if len(room.tries) > session.refuse_first
                         else f"the client never connected ({len(room.tries)} tries in all)")
            return
        if not await deliveries(room, len(room.offered)):
            return
        settle(room)
        events = list(session.events)
        while events:
            event = events.pop(0)
            kind = event[0]
            if kind == "say":
                say(room, event[1])
                if not await deliveries(room, len(room.offered)):
                    return
                settle(room)
            elif kind == "refuse":
                room.refuse = event[1]
            elif kind in ("drop", "restart") and events and events[0][0] == "close-away":
                closes = len(attempts[room.index])
                room.connection.transport.abort()
                room.connection = None
                deadline = time.monotonic() + TIMEOUT
                while len(attempts[room.index]) == closes and time.monotonic() < deadline:
                    await asyncio.sleep(0.002)  # until the client has set its timer
                room.finished = True
                tries = len(room.tries)
                client.close()
                await asyncio.sleep(4 * DELAY)
                if len(room.tries) > tries:
                    room.problem(4, "close() was called while the client waited to come back;"
                                 " when the wait was over, it connected again")
                return
            elif kind in ("drop", "restart"):
                if kind == "restart":
                    room.epoch = room.new_epoch()
                    room.history = HistoryModel(session.limit)
                    room.restarted_at = len(room.offered)
                how = event[1] if kind == "drop" else "cut"
                connection, room.connection = room.connection, None
                room.joined.clear()
                room.dropped_at.append(time.monotonic())
                if how == "cut":
                    connection.transport.abort()
                else:
                    await connection.close(how)
                while events and events[0][0] == "away":  # said while nobody is connected
                    say(room, events.pop(0)[1])
                if not await _wait(room.joined, TIMEOUT + room.refuse * DELAY * 3):
                    room.problem(0, f"after drop #{len(room.dropped_at)} the client did not"
                                 f" rejoin within {TIMEOUT:g} s ({len(room.tries)} tries in all)")
                    return
                if not await deliveries(room, len(room.offered)):
                    return
                settle(room)
        # the end: the program closes the client; it must not come back
        room.finished = True
        tries = len(room.tries)
        client.close()
        if not await _wait(room.ended):
            room.problem(4, f"after client.close(), the connection was still open {TIMEOUT:g} s"
                         " later")
            return
        await asyncio.sleep(4 * DELAY)
        if len(room.tries) > tries:
            room.problem(4, "after client.close(), the client connected again")

    async def _wait(event: asyncio.Event, timeout: float = TIMEOUT) -> bool:
        try:
            await asyncio.wait_for(event.wait(), timeout)
            return True
        except TimeoutError:
            return False

    async def scenario() -> None:
        async with serve(handler, "127.0.0.1", 0, process_request=process_request,
                         logger=_quiet, compression=None) as server:
            port = server.sockets[0].getsockname()[1]
            clients = []
            for room in rooms:
                def recorder(attempt: Any, index: int = room.index) -> float:
                    attempts[index].append(attempt)
                    return DELAY

                def onmessage(message: Any, index: int = room.index) -> None:
                    delivered[index].append(message)

                clients.append(Watched(f"ws://127.0.0.1:{port}/chat/s{room.index}", NAME,
                                       onmessage, backoff=recorder))
            try:
                await asyncio.gather(*(play(room, client)
                                       for room, client in zip(rooms, clients)))
            finally:
                for client in clients:  # a session cut short leaves its client running
                    try:
                        client.close()
                    except Exception:
                        pass
                await asyncio.sleep(2 * DELAY)

    gc.collect()  # what an earlier check left behind warns now, not in this report
    with warnings.catch_warnings():
        # a client that still reconnects as the loop stops leaves a coroutine never awaited
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            early = _play(scenario)
        finally:
            gc.collect()
    if early is not None:
        return early
    not_done = next((exc for _, exc in raised if isinstance(exc, NotImplementedError)), None)
    if not_done is not None:
        return [Result(b.text, NOT_DONE, not_done_lines(not_done), b.group) for b in behaviours]
    return _judge(rooms, attempts, delivered, raised)


def _play(scenario: Callable[[], Any]) -> list[Result] | None:
    """Run the sessions on a watched loop: None, or the results when nothing could be judged."""
    behaviours = _BEHAVIOURS
    with WatchedLoop() as loop:
        try:
            loop.run(scenario(), 12 * TIMEOUT + step_limit())
        except NotImplementedError as exc:
            return [Result(b.text, NOT_DONE, not_done_lines(exc), b.group) for b in behaviours]
        except TookTooLong as exc:
            return [Result(b.text, FAIL, [
                f"took longer than {exc.seconds:.2g} s, and was stopped{exc.where or ' (waiting)'}",
                "hint: a loop that never ends, or time.sleep in a callback: schedule the"
                " reconnect with call_later instead"], b.group) for b in behaviours]
        except TypeError as exc:
            if not where(exc):
                raise
            return [Result(b.text, FAIL, [
                f"your class could not be made: {type(exc).__name__}: {exc}{where(exc)}",
                "hint: keep the signature: Reconnecting(url, name, onmessage, backoff=backoff)"],
                b.group) for b in behaviours]
    return None


def _judge(rooms: list[_Room], attempts: dict[int, list[int]], delivered: dict[int, list[Any]],
           raised: list[tuple[str, BaseException]]) -> list[Result]:
    behaviours = _BEHAVIOURS
    found: dict[int, list[str]] = {}
    tried = len(rooms)

    def report(b: int, room: _Room, lines: list[str]) -> None:
        if b not in found:
            found[b] = [f"the shortest session that shows it ({tried} sessions tried):",
                        *(f"  {i + 1}. {words}" for i, words in enumerate(room.session.says())),
                        *lines]

    if raised:
        name, exc = raised[0]
        b = {"handle_open": 1, "handle_message": 2, "handle_close": 0}.get(name, 2)
        found[b] = [f"your {name} raised {type(exc).__name__}: {exc}{where(exc)}",
                    f"hint: {name} runs for every such event: fix that line"]
    for room in rooms:
        session = room.session
        for b, lines in room.problems:
            report(b, room, lines)
        want = [m for _, _, m in room.offered]
        got = delivered[room.index]
        if got != want and not room.problems:
            i = next((i for i, (g, w) in enumerate(zip(got, want)) if g != w), min(len(got), len(want)))
            after_restart = room.restarted_at is not None and i >= room.restarted_at
            b = 3 if after_restart else 2
            keys = [(g.get("id"), g.get("text")) if isinstance(g, dict) else g for g in got]
            twice = len(set(map(str, keys))) < len(keys)
            report(b, room, [
                f"onmessage got {len(got)} message{'s' * (len(got) != 1)}, expected {len(want)}"
                + (" (some twice)" if twice else ""),
                f"expected: {_short(want)}", f"got:      {_short(got)}",
                f"first difference: message #{i + 1}"])
        # the waits: one backoff per close, the attempt counting failed tries
        wanted_attempts = session.attempts()
        got_attempts = attempts[room.index]
        if room.finished and not room.problems and \
                got_attempts[:len(wanted_attempts)] != wanted_attempts:
            report(0, room, [f"your client called backoff with attempts {got_attempts}",
                             f"expected:                       {wanted_attempts}"])
        # a correct client waits DELAY before each new try: after a drop, after a refusal
        gaps = [later - earlier for earlier, later in zip(room.tries, room.tries[1:])]
        if room.finished and not room.problems and any(gap < DELAY * 0.6 for gap in gaps):
            report(0, room, [f"the client tried again after {min(gaps) * 1000:.0f} ms;"
                             f" backoff said to wait {DELAY * 1000:.0f} ms"])
    results = []
    for b, behaviour in enumerate(behaviours):
        if b in found:
            lines = found[b]
            if not any(line.startswith("hint:") for line in lines):
                lines = [*lines, f"hint: {behaviour.hint}"]
            results.append(Result(behaviour.text, FAIL, lines, behaviour.group))
        else:
            results.append(Result(behaviour.text, OK, [], behaviour.group))
    return results


def _short(messages: list[Any]) -> str:
    """Messages as ids and words: ``[1 note Ann joined, 2 chat Bob: chat 2]``."""
    parts = []
    for m in messages[:12]:
        if isinstance(m, dict):
            label = m.get("text", "")
            parts.append(f"#{m.get('id', '?')} {label}" if "id" in m else json.dumps(m)[:60])
        else:
            parts.append(repr(m)[:60])
    more = f", ... ({len(messages) - 12} more)" if len(messages) > 12 else ""
    return "[" + ", ".join(parts) + more + "]"


def _run(subject: Any) -> Report:
    return checked("reconnecting", subject, (), "notebook 8, step 3: reconnect and resume",
                   _BEHAVIOURS, lambda: _explore(subject))


def _check(subject: Any) -> None:
    print(_run(subject))


run_reconnecting, check_reconnecting = _run, _check
named(run_reconnecting, check_reconnecting, "reconnecting",
      "Notebook 8, step 3: a client that reconnects, resumes and drops duplicates, over real"
      " sockets.",
      "Print the notebook 8 step 3 checks: ``Reconnecting(url, name, onmessage, backoff)``.")
