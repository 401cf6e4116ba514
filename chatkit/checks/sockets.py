"""Steps 1 and 2: a browser-style client and a route handler, run for real on 127.0.0.1."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import gc
import inspect
import linecache
import logging
import socket
import threading
import time
import warnings
from typing import Any, Callable

from . import report
from .report import Fail, TookTooLong, _raise_in, _raised, _step

__all__ = ["run_client", "check_client", "run_route", "check_route", "TIMEOUT"]

#: Seconds a route or client check waits for an answer (127.0.0.1 answers in milliseconds).
TIMEOUT = 1.0

# The checks' own servers log nothing: what went wrong is in the report.
_quiet = logging.getLogger("chatkit.checks")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False



class _LoopThread:
    """An event loop of our own in a thread: the checks' servers and clients run there.

    A student's code that never gives the loop back (a loop that never awaits) is
    stopped when the behaviour's time runs out: the exception is raised into it.
    """

    def __enter__(self) -> _LoopThread:
        self.loop = asyncio.new_event_loop()
        # What goes wrong on this loop is the report's to say, not a log's on stderr.
        self.loop.set_exception_handler(lambda loop, context: None)
        self.thread = threading.Thread(target=self._serve, name="chatkit-checks", daemon=True)
        self.thread.start()
        return self

    def _serve(self) -> None:
        try:
            self.loop.run_forever()
        except BaseException:  # TookTooLong raised into the loop itself: the thread ends
            pass

    def run(self, coroutine: Any, timeout: float | None = None) -> Any:
        timeout = report.LIMIT + 1 if timeout is None else timeout
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TookTooLong(timeout) from None

    def _responsive(self, timeout: float) -> bool:
        if not self.thread.is_alive() or self.loop.is_closed():
            return False
        future = asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self.loop)
        try:
            future.result(timeout)
            return True
        except (concurrent.futures.TimeoutError, concurrent.futures.CancelledError):
            return False

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        stuck = ""
        if exc_type is TookTooLong and not self._responsive(0.1):
            stuck = report._stuck_where(self.thread.ident)
        self._close()
        if stuck:
            raise TookTooLong(report.LIMIT, stuck) from None

    def _close(self) -> None:
        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.wait(tasks, timeout=1) if tasks else None

        for _ in range(3):  # stuck in a student's loop that never awaits: raise into it
            if not self.thread.is_alive() or self._responsive(0.2):
                break
            _raise_in(self.thread.ident, TookTooLong)
        if self.thread.is_alive() and self._responsive(0.2):
            with contextlib.suppress(BaseException):
                self.run(finish(), 3)
            self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(2)
        if not self.thread.is_alive():
            self.loop.close()


async def _until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return done()


CALLBACKS = ("onopen", "onmessage", "onerror", "onclose")
NOT_A_CALLBACK = ("a callback is a function, called later with the event: ws.onopen ="
                  " lambda event: log.append('open') -- ws.onopen = log.append('open') appends"
                  " now and sets onopen to None (what append returns)")


def _client_checks(connect: Callable[[str, list], Any]) -> list[tuple[str, str, Callable[[], None]]]:
    from websockets.asyncio.server import serve

    async def numbers(websocket: Any) -> None:
        for number in (17, 42, 99):
            await websocket.send(str(number))
            await asyncio.sleep(0.02)
        await websocket.close(1000, "bye")

    def run_client(url_for: Callable[[int], str]) -> tuple[list[Any], dict[str, BaseException]]:
        """Run ``connect`` against the numbers server: what it logged, what its callbacks raised."""
        log: list[Any] = []
        raised: dict[str, BaseException] = {}  # callback name -> its first exception

        def guarded(name: str, callback: Callable[[Any], Any]) -> Callable[[Any], Any]:
            def call(event: Any) -> Any:
                try:
                    return callback(event)
                except Exception as exc:  # reported once, in the report; no traceback
                    raised.setdefault(name, exc)
            return call

        async def scenario() -> None:
            async with serve(numbers, "127.0.0.1", 0, logger=_quiet) as server:
                port = server.sockets[0].getsockname()[1]
                ws = connect(url_for(port), log)
                if ws is None:
                    raise Fail("connect should return the WebSocket it made", "a WebSocket", None,
                               "end with: return ws")
                if log:
                    raise Fail("something was logged before the connection could open",
                               "nothing yet: the callbacks run later, on the event loop",
                               repr(log), NOT_A_CALLBACK)
                for name in CALLBACKS:
                    callback = getattr(ws, name, None)
                    if not callable(callback):
                        raise Fail(f"ws.{name} should be a function", f"ws.{name} = lambda event: ...",
                                   f"ws.{name} = {callback!r}", NOT_A_CALLBACK)
                    setattr(ws, name, guarded(name, callback))
                await _until(lambda: ws.ready_state == 3, 3 * TIMEOUT)

        with _LoopThread() as loop:
            loop.run(scenario())
        return log, raised

    results: dict[str, tuple[list[Any], dict[str, BaseException]]] = {}

    def good_log(name: str) -> list[Any]:
        if "good" not in results:
            try:
                results["good"] = run_client(lambda port: f"ws://127.0.0.1:{port}/random")
            except BaseException as exc:  # the same for every callback: said once
                results["good"] = exc  # type: ignore[assignment]
        if isinstance(results["good"], BaseException):
            raise results["good"]
        log, raised = results["good"]
        if name in raised:
            raise callback_raised(name, raised[name])
        return log

    def callback_raised(name: str, exc: BaseException) -> Fail:
        return Fail(f"your {name} callback raised an exception", None, _raised(exc),
                    f"{name} runs for every such event: fix that line")

    expected = ["open", "message: 17", "message: 42", "message: 99", "close: 1000"]

    def opens() -> None:
        log = good_log("onopen")
        if not log or log[0] != "open":
            raise Fail("onopen should log 'open' first", expected[0], repr(log[:1]) if log else "nothing",
                       "ws.onopen = lambda event: log.append('open')")

    def messages() -> None:
        log = good_log("onmessage")
        got = [x for x in log if str(x).startswith("message")]
        if got != expected[1:4]:
            hint = "log.append(f'message: {event.data}')"
            if got and "Event" in str(got[0]):
                hint = "event is the whole event; the message is event.data: " + hint
            raise Fail("onmessage should log each number the server sends", expected[1:4], got, hint)

    def closes() -> None:
        log = good_log("onclose")
        if log[-1:] != ["close: 1000"] or log.count("close: 1000") != 1:
            raise Fail("onclose should log the close code, once, last", "close: 1000", log,
                       "log.append(f'close: {event.code}')  (the code; event.reason is the words)")

    def bad_address() -> None:
        with contextlib.closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # nothing listens there once it is closed
        log, raised = run_client(lambda _: f"ws://127.0.0.1:{port}/random")
        for name in ("onerror", "onclose"):
            if name in raised:
                raise callback_raised(name, raised[name])
        want = ["error", "close: 1006"]
        if log != want:
            if "error" not in log:
                hint = "ws.onerror = lambda event: log.append('error')"
            elif log.count("error") > 1 or log.count("close: 1006") > 1:
                hint = "each callback logs its own line, once: onerror 'error', onclose the code"
            else:
                hint = "ws.onclose = lambda event: log.append(f'close: {event.code}')"
            raise Fail("connecting to an address where nothing listens", want, log, hint)

    return [
        ("onopen fires first (and nothing is logged before the connection opens)", "callbacks",
         opens),
        ("onmessage fires for each message: event.data", "callbacks", messages),
        ("onclose fires when the server closes: event.code", "callbacks", closes),
        ("a bad address: onerror fires, then onclose with code 1006", "onerror", bad_address),
    ]


run_client, check_client = _step(
    "step 1: the four callbacks", _client_checks,
    "Step 1: the four callbacks, against a real server on 127.0.0.1.",
    "Print the step 1 checks: ``connect(url, log)`` logs open, messages, error, close.",
)


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

    def fail(self) -> None:
        if self.first is None:
            return
        found = self.first
        line = linecache.getline(found.filename, found.lineno).strip()
        call = str(found.message).split("'")[1] if "'" in str(found.message) else "a coroutine"
        method = call.rsplit(".", 1)[-1]
        raise Fail(f"{call} was called without await, so it never ran",
                   f"await websocket.{method}(...)",
                   f"{report._cell_name(found.filename)}, line {found.lineno}: {line}"
                   if line else str(found.message),
                   "a coroutine runs only when awaited: put await in front of the call")


@contextlib.contextmanager
def _why_stuck(not_awaited: _NotAwaited) -> Any:
    """A route that took too long after a call without await: that call is the clue."""
    try:
        yield
    except TookTooLong as exc:
        found = not_awaited.first
        if found is None:
            raise
        line = linecache.getline(found.filename, found.lineno).strip()
        where = exc.args[1] if len(exc.args) > 1 else ""
        raise TookTooLong(exc.args[0] if exc.args else report.LIMIT, where,
                          f"{found.message} -- {report._cell_name(found.filename)}, line"
                          f" {found.lineno}: {line} -- put await in front of it (a call without"
                          " await only makes a coroutine)") from None


def _route_checks(handler: Callable[..., Any]) -> list[tuple[str, str, Callable[[], None]]]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.router import route
    from websockets.exceptions import ConnectionClosed
    from werkzeug.routing import Map, Rule

    def session(script: Callable[[Callable[[str], Any], dict], Any]) -> Any:
        if not _is_async_handler(handler):
            raise Fail("the handler should be a coroutine function", "async def chat(websocket, room):",
                       repr(handler), "async def, so the server can run many connections at once")
        handlers: dict[str, Any] = {"raised": [], "ended": 0}  # what the handlers did, server side

        async def watched(websocket: Any, **params: Any) -> None:
            try:
                await handler(websocket, **params)
            except asyncio.CancelledError:
                raise
            except TookTooLong as exc:  # raised into it by the time limit: reported already
                handlers["raised"].append(exc)
            except BaseException as exc:
                handlers["raised"].append(exc)
                raise
            finally:
                handlers["ended"] += 1

        async def scenario() -> Any:
            url_map = Map([Rule("/chat/<room>", endpoint=watched)])
            server = await route(url_map, "127.0.0.1", 0, logger=_quiet)
            port = server.sockets[0].getsockname()[1]
            try:
                return await script(lambda room: connect(f"ws://127.0.0.1:{port}/chat/{room}",
                                                         open_timeout=3 * TIMEOUT,
                                                         close_timeout=TIMEOUT), handlers)
            finally:
                server.close()
                try:  # a handler still busy is cancelled when the loop thread ends
                    async with asyncio.timeout(TIMEOUT):
                        await server.wait_closed()
                except TimeoutError:
                    pass

        with _NotAwaited() as not_awaited, _why_stuck(not_awaited):
            try:
                with _LoopThread() as loop:
                    try:
                        result = loop.run(scenario())
                    except (Fail, ConnectionClosed, TimeoutError, OSError):
                        mine = [e for e in handlers["raised"]
                                if not isinstance(e, ConnectionClosed)]
                        if mine:  # the client only saw code 1011: say what the handler raised
                            raise mine[0] from None
                        not_awaited.fail()
                        raise
            except TookTooLong:
                # A stopped handler's frames (and the coroutines in them) are freed now,
                # while warnings are still ours, not in some later cell.
                handlers["raised"].clear()
                gc.collect()
                raise
        not_awaited.fail()
        return result

    async def exchange(websocket: Any, text: str) -> str:
        try:
            await websocket.send(text)
        except ConnectionClosed as exc:
            raise Fail(f"the server closed the connection before {text!r} could be sent",
                       "the connection open", f"closed, code {_code(exc)}") from None
        return await answer(websocket, text)

    def _code(exc: Any) -> Any:
        return exc.rcvd.code if getattr(exc, "rcvd", None) else 1006

    async def answer(websocket: Any, text: str) -> str:
        start = time.monotonic()
        try:
            async with asyncio.timeout(TIMEOUT):
                got = await websocket.recv()
        except TimeoutError:
            waited = time.monotonic() - start
            hint = "async for message in websocket: await websocket.send(...)"
            if waited > TIMEOUT + 0.1:  # the loop itself was held: blocking code ran on it
                hint = (f"the event loop was held for {waited:.1f} s: code that blocks (time.sleep,"
                        " a busy loop) stops every connection -- await asyncio.sleep(...) instead")
            raise Fail(f"no answer to {text!r} within {TIMEOUT:g} s", None, None, hint) from None
        except ConnectionClosed as exc:
            raise Fail(f"the server closed the connection instead of answering {text!r}",
                       None, f"close code {_code(exc)}") from None
        if isinstance(got, str) and "<coroutine object" in got:
            raise Fail(f"the answer to {text!r} holds a coroutine, not the message", None, got,
                       "message = await websocket.recv() -- without await you get the"
                       " coroutine, not the message")
        return got

    def echo(room: str, text: str) -> Callable[[], None]:
        def test() -> None:
            async def script(open_: Callable[[str], Any], _: dict) -> None:
                async with open_(room) as websocket:
                    got = await exchange(websocket, text)
                    if got != f"{room}: {text}":
                        hint = "await websocket.send(f'{room}: {message}')"
                        if got.startswith("welcome"):
                            hint = "no welcome line this time: only the answers"
                        raise Fail(f"the answer to {text!r} in room {room}", f"{room}: {text}", got,
                                   hint)
            session(script)
        return test

    def in_order() -> None:
        async def script(open_: Callable[[str], Any], _: dict) -> None:
            async with open_("people") as websocket:
                got = [await exchange(websocket, text) for text in ("one", "two", "three")]
                wanted = ["people: one", "people: two", "people: three"]
                if got != wanted:
                    raise Fail("answers should come in order", wanted, got)
        session(script)

    def bye() -> None:
        async def script(open_: Callable[[str], Any], _: dict) -> None:
            async with open_("people") as websocket:
                await websocket.send("bye")
                try:
                    async with asyncio.timeout(TIMEOUT):
                        async for _ in websocket:
                            pass
                except TimeoutError:
                    raise Fail("after 'bye' the connection is still open", "closed, code 1000",
                               f"still open after {TIMEOUT:g} s", "await websocket.close()") from None
                if websocket.close_code != 1000:
                    raise Fail("after 'bye' the server should close normally", 1000,
                               websocket.close_code, "await websocket.close() (1000 is the default)")
        session(script)

    def not_bye() -> None:
        async def script(open_: Callable[[str], Any], _: dict) -> None:
            async with open_("people") as websocket:
                for text in ("goodbye all", "bye bye"):
                    got = await exchange(websocket, text)
                    if got != f"people: {text}":
                        raise Fail(f"{text!r} is a message like any other", f"people: {text}", got)
        try:
            session(script)
        except Fail as fail:
            if "closed" in fail.what:
                fail.hint = 'close on the message "bye" exactly: if message == "bye"'
                fail.what = "a message that only contains bye closed the connection"
            raise

    def two_clients() -> None:
        async def script(open_: Callable[[str], Any], _: dict) -> None:
            async with open_("people") as ann, open_("kitchen") as bob:
                await ann.send("from ann")
                await bob.send("from bob")
                got = [await answer(ann, "from ann"), await answer(bob, "from bob")]
                if got != ["people: from ann", "kitchen: from bob"]:
                    raise Fail("each client should get its own answers",
                               ["people: from ann", "kitchen: from bob"], got,
                               "answer on the connection the message came from: websocket.send")
        session(script)

    def disconnect() -> None:
        async def script(open_: Callable[[str], Any], handlers: dict) -> None:
            async with open_("people") as websocket:
                await exchange(websocket, "hi")
            await _until(lambda: handlers["ended"] >= 1, TIMEOUT)
            closed = [e for e in handlers["raised"] if isinstance(e, ConnectionClosed)]
            if closed:
                raise Fail("when the client leaves, the handler should end quietly",
                           "the handler returns", f"it raised {_raised(closed[0])}",
                           "websockets logs an ERROR for every normal disconnect: loop with"
                           " `async for message in websocket:` (it ends when the client goes),"
                           " or catch ConnectionClosed around websocket.recv()")
        session(script)

    return [
        ("a message comes back with the room name: hi -> people: hi", "route", echo("people", "hi")),
        ("the room name comes from the URL: /chat/kitchen", "route",
         echo("kitchen", "is the kettle on?")),
        ("answers come in order", "route", in_order),
        ("two clients at once each get their own answers", "route", two_clients),
        ("bye: the server closes the connection (code 1000)", "bye", bye),
        ("goodbye all, bye bye: only the message bye closes", "bye", not_bye),
        ("when the client leaves, the handler ends without an error", "disconnect", disconnect),
    ]


run_route, check_route = _step(
    "step 2: the route", _route_checks,
    "Step 2: the route handler, served for real on 127.0.0.1.",
    "Print the step 2 checks: ``async def chat(websocket, room)`` on ``/chat/<room>``.",
)
