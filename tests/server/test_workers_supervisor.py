"""``serve --workers N``'s supervisor: dead workers come back, caps and budgets stay one.

Real parts only: ``python -m chatkit serve --workers N`` as a child process, a real
redis-server, clients on real sockets from distinct loopback addresses (``127.0.0.N``:
distinct clients, as far as a server can tell). Before issue 18 a SIGKILLed worker was
not replaced, the supervisor exited 0 once all were gone, and a client's caps counted
per worker: 24 of 40 connections kept with ``--max-per-client 8`` on 3 workers.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time

from websockets.exceptions import ConnectionClosed, InvalidStatus

from chatkit.server.handoff import worker_for
from tests.helpers.chat import recv_until, say
from tests.helpers.processes import SERVING, ChatkitServe
from tests.helpers.redis import PRESENCE
from tests.helpers.waiting import run, wait_until

from .test_processes import gone
from .test_workers import connect_from, joined_from

#: A dead worker serves again within this many seconds (its first restart waits 0.5 s;
#: a Python process with chatkit, websockets and redis imported takes about a second).
BACK_WITHIN = 10.0


def _supervisor(redis_url: str, workers: int, *extra: str) -> ChatkitServe:
    return ChatkitServe("--redis", redis_url, "--presence-timeout", str(PRESENCE),
                        "--workers", str(workers), "--quiet", *extra)


def _worker_pids(output: str) -> dict[int, int]:
    """Each worker's newest pid, read from the supervisor's log (``[worker 2 pid 1234] ...``)."""
    return {int(number): int(pid)
            for number, pid in re.findall(r"^\[worker (\d+) pid (\d+)\]", output, re.M)}


def _back(output: str, number: int, dead: int) -> bool:
    """Worker ``number`` serves again: its newest pid is not ``dead``, and it serves."""
    newest = _worker_pids(output).get(number)
    return newest != dead and re.search(rf"^\[worker {number} pid {newest}\] chatkit: serving",
                                        output, re.M) is not None


def _serving(server: ChatkitServe, workers: int) -> int:
    """Wait until the supervisor says all ``workers`` serve; its port."""
    server.wait_for(rf"^chatkit: serving on \S+:\d+ \({workers} workers")
    return int(SERVING.findall(server.output)[-1][1])


def test_a_killed_worker_is_replaced_and_the_log_says_so(redis_server):
    """SIGKILL a worker: the supervisor logs its number and the signal, starts a new one
    within ``BACK_WITHIN`` seconds, and clients of every address are served again."""
    with _supervisor(redis_server.url, 2) as parent:
        port = _serving(parent, 2)
        victim = _worker_pids(parent.output)[1]
        killed = time.monotonic()
        os.kill(victim, signal.SIGKILL)
        parent.wait_for(rf"^chatkit: worker 1 \(pid {victim}\) was killed by SIGKILL;"
                        r" restarting it in [\d.]+ s", BACK_WITHIN)
        # A client of worker 1 who connects now waits (its socket queued for the next
        # worker 1), and is served once it is back: not refused.
        early = next(f"127.0.0.{n}" for n in range(40, 60) if worker_for(f"127.0.0.{n}", 2) == 0)

        async def while_it_restarts():
            client = await joined_from(early, f"ws://127.0.0.1:{port}/chat/people", "early")
            await client.close()

        run(while_it_restarts)
        wait_until(lambda: _back(parent.output, 1, victim), "worker 1 back", BACK_WITHIN)
        back = time.monotonic() - killed
        assert back < BACK_WITHIN, back
        assert parent.returncode is None  # it kept serving all along
        replacement = _worker_pids(parent.output)[1]
        assert replacement != victim and not gone(replacement)

        async def body():  # sixteen clients from eight addresses: both workers serve
            url = f"ws://127.0.0.1:{port}/chat/people"
            clients = [await joined_from(f"127.0.0.{20 + i % 8}", url, f"s{i}")
                       for i in range(16)]
            await say(clients[0], "after the restart")
            for client in clients:
                await recv_until(client, lambda m: m.get("text") == "after the restart")
                await client.close()

        run(body)
        print(f"worker back {back:.2f} s after SIGKILL")  # the figure, with -s


def test_a_worker_that_dies_at_once_again_and_again_makes_the_supervisor_give_up(redis_server):
    """Kill worker 1 each time it comes back: after a few deaths soon after its start the
    supervisor stops every worker and exits non-zero saying why (a service manager
    then restarts it, or tells someone) -- it does not exit 0, nor go on forever."""
    with _supervisor(redis_server.url, 2) as parent:
        _serving(parent, 2)
        kills = 0
        started = time.monotonic()
        while parent.returncode is None and kills < 8 and time.monotonic() - started < 60:
            pid = _worker_pids(parent.output)[1]
            os.kill(pid, signal.SIGKILL)
            kills += 1
            wait_until(lambda: parent.returncode is not None or _back(parent.output, 1, pid),
                       "worker 1 back, or the supervisor gone", 40)
        code = parent.wait(20)
        assert code == 1, (code, parent.output[-2000:])
        assert re.search(r"^chatkit: worker 1 died within \d+ s of its start \d+ times in a"
                         r" row \(last: killed by SIGKILL\); giving up", parent.output, re.M), \
            parent.output[-2000:]
        assert 3 <= kills <= 6, kills
        for pid in _worker_pids(parent.output).values():
            wait_until(lambda: gone(pid), f"worker pid {pid} gone", 10)


def test_a_worker_that_cannot_start_again_makes_the_supervisor_give_up(redis_server):
    """Redis gone, then a worker dies: each replacement exits at once (it cannot reach
    Redis); after the pauses (0.5, 1, 2, 4 s) the supervisor gives up with exit code 1,
    saying how the last one ended -- it does not retry forever."""
    with _supervisor(redis_server.url, 2) as parent:
        _serving(parent, 2)
        redis_server.stop()
        os.kill(_worker_pids(parent.output)[2], signal.SIGKILL)
        assert parent.wait(40) == 1, parent.output[-2000:]
        assert re.search(r"^chatkit: worker 2 died within \d+ s of its start 5 times in a row"
                         r" \(last: exited with code 1\); giving up", parent.output, re.M), \
            parent.output[-2000:]
        assert parent.output.count("cannot reach Redis") >= 4
        for pid in _worker_pids(parent.output).values():
            wait_until(lambda: gone(pid), f"worker pid {pid} gone", 10)


def test_sigterm_stops_everything_promptly_and_a_killed_supervisor_leaves_no_worker(redis_server):
    """SIGTERM (even while a restart is pending) stops the supervisor and all its
    workers within seconds, exit code 0; a SIGKILLed supervisor's workers notice
    (their channel to it ends) and exit too: none is left serving alone."""
    with _supervisor(redis_server.url, 2) as parent:
        _serving(parent, 2)
        pids = _worker_pids(parent.output)
        os.kill(pids[2], signal.SIGKILL)
        parent.wait_for(r"^chatkit: worker 2 .* restarting it in", BACK_WITHIN)
        asked = time.monotonic()
        parent.send_signal(signal.SIGTERM)
        assert parent.wait(10) == 0, parent.output[-2000:]
        assert time.monotonic() - asked < 5
        for pid in _worker_pids(parent.output).values():
            wait_until(lambda: gone(pid), f"worker pid {pid} gone", 5)
        assert "chatkit: stopped" in parent.output

    with _supervisor(redis_server.url, 2) as parent:
        _serving(parent, 2)
        pids = list(_worker_pids(parent.output).values())
        os.kill(parent.pid, signal.SIGKILL)  # by pid: parent.kill() would end its workers too
        parent.wait(5)
        for pid in pids:
            wait_until(lambda: gone(pid), f"worker pid {pid} gone after its supervisor", 10)


async def _kept(url: str, address: str, attempts: int) -> list:
    """Open ``attempts`` connections from ``address``; those the server kept (open
    after the handshake, and still answering an echo)."""
    results = await asyncio.gather(*(connect_from(address, url) for _ in range(attempts)),
                                   return_exceptions=True)
    opened = [each for each in results if not isinstance(each, BaseException)]
    refused = [each for each in results if isinstance(each, BaseException)]
    assert all(isinstance(each, (InvalidStatus, ConnectionError, OSError)) for each in refused), \
        refused[:3]
    kept = []
    for client in opened:
        try:
            await client.send("still here?")
            async with asyncio.timeout(5):
                await client.recv()
            kept.append(client)
        except (ConnectionClosed, TimeoutError):
            await client.close()
    return kept


def test_the_per_client_cap_holds_across_all_workers(redis_server):
    """``--max-per-client 8`` on 3 workers: 40 connections from one address, at most 8
    kept (before: 24, 8 per worker); another address still gets in."""
    with _supervisor(redis_server.url, 3, "--max-per-client", "8") as parent:
        port = _serving(parent, 3)

        async def body():
            url = f"ws://127.0.0.1:{port}/echo"
            kept = await _kept(url, "127.0.0.2", 40)
            other = await _kept(url, "127.0.0.3", 2)
            print(f"kept {len(kept)} of 40 from one address; {len(other)} of 2 from another")
            assert len(kept) == 8, len(kept)
            assert len(other) == 2
            for client in kept + other:
                await client.close()

        run(body)


#: The default client budget (chatkit.core.limits.ClientLimit): 60 at once, 30 a second.
BURST, PER_SECOND = 60, 30
#: How long the budget test counts echoes; the tolerance on one worker's budget.
WINDOW, TOLERANCE = 2.0, 1.25


def test_the_message_budget_holds_across_all_workers(redis_server):
    """Nine echo connections from one address, 60 messages each at once: within 2 s the
    client gets no more than one budget's worth (60 + 30 x 2 = 120, +25 % for timing) --
    before, its connections spread over 3 workers, each with a budget of its own."""
    with _supervisor(redis_server.url, 3) as parent:
        port = _serving(parent, 3)

        async def body():
            url = f"ws://127.0.0.1:{port}/echo"
            clients = [await connect_from("127.0.0.4", url) for _ in range(9)]
            echoed = [0] * len(clients)

            async def count(index, client):
                try:
                    async with asyncio.timeout(WINDOW):
                        async for message in client:
                            echoed[index] += message.startswith("m")
                except TimeoutError:
                    pass

            counting = [asyncio.create_task(count(i, c)) for i, c in enumerate(clients)]
            for client in clients:
                for n in range(60):
                    await client.send(f"m{n}")
            await asyncio.gather(*counting)
            for client in clients:
                await client.close()
            return sum(echoed)

        total = run(body)
        ceiling = (BURST + PER_SECOND * WINDOW) * TOLERANCE
        print(f"echoed {total} in {WINDOW} s; one budget allows {BURST + PER_SECOND * WINDOW:g}")
        assert BURST <= total <= ceiling, total
