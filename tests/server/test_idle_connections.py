"""What an idle member costs the server: one keepalive for all connections (not a task
each) that still closes a member whose pongs stop, and handshake strings shared between
connections that still read as sent. Real server, real sockets on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import sys

from websockets.asyncio.client import connect

from chatkit.server import ChatServer
from chatkit.server.sending import FrameQueue, Keepalive
from chatkit.bench.clients import client_frame, handshake_request

DEADLINE = 20


def _silent_member(port: int) -> socket.socket:
    """A member that does the handshake, then never answers a ping."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(handshake_request(port, "/chat/people"))
    head = b""
    for _ in range(100):  # bounded: the 101 answer is a few hundred bytes
        head += sock.recv(4096)
        if b"\r\n\r\n" in head:
            return sock
    raise AssertionError(f"no handshake answer: {head!r}")


def _close_code(sock: socket.socket, seconds: float) -> int | None:
    """Read frames (pings, ...) until a close frame; its code, or None if none came."""
    sock.settimeout(seconds)
    data = b""
    try:
        for _ in range(100):
            chunk = sock.recv(4096)
            if not chunk:
                return None
            data += chunk
            while len(data) >= 2:
                length = data[1] & 0x7F
                if len(data) < 2 + length:
                    break
                if data[0] == 0x88:
                    return int.from_bytes(data[2:4], "big")
                data = data[2 + length:]
    except TimeoutError:
        return None
    return None


def test_one_keepalive_pings_every_member_and_closes_the_one_whose_pong_never_comes():
    async def body() -> None:
        async with ChatServer().serve("127.0.0.1", 0, ping_interval=0.2,
                                      ping_timeout=0.3) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/chat/people") as answering:
                silent = await asyncio.to_thread(_silent_member, port)
                await asyncio.sleep(0.05)
                connections = list(server.connections)
                assert len(connections) == 2
                # no task per connection: one Keepalive serves both
                assert all(c.keepalive_task is None for c in connections)
                [keepalive] = {c.keepalive for c in connections}
                assert isinstance(keepalive, Keepalive) and len(keepalive.connections) == 2
                code = await asyncio.to_thread(_close_code, silent, 3.0)
                assert code == 1011  # websockets' own "keepalive ping timeout"
                silent.close()
                # the member that answers its pings is still there, its latency measured
                await answering.send('{"type": "join", "name": "ann"}')
                assert "ann joined" in await asyncio.wait_for(answering.recv(), 2)
                [mine] = [c for c in server.connections if c.keepalive is keepalive]
                assert mine.latency > 0
            await asyncio.sleep(0.1)
            assert keepalive.connections == {} and keepalive.task is None  # ended with the last

    asyncio.run(asyncio.wait_for(body(), DEADLINE))


def test_handshake_headers_are_shared_between_connections_and_read_as_sent():
    async def body() -> None:
        async with ChatServer().serve("127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            socks = [await asyncio.to_thread(_silent_member, port) for _ in range(2)]
            await asyncio.sleep(0.05)
            one, two = (c.request.headers for c in server.connections)
            assert one["origin"] == two["Origin"] == f"http://127.0.0.1:{port}"
            assert one["Sec-WebSocket-Key"] != two["Sec-WebSocket-Key"]
            assert one["Origin"] is two["Origin"]  # one string for the class
            assert [name for name, _ in one.raw_items()] == [
                "Host", "Upgrade", "Connection", "Sec-WebSocket-Key", "Sec-WebSocket-Version",
                "Origin", "Sec-WebSocket-Extensions"]
            one["X-Later"] = "added"  # still an ordinary, mutable Headers
            assert "X-Later" in one and "X-Later" not in two
            for sock in socks:
                sock.sendall(client_frame(b"\x03\xe8", 0x8))
                sock.close()

    asyncio.run(asyncio.wait_for(body(), DEADLINE))


def test_overlapping_handshakes_leave_each_connection_a_small_attribute_dict():
    # CPython shares one key table among a class's instances while every instance adds
    # its attributes in one order; a 20-way overlap of handshakes used to break that
    # (1,584 bytes per connection's dict instead of 296).
    async def body() -> None:
        async with ChatServer().serve("127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            opened = await asyncio.gather(*(asyncio.open_connection("127.0.0.1", port)
                                            for _ in range(20)))
            for _, writer in opened:
                writer.write(handshake_request(port, "/chat/people"))
            for reader, _ in opened:
                await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            sizes = {sys.getsizeof(vars(c)) for c in server.connections}
            assert len(server.connections) == 20 and max(sizes) < 600, sizes
            for _, writer in opened:
                writer.close()

    asyncio.run(asyncio.wait_for(body(), DEADLINE))


def test_a_chat_in_200_fragments_arrives_whole_through_the_lighter_frame_queue():
    async def body() -> None:
        async with ChatServer().serve("127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with connect(f"ws://127.0.0.1:{port}/chat/people") as ws:
                await ws.send('{"type": "join", "name": "ann"}')
                assert "ann joined" in await asyncio.wait_for(ws.recv(), 2)
                [connection] = server.connections
                assert type(connection.recv_messages.frames.queue) is FrameQueue
                text = "x" * 1000
                message = '{"type": "chat", "text": "' + text + '"}'
                await ws.send(message[i:i + 5] for i in range(0, len(message), 5))
                got = await asyncio.wait_for(ws.recv(), 2)
                assert got == '{"type":"chat","name":"ann","text":"' + text + '"}'
                assert len(connection.recv_messages.frames.queue) == 0

    asyncio.run(asyncio.wait_for(body(), DEADLINE))


def test_the_frame_queue_keeps_deque_order_through_its_compactions():
    import collections

    ours, theirs = FrameQueue(), collections.deque()
    for step in range(2000):  # the same operations on both, in a fixed mixed order
        for queue in (ours, theirs):
            if step % 7 == 3:
                queue.extendleft(reversed([f"back{step}a", f"back{step}b"]))
            elif step % 3 == 0 and len(queue):
                queue.append(queue.popleft())
            elif step % 5 < 2 and len(queue):
                queue.popleft()
            else:
                queue.append(step)
        assert len(ours) == len(theirs) and bool(ours) == bool(theirs)
    assert [ours.popleft() for _ in range(len(ours))] == list(theirs)
    assert not ours and ours.items == [] and ours.head == 0


def test_a_keepalive_round_over_more_members_than_one_batch_pings_them_all():
    from chatkit.server.sending import PINGS_PER_TURN

    async def body() -> None:
        async with ChatServer(max_per_client=None).serve("127.0.0.1", 0, ping_interval=0.3,
                                                         ping_timeout=1.0) as server:
            port = server.sockets[0].getsockname()[1]
            count = PINGS_PER_TURN + 50
            clients = await asyncio.gather(*(connect(f"ws://127.0.0.1:{port}/chat/people")
                                             for _ in range(count)))
            try:
                for _ in range(40):  # bounded: up to 4 s for a round or two
                    await asyncio.sleep(0.1)
                    if all(c.latency > 0 for c in server.connections):
                        break
                assert len(server.connections) == count
                assert all(c.latency > 0 for c in server.connections)  # every one answered
            finally:
                await asyncio.gather(*(client.close() for client in clients))

    asyncio.run(asyncio.wait_for(body(), DEADLINE))
