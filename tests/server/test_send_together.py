"""A chat that comes alone goes to the whole room at once (``Outbox.send_together``).

One ``send()`` per member, called from C, instead of each member's ``send`` in Python --
and nothing a member's own ``send`` would not do: no frame past bytes that still wait
for a slow member, none after a close frame, a student's ``send`` still asked.
Real servers on 127.0.0.1, real sockets, browser-like members (``RawMember``).
"""

from __future__ import annotations

import asyncio
import socket
import struct
import pytest

import chatkit
from chatkit import ChatUser
from chatkit.bench.clients import client_frame
from chatkit.core.messages import chat, encode, note
from tests.helpers.waiting import DEADLINE, on_loop, wait_until
from tests.server.test_frames import RawMember

pytestmark = pytest.mark.timeout(60)


def users(live) -> dict[str, ChatUser]:
    room = live.server.chat_user.Room.get("people")
    return {user.name: user for user in room.members}


def test_members_of_a_server_are_sent_to_together_and_get_the_originals_bytes():
    with chatkit.start(port=0, show=False, rate_limit=None) as live:
        ann, bob = RawMember(live.port, "Ann"), RawMember(live.port, "Bob")
        ann.frame()
        ann.frame(), bob.frame()
        outlets = on_loop(live, lambda: {name: user.outlet for name, user in users(live).items()})
        assert all(outlet is not None and outlet.ready for outlet in outlets.values())
        ann.send({"type": "chat", "text": "hi"})
        assert ann.frame()[1] == bob.frame()[1] == encode(chat("Ann", "hi"))
        ann.close()
        bob.close()


def test_a_students_own_send_is_still_asked_for_every_message():
    asked = []

    class Logged(ChatUser):
        def send(self, data):
            asked.append((self.name, data))
            super().send(data)

    with chatkit.start(port=0, show=False, rate_limit=None, chat_user=Logged) as live:
        ann, bob = RawMember(live.port, "Ann"), RawMember(live.port, "Bob")
        ann.frame()
        ann.frame(), bob.frame()
        assert on_loop(live, lambda: [user.outlet for user in users(live).values()]) == [None, None]
        ann.send({"type": "chat", "text": "hi"})
        assert bob.frame()[1] == encode(chat("Ann", "hi"))
        assert ("Bob", encode(chat("Ann", "hi"))) in asked and ("Ann", encode(chat("Ann", "hi"))) in asked
        ann.close()
        bob.close()


def test_frames_never_pass_what_still_waits_for_a_slow_member():
    text = "x" * 3000
    with chatkit.start(port=0, show=False, rate_limit=None) as live:
        ann, bob = RawMember(live.port, "Ann"), RawMember(live.port, "Bob")
        slow = RawMember(live.port, "Slow", rcvbuf=4096)  # reads nothing until the end
        for member in (ann, ann, bob, ann, bob):  # the join notes so far
            member.frame()
        # On loopback the kernel would take megabytes for it; a small send buffer (as on
        # a busy host) makes the server's transport hold the rest, as for a stalled laptop.
        on_loop(live, lambda: users(live)["Slow"].outlet.transport.get_extra_info(
            "socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096))
        for n in range(120):  # one at a time, each alone in its turn: sent together
            ann.send({"type": "chat", "text": f"{n} {text}"})
            assert bob.frame()[1] == encode(chat("Ann", f"{n} {text}"))
            ann.frame()
        # 360 KB for a member that reads nothing: most of it waits in its transport
        assert on_loop(live, lambda: users(live)["Slow"].outlet.ready) is False
        got = [slow.frame()[1] for _ in range(121)]  # everything, in order, intact
        assert got == [encode(note('Slow joined "people".'))] + [
            encode(chat("Ann", f"{n} {text}")) for n in range(120)]
        wait_until(lambda: on_loop(live, lambda: users(live)["Slow"].outlet.can_take()),
                   "the slow member's transport to empty")
        ann.send({"type": "chat", "text": "again"})  # ready once more after this one
        assert slow.frame()[1] == bob.frame()[1] == encode(chat("Ann", "again"))
        assert on_loop(live, lambda: users(live)["Slow"].outlet.ready) is True
        for member in (ann, bob, slow):
            member.close()


def frames_in(data: bytes) -> list[str]:
    """The texts of the whole (unmasked, uncompressed) frames in ``data``, in order."""
    texts, pos = [], 0
    while pos + 2 <= len(data):
        length, start = data[pos + 1] & 0x7F, pos + 2
        if length == 126:
            length, start = int.from_bytes(data[pos + 2 : pos + 4], "big"), pos + 4
        texts.append(data[start : start + length].decode())
        pos = start + length
    return texts


def test_a_write_that_waits_in_the_transport_is_never_passed_when_the_kernel_has_room():
    text = "y" * 3000
    with chatkit.start(port=0, show=False, rate_limit=None) as live:
        ann = RawMember(live.port, "Ann")
        slow = RawMember(live.port, "Slow", rcvbuf=4096)
        ann.frame(), ann.frame()
        room = live.server.chat_user.Room.get("people")

        def burst_then_room_then_one_more() -> bytes:
            users(live)["Slow"].outlet.transport.get_extra_info("socket").setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
            for n in range(30):  # one turn: the first together, the rest gathered
                room.broadcast(note(f"{n} {text}"))
            live.server.outbox.flush_all()  # the turn's end: most of it waits in the transport
            read = slow.sock.recv(65536)  # the kernel has room again; asyncio has not run yet
            room.broadcast(note("last"))  # a new turn's first: must queue behind the rest
            return read

        read = on_loop(live, burst_then_room_then_one_more)
        for _ in range(31):
            ann.frame()
        data = read
        while len(frames_in(data)) < 32:  # the join note, 30 notes, "last"
            data += slow.sock.recv(65536)
        assert frames_in(data) == [encode(note('Slow joined "people".'))] + [
            encode(note(f"{n} {text}")) for n in range(30)] + [encode(note("last"))]
        ann.close()
        slow.close()


@pytest.mark.parametrize("who", ["server", "client"])
def test_no_chat_follows_a_close_frame(who):
    with chatkit.start(port=0, show=False, rate_limit=None) as live:
        ann, bob = RawMember(live.port, "Ann"), RawMember(live.port, "Bob")
        ann.frame()
        ann.frame(), bob.frame()
        room = live.server.chat_user.Room.get("people")
        outlet = on_loop(live, lambda: users(live)["Bob"].outlet)
        if who == "server":
            async def close_bob() -> None:
                connection = next(c for c in live._ws_server.connections
                                  if getattr(c.member, "name", None) == "Bob")
                asyncio.get_running_loop().create_task(connection.close(1001, "bye"))
            asyncio.run_coroutine_threadsafe(close_bob(), live._loop).result(DEADLINE)
        else:
            bob.sock.sendall(client_frame((1000).to_bytes(2, "big"), opcode=0x8))
        raw, _ = bob.frame()
        assert raw[0] == 0x88  # the server's close frame (its own, or its answer)
        for n in range(3):  # Bob is still a member until his connection ends: not sent to
            on_loop(live, lambda n=n: room.broadcast(note(f"after {n}")))
            assert ann.frame()[1] == encode(note(f"after {n}"))
        bob.sock.setblocking(False)  # each broadcast ended before Ann's frame was read
        try:
            rest = bob.sock.recv(4096)  # b"": the server closed (after a client's close)
        except BlockingIOError:
            rest = b""  # nothing: the server waits for Bob's answer to its close
        assert rest == b"", f"frames after the close frame: {rest!r}"
        bob.close()
        wait_until(lambda: "Bob" not in on_loop(live, lambda: users(live)), "Bob to leave")
        assert outlet.ready is False  # a closed connection is never sent to together
        ann.close()
        bob.close()


def test_a_connection_that_ends_without_a_close_frame_is_not_sent_to_together():
    with chatkit.start(port=0, show=False, rate_limit=None) as live:
        ann, bob = RawMember(live.port, "Ann"), RawMember(live.port, "Bob")
        ann.frame()
        ann.frame(), bob.frame()
        outlet = on_loop(live, lambda: users(live)["Bob"].outlet)
        bob.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        bob.close()  # a reset: the laptop's lid closed mid-class
        wait_until(lambda: on_loop(live, lambda: outlet.ready) is False, "Bob's outlet to close")
        assert ann.frame()[1] == encode(note("Bob left people."))
        ann.send({"type": "chat", "text": "still here"})
        assert ann.frame()[1] == encode(chat("Ann", "still here"))
        ann.close()
