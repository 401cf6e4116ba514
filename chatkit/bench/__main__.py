"""``python -m chatkit.bench``: the fan-out benchmark from a terminal (see :mod:`chatkit.bench`)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import (ALL_KINDS, DEFAULT_SIZES, DESCRIPTIONS, KINDS, TARGET_DELIVERIES, __doc__ as
               BENCH_DOC, plot, plot_compression, run, table)
from .servers import SERVED_KINDS, serve_main

__all__ = ["main", "parse_args"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m chatkit.bench",
                                     description=BENCH_DOC.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=list(DEFAULT_SIZES),
                        help="room sizes in members (default: 10 200 1000)")
    parser.add_argument("--messages", type=int, default=None,
                        help=f"chats per measured phase (default: ~{TARGET_DELIVERIES} deliveries)")
    parser.add_argument("--window", type=int, default=10,
                        help="chats in flight, at most, per sender")
    parser.add_argument("--senders", type=int, default=1,
                        help="members that send, each with its own window (W3: --senders 20"
                             " --window 2)")
    parser.add_argument("--rounds", type=int, default=3, help="phases per server (medians kept)")
    parser.add_argument("--kinds", nargs="+", default=["seed", *KINDS], choices=ALL_KINDS,
                        help="servers to measure (default: seed floor chatkit live; add kernel"
                             " for chatkit.start() inside a real Jupyter kernel, shared and"
                             " deflate for chatkit's other compression policies)")
    parser.add_argument("--client", choices=("browser", "lean"), default="browser",
                        help="browser: offer permessage-deflate as browsers do (default);"
                             " lean: offer no compression")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds each step may take (joining 5,000 members takes minutes)")
    parser.add_argument("--no-overhead", action="store_true",
                        help="skip the Python-work-per-delivery measurement")
    parser.add_argument("--stall-size", type=int, default=20,
                        help="room size for the stalled-member scenario (0: skip)")
    parser.add_argument("--stall-messages", type=int, default=3000,
                        help="chats of 3,000 bytes in the stalled-member scenario")
    parser.add_argument("--plot", metavar="PNG", help="save the plot there, e.g. bench-results/fanout.png")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument("--serve", choices=SERVED_KINDS, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.serve:
        return serve_main(args.serve)
    senders = "one sender" if args.senders == 1 else f"{args.senders} senders"
    print(f"fan-out benchmark: {senders} (up to {args.window} chats in flight each), a room of"
          f" N members, every server on 127.0.0.1; clients: {args.client}")
    for kind in args.kinds:
        print(f"  {kind:>11}: {DESCRIPTIONS[kind]}")
    print(f"  no rate limit on any server: {senders} here stand{'s' if args.senders == 1 else ''}"
          " for a whole class; the default limit (15/s per connection) would measure the"
          " limit, not the fan-out")
    results = run(args.sizes, messages=args.messages, window=args.window, rounds=args.rounds,
                  kinds=tuple(args.kinds), stall_size=args.stall_size,
                  stall_messages=args.stall_messages, client=args.client,
                  overhead=not args.no_overhead, timeout=args.timeout, senders=args.senders,
                  progress=None if args.quiet else "text")
    print(table(results))
    print(f"machine: {results['cpus']} CPUs shared by servers and clients;"
          f" load average {results['load_before']:.2f} before, {results['load_after']:.2f} after"
          " (other work on the machine skews absolute figures; the ratios much less)")
    if args.plot:
        plot(results, args.plot)
        print(f"plot saved to {args.plot}")
        if {"chatkit", "shared", "deflate"} <= set(results["kinds"]):
            root, ext = os.path.splitext(args.plot)
            plot_compression(results, f"{root}-compression{ext or '.png'}")
            print(f"compression plot saved to {root}-compression{ext or '.png'}")
    if results["lost"]:
        print(f"\n!!! FAILURE: {results['lost']} deliveries lost or wrong !!!", file=sys.stderr)
    print(json.dumps({"bench": "fanout", **results}))
    return 1 if results["lost"] else 0


if __name__ == "__main__":
    sys.exit(main())
