"""Steps 1 and 2: a browser-style client and a route handler, run for real on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
import socket
import threading
import time
from typing import Any, Callable

from .report import Fail, _step

__all__ = ["run_client", "check_client", "run_route", "check_route", "TIMEOUT"]

#: Seconds a route or client check waits for an answer (127.0.0.1 answers in milliseconds).
TIMEOUT = 1.0

# The checks' own servers log nothing: what went wrong is in the report.
_quiet = logging.getLogger("chatkit.checks")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False



class _LoopThread:
    """An event loop of our own in a thread: the checks' servers and clients run there."""

    def __enter__(self) -> _LoopThread:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="chatkit-checks",
                                       daemon=True)
        self.thread.start()
        return self

    def run(self, coroutine: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def __exit__(self, *exc_info: Any) -> None:
        async def finish() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        with contextlib.suppress(Exception):
            self.run(finish(), 5)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        if not self.thread.is_alive():
            self.loop.close()


async def _until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    return done()


def _client_checks(connect: Callable[[str, list], Any]) -> list[tuple[str, Callable[[], None]]]:
    from websockets.asyncio.server import serve

    async def numbers(websocket: Any) -> None:
        for number in (17, 42, 99):
            await websocket.send(str(number))
            await asyncio.sleep(0.02)
        await websocket.close(1000, "bye")

    def run_client(url_for: Callable[[int], str]) -> list[Any]:
        log: list[Any] = []

        async def scenario() -> None:
            async with serve(numbers, "127.0.0.1", 0, logger=_quiet) as server:
                port = server.sockets[0].getsockname()[1]
                ws = connect(url_for(port), log)
                if ws is None:
                    raise Fail("connect should return the WebSocket it made", "a WebSocket", None,
                               "end with: return ws")
                await _until(lambda: any(str(x).startswith("close") for x in log), 3 * TIMEOUT)

        with _LoopThread() as loop:
            loop.run(scenario(), 10)
        return log

    results: dict[str, list[Any]] = {}

    def good_log() -> list[Any]:
        if "good" not in results:
            results["good"] = run_client(lambda port: f"ws://127.0.0.1:{port}/random")
        return results["good"]

    expected = ["open", "message: 17", "message: 42", "message: 99", "close: 1000"]

    def opens() -> None:
        log = good_log()
        if not log or log[0] != "open":
            raise Fail("onopen should log 'open' first", expected[0], log[:1] or "nothing",
                       "ws.onopen = lambda event: log.append('open')")

    def messages() -> None:
        log = good_log()
        got = [x for x in log if str(x).startswith("message")]
        if got != expected[1:4]:
            raise Fail("onmessage should log each number the server sends", expected[1:4], got,
                       "log.append(f'message: {event.data}')")

    def closes() -> None:
        log = good_log()
        if log[-1:] != ["close: 1000"] or log.count("close: 1000") != 1:
            raise Fail("onclose should log the close code, once, last", "close: 1000", log,
                       "log.append(f'close: {event.code}')")

    def bad_address() -> None:
        with contextlib.closing(socket.socket()) as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]  # nothing listens there once it is closed
        log = run_client(lambda _: f"ws://127.0.0.1:{port}/random")
        if log != ["error", "close: 1006"]:
            raise Fail("connecting to an address where nothing listens",
                       ["error", "close: 1006"], log,
                       "ws.onerror = lambda event: log.append('error')")

    return [
        ("onopen fires first", opens),
        ("onmessage fires for each message: event.data", messages),
        ("onclose fires when the server closes: event.code", closes),
        ("a bad address: onerror fires, then onclose with code 1006", bad_address),
    ]


run_client, check_client = _step(
    "step 1: the four callbacks", _client_checks,
    "Step 1: the four callbacks, against a real server on 127.0.0.1.",
    "Print the step 1 checks: ``connect(url, log)`` logs open, messages, error, close.",
)


def _route_checks(handler: Callable[..., Any]) -> list[tuple[str, Callable[[], None]]]:
    from websockets.asyncio.client import connect
    from websockets.asyncio.router import route
    from websockets.exceptions import ConnectionClosed
    from werkzeug.routing import Map, Rule

    def session(script: Callable[[Callable[[str], Any]], Any]) -> Any:
        if not inspect.iscoroutinefunction(handler):
            raise Fail("the handler should be a coroutine function", "async def chat(websocket, room):",
                       repr(handler))
        raised: list[BaseException] = []  # what the handler raised, server side

        async def watched(websocket: Any, **params: Any) -> None:
            try:
                await handler(websocket, **params)
            except ConnectionClosed:
                raise  # the client went away: not the handler's fault
            except Exception as exc:
                raised.append(exc)
                raise

        async def scenario() -> Any:
            url_map = Map([Rule("/chat/<room>", endpoint=watched)])
            server = await route(url_map, "127.0.0.1", 0, logger=_quiet)
            port = server.sockets[0].getsockname()[1]
            try:
                return await script(lambda room: connect(f"ws://127.0.0.1:{port}/chat/{room}",
                                                         open_timeout=3 * TIMEOUT))
            finally:
                server.close()
                try:  # a handler still busy is cancelled when the loop thread ends
                    async with asyncio.timeout(TIMEOUT):
                        await server.wait_closed()
                except TimeoutError:
                    pass

        with _LoopThread() as loop:
            try:
                return loop.run(scenario(), 10)
            except (Fail, ConnectionClosed, TimeoutError):
                if raised:  # the client only saw code 1011: say what the handler raised
                    raise raised[0] from None
                raise

    async def exchange(websocket: Any, text: str) -> str:
        await websocket.send(text)
        return await answer(websocket, text)

    async def answer(websocket: Any, text: str) -> str:
        try:
            async with asyncio.timeout(TIMEOUT):
                return await websocket.recv()
        except TimeoutError:
            raise Fail(f"no answer to {text!r} within {TIMEOUT:g} s", None, None,
                       "async for message in websocket: await websocket.send(...)") from None
        except ConnectionClosed as exc:
            raise Fail(f"the server closed the connection instead of answering {text!r}",
                       None, f"close code {exc.rcvd.code if exc.rcvd else 1006}") from None

    def echo(room: str, text: str) -> Callable[[], None]:
        def test() -> None:
            async def script(open_: Callable[[str], Any]) -> None:
                async with open_(room) as websocket:
                    got = await exchange(websocket, text)
                    if got != f"{room}: {text}":
                        raise Fail(f"the answer to {text!r} in room {room}", f"{room}: {text}", got,
                                   "await websocket.send(f'{room}: {message}')")
            session(script)
        return test

    def in_order() -> None:
        async def script(open_: Callable[[str], Any]) -> None:
            async with open_("people") as websocket:
                got = [await exchange(websocket, text) for text in ("one", "two", "three")]
                wanted = ["people: one", "people: two", "people: three"]
                if got != wanted:
                    raise Fail("answers should come in order", wanted, got)
        session(script)

    def bye() -> None:
        async def script(open_: Callable[[str], Any]) -> None:
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

    def two_clients() -> None:
        async def script(open_: Callable[[str], Any]) -> None:
            async with open_("people") as ann, open_("kitchen") as bob:
                await ann.send("from ann")
                await bob.send("from bob")
                got = [await answer(ann, "from ann"), await answer(bob, "from bob")]
                if got != ["people: from ann", "kitchen: from bob"]:
                    raise Fail("each client should get its own answers",
                               ["people: from ann", "kitchen: from bob"], got,
                               "answer on the connection the message came from: websocket.send")
        session(script)

    return [
        ("a message comes back with the room name: hi -> people: hi", echo("people", "hi")),
        ("the room name comes from the URL: /chat/kitchen", echo("kitchen", "is the kettle on?")),
        ("answers come in order", in_order),
        ("bye: the server closes the connection (code 1000)", bye),
        ("two clients at once each get their own answers", two_clients),
    ]


run_route, check_route = _step(
    "step 2: the route", _route_checks,
    "Step 2: the route handler, served for real on 127.0.0.1.",
    "Print the step 2 checks: ``async def chat(websocket, room)`` on ``/chat/<room>``.",
)
