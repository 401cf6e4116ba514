"""What the server writes: the original's wire text, compression, frames batched per loop turn.

Every browser, Node's ``ws`` and websockets' own client offer permessage-deflate. chatkit's
server leaves it off by default (as Node's ``ws`` does); ``compression="shared"`` compresses
a broadcast once for every member; ``compression="deflate"`` is websockets' own, per member.
The wire text is the original's ``JSON.stringify`` text either way.
"""

from __future__ import annotations

import asyncio
import json
import socket

import pytest
from websockets.asyncio.client import connect

import chatkit
from chatkit.bench.clients import Deflate, client_frame, handshake_request
from chatkit.core.messages import MAX_MESSAGE_BYTES, chat, encode, note
from chatkit.server.sending import READ_BYTES
from tests.helpers.waiting import DEADLINE, on_loop

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(params=[None, "shared", "deflate"])
def server(request):
    """A live server (its own thread) with each compression policy."""
    live = chatkit.start(port=0, show=False, compression=request.param)
    yield live
    live.stop()


class RawMember:
    """A blocking socket that does what a browser does on the wire, frame by frame."""

    def __init__(self, port: int, name: str, rcvbuf: int | None = None) -> None:
        self.sock = socket.socket()
        if rcvbuf is not None:  # before connecting: the window it offers stays small
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(DEADLINE)
        self.sock.connect(("127.0.0.1", port))
        self.sock.sendall(handshake_request(port, "/chat/people", "browser"))
        response = b""
        while b"\r\n\r\n" not in response:
            chunk = self.sock.recv(1)  # byte by byte: take nothing beyond the handshake
            assert chunk, "the server closed the handshake"
            response += chunk
        assert response.startswith(b"HTTP/1.1 101"), response
        self.extensions = ""
        for line in response.decode().split("\r\n"):
            if line.lower().startswith("sec-websocket-extensions:"):
                self.extensions = line.split(":", 1)[1].strip()
        self.deflate = Deflate(self.extensions) if self.extensions else None
        self.send({"type": "join", "name": name})

    def send(self, message: dict) -> None:
        payload = json.dumps(message).encode()
        if self.deflate is not None:  # a browser compresses what it sends, once agreed
            self.sock.sendall(client_frame(self.deflate.deflate(payload), rsv1=True))
        else:
            self.sock.sendall(client_frame(payload))

    def _exactly(self, count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = self.sock.recv(count - len(data))
            assert chunk, "the server closed the connection"
            data += chunk
        return data

    def frame(self) -> tuple[bytes, str]:
        """The next frame's raw bytes (header included) and its text, inflated if need be."""
        header = self._exactly(2)
        length = header[1] & 0x7F
        extra = b""
        if length == 126:
            extra = self._exactly(2)
            length = int.from_bytes(extra, "big")
        elif length == 127:
            extra = self._exactly(8)
            length = int.from_bytes(extra, "big")
        payload = self._exactly(length)
        if header[0] & 0x40:
            assert self.deflate is not None, "a compressed frame that nobody agreed to"
            return header + extra + payload, self.deflate.inflate(payload).decode()
        if header[0] & 0x0F != 0x1:  # a control frame: no text
            return header + extra + payload, ""
        return header + extra + payload, payload.decode()

    def close(self) -> None:
        self.sock.close()


def test_browser_like_members_get_the_originals_wire_text_under_every_policy(server):
    policy = server.server.compression
    ann = RawMember(server.port, "Ann")
    _, text = ann.frame()
    assert text == '{"type":"note","text":"Ann joined \\"people\\"."}'  # JSON.stringify's text
    bob = RawMember(server.port, "Bob")
    assert ann.frame()[1] == bob.frame()[1] == encode(note('Bob joined "people".'))
    said = "héllo ✓ " + "chat " * 40  # long enough for deflate to pay
    ann.send({"type": "chat", "text": said})
    (ann_raw, ann_text), (bob_raw, bob_text) = ann.frame(), bob.frame()
    assert ann_text == bob_text == encode(chat("Ann", said))
    if policy is None:  # off, as Node's ws: the offer is declined, frames are plain text
        assert ann.extensions == bob.extensions == ""
        assert ann_raw[0] == 0x81 and ann_raw.endswith(bob_text.encode())
    else:
        assert ann.extensions.startswith("permessage-deflate")
        assert ann_raw[0] == 0xC1 and len(ann_raw) < len(ann_text.encode())  # compressed
    if policy == "shared":  # no context takeover: one compression, the same bytes for all
        assert "server_no_context_takeover" in ann.extensions
        assert "client_no_context_takeover" in ann.extensions
        assert ann_raw == bob_raw
    if policy == "deflate":  # websockets' default: each connection keeps its own context
        assert "server_no_context_takeover" not in ann.extensions
    ann.close()
    bob.close()


def test_per_connection_deflate_carries_many_messages_with_its_context():
    async def body(url: str) -> list[dict]:
        async with connect(url, open_timeout=DEADLINE) as ws:  # websockets' client offers deflate
            assert ws.protocol.extensions, "deflate was not negotiated"
            await ws.send(json.dumps({"type": "join", "name": "Colt"}))
            for n in range(5):
                await ws.send(json.dumps({"type": "chat", "text": f"same words again {n}"}))
            return [json.loads(await asyncio.wait_for(ws.recv(), DEADLINE)) for _ in range(6)]

    with chatkit.start(port=0, show=False, compression="deflate") as live:
        got = asyncio.run(body(live.ws_url("people")))
    assert [m["text"] for m in got[1:]] == [f"same words again {n}" for n in range(5)]


def test_an_unknown_compression_policy_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="compression must be one of"):
        chatkit.serve(port=0, compression="gzip")


def test_the_python_client_offers_no_compression_unless_asked(server):
    async def extensions(**options) -> list:
        ws = chatkit.WebSocket(server.ws_url("people"), **options)
        assert await ws.wait_open(DEADLINE)
        negotiated = list(ws._connection.protocol.extensions)
        ws.close()
        await ws.wait_closed(DEADLINE)
        return negotiated

    assert asyncio.run(extensions()) == []
    offered = asyncio.run(extensions(compression="deflate"))
    assert bool(offered) == (server.server.compression is not None)


def test_frames_batched_in_a_loop_turn_go_out_before_a_close_in_that_same_turn():
    with chatkit.start(port=0, show=False) as live:
        colt = RawMember(live.port, "Colt")
        assert colt.frame()[1] == encode(note('Colt joined "people".'))

        async def broadcast_then_close() -> None:
            room = live.server.chat_user.Room.get("people")
            for n in range(3):  # gathered by the Outbox until the end of this turn
                room.broadcast(note(f"last words {n}"))
            for connection in list(live._ws_server.connections):
                await connection.close(1001, "bye")  # writes its close frame at once

        closing = asyncio.run_coroutine_threadsafe(broadcast_then_close(), live._loop)
        texts = [colt.frame()[1] for _ in range(3)]
        close_raw, _ = colt.frame()
        colt.close()  # the server's closing handshake ends here
        closing.result(DEADLINE)
    assert texts == [encode(note(f"last words {n}")) for n in range(3)]
    assert close_raw[0] == 0x88 and close_raw[2:4] == (1001).to_bytes(2, "big")


def test_two_live_servers_in_one_process_each_write_their_own_rooms_frames():
    # Each server owns its OutgoingFrames: no cache is shared between servers' threads.
    with chatkit.start(port=0, show=False, rate_limit=None) as one, \
            chatkit.start(port=0, show=False, rate_limit=None) as two:
        ann, bob = RawMember(one.port, "Ann"), RawMember(two.port, "Bob")
        assert ann.frame()[1] == encode(note('Ann joined "people".'))
        assert bob.frame()[1] == encode(note('Bob joined "people".'))
        for n in range(50):  # both servers' threads encode and write at the same time
            ann.send({"type": "chat", "text": f"one {n}"})
            bob.send({"type": "chat", "text": f"two {n}"})
        assert [ann.frame()[1] for _ in range(50)] == [encode(chat("Ann", f"one {n}")) for n in range(50)]
        assert [bob.frame()[1] for _ in range(50)] == [encode(chat("Bob", f"two {n}")) for n in range(50)]
        ann.close()
        bob.close()


def test_the_outbox_sends_a_members_first_frame_of_a_turn_at_once_and_gathers_the_rest():
    from chatkit.server.sending import Outbox

    async def scenario() -> list[bytes]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        outbox, reads = Outbox(), []

        def read() -> bytes:
            try:
                return theirs.recv(4096)
            except BlockingIOError:
                return b""

        try:
            outbox.add(transport, b"one")  # a chat at a time: on the wire before the turn ends
            reads.append(read())
            outbox.add(transport, b"two")
            outbox.add(transport, b"three")  # the same turn: kept for one write at its end
            reads.append(read())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            reads.append(read())
        finally:
            transport.close()
            theirs.close()
        return reads

    assert asyncio.run(scenario()) == [b"one", b"", b"twothree"]


# Last in this file: while Chromium (sync Playwright) runs, asyncio.run fails in this thread.
CHROMIUM_CHAT = """async (url) => {
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => { ws.onopen = ok; ws.onerror = fail; });
  const got = [];
  const done = new Promise((ok) => { ws.onmessage = (e) => { got.push(e.data); if (got.length === 2) ok(); }; });
  ws.send(JSON.stringify({type: "join", name: "Ada"}));
  ws.send(JSON.stringify({type: "chat", text: "héllo ✓ " + "ab".repeat(300)}));
  await done;
  ws.close();
  return {extensions: ws.extensions, got: got};
}"""


def test_chromium_chats_with_every_policy_and_gets_what_it_negotiated(server, page):
    page.goto(server.page_url("people"))  # same origin: the page's CSP lets it connect
    result = page.evaluate(CHROMIUM_CHAT, server.ws_url("people"))
    assert result["got"] == [encode(note('Ada joined "people".')),
                             encode(chat("Ada", "héllo ✓ " + "ab" * 300))]
    policy = server.server.compression
    if policy is None:
        assert result["extensions"] == ""
    else:
        assert result["extensions"].startswith("permessage-deflate")
        assert ("server_no_context_takeover" in result["extensions"]) == (policy == "shared")


def test_a_message_longer_than_one_read_arrives_whole():
    # asyncio reads READ_BYTES at a time here, not its own 256 KiB (see ChatConnection:
    # a read that large costs an mmap, an mremap and an munmap): a message near the
    # size limit takes two reads and must still be read whole, and a chat after it.
    with chatkit.start(port=0, show=False, rate_limit=None) as live:
        ann = RawMember(live.port, "Ann")
        assert "Ann joined" in ann.frame()[1]
        sizes = on_loop(live, lambda: {connection.transport.max_size
                                       for connection in live._ws_server.connections})
        assert sizes == {READ_BYTES}
        padded = {"type": "chat", "text": "long", "pad": ""}  # the largest message allowed
        padded["pad"] = "x" * (MAX_MESSAGE_BYTES - len(json.dumps(padded)))
        assert len(client_frame(json.dumps(padded).encode())) > READ_BYTES
        ann.send(padded)
        ann.send({"type": "chat", "text": "short"})
        assert ann.frame()[1] == encode(chat("Ann", "long"))
        assert ann.frame()[1] == encode(chat("Ann", "short"))
        ann.close()
