"""Fan-out across processes: one room, its members spread over 1, 2, 4 servers on one Redis.

::

    python -m benchmarks.redis_fanout                          # 400 members; 1, 2 and 4 processes
    python -m benchmarks.redis_fanout --size 200 --processes 1 2 --rounds 1 --plot fanout-redis.png

For each process count P it starts a Redis of its own (persistence off) and P server
processes (``ChatServer(redis=..., rate_limit=None)``); one client process holds a room
of ``size`` lean members (:mod:`chatkit.bench.clients`' ``Member``) for each P, spread
evenly over its servers; member ``m0``, on the first server, sends. All configurations
are set up at once and take turns, round after round, so a busy moment on a shared
machine hits them alike. Each chat
crosses Redis once and is delivered by every server to its own members. It reports
deliveries per second, send-to-arrival latency (p50/p99), and the CPU each server and
Redis spent per 1,000 deliveries, beside the same room on one server without Redis
(``P = 0`` in the table: the baseline). A lost or out-of-order chat fails the run (exit 1).
``--publish-cost`` measures Redis alone: its CPU per chat with 1 to 64 subscribed servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any

from chatkit.bench.clients import Member, Target, cpu_seconds, percentiles
from chatkit.support.processes import ChildExited, start_child

__all__ = ["run", "table", "plot", "publish_cost", "main"]

#: The repository's root: where ``python -m benchmarks.redis_fanout`` finds this module.
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_PROCESSES = (1, 2, 4)


# -- the servers under test ----------------------------------------------------------


async def _serve(redis_url: str | None) -> None:
    from chatkit.bench.servers import until_stdin_closes
    from chatkit.server import ChatServer

    options = {"redis": redis_url, "presence_timeout": 30.0} if redis_url else {}
    async with ChatServer(rate_limit=None, max_per_client=None, **options).serve("127.0.0.1", 0) as server:
        print(f"port {server.sockets[0].getsockname()[1]}", flush=True)
        await until_stdin_closes()


class _Server:
    """``python -m benchmarks.redis_fanout --serve [URL]`` until its stdin closes."""

    def __init__(self, redis_url: str | None, timeout: float = 30) -> None:
        try:
            self.child = start_child(
                [sys.executable, "-m", "benchmarks.redis_fanout", "--serve", redis_url or "-"],
                stdin=subprocess.PIPE, stderr=None, cwd=ROOT, ready_line=r"^port (\d+)",
                timeout=timeout, name="a server under test")
        except (ChildExited, TimeoutError) as exc:
            raise RuntimeError(f"a server under test did not start: {exc}") from None
        self.pid = self.child.pid
        self.port = int(self.child.ready_match[1])

    def stop(self) -> None:
        self.child.stop(timeout=10, sig=None)  # its stdin closed: it stops


# -- the clients: one room over several servers -------------------------------------


async def _wait(targets: list[Target], condition, deadline: float) -> bool:
    loop = asyncio.get_running_loop()
    while not condition():
        left = deadline - loop.time()
        if left <= 0:
            return False
        waiter = loop.create_future()
        for target in targets:
            target.waiter = waiter  # any member's arrival wakes us
        try:
            await asyncio.wait_for(waiter, min(left, 0.5))
        except asyncio.TimeoutError:
            pass
    return True


async def _join_group(group: dict[str, Any], size: int, timeout: float) -> list[Target]:
    """One room of ``size`` members spread over the group's servers; wait for every join note."""
    loop = asyncio.get_running_loop()
    servers = group["servers"]
    shares = [size // len(servers) + (i < size % len(servers)) for i in range(len(servers))]
    targets = [Target("server", s["port"], s["pid"], share) for s, share in zip(servers, shares)]
    deadline = loop.time() + timeout
    for target in targets:  # connect everyone, then join one after another
        for _ in range(target.size):
            _, member = await loop.create_connection(lambda: Member(target), "127.0.0.1", target.port)
            await asyncio.wait_for(member.open, timeout)
            target.members.append(member)
    index = 0
    for round_robin in range(max(shares)):  # m0 on the first server, m1 on the second, ...
        for target in targets:
            if round_robin < target.size:
                target.members[round_robin].send_text(
                    json.dumps({"type": "join", "name": f"m{index}"}))
                index += 1
        await asyncio.sleep(0)
    expected = size * (size + 1) // 2
    if not await _wait(targets, lambda: sum(t.notes for t in targets) >= expected, deadline):
        raise TimeoutError(f"{sum(t.notes for t in targets)} of {expected} join notes")
    return targets


async def _measure(targets: list[Target], pids: list[int], messages: int, window: int,
                   timeout: float) -> dict[str, Any]:
    """``messages`` chats from ``m0`` to the whole room; what it cost each process."""
    loop = asyncio.get_running_loop()
    size = sum(t.size for t in targets)
    sender = targets[0].members[0]
    for target in targets:
        target.reset(messages)
    completed = lambda: min(t.completed for t in targets)  # noqa: E731
    cpu_before = [cpu_seconds(pid) for pid in pids]
    start = time.monotonic_ns()
    deadline = loop.time() + timeout
    for seq in range(messages):
        if seq - completed() >= window:
            if not await _wait(targets, lambda: seq - completed() < window, deadline):
                break
        sender.send_text(f'{{"type": "chat", "text": "{seq} {time.monotonic_ns()}"}}')
    await _wait(targets, lambda: completed() >= messages, deadline)
    elapsed = (time.monotonic_ns() - start) / 1e9
    cpu = [cpu_seconds(pid) - before for pid, before in zip(pids, cpu_before)]
    received = sum(t.received for t in targets)
    return {
        "seconds": elapsed, "expected": messages * size, "received": received,
        "errors": [e for t in targets for e in t.errors],
        "deliveries_per_s": received / elapsed if elapsed else 0.0,
        "latency_ms": percentiles([lat for t in targets for lat in t.latencies]),
        "server_cpu_s": cpu[:-1], "redis_cpu_s": cpu[-1],
    }


async def _clients(config: dict[str, Any]) -> dict[str, Any]:
    """Every group's room at once; then rounds in which the groups take turns."""
    size, timeout = config["size"], config["timeout"]
    groups = [await _join_group(group, size, timeout) for group in config["groups"]]
    phases = []
    for round_ in range(config["rounds"]):
        order = list(range(len(groups)))
        for number in (order if round_ % 2 == 0 else order[::-1]):  # drift hits all alike
            group = config["groups"][number]
            pids = [s["pid"] for s in group["servers"]] + [group["redis_pid"]]
            phase = await _measure(groups[number], pids, config["messages"], config["window"],
                                   timeout)
            phases.append({**phase, "group": number, "round": round_})
    for targets in groups:
        for target in targets:
            for member in target.members:
                member.transport.close()
    return {"phases": phases}


def clients_main(config: str) -> int:
    result = asyncio.run(_clients(json.loads(config)))
    print(json.dumps({"result": result}), flush=True)
    return 0


# -- the run ------------------------------------------------------------------------


def _summary(processes: int, size: int, messages: int, phases: list[dict[str, Any]]) -> dict[str, Any]:
    median = statistics.median
    deliveries = [p["received"] for p in phases]
    return {
        "processes": processes, "size": size, "messages": messages, "rounds": len(phases),
        "deliveries_per_s": median([p["deliveries_per_s"] for p in phases]),
        "deliveries_per_s_each_round": [round(p["deliveries_per_s"]) for p in phases],
        "latency_ms": {k: median([p["latency_ms"][k] for p in phases])
                       for k in phases[0]["latency_ms"]},
        # CPU per 1,000 deliveries: each server's (its own members' share), and Redis's
        "server_cpu_ms_per_1000": [median([1e6 * p["server_cpu_s"][i] / d
                                           for p, d in zip(phases, deliveries)])
                                   for i in range(len(phases[0]["server_cpu_s"]))],
        "redis_cpu_ms_per_1000": (median([1e6 * p["redis_cpu_s"] / d
                                          for p, d in zip(phases, deliveries)])
                                  if processes else 0.0),
        "lost": sum(p["expected"] - p["received"] for p in phases),
        "errors": [e for p in phases for e in p["errors"]][:10],
    }


def run(processes=DEFAULT_PROCESSES, *, size: int = 400, messages: int | None = None,
        window: int = 10, rounds: int = 3, baseline: bool = True,
        timeout: float = 120) -> dict[str, Any]:
    """The whole benchmark: every configuration set up at once, then rounds in which they
    take turns (a baseline of one server without Redis first, unless ``baseline=False``)."""
    from chatkit.redis.local import start_redis

    messages = messages or max(50, 60_000 // size)
    counts = ([0] if baseline else []) + list(processes)
    results: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0],
                               "runs": []}
    redises, servers, groups = [], [], []
    try:
        for count in counts:  # P = 0: one server, no Redis (its "Redis" CPU is its own: unused)
            redis = start_redis() if count else None
            if redis is not None:
                redises.append(redis)
            group = [_Server(redis.url if redis else None) for _ in range(max(1, count))]
            servers += group
            groups.append({"servers": [{"port": s.port, "pid": s.pid} for s in group],
                           "redis_pid": redis.pid if redis else group[0].pid})
        print(f"redis_fanout: one room of {size} members over {', '.join(map(str, counts))}"
              " server processes (0: one, without Redis), taking turns...", file=sys.stderr,
              flush=True)
        config = {"size": size, "messages": messages, "window": window, "rounds": rounds,
                  "timeout": timeout, "groups": groups}
        clients = start_child(
            [sys.executable, "-m", "benchmarks.redis_fanout", "--clients", json.dumps(config)],
            cwd=ROOT, name="the clients")
        try:
            clients.wait(timeout * (rounds * len(counts) + 2))
        except subprocess.TimeoutExpired:
            pass
        finally:
            clients.stop()
        lines = [line for line in clients.lines if line.startswith('{"result"')]
        if not lines:
            raise RuntimeError(f"the clients failed: {clients.output[-2000:]}")
        phases = json.loads(lines[-1])["result"]["phases"]
    finally:
        for server in servers:
            server.stop()
        for redis in redises:
            redis.stop()
    for number, count in enumerate(counts):
        results["runs"].append(_summary(count, size, messages,
                                        [p for p in phases if p["group"] == number]))
    results["load_after"] = os.getloadavg()[0]
    results["lost"] = sum(r["lost"] + len(r["errors"]) for r in results["runs"])
    return results


# -- Redis alone: what a published chat costs it, per subscribed server ----------------


async def _publish_cost(subscribers: tuple[int, ...], chats: int) -> list[dict[str, float]]:
    import redis.asyncio as aioredis

    from chatkit.redis.local import start_redis

    payload = "all 0123456789ab\n" + json.dumps(
        {"type": "chat", "name": "m0", "text": "12 1234567890123456789"})
    rows = []
    for count in subscribers:
        redis = start_redis()
        received = [0] * count

        async def drain(index: int, ready: asyncio.Event) -> None:
            reader, writer = await asyncio.open_connection("127.0.0.1", redis.port)
            writer.write(b"*2\r\n$10\r\nPSUBSCRIBE\r\n$14\r\nchatkit:room:*\r\n")
            await reader.readuntil(b":1\r\n")
            ready.set()
            while data := await reader.read(1 << 16):
                received[index] += data.count(b"pmessage")

        readies = [asyncio.Event() for _ in range(count)]
        tasks = [asyncio.create_task(drain(i, ready)) for i, ready in enumerate(readies)]
        client = aioredis.Redis(port=redis.port)
        try:
            async with asyncio.timeout(60):
                for ready in readies:
                    await ready.wait()
                before, start = cpu_seconds(redis.pid), time.monotonic()
                for first in range(0, chats, 50):  # 50 a round trip, as a busy publisher sends
                    pipe = client.pipeline(transaction=False)
                    for i in range(first, min(first + 50, chats)):
                        pipe.publish(f"chatkit:room:r{i % 10}", payload)
                    await pipe.execute()
                while sum(received) < chats * count:
                    await asyncio.sleep(0.01)
            cpu = cpu_seconds(redis.pid) - before
            rows.append({"subscribers": count, "us_per_chat": 1e6 * cpu / chats,
                         "us_per_copy": 1e6 * cpu / (chats * count),
                         "chats_per_s": chats / (time.monotonic() - start)})
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await client.aclose()
            redis.stop()
    return rows


def publish_cost(subscribers: tuple[int, ...] = (1, 4, 16, 64), chats: int = 20_000) -> str:
    """Redis's CPU per published chat with K pattern subscribers (servers) draining it: a table."""
    rows = asyncio.run(_publish_cost(subscribers, chats))
    lines = ["| subscribers (servers) | Redis CPU per chat | per copy |", "| ---: | ---: | ---: |"]
    lines += [f"| {r['subscribers']} | {r['us_per_chat']:.1f} µs | {r['us_per_copy']:.2f} µs |"
              for r in rows]
    return "\n".join(lines)


def table(results: dict[str, Any]) -> str:
    lines = [
        "| processes | deliveries/s | p50 ms | p99 ms | CPU ms per 1,000 deliveries:"
        " each server | all servers | Redis |",
        "| --- | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for r in results["runs"]:
        each = ", ".join(f"{c:.0f}" for c in r["server_cpu_ms_per_1000"])
        lines.append(
            f"| {'1, no Redis' if not r['processes'] else r['processes']} |"
            f" {r['deliveries_per_s']:,.0f} | {r['latency_ms']['p50']:.1f} |"
            f" {r['latency_ms']['p99']:.1f} | {each} | {sum(r['server_cpu_ms_per_1000']):.0f} |"
            f" {r['redis_cpu_ms_per_1000']:.1f} |")
    lines.append(f"\n{results['runs'][0]['size']} members, {results['runs'][0]['messages']} chats"
                 f" per round, median of {results['runs'][0]['rounds']} rounds;"
                 f" {results['cpus']} CPUs, load {results['load_before']:.1f} before,"
                 f" {results['load_after']:.1f} after; lost: {results['lost']}")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: str | None = None) -> Any:
    import matplotlib

    if path:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = results["runs"]
    labels = ["1\n(no Redis)" if not r["processes"] else str(r["processes"]) for r in runs]
    fig, (left, right, cpu) = plt.subplots(1, 3, figsize=(14, 3.8))
    left.bar(labels, [r["deliveries_per_s"] for r in runs], color="tab:blue")
    left.set_title("deliveries per second")
    left.set_xlabel("server processes")
    width = 0.38
    xs = range(len(runs))
    right.bar([x - width / 2 for x in xs], [r["latency_ms"]["p50"] for r in runs], width,
              label="p50")
    right.bar([x + width / 2 for x in xs], [r["latency_ms"]["p99"] for r in runs], width,
              label="p99")
    right.set_xticks(list(xs), labels)
    right.set_title("send to arrival, ms")
    right.set_xlabel("server processes")
    right.legend()
    for x, r in zip(xs, runs):  # each server's share, stacked, then Redis's on top
        bottom = 0.0
        for i, share in enumerate(r["server_cpu_ms_per_1000"]):
            cpu.bar(x, share, bottom=bottom, color="tab:blue" if i % 2 == 0 else "tab:cyan",
                    edgecolor="white", label="servers" if x == 0 and i == 0 else None)
            bottom += share
        cpu.bar(x, r["redis_cpu_ms_per_1000"], bottom=bottom, color="tab:red",
                label="Redis" if x == 1 else None)
    cpu.set_xticks(list(xs), labels)
    cpu.set_title("CPU ms per 1,000 deliveries")
    cpu.set_xlabel("server processes (one band each)")
    cpu.legend()
    fig.suptitle(f"One room of {runs[0]['size']} members spread over server processes"
                 f" on one Redis ({results['cpus']} CPUs)")
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=110)
    return fig


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--serve"]:
        asyncio.run(_serve(None if argv[1] == "-" else argv[1]))
        return 0
    if argv[:1] == ["--clients"]:
        return clients_main(argv[1])
    parser = argparse.ArgumentParser(prog="python -m benchmarks.redis_fanout",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=400, help="members in the room")
    parser.add_argument("--processes", type=int, nargs="+", default=list(DEFAULT_PROCESSES))
    parser.add_argument("--messages", type=int, help="chats per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--window", type=int, default=10,
                        help="chats sent but not yet delivered to everyone, at most")
    parser.add_argument("--no-baseline", action="store_true",
                        help="skip the one-server, no-Redis baseline")
    parser.add_argument("--plot", help="save the plot to this PNG file")
    parser.add_argument("--json", help="save the results to this JSON file")
    parser.add_argument("--publish-cost", action="store_true",
                        help="measure Redis alone: CPU per chat with 1, 4, 16, 64 subscribers")
    args = parser.parse_args(argv)
    if args.publish_cost:
        print(publish_cost())
        return 0
    results = run(args.processes, size=args.size, messages=args.messages, window=args.window,
                  rounds=args.rounds, baseline=not args.no_baseline)
    print(table(results))
    if args.json:
        with open(args.json, "w") as file:
            json.dump(results, file, indent=1)
    if args.plot:
        plot(results, args.plot)
    if results["lost"]:
        print(f"redis_fanout: {results['lost']} chats lost or out of order", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
