"""Measure the class server under the attacks of issues #10 and #20, and since (all traffic to 127.0.0.1, bounded).

    .venv/bin/python benchmarks/attack_figures.py                 # every scenario, this checkout
    .venv/bin/python benchmarks/attack_figures.py --only flood    # one: pings, flood, idle, origin,
                                                                  # names, demo, priv, history
    PYTHONPATH=/path/to/old/checkout .venv/bin/python benchmarks/attack_figures.py   # "before"

Each scenario starts ``python -m chatkit serve --port 0`` in a process of its own (so its
memory and its file limit are its own), attacks it, measures what an honest member sees,
and stops it. Attackers connect from 127.0.0.2 (another loopback address: "another
machine") unless said otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import signal
import socket
import sys
import threading
import time
from contextlib import contextmanager

from websockets.asyncio.client import connect

from chatkit.support.processes import start_child

ATTACKER = "127.0.0.2"


# -- the server under test --------------------------------------------------------------------


class Server:
    """``python -m chatkit serve --port 0`` in a process of its own, its output counted."""

    def __init__(self, nofile: tuple[int, int] | None = None, args: tuple[str, ...] = ()):
        def limit() -> None:
            if nofile is not None:
                resource.setrlimit(resource.RLIMIT_NOFILE, nofile)

        self.log_bytes = 0
        self.log_lines = 0
        self.tracebacks = 0
        self.sample: list[str] = []  # the first lines of its log
        self.drops: list[str] = []  # the lines that say why someone was dropped or left
        self.child = start_child(
            [sys.executable, "-m", "chatkit", "serve", "--port", "0", *args],
            ready_line=r"serving on \S+:(\d+)", preexec_fn=limit, on_line=self._count,
            cwd="/",  # not this checkout's folder: PYTHONPATH (or the install) says which chatkit
            max_lines=1000,  # counted, not kept: an attack can make a server log a lot
        )
        self.process = self.child.process
        self.port = int(self.child.ready_match[1])

    def _count(self, line: str) -> None:
        self.log_bytes += len(line.encode())
        self.log_lines += 1
        self.tracebacks += line.startswith("Traceback")
        if ("dropped" in line or "disconnected" in line) and len(self.drops) < 50:
            self.drops.append(line)
        if len(self.sample) < 40 or not line.startswith(self.sample[-1][:9]):
            self.sample.append(line)  # the first lines, and a line of each later second

    def rss_mib(self) -> float:
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.child.stop(timeout=10, sig=signal.SIGINT)


@contextmanager
def server(**kwargs):
    s = Server(**kwargs)
    try:
        yield s
    finally:
        s.stop()


def upgrade(port: int, path: str = "/chat/people") -> bytes:
    key = base64.b64encode(os.urandom(16)).decode()
    return (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n").encode()


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))]


# -- 1. memory under a ping flood ---------------------------------------------------------------


def ping_flood(seconds: float = 15.0) -> dict:
    """Clients that send pings and never read, one after another, for ``seconds``."""
    ping = b"\x89\xfd" + b"\0\0\0\0" + b"p" * 125
    batch = ping * 500
    with server() as s:
        time.sleep(0.5)
        before = s.rss_mib()
        peak, flooders, dropped, sent_total = before, 0, 0, 0
        started = time.monotonic()
        while time.monotonic() - started < seconds:
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.bind((ATTACKER, 0))
            sock.settimeout(2)
            sock.connect(("127.0.0.1", s.port))
            sock.sendall(upgrade(s.port))
            sock.recv(1024)  # the 101, and then never read again
            flooders += 1
            while time.monotonic() - started < seconds:
                try:
                    sock.sendall(batch)
                    sent_total += len(batch)
                except TimeoutError:
                    break
                except OSError:
                    dropped += 1
                    break
                peak = max(peak, s.rss_mib())
            sock.close()
        time.sleep(0.5)
        return {"rss_before_mib": round(before, 1), "rss_peak_mib": round(peak, 1),
                "growth_mib": round(peak - before, 1), "flooders": flooders,
                "dropped": dropped, "pings_sent_mib": round(sent_total / 2**20),
                "seconds": seconds, "log_bytes": s.log_bytes}


# -- 2. honest latency under a 10-connection flood -------------------------------------------------


async def flooder(port: int, index: int, stop: float, counts: dict, gap: float) -> None:
    """One of the issue's ten: 4,000 4-byte characters (48,000 bytes of escaped JSON) per
    chat, about 10 chats a second, uncompressed -- 104 chats/s from ten of them."""
    text = "😀" * 4000
    async with connect(f"ws://127.0.0.1:{port}/chat/people", local_addr=(ATTACKER, 0),
                       max_size=None, compression=None) as ws:
        await ws.send(json.dumps({"type": "join", "name": f"flood{index}"}))

        async def read() -> None:  # read everything, so that it is never dropped for stalling
            async for message in ws:
                counts["received_bytes"] += len(message)

        reader = asyncio.create_task(read())
        frame = json.dumps({"type": "chat", "text": text})  # \ud83d\ude00: 12 bytes each
        while time.monotonic() < stop:
            await ws.send(frame)
            counts["sent"] += 1
            await asyncio.sleep(gap)
        reader.cancel()


async def flood(port: int, seconds: float, gap: float) -> None:
    """The attacker's process: ten connections from one address, for ``seconds``."""
    counts = {"sent": 0, "received_bytes": 0}
    stop = time.monotonic() + seconds
    await asyncio.gather(*(flooder(port, i, stop, counts, gap) for i in range(10)),
                         return_exceptions=True)
    print(json.dumps(counts), flush=True)


async def honest_round(port: int, seconds: float, flood: bool, gap: float = 0.096) -> dict:
    """Three members; one says a numbered line every 100 ms; the others time its arrival.

    The flood runs in a process of its own, so that it costs the honest clients'
    event loop nothing.
    """
    sender = await connect(f"ws://127.0.0.1:{port}/chat/people", max_size=None)
    listeners = [await connect(f"ws://127.0.0.1:{port}/chat/people", max_size=None)
                 for _ in range(2)]
    for i, ws in enumerate([sender, *listeners]):
        await ws.send(json.dumps({"type": "join", "name": f"honest{i}"}))
    await asyncio.sleep(0.3)
    sent_at: dict[str, float] = {}
    latencies: list[float] = []
    got: list[set] = [set() for _ in listeners]
    received = [0 for _ in listeners]

    async def listen(k: int, ws) -> None:
        async for message in ws:
            received[k] += len(message)
            data = json.loads(message)
            if data.get("type") == "chat" and data["text"] in sent_at:
                latencies.append(time.monotonic() - sent_at[data["text"]])
                got[k].add(data["text"])

    tasks = [asyncio.create_task(listen(k, ws)) for k, ws in enumerate(listeners)]
    attacker = None
    if flood:
        attacker = await asyncio.create_subprocess_exec(
            sys.executable, __file__, "--flood", str(port), str(seconds), str(gap),
            stdout=asyncio.subprocess.PIPE)
        await asyncio.sleep(1)  # its ten connections are in and flooding
    stop = time.monotonic() + seconds - (1 if flood else 0)
    n = 0
    while time.monotonic() < stop:
        text = f"honest line {n}"
        sent_at[text] = time.monotonic()
        await sender.send(json.dumps({"type": "chat", "text": text}))
        n += 1
        await asyncio.sleep(0.1)  # 10 a second: within the per-connection limit of 15
    counts = {"sent": 0, "received_bytes": 0}
    if attacker is not None:
        out, _ = await attacker.communicate()
        counts = json.loads(out.decode().strip().splitlines()[-1])
    await asyncio.sleep(2)  # let the last lines arrive
    for task in tasks:
        task.cancel()
    lost = sum(n - len(g) for g in got)
    for ws in [sender, *listeners]:
        await ws.close()
    return {"honest_lines": n, "lost": lost, "p50_ms": round(pct(latencies, 0.5) * 1000, 1),
            "p99_ms": round(pct(latencies, 0.99) * 1000, 1),
            "mib_received_per_honest_member": round(max(received) / 2**20, 1),
            "flood_frames_sent": counts["sent"],
            "flood_mib_received_by_flooders": round(counts["received_bytes"] / 2**20, 1)}


def flood_latency(seconds: float = 10.0) -> dict:
    """The issue's flood (about 104 chats/s), then ten connections as fast as they can."""
    with server() as s:
        baseline = asyncio.run(honest_round(s.port, seconds, flood=False))
        under = asyncio.run(honest_round(s.port, seconds, flood=True))
        flat_out = asyncio.run(honest_round(s.port, seconds, flood=True, gap=0))
        return {"baseline": baseline, "under_flood_104_per_s": under,
                "under_flood_flat_out": flat_out, "log_bytes": s.log_bytes}


# -- 3. page and join latency with 1,100 idle sockets under ulimit -n 1024 ----------------------------


def page_time(port: int) -> tuple[str, float]:
    """(what the page request got: "200", "503", "timeout", ...; seconds)."""
    started = time.monotonic()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(f"GET /people HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
            head = sock.recv(64)
    except TimeoutError:
        return "timeout", time.monotonic() - started
    except OSError as exc:
        return type(exc).__name__, time.monotonic() - started
    return head[9:12].decode() or "closed", time.monotonic() - started


async def join_time(port: int, name: str) -> tuple[str, float]:
    """(what a join got: "joined", "close 1013", "timeout", ...; seconds)."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(5):
            async with connect(f"ws://127.0.0.1:{port}/chat/people") as ws:
                await ws.send(json.dumps({"type": "join", "name": name}))
                while True:
                    try:
                        message = json.loads(await ws.recv())
                    except Exception:
                        return f"close {ws.close_code}", time.monotonic() - started
                    if message.get("text", "").startswith(f"{name} joined"):
                        return "joined", time.monotonic() - started
    except TimeoutError:
        return "timeout", time.monotonic() - started
    except Exception as exc:
        return type(exc).__name__, time.monotonic() - started


def outcomes(samples: list[tuple[str, float]]) -> dict:
    """{"200": "24 x, p50 3.1 ms, max 50.2 ms", ...}"""
    by: dict[str, list[float]] = {}
    for what, seconds in samples:
        by.setdefault(what, []).append(seconds)
    return {what: f"{len(times)} x, p50 {pct(times, 0.5) * 1000:.1f} ms,"
                  f" max {max(times) * 1000:.1f} ms" for what, times in by.items()}


def idle_sockets(count: int = 1100, seconds: float = 12.0, source: str = ATTACKER,
                 nofile: tuple[int, int] = (1024, 1024)) -> dict:
    """``count`` upgraded sockets that never join, re-opened as the server closes them."""
    with server(nofile=nofile) as s:
        stop = time.monotonic() + seconds
        socks: list[socket.socket] = []
        opened = refused_fast = 0

        def attacker() -> None:
            nonlocal opened, refused_fast
            while time.monotonic() < stop:
                socks[:] = [x for x in socks if x.fileno() != -1]
                while len(socks) < count and time.monotonic() < stop:
                    sock = socket.socket()
                    sock.bind((source, 0))
                    sock.settimeout(0.5)
                    try:
                        sock.connect(("127.0.0.1", s.port))
                        sock.sendall(upgrade(s.port))
                        opened += 1
                    except OSError:
                        refused_fast += 1
                        sock.close()
                        continue
                    socks.append(sock)
                for sock in list(socks):  # drop the ones the server closed
                    sock.setblocking(False)
                    try:
                        if sock.recv(65536) == b"":
                            sock.close()
                    except BlockingIOError:
                        pass
                    except OSError:
                        sock.close()
                time.sleep(0.2)

        thread = threading.Thread(target=attacker, daemon=True)
        log_before = s.log_bytes
        thread.start()
        time.sleep(3)  # let it reach its count
        pages, joins = [], []
        n = 0
        while time.monotonic() < stop - 1:
            pages.append(page_time(s.port))
            joins.append(asyncio.run(join_time(s.port, f"honest{n}")))
            n += 1
            time.sleep(0.3)
        thread.join()
        for sock in socks:
            sock.close()
        return {"attacker_source": source, "nofile": nofile, "attacker_sockets_opened": opened,
                "page": outcomes(pages), "join": outcomes(joins),
                "log_bytes_during": s.log_bytes - log_before, "tracebacks": s.tracebacks}


# -- 4. what a cross-origin page sees ------------------------------------------------------------------


def cross_origin() -> dict:
    import http.server

    from playwright.sync_api import sync_playwright

    with server() as s:
        page_html = (
            "<script>window.result='pending';"
            f"const ws=new WebSocket('ws://127.0.0.1:{s.port}/chat/people');"
            "ws.onopen=()=>{window.result='open';ws.send(JSON.stringify({type:'join',name:'Mallory'}))};"
            "ws.onmessage=(e)=>{window.result='heard: '+e.data};"
            "ws.onclose=(e)=>{if(!window.result.startsWith('heard'))window.result='closed '+e.code};"
            "</script>")

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = page_html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=site.serve_forever, daemon=True).start()
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path="/usr/lib/chromium/chromium", headless=True,
                    args=["--no-sandbox", "--disable-gpu", "--disable-quic"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{site.server_address[1]}/cats")
                page.wait_for_function("window.result !== 'pending'", timeout=10_000)
                result = page.evaluate("window.result")
                browser.close()
        finally:
            site.shutdown()
        return {"cross_origin_page_sees": result}


# -- 5. member lists: renames to a room of listeners (issue #20) --------------------------------------


def masked(payload: bytes, first: int = 0x81) -> bytes:
    """A client frame (masked with a zero key, so the payload stays as it is)."""
    n = len(payload)
    head = bytes((first, 0x80 | n)) if n < 126 else bytes((first, 0x80 | 126)) + n.to_bytes(2, "big")
    return head + b"\0\0\0\0" + payload


def chat_frame(text: str) -> str:
    return json.dumps({"type": "chat", "text": text})


async def rename_round(port: int, listeners: int, renamers: int, seconds: float,
                       rate: float) -> dict:
    """``listeners`` members (one address each) that asked for member lists; ``renamers``
    others (one address each) say ``/name`` ``rate`` times a second for ``seconds``."""
    url = f"ws://127.0.0.1:{port}/chat/people"
    received = [0]
    lists = [0]
    told = [0]  # rename notes, all listeners together

    async def listen(ws) -> None:
        async for message in ws:
            received[0] += len(message)
            lists[0] += message.startswith('{"type":"members"')
            told[0] += "is now known as" in message

    members = []
    for i in range(listeners):  # 127.0.1.1 ...: a person each
        ws = await connect(url, local_addr=(f"127.0.{1 + i // 250}.{i % 250 + 1}", 0),
                           max_size=None)
        await ws.send(json.dumps({"type": "join", "name": f"listener{i:03d}", "want": ["members"]}))
        members.append(ws)
    tasks = [asyncio.create_task(listen(ws)) for ws in members]
    movers = []
    for k in range(renamers):
        ws = await connect(url, local_addr=(f"127.0.0.{2 + k}", 0), max_size=None)
        await ws.send(json.dumps({"type": "join", "name": f"mover{k}"}))
        movers.append(ws)
    await asyncio.sleep(3)  # the joins' notes and lists are out
    received[0] = lists[0] = told[0] = 0
    refused = [0]

    async def drain(ws) -> None:
        async for message in ws:
            refused[0] += '"type":"error"' in message

    drains = [asyncio.create_task(drain(ws)) for ws in movers]
    sent_bytes = 0
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < seconds:
        for k, ws in enumerate(movers):
            frame = chat_frame(f"/name mover{k}-{n}")
            await ws.send(frame)
            sent_bytes += len(frame)
        n += 1
        await asyncio.sleep(1 / rate)
    elapsed = time.monotonic() - started
    await asyncio.sleep(1)  # what was sent in the window arrives
    out = received[0]
    for task in tasks + drains:
        task.cancel()
    for ws in members + movers:
        ws.transport.abort()
    return {"listeners": listeners, "renamers": renamers, "seconds": round(elapsed, 1),
            "renames_sent": n * renamers, "renames_refused": refused[0],
            "renames_done": round(told[0] / listeners),
            "bytes_in": sent_bytes, "listeners_received_mib": round(out / 2**20, 1),
            "member_lists_received": lists[0],
            "out_per_byte_in": round(out / max(1, sent_bytes)),
            "out_per_byte_in_per_listener": round(out / max(1, sent_bytes) / listeners, 2)}


def names_amplification(listeners: int = 200, renamers: int = 3, seconds: float = 5.0,
                        rate: float = 14.0) -> dict:
    """The issue's attack: 3 members rename themselves 14 times a second (under the
    per-connection limit of 15) in a room of 200 listeners that asked for member lists."""
    with server() as s:
        return asyncio.run(rename_round(s.port, listeners, renamers, seconds, rate))


# -- 6. demo routes: /echo and /random outside the budget? ------------------------------------------


async def demo_round(port: int, seconds: float) -> dict:
    """One address: /echo flat out with 16 KiB frames; ten /random?every=0.01 beside it."""
    payload = "x" * 16384
    echoed = [0]
    numbers = [0]

    async def echo() -> int:
        async with connect(f"ws://127.0.0.1:{port}/echo", local_addr=("127.0.0.5", 0),
                           max_size=None) as ws:
            async def read() -> None:
                async for message in ws:
                    echoed[0] += len(message)

            reader = asyncio.create_task(read())
            sent = 0
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                await ws.send(payload)
                sent += len(payload)
                await asyncio.sleep(0)
            reader.cancel()
            return sent

    async def random_numbers() -> None:
        async with connect(f"ws://127.0.0.1:{port}/random?every=0.01",
                           local_addr=("127.0.0.6", 0)) as ws:
            stop = time.monotonic() + seconds
            while time.monotonic() < stop:
                try:
                    async with asyncio.timeout(max(0.01, stop - time.monotonic())):
                        await ws.recv()
                except TimeoutError:
                    break
                numbers[0] += 1

    results = await asyncio.gather(echo(), *(random_numbers() for _ in range(10)),
                                   return_exceptions=True)
    return {"seconds": seconds, "echo_sent_mib": round(results[0] / 2**20, 1)
            if isinstance(results[0], int) else repr(results[0]),
            "echoed_mib_per_s": round(echoed[0] / 2**20 / seconds, 2),
            "random_numbers_per_s_10_connections": round(numbers[0] / seconds)}


def demo_routes(seconds: float = 5.0) -> dict:
    with server() as s:
        return asyncio.run(demo_round(s.port, seconds))


# -- 7. twelve classmates /priv one reader on a 256 KiB/s link ----------------------------------------


def slow_reader(port: int, name: str, rate: int, stop: float, result: dict) -> None:
    """A member on a slow link: reads at most ``rate`` bytes a second, until ``stop``."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
    sock.bind(("127.0.0.100", 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    sock.sendall(upgrade(port))
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)
    sock.sendall(masked(json.dumps({"type": "join", "name": name}).encode()))
    started = time.monotonic()
    total = 0
    result["dropped_after_s"] = None
    while time.monotonic() < stop:
        try:
            data = sock.recv(16384)
        except (ConnectionResetError, TimeoutError) as exc:
            data = b"" if isinstance(exc, ConnectionResetError) else None
        if data == b"":
            result["dropped_after_s"] = round(time.monotonic() - started, 1)
            break
        total += len(data or b"")
        ahead = total / rate - (time.monotonic() - started)
        if ahead > 0:
            time.sleep(ahead)
    result["reader_read_kib"] = round(total / 1024)
    sock.close()


async def priv_round(port: int, senders: int, seconds: float, rate: int) -> dict:
    stop = time.monotonic() + seconds
    reader: dict = {}
    thread = threading.Thread(target=slow_reader, args=(port, "reader", rate, stop, reader))
    thread.start()
    await asyncio.sleep(1)
    url = f"ws://127.0.0.1:{port}/chat/people"
    frame = chat_frame("/priv reader " + "x" * 3980)  # ~4 KB: 15 a second is 60 KB/s, in budget
    answers = {"sent": 0, "delivered": 0, "refused": 0}

    async def sender(k: int) -> None:
        async with connect(url, local_addr=(f"127.0.0.{101 + k}", 0), max_size=None) as ws:
            await ws.send(json.dumps({"type": "join", "name": f"mate{k}"}))

            async def read() -> None:
                async for message in ws:
                    if '"private":true' in message:
                        answers["delivered"] += 1
                    elif '"type":"error"' in message:
                        answers["refused"] += 1
                        answers.setdefault("first_error", json.loads(message)["text"])

            task = asyncio.create_task(read())
            while time.monotonic() < stop and thread.is_alive():
                await ws.send(frame)
                answers["sent"] += 1
                await asyncio.sleep(1 / 14)
            task.cancel()

    await asyncio.gather(*(sender(k) for k in range(senders)), return_exceptions=True)
    await asyncio.to_thread(thread.join)
    return {"senders": senders, "reader_link_kib_per_s": rate // 1024, "seconds": seconds,
            **reader, **answers}


def priv_flood(senders: int = 12, seconds: float = 30.0, rate: int = 256 * 1024) -> dict:
    with server() as s:
        figures = asyncio.run(priv_round(s.port, senders, seconds, rate))
        time.sleep(0.5)
        figures["log"] = [line for line in s.drops if "reader" in line or "dropped" in line][:3]
        return figures


async def history_round(port: int, loops: int, seconds: float) -> dict:
    """A room with a long history; ``loops`` connections from one address join asking for
    all of it, leave, and join again; a classmate (127.0.0.3) chats meanwhile."""
    async with connect(f"ws://127.0.0.1:{port}/chat/people", local_addr=("127.0.0.3", 0)) as colt:
        await colt.send(json.dumps({"type": "join", "name": "Colt"}))
        for n in range(120):  # the room's history: 120 chats of 160 characters
            await colt.send(json.dumps({"type": "chat", "text": f"{n} " + "words " * 26}))
            await asyncio.sleep(0.07)  # within the default rate limit (15 a second)
        stop = time.monotonic() + seconds
        counts = {"joins": 0, "bytes_in": 0, "bytes_out": 0, "cut": 0, "full": 0}

        async def again(index: int) -> None:
            for attempt in range(10_000):  # bounded: by count and by the clock
                if time.monotonic() > stop:
                    return
                join = json.dumps({"type": "join", "name": f"m{index}x{attempt}", "history": 200})
                try:
                    async with asyncio.timeout(5):
                        async with connect(f"ws://127.0.0.1:{port}/chat/people", max_size=None,
                                           local_addr=(ATTACKER, 0)) as ws:
                            await ws.send(join)
                            counts["bytes_out"] += len(join)
                            while True:
                                frame = await ws.recv()
                                counts["bytes_in"] += len(frame.encode())
                                message = json.loads(frame)
                                if message["type"] == "history":
                                    counts["joins"] += 1
                                    counts["full" if message["messages"] else "cut"] += 1
                                    break
                except Exception:
                    await asyncio.sleep(0.1)  # refused or cut: try again

        started = time.monotonic()
        await asyncio.gather(*(again(i) for i in range(loops)))
        elapsed = time.monotonic() - started
    return {**counts, "seconds": round(elapsed, 1),
            "kib_per_s_to_one_address": round(counts["bytes_in"] / 1024 / elapsed, 1),
            "bytes_in_per_byte_out": round(counts["bytes_in"] / max(1, counts["bytes_out"]), 1)}


def history_amplification(loops: int = 8, seconds: float = 12.0) -> dict:
    with server() as s:
        return asyncio.run(history_round(s.port, loops, seconds))


SCENARIOS = {"pings": ping_flood, "flood": flood_latency, "idle": None, "origin": cross_origin,
             "names": names_amplification, "demo": demo_routes, "priv": priv_flood,
             "history": history_amplification}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=list(SCENARIOS), action="append")
    parser.add_argument("--flood", nargs=3, metavar=("PORT", "SECONDS", "GAP"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.flood:
        asyncio.run(flood(int(args.flood[0]), float(args.flood[1]), float(args.flood[2])))
        return
    import chatkit

    print(f"# chatkit from {os.path.dirname(chatkit.__file__)}", flush=True)
    for name in args.only or list(SCENARIOS):
        if name == "idle":
            for source, nofile in ((ATTACKER, (1024, 1024)), ("127.0.0.1", (1024, 1024)),
                                   (ATTACKER, (1024, 4096))):
                print(json.dumps({"idle_1100": idle_sockets(source=source, nofile=nofile)}),
                      flush=True)
        else:
            print(json.dumps({name: SCENARIOS[name]()}), flush=True)


if __name__ == "__main__":
    main()
