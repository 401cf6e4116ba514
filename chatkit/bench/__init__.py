"""How many students can one room hold? The fan-out benchmark, with browser-like clients.

One chat to a room of N members is N deliveries: the server encodes the JSON once,
builds the frame once, and writes it to every member. This module measures what
that costs chatkit beside the original express-ws server (kind ``seed``, run by
Node: :mod:`chatkit.bench.peers`) and a *floor* (the same protocol as a bare
handler on ``websockets.broadcast``, no ``ChatUser``, no ``Room``). The clients
offer ``permessage-deflate`` as browsers do (:mod:`chatkit.bench.clients`).
Absolute numbers drift on a shared machine, so each server is reported as a ratio
to the original (else the floor), measured in the same run, round by round, the
servers taking turns; the median ratio is printed with its range::

    python -m chatkit.bench                          # sizes 10 200 1000; seed floor chatkit live
    python -m chatkit.bench --sizes 200 1000 --rounds 5 --kinds seed chatkit shared deflate \\
        --plot bench-results/fanout.png              # + bench-results/fanout-compression.png

From Python (a notebook)::

    >>> from chatkit import bench
    >>> results = bench.run(sizes=[10], messages=20, rounds=1, kinds=("floor", "chatkit"),
    ...                     stall_size=0, progress=None)   # doctest: +SKIP
    >>> results["sizes"][0]["chatkit"]["lost"]              # doctest: +SKIP
    0

Every server under test runs in a process of its own on 127.0.0.1
(:mod:`chatkit.bench.servers`), the clients in another; ``/proc/<pid>`` gives the
server's CPU time and memory. The servers run with no rate limit: the benchmark's
single sender sends as fast as the room absorbs, far above the classroom limit of
15 messages a second, which a real room spreads over many senders.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from typing import Any, Callable

from .servers import KernelServer, ServerProcess
from ..support.loop_thread import LoopThread
from ..support.processes import raise_file_limit, start_child

__all__ = [
    "run", "run_size", "compare_broadcast", "python_overhead", "plot", "plot_compression",
    "plot_workloads", "table",
    "KINDS", "ALL_KINDS",
]

#: The servers a run can measure: the floor, chatkit by ``serve``, chatkit by ``start``
#: in a process mimicking a kernel, and in a real Jupyter kernel (``"kernel"``, not by default).
KINDS = ("floor", "chatkit", "live")
ALL_KINDS = ("seed",) + KINDS + ("kernel", "shared", "deflate", "uvloop", "unbatched",
                                 "fastapi", "fastapi-off")
DESCRIPTIONS = {
    "seed": "the express-ws original (Node; compression off, as Node's ws defaults)",
    "floor": "bare websockets.broadcast handler, compression off (no ChatUser, no Room)",
    "chatkit": "chatkit.serve(rate_limit=None), as `python -m chatkit serve` runs it",
    "live": "chatkit.start(rate_limit=None): own loop in a thread, beside an idle main loop",
    "kernel": "chatkit.start(rate_limit=None) run in a real Jupyter kernel (jupyter_client)",
    "shared": "chatkit.serve(compression='shared'): deflate, compressed once per broadcast",
    "deflate": "chatkit.serve(compression='deflate'): websockets' deflate, once per member",
    "uvloop": "chatkit.serve(rate_limit=None) on uvloop's event loop (pip install uvloop)",
    "unbatched": "chatkit.serve(rate_limit=None), one write per frame (no Outbox)",
    "fastapi": "the same chat in FastAPI's usual style, uvicorn's defaults (deflate per member)",
    "fastapi-off": "the same FastAPI chat, uvicorn --ws-per-message-deflate false",
}
#: What each run compares everything with: the original when Node is here, else the floor
#: (else the first kind measured).
BASELINES = ("seed", "floor")
DEFAULT_SIZES = (10, 200, 1000)
TARGET_DELIVERIES = 60_000  # per measured phase, when messages are not given

Progress = Callable[[str, int, int], None]


# -- running the clients --------------------------------------------------------


def _clients(config: dict[str, Any], label: str, progress: Progress | None,
             timeout: float) -> dict[str, Any]:
    """Run :mod:`chatkit.bench.clients` with ``config``; forward its progress; return its result."""
    clients = start_child([sys.executable, "-m", "chatkit.bench.clients", json.dumps(config)],
                          stderr=None, name=f"the clients ({label})")
    result = None
    deadline = time.monotonic() + timeout  # the clients bound their waits too
    try:
        for line in clients.iter_lines(timeout):
            message = json.loads(line)
            if "progress" in message and progress is not None:
                progress(label, message["progress"], message["total"])
            elif "result" in message:
                result = message["result"]
        clients.wait(max(1.0, deadline - time.monotonic()))
    except (TimeoutError, subprocess.TimeoutExpired):
        pass
    finally:
        code = clients.stop()
    if result is None:
        raise RuntimeError(f"the clients failed ({label}): exit code {code}")
    return result


def _summary(phases: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians over the rounds of one server; losses and errors summed."""
    median = lambda key: statistics.median(p[key] for p in phases)  # noqa: E731
    return {
        "deliveries_per_s": median("deliveries_per_s"),
        "latency_ms": {k: statistics.median(p["latency_ms"][k] for p in phases)
                       for k in phases[0]["latency_ms"]},
        "server_cpu_ms_per_1000": median("server_cpu_ms_per_1000"),
        "server_cpu_share": median("server_cpu_share"),
        "client_cpu_share": median("client_cpu_share"),
        "client_cpu_us_per_delivery": median("client_cpu_us_per_delivery"),
        "server_peak_mib": max(p["server_peak_kib"] for p in phases) / 1024,
        "wire_bytes_per_delivery": median("wire_bytes_per_delivery"),
        "negotiated": phases[0].get("negotiated", ""),
        "expected": sum(p["expected"] for p in phases),
        "received": sum(p["received"] for p in phases),
        "lost": sum(p["lost"] for p in phases),
        "errors": [e for p in phases for e in p["errors"]],
        "rounds": len(phases),
    }


def run_size(size: int, *, messages: int | None = None, window: int = 10, rounds: int = 3,
             kinds: tuple[str, ...] = KINDS, pad: int = 0, stall: bool = False,
             client: str = "browser", progress: Progress | None = None,
             timeout: float = 120, senders: int = 1) -> dict[str, Any]:
    """Measure a room of ``size`` members on each server kind; return medians per kind.

    ``senders`` members send (``m0``, ``m1``, ...), each with at most ``window`` of its
    chats in flight: ``senders=20, window=2`` is the issue's W3, twenty people at once.
    ``client``: ``"browser"`` (offers deflate as browsers do) or ``"lean"`` (offers nothing).
    ``out["ratios"][kind]`` holds each kind's paired ratios to the baseline (the
    original, else the floor): the median and the range over the rounds.
    """
    if not 1 <= senders <= size:
        raise ValueError(f"senders must be 1 to the room's size ({size}), not {senders}")
    if messages is None:
        messages = max(50, TARGET_DELIVERIES // size)
    servers = []
    try:
        for kind in kinds:
            servers.append(KernelServer() if kind == "kernel" else ServerProcess(kind))
        config = {
            "size": size, "messages": messages, "window": window, "rounds": rounds,
            "pad": pad, "stall": stall, "timeout": timeout, "client": client,
            "senders": senders, "targets": [{"kind": s.kind, "port": s.port, "pid": s.pid} for s in servers],
        }
        label = f"{size} members" + (" + 1 stalled" if stall else "")
        raw = _clients(config, label, progress, timeout * (4 + rounds * len(kinds)))
    finally:
        for server in servers:
            server.stop()
    out: dict[str, Any] = {"size": size, "messages": messages, "window": window, "pad": pad,
                           "senders": senders, "client": client, "client_peak_mib": raw["client_peak_kib"] / 1024}
    for kind in kinds:
        phases = [p for p in raw["phases"] if p["kind"] == kind and not p.get("stalled")]
        if phases:
            out[kind] = _summary(phases)
            # the server's memory per open connection (handshakes done, nobody joined yet),
            # and per member once all joined (the join notes' N^2/2 deliveries included)
            out[kind]["idle_kib_per_member"] = raw["idle_kib_per_member"].get(kind)
            out[kind]["joined_kib_per_member"] = raw["joined_kib_per_member"].get(kind)
        stalled = [p for p in raw["phases"] if p["kind"] == kind and p.get("stalled")]
        if stalled:
            out[kind + "_stalled"] = {**_summary(stalled),
                                      "stalled_dropped": stalled[0]["stalled_dropped"]}
    if stall:
        return out

    def paired(kind: str, base: str, key: str) -> list[float]:
        """Ratios of the phases that ran side by side (same round): drift hits both alike."""
        by_round = {p["round"]: p for p in raw["phases"] if p["kind"] == base}
        return [p[key] / by_round[p["round"]][key] for p in raw["phases"]
                if p["kind"] == kind and p["round"] in by_round and by_round[p["round"]][key]]

    def spread(values: list[float]) -> dict[str, float]:
        return {"median": statistics.median(values), "low": min(values), "high": max(values)}

    base = next((b for b in BASELINES if b in out), next((k for k in kinds if k in out), None))
    out["baseline"] = base
    out["ratios"] = {}
    if base is not None:
        for kind in kinds:
            if kind != base and kind in out:
                out["ratios"][kind] = {
                    "rate": spread(paired(kind, base, "deliveries_per_s")),
                    "cpu": spread(paired(kind, base, "server_cpu_ms_per_1000")),
                }
    if base is not None and "chatkit" in out["ratios"]:  # the headline pair, as before
        out["ratio"] = {"deliveries_per_s": out["ratios"]["chatkit"]["rate"]["median"],
                        "server_cpu_per_delivery": out["ratios"]["chatkit"]["cpu"]["median"]}
        for kind in ("live", "kernel"):
            if kind in out:
                versus = paired(kind, "chatkit", "deliveries_per_s")
                out["ratio"][f"{kind}_vs_serve"] = statistics.median(versus)
                out["ratios"][f"{kind}_vs_serve"] = {
                    "rate": spread(versus),
                    "cpu": spread(paired(kind, "chatkit", "server_cpu_ms_per_1000"))}
    return out


def run(sizes=DEFAULT_SIZES, *, messages: int | None = None, window: int = 10, rounds: int = 3,
        kinds: tuple[str, ...] = KINDS, stall_size: int = 20, stall_messages: int = 3000,
        stall_pad: int = 3000, client: str = "browser", progress: Progress | str | None = "text",
        overhead: bool = True, timeout: float = 120, senders: int = 1) -> dict[str, Any]:
    """Run the fan-out benchmark; return ``{"sizes": [...], "stall": {...}, "lost": n}``.

    Args:
        sizes: room sizes (members, one of whom sends).
        messages: chats per measured phase (default: about 60,000 deliveries' worth).
        window: chats sent but not yet delivered to everyone, at most, per sender.
        rounds: measured phases per server; the servers take turns, medians are kept.
        kinds: which servers (see :data:`DESCRIPTIONS`): ``"seed"`` (the express-ws
            original, skipped with a message where Node is missing), ``"floor"``,
            ``"chatkit"``, ``"live"``, ``"kernel"`` (``chatkit.start()`` in a real
            Jupyter kernel), ``"shared"`` and ``"deflate"`` (chatkit's other
            compression policies), ``"fastapi"`` and ``"fastapi-off"`` (the same chat
            in FastAPI, in a venv of its own: :mod:`chatkit.bench.peers`).
        client: ``"browser"`` (the default: offers deflate as browsers do) or ``"lean"``.
        stall_size: room size for the stalled-member scenario (0: skip it); it
            sends ``stall_messages`` chats of ``stall_pad`` bytes, enough to fill the
            kernel's socket buffers and the server's 1 MiB allowance for the stalled one.
        progress: ``"text"`` (a bar on stderr), ``"widget"`` (in a notebook), a
            function ``progress(label, done, total)``, or None.
        senders: members that send at once, each with its own ``window`` (the
            stalled-member scenario keeps one).
    """
    skipped = {}
    from .peers import peer_unavailable

    for kind in [k for k in kinds if k == "seed" or k.startswith("fastapi")]:
        reason = peer_unavailable(kind)  # installs the peer once, if it can
        if reason is not None:
            skipped[kind] = reason
            kinds = tuple(k for k in kinds if k != kind)
    if "uvloop" in kinds:
        import importlib.util

        if importlib.util.find_spec("uvloop") is None:
            skipped["uvloop"] = "uvloop is not installed (pip install uvloop): kind 'uvloop' is skipped"
            kinds = tuple(k for k in kinds if k != "uvloop")
    raise_file_limit()  # a room of 5,000 members: as many sockets here and in the children
    progress = _progress(progress)
    results: dict[str, Any] = {"sizes": [], "kinds": list(kinds), "skipped": skipped,
                               "client": client, "senders": senders, "window": window,
                               "servers": {k: DESCRIPTIONS[k] for k in kinds},
                               "rate_limit": "off (rate_limit=None) on every server under test",
                               "cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    for size in sizes:
        results["sizes"].append(run_size(size, messages=messages, window=window, rounds=rounds,
                                         kinds=kinds, client=client, progress=progress,
                                         timeout=timeout, senders=senders))
    if stall_size:
        stall_kinds = tuple(k for k in ("floor", "chatkit") if k in kinds) or ("chatkit",)
        results["stall"] = run_size(stall_size, messages=stall_messages, window=window, rounds=1,
                                    kinds=stall_kinds, pad=stall_pad, stall=True, client=client,
                                    progress=progress, timeout=timeout)
    if overhead:
        results["python_overhead"] = python_overhead(
            sizes=[s for s in sizes if s <= 1000][:4] or [10])
    results["lost"] = _lost(results)
    results["load_after"] = os.getloadavg()[0]
    if progress is not None and hasattr(progress, "close"):
        progress.close()
    return results


def _lost(results: dict[str, Any]) -> int:
    lost = 0
    for entry in results["sizes"] + ([results["stall"]] if "stall" in results else []):
        for key, value in entry.items():
            if isinstance(value, dict) and "lost" in value:
                lost += value["lost"] + len(value["errors"])
    return lost


# -- progress -----------------------------------------------------------------------


class TextProgress:
    """A one-line bar on stderr, redrawn in place with ``\\r``."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.label = None

    def __call__(self, label: str, done: int, total: int) -> None:
        if label != self.label and self.label is not None:
            self.stream.write("\n")
        self.label = label
        filled = int(30 * done / total) if total else 30
        self.stream.write(f"\r{label:>22} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total} chats")
        self.stream.flush()

    def close(self) -> None:
        if self.label is not None:
            self.stream.write("\n")
            self.stream.flush()


class WidgetProgress:
    """An ipywidgets progress bar with a label, for a notebook."""

    def __init__(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.bar = widgets.IntProgress(min=0, max=1, description="fan-out")
        self.text = widgets.Label()
        display(widgets.HBox([self.bar, self.text]))

    def __call__(self, label: str, done: int, total: int) -> None:
        self.bar.max = max(total, 1)
        self.bar.value = done
        self.text.value = f"{label}: {done}/{total} chats"

    def close(self) -> None:
        self.bar.bar_style = "success"


def _progress(progress: Progress | str | None) -> Progress | None:
    if progress == "text":
        return TextProgress()
    if progress == "widget":
        return WidgetProgress()
    return progress  # type: ignore[return-value]


# -- the pure broadcast, for a student's Room ---------------------------------------


class _CountingMember:
    """A member whose ``send`` only counts: what is left is the room's own cost."""

    __slots__ = ("count", "last")

    def __init__(self) -> None:
        self.count = 0
        self.last = None

    def send(self, text: str) -> None:
        self.count += 1
        self.last = text


def _time_broadcast(room_class: type, size: int, messages: int) -> tuple[float, str]:
    room = room_class("bench")
    members = [_CountingMember() for _ in range(size)]
    for member in members:
        room.join(member)
    data = {"type": "chat", "name": "m0", "text": "hello"}
    start = time.perf_counter()
    for _ in range(messages):
        room.broadcast(data)
    seconds = time.perf_counter() - start
    from ..checks.room import broadcast_problem  # what is wrong, in the room check's words

    if not all(m.count == messages for m in members):
        return seconds, "not every member got every chat"
    return seconds, broadcast_problem([m.last for m in members], data)


def compare_broadcast(room_class: type, sizes=(10, 100, 1000), messages: int = 200,
                      repeat: int = 3) -> list[dict[str, Any]]:
    """Time ``room_class.broadcast`` beside the reference :class:`chatkit.Room`.

    Members' ``send`` only counts, so this is the room's own cost per delivery,
    no network. Returns a row per size: microseconds per delivery, each, the ratio,
    and ``problem``: what is wrong with your broadcast, in the room check's words
    ("" if nothing; ``correct`` is its absence)::

        >>> from chatkit import Room
        >>> rows = compare_broadcast(Room, sizes=[10], messages=10, repeat=1)
        >>> rows[0]["correct"], rows[0]["problem"], rows[0]["size"]
        (True, '', 10)

    """
    from ..core.room import Room

    rows = []
    for size in sizes:
        deliveries = size * messages
        best = {}
        problem = ""
        for name, cls in (("reference", Room), ("yours", room_class)):
            times = []
            for _ in range(repeat):
                seconds, wrong = _time_broadcast(cls, size, messages)
                times.append(seconds)
                problem = problem or (wrong if name == "yours" else "")
            best[name] = min(times) * 1e6 / deliveries
        rows.append({"size": size, "reference_us": best["reference"], "yours_us": best["yours"],
                     "ratio": best["yours"] / best["reference"], "correct": not problem,
                     "problem": problem})
    return rows


# -- Python's share: the same fan-out with writes that cost nothing ---------------


class _NullTransport(asyncio.Transport):
    """A transport whose writes go nowhere: what is left is the Python work per delivery."""

    def write(self, data: bytes) -> None:
        pass

    def get_write_buffer_size(self) -> int:
        return 0

    def is_closing(self) -> bool:
        return False

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        pass

    def can_write_eof(self) -> bool:
        return True


async def _python_overhead(size: int, messages: int, repeat: int) -> dict[str, float]:
    from websockets.asyncio.connection import Connection
    from websockets.asyncio.server import ServerConnection, broadcast
    from websockets.protocol import State
    from websockets.server import ServerProtocol

    from ..server.sending import make_sender
    from ..core.user import ChatUser

    connections = []
    for _ in range(size):
        protocol = ServerProtocol()
        protocol.state = State.OPEN
        connection = ServerConnection(protocol, server=None)  # type: ignore[arg-type]
        Connection.connection_made(connection, _NullTransport())  # no handler task
        connections.append(connection)
    members = dict.fromkeys(connections)
    users_class = ChatUser.with_new_rooms()
    users = [users_class(make_sender(c), "bench") for c in connections]
    for index, user in enumerate(users):
        user.handle_message(json.dumps({"type": "join", "name": f"m{index}"}))
    best = {"floor": float("inf"), "chatkit": float("inf")}
    for _ in range(repeat):
        start = time.perf_counter()
        for seq in range(messages):  # what the floor's handler does per chat
            data = json.loads(f'{{"type": "chat", "text": "{seq} 1"}}')
            broadcast(members, json.dumps({"type": "chat", "name": "m0", "text": data["text"]}))
        best["floor"] = min(best["floor"], time.perf_counter() - start)
        start = time.perf_counter()
        for seq in range(messages):
            users[0].handle_message(f'{{"type": "chat", "text": "{seq} 1"}}')
        best["chatkit"] = min(best["chatkit"], time.perf_counter() - start)
    per = {k: v * 1e6 / (size * messages) for k, v in best.items()}
    return {"size": size, "floor_us": per["floor"], "chatkit_us": per["chatkit"],
            "extra_us": per["chatkit"] - per["floor"]}


def python_overhead(sizes=(10, 100, 500), messages: int = 200, repeat: int = 5) -> list[dict[str, float]]:
    """Python work per delivery, floor and chatkit, with writes that cost nothing.

    Real writes (a frame and a ``send()`` system call) are the same for both, so
    ``extra_us`` is all chatkit adds; it is the steady part of the CPU ratio, as it
    barely moves when other programs load the machine (the best of ``repeat`` runs).
    """
    rows: list[dict[str, float]] = []
    deadline = time.monotonic() + 60 + 10 * len(sizes)
    # A loop of its own: a notebook's is already running here.
    with LoopThread("chatkit-bench-overhead") as runner:
        for size in sizes:
            try:
                rows.append(runner.run(_python_overhead(size, messages, repeat),
                                       max(0.1, deadline - time.monotonic())))
            except TimeoutError:
                break
    return rows


# -- reporting ------------------------------------------------------------------------


def table(results: dict[str, Any]) -> str:
    """The results as a text table: one row per size and server, ratios to the baseline.

    The baseline is the express-ws original (``seed``) when it ran, else the floor.
    Ratios are medians of side-by-side pairs, with their range over the rounds.
    """
    lines = [f"clients: {results.get('client', 'browser')}"
             f" ({'offer permessage-deflate as browsers do' if results.get('client', 'browser') == 'browser' else 'offer no compression'});"
             " medians over the rounds; ratios: median [lowest-highest] of side-by-side pairs",
             f"{'size':>5} {'server':>11} {'deliv/s':>9} {'p50 ms':>7} {'p99 ms':>7}"
             f" {'cpu us/dl':>9} {'client us':>9} {'B/deliv':>7} {'KiB/conn':>8} {'peak MiB':>8}"
             f" {'lost':>5}  vs baseline"]
    for name, reason in results.get("skipped", {}).items():
        lines.insert(0, f"skipped {name}: {reason}")
    for entry in results["sizes"]:
        base = entry.get("baseline")
        for kind in results["kinds"]:
            row = entry.get(kind)
            if row is None:
                continue
            lat = row["latency_ms"]
            vs = "(baseline)" if kind == base else ""
            ratio = entry.get("ratios", {}).get(kind)
            if ratio:
                rate, cpu = ratio["rate"], ratio["cpu"]
                vs = (f"{rate['median']:.2f}x rate [{rate['low']:.2f}-{rate['high']:.2f}]"
                      f" {cpu['median']:.2f}x cpu [{cpu['low']:.2f}-{cpu['high']:.2f}]")
            idle = row.get("idle_kib_per_member")
            lines.append(
                f"{entry['size']:>5} {kind:>11} {row['deliveries_per_s']:>9.0f} {lat['p50']:>7.2f}"
                f" {lat['p99']:>7.2f} {row['server_cpu_ms_per_1000']:>9.2f}"
                f" {row.get('client_cpu_us_per_delivery', float('nan')):>9.2f}"
                f" {row.get('wire_bytes_per_delivery', float('nan')):>7.1f}"
                f" {idle if idle is not None else float('nan'):>8.1f} {row['server_peak_mib']:>8.1f}"
                f" {row['lost']:>5}  {vs}"
            )
        for kind in ("live", "kernel"):
            versus = entry.get("ratios", {}).get(f"{kind}_vs_serve")
            if versus:
                rate, cpu = versus["rate"], versus["cpu"]
                lines.append(f"{'':>5} {kind} server vs `serve`: {rate['median']:.2f}x deliveries"
                             f" per second [{rate['low']:.2f}-{rate['high']:.2f}],"
                             f" {cpu['median']:.2f}x CPU per delivery [{cpu['low']:.2f}-{cpu['high']:.2f}]")
    overhead = results.get("python_overhead")
    if overhead:
        lines.append("")
        lines.append("Python work per delivery, writes costing nothing (best of 5; steady under load;"
                     " one write per frame, no batching):")
        for row in overhead:
            lines.append(f"  {row['size']:>5} members: floor {row['floor_us']:.2f} us,"
                         f" chatkit {row['chatkit_us']:.2f} us"
                         f" ({row['chatkit_us'] / row['floor_us']:.2f}x the floor's)")
    stall = results.get("stall")
    if stall:
        lines.append("")
        lines.append(f"one stalled member (joins, never reads) in a room of {stall['size']}"
                     f" + 1, {stall['messages']} chats of ~{stall['pad']} bytes:")
        for kind in ("floor", "chatkit"):
            if kind in stall and kind + "_stalled" in stall:
                clean, stalled = stall[kind], stall[kind + "_stalled"]
                lines.append(
                    f"  {kind:>8}: {clean['deliveries_per_s']:.0f} -> {stalled['deliveries_per_s']:.0f}"
                    f" deliveries/s ({stalled['deliveries_per_s'] / clean['deliveries_per_s']:.2f}x),"
                    f" peak memory {clean['server_peak_mib']:.1f} -> {stalled['server_peak_mib']:.1f} MiB,"
                    f" stalled member dropped: {'yes' if stalled['stalled_dropped'] else 'NO'},"
                    f" others lost {stalled['lost']}"
                )
    return "\n".join(lines)


def _pyplot(path: str | None) -> Any:
    import matplotlib

    if path is not None and "ipykernel" not in sys.modules:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _room_size_axis(axes: Any, sizes: list[int]) -> None:
    """A log axis of room sizes labelled at the sizes measured, and nowhere else."""
    from matplotlib.ticker import NullFormatter, NullLocator, ScalarFormatter

    axes.set_xscale("log")
    axes.set_xticks(sizes)
    axes.xaxis.set_major_formatter(ScalarFormatter())
    axes.xaxis.set_minor_locator(NullLocator())  # no crowded minor labels (2x10^1, ...)
    axes.xaxis.set_minor_formatter(NullFormatter())
    axes.set_xlabel("members in the room")


def _save(fig: Any, path: str | None) -> None:
    fig.tight_layout()
    if path is not None:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        fig.savefig(path, dpi=120)


def plot(results: dict[str, Any], path: str | None = None,
         kinds: tuple[str, ...] | None = None) -> Any:
    """Deliveries per second and latency against room size; saved to ``path`` if given."""
    plt = _pyplot(path)
    sizes = [entry["size"] for entry in results["sizes"]]
    fig, (rate, latency) = plt.subplots(1, 2, figsize=(10, 4))
    for kind in kinds or results["kinds"]:
        rows = [entry[kind] for entry in results["sizes"] if kind in entry]
        if len(rows) != len(sizes):
            continue
        (line,) = rate.plot(sizes, [r["deliveries_per_s"] for r in rows], "o-", label=kind)
        color = line.get_color()
        latency.plot(sizes, [r["latency_ms"]["p50"] for r in rows], "o-", color=color,
                     label=f"{kind} p50")
        latency.plot(sizes, [r["latency_ms"]["p99"] for r in rows], "x--", color=color,
                     label=f"{kind} p99")
    for axes, title, unit in ((rate, "Deliveries per second", "deliveries / s"),
                              (latency, "Send to arrival (p50: half the chats faster; p99: 99 in 100)",
                               "ms")):
        _room_size_axis(axes, sizes)
        axes.set_ylabel(unit)
        axes.set_title(title, fontsize="medium")
        axes.grid(True, alpha=0.3)
        axes.legend(fontsize="small")
    rate.set_ylim(bottom=0)
    latency.set_yscale("log")
    _save(fig, path)
    return fig


def plot_workloads(runs: dict[str, dict[str, Any]], path: str | None = None,
                   kinds: tuple[str, ...] | None = None) -> Any:
    """Each server on several workloads: its rate and CPU per delivery as a multiple of
    the original's, and its latency (p50 bar, p99 whisker); saved to ``path`` if given.

    ``runs`` maps a workload's name to what :func:`run` returned for it (one room size),
    e.g. ``{"one at a time": bench.run(sizes=[40], window=1, ...), "20 senders": ...}``.
    """
    plt = _pyplot(path)
    names = list(runs)
    entries = {name: run_["sizes"][0] for name, run_ in runs.items()}
    shown = [k for k in (kinds or next(iter(runs.values()))["kinds"])
             if all(k in entry for entry in entries.values())]
    fig, (rate, cpu, latency) = plt.subplots(1, 3, figsize=(14, 4.2))
    width = 0.8 / max(1, len(shown))
    for index, kind in enumerate(shown):
        xs = [i + (index - (len(shown) - 1) / 2) * width for i in range(len(names))]
        for axes, key in ((rate, "rate"), (cpu, "cpu")):
            ratios = [entries[n].get("ratios", {}).get(kind, {}).get(key) for n in names]
            mid = [r["median"] if r else 1.0 for r in ratios]
            err = [[m - (r["low"] if r else 1.0) for m, r in zip(mid, ratios)],
                   [(r["high"] if r else 1.0) - m for m, r in zip(mid, ratios)]]
            axes.bar(xs, mid, width, yerr=err, capsize=2, label=kind, color=f"C{index}")
        p50 = [entries[n][kind]["latency_ms"]["p50"] for n in names]
        p99 = [entries[n][kind]["latency_ms"]["p99"] for n in names]
        latency.bar(xs, p50, width, label=kind, color=f"C{index}")
        latency.errorbar(xs, p99, fmt="_", color="black", markersize=8)
        latency.vlines(xs, p50, p99, color="black", linewidth=0.8)
    base = next(iter(entries.values())).get("baseline")
    base = "the original" if base == "seed" else base or "the first"
    for axes, title in ((rate, f"Deliveries per second, × {base}'s (higher is better)"),
                        (cpu, f"Server CPU per delivery, × {base}'s (lower is better)"),
                        (latency, "Send to arrival, ms: bar p50, whisker to p99")):
        axes.set_xticks(range(len(names)))
        axes.set_xticklabels(names, fontsize="small")
        axes.set_title(title, fontsize="medium")
        axes.grid(True, axis="y", alpha=0.3)
    for axes in (rate, cpu):
        axes.axhline(1.0, color="black", linewidth=0.8)
        axes.set_ylim(bottom=0)
    latency.set_yscale("log")
    rate.legend(fontsize="small")
    _save(fig, path)
    return fig


#: The compression lesson's lines: chatkit's three policies, and the original beside them.
COMPRESSION_KINDS = {"chatkit": "off (chatkit's default)", "shared": "shared: once per broadcast",
                     "deflate": "deflate: once per member", "seed": "express-ws original (off)"}


def plot_compression(results: dict[str, Any], path: str | None = None) -> Any:
    """Server CPU per delivery against room size, compression off vs shared vs per member.

    Needs a run with kinds ``chatkit``, ``shared`` and ``deflate`` (and ``seed``, if
    Node is here); bytes on the wire per delivery go in the legend.
    """
    plt = _pyplot(path)
    sizes = [entry["size"] for entry in results["sizes"]]
    fig, cpu = plt.subplots(figsize=(6.5, 4))
    for kind, label in COMPRESSION_KINDS.items():
        rows = [entry[kind] for entry in results["sizes"] if kind in entry]
        if len(rows) != len(sizes) or not rows:
            continue
        wire = statistics.median(r["wire_bytes_per_delivery"] for r in rows)
        cpu.plot(sizes, [r["server_cpu_ms_per_1000"] for r in rows],
                 "s:" if kind == "seed" else "o-", label=f"{label}, {wire:.0f} B per delivery")
    _room_size_axis(cpu, sizes)
    cpu.set_ylabel("server CPU per delivery (µs)")
    cpu.set_ylim(bottom=0)
    cpu.set_title("What compression costs the server, browsers in the room", fontsize="medium")
    cpu.grid(True, alpha=0.3)
    cpu.legend(fontsize="small")
    _save(fig, path)
    return fig

