"""The load generator of :mod:`chatkit.bench`: a room full of clients, in a process of its own.

Run by the benchmark, not by hand::

    python -m chatkit.bench.clients '{"size": 10, "messages": 50, "targets": [...]}'

It connects ``size`` members to room ``bench`` on each target server (the first
``senders`` of them, ``m0``, ``m1``, ..., also send; one by default), waits until every
join note has arrived, then runs the measured phases -- the targets taking turns,
``rounds`` times -- and prints JSON lines: ``{"progress": ...}`` while it runs and
``{"result": ...}`` at the end. Each sender keeps at most ``window`` of its chats not
yet delivered to every member (``"senders": 20, "window": 2``: twenty people chatting
at once, each with two chats on the way).

The clients do on the wire what browsers do (``"client": "browser"``, the default):
they send ``Origin`` and offer ``permessage-deflate; client_max_window_bits`` as
Chromium does, mask their frames, compress what they send and inflate what they get
when the server accepts, and check that each text frame is UTF-8, as a browser does
before it calls ``onmessage``. ``"client": "lean"`` offers no compression: the path
hand-written clients measure, kept as a labelled option.

They must cost less than the server they measure, so they are not built on a
WebSocket library: each is an ``asyncio.BufferedProtocol`` that does the handshake,
then splits frames by hand (server frames are never masked) and looks only at what it
must. A chat's text is ``"<seq> <send time in ns>[ <padding>]"`` (sender ``k`` of
``n`` sends the numbers ``k``, ``k + n``, ``k + 2n``, ...), so a receiver checks the
bytes around it, the order of each sender's chats on its connection, and the send
time, without decoding JSON. All clients run in this one process, so send and
arrival times come from the same clock (``time.monotonic_ns``, system-wide on Linux).

asyncio connects and joins them; the measured phases run on a :class:`Reader`, one
``select.epoll`` loop over all the members' sockets, which reads each as soon as the
kernel has bytes for it, takes the arrival time then, counts each chat by its number
(the senders' windows depend on it) and keeps the bytes: the full check of each chat
(UTF-8, its shape, its sender's order, its latency) runs after the phase's clock
stopped (``client_check_s``). On one chat at a time to 200 members, most of what the
clients still cost is the kernel's (``client_system_s``): the read, and on loopback
the ACK it sends and the server's side of that ACK.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import select
import socket
import sys
import time
import zlib
from array import array
from typing import Any, Callable

from websockets.utils import apply_mask

__all__ = ["run_clients", "percentiles", "cpu_seconds", "peak_memory", "current_memory"]

ROOM = "bench"
STALLED = "stalled"
# Every server under test writes JSON as JSON.stringify does (compact); the original puts
# "name" before "type" in its chats. The sender's name comes next, then the text.
CHAT_PREFIXES = (b'{"type":"chat","name":"', b'{"name":"')
TEXT_KEY = b'"text":"'
NOTE_PREFIX = b'{"type":"note","text":"'
LEFT_NOTE = b'{"type":"note","text":"' + f"{STALLED} left {ROOM}.".encode() + b'"}'
BUFFER_BYTES = 16 * 1024  # each member's read buffer: 200 short frames, 5 padded ones
CONNECT_BATCH = 50  # connections opened at once (the server's listen backlog is 100)
# Chats counted during a phase and checked after it: at most this many bytes kept, a
# chunk costing its length and its size and read time besides.
LOG_BYTES = 64 * 1024 * 1024
LOG_OVERHEAD = 16


# -- what the server process costs --------------------------------------------


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of process ``pid`` so far, in seconds (ns precision)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as file:
                    total += int(file.read().split()[0])
            except (FileNotFoundError, ProcessLookupError):
                pass  # a thread that just ended
        return total / 1e9
    except FileNotFoundError:
        return float("nan")


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as file:
            for line in file:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return -1


def peak_memory(pid: int) -> int:
    """Peak resident memory (VmHWM) of process ``pid``, in KiB."""
    return _status_kib(pid, "VmHWM")


def current_memory(pid: int) -> int:
    """Resident memory now (VmRSS) of process ``pid``, in KiB."""
    return _status_kib(pid, "VmRSS")


def percentiles(values: list[int], points=(50, 90, 99, 100)) -> dict[str, float]:
    """Nearest-rank percentiles of ``values`` (ns), in milliseconds: ``{"p50": ..., "max": ...}``."""
    if not values:
        return {("max" if p == 100 else f"p{p}"): float("nan") for p in points}
    ordered = sorted(values)
    out = {}
    for p in points:
        index = min(len(ordered) - 1, max(0, -(-p * len(ordered) // 100) - 1))
        out["max" if p == 100 else f"p{p}"] = ordered[index] / 1e6
    return out


# -- frames ---------------------------------------------------------------------


def client_frame(payload: bytes, opcode: int = 0x1, rsv1: bool = False) -> bytes:
    """One masked client frame (FIN set) carrying ``payload`` (``rsv1``: it is deflated)."""
    mask = os.urandom(4)
    length = len(payload)
    first = 0x80 | opcode | (0x40 if rsv1 else 0)
    if length < 126:
        header = bytes((first, 0x80 | length))
    elif length < 65536:
        header = bytes((first, 0xFE)) + length.to_bytes(2, "big")
    else:
        header = bytes((first, 0xFF)) + length.to_bytes(8, "big")
    return header + mask + apply_mask(payload, mask)


#: What Chromium offers in every WebSocket handshake (Firefox and Safari offer the same).
BROWSER_EXTENSIONS = "permessage-deflate; client_max_window_bits"
#: The two clients: "browser" offers deflate, as browsers do; "lean" offers nothing.
CLIENTS = ("browser", "lean")


def handshake_request(port: int, path: str, client: str = "browser") -> bytes:
    """The upgrade request: a browser's (Origin, deflate offered) or the lean one's."""
    key = base64.b64encode(os.urandom(16)).decode()
    extra = ""
    if client == "browser":
        extra = (f"Origin: http://127.0.0.1:{port}\r\n"
                 f"Sec-WebSocket-Extensions: {BROWSER_EXTENSIONS}\r\n")
    return (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"{extra}\r\n"
    ).encode()


class Deflate:
    """permessage-deflate as a browser runs it, from the parameters the server answered."""

    def __init__(self, header: str) -> None:
        params = {}
        for part in header.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            params[name.strip().lower()] = value.strip().strip('"')
        self.server_bits = int(params.get("server_max_window_bits") or 15)
        self.client_bits = int(params.get("client_max_window_bits") or 15)
        self.server_reset = "server_no_context_takeover" in params
        self.client_reset = "client_no_context_takeover" in params
        self.params = params
        self.inflater = zlib.decompressobj(wbits=-self.server_bits)
        self.deflater = zlib.compressobj(wbits=-self.client_bits)

    def inflate(self, data: bytes) -> bytes:
        if self.server_reset:
            self.inflater = zlib.decompressobj(wbits=-self.server_bits)
        return self.inflater.decompress(data + b"\x00\x00\xff\xff")

    def deflate(self, data: bytes) -> bytes:
        if self.client_reset:
            self.deflater = zlib.compressobj(wbits=-self.client_bits)
        out = self.deflater.compress(data) + self.deflater.flush(zlib.Z_SYNC_FLUSH)
        return out[:-4] if out.endswith(b"\x00\x00\xff\xff") else out


def _extensions_header(response: bytes) -> str:
    for line in response.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-extensions":
            return value.strip().decode()
    return ""


class Target:
    """One server under test and the counters its members update."""

    def __init__(self, kind: str, port: int, pid: int, size: int, client: str = "browser",
                 senders: int = 1) -> None:
        self.kind, self.port, self.pid, self.size, self.client = kind, port, pid, size, client
        self.senders = senders
        self.members: list[Member] = []
        self.notes = 0
        self.left_notes = 0
        self.errors: list[str] = []
        self.negotiated = ""  # the server's Sec-WebSocket-Extensions answer, if any
        self.wire_bytes = 0  # bytes received from the server, headers and all
        self.reset(0)

    def reset(self, messages: int) -> None:
        self.messages = messages
        self.counts = [0] * messages
        # one sender: how each chat's frame starts, up to its number, once the first
        # chat told how this server writes it (Reader.count; Reader.poll matches them)
        self.heads: list[bytes] | None = None
        self.completed = 0
        self.completed_by = [0] * self.senders  # chats delivered to all, per sender
        self.received = 0
        self.latencies: list[int] = []
        self.waiter: asyncio.Future | None = None
        self.errors = []
        for member in self.members:
            member.next_seq = list(range(self.senders))
            member.after = 0

    def arrived(self, seq: int) -> None:
        """Count chat ``seq`` delivered to one more member; wake the senders when all got it."""
        counts = self.counts
        counts[seq] += 1
        if counts[seq] == self.size:
            self.completed += 1
            self.completed_by[seq % self.senders] += 1
            self.wake()

    def wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    def error(self, text: str) -> None:
        if len(self.errors) < 20:
            self.errors.append(text)


class Member(asyncio.BufferedProtocol):
    """A lean room member: handshake, then frames split by hand; counts and checks chats.

    It reads into a buffer of its own (``recv_into``): asyncio's plain protocols
    allocate 256 KiB per read, which costs more than the read itself. During a
    measured phase a :class:`Reader` reads it instead.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.data = bytearray(BUFFER_BYTES)
        self.view = memoryview(self.data)
        self.filled = 0
        self.open = asyncio.get_running_loop().create_future()
        self.upgraded = False
        self.next_seq = list(range(target.senders))  # the chat due next from each sender
        self.after = 0  # one sender: the chat due next, by the chats counted (Reader.count)
        self.transport: asyncio.Transport | None = None
        self.deflate: Deflate | None = None  # once the server accepted the browser's offer
        self.browser = target.client == "browser"
        # during a measured phase: the Reader that reads this member, the socket's
        # descriptor, bytes the kernel did not take yet, and the chunks whose chats the
        # Reader counted but did not check yet, with the time each was read
        self.reader: Reader | None = None
        self.fd = -1
        self.pending = bytearray()
        self.kept = bytearray()  # those chunks, one after the other
        self.sizes = array("l")  # each one's size
        self.times = array("q")  # and when it was read (time.monotonic_ns)
        self.dropped = False  # closed, and already reported

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        request = handshake_request(self.target.port, f"/chat/{ROOM}", self.target.client)
        transport.write(request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(ConnectionError(f"closed during the handshake: {exc}"))
        elif self.upgraded and not self.dropped:
            self.target.error("a member's connection closed")
            self.target.wake()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.view[self.filled :]

    def buffer_updated(self, nbytes: int) -> None:
        if self.upgraded:
            self.take(nbytes, time.monotonic_ns())
            return
        buffer, size = self.data, self.filled + nbytes
        end = buffer.find(b"\r\n\r\n", 0, size)
        if end < 0:
            self.filled = size
            return
        if not buffer.startswith(b"HTTP/1.1 101"):
            self.open.set_exception(ConnectionError(bytes(buffer[:end]).decode(errors="replace")))
            return
        self.upgraded = True
        extensions = _extensions_header(bytes(buffer[:end]))
        self.target.negotiated = extensions
        if extensions.startswith("permessage-deflate"):
            self.deflate = Deflate(extensions)
        self.open.set_result(None)
        self.take(nbytes, time.monotonic_ns(), end + 4)  # frames may follow the response

    def take(self, nbytes: int, now: int, pos: int = 0, counted: bool = False) -> None:
        """Count and check the whole frames in the buffer from ``pos``: ``nbytes`` just read at ``now``.

        asyncio's reads (``buffer_updated``: handshake, joins) and the :class:`Reader`'s
        come here; ``counted``: the Reader counted these chats already (:meth:`Reader.count`),
        only check them. An incomplete frame is kept at the buffer's front.
        """
        buffer, size = self.data, self.filled + nbytes
        target = self.target
        target.wire_bytes += nbytes
        while size - pos >= 2:
            first, length = buffer[pos], buffer[pos + 1]
            if length < 126:
                start = pos + 2
            elif length == 126:
                if size - pos < 4:
                    break
                length, start = int.from_bytes(buffer[pos + 2 : pos + 4], "big"), pos + 4
            else:
                if size - pos < 10:
                    break
                length, start = int.from_bytes(buffer[pos + 2 : pos + 10], "big"), pos + 10
            end = start + length
            if end > size:
                if end - pos > BUFFER_BYTES:
                    target.error(f"a frame of {length} bytes: larger than the buffer")
                    self.abort()
                    return
                break
            pos = end
            data = buffer
            if first == 0xC1 and self.deflate is not None:  # a whole compressed text frame
                data = self.deflate.inflate(bytes(buffer[start:end]))
                first, start, end = 0x81, 0, len(data)
            if first == 0x81:  # a whole text frame
                if self.browser:  # a browser hands onmessage a string: UTF-8 checked
                    try:
                        bytes(data[start:end]).decode()
                    except UnicodeDecodeError:
                        target.error("a text frame that is not UTF-8")
                        continue
                if (data.startswith(CHAT_PREFIXES, start, end) and data.endswith(b'"}', start, end)
                        and (text := data.find(TEXT_KEY, start, end)) > 0):
                    text += len(TEXT_KEY)
                    space = data.find(b" ", text, end - 2)
                    after = data.find(b" ", space + 1, end - 2)
                    try:
                        seq = int(data[text:space])
                        sent = int(data[space + 1 : after if after > 0 else end - 2])
                        if not counted:
                            target.arrived(seq)
                    except (ValueError, IndexError):
                        target.error(f"a chat with unexpected text: {bytes(data[start:end])[:80]!r}")
                        continue
                    if not counted:
                        self.after = seq + 1
                    by = seq % target.senders
                    if seq != self.next_seq[by]:
                        target.error(f"chat {seq} arrived when {self.next_seq[by]} was due")
                    self.next_seq[by] = seq + target.senders
                    target.received += 1
                    target.latencies.append(now - sent)
                elif data.startswith(NOTE_PREFIX, start, end):
                    if data[start:end] == LEFT_NOTE:
                        target.left_notes += 1
                    else:
                        target.notes += 1
                    target.wake()
                else:
                    target.error(f"unexpected message: {bytes(data[start:end])[:80]!r}")
            elif first == 0x89:  # ping: answer, or the server's keepalive closes us
                self.write(client_frame(bytes(buffer[start:end]), 0xA))
            elif first == 0x88:
                self.write(client_frame(bytes(buffer[start:end]), 0x8))
            else:
                target.error(f"unexpected frame opcode {first:#x}")
        if pos:  # keep the start of an incomplete frame at the front
            buffer[: size - pos] = buffer[pos:size]
        self.filled = size - pos

    def check(self) -> None:
        """Check the chats the :class:`Reader` counted but did not check yet, in arrival order."""
        kept, sizes, times = self.kept, self.sizes, self.times
        self.kept, self.sizes, self.times = bytearray(), array("l"), array("q")
        data, start = self.data, 0
        for size, now in zip(sizes, times):  # whole frames, read when the buffer was empty
            data[:size] = kept[start : start + size]
            self.take(size, now, counted=True)
            start += size

    def send_text(self, text: str) -> None:
        """Send one text message, deflated if that was agreed (browsers compress all they send)."""
        payload = text.encode()
        if self.deflate is not None:
            self.write(client_frame(self.deflate.deflate(payload), rsv1=True))
        else:
            self.write(client_frame(payload))

    def write(self, frame: bytes) -> None:
        """Send ``frame``: by asyncio's transport, or during a measured phase by the socket
        itself (asyncio's loop is not running then); what the kernel does not take yet
        waits in ``pending`` for the :class:`Reader` to send when the socket is writable."""
        if self.reader is None:
            self.transport.write(frame)
        elif self.pending:
            self.pending += frame
        else:
            try:
                sent = os.write(self.fd, frame)
            except BlockingIOError:
                sent = 0
            except OSError as exc:
                self.reader.drop(self, f"a member's connection failed: {exc}")
                return
            if sent < len(frame):
                self.pending += frame[sent:]
                self.reader.want_write(self, True)

    def flush(self) -> None:
        """Send what the kernel did not take before (the socket has room now)."""
        try:
            sent = os.write(self.fd, self.pending)
        except BlockingIOError:
            return
        except OSError as exc:
            self.reader.drop(self, f"a member's connection failed: {exc}")
            return
        del self.pending[:sent]
        if not self.pending:
            self.reader.want_write(self, False)

    def abort(self) -> None:
        """Close the connection at once: a member that broke the protocol."""
        if self.reader is not None:
            self.reader.drop(self, None)
        else:
            self.transport.abort()


class Reader:
    """The measured phases' own loop: one ``select.epoll`` over the members' sockets.

    asyncio costs more per read than the read itself (a selector key, a handle, a
    callback, ``get_buffer``), and so did checking each chat as it came: at 200 members
    and one chat at a time the clients cost more than the server they measured. Here a
    read is ``os.read`` on the member's socket, taken at once to time it; a chunk that
    holds whole chats is only counted (:meth:`count`: which chat, so that the senders'
    windows stay exact) and kept with its read time; :meth:`Member.check` checks it all
    later, as :meth:`Member.take` checks everything else at once. The sockets, their
    options and what goes on the wire stay as they are. asyncio stops reading them
    meanwhile (``pause_reading``) and takes them back at :meth:`close`::

        reader = Reader(target)
        try:
            reader.wait(lambda: target.completed >= 10, time.monotonic() + 5)
        finally:
            reader.close()  # every chat checked; asyncio reads the members again
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.one_sender = target.senders == 1
        self.epoll = select.epoll()
        self.by_fd: dict[int, Member] = {}
        self.logged = 0  # bytes kept for checking later, with what keeping them costs
        try:
            for member in target.members:
                if member.dropped or member.transport.is_closing():
                    continue
                member.transport.pause_reading()
                member.fd = member.transport.get_extra_info("socket").fileno()
                member.reader = self
                self.by_fd[member.fd] = member
                self.epoll.register(member.fd, select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    def poll(self, timeout: float) -> None:
        """Read each member the kernel says has bytes; wait up to ``timeout`` s for one."""
        by_fd, clock, read, count = self.by_fd, time.monotonic_ns, os.read, self.count
        target = self.target
        counts, messages, full = target.counts, target.messages, target.size
        heads, logged = target.heads, 0
        # the module's names, as locals: this loop runs once per delivery
        readable, most, overhead = select.EPOLLIN, BUFFER_BYTES, LOG_OVERHEAD
        for fd, events in self.epoll.poll(timeout):
            member = by_fd.get(fd)
            if member is None:  # dropped by an earlier event of this batch
                continue
            if events != readable:  # room to write, or the socket failed
                if events & select.EPOLLOUT:
                    member.flush()
                if not events & ~select.EPOLLOUT or member.reader is None:
                    continue
            filled = member.filled
            try:
                chunk = read(fd, most - filled)
            except BlockingIOError:
                continue
            except OSError as exc:
                self.drop(member, f"a member's connection failed: {exc}")
                continue
            now = clock()  # the arrival time: when the bytes are read
            size = len(chunk)
            if (1 < size < 128 and chunk[1] == size - 2 and chunk[0] == 0x81 and not filled
                    and heads and (seq := member.after) < messages
                    and chunk.startswith(heads[seq], 2)):
                # the common case, counted here (as count() does; inline: the hot path):
                # one short chat from the one sender, the one due next, as the server
                # wrote the first (so a chat's shape and its number as take() reads it)
                member.after = seq + 1
                counts[seq] += 1
                if counts[seq] == full:
                    target.completed += 1
                    target.completed_by[0] += 1
                member.kept += chunk
                member.sizes.append(size)
                member.times.append(now)
                logged += size + overhead
            elif not size:
                self.drop(member, "a member's connection closed")
            elif not filled and count(member, chunk):
                member.kept += chunk
                member.sizes.append(size)
                member.times.append(now)
                logged += size + overhead
            else:  # compressed, a frame cut in two, a note, a ping, ...: all at once
                member.check()
                member.data[filled : filled + size] = chunk
                member.take(size, now)
        if logged:
            self.logged += logged
            if self.logged > LOG_BYTES:
                self.check()

    def count(self, member: Member, chunk: bytes) -> bool:
        """Count the chats in ``chunk`` if it holds nothing but whole, short, uncompressed
        chats, and say so; else count nothing (:meth:`Member.take` will). A chat's number
        is read as ``take`` reads it, so the senders' windows are exact."""
        target = self.target
        size, pos, seqs = len(chunk), 0, []
        while pos < size:  # each turn moves on by a frame
            if chunk[pos] != 0x81 or size - pos < 2:
                return False
            start = pos + 2
            pos = start + chunk[pos + 1]
            if chunk[start - 1] > 125 or pos > size or not chunk.startswith(CHAT_PREFIXES, start, pos):
                return False
            text = chunk.find(TEXT_KEY, start, pos) + len(TEXT_KEY)
            space = chunk.find(b" ", text, pos)
            if text == len(TEXT_KEY) - 1 or space < 0:
                return False
            try:
                seq = int(chunk[text:space])
            except ValueError:
                return False
            if not 0 <= seq < target.messages:
                return False
            seqs.append(seq)
        for seq in seqs:
            target.arrived(seq)
        member.after = seqs[-1] + 1
        if self.one_sender and target.heads is None:  # the frame's start, up to the number
            head = chunk[start:text]
            target.heads = [b"%s%d " % (head, seq) for seq in range(target.messages)]
        return True

    def wait(self, condition: Callable[[], bool], deadline: float) -> bool:
        """Read until ``condition()`` or the deadline (``time.monotonic()``); True if it came true.

        ``condition`` depends on the chats delivered to all (``target.completed``, ...):
        it is asked again only when one more was."""
        target, seen = self.target, -1
        while True:
            if target.completed != seen:
                seen = target.completed
                if condition():
                    return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.poll(min(left, 0.5))

    def check(self) -> None:
        """Check every chat counted so far (:meth:`Member.check`)."""
        for member in self.target.members:
            member.check()
        self.logged = 0

    def want_write(self, member: Member, wanted: bool) -> None:
        """Watch ``member``'s socket for room to write (its ``pending`` bytes), or stop."""
        events = select.EPOLLIN | (select.EPOLLOUT if wanted else 0)
        self.epoll.modify(member.fd, events)

    def drop(self, member: Member, reason: str | None) -> None:
        """Stop reading ``member`` (its connection closed or failed); report ``reason``."""
        member.check()
        if reason is not None:
            member.target.error(reason)
        member.dropped = True
        self._release(member)
        member.transport.abort()

    def _release(self, member: Member) -> None:
        self.by_fd.pop(member.fd, None)
        try:
            self.epoll.unregister(member.fd)
        except (OSError, ValueError):
            pass
        member.fd, member.reader = -1, None

    def close(self) -> None:
        """Check what is left to check; give every member back to asyncio, unsent bytes too."""
        self.check()
        for member in list(self.by_fd.values()):
            pending, member.pending = bytes(member.pending), bytearray()
            self._release(member)
            if pending:
                member.transport.write(pending)
            member.transport.resume_reading()
        self.epoll.close()


def open_stalled(port: int, name: str = STALLED) -> socket.socket:
    """A member that joins, then never reads again: a laptop whose lid was closed."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a small window: it stalls soon
    sock.settimeout(10)
    sock.connect(("127.0.0.1", port))
    sock.sendall(handshake_request(port, f"/chat/{ROOM}"))
    response = b""
    while b"\r\n\r\n" not in response:
        chunk = sock.recv(1)  # byte by byte: take nothing beyond the handshake
        if not chunk:
            raise ConnectionError("the server closed the stalled member's handshake")
        response += chunk
    sock.sendall(client_frame(json.dumps({"type": "join", "name": name}).encode()))
    return sock


# -- the run --------------------------------------------------------------------


class Progress:
    """Prints ``{"progress": done, "total": total}`` lines, at most every 0.1 s."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self.last = total, 0, 0.0

    def add(self, count: int, force: bool = False) -> None:
        self.done += count
        now = time.monotonic()
        if force or now - self.last > 0.1:
            self.last = now
            print(json.dumps({"progress": self.done, "total": self.total}), flush=True)


async def wait_for(target: Target, condition, deadline: float) -> bool:
    """Wait until ``condition()`` or the deadline (monotonic seconds); True if it came true."""
    loop = asyncio.get_running_loop()
    while not condition():
        left = deadline - loop.time()
        if left <= 0:
            return False
        target.waiter = loop.create_future()
        try:
            await asyncio.wait_for(target.waiter, min(left, 0.5))
        except asyncio.TimeoutError:
            pass
    return True


async def connect_room(target: Target, timeout: float) -> float:
    """Connect ``target.size`` members, join them all, wait for every join note.

    Returns the server's memory per open connection, in KiB: its resident memory
    once every handshake is done (before any join), less what it was before.
    """
    before = current_memory(target.pid)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    for first in range(0, target.size, CONNECT_BATCH):
        batch = []
        for _ in range(first, min(first + CONNECT_BATCH, target.size)):
            _, member = await loop.create_connection(
                lambda: Member(target), "127.0.0.1", target.port
            )
            batch.append(member)
        await asyncio.wait_for(
            asyncio.gather(*(member.open for member in batch)), max(0.1, deadline - loop.time())
        )
        target.members += batch
    await asyncio.sleep(0.2)  # let the server settle after the last handshake
    per_connection = (current_memory(target.pid) - before) / target.size
    for index, member in enumerate(target.members):
        member.send_text(json.dumps({"type": "join", "name": f"m{index}"}))
    expected = target.size * (target.size + 1) // 2  # the k-th join is told to k members
    if not await wait_for(target, lambda: target.notes >= expected, deadline):
        raise TimeoutError(
            f"{target.kind}: {target.notes} of {expected} join notes after {timeout} s"
        )
    if target.errors:
        raise RuntimeError(f"{target.kind}, while joining: {target.errors}")
    return per_connection


async def measure(
    target: Target, messages: int, window: int, pad: int, timeout: float, progress: Progress
) -> dict[str, Any]:
    """Send ``messages`` chats from the target's senders, each with at most ``window`` of
    its own not yet delivered to all (one sender: ``m0``, ``window`` in flight).

    The phase runs on a :class:`Reader` of its own, not on asyncio's loop."""
    reader = Reader(target)
    try:
        await asyncio.sleep(0)  # reads asyncio had scheduled already run first
        return _measure(target, reader, messages, window, pad, timeout, progress)
    finally:
        reader.close()


def _measure(target: Target, reader: Reader, messages: int, window: int, pad: int,
             timeout: float, progress: Progress) -> dict[str, Any]:
    target.reset(messages)
    count = target.senders
    senders = target.members[:count]
    sent = [0] * count  # chats sent, per sender
    padding = " " + "x" * pad if pad else ""
    left_before = target.left_notes
    wire_before = target.wire_bytes
    cpu_before = cpu_seconds(target.pid)
    client_before = time.process_time()
    times_before = os.times()
    start = time.monotonic_ns()
    deadline = time.monotonic() + timeout
    reported = 0
    done = target.completed_by

    def can_send(index: int) -> bool:  # the sender has chats left and room in its window
        return index + count * sent[index] < messages and sent[index] - done[index] < window

    def ready() -> bool:
        return any(can_send(index) for index in range(count))

    for _ in range(messages):  # a turn sends at least one chat: bounded
        if sum(sent) >= messages:
            break
        if not ready():
            if not reader.wait(ready, deadline):
                break
            progress.add(target.completed - reported)
            reported = target.completed
        for index, sender in enumerate(senders):  # every sender with room sends one more
            if can_send(index):
                seq = index + count * sent[index]
                sent[index] += 1
                sender.send_text(f'{{"type": "chat", "text": "{seq} {time.monotonic_ns()}{padding}"}}')
    reader.wait(lambda: target.completed >= messages, deadline)
    elapsed = (time.monotonic_ns() - start) / 1e9
    cpu = cpu_seconds(target.pid) - cpu_before
    client_cpu = time.process_time() - client_before
    times_after = os.times()
    reader.check()  # the chats counted but not checked yet: after the clock stopped
    check_cpu = time.process_time() - client_before - client_cpu
    progress.add(target.completed - reported)
    deliveries = target.received
    return {
        "kind": target.kind,
        "senders": count,
        "expected": messages * target.size,
        "received": deliveries,
        "lost": messages * target.size - deliveries,
        "errors": list(target.errors),
        "seconds": elapsed,
        "deliveries_per_s": deliveries / elapsed if elapsed else 0.0,
        "latency_ms": percentiles(target.latencies),
        "server_cpu_s": cpu,
        "server_cpu_ms_per_1000": 1e6 * cpu / deliveries if deliveries else float("nan"),
        "server_cpu_share": cpu / elapsed if elapsed else 0.0,
        "client_cpu_s": client_cpu,
        "client_cpu_us_per_delivery": 1e6 * client_cpu / deliveries if deliveries else float("nan"),
        "client_cpu_share": client_cpu / elapsed if elapsed else 0.0,
        "client_user_s": times_after.user - times_before.user,
        "client_check_s": check_cpu,
        "client_system_s": times_after.system - times_before.system,
        "server_peak_kib": peak_memory(target.pid),
        "server_rss_kib": current_memory(target.pid),
        "left_notes": target.left_notes - left_before,
        "wire_bytes_per_delivery": (target.wire_bytes - wire_before) / deliveries if deliveries else 0.0,
        "negotiated": target.negotiated,
    }


async def run_clients(config: dict[str, Any]) -> dict[str, Any]:
    """Run the whole client side described by ``config``; return its results."""
    size, messages = config["size"], config["messages"]
    window, rounds, pad = config.get("window", 10), config.get("rounds", 1), config.get("pad", 0)
    timeout = config.get("timeout", 60.0)
    senders = config.get("senders", 1)
    if not 1 <= senders <= size:
        raise ValueError(f"senders must be 1 to the room's size ({size}), not {senders}")
    stall = config.get("stall", False)
    client = config.get("client", "browser")
    targets = [Target(t["kind"], t["port"], t["pid"], size, client, senders)
               for t in config["targets"]]
    progress = Progress(messages * len(targets) * (rounds + (1 if stall else 0)))
    idle: dict[str, float] = {}
    joined: dict[str, float] = {}
    for target in targets:
        before = current_memory(target.pid)
        idle[target.kind] = await connect_room(target, timeout)
        await asyncio.sleep(0.2)  # let the server settle after the last join note
        joined[target.kind] = (current_memory(target.pid) - before) / size
    result: dict[str, Any] = {"size": size, "messages": messages, "window": window, "pad": pad,
                              "senders": senders, "phases": [], "idle_kib_per_member": idle,
                              "joined_kib_per_member": joined}
    for round_ in range(rounds):
        order = targets if round_ % 2 == 0 else targets[::-1]  # alternate: drift hits all alike
        for target in order:
            phase = await measure(target, messages, window, pad, timeout, progress)
            phase["round"] = round_
            result["phases"].append(phase)
    if stall:  # the same again, with one member that stopped reading
        sockets = []
        for target in targets:
            sockets.append(open_stalled(target.port))
            joined = target.notes + target.size  # its join note, to every member but itself
            await wait_for(target, lambda: target.notes >= joined,
                           asyncio.get_running_loop().time() + timeout)
            phase = await measure(target, messages, window, pad, timeout, progress)
            phase["stalled"] = True
            phase["stalled_dropped"] = phase["left_notes"] == target.size
            result["phases"].append(phase)
        for sock in sockets:
            sock.close()
    progress.add(0, force=True)
    for target in targets:
        for member in target.members:
            member.transport.close()
    result["client_peak_kib"] = peak_memory(os.getpid())
    return result


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    config = json.loads(argv[0])
    # Every wait inside has its own deadline; this one bounds the whole run besides.
    limit = config.get("timeout", 60.0) * (3 + config.get("rounds", 1) * len(config["targets"]))
    result = asyncio.run(asyncio.wait_for(run_clients(config), limit))
    print(json.dumps({"result": result}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
