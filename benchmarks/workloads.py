"""Issue 19's four workloads, each server beside the express-ws original: a table and a plot.

    .venv/bin/python benchmarks/workloads.py                         # W1-W4, 3 rounds, four servers
    .venv/bin/python benchmarks/workloads.py --only W2 W3 --plot docs/workloads.png
    .venv/bin/python benchmarks/workloads.py --from W1.out W2.out    # table/plot from saved runs

| workload | room | senders | chats in flight |
| --- | --- | --- | --- |
| W1 | 200 members × 1,000 chats | 1 | 50 |
| W2 | 200 members × 300 chats | 1 | 1 (one at a time, as a class chats) |
| W3 | 200 members × 1,000 chats | 20 | 2 each |
| W4 | 1,000 members × 300 chats | 1 | 50 |

Each workload is one :func:`chatkit.bench.run` (the servers taking turns, ``--rounds``
rounds); ``--from`` reads the JSON line ``python -m chatkit.bench`` prints last instead.
"""

from __future__ import annotations

import argparse
import json
import os
from typing import Any

from chatkit import bench

__all__ = ["WORKLOADS", "markdown_table", "run_workloads", "main"]

#: The issue's workloads, as :func:`chatkit.bench.run` arguments.
WORKLOADS: dict[str, dict[str, Any]] = {
    "W1": {"sizes": [200], "messages": 1000, "window": 50, "senders": 1},
    "W2": {"sizes": [200], "messages": 300, "window": 1, "senders": 1},
    "W3": {"sizes": [200], "messages": 1000, "window": 2, "senders": 20},
    "W4": {"sizes": [1000], "messages": 300, "window": 50, "senders": 1},
}
KINDS = ("seed", "chatkit", "fastapi", "fastapi-off")
NAMES = {"seed": "original", "chatkit": "chatkit", "fastapi": "FastAPI (uvicorn defaults)",
         "fastapi-off": "FastAPI, compression off"}


def run_workloads(names, kinds=KINDS, rounds: int = 3) -> dict[str, dict[str, Any]]:
    """Run the named workloads; ``{name: what bench.run returned}``."""
    return {name: bench.run(**WORKLOADS[name], kinds=tuple(kinds), rounds=rounds, stall_size=0,
                            overhead=False, progress=None) for name in names}


def _label(name: str, entry: dict[str, Any]) -> str:
    """``"W3 200 × 1,000, 20 senders, 2 in flight each"``, from what the run measured."""
    senders, window = entry.get("senders", 1), entry["window"]
    flight = (f"{senders} senders, {window} in flight each" if senders > 1
              else "one at a time" if window == 1 else f"{window} in flight")
    return f"{name} {entry['size']:,} × {entry['messages']:,}, {flight}"


def _ms(value: float) -> str:
    """``0.981``, ``21.8``, ``1,407``: three figures, no exponent."""
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def markdown_table(runs: dict[str, dict[str, Any]]) -> str:
    """One row per workload and server: rate, CPU per delivery, ratios, p50/p99, lost."""
    lines = ["| workload | server | rate (deliv/s) | vs original | CPU µs per delivery"
             " | vs original | p50 / p99 ms | lost |", "| --- " * 8 + "|"]
    for name, results in runs.items():
        entry = results["sizes"][0]
        first = True
        for kind in results["kinds"]:
            row = entry.get(kind)
            if row is None:
                continue
            ratio = entry.get("ratios", {}).get(kind)
            rate = cpu = "—"
            if ratio:
                r, c = ratio["rate"], ratio["cpu"]
                rate = f"{r['median']:.2f}× [{r['low']:.2f}–{r['high']:.2f}]"
                cpu = f"{c['median']:.2f}× [{c['low']:.2f}–{c['high']:.2f}]"
            lat = row["latency_ms"]
            lines.append(
                f"| {_label(name, entry) if first else ''} | {NAMES.get(kind, kind)}"
                f" | {row['deliveries_per_s']:,.0f} | {rate} | {row['server_cpu_ms_per_1000']:.2f}"
                f" | {cpu} | {_ms(lat['p50'])} / {_ms(lat['p99'])} | {row['lost']} |")
            first = False
    loads = ", ".join(f"{name} {r['load_before']:.1f}–{r['load_after']:.1f}"
                      for name, r in runs.items())
    lines.append("")
    lines.append(f"Load average (1 min) before–after each run: {loads}.")
    return "\n".join(lines)


def _load(path: str) -> dict[str, Any]:
    with open(path) as file:
        for line in reversed(file.read().splitlines()):
            if line.startswith('{"bench"'):
                return json.loads(line)
    raise ValueError(f"{path}: no JSON line from python -m chatkit.bench")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=list(WORKLOADS), choices=list(WORKLOADS))
    parser.add_argument("--kinds", nargs="+", default=list(KINDS), choices=bench.ALL_KINDS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--from", dest="saved", nargs="+", metavar="OUT",
                        help="outputs of python -m chatkit.bench (named W1.out ... or any)")
    parser.add_argument("--plot", metavar="PNG", help="save the plot there")
    args = parser.parse_args(argv)
    if args.saved:
        runs = {os.path.splitext(os.path.basename(p))[0]: _load(p) for p in args.saved}
    else:
        runs = run_workloads(args.only, args.kinds, args.rounds)
    print(markdown_table(runs))
    if args.plot:
        bench.plot_workloads(runs, args.plot)
        print(f"plot saved to {args.plot}")
    lost = sum(r["lost"] for r in runs.values())
    return 1 if lost else 0


if __name__ == "__main__":
    raise SystemExit(main())
