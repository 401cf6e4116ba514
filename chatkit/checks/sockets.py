"""Steps 1 and 2: a browser-style client and a route handler, run for real on 127.0.0.1.

Both checks play generated sessions against the reference's answer -- several at
once, on one server: for the client, servers that send texts of every kind and
close in every way (or are not there at all), and the log each connection must
leave; for the route, clients in rooms whose names need decoding, sending texts
of every kind, ``bye`` and words that only look like it, and leaving early.
Their event loop runs in a thread of its own, watched (:mod:`.limits`): code
that holds it is stopped at its line.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import inspect
import json
import linecache
import logging
import socket
import time
import warnings
from typing import Any, Callable

from . import limits
from .engine import Behaviour
from .freedoms import same
from .limits import TookTooLong, WatchedLoop, cell_name, step_limit
from .report import FAIL, NOT_DONE, OK, Fail, Report, Result, fail_lines, not_done_lines, raised_text, \
    checked, named

__all__ = ["run_client", "check_client", "run_route", "check_route", "TIMEOUT"]

#: Seconds a route or client check waits for an answer (127.0.0.1 answers in milliseconds).
TIMEOUT = 1.0

# The checks' own servers log nothing: what went wrong is in the report.
_quiet = logging.getLogger("chatkit.checks")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False


async def _until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    return done()


def _step(key: str, title: str, behaviours: list[Behaviour], explore: Callable[[Any], list[Result]],
          run_doc: str, check_doc: str) -> tuple[Callable, Callable]:
    """``run_x`` and ``check_x`` for a socket step."""

    def run(subject: Any) -> Report:
        return checked(key, subject, (), title, behaviours, lambda: explore(subject))

    def check(subject: Any) -> None:
        print(run(subject))

    named(run, check, key, run_doc, check_doc)
    return run, check


def _all_fail(behaviours: list[Behaviour], lines: list[str], status: str = FAIL) -> list[Result]:
    return [Result(b.text, status, lines, b.group) for b in behaviours]


# -- step 1: the client -------------------------------------------------------------------

CALLBACKS = ("onopen", "onmessage", "onerror", "onclose")
NOT_A_CALLBACK = ("a callback is a function, called later with the event: ws.onopen ="
                  " lambda event: log.append('open') -- ws.onopen = log.append('open') appends"
                  " now and sets onopen to None (what append returns)")


@dataclasses.dataclass(frozen=True)
class _Server:
    """What the server does with one connection: send these texts, then close (or not)."""

    texts: tuple[str, ...]
    close: tuple[int, str] | None  # None: the connection breaks (no close frame)
    there: bool = True  # False: nothing listens at the address at all

    def log(self) -> list[str]:
        """What ``connect``'s log must hold at the end, as the browser's callbacks fire."""
        if not self.there:
            return ["error", "close: 1006"]
        messages = [f"message: {text}" for text in self.texts]
        if self.close is None:
            return ["open", *messages, "error", "close: 1006"]
        return ["open", *messages, f"close: {self.close[0]}"]

    def says(self) -> str:
        if not self.there:
            return "connect to an address where nothing listens"
        sent = ", ".join(json.dumps(t, ensure_ascii=False) for t in self.texts) or "nothing"
        end = (f"closes with code {self.close[0]}" + (f" ({self.close[1]!r})" if self.close[1] else "")
               if self.close else "the connection breaks (no close frame)")
        return f"the server sends {sent}, then {end}"


#: Each server a connection meets, shortest first (the report shows the first that fails).
SERVERS = [
    _Server(("17", "42", "99"), (1000, "bye")),
    _Server((), None, there=False),
    _Server(("hello",), (1000, "")),
    _Server((), (4000, "custom")),
    _Server(("x",), None),
    _Server(("", "héllo ✓ 😀", '{"type": "chat", "text": "hi"}'), (1001, "going away")),
    _Server(("line one\nline two", "message: 1", "None", "close: 1000"), (3001, "x")),
    _Server(("3.14", "-1", "1e3", "0x1A", " 7 "), (1000, "bye")),
]

_CLIENT_BEHAVIOURS = [
    Behaviour("onopen fires first (and nothing is logged before the connection opens)",
              "callbacks", "ws.onopen logs 'open' when the connection opens -- before anything else"),
    Behaviour("onmessage fires for each message: event.data, whatever the text", "callbacks",
              "log each message as 'message: ' and event.data, exactly as it came: a text is not"
              " always a number"),
    Behaviour("onclose fires when the server closes: event.code", "callbacks",
              "log 'close: ' and event.code (the number; event.reason is the words), once, last"),
    Behaviour("a bad address, or a broken connection: onerror fires, then onclose with code 1006",
              "onerror", "onerror logs 'error'; onclose then logs the code, 1006"),
]


def _first_difference(want: list[Any], got: list[Any]) -> int:
    for i, (w, g) in enumerate(zip(want, got)):
        if not same(g, w):
            return i
    return min(len(want), len(got))


def _client_behaviour(server: _Server, want: list[str], got: list[Any]) -> int:
    i = _first_difference(want, got)
    entry = want[i] if i < len(want) else str(got[i])
    if not server.there or server.close is None:
        if entry in ("error", "close: 1006") or i >= len(want) - 2:
            return 3
    if entry == "open":
        return 0
    if entry.startswith("message"):
        return 1
    if entry.startswith("close") or entry == "error":
        return 2
    return 1


def _misnamed(ws: Any) -> str:
    """``on_open`` for ``onopen``: a callback set under a name the browser does not call."""
    names = {name.replace("_", "").lower(): name for name in vars(ws) if not name.startswith("__")}
    for callback in CALLBACKS:
        found = names.get(callback)
        if found and found != callback and callable(getattr(ws, found)):
            return found
    return ""


def _client_explore(connect: Callable[[str, list], Any]) -> list[Result]:
    from websockets.asyncio.server import serve

    behaviours = _CLIENT_BEHAVIOURS
    if inspect.iscoroutinefunction(connect):
        return _all_fail(behaviours, fail_lines(Fail(
            "connect is a coroutine function (async def): calling it runs none of it",
            "def connect(url, log):", "async def connect(url, log):",
            "making a WebSocket does not wait -- the callbacks run later, on the event loop:"
            " write connect as a plain def")))
    # Bound and never listening, until the sessions are over: a connection to its port is
    # refused, and no other program can start listening there meanwhile (a port closed
    # again at once could be a parallel test's server by the time the client connects).
    dead = socket.socket()
    dead.bind(("127.0.0.1", 0))
    dead_port = dead.getsockname()[1]

    async def serve_one(websocket: Any) -> None:
        server = SERVERS[int(websocket.request.path.rsplit("/", 1)[1])]
        for text in server.texts:
            await websocket.send(text)
            await asyncio.sleep(0.005)
        if server.close is None:
            websocket.transport.abort()
        else:
            await websocket.close(*server.close)

    logs: list[list[Any]] = [[] for _ in SERVERS]
    raised: list[dict[str, BaseException]] = [{} for _ in SERVERS]
    sockets: list[Any] = [None] * len(SERVERS)

    def guarded(index: int, name: str, callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def call(event: Any) -> Any:
            try:
                return callback(event)
            except Exception as exc:  # reported once, in the report; no traceback
                raised[index].setdefault(name, exc)
        return call

    async def scenario() -> None:
        async with serve(serve_one, "127.0.0.1", 0, logger=_quiet) as server:
            port = server.sockets[0].getsockname()[1]
            for index, spec in enumerate(SERVERS):
                url = (f"ws://127.0.0.1:{port}/s/{index}" if spec.there
                       else f"ws://127.0.0.1:{dead_port}/s/{index}")
                ws = connect(url, logs[index])
                if inspect.iscoroutine(ws):
                    ws.close()
                    raise Fail("connect returned a coroutine: it is an async def, so none of it ran",
                               "the WebSocket it made", "a coroutine",
                               "making a WebSocket does not wait: write connect as a plain def")
                if ws is None:
                    raise Fail("connect should return the WebSocket it made", "a WebSocket", None,
                               "end with: return ws")
                if logs[index]:
                    raise Fail("something was logged before the connection could open",
                               "nothing yet: the callbacks run later, on the event loop",
                               repr(logs[index]), NOT_A_CALLBACK)
                misnamed = _misnamed(ws)
                for name in CALLBACKS:
                    callback = getattr(ws, name, None)
                    if not callable(callback):
                        hint = NOT_A_CALLBACK
                        if misnamed:
                            hint = (f"you set ws.{misnamed}, which no browser calls: the four names"
                                    " are onopen, onmessage, onerror and onclose -- all lower case,"
                                    " no underscore")
                        elif callback is None:
                            hint = f"set ws.{name} to a function of the event"
                        raise Fail(f"ws.{name} should be a function", f"ws.{name} = lambda event: ...",
                                   f"ws.{name} = {callback!r}", hint)
                    setattr(ws, name, guarded(index, name, callback))
                sockets[index] = ws
            await _until(lambda: all(getattr(ws, "ready_state", 3) == 3 for ws in sockets),
                         3 * TIMEOUT)

    with WatchedLoop() as loop, contextlib.closing(dead):
        try:
            loop.run(scenario(), 4 * TIMEOUT + step_limit())
        except NotImplementedError as exc:
            return _all_fail(behaviours, not_done_lines(exc), NOT_DONE)
        except Fail as fail:
            return _all_fail(behaviours, fail_lines(fail))
        except TookTooLong as exc:
            return _all_fail(behaviours, _took_too_long(exc))
        except Exception as exc:
            if not limits.where(exc):
                raise
            return _all_fail(behaviours, [f"your code raised {raised_text(exc)}"])
    results: list[Result | None] = [None] * len(behaviours)
    judged = [0] * len(behaviours)
    for index, server in enumerate(SERVERS):
        want, got = server.log(), logs[index]
        for b in (3,) if not server.there or server.close is None else (0, 1, 2):
            judged[b] += 1
        if raised[index]:
            name, exc = next(iter(raised[index].items()))
            b = {"onopen": 0, "onmessage": 1, "onclose": 2, "onerror": 3}[name]
            if not server.there or server.close is None:
                b = 3 if name in ("onerror", "onclose") else b
            if results[b] is None:
                results[b] = Result(behaviours[b].text, FAIL, [
                    f"your {name} callback raised {raised_text(exc)}",
                    f"hint: {name} runs for every such event: fix that line"], behaviours[b].group)
            continue
        if len(got) == len(want) and all(same(g, w) for g, w in zip(got, want)):
            continue
        b = _client_behaviour(server, want, got)
        if results[b] is None:
            hint = behaviours[b].hint
            if b == 1 and any("Event" in str(g) for g in got):
                hint = "event is the whole event; the message is event.data"
            results[b] = Result(behaviours[b].text, FAIL, [
                f"the shortest session that shows it ({len(SERVERS)} sessions tried):",
                f"  {server.says()}",
                f"expected: {want}", f"got:      {[g if isinstance(g, str) else repr(g) for g in got]}",
                f"hint: {hint}"], behaviours[b].group)
    return [r or Result(b.text, OK if judged[i] else FAIL, [] if judged[i] else ["not tried"],
                        b.group) for i, (r, b) in enumerate(zip(results, behaviours))]


def _took_too_long(exc: TookTooLong) -> list[str]:
    return [f"took longer than {exc.seconds:.2g} s, and was stopped{exc.where or ' (waiting)'}",
            "hint: " + (exc.hint or "a loop that never ends, or code that waits for something that"
                        " never comes (in async code: a call without await, or time.sleep instead"
                        " of await asyncio.sleep)")]


run_client, check_client = _step(
    "client", "step 1: the four callbacks", _CLIENT_BEHAVIOURS, _client_explore,
    "Step 1: the four callbacks, against a real server on 127.0.0.1.",
    "Print the step 1 checks: ``connect(url, log)`` logs open, messages, error, close.",
)


# -- step 2: the route -------------------------------------------------------------------


def _is_async_handler(handler: Any) -> bool:
    """An ``async def`` function, or an object whose ``__call__`` is one (a class-based route)."""
    return inspect.iscoroutinefunction(handler) or (
        callable(handler) and inspect.iscoroutinefunction(getattr(handler, "__call__", None)))


class _NotAwaited:
    """Collect "coroutine ... was never awaited" warnings raised while a session runs."""

    def __init__(self) -> None:
        self.first: warnings.WarningMessage | None = None

    def __enter__(self) -> _NotAwaited:
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.simplefilter("always", RuntimeWarning)
        warnings.showwarning = self._show
        return self

    def _show(self, message: Any, category: Any, filename: str, lineno: int, *args: Any) -> None:
        if self.first is None and "was never awaited" in str(message):
            self.first = warnings.WarningMessage(message, category, filename, lineno)

    def __exit__(self, *exc_info: Any) -> None:
        self._catch.__exit__(*exc_info)

    def lines(self) -> list[str]:
        found = self.first
        if found is None:
            return []
        line = linecache.getline(found.filename, found.lineno).strip()
        call = str(found.message).split("'")[1] if "'" in str(found.message) else "a coroutine"
        method = call.rsplit(".", 1)[-1]
        return fail_lines(Fail(f"{call} was called without await, so it never ran",
                                f"await websocket.{method}(...)",
                                f"{cell_name(found.filename)}, line {found.lineno}: {line}"
                                if line else str(found.message),
                                "a coroutine runs only when awaited: put await in front of the"
                                " call"))


@dataclasses.dataclass(frozen=True)
class _Client:
    """One client of the route: its room (as in the URL), what it says, whether it leaves."""

    path: str  # the URL's segment, percent-encoded
    room: str  # what the handler gets
    says: tuple[str, ...]
    tag: str
    leaves: bool = True  # closes its side once done (when no bye closed it)

    def expected(self, room: str | None = None) -> dict[str, Any]:
        """The answers and the close; ``room`` is what the router handed the handler."""
        answers = []
        for text in self.says:
            if text == "bye":
                return {"answers": answers, "closed": 1000}
            answers.append(f"{self.room if room is None else room}: {text}")
        return {"answers": answers, "closed": None}

    def describe(self) -> str:
        said = ", then ".join(json.dumps(t, ensure_ascii=False) for t in self.says) or "nothing"
        end = "" if "bye" in self.says else (", then closes its side" if self.leaves else "")
        return f"a client of /chat/{self.path} sends {said}{end}"


#: The clients of one route check, all at once on one server.
CLIENTS = [
    _Client("people", "people", ("hi",), "echo"),
    _Client("kitchen", "kitchen", ("is the kettle on?",), "room"),
    _Client("People", "People", ("hi",), "room"),
    _Client("café", "café", ("un café",), "room"),
    _Client("the%20lounge", "the lounge", ("hi there",), "room"),
    _Client("%F0%9F%98%80", "😀", ("😀",), "room"),
    _Client("people", "people", ("one", "two", "three"), "order"),
    _Client("people", "people", ("", "héllo ✓ 😀", '{"type": "chat", "text": "x"}',
                                 "people: hi", "line one\nline two"), "order"),
    _Client("people", "people", ("hi", "bye"), "bye"),
    _Client("kitchen", "kitchen", ("bye",), "bye"),
    _Client("people", "people", ("goodbye all", "bye bye", "Bye", "byebye", "BYE"), "not-bye"),
    _Client("people", "people", ("from ann",), "two"),
    _Client("kitchen", "kitchen", ("from bob",), "two"),
    _Client("people", "people", ("just passing",), "leave"),
    _Client("people", "people", (), "leave"),
]

_ROUTE_BEHAVIOURS = [
    Behaviour("a message comes back with the room name: hi -> people: hi", "route",
              "answer each message with the room's name, a colon, a space and the message"),
    Behaviour("the room name comes from the URL: /chat/kitchen", "route",
              "the room is the handler's room argument: what the router took from the URL"),
    Behaviour("answers come in order, whatever the text", "route",
              "answer every message, in the order they came, each exactly once"),
    Behaviour("two clients at once each get their own answers", "route",
              "answer on the connection the message came from: websocket.send"),
    Behaviour("bye: the server closes the connection (code 1000)", "bye",
              "on the message bye, close the connection (1000 is the default code)"),
    Behaviour("goodbye all, bye bye, Bye: only the message bye closes", "bye",
              'close on the message "bye" exactly -- a comparison, not a search'),
    Behaviour("when the client leaves, the handler ends without an error", "disconnect",
              "websockets logs an ERROR for every normal disconnect: loop with `async for message"
              " in websocket:` (it ends when the client goes), or catch ConnectionClosed around"
              " websocket.recv()"),
]
_ROUTE_TAGS = {"echo": 0, "room": 1, "order": 2, "two": 3, "bye": 4, "not-bye": 5, "leave": 6}


def _route_explore(handler: Callable[..., Any]) -> list[Result]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.router import route
    from websockets.exceptions import ConnectionClosed
    from werkzeug.routing import Map, Rule

    behaviours = _ROUTE_BEHAVIOURS
    if not _is_async_handler(handler):
        return _all_fail(behaviours, fail_lines(Fail(
            "the handler should be a coroutine function", "async def chat(websocket, room):",
            repr(handler), "async def, so the server can run many connections at once")))
    handlers: dict[int, dict[str, Any]] = {}  # client index -> what its handler did
    running: dict[str, Any] = {}

    async def watched(websocket: Any, **params: Any) -> None:
        index = int(websocket.request.path.rsplit("=", 1)[1])
        seen = handlers[index] = {"raised": None, "ended": False, "room": params.get("room")}
        try:
            await handler(websocket, **params)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            seen["raised"] = exc
            if not isinstance(exc, TookTooLong):
                raise
            exc.where = exc.where or running["loop"].watch.where
            exc.seconds = exc.seconds or step_limit()
        finally:
            seen["ended"] = True

    async def talk(index: int, client: _Client, port: int, wait: float) -> dict[str, Any]:
        got: dict[str, Any] = {"answers": [], "closed": None, "problem": "", "held": 0.0}
        url = f"ws://127.0.0.1:{port}/chat/{client.path}?c={index}"
        async with connect(url, open_timeout=3 * TIMEOUT, close_timeout=TIMEOUT) as ws:
            for text in client.says:
                try:
                    await ws.send(text)
                except ConnectionClosed as exc:
                    got["closed"] = _code(exc)
                    return got
                if text == "bye":
                    try:
                        async with asyncio.timeout(wait):
                            async for _ in ws:
                                pass
                    except TimeoutError:
                        got["problem"] = f"still open {wait:g} s after bye"
                        return got
                    got["closed"] = ws.close_code
                    return got
                start = time.monotonic()
                try:
                    async with asyncio.timeout(wait):
                        answer = await ws.recv()
                except TimeoutError:
                    # How late the timeout came, as far as the student's code held the loop
                    # (the watchdog saw it running): a busy machine's lateness is not theirs.
                    late = time.monotonic() - start - wait
                    got["held"] = min(late, running["loop"].watch.longest)
                    got["problem"] = f"no answer to {text!r} within {wait:g} s"
                    return got
                except ConnectionClosed as exc:
                    got["closed"] = _code(exc)
                    return got
                got["answers"].append(answer)
        if client.leaves:
            await _until(lambda: handlers.get(index, {}).get("ended", False), wait)
        return got

    async def scenario() -> list[Any]:
        """The clients, a wave at a time (the two of "two" at once); once one waited in vain,
        the others wait a third as long -- and a behaviour that failed is not tried again."""
        url_map = Map([Rule("/chat/<room>", endpoint=watched)])
        server = await route(url_map, "127.0.0.1", 0, logger=_quiet)
        port = server.sockets[0].getsockname()[1]
        outcomes: list[Any] = [None] * len(CLIENTS)
        wait, failed = TIMEOUT, set()
        budget = time.monotonic() + 3 * TIMEOUT
        try:
            for wave in _waves():
                if CLIENTS[wave[0]].tag in failed:
                    continue
                if running.get("held") or time.monotonic() > budget:
                    break  # the loop was held, or time is up: the others would only wait too
                done = await asyncio.gather(*(talk(i, CLIENTS[i], port, wait) for i in wave),
                                            return_exceptions=True)
                for i, got in zip(wave, done):
                    outcomes[i] = got
                    if isinstance(got, BaseException) or got["problem"] or got["closed"] not in (
                            None, 1000) or got["answers"] != CLIENTS[i].expected(
                            handlers.get(i, {}).get("room"))["answers"]:
                        failed.add(CLIENTS[i].tag)
                        if isinstance(got, dict) and got["held"] > 0.1:
                            running["held"] = got["held"] + wait
                        if isinstance(got, dict) and got["problem"]:
                            wait = TIMEOUT / 3
            return outcomes
        finally:
            server.close()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(TIMEOUT):
                    await server.wait_closed()

    gc.collect()  # coroutines an earlier check left behind warn now, not in this report
    with _NotAwaited() as not_awaited:
        try:
            return _route_results(behaviours, scenario, handlers, running, not_awaited)
        finally:
            handlers.clear()
            gc.collect()  # a stopped handler's coroutines are freed while warnings are ours


def _route_results(behaviours: list[Behaviour], scenario: Callable[[], Any],
                   handlers: dict[int, dict[str, Any]], running: dict[str, Any],
                   not_awaited: _NotAwaited) -> list[Result]:
    from websockets.exceptions import ConnectionClosed

    with WatchedLoop() as loop:
        running["loop"] = loop
        try:
            outcomes = loop.run(scenario(), 4 * TIMEOUT + step_limit())
        except TookTooLong as exc:
            handlers.clear()
            gc.collect()
            return _all_fail(behaviours, [*_took_too_long(exc), *not_awaited.lines()[:1]])
    raised = [h["raised"] for h in handlers.values() if h["raised"] is not None]
    not_done = next((e for e in raised if isinstance(e, NotImplementedError)), None)
    if not_done is not None:
        return _all_fail(behaviours, not_done_lines(not_done), NOT_DONE)
    gc.collect()
    awaited = not_awaited.lines()
    results: list[Result | None] = [None] * len(behaviours)
    for index, (client, got) in enumerate(zip(CLIENTS, outcomes)):
        b = _ROUTE_TAGS[client.tag]
        if results[b] is not None or got is None:
            continue
        if isinstance(got, BaseException):
            if not limits.where(got) and not isinstance(got, (OSError, ConnectionClosed)):
                raise got
            got = {"answers": [], "closed": _code(got), "problem": "", "held": 0.0}
        lines = _route_difference(client, got, handlers.get(index, {}), awaited)
        if lines:
            results[b] = Result(behaviours[b].text, FAIL, [
                f"the shortest session that shows it (of {len(CLIENTS)} clients):",
                f"  {client.describe()}", *lines], behaviours[b].group)
    for b, behaviour in enumerate(behaviours):  # the waves that never ran
        tags = [t for t, i in _ROUTE_TAGS.items() if i == b]
        if results[b] is None and all(outcomes[i] is None for i, c in enumerate(CLIENTS)
                                      if c.tag in tags):
            why = (f"the event loop was held for {running['held']:.1f} s (above)"
                   if running.get("held") else "time ran out")
            results[b] = Result(behaviour.text, FAIL, [f"not tried: {why}"], behaviour.group)
    if awaited:  # a coroutine made and dropped is a mistake even where the server hid it
        method = str(not_awaited.first.message).split("'")[1].rsplit(".", 1)[-1]
        b = _ROUTE_TAGS["bye"] if method == "close" else _ROUTE_TAGS["echo"]
        if results[b] is None:
            results[b] = Result(behaviours[b].text, FAIL, awaited, behaviours[b].group)
    return [r or Result(b.text, OK, [], b.group) for r, b in zip(results, behaviours)]


def _waves() -> list[tuple[int, ...]]:
    """The clients in the order they talk: one at a time, the two of "two" together."""
    waves: list[tuple[int, ...]] = []
    pair = tuple(i for i, c in enumerate(CLIENTS) if c.tag == "two")
    for i, client in enumerate(CLIENTS):
        if client.tag != "two":
            waves.append((i,))
        elif i == pair[0]:
            waves.append(pair)
    return waves


def _code(exc: Any) -> Any:
    return exc.rcvd.code if getattr(exc, "rcvd", None) else 1006


def _route_difference(client: _Client, got: dict[str, Any], handler: dict[str, Any],
                      awaited: list[str]) -> list[str]:
    """What differs for one client, in the checks' words (nothing: it went as expected)."""
    from websockets.exceptions import ConnectionClosed

    want = client.expected(handler.get("room"))
    raised = handler.get("raised")
    if isinstance(raised, TookTooLong):
        lines = _took_too_long(raised)
        if got["held"] > 0.1:
            lines[-1] = (f"hint: the event loop was held for {got['held'] + TIMEOUT:.1f} s: code"
                         " that blocks (time.sleep, a busy loop) stops every connection -- await"
                         " asyncio.sleep(...) instead")
        return [*lines, *awaited[:1]]
    if raised is not None and not isinstance(raised, ConnectionClosed):
        return [f"your code raised {raised_text(raised)}"]
    for answer in got["answers"]:
        if isinstance(answer, str) and "<coroutine object" in answer:
            return ["an answer holds a coroutine, not the message", f"got:      {answer}",
                    "hint: message = await websocket.recv() -- without await you get the"
                    " coroutine, not the message"]
    answers = got["answers"][: len(want["answers"])]
    if answers != want["answers"] or got["problem"].startswith("no answer"):
        lines = [f"expected: {want['answers']}", f"got:      {got['answers']}"]
        if got["problem"]:
            lines.insert(0, got["problem"])
        if got["closed"] is not None and not got["problem"]:
            lines.insert(0, f"the server closed the connection (code {got['closed']})"
                            " instead of answering")
        if awaited:
            return [*lines, *awaited]
        if got["held"] > 0.1:
            lines.append(f"hint: the event loop was held for {got['held'] + TIMEOUT:.1f} s: code"
                         " that blocks (time.sleep, a busy loop) stops every connection -- await"
                         " asyncio.sleep(...) instead")
        elif any(isinstance(a, str) and a.startswith("welcome") for a in got["answers"]):
            lines.append("hint: no welcome line this time: only the answers")
        return lines
    if want["closed"] != got["closed"] or got["problem"]:
        if want["closed"] is None:
            return [f"the server closed the connection (code {got['closed']}) after"
                    f" {json.dumps(client.says[len(answers)] if len(answers) < len(client.says) else '', ensure_ascii=False)}",
                    "expected: the connection open, and an answer"]
        if awaited:
            return awaited
        if got["problem"]:
            return [f"after 'bye' the connection is {got['problem']}", "expected: closed, code 1000"]
        return [f"after 'bye' the server closed with code {got['closed']}", "expected: code 1000"]
    if client.leaves and want["closed"] is None:
        if isinstance(raised, ConnectionClosed):
            return ["when the client left, the handler raised " + raised_text(raised),
                    "expected: the handler returns"]
        if not handler.get("ended"):
            return [f"the handler was still running {TIMEOUT:g} s after the client left",
                    "expected: it returns when the client goes"]
    return []


run_route, check_route = _step(
    "route", "step 2: the route", _ROUTE_BEHAVIOURS, _route_explore,
    "Step 2: the route handler, served for real on 127.0.0.1.",
    "Print the step 2 checks: ``async def chat(websocket, room)`` on ``/chat/<room>``.",
)
