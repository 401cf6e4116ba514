"""The benchmark's clients catch a server that gets the room wrong.

A small chat server on 127.0.0.1 (raw WebSocket frames over asyncio streams, so that it
can send what no library would: a text frame that is not UTF-8) does the room's job for
three members but spoils one chat for member ``m1``: it swaps two, corrupts one, or
never sends one. The clients run as the benchmark runs them, in a process of their own
(``python -m chatkit.bench.clients``), and must say what went wrong; the senders'
window must still hold (a chat lost to one member stops the sender).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import os
import sys

import pytest
from websockets.utils import apply_mask

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
SIZE = 3  # members m0 (the sender), m1 (the one the server wrongs), m2


def frame(payload: bytes) -> bytes:
    """A server's text frame (unmasked) carrying ``payload`` as it is, valid or not."""
    assert len(payload) < 65536
    if len(payload) < 126:
        return bytes((0x81, len(payload))) + payload
    return bytes((0x81, 126)) + len(payload).to_bytes(2, "big") + payload


async def read_message(reader: asyncio.StreamReader) -> bytes | None:
    """One masked client frame's payload; None at a close frame."""
    first, second = await reader.readexactly(2)
    length = second & 0x7F
    if length == 126:
        length = int.from_bytes(await reader.readexactly(2), "big")
    elif length == 127:
        length = int.from_bytes(await reader.readexactly(8), "big")
    mask = await reader.readexactly(4)
    data = await reader.readexactly(length)
    if first & 0x0F == 0x8:
        return None
    return apply_mask(data, mask)


class FaultyRoom:
    """Room ``bench`` as the servers under test run it, but wrong for ``m1`` as ``fault`` says:

    - ``"swap"``: chat ``chat`` reaches m1 after the one that follows it;
    - ``"utf8"``: chat ``chat`` reaches m1 as a text frame with a byte that is not UTF-8;
    - ``"lose"``: chat ``chat`` never reaches m1;
    - ``"none"``: nothing wrong.

    Each chat goes out with its number and send time only, any padding left out.
    """

    def __init__(self, fault: str, chat: int) -> None:
        self.fault, self.chat = fault, chat
        self.members: dict[str, asyncio.StreamWriter] = {}
        self.held: bytes | None = None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            key = next(line.split(":", 1)[1].strip() for line in head.split("\r\n")
                       if line.lower().startswith("sec-websocket-key:"))
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            writer.write(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                          f"Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n\r\n").encode())
            name = None
            for _ in range(100_000):  # a member sends a join, then its chats
                payload = await read_message(reader)
                if payload is None:
                    break
                message = json.loads(payload)
                if message["type"] == "join":
                    name = message["name"]
                    self.members[name] = writer
                    self.send_all(b'{"type":"note","text":"%s joined bench."}' % name.encode())
                else:
                    self.chat_from(name, message["text"])
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def send_all(self, payload: bytes) -> None:
        for writer in self.members.values():
            writer.write(frame(payload))

    def chat_from(self, name: str, text: str) -> None:
        seq, sent = text.split()[:2]
        payload = json.dumps({"type": "chat", "name": name, "text": f"{seq} {sent}"},
                             separators=(",", ":")).encode()
        seq = int(seq)
        for member, writer in self.members.items():
            if member != "m1":
                writer.write(frame(payload))
            elif seq != self.chat:
                writer.write(frame(payload))
                if self.held is not None:  # the chat held back comes after this one
                    writer.write(frame(self.held))
                    self.held = None
            elif self.fault == "swap":
                self.held = payload
            elif self.fault == "utf8":
                writer.write(frame(payload[:-2] + b" \xff\xfe" + payload[-2:]))
            # "lose": nothing for m1


async def run_against(room: FaultyRoom, messages: int, window: int, timeout: float,
                      pad: int = 0) -> dict:
    """Run the benchmark's clients against ``room``; return their one measured phase."""
    server = await asyncio.start_server(room.serve, "127.0.0.1", 0, limit=2**25)
    port = server.sockets[0].getsockname()[1]
    config = {"size": SIZE, "messages": messages, "window": window, "rounds": 1, "pad": pad,
              "timeout": timeout, "targets": [{"kind": "faulty", "port": port, "pid": os.getpid()}]}
    clients = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chatkit.bench.clients", json.dumps(config),
        stdout=asyncio.subprocess.PIPE)
    try:
        out, _ = await asyncio.wait_for(clients.communicate(), timeout * 5 + 30)
    finally:
        if clients.returncode is None:
            clients.kill()
            await clients.wait()
        server.close()
        await server.wait_closed()
    lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    result = next(line["result"] for line in lines if "result" in line)
    [phase] = result["phases"]
    return phase


@pytest.mark.timeout(60)
def test_a_chat_that_overtakes_the_one_before_it_is_reported_in_order_of_arrival():
    phase = asyncio.run(run_against(FaultyRoom("swap", chat=2), messages=6, window=2, timeout=10))
    assert "chat 3 arrived when 2 was due" in phase["errors"]
    assert phase["received"] == phase["expected"] == SIZE * 6  # every chat came, once
    assert phase["lost"] == 0


@pytest.mark.timeout(60)
def test_a_text_frame_that_is_not_utf8_is_an_error_and_its_chat_is_not_received():
    phase = asyncio.run(run_against(FaultyRoom("utf8", chat=3), messages=6, window=2, timeout=10))
    assert "a text frame that is not UTF-8" in phase["errors"]
    assert phase["received"] == SIZE * 6 - 1
    assert phase["lost"] == 1


@pytest.mark.timeout(60)
def test_a_chat_lost_to_one_member_is_lost_and_holds_its_sender_at_the_window():
    # window 1: chat 2 never reaches everyone, so chats 3 to 5 are never sent
    phase = asyncio.run(run_against(FaultyRoom("lose", chat=2), messages=6, window=1, timeout=2))
    assert phase["errors"] == []
    assert phase["received"] == SIZE * 2 + (SIZE - 1)  # chats 0 and 1 to all, chat 2 to two
    assert phase["lost"] == SIZE * 6 - phase["received"]
    assert phase["seconds"] >= 2  # the clients waited for it until their deadline
    assert phase["latency_ms"]["max"] < 2000


@pytest.mark.timeout(60)
def test_the_last_chat_lost_to_one_member_is_the_only_loss():
    phase = asyncio.run(run_against(FaultyRoom("lose", chat=5), messages=6, window=2, timeout=2))
    assert phase["errors"] == []
    assert phase["lost"] == 1


@pytest.mark.timeout(60)
def test_a_chat_larger_than_the_socket_buffer_is_sent_whole_while_the_clients_read():
    # 8 MB chats: more than the kernel takes at once (tcp_wmem's 4 MB at most), so the
    # sender's rest waits for room while the members are read; the server reads them whole
    phase = asyncio.run(run_against(FaultyRoom("none", chat=-1), messages=4, window=2,
                                    timeout=20, pad=8_000_000))
    assert phase["errors"] == []
    assert phase["received"] == phase["expected"] == SIZE * 4
